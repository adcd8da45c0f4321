/* dns_hosts.h: the hosts file (hosts(5)), consulted before DNS for A and AAAA,
 * as the system resolver does.  Private to dns.c. */
#ifndef SIPEDGE_DNS_HOSTS_H
#define SIPEDGE_DNS_HOSTS_H

#include <stddef.h>
#include <sys/socket.h>

struct dns_hosts;

/* Read path (a missing file is an empty table).  0, or -errno. */
int dns_hosts_load(const char *path, struct dns_hosts **out);
void dns_hosts_free(struct dns_hosts *h);
/* The addresses of name (normal form: lower case, no trailing dot), IPv4
 * first, at most max; port 0.  Returns how many. */
size_t dns_hosts_find(const struct dns_hosts *h, const char *name, struct sockaddr_storage *out,
    size_t max);

#endif
