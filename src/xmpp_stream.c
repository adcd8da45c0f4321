/* xmpp_stream.c: one XMPP server-to-server stream as XML (RFC 6120 §4): our
 * stream header, the peer's elements parsed and dispatched to the
 * negotiation of its direction (xmpp_in.c, xmpp_out.c) or, once
 * authenticated, to the gateway; stream errors with a <text/> carrying
 * sipedge's diagnostic code (§4.9); stanzas queued while a stream is set up
 * and either sent or answered with an error, never dropped. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sipedge/log.h"
#include "sipedge/xmpp_errmap.h"
#include "xmpp_int.h"

const char *
xs_ctx(const struct xstream *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s stream %s %s %s, peer %s", s->outbound ? "outbound" : "inbound",
	    s->local[0] ? s->local : "?", s->outbound ? "->" : "<-",
	    s->remote[0] ? s->remote : "?", s->peer[0] ? s->peer : "?");
	return buf;
}

void
xs_note(struct xstream *s, enum diag_code d, const char *fmt, ...)
{
	va_list ap;

	if (s->diag != DIAG_NONE)
		return;
	s->diag = d;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

/* ---- parser callbacks ---- */

static int
on_open(void *ud, const struct xml_elem *h, const char *default_ns)
{
	struct xstream *s = ud;

	s->header_got = true;
	if (!xml_is(h, XMPP_NS_STREAM, "stream")) {
		xs_close(s, XMPP_SERR_INVALID_NAMESPACE, DIAG_XMPP_BAD_STREAM,
		    "the stream element is not <stream> in %s", XMPP_NS_STREAM);
		return -EPROTO;
	}
	if (strcmp(default_ns, XMPP_NS_SERVER) != 0) {
		xs_close(s, XMPP_SERR_INVALID_NAMESPACE, DIAG_XMPP_BAD_STREAM,
		    "the content namespace is '%.100s', not %s", default_ns, XMPP_NS_SERVER);
		return -EPROTO;
	}
	{
		const char *v = xml_attr_get(h, "version");

		/* RFC 6120 §4.7.5: without version 1.0 there is no STARTTLS
		 * nor SASL; we do not speak the old protocol. */
		if (v == NULL || strtoul(v, NULL, 10) < 1) {
			xs_close(s, XMPP_SERR_UNSUPPORTED_VERSION, DIAG_XMPP_BAD_STREAM,
			    "stream version %.20s: 1.0 is required", v ? v : "(none)");
			return -EPROTO;
		}
	}
	return s->outbound ? xout_open(s, h, default_ns) : xin_open(s, h, default_ns);
}

static int
on_element(void *ud, struct xml_doc *doc)
{
	struct xstream *s = ud;
	struct xml_elem *e = xml_doc_root(doc);

	if (xml_is(e, XMPP_NS_STREAM, "error")) {
		/* The peer's stream error: keep its condition and text. */
		struct xml_elem *c, *t = xml_child(e, XMPP_NS_STREAMS, "text");

		for (c = e->first_child; c; c = c->next)
			if (strcmp(c->ns, XMPP_NS_STREAMS) == 0 && strcmp(c->name, "text") != 0)
				break;
		s->peer_serr = c ? xmpp_serr_from_name(c->name) : XMPP_SERR_UNDEFINED_CONDITION;
		xs_note(s, DIAG_XMPP_PEER_ERROR, "%s closed the stream: %s%s%.200s",
		    s->remote[0] ? s->remote : "the peer", c ? c->name : "undefined-condition",
		    t && t->text_len ? ": " : "", t ? t->text : "");
		log_info("xmpp: %s", s->reason);
		xml_doc_free(doc);
		xs_close(s, XMPP_SERR_NONE, DIAG_NONE, "after the peer's error");
		return -EPROTO;
	}
	if (s->state == XS_READY && (xml_is(e, XMPP_NS_SERVER, "message") ||
	    xml_is(e, XMPP_NS_SERVER, "presence") || xml_is(e, XMPP_NS_SERVER, "iq"))) {
		s->stanzas_in++;
		s->gw->ctr.stanzas_in++;
		xgw_stanza(s, doc);
		return s->state == XS_CLOSED || s->state == XS_CLOSING ? -EPIPE : 0;
	}
	return s->outbound ? xout_element(s, doc) : xin_element(s, doc);
}

static int
on_close(void *ud)
{
	struct xstream *s = ud;

	xs_note(s, DIAG_XMPP_STREAM_CLOSED, "%s closed the stream",
	    s->remote[0] ? s->remote : "the peer");
	xs_close(s, XMPP_SERR_NONE, DIAG_NONE, "the peer closed it");
	return -EPIPE;
}

static const struct xmpp_parser_cbs xs_cbs = { on_open, on_element, on_close };

int
xs_parser_new(struct xstream *s, const struct xmpp_parser_limits *l)
{
	return xmpp_parser_new(l, &xs_cbs, s, &s->parser);
}

/* Plaintext from the peer: parse it; after a pause (<proceed/>, SASL
 * success) the rest is TLS or a new stream. */
void
xs_input(struct xstream *s, const char *buf, size_t len)
{
	const char *text;
	bool too_big;
	size_t used;
	int r;

	while (len > 0 && s->state != XS_CLOSED && s->state != XS_CLOSING) {
		r = xmpp_parser_feed(s->parser, buf, len, &used);
		if (r == 0)
			return;
		if (r < 0) {
			/* A callback that refuses the stream closes it and
			 * returns -EPROTO too: not bad XML. */
			if (r != -EPROTO || s->state == XS_CLOSING || s->state == XS_CLOSED)
				return;      /* a callback closed it */
			enum xmpp_serr e = xmpp_parser_error(s->parser, &text, &too_big);

			s->gw->ctr.bad_xml++;
			if (too_big) {
				/* RFC 6120 §4.9.3.12 with XEP-0205's application
				 * condition. */
				xs_note(s, DIAG_XMPP_TOO_BIG, "%s", text);
				xs_close(s, e, DIAG_XMPP_TOO_BIG, "%s", text);
			} else
				xs_close(s, e, e == XMPP_SERR_RESTRICTED_XML ? DIAG_XMPP_RESTRICTED_XML :
				    DIAG_XMPP_BAD_XML, "%s", text);
			return;
		}
		buf += used;
		len -= used;
		switch (s->after) {
		case XS_AFTER_TLS:
			s->after = XS_AFTER_NONE;
			/* RFC 6120 §4.3.3: a new stream, so a new header from us
			 * (an initiating entity sends its own right away). */
			if (!s->outbound)
				s->header_sent = false;
			if (xmpp_parser_reset(s->parser) < 0) {
				xs_abort(s);
				return;
			}
			if (len > 0)
				xs_cipher_input(s, buf, len);
			return;
		case XS_AFTER_RESTART:
			s->after = XS_AFTER_NONE;
			s->header_got = false;
			if (!s->outbound)
				s->header_sent = false;
			if (xmpp_parser_reset(s->parser) < 0) {
				xs_abort(s);
				return;
			}
			break;
		case XS_AFTER_NONE:
			break;
		}
	}
}

/* ---- writing ---- */

int
xs_send_raw(struct xstream *s, const char *text)
{
	return xs_write(s, text, strlen(text));
}

int
xs_send_header(struct xstream *s)
{
	struct xml_buf b = { 0 };
	int r;

	/* RFC 6120 §4.7: from is ours, to the peer's; the id is ours when we
	 * are the receiving entity. */
	r = xml_buf_str(&b, "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
	    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'");
	if (r == 0 && s->local[0]) {
		r = xml_buf_str(&b, " from='");
		r = r ? r : xml_buf_escape(&b, s->local, strlen(s->local), true);
		r = r ? r : xml_buf_str(&b, "'");
	}
	if (r == 0 && s->remote[0]) {
		r = xml_buf_str(&b, " to='");
		r = r ? r : xml_buf_escape(&b, s->remote, strlen(s->remote), true);
		r = r ? r : xml_buf_str(&b, "'");
	}
	if (r == 0 && !s->outbound) {
		r = xml_buf_str(&b, " id='");
		r = r ? r : xml_buf_str(&b, s->sid);
		r = r ? r : xml_buf_str(&b, "'");
	}
	r = r ? r : xml_buf_str(&b, " version='1.0' xml:lang='en'>");
	if (r == 0)
		r = xs_write(s, b.p, b.len);
	xml_buf_free(&b);
	if (r == 0)
		s->header_sent = true;
	return r;
}

int
xs_send_doc(struct xstream *s, const struct xml_elem *e)
{
	struct xml_buf b = { 0 };
	int r;

	if ((r = xml_serialize(&b, e, XMPP_NS_SERVER)) == 0)
		r = xs_write(s, b.p, b.len);
	xml_buf_free(&b);
	return r;
}

/* ---- the end of a stream ---- */

void
xs_new_sid(struct xstream *s)
{
	unsigned char r[16];

	/* RFC 6120 §4.7.3: unique and unpredictable, a new one for each
	 * header we send as the receiving entity. */
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(uv_hrtime() >> (8 * (i % 8)));
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(s->sid + 2 * i, 3, "%02x", r[i]);
}

void
xs_close(struct xstream *s, enum xmpp_serr cond, enum diag_code d, const char *fmt, ...)
{
	char text[384], ctx[512];
	va_list ap;

	if (s->state == XS_CLOSED || s->state == XS_CLOSING)
		return;
	xs_unshare(s);                     /* nothing after our </stream:stream> */
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (d != DIAG_NONE)
		xs_note(s, d, "%s", text);
	if (!s->tcp_open || s->state < XS_NEGOTIATING) {
		xs_abort(s);
		return;
	}
	if (!s->header_sent && !s->outbound) {
		/* RFC 6120 §4.9.1.1: a header before the error even when the
		 * peer sent none, from one of our domains, with an id. */
		if (!s->local[0])
			snprintf(s->local, sizeof(s->local), "%s", s->gw->cf->ndomains ?
			    s->gw->cf->domains[0] : s->gw->cf->edge_fqdn);
		if (!s->sid[0])
			xs_new_sid(s);
	}
	if (!s->header_sent && !s->outbound && xs_send_header(s) < 0) {
		xs_abort(s);
		return;
	}
	if (cond != XMPP_SERR_NONE && s->header_sent) {
		struct xml_buf b = { 0 };
		char code[400];

		s->gw->ctr.stream_errors_sent++;
		/* RFC 6120 §4.9.2: the condition, and a text for people with
		 * our diagnostic code, as the SIP side gives it. */
		snprintf(code, sizeof(code), "%u %s", (unsigned)d, text);
		if (xml_buf_str(&b, "<stream:error><") == 0 &&
		    xml_buf_str(&b, xmpp_serr_name(cond)) == 0 &&
		    xml_buf_str(&b, " xmlns='" XMPP_NS_STREAMS "'/>") == 0 &&
		    (s->diag != DIAG_XMPP_TOO_BIG ||
		    xml_buf_str(&b, "<stanza-too-big xmlns='" XMPP_NS_ERRORS "'/>") == 0) &&
		    xml_buf_str(&b, "<text xmlns='" XMPP_NS_STREAMS "' xml:lang='en'>") == 0 &&
		    xml_buf_escape(&b, code, strlen(code), false) == 0 &&
		    xml_buf_str(&b, "</text></stream:error>") == 0)
			(void)xs_write(s, b.p, b.len);
		xml_buf_free(&b);
		log_info("xmpp: stream error %s (%u %s), %s", xmpp_serr_name(cond), (unsigned)d, text,
		    xs_ctx(s, ctx, sizeof(ctx)));
	} else
		log_debug("xmpp: closing (%s), %s", text, xs_ctx(s, ctx, sizeof(ctx)));
	if (s->header_sent)
		(void)xs_send_raw(s, "</stream:stream>");
	xs_tls_close(s);
	xs_fail_queue(s, xs_fail_status(s), s->diag ? s->diag : DIAG_XMPP_STREAM_CLOSED,
	    s->reason[0] ? s->reason : text);
	xs_finish(s);
}

/* ---- stanzas waiting for the stream ---- */

int
xs_fail_status(const struct xstream *s)
{
	enum xmpp_s2s_fail f;

	switch (s->diag) {
	case DIAG_XMPP_UNREACHABLE:
		f = s->dns_nodomain ? XMPP_S2S_NO_DOMAIN : s->dns_failed ? XMPP_S2S_UNRESOLVED :
		    XMPP_S2S_UNREACHABLE;
		break;
	case DIAG_XMPP_TIMEOUT:
		f = XMPP_S2S_TIMEOUT;
		break;
	case DIAG_XMPP_TLS_REQUIRED:
	case DIAG_XMPP_TLS_FAILED:
	case DIAG_XMPP_CERT:
	case DIAG_XMPP_AUTH_FAILED:
		f = XMPP_S2S_REFUSED;
		break;
	case DIAG_XMPP_LIMIT:
	case DIAG_XMPP_QUEUE_FULL:
	case DIAG_OVERLOAD:
		return 503;                /* our own limits, not the partner's */
	default:
		f = XMPP_S2S_STREAM_ERROR;
		break;
	}
	return xmpp_errmap_s2s_sip(f, s->peer_serr != XMPP_SERR_NONE ? s->peer_serr :
	    XMPP_SERR_UNDEFINED_CONDITION).status;
}

void
xs_fail_queue(struct xstream *s, int status, enum diag_code d, const char *text)
{
	struct xs_pending *p;

	while ((p = s->qhead) != NULL) {
		s->qhead = p->next;
		s->qlen--;
		if (p->cb)
			p->cb(status, d, text, p->arg);
		xml_doc_free(p->doc);
		free(p);
	}
	s->qtail = NULL;
}

void
xs_flush_queue(struct xstream *s)
{
	struct xs_pending *p;
	int r;

	while (s->state == XS_READY && (p = s->qhead) != NULL) {
		s->qhead = p->next;
		if (s->qhead == NULL)
			s->qtail = NULL;
		s->qlen--;
		r = xs_send_doc(s, xml_doc_root(p->doc));
		if (r == 0) {
			s->stanzas_out++;
			s->gw->ctr.stanzas_out++;
		}
		if (p->cb)
			p->cb(r == 0 ? 0 : 503, r == 0 ? DIAG_NONE : DIAG_XMPP_STREAM_CLOSED,
			    r == 0 ? "sent" : "the stream failed while sending", p->arg);
		xml_doc_free(p->doc);
		free(p);
	}
}

/* Authenticated both ways we care about: stanzas may flow. */
void
xs_ready(struct xstream *s)
{
	char ctx[512];
	struct xmpp_parser_limits lim;

	s->state = XS_READY;
	s->t_ready = uv_now(s->gw->loop);
	xmpp_parser_limits_authed(&lim);
	xmpp_parser_set_limits(s->parser, &lim);
	if (s->outbound)
		s->gw->ctr.streams_out_ok++;
	else
		s->gw->ctr.streams_in_ok++;
	log_info("xmpp: authenticated (%s, %s), %s", s->auth == XMPP_AUTH_EXTERNAL ?
	    "SASL EXTERNAL" : "dialback", s->tls_up ? tls_sess_version(s->tls) : "no TLS",
	    xs_ctx(s, ctx, sizeof(ctx)));
	xs_flush_queue(s);
	/* The streams xmpp_gw_send would write stanzas to (find_out): other
	 * workers may write theirs straight to them, after the queue. */
	if (s->state == XS_READY && xs_carries_ours(s))
		xs_share(s);
	if (s->probe != NULL)
		xprobe_ready(s);
}
