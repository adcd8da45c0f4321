/* xmpp_sip.c: what the pool sends to an XMPP partner (RFC 7247, RFC 7572 §4):
 * a page-mode MESSAGE (RFC 3428) becomes a <message/> with the body,
 * language and subject (and the thread of the conversation's last message
 * from the partner, so that replies stay in it); the request is answered
 * 202 Accepted once the stanza is on an authenticated stream (XMPP has no
 * delivery report), or with the error that stopped it, never left without
 * an answer.  Runs on worker 0, where the gateway is. */
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

/* The thread of the contact's last message to this pool user (xmpp_im.c),
 * so that the reply stays in it (XEP-0201 §5.1), or NULL. */
static const char *
reply_thread(struct worker *w, const struct xmpp_jid *fj, const struct xmpp_jid *tj)
{
	char local[XMPP_JID_MAX], remote[XMPP_JID_MAX];

	if (w->xthr == NULL || xmpp_jid_format(fj, false, local, sizeof(local)) < 0 ||
	    xmpp_jid_format(tj, false, remote, sizeof(remote)) < 0)
		return NULL;
	return xthreads_get(w->xthr, local, remote, uv_now(&w->th.loop));
}

void
xmpp_sip_request(struct worker *w, msg_t *msg, const char *domain, const char *key, unsigned from)
{
	sip_t *sip = sip_object(msg);
	char furi[1024], turi[1024], jf[XMPP_JID_MAX], jt[XMPP_JID_MAX], id[40];
	struct xmpp_jid fj, tj;
	const char *why = NULL, *th;
	struct xml_doc *doc = NULL;
	struct xml_elem *m, *b;
	struct out_job *j;
	uint64_t r;

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
	if (!plain_utf8(sip)) {
		done(w, from, key, 415, DIAG_XMPP_UNSUPPORTED, "only text/plain in UTF-8 is translated");
		goto out;
	}
	if (uri_text(sip->sip_from->a_url, furi, sizeof(furi)) < 0 ||
	    uri_text(sip->sip_request->rq_url, turi, sizeof(turi)) < 0 ||
	    xmpp_jid_from_sip_uri(furi, &fj, &why) < 0 || xmpp_jid_from_sip_uri(turi, &tj, &why) < 0 ||
	    xmpp_jid_format(&fj, true, jf, sizeof(jf)) < 0 ||
	    xmpp_jid_format(&tj, true, jt, sizeof(jt)) < 0) {
		done(w, from, key, 400, DIAG_XMPP_BAD_ADDRESS, why ? why : "address too long");
		goto out;
	}
	if (!conf_is_our_domain(w->cf, fj.domain)) {
		done(w, from, key, 403, DIAG_XMPP_INVALID_FROM, "From is not in one of our domains");
		goto out;
	}
	if (strcasecmp(tj.domain, domain) != 0) {
		done(w, from, key, 403, DIAG_XMPP_BAD_ADDRESS, "the Request-URI's domain changed");
		goto out;
	}
	r = proxy_rnd64();
	snprintf(id, sizeof(id), "s%016llx", (unsigned long long)r);
	if (xml_doc_new(&doc, XMPP_NS_SERVER, "message") < 0)
		goto nomem;
	m = xml_doc_root(doc);
	if (xml_attr_set(doc, m, NULL, "from", jf) < 0 || xml_attr_set(doc, m, NULL, "to", jt) < 0 ||
	    xml_attr_set(doc, m, NULL, "type", xmpp_gw_message_type(w->xgw)) < 0 ||
	    xml_attr_set(doc, m, NULL, "id", id) < 0)
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
	if ((th = reply_thread(w, &fj, &tj)) != NULL &&
	    ((b = xml_elem_add(doc, m, NULL, "thread")) == NULL ||
	    xml_text_set(doc, b, th, strlen(th)) < 0))
		goto nomem;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto nomem;
	j->w0 = w;
	j->from = from;
	snprintf(j->key, sizeof(j->key), "%s", key);
	xmpp_gw_send(w->xgw, fj.domain, tj.domain, doc, sent_cb, j);
	doc = NULL;
	goto out;
nomem:
	done(w, from, key, 503, DIAG_OVERLOAD, "out of memory");
out:
	if (doc)
		xml_doc_free(doc);
	msg_destroy(msg);
}
