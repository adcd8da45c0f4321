/* xmpp_sip.c: what the pool sends to an XMPP partner (RFC 7247, RFC 7572 §4):
 * a page-mode MESSAGE (RFC 3428) becomes a <message/> with the body,
 * language and subject (and the thread of the conversation's last message
 * from the partner, so that replies stay in it); the request is answered
 * 202 Accepted once the stanza is on an authenticated stream (XMPP has no
 * delivery report), or with the error that stopped it, never left without
 * an answer.  Runs on worker 0, where the gateway is, or on the worker
 * that holds the request when the stanza can go straight to a stream that
 * is up (xmpp_share.c). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/url.h>

#include "proxy_int.h"
#include "sipedge/log.h"
#include "sipedge/xmpp.h"
#include "sipedge/xmpp_addr.h"
#include "sipedge/xmpp_thread.h"
#include "sipedge/xmpp_xml.h"
#include "xmpp_presence.h"

/* One request on its way out; the outcome goes to its worker. */
struct out_job {
	struct worker *w0;
	unsigned from;
	char key[KEY_MAX];
};

void
xmpp_sip_done(struct worker *w0, unsigned from, const char *key, int status, enum diag_code d,
    const char *text, const struct xmpp_answer *a)
{
	struct post *p;

	if (from == w0->idx) {
		proxy_xmpp_done(w0, key, status, d, text, a);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (a != NULL && (p->answer = malloc(sizeof(*a))) == NULL)) {
		free(p);
		return;                        /* Timer F answers */
	}
	p->kind = POST_XMPP_DONE;
	p->from = w0->idx;
	p->status = status;
	p->diag = d;
	if (a)
		*p->answer = *a;
	snprintf(p->key, sizeof(p->key), "%s", key);
	snprintf(p->text, sizeof(p->text), "%s", text ? text : "");
	proxy_post(&w0->px->workers[from], p);
}

static void
done(struct worker *w0, unsigned from, const char *key, int status, enum diag_code d,
    const char *text)
{
	xmpp_sip_done(w0, from, key, status, d, text, NULL);
}

static void
sent_cb(int status, enum diag_code d, const char *text, void *arg)
{
	struct out_job *j = arg;

	if (status == 0)
		done(j->w0, j->from, j->key, 202, DIAG_NONE, NULL);
	else
		done(j->w0, j->from, j->key, status, d, text);
	free(j);
}

/* The URI of a From, To or Request-URI as text. */
static int
uri_text(const url_t *u, char *buf, size_t len)
{
	if (u == NULL || url_e(buf, (isize_t)len, u) < 0 || (size_t)url_len(u) >= len)
		return -EINVAL;
	buf[url_len(u)] = '\0';
	return 0;
}

/* text/plain, with a charset of UTF-8 (or none, RFC 3428 §9's default
 * for text is UTF-8 too). */
static bool
plain_utf8(const sip_t *sip)
{
	const sip_content_type_t *ct = sip->sip_content_type;
	const char *cs;

	if (ct == NULL)
		return sip->sip_payload == NULL || sip->sip_payload->pl_len == 0;
	if (ct->c_type == NULL || strcasecmp(ct->c_type, "text/plain") != 0)
		return false;
	cs = msg_params_find(ct->c_params, "charset=");
	return cs == NULL || strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "\"utf-8\"") == 0;
}

/* The checks a pool user's MESSAGE passes before it is translated, and its
 * addresses as JIDs (full in jf, jt; bare in bf, bt); the status to answer
 * when it does not pass. */
struct msg_addrs {
	struct xmpp_jid fj, tj;
	char jf[XMPP_JID_MAX], jt[XMPP_JID_MAX], bf[XMPP_JID_MAX], bt[XMPP_JID_MAX];
};

static int
msg_check(struct worker *w, const sip_t *sip, const char *domain, struct msg_addrs *a,
    enum diag_code *d, const char **why)
{
	char furi[1024], turi[1024];

	*why = NULL;
	if (!plain_utf8(sip)) {
		*d = DIAG_XMPP_UNSUPPORTED;
		*why = "only text/plain in UTF-8 is translated";
		return 415;
	}
	if (uri_text(sip->sip_from->a_url, furi, sizeof(furi)) < 0 ||
	    uri_text(sip->sip_request->rq_url, turi, sizeof(turi)) < 0 ||
	    xmpp_jid_from_sip_uri(furi, &a->fj, why) < 0 ||
	    xmpp_jid_from_sip_uri(turi, &a->tj, why) < 0 ||
	    xmpp_jid_format(&a->fj, true, a->jf, sizeof(a->jf)) < 0 ||
	    xmpp_jid_format(&a->tj, true, a->jt, sizeof(a->jt)) < 0 ||
	    xmpp_jid_format(&a->fj, false, a->bf, sizeof(a->bf)) < 0 ||
	    xmpp_jid_format(&a->tj, false, a->bt, sizeof(a->bt)) < 0) {
		*d = DIAG_XMPP_BAD_ADDRESS;
		if (*why == NULL)
			*why = "address too long";
		return 400;
	}
	if (!conf_is_our_domain(w->cf, a->fj.domain)) {
		*d = DIAG_XMPP_INVALID_FROM;
		*why = "From is not in one of our domains";
		return 403;
	}
	if (strcasecmp(a->tj.domain, domain) != 0) {
		*d = DIAG_XMPP_BAD_ADDRESS;
		*why = "the Request-URI's domain changed";
		return 403;
	}
	return 0;
}

/* The <message/> (RFC 7572 §4) for a MESSAGE that passed msg_check: body,
 * language, subject, and the conversation's thread (or NULL).  0 or
 * -ENOMEM. */
static int
msg_build(struct worker *w, const sip_t *sip, const struct msg_addrs *a, const char *thread,
    struct xml_doc **out)
{
	const struct policy *pol = w->renv.pol;
	struct xml_doc *doc;
	struct xml_elem *m, *b;
	char id[40];

	snprintf(id, sizeof(id), "s%016llx", (unsigned long long)proxy_rnd64());
	if (xml_doc_new(&doc, XMPP_NS_SERVER, "message") < 0)
		return -ENOMEM;
	m = xml_doc_root(doc);
	if (xml_attr_set(doc, m, NULL, "from", a->jf) < 0 || xml_attr_set(doc, m, NULL, "to", a->jt) < 0 ||
	    xml_attr_set(doc, m, NULL, "type", xmpp_message_type(pol ? policy_xmpp_config(pol) :
	    NULL)) < 0 || xml_attr_set(doc, m, NULL, "id", id) < 0)
		goto nomem;
	if (sip->sip_content_language && sip->sip_content_language->k_items &&
	    sip->sip_content_language->k_items[0] &&
	    xml_attr_set(doc, m, XMPP_NS_XML, "lang", sip->sip_content_language->k_items[0]) < 0)
		goto nomem;
	if (sip->sip_subject && sip->sip_subject->g_string) {
		if ((b = xml_elem_add(doc, m, NULL, "subject")) == NULL ||
		    xml_text_set(doc, b, sip->sip_subject->g_string,
		    strlen(sip->sip_subject->g_string)) < 0)
			goto nomem;
	}
	if ((b = xml_elem_add(doc, m, NULL, "body")) == NULL ||
	    xml_text_set(doc, b, sip->sip_payload ? sip->sip_payload->pl_data : "",
	    sip->sip_payload ? sip->sip_payload->pl_len : 0) < 0)
		goto nomem;
	if (thread != NULL && ((b = xml_elem_add(doc, m, NULL, "thread")) == NULL ||
	    xml_text_set(doc, b, thread, strlen(thread)) < 0))
		goto nomem;
	*out = doc;
	return 0;
nomem:
	xml_doc_free(doc);
	return -ENOMEM;
}

void
xmpp_sip_request(struct worker *w, msg_t *msg, const char *domain, const char *key, unsigned from)
{
	sip_t *sip = sip_object(msg);
	char thread[XTHREAD_MAX + 1];
	const char *why = NULL;
	struct xml_doc *doc = NULL;
	struct msg_addrs a;
	struct out_job *j;
	enum diag_code d;
	int status;

	if (w->xgw == NULL) {
		done(w, from, key, 503, DIAG_XMPP_STREAM_CLOSED, "the XMPP side is not running");
		goto out;
	}
	if (domain[0] == '\0' || sip->sip_request->rq_method == sip_method_subscribe) {
		/* Presence: a SUBSCRIBE for an XMPP contact, or a request in
		 * one of the gateway's dialogs. */
		if (w->xpres == NULL) {
			done(w, from, key, 503, DIAG_XMPP_STREAM_CLOSED, "presence is not running");
			goto out;
		}
		xpres_sip(w->xpres, msg, domain, key, from);
		return;
	}
	if (sip->sip_request->rq_method != sip_method_message) {
		done(w, from, key, 501, DIAG_XMPP_UNSUPPORTED,
		    "only MESSAGE and SUBSCRIBE are translated to XMPP");
		goto out;
	}
	if ((status = msg_check(w, sip, domain, &a, &d, &why)) != 0) {
		done(w, from, key, status, d, why);
		goto out;
	}
	/* The thread of the contact's last message to this pool user
	 * (xmpp_im.c), so that the reply stays in it (XEP-0201 §5.1). */
	if (msg_build(w, sip, &a, w->xthr && xthreads_get(w->xthr, a.bf, a.bt,
	    uv_now(&w->th.loop), thread) ? thread : NULL, &doc) < 0 ||
	    (j = calloc(1, sizeof(*j))) == NULL) {
		done(w, from, key, 503, DIAG_OVERLOAD, "out of memory");
		goto out;
	}
	j->w0 = w;
	j->from = from;
	snprintf(j->key, sizeof(j->key), "%s", key);
	xmpp_gw_send(w->xgw, a.fj.domain, a.tj.domain, doc, sent_cb, j);
	doc = NULL;
out:
	if (doc)
		xml_doc_free(doc);
	msg_destroy(msg);
}

int
xmpp_sip_direct(struct worker *w, struct txn *t)
{
	const char *domain = t->op.domain;
	const sip_t *sip = t->sip;
	char thread[XTHREAD_MAX + 1];
	struct xmpp_share *sh = w->px->xshare;
	const struct policy_xmpp_partner *p;
	struct xml_buf b = { 0 };
	struct xml_doc *doc = NULL;
	struct msg_addrs a;
	const char *why;
	enum diag_code d;
	int r;

	/* A MESSAGE to a partner this worker's policy allows; everything
	 * else (presence, refusals with their reasons) is worker 0's. */
	if (domain[0] == '\0' || sip->sip_request->rq_method != sip_method_message ||
	    w->renv.pol == NULL ||
	    policy_xmpp_decide(w->renv.pol, domain, &p) != POLICY_XMPP_PARTNER)
		return -EAGAIN;
	if ((r = msg_check(w, sip, domain, &a, &d, &why)) != 0) {
		proxy_xmpp_done(w, t->key, r, d, why, NULL);
		return 0;
	}
	r = msg_build(w, sip, &a, xmpp_share_thread(sh, a.bf, a.bt, uv_now(&w->th.loop), thread) ?
	    thread : NULL, &doc);
	if (r == 0)
		r = xml_serialize(&b, xml_doc_root(doc), XMPP_NS_SERVER);
	if (r == 0)
		r = xmpp_share_send(sh, a.fj.domain, a.tj.domain, b.p, b.len, uv_now(&w->th.loop));
	xml_buf_free(&b);
	if (doc)
		xml_doc_free(doc);
	if (r == -EAGAIN || r == -ENOMEM)
		return -EAGAIN;                /* worker 0 does it (or answers) */
	if (r < 0)
		proxy_xmpp_done(w, t->key, 503, DIAG_XMPP_STREAM_CLOSED,
		    "the XMPP stream failed while sending", NULL);
	else
		proxy_xmpp_done(w, t->key, 202, DIAG_NONE, NULL, NULL);
	return 0;
}
