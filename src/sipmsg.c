/* sipmsg.c: Sofia-SIP message helpers for the proxy core: request checks (RFC 3261
 * §16.3), local responses (§8.2.6) with diagnostics, Via stamping (§18.2.1, RFC
 * 3581), hop-by-hop ACK (§17.1.1.3) and CANCEL (§9.1). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/msg_mclass.h>
#include <pthread.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_alloc.h>

#include "sipedge/conf.h"
#include "sipedge/fmt.h"
#include "sipedge/sipmsg.h"

static void problem(struct sip_problem *p, int status, enum diag_code d, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
problem(struct sip_problem *p, int status, enum diag_code d, const char *fmt, ...)
{
	va_list ap;

	p->status = status;
	p->diag = d;
	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
}

/* The name of the first bad header, taken from its raw bytes ("Name: value").
 * er_name is not reliable for every kind of parse error (a corpus message with
 * several bad headers left it dangling), h_data always points into the message. */
static const char *
bad_header_name(const sip_t *sip, char *buf, size_t len)
{
	const msg_error_t *e = sip->sip_error;
	const char *d;
	size_t n = 0, max;

	if (!e || !e->er_common->h_data || e->er_common->h_len == 0)
		return NULL;
	d = e->er_common->h_data;
	max = e->er_common->h_len < len - 1 ? e->er_common->h_len : len - 1;
	while (n < max && d[n] != ':' && d[n] != ' ' && d[n] != '\t' && d[n] != '\r' && d[n] != '\n')
		n++;
	if (n == 0 || n == max)
		return NULL;
	memcpy(buf, d, n);
	buf[n] = '\0';
	return buf;
}

/* Printable, bounded copy of a peer-supplied token for our reason texts. */
static const char *
clean(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; s && *s && o + 1 < len; s++)
		buf[o++] = (isprint((unsigned char)*s) && *s != '"' && *s != '\\') ? *s : '?';
	buf[o] = '\0';
	return buf;
}

/* ---- the message class: Sofia-SIP's, with RFC 3261 method tokens ----------
 *
 * Sofia's method parser refuses two characters RFC 3261 allows in a token ('+'
 * and '`', §25.1), so a request such as RFC 4475's "intmeth" cannot be parsed
 * at all.  We wrap the request-line and CSeq parsers: a method with those
 * characters is parsed with a stand-in of the same length and then named
 * correctly.  The bytes forwarded are the original ones (EXTRACT_COPY). */

static struct msg_hclass_s request_class, cseq_class;
static msg_parse_f *sofia_request_parse, *sofia_cseq_parse;
static msg_mclass_t *edge_mclass;
static pthread_once_t mclass_once = PTHREAD_ONCE_INIT;

static bool
is_token_char(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("-.!%*_+`'~", c) != NULL);
}

/* Length of a method token at s that Sofia would refuse, else 0. */
static size_t
odd_method(const char *s, size_t n)
{
	size_t i;
	bool odd = false;

	for (i = 0; i < n && is_token_char(s[i]); i++)
		if (s[i] == '+' || s[i] == '`')
			odd = true;
	return odd && i > 0 && i < n && (s[i] == ' ' || s[i] == '\t') ? i : 0;
}

static issize_t
request_parse(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
	size_t m = odd_method(s, (size_t)slen);
	char *name;
	issize_t rc;

	if (m == 0)
		return sofia_request_parse(home, h, s, slen);
	if ((name = su_strndup(home, s, (isize_t)m)) == NULL)
		return -1;
	memset(s, 'X', m);
	rc = sofia_request_parse(home, h, s, slen);
	if (rc >= 0) {
		((sip_request_t *)h)->rq_method = sip_method_unknown;
		((sip_request_t *)h)->rq_method_name = name;
	}
	return rc;
}

static issize_t
cseq_parse(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
	size_t i = 0, m;
	char *name;
	issize_t rc;

	while (i < (size_t)slen && (isdigit((unsigned char)s[i]) || s[i] == ' ' || s[i] == '\t'))
		i++;
	m = i < (size_t)slen ? odd_method(s + i, (size_t)slen - i + 1) : 0;
	if (m == 0 && i < (size_t)slen) {
		/* The method ends the value: accept its end as the token's end. */
		size_t k = i;
		bool odd = false;

		while (k < (size_t)slen && is_token_char(s[k])) {
			odd = odd || s[k] == '+' || s[k] == '`';
			k++;
		}
		if (odd && (k == (size_t)slen || s[k] == ' ' || s[k] == '\t' || s[k] == '\0'))
			m = k - i;
	}
	if (m == 0)
		return sofia_cseq_parse(home, h, s, slen);
	if ((name = su_strndup(home, s + i, (isize_t)m)) == NULL)
		return -1;
	memset(s + i, 'X', m);
	rc = sofia_cseq_parse(home, h, s, slen);
	if (rc >= 0) {
		((sip_cseq_t *)h)->cs_method = sip_method_unknown;
		((sip_cseq_t *)h)->cs_method_name = name;
	}
	return rc;
}

static void
mclass_init(void)
{
	msg_mclass_t *mc = msg_mclass_clone(sip_default_mclass(), 0, 0);
	msg_href_t *cseq;

	if (!mc)
		return;
	request_class = *sip_request_class;
	sofia_request_parse = request_class.hc_parse;
	request_class.hc_parse = request_parse;
	mc->mc_request->hr_class = &request_class;
	cseq = (msg_href_t *)msg_find_hclass(mc, "CSeq", NULL);
	if (cseq && cseq->hr_class == sip_cseq_class) {
		cseq_class = *sip_cseq_class;
		sofia_cseq_parse = cseq_class.hc_parse;
		cseq_class.hc_parse = cseq_parse;
		cseq->hr_class = &cseq_class;
	}
	edge_mclass = mc;
}

msg_mclass_t const *
sipmsg_mclass(void)
{
	pthread_once(&mclass_once, mclass_init);
	return edge_mclass ? edge_mclass : sip_default_mclass();
}

/* Headers made with sip_request_create()/sip_cseq_create() carry Sofia's
 * classes; a message of our class accepts only ours. */
static msg_header_t *
adopt(msg_header_t *h)
{
	if (h && edge_mclass) {
		if (h->sh_common->h_class == sip_request_class)
			h->sh_common->h_class = &request_class;
		else if (h->sh_common->h_class == sip_cseq_class && cseq_class.hc_parse)
			h->sh_common->h_class = &cseq_class;
	}
	return h;
}

int
sipmsg_check_request(msg_t *msg, sip_t *sip, struct sip_problem *out)
{
	const sip_request_t *rq = sip->sip_request;
	char buf[64];

	memset(out, 0, sizeof(*out));
	if (!rq) {
		problem(out, 400, DIAG_MALFORMED, "Malformed request line");
		return -EINVAL;
	}
	if (!sip->sip_via) {
		/* Nowhere to send a response (RFC 3261 §18.2.1 needs the top Via). */
		out->status = -1;
		out->diag = DIAG_MISSING_HEADER;
		snprintf(out->detail, sizeof(out->detail), "Missing Via header");
		return -EINVAL;
	}
	if (!rq->rq_version || strcasecmp(rq->rq_version, SIP_VERSION_CURRENT) != 0) {
		problem(out, 505, DIAG_BAD_VERSION, "Unsupported version %s",
		    clean(rq->rq_version, buf, sizeof(buf)));
		return -EINVAL;
	}
	if (msg_extract_errors(msg) & (sip_mask_request | sip_mask_proxy)) {
		char nbuf[48];
		const char *name = bad_header_name(sip, nbuf, sizeof(nbuf));

		if (name)
			problem(out, 400, DIAG_MALFORMED, "Bad %s header", clean(name, buf, sizeof(buf)));
		else
			problem(out, 400, DIAG_MALFORMED, "Malformed header");
		return -EINVAL;
	}
	{
		unsigned nvia = 0;

		for (const sip_via_t *v = sip->sip_via; v; v = v->v_next)
			nvia++;
		if (nvia > SIPMSG_MAX_VIA) {
			problem(out, 400, DIAG_TOO_MANY_VIAS, "%u Via header field values (at most %u)",
			    nvia, SIPMSG_MAX_VIA);
			return -EINVAL;
		}
	}
	if (!sip->sip_from || !sip->sip_from->a_url->url_type) {
		problem(out, 400, DIAG_MISSING_HEADER, "Missing or bad From header");
		return -EINVAL;
	}
	if (!sip->sip_to) {
		problem(out, 400, DIAG_MISSING_HEADER, "Missing To header");
		return -EINVAL;
	}
	if (!sip->sip_call_id || !sip->sip_call_id->i_id || !sip->sip_call_id->i_id[0]) {
		problem(out, 400, DIAG_MISSING_HEADER, "Missing Call-ID header");
		return -EINVAL;
	}
	if (!sip->sip_cseq) {
		problem(out, 400, DIAG_MISSING_HEADER, "Missing CSeq header");
		return -EINVAL;
	}
	if (sip->sip_cseq->cs_method != rq->rq_method ||
	    (rq->rq_method == sip_method_unknown &&
		strcmp(sip->sip_cseq->cs_method_name, rq->rq_method_name) != 0)) {
		problem(out, 400, DIAG_CSEQ_MISMATCH, "CSeq method %s does not match the request method",
		    clean(sip->sip_cseq->cs_method_name, buf, sizeof(buf)));
		return -EINVAL;
	}
	if (rq->rq_url->url_type != url_sip && rq->rq_url->url_type != url_sips) {
		problem(out, 416, DIAG_BAD_SCHEME, "Request-URI scheme %s is not supported",
		    clean(rq->rq_url->url_scheme ? rq->rq_url->url_scheme : "?", buf, sizeof(buf)));
		return -EINVAL;
	}
	if (!rq->rq_url->url_host || !rq->rq_url->url_host[0]) {
		problem(out, 400, DIAG_MALFORMED, "Request-URI has no host");
		return -EINVAL;
	}
	if (sip_sanity_check(sip) < 0) {
		problem(out, 400, DIAG_MALFORMED, "Malformed request");
		return -EINVAL;
	}
	if (sip->sip_max_forwards && sip->sip_max_forwards->mf_count == 0) {
		problem(out, 483, DIAG_TOO_MANY_HOPS, "Max-Forwards is 0");
		return -EINVAL;
	}
	if (sip->sip_proxy_require && rq->rq_method != sip_method_cancel &&
	    rq->rq_method != sip_method_ack) {
		size_t o = 0;

		/* We implement no proxy extension: every option is unsupported. */
		for (const sip_proxy_require_t *pr = sip->sip_proxy_require; pr; pr = pr->k_next)
			for (msg_param_t const *k = pr->k_items; k && *k; k++) {
				int n = snprintf(out->unsupported + o, sizeof(out->unsupported) - o,
				    "%s%s", o ? ", " : "", clean(*k, buf, sizeof(buf)));
				if (n < 0 || (size_t)n >= sizeof(out->unsupported) - o)
					break;
				o += (size_t)n;
			}
		problem(out, 420, DIAG_BAD_EXTENSION, "Unsupported extension: %s", out->unsupported);
		return -EINVAL;
	}
	return 0;
}

int
sipmsg_check_response(msg_t *msg, sip_t *sip)
{
	if (!sip->sip_status || !sip->sip_via || !sip->sip_cseq || !sip->sip_call_id)
		return -EINVAL;
	if (sip->sip_status->st_status < 100 || sip->sip_status->st_status > 699)
		return -EINVAL;
	if (msg_extract_errors(msg) & sip_mask_response)
		return -EINVAL;
	return 0;
}

const char *
sipmsg_diag_text(enum diag_code code, const char *detail, char *buf, size_t len)
{
	return clean(detail && detail[0] ? detail : diag_lookup(code)->text, buf, len);
}

static int
add_diag(msg_t *r, sip_t *rs, const struct sip_diag *d)
{
	su_home_t *home = msg_home(r);
	char clean_text[256];
	msg_header_t *h;

	sipmsg_diag_text(d->code, d->detail, clean_text, sizeof(clean_text));
	/* Lync-style diagnostics (what Lync / Skype for Business clients display). */
	h = msg_header_format(home, sip_unknown_class, "ms-diagnostics: %u;reason=\"%s\";source=\"%s\"",
	    (unsigned)d->code, clean_text, d->source);
	if (!h || msg_header_insert(r, (msg_pub_t *)rs, h) < 0)
		return -ENOMEM;
	/* RFC 3261 §20.43: 399 miscellaneous warning, agent = our host. */
	h = msg_header_format(home, sip_warning_class, "399 %s \"%u %s\"", d->source,
	    (unsigned)d->code, clean_text);
	if (!h || msg_header_insert(r, (msg_pub_t *)rs, h) < 0)
		return -ENOMEM;
	return 0;
}

msg_t *
sipmsg_response(const sip_t *req, const sip_via_t *via, int status, const char *phrase,
    const char *to_tag, const struct sip_diag *d, const char *unsupported)
{
	msg_t *r = msg_create(sipmsg_mclass(), 0);
	sip_t *rs;
	su_home_t *home;
	sip_status_t *st;

	if (!r)
		return NULL;
	rs = sip_object(r);
	home = msg_home(r);
	if (!phrase)
		phrase = sip_status_phrase(status);
	if (!phrase)
		phrase = "Unknown";
	st = sip_status_create(home, (unsigned)status, phrase, NULL);
	if (!st || msg_header_insert(r, (msg_pub_t *)rs, (msg_header_t *)st) < 0)
		goto fail;
	if (via && msg_header_add_dup(r, (msg_pub_t *)rs, (msg_header_t const *)via) < 0)
		goto fail;
	if (req->sip_from && msg_header_add_dup(r, (msg_pub_t *)rs, (msg_header_t const *)req->sip_from) < 0)
		goto fail;
	if (req->sip_to && msg_header_add_dup(r, (msg_pub_t *)rs, (msg_header_t const *)req->sip_to) < 0)
		goto fail;
	if (rs->sip_to && !rs->sip_to->a_tag && status > 100 && to_tag &&
	    sip_to_tag(home, rs->sip_to, to_tag) < 0)
		goto fail;
	if (req->sip_call_id && msg_header_add_dup(r, (msg_pub_t *)rs, (msg_header_t const *)req->sip_call_id) < 0)
		goto fail;
	if (req->sip_cseq) {
		if (msg_header_add_dup(r, (msg_pub_t *)rs, (msg_header_t const *)req->sip_cseq) < 0)
			goto fail;
	} else if (req->sip_request) {
		/* The request's CSeq was unusable: the client matches our answer
		 * by branch and method (RFC 3261 §17.1.3), so give it those. */
		msg_header_t *h = adopt((msg_header_t *)sip_cseq_create(home, 0, req->sip_request->rq_method,
		    req->sip_request->rq_method_name));

		if (!h || msg_header_insert(r, (msg_pub_t *)rs, h) < 0)
			goto fail;
	}
	if (!req->sip_call_id && sip_add_make(r, rs, sip_call_id_class, "unknown") < 0)
		goto fail;
	if (unsupported && unsupported[0] &&
	    sip_add_make(r, rs, sip_unsupported_class, unsupported) < 0)
		goto fail;
	if (d && add_diag(r, rs, d) < 0)
		goto fail;
	if (sip_add_make(r, rs, sip_server_class, PACKAGE_NAME "/" PACKAGE_VERSION) < 0)
		goto fail;
	if (sip_complete_message(r) < 0)
		goto fail;
	return r;
fail:
	msg_destroy(r);
	return NULL;
}

/* Set name=value (text, or the number when text is NULL) on the Via.
 * msg_header_replace_param() keeps the pointer it is given, so the string is
 * allocated from the message home. */
static bool
via_param(su_home_t *home, sip_via_t *v, const char *name, const char *text, unsigned num)
{
	char param[INET6_ADDRSTRLEN + 16];
	struct fmt f = fmt_init(param, sizeof(param));

	fmt_str(&f, name);
	if (text)
		fmt_str(&f, text);
	else
		fmt_uint(&f, num);
	return msg_header_replace_param(home, v->v_common, su_strdup(home, param)) >= 0;
}

int
sipmsg_via_stamp(msg_t *msg, sip_t *sip, const struct sockaddr_storage *src)
{
	sip_via_t *v = sip->sip_via;
	su_home_t *home = msg_home(msg);
	char host[INET6_ADDRSTRLEN];
	const char *vh;
	unsigned port = 0;
	bool changed = false;

	if (!v || !conf_sockaddr_host(src, host, sizeof(host), &port))
		return -EINVAL;
	vh = v->v_host ? v->v_host : "";
	/* Compare without IPv6 brackets. */
	if (vh[0] == '[') {
		size_t n = strlen(vh);

		if (!(n == strlen(host) + 2 && strncasecmp(vh + 1, host, n - 2) == 0))
			changed = via_param(home, v, "received=", host, 0);
	} else if (strcasecmp(vh, host) != 0) {
		changed = via_param(home, v, "received=", host, 0);
	}
	if (v->v_rport && !v->v_rport[0])
		changed = via_param(home, v, "rport=", NULL, port) || changed;
	if (changed)
		msg_fragment_clear(v->v_common);
	return 0;
}

static uint32_t
fnv1a(uint32_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h * 16777619u;     /* separate fields */
}

uint32_t
sipmsg_loop_hash(const sip_t *sip)
{
	uint32_t h = 2166136261u;
	char rurl[1024], num[16];

	if (sip->sip_request) {
		url_e(rurl, sizeof(rurl), sip->sip_request->rq_url);
		rurl[sizeof(rurl) - 1] = '\0';
		h = fnv1a(h, rurl);
	}
	h = fnv1a(h, sip->sip_from ? sip->sip_from->a_tag : NULL);
	h = fnv1a(h, sip->sip_to ? sip->sip_to->a_tag : NULL);
	h = fnv1a(h, sip->sip_call_id ? sip->sip_call_id->i_id : NULL);
	snprintf(num, sizeof(num), "%u", sip->sip_cseq ? sip->sip_cseq->cs_seq : 0);
	h = fnv1a(h, num);
	return h;
}

bool
sipmsg_is_dialog_forming(const sip_t *sip)
{
	sip_method_t m;

	if (!sip->sip_request || (sip->sip_to && sip->sip_to->a_tag))
		return false;
	m = sip->sip_request->rq_method;
	return m == sip_method_invite || m == sip_method_subscribe || m == sip_method_refer;
}

/* ACK/CANCEL share everything but the method and the To. */
static msg_t *
make_hop_request(const sip_t *fwd, sip_method_t method, const char *name, const sip_to_t *to)
{
	msg_t *m = msg_create(sipmsg_mclass(), 0);
	sip_t *s;
	su_home_t *home;
	msg_header_t *h;

	if (!m)
		return NULL;
	s = sip_object(m);
	home = msg_home(m);
	h = adopt((msg_header_t *)sip_request_create(home, method, name,
	    (url_string_t const *)fwd->sip_request->rq_url, NULL));
	if (!h || msg_header_insert(m, (msg_pub_t *)s, h) < 0)
		goto fail;
	/* Only the top Via: ours, with the INVITE's branch. */
	h = (msg_header_t *)sip_via_dup(home, fwd->sip_via);
	if (!h)
		goto fail;
	((sip_via_t *)h)->v_next = NULL;
	if (msg_header_insert(m, (msg_pub_t *)s, h) < 0)
		goto fail;
	if (sip_add_make(m, s, sip_max_forwards_class, "70") < 0)
		goto fail;
	if (fwd->sip_route && msg_header_add_dup(m, (msg_pub_t *)s, (msg_header_t const *)fwd->sip_route) < 0)
		goto fail;
	if (msg_header_add_dup(m, (msg_pub_t *)s, (msg_header_t const *)fwd->sip_from) < 0 ||
	    msg_header_add_dup(m, (msg_pub_t *)s, (msg_header_t const *)to) < 0 ||
	    msg_header_add_dup(m, (msg_pub_t *)s, (msg_header_t const *)fwd->sip_call_id) < 0)
		goto fail;
	h = adopt((msg_header_t *)sip_cseq_create(home, fwd->sip_cseq->cs_seq, method, name));
	if (!h || msg_header_insert(m, (msg_pub_t *)s, h) < 0)
		goto fail;
	if (sip_complete_message(m) < 0)
		goto fail;
	return m;
fail:
	msg_destroy(m);
	return NULL;
}

msg_t *
sipmsg_make_ack(const sip_t *fwd, const sip_t *response)
{
	return make_hop_request(fwd, sip_method_ack, "ACK",
	    response->sip_to ? response->sip_to : fwd->sip_to);
}

msg_t *
sipmsg_make_cancel(const sip_t *fwd)
{
	return make_hop_request(fwd, sip_method_cancel, "CANCEL", fwd->sip_to);
}

const char *
sipmsg_url_host(const url_t *url, char *buf, size_t len)
{
	size_t n;

	if (!url || !url->url_host || !url->url_host[0])
		return NULL;
	n = strlen(url->url_host);
	if (n >= len)
		return NULL;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)url->url_host[i]);
	buf[n] = '\0';
	if (n > 1 && buf[n - 1] == '.')
		buf[n - 1] = '\0';
	return buf;
}

const char *
sipmsg_describe(const sip_t *sip, char *buf, size_t len)
{
	char url[256], cid[96], m[32];

	url[0] = '\0';
	if (sip->sip_request) {
		url_e(url, sizeof(url), sip->sip_request->rq_url);
		url[sizeof(url) - 1] = '\0';
		snprintf(buf, len, "%s %s (Call-ID %s)",
		    clean(sip->sip_request->rq_method_name, m, sizeof(m)), clean(url, url, sizeof(url)),
		    clean(sip->sip_call_id ? sip->sip_call_id->i_id : "-", cid, sizeof(cid)));
	} else if (sip->sip_status) {
		snprintf(buf, len, "%u response to %s (Call-ID %s)", sip->sip_status->st_status,
		    clean(sip->sip_cseq ? sip->sip_cseq->cs_method_name : "?", m, sizeof(m)),
		    clean(sip->sip_call_id ? sip->sip_call_id->i_id : "-", cid, sizeof(cid)));
	} else
		snprintf(buf, len, "(unparsable message)");
	return buf;
}

/* ---- NUL octets in header fields (framing.c) ------------------------------ */

#define NUL_FLAG   (1u << 8)
#define NUL_SHIFT  9
#define NUL_MASK   (0x1fu << NUL_SHIFT)

/* Octets valid in SIP only inside a quoted-pair, never in what the edge writes. */
static const unsigned char nul_candidates[SIPMSG_NUL_CANDIDATES] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0b, 0x0c, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
	0x1c, 0x1d, 0x1e, 0x1f, 0x7f,
};

int
sipmsg_nul_candidate(unsigned k)
{
	return k < SIPMSG_NUL_CANDIDATES ? nul_candidates[k] : -1;
}

void
sipmsg_nul_mark(msg_t *msg, unsigned k)
{
	if (k < SIPMSG_NUL_CANDIDATES) {
		msg_set_flags(msg, NUL_FLAG | (k << NUL_SHIFT));
	}
}

int
sipmsg_nul_byte(const msg_t *msg)
{
	unsigned f = msg ? msg_get_flags(msg, NUL_FLAG | NUL_MASK) : 0;

	if (!(f & NUL_FLAG))
		return -ENOENT;
	return sipmsg_nul_candidate((f & NUL_MASK) >> NUL_SHIFT);
}

void
sipmsg_nul_copy(msg_t *dst, const msg_t *src)
{
	int b = sipmsg_nul_byte(src);

	if (dst && b >= 0)
		msg_set_flags(dst, msg_get_flags(src, NUL_FLAG | NUL_MASK));
}

void
sipmsg_nul_restore(const msg_t *msg, char *buf, size_t len)
{
	int b = sipmsg_nul_byte(msg);

	if (b < 0)
		return;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n' && i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			break;          /* the body starts: leave it alone */
		if ((unsigned char)buf[i] == (unsigned)b)
			buf[i] = '\0';
	}
}

/* ---- the edge's own answers --------------------------------------------- */

msg_t *
sipmsg_options_response(msg_t *req, const sip_via_t *via, const char *to_tag)
{
	msg_t *r = sipmsg_response(sip_object(req), via, 200, "OK", to_tag, NULL, NULL);
	sip_t *rs;

	if (!r)
		return NULL;
	rs = sip_object(r);
	/* A proxy relays any method and body; it supports no option-tag of
	 * its own (RFC 3261 §11.2). */
	if (sip_add_make(r, rs, sip_allow_class, SIPMSG_ALLOW) < 0 ||
	    sip_add_make(r, rs, sip_accept_class, "*/*") < 0 ||
	    msg_header_insert(r, (msg_pub_t *)rs, (msg_header_t *)sip_supported_make(msg_home(r), "")) < 0) {
		msg_destroy(r);
		return NULL;
	}
	sipmsg_nul_copy(r, req);
	return r;
}

/* ---- diagnostics towards partners --------------------------------------- */

/* The value of an ms-diagnostics header without its source parameter:
 * "CODE;reason=...;source=HOST;x=y" -> "CODE;reason=...;x=y".  Parameters
 * are split at semicolons outside quoted strings. */
static void
drop_source(const char *in, char *out, size_t len)
{
	size_t o = 0;
	const char *p = in;

	while (*p && o + 1 < len) {
		const char *start = p;
		bool quoted = false;

		while (*p && (quoted || *p != ';')) {
			if (*p == '"')
				quoted = !quoted;
			else if (*p == '\\' && quoted && p[1])
				p++;
			p++;
		}
		{
			const char *q = start;
			size_t n = (size_t)(p - start);

			while (q < p && (*q == ' ' || *q == '\t'))
				q++;
			if (start == in || strncasecmp(q, "source", 6) != 0 ||
			    (q[6] != '=' && q[6] != ' ' && q[6] != '\t' && q + 6 != p)) {
				if (start != in && o + 1 < len)
					out[o++] = ';';
				if (n > len - 1 - o)
					n = len - 1 - o;
				memcpy(out + o, start, n);
				o += n;
			}
		}
		if (*p == ';')
			p++;
	}
	out[o] = '\0';
}

int
sipmsg_diag_public(msg_t *msg, sip_t *sip)
{
	sip_unknown_t *u, *next;
	char value[1024];
	int n = 0;

	for (u = sip->sip_unknown; u; u = next) {
		msg_header_t *h;

		next = u->un_next;
		if (!u->un_name || strcasecmp(u->un_name, "ms-diagnostics") != 0)
			continue;
		drop_source(u->un_value ? u->un_value : "", value, sizeof(value));
		h = msg_header_format(msg_home(msg), sip_unknown_class, "ms-diagnostics-public: %s", value);
		msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)u);
		if (h && msg_header_insert(msg, (msg_pub_t *)sip, h) == 0)
			n++;
	}
	return n;
}

/* ---- Route sets ---------------------------------------------------------- */

int
sipmsg_routes_text(const sip_route_t *first, const sip_route_t *stop, bool reverse,
    char *buf, size_t len)
{
	const sip_route_t *v[SIPMSG_MAX_VIA];
	size_t n = 0, o = 0;

	for (const sip_route_t *r = first; r && r != stop; r = r->r_next) {
		if (n == SIPMSG_MAX_VIA)
			return -ENOSPC;
		v[n++] = r;
	}
	for (size_t i = 0; i < n; i++) {
		const sip_route_t *r = v[reverse ? n - 1 - i : i];
		issize_t k = url_e(buf + o, (isize_t)(len - o), r->r_url);

		if (k < 0 || o + (size_t)k + 1 >= len)
			return -ENOSPC;
		/* The scheme in lower case (RFC 3261 §19.1.4: it compares
		 * case-insensitively): a peer that copies <sIp:...> as <sip:...>
		 * into its Route set still matches (found by fuzz_framing). */
		for (size_t j = o; j < o + (size_t)k && buf[j] != ':'; j++)
			buf[j] = (char)tolower((unsigned char)buf[j]);
		/* One line per entry, so an entry may hold no line break (a
		 * folded header can put one in a parameter): "a\nb" and "a",
		 * "b" must not print the same (found by fuzz_framing). */
		for (size_t j = o; j < o + (size_t)k; j++)
			if ((unsigned char)buf[j] < 0x20 || buf[j] == 0x7f)
				return -EINVAL;
		o += (size_t)k;
		buf[o++] = '\n';
	}
	if (o < len)
		buf[o] = '\0';
	return (int)o;
}
