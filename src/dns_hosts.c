/* dns_hosts.c: the hosts file (hosts(5)): "ADDRESS NAME [ALIAS]..." lines, '#'
 * comments; a name's addresses in file order, IPv4 before IPv6.  Read once
 * when the resolver is made. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_hosts.h"
#include "sipedge/hmap.h"

#define HOSTS_ADDRS 8           /* addresses kept per name */
#define HOSTS_MAX   4096        /* names kept */

struct host_entry {
	struct hnode node;
	size_t n;
	struct sockaddr_storage a[HOSTS_ADDRS];
	char name[256];
};

struct dns_hosts {
	struct hmap map;
	size_t n;
};

static void
entry_free(struct hnode *n, void *arg)
{
	(void)arg;
	free(hmap_entry(n, struct host_entry, node));
}

void
dns_hosts_free(struct dns_hosts *h)
{
	if (h == NULL)
		return;
	hmap_each(&h->map, entry_free, NULL);
	hmap_free(&h->map);
	free(h);
}

static int
add(struct dns_hosts *h, const char *name_in, const struct sockaddr_storage *ss)
{
	char name[256];
	struct host_entry *e;
	struct hnode *n;
	size_t len = strlen(name_in);

	if (len == 0 || len >= sizeof(name))
		return 0;
	for (size_t i = 0; i <= len; i++)
		name[i] = (char)tolower((unsigned char)name_in[i]);
	if (len > 1 && name[len - 1] == '.')
		name[len - 1] = '\0';
	if ((n = hmap_get(&h->map, name)) != NULL) {
		e = hmap_entry(n, struct host_entry, node);
	} else {
		if (h->n >= HOSTS_MAX || (e = calloc(1, sizeof(*e))) == NULL)
			return h->n >= HOSTS_MAX ? 0 : -ENOMEM;
		snprintf(e->name, sizeof(e->name), "%s", name);
		if (hmap_put(&h->map, &e->node, e->name) < 0) {
			free(e);
			return -ENOMEM;
		}
		h->n++;
	}
	if (e->n < HOSTS_ADDRS)
		e->a[e->n++] = *ss;
	return 0;
}

int
dns_hosts_load(const char *path, struct dns_hosts **out)
{
	struct dns_hosts *h = calloc(1, sizeof(*h));
	char line[1024];
	FILE *f;
	int rc = 0;

	if (h == NULL)
		return -ENOMEM;
	hmap_init(&h->map);
	if ((f = fopen(path, "re")) == NULL) {
		*out = h;
		return 0;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		struct sockaddr_storage ss;
		char *save = NULL, *addr, *name, *hash = strchr(line, '#');

		if (hash)
			*hash = '\0';
		if ((addr = strtok_r(line, " \t\r\n", &save)) == NULL)
			continue;
		memset(&ss, 0, sizeof(ss));
		if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
			ss.ss_family = AF_INET;
		else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
			ss.ss_family = AF_INET6;
		else
			continue;
		while (rc == 0 && (name = strtok_r(NULL, " \t\r\n", &save)) != NULL)
			rc = add(h, name, &ss);
	}
	fclose(f);
	if (rc != 0) {
		dns_hosts_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

size_t
dns_hosts_find(const struct dns_hosts *h, const char *name, struct sockaddr_storage *out,
    size_t max)
{
	const struct hnode *n = h ? hmap_get(&h->map, name) : NULL;
	const struct host_entry *e;
	size_t k = 0;

	if (n == NULL)
		return 0;
	e = hmap_entry(n, struct host_entry, node);
	for (int fam = 0; fam < 2; fam++)
		for (size_t i = 0; i < e->n && k < max; i++)
			if ((e->a[i].ss_family == AF_INET6) == (fam == 1))
				out[k++] = e->a[i];
	return k;
}
