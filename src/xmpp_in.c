/* xmpp_in.c: an inbound server-to-server stream, sipedge as the receiving
 * entity (RFC 6120 §4.3): the peer's stream header checked against our
 * domains and the XMPP partner policy, features offered as the partner's
 * row allows (STARTTLS §5, SASL EXTERNAL §6 only once the certificate is
 * valid and names the peer's domain, XEP-0178 §3), and the negotiation
 * elements answered; once authenticated the stanzas go to the gateway.
 * Server dialback (XEP-0220) is xmpp_dialback.c's. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "sipedge/log.h"
#include "sipedge/names.h"
#include "xmpp_int.h"

static int
features(struct xstream *s)
{
	const struct policy_xmpp_partner *p = s->partner;
	struct xml_buf b = { 0 };
	bool any = false;
	int r;

	r = xml_buf_str(&b, "<stream:features>");
	if (s->auth != XMPP_AUTH_NONE) {
		/* Authenticated (after SASL's restart): nothing more to
		 * negotiate; stanzas may flow. */
		any = true;
	} else if (!s->tls_up) {
		if (p->tls != STORE_XMPP_NOT_SUPPORTED) {
			r = r ? r : xml_buf_str(&b, "<starttls xmlns='" XMPP_NS_TLS "'>");
			if (p->tls == STORE_XMPP_REQUIRED)
				r = r ? r : xml_buf_str(&b, "<required/>");
			r = r ? r : xml_buf_str(&b, "</starttls>");
			any = true;
		}
		if (xdb_allowed(s)) {
			r = r ? r : xml_buf_str(&b, "<dialback xmlns='" XMPP_NS_DB_FEAT "'><errors/></dialback>");
			any = true;
		}
	} else {
		char why[256];

		/* XEP-0288 §2.1: offered before authentication. */
		r = r ? r : xml_buf_str(&b, "<bidi xmlns='" XMPP_NS_BIDI_FEAT "'/>");
		if (p->sasl != STORE_XMPP_NOT_SUPPORTED) {
			if (tls_sess_peer_check(s->tls, s->remote, why, sizeof(why)) == 0) {
				s->external_offered = true;
				r = r ? r : xml_buf_str(&b, "<mechanisms xmlns='" XMPP_NS_SASL "'>"
				    "<mechanism>EXTERNAL</mechanism></mechanisms>");
				any = true;
			} else
				snprintf(s->cert_why, sizeof(s->cert_why), "%s", why);
		}
		if (xdb_allowed(s)) {
			r = r ? r : xml_buf_str(&b, "<dialback xmlns='" XMPP_NS_DB_FEAT "'><errors/></dialback>");
			any = true;
		}
	}
	r = r ? r : xml_buf_str(&b, "</stream:features>");
	if (r == 0 && any)
		r = xs_write(s, b.p, b.len);
	xml_buf_free(&b);
	if (r < 0)
		return r;
	if (!any) {
		if (s->cert_why[0])
			xs_close(s, XMPP_SERR_NOT_AUTHORIZED, DIAG_XMPP_CERT,
			    "%s: SASL EXTERNAL is required for %s", s->cert_why, s->remote);
		else
			xs_close(s, XMPP_SERR_POLICY_VIOLATION, DIAG_XMPP_AUTH_FAILED,
			    "no way to authenticate %s is left by its policy", s->remote);
		return -EPROTO;
	}
	if (s->auth != XMPP_AUTH_NONE)
		xs_ready(s);
	return 0;
}

int
xin_open(struct xstream *s, const struct xml_elem *h, const char *default_ns)
{
	const char *to = xml_attr_get(h, "to"), *from = xml_attr_get(h, "from");
	char dto[CONF_MAX_NAME], dfrom[CONF_MAX_NAME];
	enum diag_code d;
	const char *why;

	(void)default_ns;
	/* RFC 6120 §4.9.3.6: a stream to a domain we do not serve. */
	if (to == NULL || names_normalize(to, dto, sizeof(dto), NULL) < 0 ||
	    !conf_is_our_domain(s->gw->cf, dto)) {
		snprintf(s->local, sizeof(s->local), "%s", s->gw->cf->ndomains ?
		    s->gw->cf->domains[0] : s->gw->cf->edge_fqdn);
		xs_close(s, XMPP_SERR_HOST_UNKNOWN, DIAG_XMPP_HOST_UNKNOWN,
		    "%.255s is not a domain this edge serves", to ? to : "(no to)");
		return -EPROTO;
	}
	if (from == NULL || names_normalize(from, dfrom, sizeof(dfrom), NULL) < 0) {
		snprintf(s->local, sizeof(s->local), "%s", dto);
		xs_close(s, XMPP_SERR_IMPROPER_ADDRESSING, DIAG_XMPP_BAD_STREAM,
		    "the stream header has no valid from");
		return -EPROTO;
	}
	if (s->local[0] && (strcmp(s->local, dto) != 0 || strcmp(s->remote, dfrom) != 0)) {
		/* A restarted stream is between the same two domains. */
		xs_close(s, XMPP_SERR_INVALID_FROM, DIAG_XMPP_INVALID_FROM,
		    "the restarted stream is %s -> %s, not %s -> %s", dfrom, dto, s->remote, s->local);
		return -EPROTO;
	}
	snprintf(s->local, sizeof(s->local), "%s", dto);
	snprintf(s->remote, sizeof(s->remote), "%s", dfrom);
	xs_new_sid(s);
	if ((s->partner = xgw_partner(s->gw, dfrom, &d, &why)) == NULL) {
		xs_close(s, XMPP_SERR_POLICY_VIOLATION, d, "%s", why);
		return -EPROTO;
	}
	if (xgw_admit(s) < 0)
		return -EPROTO;
	if (xs_send_header(s) < 0) {
		xs_abort(s);
		return -EPIPE;
	}
	return features(s);
}

/* SASL EXTERNAL (RFC 6120 §6.4, XEP-0178 §3): the authorisation identity is
 * empty ("=") or the peer's domain. */
static int
auth_external(struct xstream *s, const struct xml_elem *e)
{
	const char *mech = xml_attr_get(e, "mechanism");
	unsigned char authz[CONF_MAX_NAME + 4];
	const char *fail = NULL;

	if (mech == NULL || strcmp(mech, "EXTERNAL") != 0 || !s->external_offered)
		fail = "invalid-mechanism";
	else if (e->text_len > 0 && strcmp(e->text, "=") != 0) {
		int n;

		if (e->text_len > 4 * (sizeof(authz) - 4) / 3 ||
		    (n = EVP_DecodeBlock(authz, (const unsigned char *)e->text, (int)e->text_len)) < 0)
			fail = "incorrect-encoding";
		else {
			/* EVP_DecodeBlock counts the padding as data. */
			for (size_t i = 1; i <= 2 && i <= e->text_len && n > 0; i++)
				if (e->text[e->text_len - i] == '=')
					n--;
			authz[n] = '\0';
			if (strcasecmp((char *)authz, s->remote) != 0)
				fail = "invalid-authzid";
		}
	}
	if (fail) {
		char text[160];

		snprintf(text, sizeof(text), "<failure xmlns='" XMPP_NS_SASL "'><%s/></failure>", fail);
		(void)xs_send_raw(s, text);
		xs_close(s, XMPP_SERR_NOT_AUTHORIZED, DIAG_XMPP_AUTH_FAILED,
		    "SASL EXTERNAL from %s refused: %s%s%s", s->remote, fail,
		    s->cert_why[0] ? ": " : "", s->cert_why);
		return -EPROTO;
	}
	if (xs_send_raw(s, "<success xmlns='" XMPP_NS_SASL "'/>") < 0) {
		xs_abort(s);
		return -EPIPE;
	}
	s->auth = XMPP_AUTH_EXTERNAL;
	s->after = XS_AFTER_RESTART;
	return XMPP_PARSER_PAUSE;
}

int
xin_element(struct xstream *s, struct xml_doc *doc)
{
	struct xml_elem *e = xml_doc_root(doc);
	int r;

	if (xml_is(e, XMPP_NS_TLS, "starttls")) {
		xml_doc_free(doc);
		if (s->tls != NULL || s->partner->tls == STORE_XMPP_NOT_SUPPORTED) {
			(void)xs_send_raw(s, "<failure xmlns='" XMPP_NS_TLS "'/>");
			xs_close(s, XMPP_SERR_NONE, DIAG_XMPP_TLS_FAILED, "STARTTLS is not offered to %s",
			    s->remote);
			return -EPROTO;
		}
		if (xs_send_raw(s, "<proceed xmlns='" XMPP_NS_TLS "'/>") < 0 ||
		    (r = xs_tls_start(s)) < 0) {
			xs_note(s, DIAG_XMPP_TLS_FAILED, "cannot start TLS");
			xs_abort(s);
			return -EPIPE;
		}
		s->after = XS_AFTER_TLS;
		return XMPP_PARSER_PAUSE;
	}
	if (xml_is(e, XMPP_NS_SASL, "auth")) {
		r = s->tls_up && s->auth == XMPP_AUTH_NONE ? auth_external(s, e) : -EPROTO;
		xml_doc_free(doc);
		if (r == -EPROTO && s->state != XS_CLOSING && s->state != XS_CLOSED)
			xs_close(s, XMPP_SERR_POLICY_VIOLATION, DIAG_XMPP_AUTH_FAILED,
			    "SASL is not available on this stream");
		return r;
	}
	if (xml_is(e, XMPP_NS_DIALBACK, "result") || xml_is(e, XMPP_NS_DIALBACK, "verify"))
		return xdb_element(s, doc);
	if (xml_is(e, XMPP_NS_BIDI, "bidi") && s->auth == XMPP_AUTH_NONE && s->tls_up) {
		/* XEP-0288 §2.2: the initiating entity asks before it
		 * authenticates; no answer. */
		s->bidi = true;
		xml_doc_free(doc);
		return 0;
	}
	if (xml_is(e, XMPP_NS_SERVER, "message") || xml_is(e, XMPP_NS_SERVER, "presence") ||
	    xml_is(e, XMPP_NS_SERVER, "iq")) {
		xml_doc_free(doc);
		xs_close(s, XMPP_SERR_NOT_AUTHORIZED, DIAG_XMPP_AUTH_FAILED,
		    "a stanza before the stream was authenticated");
		return -EPROTO;
	}
	xs_close(s, XMPP_SERR_UNSUPPORTED_STANZA_TYPE, DIAG_XMPP_BAD_STREAM,
	    "unexpected <%.60s xmlns='%.100s'>", e->name, e->ns);
	xml_doc_free(doc);
	return -EPROTO;
}

void
xin_tls_up(struct xstream *s)
{
	/* The peer sends a new stream header (RFC 6120 §5.4.3.3); the parser
	 * was reset after <proceed/>.  Direct TLS: the first header comes now. */
	(void)s;
}
