/* conf_addr.c: socket addresses as sipedge.conf writes them and as the rest of
 * the edge needs them ("host:port", "[v6]:port", octets, ports, wildcards);
 * one set of helpers for every module (conf.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/conf.h"

int
conf_parse_sockaddr(const char *s, unsigned short default_port, struct sockaddr_storage *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL;
	unsigned long pn = default_port;
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || (size_t)(end - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return -EINVAL;
	} else {
		const char *colon = strchr(s, ':');

		if (colon && strchr(colon + 1, ':'))
			colon = NULL;      /* a bare IPv6 address */
		if (colon) {
			if ((size_t)(colon - s) >= sizeof(host))
				return -EINVAL;
			memcpy(host, s, (size_t)(colon - s));
			host[colon - s] = '\0';
			port = colon + 1;
		} else {
			if (strlen(s) >= sizeof(host))
				return -EINVAL;
			strcpy(host, s);
		}
	}
	if (port) {
		char *end;

		errno = 0;
		pn = strtoul(port, &end, 10);
		if (errno || *end || end == port || pn == 0 || pn > 65535)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((unsigned short)pn);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((unsigned short)pn);
	} else
		return -EINVAL;
	*out = ss;
	return 0;
}

size_t
conf_sockaddr_bytes(const struct sockaddr_storage *ss, const unsigned char **p)
{
	if (ss->ss_family == AF_INET) {
		*p = (const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr;
		return 4;
	}
	if (ss->ss_family == AF_INET6) {
		*p = (const unsigned char *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
		return 16;
	}
	*p = NULL;
	return 0;
}

const char *
conf_sockaddr_host(const struct sockaddr_storage *ss, char *buf, size_t len, unsigned *port)
{
	const unsigned char *a;

	if (conf_sockaddr_bytes(ss, &a) == 0 ||
	    inet_ntop(ss->ss_family, a, buf, (socklen_t)len) == NULL)
		return NULL;
	if (port)
		*port = conf_sockaddr_port(ss);
	return buf;
}

const char *
conf_sockaddr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (conf_sockaddr_host(ss, host, sizeof(host), &port) == NULL)
		snprintf(buf, len, "(none)");
	else
		snprintf(buf, len, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
	return buf;
}

unsigned short
conf_sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

bool
conf_sockaddr_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const unsigned char *pa, *pb;
	size_t la = conf_sockaddr_bytes(a, &pa), lb = conf_sockaddr_bytes(b, &pb);

	return la != 0 && la == lb && a->ss_family == b->ss_family && memcmp(pa, pb, la) == 0;
}

void
conf_sockaddr_set_port(struct sockaddr_storage *ss, unsigned short port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* The wildcard address (0.0.0.0, ::): a listener on it names no one address. */
bool
conf_sockaddr_is_wildcard(const struct sockaddr_storage *ss)
{
	static const unsigned char zero[16];

	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == 0;
	return memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, zero, 16) == 0;
}

