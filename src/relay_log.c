/* relay_log.c: one structured line per decision on a new request (sipedge(8)
 * LOGGING): refused (any refusal the edge answers itself, with its status and
 * diagnostic code) or relayed by a federation decision.  Fields: verdict,
 * method, Call-ID, side, peer address, the peer's certificate name, the From
 * and Request-URI domains, the federation type, status, code and reason.
 * Message bodies are never logged.  log-decisions chooses which are written,
 * log-format how (key=value, or JSON). */
#include <stdio.h>
#include <string.h>

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
