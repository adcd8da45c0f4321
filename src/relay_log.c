/* relay_log.c: what the relay writes about messages (sipedge(8) LOGGING):
 *  - one structured line per decision on a new request: refused (any refusal
 *    the edge answers itself, with its status and diagnostic code) or relayed
 *    by a federation decision; fields: verdict, method, Call-ID, side, peer
 *    address, the peer's certificate name, the From and Request-URI domains,
 *    the federation type, status, code and reason (log-decisions);
 *  - the message trace an administrator switches on live (sipedgectl trace):
 *    every message in and out with its start line, Call-ID, CSeq, peer and
 *    connection and its headers, optionally only those of one domain; bodies
 *    only with log-message-bodies.
 * log-format says how (key=value, or JSON). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/sip_header.h>

#include "proxy_int.h"
#include "sipedge/log.h"

static const char *
url_host(const url_t *u, char *buf, size_t len)
{
	if (u == NULL || u->url_host == NULL)
		return NULL;
	snprintf(buf, len, "%s", u->url_host);
	return buf;
}

void
relay_log_decision(struct worker *w, struct conn *c, const sip_t *sip, const struct route_op *op,
    int status, enum diag_code d, const char *detail)
{
	const struct conf *cf = w->cf;
	bool refused = status >= 300;
	enum log_level lvl = d == DIAG_OVERLOAD ? LOG_LVL_DEBUG : LOG_LVL_INFO;
	const struct conn_info *ci = c ? conn_info(c) : NULL;
	char peer[80], from[CONF_MAX_NAME], ruri[CONF_MAX_NAME], st[8], code[8];
	char callid[128], method[32], type[40];
	const char *reason = NULL;

	if (cf->log_decisions == LOG_DECISIONS_NONE ||
	    (!refused && cf->log_decisions != LOG_DECISIONS_ALL) || !log_would(lvl))
		return;
	if (refused)
		reason = detail && detail[0] ? detail : diag_lookup(d)->text;
	snprintf(st, sizeof(st), "%d", status);
	snprintf(code, sizeof(code), "%u", (unsigned)d);
	snprintf(callid, sizeof(callid), "%s", sip && sip->sip_call_id ? sip->sip_call_id->i_id : "");
	snprintf(method, sizeof(method), "%s", sip && sip->sip_request ?
	    sip->sip_request->rq_method_name : "");
	if (op != NULL && op->type != FED_NONE)
		snprintf(type, sizeof(type), "%s", fedroute_type_name(op->type));
	else
		snprintf(type, sizeof(type), "%s", "none");
	{
		const struct log_field f[] = {
			{ "verdict", refused ? "refused" : "relayed", 0 },
			{ "method", method[0] ? method : NULL, 0 },
			{ "call_id", callid[0] ? callid : NULL, 0 },
			{ "side", ci ? (ci->side == SIDE_EXTERNAL ? "external" : "internal") : NULL, 0 },
			{ "peer", ci ? conf_sockaddr_str(&ci->peer, peer, sizeof(peer)) : NULL, 0 },
			{ "peer_name", ci && ci->npeer_names ? ci->peer_names[0] : NULL, 0 },
			{ "from_domain", sip && sip->sip_from ?
			    url_host(sip->sip_from->a_url, from, sizeof(from)) : NULL, 0 },
			{ "ruri_domain", sip && sip->sip_request ?
			    url_host(sip->sip_request->rq_url, ruri, sizeof(ruri)) : NULL, 0 },
			{ "type", type, 0 },
			{ "partner", op != NULL && op->domain[0] ? op->domain : NULL, 0 },
			{ "status", st, 1 },
			{ "code", d != DIAG_NONE ? code : NULL, 1 },
			{ "reason", reason, 0 },
		};

		log_event(lvl, "decision", f, sizeof(f) / sizeof(f[0]));
	}
}

/* ---- the message trace ---------------------------------------------------- */

/* host is domain or one of its subdomains. */
static bool
in_domain(const url_t *u, const char *domain)
{
	size_t h, d = strlen(domain);

	if (u == NULL || u->url_host == NULL)
		return false;
	h = strlen(u->url_host);
	return (h == d && strcasecmp(u->url_host, domain) == 0) ||
	    (h > d && u->url_host[h - d - 1] == '.' && strcasecmp(u->url_host + h - d, domain) == 0);
}

static bool
trace_wanted(const struct worker *w, const sip_t *sip)
{
	const char *d = w->trace.domain;

	if (d[0] == '\0')
		return true;
	return (sip->sip_request && in_domain(sip->sip_request->rq_url, d)) ||
	    (sip->sip_from && in_domain(sip->sip_from->a_url, d)) ||
	    (sip->sip_to && in_domain(sip->sip_to->a_url, d));
}

void
relay_trace(struct conn *c, msg_t *msg, bool out, void *ud)
{
	struct worker *w = ud;
	const struct conn_info *ci = conn_info(c);
	sip_t *sip = sip_object(msg);
	char peer[80], id[24], cseq[48], *text, *body, *p, *hdrs;
	size_t len = 0, body_len = 0, start_len, hn;
	char blen[24];

	if (sip == NULL || !trace_wanted(w, sip))
		return;
	if ((text = msg_as_string(NULL, msg, NULL, 0, &len)) == NULL)
		return;
	/* The head: the start line, then each header line as " | "; the body
	 * apart (log-message-bodies). */
	if ((body = strstr(text, "\r\n\r\n")) != NULL) {
		*body = '\0';
		body += 4;
		body_len = len - (size_t)(body - text);
	}
	start_len = strcspn(text, "\r\n");
	/* Header lines joined by " | " (never longer than the text itself plus
	 * one octet a line). */
	if ((hdrs = malloc(len + len / 2 + 1)) == NULL) {
		su_free(NULL, text);
		return;
	}
	hn = 0;
	for (p = text + start_len; *p; ) {
		size_t k;

		p += strspn(p, "\r\n");
		k = strcspn(p, "\r\n");
		if (k == 0)
			break;
		if (hn)
			memcpy(hdrs + hn, " | ", 3), hn += 3;
		memcpy(hdrs + hn, p, k);
		hn += k;
		p += k;
	}
	hdrs[hn] = '\0';
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)ci->id);
	snprintf(cseq, sizeof(cseq), "%u %s", sip->sip_cseq ? sip->sip_cseq->cs_seq : 0,
	    sip->sip_cseq ? sip->sip_cseq->cs_method_name : "");
	snprintf(blen, sizeof(blen), "%zu", body_len);
	{
		char start[512];

		snprintf(start, sizeof(start), "%.*s", (int)start_len, text);
		const struct log_field f[] = {
			{ "dir", out ? "out" : "in", 0 },
			{ "side", ci->side == SIDE_EXTERNAL ? "external" : "internal", 0 },
			{ "conn", id, 0 },
			{ "peer", conf_sockaddr_str(&ci->peer, peer, sizeof(peer)), 0 },
			{ "peer_name", ci->npeer_names ? ci->peer_names[0] : NULL, 0 },
			{ "start", start, 0 },
			{ "call_id", sip->sip_call_id ? sip->sip_call_id->i_id : NULL, 0 },
			{ "cseq", cseq, 0 },
			{ "headers", hdrs, 0 },
			{ "body_bytes", blen, 1 },
			{ "body", w->cf->log_message_bodies && body_len ? body : NULL, 0 },
		};

		log_event(LOG_LVL_INFO, "trace", f, sizeof(f) / sizeof(f[0]));
	}
	free(hdrs);
	su_free(NULL, text);
}
