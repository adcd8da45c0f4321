/* conf.h: the daemon's configuration file (sipedge.conf(5)), parsed once at start. */
#ifndef SIPEDGE_CONF_H
#define SIPEDGE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "sipedge/log.h"

/* Which side of the edge a listener or connection faces. */
enum side { SIDE_INTERNAL = 0, SIDE_EXTERNAL = 1 };
/* Stream transport of a listener or connection.  No UDP (DESIGN.md). */
enum tp_kind { TP_TLS = 0, TP_TCP = 1 };

#define CONF_MAX_NAME 256

/* A host we dial: the FQDN its certificate must name, where to connect. */
struct hop {
	char fqdn[CONF_MAX_NAME];          /* certificate name to verify (and SNI) */
	unsigned short port;               /* default 5061 */
	bool has_addr;                     /* address given; else resolve fqdn */
	struct sockaddr_storage addr;      /* with port filled in when has_addr */
	enum tp_kind kind;                 /* TLS unless "tcp" given (labs) */
};

struct listener_conf {
	enum side side;
	enum tp_kind kind;
	struct sockaddr_storage addr;      /* with port */
	bool mutual_tls;                   /* require a client certificate */
	char source[CONF_MAX_NAME + 32];   /* "file:line" for error messages */
};

/* An XMPP server-to-server listener (external side): STARTTLS, or TLS from
 * the first octet (XEP-0368). */
struct xmpp_listener_conf {
	struct sockaddr_storage addr;      /* with port (default 5269, xmpps 5270) */
	bool direct_tls;
	char source[CONF_MAX_NAME + 32];
};

/* A static host entry: an FQDN pinned to an address (and optionally a port and
 * plain TCP), consulted before DNS A/AAAA look-ups (labs, or pinning a partner). */
struct host_conf {
	char fqdn[CONF_MAX_NAME];
	struct sockaddr_storage addr;      /* port 0 unless given */
	bool has_port;
	enum tp_kind kind;
};

struct conf {
	char path[1024];
	char edge_fqdn[CONF_MAX_NAME];     /* external FQDN: Via, Record-Route, cert */
	char internal_fqdn[CONF_MAX_NAME]; /* internal interface FQDN (default edge_fqdn) */
	char **domains;                    /* SIP domains we serve, lower case */
	size_t ndomains;

	struct listener_conf *listeners;
	size_t nlisteners;
	struct xmpp_listener_conf *xmpp_listeners;
	size_t nxmpp_listeners;

	char certificate[1024];
	char private_key[1024];
	char ca_bundle[1024];
	bool eku_any;                      /* accept peers lacking the matching EKU */

	/* Where connections the edge opens leave from, per side and family (0:
	 * IPv4, 1: IPv6, port 0): outgoing-address, else the side's first
	 * listener address that is not a wildcard; out_any: the kernel chooses. */
	bool out_any[2];
	bool has_out[2][2];
	struct sockaddr_storage out_addr[2][2];

	struct hop *pool;                  /* internal next hops, in order */
	size_t npool;
	char **internal_servers;           /* allowed internal peers: cert FQDN or IP (TCP labs) */
	size_t ninternal_servers;

	struct host_conf *hosts;           /* static host table */
	size_t nhosts;
	char dns_servers[512];             /* "127.0.0.1:5353,…"; "" = system resolver */
	unsigned dns_timeout_ms;           /* per try, default 1000 */

	char db_path[1024];
	char state_dir[1024];              /* pid file, record-route key */
	char rr_key_file[1024];            /* record-route HMAC key; default state_dir/rr.key */
	unsigned xmpp_presence_rate;       /* presence stanzas a second per partner, default 100 */
	unsigned xmpp_presence_burst;      /* the bucket, default 3000 */
	char xmpp_dialback_key_file[1024]; /* XEP-0220 secret; default state_dir/xmpp-dialback.key */
	char control_socket[1024];         /* default state_dir/control.sock */
	bool has_metrics;                  /* metrics-listen: Prometheus over plain HTTP */
	struct sockaddr_storage metrics_addr;
	enum log_level log_level;
	bool log_json;                     /* log-format json */
	bool log_message_bodies;           /* the trace shows bodies too */
	enum { LOG_DECISIONS_ALL, LOG_DECISIONS_REFUSED, LOG_DECISIONS_NONE } log_decisions;
	unsigned workers;                  /* 0: number of cores */

	/* The user (and group) the daemon runs as once its listeners are bound
	 * and its keys read (sipedge(8) "Privileges"); user[0] == '\0': it stays
	 * as started.  Looked up when the file is read: uid, and gid from group
	 * if given, else the user's login group. */
	char user[CONF_MAX_NAME];
	char group[CONF_MAX_NAME];
	uid_t uid;
	gid_t gid;

	size_t max_message_size;           /* bytes, default 65536 */
	unsigned handshake_timeout_ms;     /* default 10000 */
	unsigned idle_timeout_ms;          /* default 600000 */
	unsigned incomplete_timeout_ms;    /* partial message stall, default 30000 */
	unsigned connect_timeout_ms;       /* name look-up + TCP connect out, default 5000 */
	unsigned max_connections;          /* process-wide, default 10000 */
	unsigned max_connections_per_address; /* default 256 */
	unsigned max_transactions;         /* in progress, process-wide, default 20000 */
	unsigned t1_ms;                    /* RFC 3261 T1, default 500 */
	unsigned timer_c_ms;               /* INVITE proxy timer, default 180000 */
	unsigned timer_f_ms;               /* non-INVITE (and INVITE B), default 64*T1 */
	unsigned failover_delay_ms;        /* a silent hop lets the next start, default 500 */
	unsigned hop_retry_ms;             /* probes of a down hop, default 10000 */
};

/* Parse FILE into a fresh conf.  On error returns a negative errno (-EINVAL:
 * the file is wrong; -ENOENT, -EACCES, -EIO: it cannot be read) and writes
 * one line "file:line: message" to err. */
int conf_load(const char *path, struct conf **out, char *err, size_t errlen);
void conf_free(struct conf *c);
/* conf_diff.c: a key whose value differs between two configurations, and
 * whether only a restart can apply it (listen, workers, the edge's names,
 * state and key files, control-socket, metrics-listen, db, hop-retry, …). */
struct conf_change {
	const char *key;
	bool restart;
};
/* The keys that differ from a to b (at most max written); the count. */
size_t conf_diff(const struct conf *a, const struct conf *b, struct conf_change *out, size_t max);
/* Put a's values back into b for every key only a restart applies, so that b
 * says what is in force.  0 or -ENOMEM. */
int conf_keep_restart(struct conf *b, const struct conf *a);

/* Defaults for every key (used by conf_load and by tests). */
void conf_defaults(struct conf *c);

bool conf_is_our_domain(const struct conf *c, const char *domain);
bool conf_is_internal_server(const struct conf *c, const char *name);
/* The static host entry for an FQDN, or NULL. */
const struct host_conf *conf_host_find(const struct conf *c, const char *fqdn);
/* A hop to fqdn at addr (its port taken from addr). */
void conf_hop_set(struct hop *h, const char *fqdn, const struct sockaddr_storage *addr,
    enum tp_kind kind);
/* The hop a host line pins fqdn to (its port, else port), or false. */
bool conf_host_hop(const struct conf *c, const char *fqdn, unsigned short port, struct hop *out);

/* "host:port", "[v6]:port", "v4" → sockaddr.  0 or -EINVAL. */
int conf_parse_sockaddr(const char *s, unsigned short default_port, struct sockaddr_storage *out);
/* The port of an address (0 if none), and whether two addresses have the
 * same family and IP address (ports aside). */
unsigned short conf_sockaddr_port(const struct sockaddr_storage *ss);
bool conf_sockaddr_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* Format an address as "1.2.3.4:5061" or "[::1]:5061" ("(none)" if it is not
 * IPv4 or IPv6). */
const char *conf_sockaddr_str(const struct sockaddr_storage *ss, char *buf, size_t len);
/* The IP address alone ("1.2.3.4", "::1") into buf, and its port into *port
 * (may be NULL); NULL if it is not IPv4 or IPv6. */
const char *conf_sockaddr_host(const struct sockaddr_storage *ss, char *buf, size_t len,
    unsigned *port);
/* The address octets (4 or 16) at *p; 0 if it is not IPv4 or IPv6. */
size_t conf_sockaddr_bytes(const struct sockaddr_storage *ss, const unsigned char **p);
/* Set the port (IPv4 or IPv6). */
void conf_sockaddr_set_port(struct sockaddr_storage *ss, unsigned short port);
/* 0.0.0.0 or ::, an address that names no one interface. */
bool conf_sockaddr_is_wildcard(const struct sockaddr_storage *ss);

#endif
