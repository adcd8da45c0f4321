/* fuzz_framing.c: libFuzzer target for what a peer writes on a connection: the
 * stream framing (framing.c, RFC 3261 §18.3, RFC 5626 §3.5.1), Sofia-SIP's parser
 * with our message class, and what the proxy runs on each message it gets
 * (sipmsg.c: the §16.3 checks, local responses with diagnostics, Via stamping
 * per RFC 3581, loop hash, hop-by-hop ACK and CANCEL, the edge's own 200 to
 * OPTIONS, Route and Record-Route lists as the text their keyed hash is taken
 * of, ms-diagnostics made ms-diagnostics-public towards partners; rr.c on Via
 * branches and Route tokens; the edits and the serialisation of forwarding).
 *
 * Input: when the first octet is below 0x08 (no SIP message starts so) it and
 * the next two choose how the stream is cut and the size limit, and the rest
 * is the stream; otherwise the whole input is the stream, read at once under a
 * 4096-octet limit, so that corpus files are used as they are:
 *   octet 0 & 3: 0 one read, 1 one octet per read, 2 reads of octet 1 + 1
 *                octets, 3 reads of 1..64 octets drawn from octet 1;
 *   octet 0 & 4: max-message-size 256 + 32 * octet 2 (256..8416), else 4096. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/url.h>

#include "sipedge/diag.h"
#include "sipedge/framing.h"
#include "sipedge/rr.h"
#include "sipedge/sipmsg.h"
#include "fuzz.h"

#define TRUST_HEADER "ms-edge-proxy-message-trust"

static const struct rr_key key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };

/* What one input's events have shown so far. */
struct run {
	size_t max;
	unsigned messages;
	bool failed;                  /* FRAMER_ERROR seen: nothing may follow */
	bool v6;                      /* stamp Vias with ::1 rather than 127.0.0.1 */
};

/* The message as the transport writes it: serialised, flattened, NULs of
 * the header section restored (transport.c conn_send, conn_flatten). */
static void
send_bytes(msg_t *m)
{
	msg_iovec_t *iov;
	size_t n, total = 0, off = 0;
	char *buf;

	if (msg_serialize(m, NULL) < 0 || msg_prepare(m) < 0)
		return;
	if ((n = (size_t)msg_iovec(m, NULL, 0)) == 0)
		return;
	if ((iov = calloc(n, sizeof(*iov))) == NULL)
		return;
	msg_iovec(m, iov, (isize_t)n);
	for (size_t k = 0; k < n; k++)
		total += iov[k].mv_len;
	if ((buf = malloc(total ? total : 1)) != NULL) {
		for (size_t k = 0; k < n; k++) {
			memcpy(buf + off, iov[k].mv_base, iov[k].mv_len);
			off += iov[k].mv_len;
		}
		sipmsg_nul_restore(m, buf, total);
		free(buf);
	}
	free(iov);
}

/* A response made by the edge, as proxy.c reply() makes and sends it;
 * returned (owner: caller) when keep, for an ACK to be made from it. */
static msg_t *
respond(const msg_t *req, const sip_t *sip, const sip_via_t *via, int status,
    enum diag_code d, const char *detail, const char *to_tag, const char *unsupported,
    bool keep)
{
	struct sip_diag sd = { d, detail, "sip.contoso.test" };
	char desc[256];
	msg_t *r;

	r = sipmsg_response(sip, via, status, NULL, to_tag, d != DIAG_NONE ? &sd : NULL,
	    unsupported);
	if (r == NULL)
		return NULL;
	sipmsg_nul_copy(r, req);
	FUZZ_CHECK(sip_object(r)->sip_status != NULL);
	FUZZ_CHECK((int)sip_object(r)->sip_status->st_status == status);
	sipmsg_describe(sip_object(r), desc, sizeof(desc));
	send_bytes(r);
	if (keep)
		return r;
	msg_destroy(r);
	return NULL;
}

/* How many extension headers called name the message has. */
static unsigned
count_unknown(const sip_t *sip, const char *name)
{
	unsigned n = 0;

	for (const sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next)
		if (u->un_name && strcasecmp(u->un_name, name) == 0)
			n++;
	return n;
}

/* Whether a header value has a source parameter after its first (the code):
 * parameters split at semicolons outside quoted strings, as the pool writes
 * them ("1001;reason=...;source=pool1.contoso.test"). */
static bool
has_source(const char *v)
{
	const char *p = v;
	bool first = true;

	while (*p) {
		const char *q;
		bool quoted = false;

		for (q = p; *q && (quoted || *q != ';'); q++) {
			if (*q == '"')
				quoted = !quoted;
			else if (*q == '\\' && quoted && q[1])
				q++;
		}
		if (!first) {
			const char *n = p;

			while (n < q && (*n == ' ' || *n == '\t'))
				n++;
			if (q - n >= 6 && strncasecmp(n, "source", 6) == 0) {
				n += 6;
				while (n < q && (*n == ' ' || *n == '\t'))
					n++;
				if (n < q && *n == '=')
					return true;
			}
		}
		first = false;
		p = *q ? q + 1 : q;
	}
	return false;
}

/* Towards a partner (txn.c: a request sent out on the external side, a
 * response forwarded to it): no ms-diagnostics is left, each became one
 * ms-diagnostics-public, and none of those it made names a source. */
static void
diag_public(msg_t *msg, sip_t *sip)
{
	unsigned before = count_unknown(sip, "ms-diagnostics");
	unsigned pub = count_unknown(sip, "ms-diagnostics-public"), k = 0;
	const sip_unknown_t **old = NULL;
	int n;

	if (pub && (old = calloc(pub, sizeof(*old))) == NULL)
		return;
	for (const sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next)
		if (u->un_name && strcasecmp(u->un_name, "ms-diagnostics-public") == 0)
			old[k++] = u;
	n = sipmsg_diag_public(msg, sip);
	FUZZ_CHECK(n >= 0 && (unsigned)n <= before);
	FUZZ_CHECK(count_unknown(sip, "ms-diagnostics") == 0);
	FUZZ_CHECK(count_unknown(sip, "ms-diagnostics-public") == pub + (unsigned)n);
	for (const sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next) {
		bool made = u->un_name && strcasecmp(u->un_name, "ms-diagnostics-public") == 0;

		for (k = 0; made && k < pub; k++)
			if (old[k] == u)
				made = false;
		if (made)
			FUZZ_CHECK(!has_source(u->un_value ? u->un_value : ""));
	}
	free(old);
}

/* The text of a Route (or Record-Route) list (sipmsg_routes_text), as the
 * proxy hashes it into a token (route.c, txn_route.c): one line per entry,
 * the reversed list the same lines in the other order, a list cut at stop a
 * prefix, and exactly as long a buffer as it needs, no shorter. */
#define ROUTES_TEXT 4096

static int
routes_text(const sip_route_t *first, const sip_route_t *stop, bool reverse, char **out)
{
	char *buf = malloc(ROUTES_TEXT), *exact;
	int n;

	*out = NULL;
	if (buf == NULL)
		return -ENOMEM;
	n = sipmsg_routes_text(first, stop, reverse, buf, ROUTES_TEXT);
	FUZZ_CHECK(n == -ENOSPC || n == -EINVAL || (n >= 0 && n < ROUTES_TEXT && buf[n] == '\0'));
	if (n == -EINVAL) {
		/* Only for an entry that prints with a control character. */
		bool bad = false;

		for (const sip_route_t *r = first; r && r != stop && !bad; r = r->r_next) {
			issize_t k = url_e(buf, ROUTES_TEXT, r->r_url);

			for (issize_t j = 0; j >= 0 && j < k && j < ROUTES_TEXT; j++)
				if ((unsigned char)buf[j] < 0x20 || buf[j] == 0x7f)
					bad = true;
		}
		FUZZ_CHECK(bad);
	}
	if (n < 0) {
		free(buf);
		return n;
	}
	/* n + 1 octets are enough (ASan sees any write past them), n are not. */
	if ((exact = malloc((size_t)n + 1)) != NULL) {
		FUZZ_CHECK(sipmsg_routes_text(first, stop, reverse, exact, (size_t)n + 1) == n);
		FUZZ_CHECK(memcmp(exact, buf, (size_t)n + 1) == 0);
		free(exact);
	}
	if (n > 0 && (exact = malloc((size_t)n)) != NULL) {
		FUZZ_CHECK(sipmsg_routes_text(first, stop, reverse, exact, (size_t)n) == -ENOSPC);
		free(exact);
	}
	*out = buf;
	return n;
}

/* The start of line i of text (k lines, each ending in '\n') and its length. */
static const char *
line_at(const char *text, unsigned i, size_t *len)
{
	for (; i > 0; i--)
		text = strchr(text, '\n') + 1;
	*len = (size_t)(strchr(text, '\n') - text);
	return text;
}

static void
check_routes(su_home_t *home, const sip_route_t *list, bool record)
{
	const sip_route_t *mid = list, *rev;
	unsigned k = 0, lines = 0, m;
	char *fwd, *bwd, *cut, *copy;
	int n, nb, nc;

	for (const sip_route_t *r = list; r; r = r->r_next)
		k++;
	n = routes_text(list, NULL, false, &fwd);
	if (k > SIPMSG_MAX_VIA)
		FUZZ_CHECK(n == -ENOSPC);
	if (n < 0)
		return;
	for (const char *c = fwd; (c = strchr(c, '\n')) != NULL; c++)
		lines++;
	FUZZ_CHECK(lines == k);
	FUZZ_CHECK(rr_routes_hash(&key, fwd, (size_t)n) == rr_routes_hash(&key, fwd, (size_t)n));

	/* Reversed: the same lines, last first. */
	nb = routes_text(list, NULL, true, &bwd);
	FUZZ_CHECK(nb == n);
	for (unsigned i = 0; i < k; i++) {
		size_t la, lb;
		const char *a = line_at(fwd, i, &la), *b = line_at(bwd, k - 1 - i, &lb);

		FUZZ_CHECK(la == lb && memcmp(a, b, la) == 0);
	}

	/* Up to the middle entry: the first m lines. */
	m = k / 2;
	for (unsigned i = 0; i < m; i++)
		mid = mid->r_next;
	nc = routes_text(list, mid, false, &cut);
	FUZZ_CHECK(nc >= 0 && nc <= n && memcmp(cut, fwd, (size_t)nc) == 0);
	FUZZ_CHECK(m == 0 ? nc == 0 : fwd[nc - 1] == '\n');
	free(cut);

	/* A Record-Route as the peer copies it into its Route set (RFC 3261
	 * §12.1.2, reversed): the same text as the Record-Route reversed, also
	 * from the middle on (txn_seal_response stops at our own entry). */
	if (record && k > 0 && (rev = sip_route_reverse(home, list)) != NULL) {
		const sip_route_t *tail = rev;

		nc = routes_text(rev, NULL, false, &copy);
		FUZZ_CHECK(nc == nb && memcmp(copy, bwd, (size_t)nb) == 0);
		FUZZ_CHECK(rr_routes_hash(&key, copy, (size_t)nc) == rr_routes_hash(&key, bwd, (size_t)nb));
		free(copy);
		for (unsigned i = 0; i < k - m; i++)
			tail = tail->r_next;
		nb = routes_text(list, mid, true, &cut);
		nc = routes_text(tail, NULL, false, &copy);
		FUZZ_CHECK(nb >= 0 && nb == nc && memcmp(cut, copy, (size_t)nb) == 0);
		free(cut);
		free(copy);
	}
	free(bwd);
	free(fwd);
}

/* The edge's 200 to an OPTIONS for itself (txn_answer_options): to any
 * OPTIONS that passed the checks, with the request's Vias, dialog
 * identifiers and CSeq, our To tag, and Allow, Accept and Supported. */
static void
options_answer(msg_t *req, const sip_t *sip)
{
	static const char tag[] = "se0123456789abcdef";
	unsigned vr = 0, va = 0;
	msg_t *r = sipmsg_options_response(req, sip->sip_via, tag);
	const sip_t *rs;

	FUZZ_CHECK(r != NULL);
	rs = sip_object(r);
	FUZZ_CHECK(rs->sip_status && rs->sip_status->st_status == 200);
	FUZZ_CHECK(rs->sip_allow && rs->sip_accept && rs->sip_supported);
	FUZZ_CHECK(sip_is_allowed(rs->sip_allow, sip_method_options, "OPTIONS"));
	FUZZ_CHECK(sip_is_allowed(rs->sip_allow, sip_method_invite, "INVITE"));
	FUZZ_CHECK(sip_is_allowed(rs->sip_allow, sip_method_unknown, "SERVICE"));
	FUZZ_CHECK(rs->sip_accept->ac_type && strcmp(rs->sip_accept->ac_type, "*/*") == 0);
	FUZZ_CHECK(!rs->sip_supported->k_items || !rs->sip_supported->k_items[0]);
	FUZZ_CHECK(rs->sip_warning == NULL && rs->sip_unsupported == NULL);
	for (const sip_via_t *v = sip->sip_via; v; v = v->v_next)
		vr++;
	for (const sip_via_t *v = rs->sip_via; v; v = v->v_next)
		va++;
	FUZZ_CHECK(va == vr);
	FUZZ_CHECK(rs->sip_call_id && strcmp(rs->sip_call_id->i_id, sip->sip_call_id->i_id) == 0);
	FUZZ_CHECK(rs->sip_cseq && rs->sip_cseq->cs_seq == sip->sip_cseq->cs_seq &&
	    rs->sip_cseq->cs_method == sip->sip_cseq->cs_method);
	FUZZ_CHECK(rs->sip_from && rs->sip_to && rs->sip_to->a_tag);
	FUZZ_CHECK(strcmp(rs->sip_to->a_tag, sip->sip_to->a_tag ? sip->sip_to->a_tag : tag) == 0);
	FUZZ_CHECK(sipmsg_nul_byte(r) == sipmsg_nul_byte(req));
	send_bytes(r);
	msg_destroy(r);
}

/* Remove every extension header called name (proxy.c strip_unknown). */
static void
strip_unknown(msg_t *msg, sip_t *sip, const char *name)
{
	sip_unknown_t *u, *next;

	for (u = sip->sip_unknown; u; u = next) {
		next = u->un_next;
		if (u->un_name && strcasecmp(u->un_name, name) == 0)
			msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)u);
	}
}

/* Route entries with our token (proxy.c pop_own_routes), without popping. */
static void
route_tokens(const sip_t *sip)
{
	char tok[RR_TOKEN_MAX + 2];

	for (const sip_route_t *r = sip->sip_route; r; r = r->r_next) {
		const url_t *u = r->r_url;
		isize_t n = u->url_params ? url_param(u->url_params, RR_PARAM, tok, sizeof(tok)) : 0;
		struct rr_peer p;

		if (n > 0 && (size_t)n < sizeof(tok))
			(void)rr_token_decode(&key, tok, sip->sip_call_id->i_id, &p);
	}
}

/* Our Via, our Record-Routes and the trust header, Max-Forwards down
 * (proxy.c handle_request, txn_send_request, inbound_accept). */
static void
forward_edits(msg_t *msg, sip_t *sip, uint32_t loop)
{
	su_home_t *home = msg_home(msg);
	char branch[RR_BRANCH_LEN + 1], param[RR_BRANCH_LEN + 16];
	char tok[RR_TOKEN_MAX + 1], uri[RR_TOKEN_MAX + 128];
	uint64_t id;
	uint32_t lp;
	sip_via_t *v;
	msg_header_t *h;

	if (sip->sip_max_forwards) {
		sip->sip_max_forwards->mf_count--;
		msg_fragment_clear(sip->sip_max_forwards->mf_common);
	} else
		sip_add_make(msg, sip, sip_max_forwards_class, "70");

	rr_branch_make(&key, 42, 7, loop, branch);
	FUZZ_CHECK(rr_branch_parse(&key, branch, &id, &lp) == 0 && id == 42 && lp == loop);
	snprintf(param, sizeof(param), "branch=%s", branch);
	v = sip_via_create(home, "sip.contoso.test", "5061", "SIP/2.0/TLS", param, NULL);
	if (v)
		msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)v);

	if (sipmsg_is_dialog_forming(sip)) {
		struct rr_peer peer;

		memset(&peer, 0, sizeof(peer));
		peer.side = SIDE_EXTERNAL;
		peer.kind = TP_TLS;
		peer.conn_id = 0x100000001ULL;
		snprintf(peer.fqdn, sizeof(peer.fqdn), "sip.fabrikam.test");
		if (rr_token_encode(&key, &peer, sip->sip_call_id->i_id, tok, sizeof(tok)) == 0) {
			sip_record_route_t *rr;

			snprintf(uri, sizeof(uri), "<sip:sip.contoso.test:5061;transport=tls;lr;"
			    RR_PARAM "=%s>", tok);
			if ((rr = sip_record_route_make(home, uri)) != NULL)
				msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)rr);
		}
	}
	diag_public(msg, sip);                  /* sent out to a partner */
	strip_unknown(msg, sip, TRUST_HEADER);
	strip_unknown(msg, sip, "P-Asserted-Identity");
	h = msg_header_format(home, sip_unknown_class, "%s: %s", TRUST_HEADER,
	    "ms-source-type=AllowedPartnerDomain;ms-ep-fqdn=sip.fabrikam.test;"
	    "ms-source-network=federation;ms-source-verified-user=verified");
	if (h)
		msg_header_insert(msg, (msg_pub_t *)sip, h);
}

static void
on_request(struct run *r, msg_t *msg, sip_t *sip)
{
	struct sip_problem prob;
	struct sockaddr_storage src;
	char host[CONF_MAX_NAME], desc[256];
	uint32_t loop, vloop;
	msg_t *final;

	if (sipmsg_check_request(msg, sip, &prob) < 0) {
		FUZZ_CHECK(prob.status == -1 || (prob.status >= 400 && prob.status <= 699));
		FUZZ_CHECK(prob.diag != DIAG_NONE);
		if (prob.status > 0)
			respond(msg, sip, sip->sip_via, prob.status, prob.diag, prob.detail, NULL,
			    prob.unsupported, false);
		return;
	}
	FUZZ_CHECK(prob.status == 0);
	/* What a request that passed the checks is known to have. */
	FUZZ_CHECK(sip->sip_via && sip->sip_from && sip->sip_to && sip->sip_call_id &&
	    sip->sip_cseq && sip->sip_request->rq_url->url_host);

	memset(&src, 0, sizeof(src));
	if (r->v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&src;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons(50600);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&src;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = htons(50600);
	}
	FUZZ_CHECK(sipmsg_via_stamp(msg, sip, &src) == 0);

	loop = sipmsg_loop_hash(sip);
	FUZZ_CHECK(loop == sipmsg_loop_hash(sip));
	for (const sip_via_t *v = sip->sip_via; v; v = v->v_next)
		if (v->v_branch)
			(void)rr_branch_parse(&key, v->v_branch, NULL, &vloop);
	route_tokens(sip);
	check_routes(msg_home(msg), sip->sip_route, false);
	check_routes(msg_home(msg), sip->sip_record_route, true);
	if (sip->sip_request->rq_method == sip_method_options)
		options_answer(msg, sip);
	sipmsg_url_host(sip->sip_request->rq_url, host, sizeof(host));
	sipmsg_url_host(sip->sip_from->a_url, host, sizeof(host));
	sipmsg_url_host(sip->sip_to->a_url, host, sizeof(host));
	sipmsg_describe(sip, desc, sizeof(desc));

	/* A refusal with a detail made of peer text, as the federation rules
	 * produce them, and 100 Trying for an INVITE. */
	if (sip->sip_request->rq_method == sip_method_invite)
		respond(msg, sip, sip->sip_via, 100, DIAG_NONE, NULL, NULL, NULL, false);
	final = respond(msg, sip, sip->sip_via, 403, DIAG_FED_NOT_FEDERATED,
	    sipmsg_url_host(sip->sip_request->rq_url, host, sizeof(host)), "se0123456789abcdef",
	    NULL, true);

	forward_edits(msg, sip, loop);
	send_bytes(msg);
	if (sip->sip_request->rq_method == sip_method_invite) {
		msg_t *m = sipmsg_make_cancel(sip);

		if (m) {
			send_bytes(m);
			msg_destroy(m);
		}
		if (final && (m = sipmsg_make_ack(sip, sip_object(final))) != NULL) {
			send_bytes(m);
			msg_destroy(m);
		}
	}
	if (final)
		msg_destroy(final);
}

static void
on_response(msg_t *msg, sip_t *sip)
{
	char desc[256];
	uint64_t id;
	uint32_t loop;

	sipmsg_describe(sip, desc, sizeof(desc));
	if (sipmsg_check_response(msg, sip) < 0)
		return;
	FUZZ_CHECK(sip->sip_via && sip->sip_cseq && sip->sip_call_id);
	if (sip->sip_via->v_branch)
		(void)rr_branch_parse(&key, sip->sip_via->v_branch, &id, &loop);
	check_routes(msg_home(msg), sip->sip_record_route, true);
	/* Forwarded upstream without our Via, to a partner (txn_forward_up). */
	sip_via_remove(msg, sip);
	diag_public(msg, sip);
	send_bytes(msg);
}

/* A framing error: the answer proxy.c proxy_on_message gives when it can. */
static void
on_error(msg_t *msg, int status)
{
	sip_t *sip = sip_object(msg);
	char desc[256];

	if (sip == NULL)
		return;
	sipmsg_describe(sip, desc, sizeof(desc));
	if (sip->sip_request && sip->sip_via && sip->sip_cseq && sip->sip_call_id &&
	    sip->sip_from && sip->sip_to)
		respond(msg, sip, sip->sip_via, status, status == 513 ? DIAG_TOO_LARGE :
		    status == 414 ? DIAG_URI_TOO_LONG : DIAG_FRAMING, NULL, NULL, NULL, false);
}

static int
event_cb(void *arg, enum framer_event ev, msg_t *msg, int status, const char *why)
{
	struct run *r = arg;
	sip_t *sip;

	FUZZ_CHECK(!r->failed);
	switch (ev) {
	case FRAMER_MESSAGE:
		FUZZ_CHECK(msg != NULL && status == 0);
		r->messages++;
		sip = sip_object(msg);
		if (sip && sip->sip_content_length) {
			size_t body = sip->sip_payload ? sip->sip_payload->pl_len : 0;

			FUZZ_CHECK(sip->sip_content_length->l_length <= r->max);
			FUZZ_CHECK(body == sip->sip_content_length->l_length);
		}
		if (sip && sip->sip_request)
			on_request(r, msg, sip);
		else if (sip && sip->sip_status)
			on_response(msg, sip);
		break;
	case FRAMER_ERROR:
		FUZZ_CHECK(status == 400 || status == 414 || status == 513);
		FUZZ_CHECK(why != NULL);
		r->failed = true;
		if (msg)
			on_error(msg, status);
		break;
	case FRAMER_PING:
		FUZZ_CHECK(msg == NULL);
		break;
	}
	if (msg)
		msg_destroy(msg);
	return 0;
}

/* Slice lengths for mode 3: xorshift32, never 0. */
static size_t
next_len(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return 1 + *s % 64;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = { .max = 4096 };
	struct framer f;
	const char *p = (const char *)data;
	unsigned mode = 0, arg = 0;
	uint32_t seed;

	if (size >= 3 && data[0] < 0x08) {
		mode = data[0] & 3;
		arg = data[1];
		if (data[0] & 4)
			r.max = 256 + 32 * (size_t)data[2];
		p += 3;
		size -= 3;
	}
	r.v6 = size > 0 && (p[size - 1] & 1);
	seed = 0x9e3779b9u ^ arg;
	framer_init(&f, r.max);
	while (size > 0 && !f.failed) {
		size_t n = mode == 0 ? size : mode == 1 ? 1 : mode == 2 ? arg + 1 : next_len(&seed);

		if (n > size)
			n = size;
		/* Non-zero only once the framer has failed (the callback never stops it). */
		FUZZ_CHECK(framer_feed(&f, p, n, event_cb, &r) == 0 || f.failed);
		p += n;
		size -= n;
	}
	FUZZ_CHECK(f.failed == r.failed);
	framer_clear(&f);
	FUZZ_CHECK(!framer_partial(&f));
	return 0;
}
