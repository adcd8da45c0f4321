/* fuzz_conf.c: libFuzzer target for the configuration file (conf.c,
 * sipedge.conf(5)): the input is a whole file, loaded by conf_load() itself
 * from a memory file (memfd_create, opened again through /proc/self/fd), so
 * the line reader, every key's parser and the whole-file checks all run as
 * they do at start-up.  An administrator writes this file, but sipedge -n and
 * sipedgectl check it, and a bad line must give "file:line: message", never
 * a crash. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sipedge/conf.h"
#include "fuzz.h"

/* conf.c's host names: lower case, letters, digits, dots and hyphens. */
static void
check_host(const char *s)
{
	size_t n = strlen(s);

	FUZZ_CHECK(n > 0 && n <= 253);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
		    s[i] == '.' || s[i] == '-');
}

static unsigned short
port_of(const struct sockaddr_storage *ss)
{
	FUZZ_CHECK(ss->ss_family == AF_INET || ss->ss_family == AF_INET6);
	return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port) :
					  ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static bool
is_wildcard(const struct sockaddr_storage *ss)
{
	static const unsigned char zero[16];
	const unsigned char *b;
	size_t n = conf_sockaddr_bytes(ss, &b);

	FUZZ_CHECK(n == 4 || n == 16);
	return memcmp(b, zero, n) == 0;
}

/* Where connections the edge opens leave from (outgoing-address, sipedge.conf(5)
 * "Failover and outgoing connections"): per side one IPv4 and one IPv6 address
 * at most, each of its family, a port of 0 and no wildcard.  Unless the side
 * says any, a family that side listens on at a named address has a source
 * address; when the file has no outgoing-address line at all, it is that of
 * the side's first such listener, and no side is any. */
static void
check_outgoing(const struct conf *c, bool lines)
{
	char buf[80];

	for (int side = 0; side < 2; side++)
		for (int fam = 0; fam < 2; fam++) {
			const struct sockaddr_storage *a = &c->out_addr[side][fam];
			const struct listener_conf *first = NULL;

			for (size_t i = 0; i < c->nlisteners && !first; i++) {
				const struct listener_conf *l = &c->listeners[i];

				if ((int)l->side == side && (l->addr.ss_family == AF_INET6) == (fam == 1) &&
				    !is_wildcard(&l->addr))
					first = l;
			}
			if (!lines) {
				FUZZ_CHECK(!c->out_any[side]);
				FUZZ_CHECK(c->has_out[side][fam] == (first != NULL));
				if (first)
					FUZZ_CHECK(conf_sockaddr_same_ip(a, &first->addr));
			} else if (first && !c->out_any[side])
				FUZZ_CHECK(c->has_out[side][fam]);
			if (!c->has_out[side][fam])
				continue;
			FUZZ_CHECK(a->ss_family == (fam ? AF_INET6 : AF_INET));
			FUZZ_CHECK(conf_sockaddr_port(a) == 0);
			FUZZ_CHECK(!is_wildcard(a));
			FUZZ_CHECK(conf_sockaddr_host(a, buf, sizeof(buf), NULL) != NULL);
		}
}

/* What a configuration conf_load accepted guarantees to the daemon. */
static void
check_conf(const struct conf *c, bool outgoing_lines)
{
	char buf[80];
	struct hop h;

	check_host(c->edge_fqdn);
	check_host(c->internal_fqdn);
	FUZZ_CHECK(c->ndomains > 0 && c->nlisteners > 0);
	for (size_t i = 0; i < c->ndomains; i++) {
		check_host(c->domains[i]);
		FUZZ_CHECK(conf_is_our_domain(c, c->domains[i]));
	}
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct listener_conf *l = &c->listeners[i];

		FUZZ_CHECK(port_of(&l->addr) != 0);
		if (l->side == SIDE_EXTERNAL)
			FUZZ_CHECK(l->kind == TP_TLS && l->mutual_tls);
		if (l->kind == TP_TCP)
			FUZZ_CHECK(!l->mutual_tls);
		else
			FUZZ_CHECK(c->certificate[0] && c->private_key[0]);
		if (l->mutual_tls)
			FUZZ_CHECK(c->ca_bundle[0]);
		conf_sockaddr_str(&l->addr, buf, sizeof(buf));
	}
	for (size_t i = 0; i < c->npool; i++) {
		check_host(c->pool[i].fqdn);
		FUZZ_CHECK(c->pool[i].port != 0);
		if (c->pool[i].has_addr)
			FUZZ_CHECK(port_of(&c->pool[i].addr) == c->pool[i].port);
	}
	for (size_t i = 0; i < c->ninternal_servers; i++)
		FUZZ_CHECK(conf_is_internal_server(c, c->internal_servers[i]));
	for (size_t i = 0; i < c->nhosts; i++) {
		check_host(c->hosts[i].fqdn);
		/* A name is pinned once: the first entry is this one. */
		FUZZ_CHECK(conf_host_find(c, c->hosts[i].fqdn) == &c->hosts[i]);
		FUZZ_CHECK(conf_host_hop(c, c->hosts[i].fqdn, 5061, &h));
		FUZZ_CHECK(h.has_addr && h.port != 0 && strcmp(h.fqdn, c->hosts[i].fqdn) == 0);
	}
	FUZZ_CHECK(c->max_message_size >= 1024 && c->max_message_size <= (16u << 20));
	FUZZ_CHECK(c->timer_f_ms != 0 && c->t1_ms != 0);
	FUZZ_CHECK(c->rr_key_file[0] != '\0');
	/* A user is never root, and a group comes only with a user. */
	FUZZ_CHECK(!c->user[0] || c->uid != 0);
	FUZZ_CHECK(!c->group[0] || c->user[0]);
	check_outgoing(c, outgoing_lines);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	struct conf *c = NULL;
	size_t off = 0;
	int fd, rc;

	fd = memfd_create("sipedge.conf", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);

		FUZZ_CHECK(w > 0);
		off += (size_t)w;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	err[0] = '\0';
	rc = conf_load(path, &c, err, sizeof(err));
	close(fd);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc < 0) {
		/* One line, naming the file. */
		FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0);
		FUZZ_CHECK(strchr(err, '\n') == NULL);
		return 0;
	}
	FUZZ_CHECK(c != NULL);
	check_conf(c, memmem(data, size, "outgoing-address", 16) != NULL);
	conf_free(c);
	return 0;
}
