/* xmpp_query.c: the XMPP gateway as an operator sees it (xmpp_query.h,
 * sipedgectl xmpp streams): each server-to-server stream (RFC 6120 §4) with
 * its TLS (§5), its peer's certificate judged for the peer's domain
 * (XEP-0178, RFC 6120 §13.7.1.2) and its authentication (SASL EXTERNAL §6,
 * dialback XEP-0220); and the gateway's counters, which the main thread
 * reads while worker 0 writes them. */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/xmpp_query.h"
#include "xmpp_int.h"

const char *
xq_state_name(enum xs_state st)
{
	switch (st) {
	case XS_RESOLVING:
		return "resolving";
	case XS_CONNECTING:
		return "connecting";
	case XS_NEGOTIATING:
		return "negotiating";
	case XS_READY:
		return "ready";
	case XS_CLOSING:
		return "closing";
	case XS_CLOSED:
		break;
	}
	return "closed";
}

const char *
xmpp_query_auth_name(enum xmpp_auth a)
{
	switch (a) {
	case XMPP_AUTH_EXTERNAL:
		return "EXTERNAL";
	case XMPP_AUTH_DIALBACK:
		return "dialback";
	case XMPP_AUTH_NONE:
		break;
	}
	return "none";
}

#define LOAD(f) atomic_load_explicit(&gw->ctr.f, memory_order_relaxed)

void
xmpp_gw_counters(const struct xmpp_gw *gw, struct xmpp_counters *out)
{
	/* Field by field: each is one atomic load (xmpp_int.h says why);
	 * two fields may be a stanza apart, never torn. */
	out->streams_in = LOAD(streams_in);
	out->streams_out = LOAD(streams_out);
	out->streams_in_ok = LOAD(streams_in_ok);
	out->streams_out_ok = LOAD(streams_out_ok);
	out->streams_refused = LOAD(streams_refused);
	out->streams_out_failed = LOAD(streams_out_failed);
	out->tls_failures = LOAD(tls_failures);
	out->bad_xml = LOAD(bad_xml);
	out->stream_errors_sent = LOAD(stream_errors_sent);
	out->stanzas_in = LOAD(stanzas_in);
	out->stanzas_out = LOAD(stanzas_out);
	out->stanzas_failed = LOAD(stanzas_failed);
	out->stanzas_out_direct = LOAD(stanzas_out_direct);
	out->presence_limited = LOAD(presence_limited);
	out->bytes_in = LOAD(bytes_in);
	out->bytes_out = LOAD(bytes_out);
	out->open_streams = LOAD(open_streams);
}

/* The TLS half of a row: version, cipher, the peer certificate's first name
 * and whether it is valid for the peer's domain.  An outbound handshake
 * already refused a certificate that does not name the partner's domain; an
 * inbound one accepts any certificate and the stream judges it (xmpp_in.c),
 * so the judgement is made here the same way for both. */
static void
row_tls(const struct xstream *s, struct xmpp_stream_row *r)
{
	const char *const *names;
	size_t n;

	if (s->tls == NULL || !s->tls_up)
		return;
	r->tls = true;
	xgw_lock(s->gw);                   /* other workers may be writing to it */
	snprintf(r->tls_version, sizeof(r->tls_version), "%s", tls_sess_version(s->tls));
	snprintf(r->tls_cipher, sizeof(r->tls_cipher), "%s", tls_sess_cipher(s->tls));
	tls_sess_peer_names(s->tls, &names, &n);
	if (n > 0)
		snprintf(r->cert_name, sizeof(r->cert_name), "%s", names[0]);
	if (s->remote[0] && tls_sess_peer_check(s->tls, s->remote, r->cert, sizeof(r->cert)) == 0)
		snprintf(r->cert, sizeof(r->cert), "valid");
	xgw_unlock(s->gw);
}

static void
row_fill(const struct xstream *s, uint64_t now, struct xmpp_stream_row *r)
{
	uint64_t last = s->t_stanza ? s->t_stanza : s->t_ready ? s->t_ready : s->t_start;

	memset(r, 0, sizeof(*r));
	r->id = s->id;
	r->outbound = s->outbound;
	r->verify_only = s->verify_only;
	r->probe = s->probe != NULL;
	r->bidi = s->bidi;
	r->direct_tls = s->direct_tls;
	r->state = xq_state_name(s->state);
	r->auth = xmpp_query_auth_name(s->auth);
	snprintf(r->local, sizeof(r->local), "%s", s->local);
	snprintf(r->remote, sizeof(r->remote), "%s", s->remote);
	snprintf(r->peer, sizeof(r->peer), "%s", s->peer);
	row_tls(s, r);
	r->age_ms = now > s->t_start ? now - s->t_start : 0;
	r->idle_ms = now > last ? now - last : 0;
	r->stanzas_in = s->stanzas_in;
	r->stanzas_out = s->stanzas_out;
	r->bytes_in = s->bytes_in;
	r->bytes_out = s->bytes_out;
	r->queued = s->qlen;
	r->parser_asleep = s->parser != NULL && xmpp_parser_asleep(s->parser);
}

static int
row_cmp(const void *a, const void *b)
{
	const struct xmpp_stream_row *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int
xmpp_query_streams(const struct xmpp_gw *gw, struct xmpp_stream_row **out, size_t *n)
{
	struct xmpp_stream_row *v;
	uint64_t now = uv_now(gw->loop);
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (gw->nstreams == 0)
		return 0;
	if ((v = calloc(gw->nstreams, sizeof(*v))) == NULL)
		return -ENOMEM;
	for (const struct xstream *s = gw->streams; s && k < gw->nstreams; s = s->next)
		if (s->state != XS_CLOSED)
			row_fill(s, now, &v[k++]);
	if (k == 0) {
		free(v);
		return 0;
	}
	/* The list is newest first; operators read oldest first. */
	qsort(v, k, sizeof(*v), row_cmp);
	*out = v;
	*n = k;
	return 0;
}
