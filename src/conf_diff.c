/* conf_diff.c: what changed between two configurations, for a reload
 * (sipedge(8) RELOAD): the keys that differ, and which of them only a
 * restart can apply (those are put back to the values in force). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/conf.h"

static bool
strv_differ(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return true;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return true;
	return false;
}

static bool
addr_differ(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return !conf_sockaddr_same_ip(a, b) || conf_sockaddr_port(a) != conf_sockaddr_port(b);
}

static bool
hops_differ(const struct hop *a, size_t na, const struct hop *b, size_t nb)
{
	if (na != nb)
		return true;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].fqdn, b[i].fqdn) != 0 || a[i].port != b[i].port ||
		    a[i].kind != b[i].kind || a[i].has_addr != b[i].has_addr ||
		    (a[i].has_addr && addr_differ(&a[i].addr, &b[i].addr)))
			return true;
	return false;
}

static bool
listeners_differ(const struct conf *a, const struct conf *b)
{
	if (a->nlisteners != b->nlisteners)
		return true;
	for (size_t i = 0; i < a->nlisteners; i++) {
		const struct listener_conf *x = &a->listeners[i], *y = &b->listeners[i];

		if (x->side != y->side || x->kind != y->kind || x->mutual_tls != y->mutual_tls ||
		    addr_differ(&x->addr, &y->addr))
			return true;
	}
	return false;
}

static bool
xmpp_listeners_differ(const struct conf *a, const struct conf *b)
{
	if (a->nxmpp_listeners != b->nxmpp_listeners)
		return true;
	for (size_t i = 0; i < a->nxmpp_listeners; i++)
		if (a->xmpp_listeners[i].direct_tls != b->xmpp_listeners[i].direct_tls ||
		    addr_differ(&a->xmpp_listeners[i].addr, &b->xmpp_listeners[i].addr))
			return true;
	return false;
}

static bool
hosts_differ(const struct conf *a, const struct conf *b)
{
	if (a->nhosts != b->nhosts)
		return true;
	for (size_t i = 0; i < a->nhosts; i++) {
		const struct host_conf *x = &a->hosts[i], *y = &b->hosts[i];

		if (strcmp(x->fqdn, y->fqdn) != 0 || x->has_port != y->has_port ||
		    x->kind != y->kind || addr_differ(&x->addr, &y->addr))
			return true;
	}
	return false;
}

static bool
out_differ(const struct conf *a, const struct conf *b)
{
	for (int s = 0; s < 2; s++) {
		if (a->out_any[s] != b->out_any[s])
			return true;
		for (int f = 0; f < 2; f++)
			if (a->has_out[s][f] != b->has_out[s][f] ||
			    (a->has_out[s][f] && addr_differ(&a->out_addr[s][f], &b->out_addr[s][f])))
				return true;
	}
	return false;
}

#define ADD(name, cond) do {                                                   \
		if ((cond) && n < max)                                         \
			out[n++] = (struct conf_change){ name, restart };      \
	} while (0)

size_t
conf_diff(const struct conf *a, const struct conf *b, struct conf_change *out, size_t max)
{
	size_t n = 0;
	bool restart = true;

	/* Only a restart: sockets bound, threads made, files opened at start. */
	ADD("listen", listeners_differ(a, b) || xmpp_listeners_differ(a, b));
	ADD("workers", a->workers != b->workers);
	ADD("edge-fqdn", strcmp(a->edge_fqdn, b->edge_fqdn) != 0);
	ADD("internal-fqdn", strcmp(a->internal_fqdn, b->internal_fqdn) != 0);
	ADD("state-dir", strcmp(a->state_dir, b->state_dir) != 0);
	ADD("rr-key-file", strcmp(a->rr_key_file, b->rr_key_file) != 0);
	ADD("xmpp-dialback-key-file",
	    strcmp(a->xmpp_dialback_key_file, b->xmpp_dialback_key_file) != 0);
	ADD("control-socket", strcmp(a->control_socket, b->control_socket) != 0);
	ADD("metrics-listen", a->has_metrics != b->has_metrics ||
	    (a->has_metrics && addr_differ(&a->metrics_addr, &b->metrics_addr)));
	ADD("db", strcmp(a->db_path, b->db_path) != 0);
	/* The switch is made once, at start (and the names looked up again
	 * may have new ids). */
	ADD("user", strcmp(a->user, b->user) != 0 || a->uid != b->uid);
	ADD("group", strcmp(a->group, b->group) != 0 || a->gid != b->gid);
	ADD("hop-retry", a->hop_retry_ms != b->hop_retry_ms);
	/* The system resolver is read once; servers given can change. */
	ADD("dns-server", strcmp(a->dns_servers, b->dns_servers) != 0 && b->dns_servers[0] == '\0');
	ADD("dns-timeout", a->dns_timeout_ms != b->dns_timeout_ms);

	/* Live. */
	restart = false;
	ADD("dns-server", strcmp(a->dns_servers, b->dns_servers) != 0 && b->dns_servers[0] != '\0');
	ADD("certificate", strcmp(a->certificate, b->certificate) != 0);
	ADD("private-key", strcmp(a->private_key, b->private_key) != 0);
	ADD("ca-bundle", strcmp(a->ca_bundle, b->ca_bundle) != 0);
	ADD("eku-any", a->eku_any != b->eku_any);
	ADD("sip-domain", strv_differ(a->domains, a->ndomains, b->domains, b->ndomains));
	ADD("pool-server", hops_differ(a->pool, a->npool, b->pool, b->npool));
	ADD("internal-server", strv_differ(a->internal_servers, a->ninternal_servers,
	    b->internal_servers, b->ninternal_servers));
	ADD("host", hosts_differ(a, b));
	ADD("outgoing-address", out_differ(a, b));
	ADD("log-level", a->log_level != b->log_level);
	ADD("log-format", a->log_json != b->log_json);
	ADD("log-message-bodies", a->log_message_bodies != b->log_message_bodies);
	ADD("log-decisions", a->log_decisions != b->log_decisions);
	ADD("max-message-size", a->max_message_size != b->max_message_size);
	ADD("xmpp-presence-rate", a->xmpp_presence_rate != b->xmpp_presence_rate);
	ADD("xmpp-presence-burst", a->xmpp_presence_burst != b->xmpp_presence_burst);
	ADD("handshake-timeout", a->handshake_timeout_ms != b->handshake_timeout_ms);
	ADD("idle-timeout", a->idle_timeout_ms != b->idle_timeout_ms);
	ADD("incomplete-timeout", a->incomplete_timeout_ms != b->incomplete_timeout_ms);
	ADD("connect-timeout", a->connect_timeout_ms != b->connect_timeout_ms);
	ADD("max-connections", a->max_connections != b->max_connections);
	ADD("max-connections-per-address",
	    a->max_connections_per_address != b->max_connections_per_address);
	ADD("max-transactions", a->max_transactions != b->max_transactions);
	ADD("t1", a->t1_ms != b->t1_ms);
	ADD("timer-c", a->timer_c_ms != b->timer_c_ms);
	ADD("timer-f", a->timer_f_ms != b->timer_f_ms);
	ADD("failover-delay", a->failover_delay_ms != b->failover_delay_ms);
	return n;
}

int
conf_keep_restart(struct conf *b, const struct conf *a)
{
	struct listener_conf *l = NULL;

	if (a->nlisteners && (l = malloc(a->nlisteners * sizeof(*l))) == NULL)
		return -ENOMEM;
	if (a->nlisteners)
		memcpy(l, a->listeners, a->nlisteners * sizeof(*l));
	free(b->listeners);
	b->listeners = l;
	b->nlisteners = a->nlisteners;
	if (a->nxmpp_listeners) {
		struct xmpp_listener_conf *x = malloc(a->nxmpp_listeners * sizeof(*x));

		if (x == NULL)
			return -ENOMEM;
		memcpy(x, a->xmpp_listeners, a->nxmpp_listeners * sizeof(*x));
		free(b->xmpp_listeners);
		b->xmpp_listeners = x;
	} else {
		free(b->xmpp_listeners);
		b->xmpp_listeners = NULL;
	}
	b->nxmpp_listeners = a->nxmpp_listeners;
	b->workers = a->workers;
	memcpy(b->edge_fqdn, a->edge_fqdn, sizeof(b->edge_fqdn));
	memcpy(b->internal_fqdn, a->internal_fqdn, sizeof(b->internal_fqdn));
	memcpy(b->state_dir, a->state_dir, sizeof(b->state_dir));
	memcpy(b->rr_key_file, a->rr_key_file, sizeof(b->rr_key_file));
	memcpy(b->xmpp_dialback_key_file, a->xmpp_dialback_key_file,
	    sizeof(b->xmpp_dialback_key_file));
	memcpy(b->control_socket, a->control_socket, sizeof(b->control_socket));
	b->has_metrics = a->has_metrics;
	b->metrics_addr = a->metrics_addr;
	memcpy(b->db_path, a->db_path, sizeof(b->db_path));
	memcpy(b->user, a->user, sizeof(b->user));
	memcpy(b->group, a->group, sizeof(b->group));
	b->uid = a->uid;
	b->gid = a->gid;
	b->hop_retry_ms = a->hop_retry_ms;
	if (b->dns_servers[0] == '\0')
		memcpy(b->dns_servers, a->dns_servers, sizeof(b->dns_servers));
	b->dns_timeout_ms = a->dns_timeout_ms;
	return 0;
}
