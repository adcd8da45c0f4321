/* conf.c: the sipedge.conf(5) parser: "key value…" lines, one typed table of keys. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "sipedge/conf.h"

#define MAX_WORDS 16

struct parse {
	struct conf *c;
	const char *file;
	unsigned line;
	char *err;
	size_t errlen;
};

static int
perr(struct parse *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	/* Line 0: a whole-file check (a key is missing). */
	n = p->line ? snprintf(p->err, p->errlen, "%s:%u: ", p->file, p->line) :
		      snprintf(p->err, p->errlen, "%s: ", p->file);
	if (n < 0 || (size_t)n >= p->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", LOCALSTATEDIR "/lib/sipedge");
	snprintf(c->db_path, sizeof(c->db_path), "%s", LOCALSTATEDIR "/lib/sipedge/policy.db");
	c->log_level = LOG_LVL_INFO;
	c->workers = 0;
	c->max_message_size = 65536;
	c->handshake_timeout_ms = 10000;
	c->idle_timeout_ms = 600000;
	c->incomplete_timeout_ms = 30000;
	c->connect_timeout_ms = 5000;
	c->max_connections = 10000;
	c->max_connections_per_address = 256;
	c->max_transactions = 20000;
	c->xmpp_presence_rate = 100;
	c->xmpp_presence_burst = 3000;
	c->t1_ms = 500;
	c->timer_c_ms = 180000;
	c->timer_f_ms = 0;     /* 64*T1 unless set */
	c->dns_timeout_ms = 1000;
	c->failover_delay_ms = 500;
	c->hop_retry_ms = 10000;
}

/* Lower-case a host name in place and drop one trailing dot. */
static void
host_normalise(char *s)
{
	size_t n;

	for (char *q = s; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	n = strlen(s);
	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
}

/* RFC 1123 host name: labels of letters, digits and hyphens (not at the ends),
 * 1-63 octets each, 253 in all. */
static bool
valid_hostname(const char *s)
{
	size_t len = strlen(s), lab = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char ch = s[i];

		if (ch == '.' || ch == '\0') {
			if (lab == 0 || lab > 63 || s[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		if (!isalnum((unsigned char)ch) && ch != '-')
			return false;
		if (lab == 0 && ch == '-')
			return false;
		lab++;
	}
	return true;
}

/* "5s", "500ms", "2m", "1h", bare number = seconds → milliseconds. */
static int
parse_duration(const char *s, unsigned *ms)
{
	char *end;
	unsigned long long v, mult = 1000;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else
		return -EINVAL;
	if (v > UINT_MAX / mult)
		return -ERANGE;
	*ms = (unsigned)(v * mult);
	return 0;
}

static int
parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcasecmp(s, "true")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(s, "no") || !strcasecmp(s, "off") || !strcasecmp(s, "false")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int
copy_str(struct parse *p, char *dst, size_t dstlen, const char *src, const char *key)
{
	if (strlen(src) >= dstlen)
		return perr(p, "%s: value too long", key);
	strcpy(dst, src);
	return 0;
}

static int
copy_host(struct parse *p, char *dst, size_t dstlen, const char *src, const char *key)
{
	if (copy_str(p, dst, dstlen, src, key) < 0)
		return -EINVAL;
	host_normalise(dst);
	if (!valid_hostname(dst))
		return perr(p, "%s: '%s' is not a valid host name", key, src);
	return 0;
}

static void *
grow(void *arr, size_t n, size_t size)
{
	void *r = realloc(arr, (n + 1) * size);

	if (!r)
		abort();     /* start-up only: out of memory is not recoverable here */
	return r;
}

static char *
xstrdup(const char *s)
{
	char *r = strdup(s);

	if (!r)
		abort();
	return r;
}

/* FQDN[:PORT] [ADDRESS] [tcp] */
static int
parse_hop(struct parse *p, const char *key, char **w, int nw, struct hop *h)
{
	char name[CONF_MAX_NAME + 8];
	char *colon;

	memset(h, 0, sizeof(*h));
	h->port = 5061;
	h->kind = TP_TLS;
	if (nw < 1 || nw > 3)
		return perr(p, "%s: expected FQDN[:PORT] [ADDRESS] [tcp]", key);
	if (copy_str(p, name, sizeof(name), w[0], key) < 0)
		return -EINVAL;
	if ((colon = strchr(name, ':')) != NULL) {
		unsigned long port;

		*colon = '\0';
		if (parse_uint(colon + 1, 1, 65535, &port) < 0)
			return perr(p, "%s: bad port '%s'", key, colon + 1);
		h->port = (unsigned short)port;
	}
	if (copy_host(p, h->fqdn, sizeof(h->fqdn), name, key) < 0)
		return -EINVAL;
	for (int i = 1; i < nw; i++) {
		if (strcasecmp(w[i], "tcp") == 0) {
			h->kind = TP_TCP;
		} else if (strcasecmp(w[i], "tls") == 0) {
			h->kind = TP_TLS;
		} else if (!h->has_addr) {
			if (conf_parse_sockaddr(w[i], h->port, &h->addr) < 0)
				return perr(p, "%s: '%s' is not an IP address", key, w[i]);
			conf_sockaddr_set_port(&h->addr, h->port);
			h->has_addr = true;
		} else
			return perr(p, "%s: unexpected '%s'", key, w[i]);
	}
	return 0;
}

/* listen xmpp|xmpps ADDRESS[:PORT]: XMPP server-to-server streams on the
 * external side, with STARTTLS (port 5269) or TLS from the first octet
 * (XEP-0368, port 5270). */
static int
k_listen_xmpp(struct parse *p, char **w, int nw)
{
	struct conf *c = p->c;
	struct xmpp_listener_conf xl;

	memset(&xl, 0, sizeof(xl));
	xl.direct_tls = !strcasecmp(w[0], "xmpps");
	if (nw != 2)
		return perr(p, "listen: expected %s ADDRESS[:PORT]", xl.direct_tls ? "xmpps" : "xmpp");
	if (conf_parse_sockaddr(w[1], xl.direct_tls ? 5270 : 5269, &xl.addr) < 0)
		return perr(p, "listen: '%s' is not ADDRESS[:PORT]", w[1]);
	snprintf(xl.source, sizeof(xl.source), "%s:%u", p->file, p->line);
	c->xmpp_listeners = grow(c->xmpp_listeners, c->nxmpp_listeners, sizeof(*c->xmpp_listeners));
	c->xmpp_listeners[c->nxmpp_listeners++] = xl;
	return 0;
}

static int
k_listen(struct parse *p, char **w, int nw)
{
	struct conf *c = p->c;
	struct listener_conf lc;
	int i = 3;

	memset(&lc, 0, sizeof(lc));
	if (nw >= 1 && (!strcasecmp(w[0], "xmpp") || !strcasecmp(w[0], "xmpps")))
		return k_listen_xmpp(p, w, nw);
	if (nw < 3)
		return perr(p, "listen: expected SIDE TRANSPORT ADDRESS:PORT [mutual-tls yes|no], "
		    "or xmpp|xmpps ADDRESS[:PORT]");
	if (!strcasecmp(w[0], "external"))
		lc.side = SIDE_EXTERNAL;
	else if (!strcasecmp(w[0], "internal"))
		lc.side = SIDE_INTERNAL;
	else
		return perr(p, "listen: side must be 'internal' or 'external', not '%s'", w[0]);
	if (!strcasecmp(w[1], "tls"))
		lc.kind = TP_TLS;
	else if (!strcasecmp(w[1], "tcp"))
		lc.kind = TP_TCP;
	else
		return perr(p, "listen: transport must be 'tls' or 'tcp', not '%s'", w[1]);
	if (lc.side == SIDE_EXTERNAL && lc.kind == TP_TCP)
		return perr(p, "listen: the external listener must use TLS");
	if (conf_parse_sockaddr(w[2], 5061, &lc.addr) < 0)
		return perr(p, "listen: '%s' is not ADDRESS[:PORT]", w[2]);
	lc.mutual_tls = lc.kind == TP_TLS;
	for (; i < nw; i++) {
		if (!strcasecmp(w[i], "mutual-tls") && i + 1 < nw) {
			if (parse_bool(w[++i], &lc.mutual_tls) < 0)
				return perr(p, "listen: mutual-tls takes yes or no");
		} else
			return perr(p, "listen: unexpected '%s'", w[i]);
	}
	if (lc.side == SIDE_EXTERNAL && !lc.mutual_tls)
		return perr(p, "listen: the external listener always requires mutual TLS");
	if (lc.kind == TP_TCP)
		lc.mutual_tls = false;
	snprintf(lc.source, sizeof(lc.source), "%s:%u", p->file, p->line);
	c->listeners = grow(c->listeners, c->nlisteners, sizeof(*c->listeners));
	c->listeners[c->nlisteners++] = lc;
	return 0;
}

/* host FQDN ADDRESS[:PORT] [tcp] */
static int
k_host(struct parse *p, char **w, int nw)
{
	struct conf *c = p->c;
	struct host_conf h;
	const char *a;

	memset(&h, 0, sizeof(h));
	h.kind = TP_TLS;
	if (nw < 2 || nw > 3)
		return perr(p, "host: expected FQDN ADDRESS[:PORT] [tcp]");
	if (copy_host(p, h.fqdn, sizeof(h.fqdn), w[0], "host") < 0)
		return -EINVAL;
	a = w[1];
	if (conf_parse_sockaddr(a, 0, &h.addr) < 0)
		return perr(p, "host: '%s' is not ADDRESS[:PORT]", a);
	h.has_port = (h.addr.ss_family == AF_INET ? ((struct sockaddr_in *)&h.addr)->sin_port :
					     ((struct sockaddr_in6 *)&h.addr)->sin6_port) != 0;
	if (nw == 3) {
		if (strcasecmp(w[2], "tcp") == 0)
			h.kind = TP_TCP;
		else if (strcasecmp(w[2], "tls") != 0)
			return perr(p, "host: unexpected '%s'", w[2]);
	}
	if (conf_host_find(c, h.fqdn))
		return perr(p, "host: %s is already pinned", h.fqdn);
	c->hosts = grow(c->hosts, c->nhosts, sizeof(*c->hosts));
	c->hosts[c->nhosts++] = h;
	return 0;
}

/* dns-server ADDRESS[:PORT] (repeatable) */
static int
k_dns_server(struct parse *p, char **w, int nw)
{
	struct conf *c = p->c;
	struct sockaddr_storage ss;
	char buf[80];
	size_t n = strlen(c->dns_servers);

	if (nw != 1)
		return perr(p, "dns-server: expected one ADDRESS[:PORT]");
	if (conf_parse_sockaddr(w[0], 53, &ss) < 0)
		return perr(p, "dns-server: '%s' is not ADDRESS[:PORT]", w[0]);
	conf_sockaddr_str(&ss, buf, sizeof(buf));
	if (n + strlen(buf) + 2 > sizeof(c->dns_servers))
		return perr(p, "dns-server: too many servers");
	snprintf(c->dns_servers + n, sizeof(c->dns_servers) - n, "%s%s", n ? "," : "", buf);
	return 0;
}

/* outgoing-address SIDE ADDRESS|any: where connections the edge opens on that
 * side leave from (one address per family), or the kernel's choice. */
static int
k_outgoing_address(struct parse *p, char **w, int nw)
{
	struct conf *c = p->c;
	struct sockaddr_storage ss;
	int side, fam;

	if (nw != 2)
		return perr(p, "outgoing-address: expected internal|external ADDRESS|any");
	if (strcmp(w[0], "internal") == 0)
		side = SIDE_INTERNAL;
	else if (strcmp(w[0], "external") == 0)
		side = SIDE_EXTERNAL;
	else
		return perr(p, "outgoing-address: side '%s' is not internal or external", w[0]);
	if (strcmp(w[1], "any") == 0) {
		c->out_any[side] = true;
		return 0;
	}
	/* A port (0 stands for none given) is not ours to choose. */
	if (conf_parse_sockaddr(w[1], 0, &ss) < 0 || (ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port) != 0)
		return perr(p, "outgoing-address: '%s' is not an IP address (without a port)", w[1]);
	if (conf_sockaddr_is_wildcard(&ss))
		return perr(p, "outgoing-address: %s is no one address (use any)", w[1]);
	fam = ss.ss_family == AF_INET6 ? 1 : 0;
	if (c->has_out[side][fam])
		return perr(p, "outgoing-address: a second %s address for the %s side",
		    fam ? "IPv6" : "IPv4", w[0]);
	c->has_out[side][fam] = true;
	c->out_addr[side][fam] = ss;
	return 0;
}

/* metrics-listen ADDRESS:PORT: the Prometheus exposition, plain HTTP; a
 * wildcard would put it on the perimeter's external interface too. */
static int
k_metrics_listen(struct parse *p, char **w, int nw)
{
	struct conf *c = p->c;
	struct sockaddr_storage ss;

	if (nw != 1)
		return perr(p, "metrics-listen: expected one ADDRESS:PORT");
	if (conf_parse_sockaddr(w[0], 0, &ss) < 0 || conf_sockaddr_port(&ss) == 0)
		return perr(p, "metrics-listen: '%s' is not ADDRESS:PORT", w[0]);
	if (conf_sockaddr_is_wildcard(&ss))
		return perr(p, "metrics-listen: %s is every address; give one (127.0.0.1:PORT, or "
		    "the management interface's)", w[0]);
	if (c->has_metrics)
		return perr(p, "metrics-listen: given twice");
	c->has_metrics = true;
	c->metrics_addr = ss;
	return 0;
}

/* log-format text|json */
static int
k_log_format(struct parse *p, char **w, int nw)
{
	if (nw != 1 || (strcmp(w[0], "text") != 0 && strcmp(w[0], "json") != 0))
		return perr(p, "log-format: expected text or json");
	p->c->log_json = strcmp(w[0], "json") == 0;
	return 0;
}

/* log-decisions all|refused|none: the line per new request's decision. */
static int
k_log_decisions(struct parse *p, char **w, int nw)
{
	if (nw == 1 && strcmp(w[0], "all") == 0)
		p->c->log_decisions = LOG_DECISIONS_ALL;
	else if (nw == 1 && strcmp(w[0], "refused") == 0)
		p->c->log_decisions = LOG_DECISIONS_REFUSED;
	else if (nw == 1 && strcmp(w[0], "none") == 0)
		p->c->log_decisions = LOG_DECISIONS_NONE;
	else
		return perr(p, "log-decisions: expected all, refused or none");
	return 0;
}

static int
k_pool_server(struct parse *p, char **w, int nw)
{
	struct conf *c = p->c;
	struct hop h;

	if (parse_hop(p, "pool-server", w, nw, &h) < 0)
		return -EINVAL;
	c->pool = grow(c->pool, c->npool, sizeof(*c->pool));
	c->pool[c->npool++] = h;
	return 0;
}

static int
k_internal_server(struct parse *p, char **w, int nw)
{
	struct conf *c = p->c;
	struct sockaddr_storage ss;
	char name[CONF_MAX_NAME];

	if (nw != 1)
		return perr(p, "internal-server: expected one FQDN or IP address");
	if (conf_parse_sockaddr(w[0], 0, &ss) == 0) {
		if (copy_str(p, name, sizeof(name), w[0], "internal-server") < 0)
			return -EINVAL;
	} else if (copy_host(p, name, sizeof(name), w[0], "internal-server") < 0)
		return -EINVAL;
	c->internal_servers = grow(c->internal_servers, c->ninternal_servers, sizeof(char *));
	c->internal_servers[c->ninternal_servers++] = xstrdup(name);
	return 0;
}

static int
k_sip_domain(struct parse *p, char **w, int nw)
{
	struct conf *c = p->c;
	char name[CONF_MAX_NAME];

	if (nw != 1)
		return perr(p, "sip-domain: expected one domain");
	if (copy_host(p, name, sizeof(name), w[0], "sip-domain") < 0)
		return -EINVAL;
	c->domains = grow(c->domains, c->ndomains, sizeof(char *));
	c->domains[c->ndomains++] = xstrdup(name);
	return 0;
}

/* user NAME: looked up now, so that -n reports a user this host lacks with its
 * line.  A "user" of uid 0 drops nothing and is refused rather than ignored. */
static int
k_user(struct parse *p, char **w, int nw)
{
	struct conf *c = p->c;
	struct passwd *pw;

	if (nw != 1)
		return perr(p, "user: expected one user name");
	if (copy_str(p, c->user, sizeof(c->user), w[0], "user") < 0)
		return -EINVAL;
	errno = 0;
	if ((pw = getpwnam(w[0])) == NULL)
		return errno && errno != ENOENT && errno != ESRCH ?
		    perr(p, "user: cannot look up '%s': %s", w[0], strerror(errno)) :
		    perr(p, "user: unknown user '%s'", w[0]);
	if (pw->pw_uid == 0)
		return perr(p, "user: '%s' has uid 0; leave user out to run as the starting user",
		    w[0]);
	c->uid = pw->pw_uid;
	if (!c->group[0])
		c->gid = pw->pw_gid;
	return 0;
}

/* group NAME: instead of the user's login group. */
static int
k_group(struct parse *p, char **w, int nw)
{
	struct conf *c = p->c;
	struct group *gr;

	if (nw != 1)
		return perr(p, "group: expected one group name");
	if (copy_str(p, c->group, sizeof(c->group), w[0], "group") < 0)
		return -EINVAL;
	errno = 0;
	if ((gr = getgrnam(w[0])) == NULL)
		return errno && errno != ENOENT && errno != ESRCH ?
		    perr(p, "group: cannot look up '%s': %s", w[0], strerror(errno)) :
		    perr(p, "group: unknown group '%s'", w[0]);
	c->gid = gr->gr_gid;
	return 0;
}

enum ktype { K_HOST, K_PATH, K_BOOL, K_UINT, K_SIZE, K_DURATION, K_LOGLEVEL, K_FN };

struct key {
	const char *name;
	enum ktype type;
	size_t off;              /* offset in struct conf */
	size_t len;              /* for strings */
	unsigned long min, max;  /* for numbers and durations (ms) */
	int (*fn)(struct parse *, char **, int);
};

#define OFF(f) offsetof(struct conf, f)
#define STR(f) OFF(f), sizeof(((struct conf *)0)->f)

static const struct key keys[] = {
	{ "edge-fqdn", K_HOST, STR(edge_fqdn), 0, 0, NULL },
	{ "internal-fqdn", K_HOST, STR(internal_fqdn), 0, 0, NULL },
	{ "sip-domain", K_FN, 0, 0, 0, 0, k_sip_domain },
	{ "listen", K_FN, 0, 0, 0, 0, k_listen },
	{ "certificate", K_PATH, STR(certificate), 0, 0, NULL },
	{ "private-key", K_PATH, STR(private_key), 0, 0, NULL },
	{ "ca-bundle", K_PATH, STR(ca_bundle), 0, 0, NULL },
	{ "eku-any", K_BOOL, OFF(eku_any), 0, 0, 0, NULL },
	{ "log-message-bodies", K_BOOL, OFF(log_message_bodies), 0, 0, 0, NULL },
	{ "pool-server", K_FN, 0, 0, 0, 0, k_pool_server },
	{ "outgoing-address", K_FN, 0, 0, 0, 0, k_outgoing_address },
	{ "internal-server", K_FN, 0, 0, 0, 0, k_internal_server },
	{ "host", K_FN, 0, 0, 0, 0, k_host },
	{ "dns-server", K_FN, 0, 0, 0, 0, k_dns_server },
	{ "metrics-listen", K_FN, 0, 0, 0, 0, k_metrics_listen },
	{ "log-format", K_FN, 0, 0, 0, 0, k_log_format },
	{ "log-decisions", K_FN, 0, 0, 0, 0, k_log_decisions },
	{ "dns-timeout", K_DURATION, OFF(dns_timeout_ms), 0, 100, 60000, NULL },
	{ "db", K_PATH, STR(db_path), 0, 0, NULL },
	{ "state-dir", K_PATH, STR(state_dir), 0, 0, NULL },
	{ "rr-key-file", K_PATH, STR(rr_key_file), 0, 0, NULL },
	{ "xmpp-dialback-key-file", K_PATH, STR(xmpp_dialback_key_file), 0, 0, NULL },
	{ "xmpp-presence-rate", K_UINT, OFF(xmpp_presence_rate), 0, 1, 1000000, NULL },
	{ "xmpp-presence-burst", K_UINT, OFF(xmpp_presence_burst), 0, 1, 10000000, NULL },
	{ "control-socket", K_PATH, STR(control_socket), 0, 0, NULL },
	{ "user", K_FN, 0, 0, 0, 0, k_user },
	{ "group", K_FN, 0, 0, 0, 0, k_group },
	{ "log-level", K_LOGLEVEL, OFF(log_level), 0, 0, 0, NULL },
	{ "workers", K_UINT, OFF(workers), 0, 0, 64, NULL },
	{ "max-message-size", K_SIZE, OFF(max_message_size), 0, 1024, 16 << 20, NULL },
	{ "handshake-timeout", K_DURATION, OFF(handshake_timeout_ms), 0, 100, 300000, NULL },
	{ "idle-timeout", K_DURATION, OFF(idle_timeout_ms), 0, 1000, 86400000, NULL },
	{ "incomplete-timeout", K_DURATION, OFF(incomplete_timeout_ms), 0, 100, 3600000, NULL },
	{ "connect-timeout", K_DURATION, OFF(connect_timeout_ms), 0, 100, 300000, NULL },
	{ "max-connections", K_UINT, OFF(max_connections), 0, 1, 1000000, NULL },
	{ "max-connections-per-address", K_UINT, OFF(max_connections_per_address), 0, 1, 1000000, NULL },
	{ "max-transactions", K_UINT, OFF(max_transactions), 0, 16, 10000000, NULL },
	{ "t1", K_DURATION, OFF(t1_ms), 0, 10, 60000, NULL },
	{ "timer-c", K_DURATION, OFF(timer_c_ms), 0, 100, 3600000, NULL },
	{ "timer-f", K_DURATION, OFF(timer_f_ms), 0, 100, 600000, NULL },
	{ "failover-delay", K_DURATION, OFF(failover_delay_ms), 0, 0, 60000, NULL },
	{ "hop-retry", K_DURATION, OFF(hop_retry_ms), 0, 1000, 3600000, NULL },
};

static int
set_key(struct parse *p, const struct key *k, char **w, int nw)
{
	char *base = (char *)p->c;
	unsigned long v;
	unsigned ms;

	if (k->type == K_FN)
		return k->fn(p, w, nw);
	if (nw != 1)
		return perr(p, "%s: expected one value", k->name);
	switch (k->type) {
	case K_HOST:
		return copy_host(p, base + k->off, k->len, w[0], k->name);
	case K_PATH:
		return copy_str(p, base + k->off, k->len, w[0], k->name);
	case K_BOOL:
		if (parse_bool(w[0], (bool *)(base + k->off)) < 0)
			return perr(p, "%s: expected yes or no, not '%s'", k->name, w[0]);
		return 0;
	case K_UINT:
	case K_SIZE:
		if (parse_uint(w[0], k->min, k->max, &v) < 0)
			return perr(p, "%s: expected a whole number from %lu to %lu, not '%s'",
			    k->name, k->min, k->max, w[0]);
		if (k->type == K_UINT)
			*(unsigned *)(base + k->off) = (unsigned)v;
		else
			*(size_t *)(base + k->off) = v;
		return 0;
	case K_DURATION:
		if (parse_duration(w[0], &ms) < 0 || ms < k->min || ms > k->max)
			return perr(p, "%s: expected a duration from %lums to %lums (e.g. 5s, 500ms), not '%s'",
			    k->name, k->min, k->max, w[0]);
		*(unsigned *)(base + k->off) = ms;
		return 0;
	case K_LOGLEVEL:
		if (log_level_parse(w[0], (enum log_level *)(base + k->off)) < 0)
			return perr(p, "%s: expected error, warning, info or debug, not '%s'",
			    k->name, w[0]);
		return 0;
	case K_FN:
		break;
	}
	return -EINVAL;
}

static int
parse_line(struct parse *p, char *line)
{
	char *w[MAX_WORDS + 1];
	int nw = 0;
	char *s = line, *hash;

	if ((hash = strchr(s, '#')) != NULL)
		*hash = '\0';
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (!*s)
			break;
		if (nw == MAX_WORDS + 1)
			return perr(p, "too many words on one line");
		w[nw++] = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			s++;
		if (*s)
			*s++ = '\0';
	}
	if (nw == 0)
		return 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, w[0]) == 0)
			return set_key(p, &keys[i], w + 1, nw - 1);
	return perr(p, "unknown key '%s'", w[0]);
}

/* Cross-key checks once the whole file is read. */
static int
check_conf(struct parse *p)
{
	struct conf *c = p->c;
	bool ext = false;

	p->line = 0;
	if (!c->edge_fqdn[0])
		return perr(p, "edge-fqdn is not set");
	if (!c->internal_fqdn[0])
		strcpy(c->internal_fqdn, c->edge_fqdn);
	if (c->ndomains == 0)
		return perr(p, "no sip-domain is set");
	if (c->nlisteners == 0)
		return perr(p, "no listen line");
	for (size_t i = 0; i < c->nlisteners; i++) {
		if (c->listeners[i].side == SIDE_EXTERNAL)
			ext = true;
		if (c->listeners[i].kind == TP_TLS && (!c->certificate[0] || !c->private_key[0]))
			return perr(p, "TLS listeners need certificate and private-key");
		if (c->listeners[i].mutual_tls && !c->ca_bundle[0])
			return perr(p, "mutual TLS needs ca-bundle");
	}
	(void)ext;
	/* By default connections leave from the address their side listens on. */
	for (int side = 0; side < 2; side++)
		for (size_t i = 0; !c->out_any[side] && i < c->nlisteners; i++) {
			const struct sockaddr_storage *a = &c->listeners[i].addr;
			int fam = a->ss_family == AF_INET6 ? 1 : 0;

			if ((int)c->listeners[i].side != side || c->has_out[side][fam] || conf_sockaddr_is_wildcard(a))
				continue;
			c->has_out[side][fam] = true;
			c->out_addr[side][fam] = *a;
			conf_sockaddr_set_port(&c->out_addr[side][fam], 0);
		}
	if (c->group[0] && !c->user[0])
		return perr(p, "group is set without user");
	if (c->timer_f_ms == 0)
		c->timer_f_ms = 64 * c->t1_ms;
	if (!c->rr_key_file[0]) {
		if (strlen(c->state_dir) + 8 >= sizeof(c->rr_key_file))
			return perr(p, "state-dir too long");
		snprintf(c->rr_key_file, sizeof(c->rr_key_file), "%s/rr.key", c->state_dir);
	}
	if (!c->xmpp_dialback_key_file[0]) {
		if (strlen(c->state_dir) + 20 >= sizeof(c->xmpp_dialback_key_file))
			return perr(p, "state-dir too long");
		snprintf(c->xmpp_dialback_key_file, sizeof(c->xmpp_dialback_key_file),
		    "%s/xmpp-dialback.key", c->state_dir);
	}
	if (!c->control_socket[0]) {
		if (strlen(c->state_dir) + 14 >= sizeof(c->control_socket))
			return perr(p, "state-dir too long");
		snprintf(c->control_socket, sizeof(c->control_socket), "%s/control.sock", c->state_dir);
	}
	/* The kernel's limit for a Unix socket's name (sun_path). */
	if (strlen(c->control_socket) >= 108)
		return perr(p, "control-socket %s: over 107 characters, too long for a Unix socket",
		    c->control_socket);
	return 0;
}

int
conf_load(const char *path, struct conf **out, char *err, size_t errlen)
{
	struct parse p = { NULL, path, 0, err, errlen };
	struct conf *c;
	FILE *f;
	char line[4096];
	int rc = 0;

	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	conf_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", path);
	p.c = c;
	if ((f = fopen(path, "r")) == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		conf_free(c);
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		p.line++;
		if (!strchr(line, '\n') && !feof(f)) {
			rc = perr(&p, "line too long");
			break;
		}
		if ((rc = parse_line(&p, line)) < 0)
			break;
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -EIO;
	}
	fclose(f);
	if (rc == 0)
		rc = check_conf(&p);
	if (rc < 0) {
		conf_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void
conf_free(struct conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ndomains; i++)
		free(c->domains[i]);
	free(c->domains);
	for (size_t i = 0; i < c->ninternal_servers; i++)
		free(c->internal_servers[i]);
	free(c->internal_servers);
	free(c->hosts);
	free(c->pool);
	free(c->listeners);
	free(c->xmpp_listeners);
	free(c);
}

bool
conf_is_our_domain(const struct conf *c, const char *domain)
{
	for (size_t i = 0; i < c->ndomains; i++)
		if (strcasecmp(c->domains[i], domain) == 0)
			return true;
	return false;
}

bool
conf_is_internal_server(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->ninternal_servers; i++)
		if (strcasecmp(c->internal_servers[i], name) == 0)
			return true;
	return false;
}

const struct host_conf *
conf_host_find(const struct conf *c, const char *fqdn)
{
	for (size_t i = 0; i < c->nhosts; i++)
		if (strcasecmp(c->hosts[i].fqdn, fqdn) == 0)
			return &c->hosts[i];
	return NULL;
}

void
conf_hop_set(struct hop *h, const char *fqdn, const struct sockaddr_storage *addr,
    enum tp_kind kind)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->fqdn, sizeof(h->fqdn), "%s", fqdn);
	h->addr = *addr;
	h->has_addr = true;
	h->kind = kind;
	h->port = addr->ss_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)addr)->sin6_port) :
						ntohs(((const struct sockaddr_in *)addr)->sin_port);
}

bool
conf_host_hop(const struct conf *c, const char *fqdn, unsigned short port, struct hop *out)
{
	const struct host_conf *hc = conf_host_find(c, fqdn);
	struct sockaddr_storage a;

	if (!hc)
		return false;
	a = hc->addr;
	if (!hc->has_port)
		conf_sockaddr_set_port(&a, port);
	conf_hop_set(out, fqdn, &a, hc->kind);
	return true;
}
