/* xmpp_im.c: what arrives over XMPP for the pool (RFC 7247, RFC 7572): a
 * <message/> from a partner becomes a page-mode SIP MESSAGE (RFC 3428), made
 * on worker 0 and carried to the pool by a transaction like any request
 * from outside (routing, trust marking, next hops, failover), its failure
 * sent back as a <message type='error'/> with the condition RFC 7247 §7.2
 * maps from the SIP status; an XMPP ping (XEP-0199) to one of our domains
 * is answered; other IQs get service-unavailable (RFC 6120 §8.4). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sofia-sip/sip_header.h>

#include "proxy_int.h"
#include "sipedge/framing.h"
#include "sipedge/log.h"
#include "sipedge/xmpp.h"
#include "sipedge/xmpp_addr.h"
#include "sipedge/xmpp_errmap.h"
#include "sipedge/xmpp_thread.h"
#include "sipedge/xmpp_xml.h"
#include "xmpp_presence.h"

/* One translated message on its way to the pool. */
struct im_job {
	struct txn_local local;            /* first: the transaction's hook */
	struct worker *w;
	char ldom[CONF_MAX_NAME], rdom[CONF_MAX_NAME];
	char id[256];
	char from[XMPP_JID_MAX], to[XMPP_JID_MAX];
	char ctx[64];
};


static void
job_final(struct txn_local *l, int status, enum diag_code d, const char *reason, const sip_t *sip)
{
	struct im_job *j = (struct im_job *)l;
	struct xmpp_stanza_err se;

	(void)sip;
	if (status >= 300 && xmpp_errmap_from_sip(status, &se) == 0) {
		char text[400];

		snprintf(text, sizeof(text), "the SIP pool answered %d %s", status,
		    reason ? reason : "");
		xmpp_gw_reply_error(j->w->xgw, j->ldom, j->rdom, "message", j->from, j->to, j->id, se.cond,
		    d != DIAG_NONE ? d : DIAG_XMPP_POOL_ERROR, d != DIAG_NONE && reason ? reason : text);
		log_info("xmpp: message %s -> %s refused by the pool: %d %s", j->from, j->to, status,
		    reason ? reason : "");
	}
	free(j);
}

static void
job_detach(struct txn_local *l)
{
	struct im_job *j = (struct im_job *)l;

	xmpp_gw_reply_error(j->w->xgw, j->ldom, j->rdom, "message", j->from, j->to, j->id,
	    XMPP_COND_INTERNAL_SERVER_ERROR, DIAG_XMPP_POOL_ERROR,
	    "the SIP transaction ended without a final response");
	free(j);
}

/* A header field value from stanza text: one line, no controls. */
static void
one_line(char *dst, size_t len, const char *src)
{
	size_t n = 0;

	for (; *src && n + 1 < len; src++)
		dst[n++] = (unsigned char)*src < 0x20 ? ' ' : *src;
	dst[n] = '\0';
}

/* A language tag (RFC 5646) is letters, digits and hyphens. */
static bool
lang_ok(const char *s)
{
	if (s == NULL || !*s || strlen(s) > 35)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

/* The body in the stanza's own language: the <body/> without xml:lang or
 * with the message's (RFC 6121 §5.2.3). */
static const struct xml_elem *
pick(const struct xml_elem *m, const char *name, const char *lang)
{
	const struct xml_elem *first = NULL;

	for (const struct xml_elem *c = m->first_child; c; c = c->next) {
		const char *l;

		if (!xml_is(c, XMPP_NS_SERVER, name))
			continue;
		l = xml_attr_get_ns(c, XMPP_NS_XML, "lang");
		if (l == NULL || (lang && strcmp(l, lang) == 0))
			return c;
		if (first == NULL)
			first = c;
	}
	return first;
}

/* Make the MESSAGE and start its transaction; 0, or a stanza error. */
static int
im_to_sip(struct worker *w, struct im_job *j, const struct xml_elem *m, const struct xmpp_jid *fj,
    const struct xmpp_jid *tj, const char *ptype, enum diag_code *d, const char **why)
{
	char furi[XMPP_URI_MAX], turi[XMPP_URI_MAX], subject[512], key[KEY_MAX];
	const char *lang = xml_attr_get_ns(m, XMPP_NS_XML, "lang");
	const struct xml_elem *body = pick(m, "body", lang), *subj = pick(m, "subject", lang);
	const char *blang = body ? xml_attr_get_ns(body, XMPP_NS_XML, "lang") : NULL;
	struct xmpp_jid bare = *tj;
	struct sip_problem prob;
	msg_t *msg = NULL;
	sip_t *sip;
	struct txn *t;
	uint64_t r = proxy_rnd64();
	size_t cap;
	char *text;
	int n, rc;

	if (blang == NULL)
		blang = lang;
	bare.resource[0] = '\0';
	if (xmpp_jid_to_sip_uri(fj, furi, sizeof(furi)) < 0 ||
	    xmpp_jid_to_sip_uri(&bare, turi, sizeof(turi)) < 0) {
		*d = DIAG_XMPP_BAD_ADDRESS;
		*why = "the addresses cannot be written as SIP URIs";
		return XMPP_COND_JID_MALFORMED;
	}
	one_line(subject, sizeof(subject), subj ? subj->text : "");
	cap = 2048 + 2 * strlen(furi) + 2 * strlen(turi) + strlen(subject) +
	    strlen(w->cf->edge_fqdn) + body->text_len;
	if ((text = malloc(cap)) == NULL) {
		*d = DIAG_OVERLOAD;
		*why = "out of memory";
		return XMPP_COND_RESOURCE_CONSTRAINT;
	}
	/* RFC 7572 §5: the body as text/plain in UTF-8; xml:lang as
	 * Content-Language, the subject as Subject. */
	n = snprintf(text, cap,
	    "MESSAGE %s SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS %s;branch=z9hG4bKxmpp%016llx\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <%s>;tag=x%08llx\r\n"
	    "To: <%s>\r\n"
	    "Call-ID: xmpp-%016llx@%s\r\n"
	    "CSeq: 1 MESSAGE\r\n"
	    "%s%s%s"
	    "%s%s%s"
	    "Content-Type: text/plain;charset=UTF-8\r\n"
	    "Content-Length: %zu\r\n\r\n",
	    turi, w->cf->edge_fqdn, (unsigned long long)r, furi, (unsigned long long)(r >> 32), turi,
	    (unsigned long long)proxy_rnd64(), w->cf->edge_fqdn,
	    lang_ok(blang) ? "Content-Language: " : "", lang_ok(blang) ? blang : "",
	    lang_ok(blang) ? "\r\n" : "",
	    subject[0] ? "Subject: " : "", subject, subject[0] ? "\r\n" : "", body->text_len);
	if (n < 0 || (size_t)n + body->text_len >= cap) {
		free(text);
		*d = DIAG_XMPP_BAD_ADDRESS;
		*why = "the message does not fit";
		return XMPP_COND_RESOURCE_CONSTRAINT;
	}
	memcpy(text + n, body->text, body->text_len);
	msg = framer_parse_one(text, (size_t)n + body->text_len);
	free(text);
	if (msg == NULL || (sip = sip_object(msg)) == NULL ||
	    sipmsg_check_request(msg, sip, &prob) < 0 ||
	    txn_server_key(sip, "MESSAGE", key, sizeof(key)) < 0 ||
	    (t = txn_new(w, NULL, msg, sip, key, sipmsg_loop_hash(sip))) == NULL) {
		if (msg)
			msg_destroy(msg);
		*d = DIAG_XMPP_BAD_ADDRESS;
		*why = "the translated MESSAGE is not valid SIP";
		return XMPP_COND_BAD_REQUEST;
	}
	t->local = &j->local;
	t->in_side = SIDE_EXTERNAL;
	t->op.env = &w->renv;
	t->op.msg = msg;
	t->op.sip = sip;
	t->op.side = SIDE_EXTERNAL;
	t->op.xmpp_domain = j->rdom;
	t->op.xmpp_type = ptype;
	rc = txn_route(t);
	if (rc == ROUTE_REFUSE) {
		/* txn_route_act answers through the hook and ends it. */
		txn_route_act(t);
		return -1;
	}
	sip->sip_max_forwards->mf_count--;
	msg_fragment_clear(sip->sip_max_forwards->mf_common);
	txn_arm(t, TXN_TIMER_F);
	if (rc == ROUTE_FORWARD)
		txn_route_act(t);
	return -1;
}

/* XEP-0201 §5.1: the partner's thread goes back on the pool user's
 * replies (xmpp_sip.c), the pair keyed by bare JIDs. */
static void
note_thread(struct worker *w, const struct xml_elem *m, const struct xmpp_jid *fj,
    const struct xmpp_jid *tj)
{
	const struct xml_elem *th = xml_child(m, XMPP_NS_SERVER, "thread");
	char local[XMPP_JID_MAX], remote[XMPP_JID_MAX];

	if (th == NULL || th->text == NULL || w->xthr == NULL ||
	    xmpp_jid_format(tj, false, local, sizeof(local)) < 0 ||
	    xmpp_jid_format(fj, false, remote, sizeof(remote)) < 0)
		return;
	if (xthreads_note(w->xthr, local, remote, th->text, uv_now(&w->th.loop)) < 0)
		log_debug("xmpp: thread of %s's message to %s not kept (empty, over %d octets, or "
		    "out of memory)", remote, local, XTHREAD_MAX);
}

static void
on_message(struct worker *w, struct xmpp_gw *gw, const char *ldom, const char *rdom,
    const struct xml_elem *m, const char *ptype)
{
	const char *type = xml_attr_get(m, "type"), *id = xml_attr_get(m, "id");
	const char *from = xml_attr_get(m, "from"), *to = xml_attr_get(m, "to");
	struct xmpp_jid fj, tj;
	const char *why = NULL;
	enum diag_code d = DIAG_NONE;
	struct im_job *j;
	int cond;

	if (type && strcmp(type, "error") == 0) {
		/* XMPP gives no delivery report: an error for a message we
		 * sent has no SIP transaction left to answer (RFC 7572 §6). */
		log_info("xmpp: error for a message %s sent to %s (logged, nothing to answer)",
		    to ? to : "?", from ? from : "?");
		return;
	}
	if (xmpp_jid_parse(from, &fj, &why) < 0 || xmpp_jid_parse(to, &tj, &why) < 0 ||
	    tj.local[0] == '\0') {
		xmpp_gw_reply_error(gw, ldom, rdom, "message", from ? from : rdom, to ? to : ldom,
		    id ? id : "", XMPP_COND_JID_MALFORMED, DIAG_XMPP_BAD_ADDRESS,
		    why ? why : "no user to deliver to");
		return;
	}
	if (type && strcmp(type, "groupchat") == 0) {
		xmpp_gw_reply_error(gw, ldom, rdom, "message", from, to, id ? id : "",
		    XMPP_COND_SERVICE_UNAVAILABLE, DIAG_XMPP_UNSUPPORTED,
		    "group chat is not offered across this gateway");
		return;
	}
	if (pick(m, "body", xml_attr_get_ns(m, XMPP_NS_XML, "lang")) == NULL) {
		/* Chat states (XEP-0085) and receipts alone: no IM to carry. */
		log_debug("xmpp: message without a body from %s to %s: not translated", from, to);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		xmpp_gw_reply_error(gw, ldom, rdom, "message", from, to, id ? id : "",
		    XMPP_COND_RESOURCE_CONSTRAINT, DIAG_OVERLOAD, "out of memory");
		return;
	}
	j->local.final = job_final;
	j->local.detach = job_detach;
	j->w = w;
	snprintf(j->ldom, sizeof(j->ldom), "%s", ldom);
	snprintf(j->rdom, sizeof(j->rdom), "%s", rdom);
	snprintf(j->id, sizeof(j->id), "%s", id ? id : "");
	snprintf(j->from, sizeof(j->from), "%s", from);
	snprintf(j->to, sizeof(j->to), "%s", to);
	note_thread(w, m, &fj, &tj);
	cond = im_to_sip(w, j, m, &fj, &tj, ptype, &d, &why);
	if (cond >= 0) {
		xmpp_gw_reply_error(gw, ldom, rdom, "message", from, to, id ? id : "",
		    (enum xmpp_cond)cond, d, why);
		free(j);
	}
}

/* XEP-0199 ping and the IQ rule of RFC 6120 §8.2.3. */
static void
on_iq(struct xmpp_gw *gw, const char *ldom, const char *rdom, const struct xml_elem *iq)
{
	const char *type = xml_attr_get(iq, "type"), *id = xml_attr_get(iq, "id");
	const char *from = xml_attr_get(iq, "from"), *to = xml_attr_get(iq, "to");
	struct xml_doc *doc;
	struct xml_elem *r;

	if (type == NULL || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
		return;                     /* results and errors need no answer */
	if (strcmp(type, "get") == 0 && xml_child(iq, XMPP_NS_PING, "ping") != NULL &&
	    strcmp(to, ldom) == 0) {
		if (xml_doc_new(&doc, XMPP_NS_SERVER, "iq") < 0)
			return;
		r = xml_doc_root(doc);
		if (xml_attr_set(doc, r, NULL, "type", "result") < 0 ||
		    xml_attr_set(doc, r, NULL, "from", to) < 0 ||
		    xml_attr_set(doc, r, NULL, "to", from) < 0 ||
		    (id && xml_attr_set(doc, r, NULL, "id", id) < 0)) {
			xml_doc_free(doc);
			return;
		}
		xmpp_gw_send(gw, ldom, rdom, doc, xmpp_gw_sent_log, (void *)"a ping reply");
		return;
	}
	xmpp_gw_reply_error(gw, ldom, rdom, "iq", from, to, id ? id : "", XMPP_COND_SERVICE_UNAVAILABLE,
	    DIAG_XMPP_UNSUPPORTED, "this gateway answers only XMPP ping");
}

void
xmpp_im_stanza(struct worker *w, struct xmpp_gw *gw, const char *ldom, const char *rdom,
    struct xml_doc *doc, const char *ptype)
{
	const struct xml_elem *e = xml_doc_root(doc);

	if (strcmp(e->name, "message") == 0)
		on_message(w, gw, ldom, rdom, e, ptype);
	else if (strcmp(e->name, "iq") == 0)
		on_iq(gw, ldom, rdom, e);
	else if (w->xpres)
		xpres_stanza(w->xpres, gw, ldom, rdom, e, ptype);
	xml_doc_free(doc);
}
