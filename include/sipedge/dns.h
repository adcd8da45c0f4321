/* dns.h: asynchronous SRV (RFC 2782) and A/AAAA look-ups over c-ares on a libuv loop,
 * with a TTL cache (RFC 2181 §8, negative caching after RFC 2308 §5) and RFC 2782 target
 * ordering (which targets are down is health.h's).
 *
 * Threading: one struct dns per worker loop, used only from that loop's thread.
 * Owner: whoever called dns_new; dns_close ends it.  A struct dns_query belongs to
 * the struct dns until its callback returns or dns_cancel is called. */
#ifndef SIPEDGE_DNS_H
#define SIPEDGE_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

struct dns;
struct dns_query;

struct dns_conf {
	const char *servers;   /* "127.0.0.1:5353,[::1]:53" or NULL: the system resolver */
	unsigned timeout_ms;   /* per try, default 1000 */
	unsigned tries;        /* default 2 */
	unsigned max_ttl_s;    /* cap on cached TTLs, default 3600 */
	unsigned neg_ttl_s;    /* NXDOMAIN / no-data caching, default 60 */
	unsigned max_entries;  /* cache size bound, default 4096 */
	const char *hosts_file; /* asked before DNS for A/AAAA: NULL /etc/hosts, "" none */
};
/* A field left 0 takes its default. */

/* Look-up status codes (negative, beyond libuv's UV_E* range and transport's). */
#define DNS_ENOTFOUND (-11001)  /* NXDOMAIN or no records */
#define DNS_ETIMEOUT  (-11002)  /* no answer within timeout_ms * tries * servers */
#define DNS_EFAIL     (-11003)  /* SERVFAIL, refused, bad reply */
const char *dns_strerror(int status);

/* Reads the system resolver configuration when c->servers is NULL (once, here).
 * 0, or -EINVAL (bad servers string), -ENOMEM. */
int dns_new(uv_loop_t *loop, const struct dns_conf *c, struct dns **out);
/* Drops every pending query without calling it back (its struct dns_query pointers
 * become invalid), closes the handles; the memory is freed from the close callbacks,
 * so the loop must run once more.  May be called from a dns callback. */
void dns_close(struct dns *d);

struct dns_srv {
	char target[256];      /* lower case, no trailing dot */
	unsigned short port, priority, weight;
};
typedef void (*dns_srv_cb)(int status, const struct dns_srv *v, size_t n, void *arg);
/* name is the full owner name, e.g. "_sipfederationtls._tcp.fabrikam.test".  The
 * records come in RFC 2782 order: priority ascending, weighted random order within
 * a priority (weight 0 handled per the RFC).  A lone "." target (service not
 * offered) is DNS_ENOTFOUND.
 * status is 0 with n >= 1, or a DNS_E* code with v NULL and n 0.
 *
 * Both look-ups return 0 and call cb exactly once, later, from the loop (cache hits
 * included), unless cancelled; or return a negative errno (-EINVAL: bad name) and
 * never call it.  *q (q may be NULL) is written on success.  The data passed to cb
 * is valid only during the call. */
int dns_srv(struct dns *d, const char *name, dns_srv_cb cb, void *arg,
    struct dns_query **q);
typedef void (*dns_addr_cb)(int status, const struct sockaddr_storage *a, size_t n,
    void *arg);
/* A and AAAA for host, each with port filled in; IPv4 first.  Succeeds when either
 * family has addresses.  An IPv4 or IPv6 literal (brackets allowed), or a name
 * of the hosts file, is answered without DNS. */
int dns_addr(struct dns *d, const char *host, unsigned short port, dns_addr_cb cb,
    void *arg, struct dns_query **q);
/* The callback is then never called.  Not for a query whose callback is running. */
void dns_cancel(struct dns_query *q);

/* Pure RFC 2782 ordering, unit-testable: rnd returns uniform 32-bit values. */
void dns_srv_order(struct dns_srv *v, size_t n, uint32_t (*rnd)(void *), void *rnd_arg);

/* Counters for the control socket and tests. */
struct dns_stats {
	uint64_t lookups;      /* dns_srv + dns_addr calls accepted */
	uint64_t cache_hits;   /* per record type: answered from the cache */
	uint64_t shared;       /* per record type: joined a query already in flight */
	uint64_t sent;         /* c-ares queries started */
	uint64_t timeouts;     /* per record type: no answer in time for someone waiting */
	size_t entries;        /* cache entries now */
};
void dns_get_stats(const struct dns *d, struct dns_stats *out);
/* Other servers from now on ("127.0.0.1:5353,[::1]:53"; a reload); answers
 * already cached stay until their TTL.  0, or -EINVAL / -ENOMEM. */
int dns_set_servers(struct dns *d, const char *servers);
/* Also count into the worker's counters (stats.h): queries sent, failures
 * (time-out, server failure, bad answer; "no such record" is an answer), the
 * cache size. */
struct stats;
void dns_set_stats(struct dns *d, struct stats *s);

#endif
