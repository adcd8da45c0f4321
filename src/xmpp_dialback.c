/* xmpp_dialback.c: server dialback (XEP-0220), for partners whose row allows
 * it (the reference system's SupportDialbackNegotiation) over TLS or plain
 * TCP: our keys (§2.4: HMAC-SHA256 under the SHA-256 of the secret in
 * xmpp-dialback-key-file, shared by every edge of a pool); proving our
 * domain on an outbound stream (<db:result/> with the key, §2.1); checking
 * a partner's key with its authoritative server over a stream of its own
 * (<db:verify/>, §2.2); and answering such checks of our keys. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "sipedge/keyfile.h"
#include "sipedge/log.h"
#include "sipedge/names.h"
#include "xmpp_int.h"

struct xdb_job {
	struct xdb_job *next;
	uint64_t in_id;                    /* the inbound stream waiting */
	char key[XDB_KEY_LEN + 1];
	char sid[40];
	bool sent;
};

int
xdb_load_secret(struct xmpp_gw *gw, char *err, size_t errlen)
{
	return keyfile_load(gw->cf->xmpp_dialback_key_file, "XMPP dialback secret",
	    gw->db_secret, sizeof(gw->db_secret), err, errlen);
}

void
xdb_key(const struct xmpp_gw *gw, const char *receiving, const char *originating,
    const char *sid, char out[XDB_KEY_LEN + 1])
{
	unsigned char h[SHA256_DIGEST_LENGTH], mac[EVP_MAX_MD_SIZE];
	char hk[2 * SHA256_DIGEST_LENGTH + 1], text[3 * CONF_MAX_NAME + 48];
	unsigned int maclen = 0;
	int n;

	/* XEP-0220 §2.4: the HMAC key is the hex SHA-256 of the secret; the
	 * text names both domains and the stream, so a key is good for one
	 * stream between one pair only. */
	SHA256(gw->db_secret, sizeof(gw->db_secret), h);
	for (size_t i = 0; i < sizeof(h); i++)
		snprintf(hk + 2 * i, 3, "%02x", h[i]);
	n = snprintf(text, sizeof(text), "%s %s %s", receiving, originating, sid);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    HMAC(EVP_sha256(), hk, (int)strlen(hk), (const unsigned char *)text, (size_t)n, mac,
	    &maclen) == NULL || maclen * 2 != XDB_KEY_LEN) {
		memset(out, '0', XDB_KEY_LEN);  /* matches no key a peer sends */
		out[XDB_KEY_LEN] = '\0';
		out[0] = 'x';
		return;
	}
	for (unsigned i = 0; i < maclen; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	OPENSSL_cleanse(hk, sizeof(hk));
}

bool
xdb_allowed(const struct xstream *s)
{
	const struct policy_xmpp_partner *p = s->partner;

	/* The reference system's matrix: with SASL required dialback does not
	 * operate, unless TLS is not supported (then SASL cannot happen and
	 * TCP dialback is what is left); and never without TLS when TLS is
	 * required. */
	if (p == NULL || !p->dialback)
		return false;
	if (p->sasl == STORE_XMPP_REQUIRED && p->tls != STORE_XMPP_NOT_SUPPORTED)
		return false;
	return s->tls_up || p->tls != STORE_XMPP_REQUIRED;
}

/* ---- outbound: proving our domain (§2.1.1) ---- */

int
xdb_send_result(struct xstream *s)
{
	char key[XDB_KEY_LEN + 1];
	struct xml_buf b = { 0 };
	int r;

	xdb_key(s->gw, s->remote, s->local, s->sid, key);
	r = xml_buf_str(&b, "<db:result from='");
	r = r ? r : xml_buf_escape(&b, s->local, strlen(s->local), true);
	r = r ? r : xml_buf_str(&b, "' to='");
	r = r ? r : xml_buf_escape(&b, s->remote, strlen(s->remote), true);
	r = r ? r : xml_buf_str(&b, "'>");
	r = r ? r : xml_buf_str(&b, key);
	r = r ? r : xml_buf_str(&b, "</db:result>");
	if (r == 0)
		r = xs_write(s, b.p, b.len);
	xml_buf_free(&b);
	return r;
}

/* The partner's answer on our outbound stream (§2.1.3). */
static int
out_result(struct xstream *s, const struct xml_elem *e)
{
	const char *type = xml_attr_get(e, "type");

	if (type && strcmp(type, "valid") == 0) {
		s->auth = XMPP_AUTH_DIALBACK;
		xs_ready(s);
		return 0;
	}
	xs_close(s, XMPP_SERR_NONE, DIAG_XMPP_AUTH_FAILED, "%s refused our dialback key for %s "
	    "(type %s): do both edges of our pool share xmpp-dialback-key-file?", s->remote,
	    s->local, type ? type : "none");
	return -EPROTO;
}

/* ---- authoritative: answering <db:verify/> about our keys (§2.2.2) ---- */

static int
answer_verify(struct xstream *s, const struct xml_elem *e)
{
	const char *from = xml_attr_get(e, "from"), *to = xml_attr_get(e, "to");
	const char *id = xml_attr_get(e, "id");
	char key[XDB_KEY_LEN + 1], dto[CONF_MAX_NAME], dfrom[CONF_MAX_NAME];
	struct xml_buf b = { 0 };
	bool valid;
	int r;

	if (from == NULL || to == NULL || id == NULL ||
	    names_normalize(to, dto, sizeof(dto), NULL) < 0 ||
	    names_normalize(from, dfrom, sizeof(dfrom), NULL) < 0 || !conf_is_our_domain(s->gw->cf, dto)) {
		xs_close(s, XMPP_SERR_HOST_UNKNOWN, DIAG_XMPP_HOST_UNKNOWN,
		    "<db:verify/> for %.200s, not a domain of ours", to ? to : "(none)");
		return -EPROTO;
	}
	/* The key we made for the stream dfrom received from us. */
	xdb_key(s->gw, dfrom, dto, id, key);
	valid = e->text_len == XDB_KEY_LEN && CRYPTO_memcmp(key, e->text, XDB_KEY_LEN) == 0;
	r = xml_buf_str(&b, "<db:verify from='");
	r = r ? r : xml_buf_escape(&b, dto, strlen(dto), true);
	r = r ? r : xml_buf_str(&b, "' to='");
	r = r ? r : xml_buf_escape(&b, dfrom, strlen(dfrom), true);
	r = r ? r : xml_buf_str(&b, "' id='");
	r = r ? r : xml_buf_escape(&b, id, strlen(id), true);
	r = r ? r : xml_buf_str(&b, valid ? "' type='valid'/>" : "' type='invalid'/>");
	if (r == 0)
		r = xs_write(s, b.p, b.len);
	xml_buf_free(&b);
	log_info("xmpp: dialback: %s asked about our key for %s -> %s: %s", s->peer, dto, dfrom,
	    valid ? "valid" : "invalid");
	return r < 0 ? -EPIPE : 0;
}

/* ---- receiving: checking a partner's key with its server (§2.1.2) ---- */

static struct xstream *
stream_by_id(struct xmpp_gw *gw, uint64_t id)
{
	for (struct xstream *s = gw->streams; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

/* The verdict on the key an inbound stream presented. */
static void
verdict(struct xmpp_gw *gw, uint64_t in_id, bool valid, const char *why)
{
	struct xstream *s = stream_by_id(gw, in_id);
	char text[CONF_MAX_NAME * 2 + 64];

	if (s == NULL || s->state == XS_CLOSED || s->state == XS_CLOSING || !s->db_waiting)
		return;
	s->db_waiting = false;
	snprintf(text, sizeof(text), "<db:result from='%s' to='%s' type='%s'/>", s->local, s->remote,
	    valid ? "valid" : "invalid");
	(void)xs_send_raw(s, text);
	if (!valid) {
		xs_close(s, XMPP_SERR_NOT_AUTHORIZED, DIAG_XMPP_AUTH_FAILED,
		    "dialback: %s did not confirm the key: %s", s->remote, why);
		return;
	}
	s->auth = XMPP_AUTH_DIALBACK;
	xs_ready(s);
}

/* A verify stream ended: the checks it did not finish fail with why. */
void
xdb_stream_gone(struct xstream *v)
{
	struct xdb_job *j;

	while ((j = v->db_jobs) != NULL) {
		v->db_jobs = j->next;
		verdict(v->gw, j->in_id, false, v->reason[0] ? v->reason :
		    "the verification stream closed");
		free(j);
	}
}

/* The verify stream may speak: send what waits. */
void
xdb_flush(struct xstream *v)
{
	for (struct xdb_job *j = v->db_jobs; j; j = j->next) {
		struct xml_buf b = { 0 };
		int r;

		if (j->sent)
			continue;
		r = xml_buf_str(&b, "<db:verify from='");
		r = r ? r : xml_buf_escape(&b, v->local, strlen(v->local), true);
		r = r ? r : xml_buf_str(&b, "' to='");
		r = r ? r : xml_buf_escape(&b, v->remote, strlen(v->remote), true);
		r = r ? r : xml_buf_str(&b, "' id='");
		r = r ? r : xml_buf_escape(&b, j->sid, strlen(j->sid), true);
		r = r ? r : xml_buf_str(&b, "'>");
		r = r ? r : xml_buf_escape(&b, j->key, strlen(j->key), false);
		r = r ? r : xml_buf_str(&b, "</db:verify>");
		if (r == 0 && xs_write(v, b.p, b.len) == 0)
			j->sent = true;
		xml_buf_free(&b);
	}
}

/* The authoritative server's answer on a verify stream. */
static int
verify_answer(struct xstream *v, const struct xml_elem *e)
{
	const char *id = xml_attr_get(e, "id"), *type = xml_attr_get(e, "type");
	struct xdb_job **pp, *j;

	for (pp = &v->db_jobs; (j = *pp) != NULL; pp = &j->next)
		if (id && strcmp(j->sid, id) == 0 && j->sent)
			break;
	if (j == NULL)
		return 0;                  /* not ours to judge: ignored */
	*pp = j->next;
	verdict(v->gw, j->in_id, type && strcmp(type, "valid") == 0,
	    type ? type : "no type in the answer");
	free(j);
	if (v->db_jobs == NULL)
		xs_close(v, XMPP_SERR_NONE, DIAG_NONE, "every verification answered");
	return 0;
}

/* <db:result/> with a key on an inbound stream: ask the partner's server. */
static int
in_result(struct xstream *s, const struct xml_elem *e)
{
	const char *from = xml_attr_get(e, "from"), *to = xml_attr_get(e, "to");
	char dfrom[CONF_MAX_NAME], dto[CONF_MAX_NAME];
	struct xstream *v;
	struct xdb_job *j;

	if (from == NULL || to == NULL || names_normalize(from, dfrom, sizeof(dfrom), NULL) < 0 ||
	    names_normalize(to, dto, sizeof(dto), NULL) < 0 || strcmp(dfrom, s->remote) != 0 ||
	    strcmp(dto, s->local) != 0) {
		/* One stream, one domain pair (no multiplexing, XEP-0220 §2.5
		 * is not offered). */
		xs_close(s, XMPP_SERR_INVALID_FROM, DIAG_XMPP_INVALID_FROM,
		    "<db:result/> for %.200s -> %.200s on a stream for %s -> %s", from ? from : "?",
		    to ? to : "?", s->remote, s->local);
		return -EPROTO;
	}
	if (!xdb_allowed(s) || s->auth != XMPP_AUTH_NONE || s->db_waiting ||
	    e->text_len == 0 || e->text_len > XDB_KEY_MAX) {
		xs_close(s, XMPP_SERR_NOT_AUTHORIZED, DIAG_XMPP_AUTH_FAILED,
		    "dialback is not allowed for %s on this stream%s", s->remote,
		    s->tls_up ? "" : " (its policy requires TLS first)");
		return -EPROTO;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL || xs_new(s->gw, true, &v) < 0) {
		free(j);
		xs_close(s, XMPP_SERR_RESOURCE_CONSTRAINT, DIAG_OVERLOAD, "out of memory");
		return -EPROTO;
	}
	j->in_id = s->id;
	snprintf(j->key, sizeof(j->key), "%.*s", (int)e->text_len, e->text);
	snprintf(j->sid, sizeof(j->sid), "%s", s->sid);
	s->db_waiting = true;
	v->verify_only = true;
	v->db_jobs = j;
	v->partner = s->partner;
	snprintf(v->local, sizeof(v->local), "%s", s->local);
	snprintf(v->remote, sizeof(v->remote), "%s", s->remote);
	xgw_link_stream(s->gw, v);
	if (xout_dial(v) < 0) {
		xs_note(v, DIAG_XMPP_UNREACHABLE, "cannot look up %s", v->remote);
		xs_abort(v);
	}
	return 0;
}

int
xdb_element(struct xstream *s, struct xml_doc *doc)
{
	struct xml_elem *e = xml_doc_root(doc);
	int r;

	if (xml_is(e, XMPP_NS_DIALBACK, "verify"))
		r = s->outbound ? verify_answer(s, e) : answer_verify(s, e);
	else if (s->outbound)
		r = out_result(s, e);
	else
		r = in_result(s, e);
	xml_doc_free(doc);
	return r;
}
