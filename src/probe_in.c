/* probe_in.c: the inbound federation probe (sipedgectl probe --inbound): our
 * own published side, as a partner finds it.  For each SIP domain we serve,
 * _sipfederationtls._tcp.<domain> must resolve (SRV, then A/AAAA) to a name
 * our certificate covers and to an address and port an external TLS listener
 * of ours accepts on.  Runs on the main loop with a resolver of its own (the
 * configured DNS servers), answers the control request when every look-up is
 * done. */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sipedge/daemon.h"
#include "sipedge/dns.h"
#include "sipedge/log.h"

#define IN_DOMAINS 16
#define IN_TARGETS 8
#define IN_ADDRS 8

struct in_target {
	struct dns_srv srv;
	bool cert_ok;
	int addr_status;                   /* 0, a DNS_E* code; 1 while pending */
	struct sockaddr_storage addr[IN_ADDRS];
	size_t naddr;
	bool listening;                    /* an address we listen on, at that port */
};

struct in_domain {
	char name[CONF_MAX_NAME];
	char srv_name[CONF_MAX_NAME + 32];
	int srv_status;                    /* 1 while pending */
	struct in_target t[IN_TARGETS];
	size_t nt;
};

struct in_job {
	struct daemon *d;
	struct control_req *r;
	struct dns *dns;
	struct in_domain dom[IN_DOMAINS];
	size_t ndom, pending;
};

struct in_ref {                            /* what a look-up's callback needs */
	struct in_job *j;
	size_t dom, target;
};

/* Our certificate covers name: one of its names, or a left-most wildcard
 * label standing for one label (RFC 6125 §6.4.3). */
static bool
cert_covers(const struct daemon *d, const char *name)
{
	for (size_t i = 0; d->has_cert && i < d->cert.nsans; i++) {
		const char *s = d->cert.sans[i], *dot;

		if (strcasecmp(s, name) == 0)
			return true;
		if (s[0] == '*' && s[1] == '.' && (dot = strchr(name, '.')) != NULL &&
		    dot != name && strcasecmp(s + 1, dot) == 0)
			return true;
	}
	return false;
}

static bool
local_address(const struct sockaddr_storage *a)
{
	struct ifaddrs *ifs, *i;
	bool found = false;

	if (getifaddrs(&ifs) < 0)
		return false;
	for (i = ifs; i && !found; i = i->ifa_next) {
		struct sockaddr_storage ss;

		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != a->ss_family)
			continue;
		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, i->ifa_addr, a->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
		    sizeof(struct sockaddr_in6));
		found = conf_sockaddr_same_ip(&ss, a);
	}
	freeifaddrs(ifs);
	return found;
}

/* An external TLS listener accepts on a (address and port). */
static bool
we_listen(const struct conf *c, const struct sockaddr_storage *a)
{
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct listener_conf *l = &c->listeners[i];

		if (l->side != SIDE_EXTERNAL || l->kind != TP_TLS ||
		    conf_sockaddr_port(&l->addr) != conf_sockaddr_port(a))
			continue;
		if (conf_sockaddr_same_ip(&l->addr, a) ||
		    (conf_sockaddr_is_wildcard(&l->addr) && l->addr.ss_family == a->ss_family &&
		    local_address(a)))
			return true;
	}
	return false;
}

static void
answer(struct in_job *j)
{
	struct control_req *r = j->r;
	struct json_out *o = control_result(r);
	bool all_ok = j->ndom > 0;
	char a[80];

	if (o == NULL) {
		control_fail(r, "internal", "out of memory");
		goto out;
	}
	json_out_begin_object(o);
	json_out_key(o, "domains");
	json_out_begin_array(o);
	for (size_t i = 0; i < j->ndom; i++) {
		struct in_domain *dm = &j->dom[i];
		bool dom_ok = false;

		json_out_begin_object(o);
		json_out_key(o, "domain");
		json_out_string(o, dm->name);
		json_out_key(o, "srv");
		json_out_string(o, dm->srv_name);
		json_out_key(o, "srv_result");
		json_out_string(o, dm->srv_status == 0 ? "ok" : dns_strerror(dm->srv_status));
		json_out_key(o, "targets");
		json_out_begin_array(o);
		for (size_t k = 0; k < dm->nt; k++) {
			struct in_target *t = &dm->t[k];
			bool ok = t->cert_ok && t->listening;

			dom_ok = dom_ok || ok;
			json_out_begin_object(o);
			json_out_key(o, "target");
			json_out_string(o, t->srv.target);
			json_out_key(o, "port");
			json_out_uint(o, t->srv.port);
			json_out_key(o, "priority");
			json_out_uint(o, t->srv.priority);
			json_out_key(o, "certificate_covers");
			json_out_bool(o, t->cert_ok);
			json_out_key(o, "address_result");
			json_out_string(o, t->addr_status == 0 ? "ok" : dns_strerror(t->addr_status));
			json_out_key(o, "addresses");
			json_out_begin_array(o);
			for (size_t m = 0; m < t->naddr; m++)
				json_out_string(o, conf_sockaddr_str(&t->addr[m], a, sizeof(a)));
			json_out_end_array(o);
			json_out_key(o, "we_listen");
			json_out_bool(o, t->listening);
			json_out_key(o, "ok");
			json_out_bool(o, ok);
			json_out_end_object(o);
		}
		json_out_end_array(o);
		json_out_key(o, "ok");
		json_out_bool(o, dom_ok);
		json_out_end_object(o);
		all_ok = all_ok && dom_ok;
	}
	json_out_end_array(o);
	json_out_key(o, "ok");
	json_out_bool(o, all_ok);
	json_out_end_object(o);
	control_answer(r);
out:
	dns_close(j->dns);
	free(j);
}

static void
done_one(struct in_job *j)
{
	if (--j->pending == 0)
		answer(j);
}

static void
addr_cb(int status, const struct sockaddr_storage *a, size_t n, void *arg)
{
	struct in_ref *ref = arg;
	struct in_job *j = ref->j;
	struct in_target *t = &j->dom[ref->dom].t[ref->target];

	free(ref);
	t->addr_status = status;
	for (size_t i = 0; i < n && t->naddr < IN_ADDRS; i++) {
		t->addr[t->naddr++] = a[i];
		if (we_listen(j->d->conf, &a[i]))
			t->listening = true;
	}
	done_one(j);
}

static void
srv_cb(int status, const struct dns_srv *v, size_t n, void *arg)
{
	struct in_ref *ref = arg;
	struct in_job *j = ref->j;
	struct in_domain *dm = &j->dom[ref->dom];

	dm->srv_status = status;
	for (size_t i = 0; i < n && dm->nt < IN_TARGETS; i++) {
		struct in_target *t = &dm->t[dm->nt];
		struct in_ref *r2 = malloc(sizeof(*r2));

		t->srv = v[i];
		t->cert_ok = cert_covers(j->d, v[i].target);
		t->addr_status = 1;
		if (r2 == NULL) {
			t->addr_status = -ENOMEM;
			dm->nt++;
			continue;
		}
		*r2 = (struct in_ref){ j, ref->dom, dm->nt };
		dm->nt++;
		j->pending++;
		if (dns_addr(j->dns, v[i].target, v[i].port, addr_cb, r2, NULL) < 0) {
			t->addr_status = -EINVAL;
			free(r2);
			j->pending--;
		}
	}
	free(ref);
	done_one(j);
}

void
daemon_probe_inbound(struct daemon *d, struct control_req *r)
{
	const struct conf *c = d->conf;
	struct dns_conf dc = { 0 };
	struct in_job *j;
	int rc;

	if (c->ndomains == 0) {
		control_fail(r, "usage", "no sip-domain is configured");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		control_fail(r, "internal", "out of memory");
		return;
	}
	j->d = d;
	j->r = r;
	dc.servers = c->dns_servers[0] ? c->dns_servers : NULL;
	dc.timeout_ms = c->dns_timeout_ms;
	dc.tries = 2;
	if ((rc = dns_new(uv_default_loop(), &dc, &j->dns)) < 0) {
		free(j);
		control_fail(r, "internal", "cannot make a resolver: %s", strerror(-rc));
		return;
	}
	/* One for ourselves, so that no callback can answer before every
	 * domain's look-up is out. */
	j->pending = 1;
	for (size_t i = 0; i < c->ndomains && j->ndom < IN_DOMAINS; i++) {
		struct in_domain *dm = &j->dom[j->ndom];
		struct in_ref *ref = malloc(sizeof(*ref));

		snprintf(dm->name, sizeof(dm->name), "%s", c->domains[i]);
		snprintf(dm->srv_name, sizeof(dm->srv_name), "_sipfederationtls._tcp.%s",
		    c->domains[i]);
		dm->srv_status = 1;
		if (ref == NULL) {
			dm->srv_status = -ENOMEM;
			j->ndom++;
			continue;
		}
		*ref = (struct in_ref){ j, j->ndom, 0 };
		j->ndom++;
		j->pending++;
		if (dns_srv(j->dns, dm->srv_name, srv_cb, ref, NULL) < 0) {
			dm->srv_status = -EINVAL;
			free(ref);
			j->pending--;
		}
	}
	done_one(j);
}
