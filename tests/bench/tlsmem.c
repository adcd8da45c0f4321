/* tlsmem.c: what OpenSSL holds for one idle TLS server connection of
 * sipedge's, for make bench's XMPP memory figure (e).
 *
 *   tlsmem CA SERVER.crt SERVER.key CLIENT.crt CLIENT.key [N]
 *
 * Makes sipedge's server context (tls.c, as an XMPP listener has it: the
 * plain server context, tls_sess_xmpp asking for the peer's certificate) and
 * a client context with the client certificate, and opens N (default 50)
 * connections between them in memory: a full handshake each (TLS 1.3 with
 * the lab's certificates), the client's certificate checked for its XMPP
 * domain (SASL EXTERNAL, as an inbound stream does; CLIENT.crt must name
 * fabrikam.test) and a short message each way, then left idle.  It
 * counts OpenSSL's allocations (CRYPTO_set_mem_functions) made while the
 * server side worked and still live once every client is gone, and prints
 * one JSON line: per connection, the octets asked for, the allocations, and
 * the heap they take with malloc's chunk headers (malloc_usable_size + 8).
 * The server's session cache holds each connection's session; it is
 * counted, as it is in the daemon's memory. */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sipedge/tls.h"

#define MAXN 1000

struct live {
	void *p;
	size_t n;
};

static struct live *tab;
static size_t ntab, captab;
static bool counting;                  /* the server side is working */

static void
track_add(void *p, size_t n)
{
	if (ntab == captab) {
		size_t c = captab ? 2 * captab : 4096;
		struct live *t = realloc(tab, c * sizeof(*t));

		if (t == NULL) {
			fprintf(stderr, "tlsmem: out of memory\n");
			exit(1);
		}
		tab = t;
		captab = c;
	}
	tab[ntab++] = (struct live){ p, n };
}

/* The entry of p, or NULL.  Newest first: most frees are of recent blocks. */
static struct live *
track_find(const void *p)
{
	for (size_t i = ntab; i-- > 0;)
		if (tab[i].p == p)
			return &tab[i];
	return NULL;
}

static void *
m_malloc(size_t n, const char *file, int line)
{
	void *p = malloc(n);

	(void)file;
	(void)line;
	if (p != NULL && counting)
		track_add(p, n);
	return p;
}

static void
m_free(void *p, const char *file, int line)
{
	struct live *l;

	(void)file;
	(void)line;
	if (p != NULL && (l = track_find(p)) != NULL)
		*l = tab[--ntab];
	free(p);
}

static void *
m_realloc(void *p, size_t n, const char *file, int line)
{
	struct live *l = p ? track_find(p) : NULL;
	void *q = realloc(p, n);

	(void)file;
	(void)line;
	if (q == NULL)
		return NULL;
	if (l != NULL) {
		l->p = q;
		l->n = n;
	} else if (counting) {
		track_add(q, n);
	}
	return q;
}

/* Move what a produced to b.  b borrows the octets until its next
 * handshake step or read: the caller frees the return value after that. */
static char *
pump(struct tls_sess *a, bool a_server, struct tls_sess *b, bool b_server)
{
	char *buf = NULL;
	size_t n;

	counting = a_server;
	n = tls_sess_output(a, &buf);
	counting = false;
	if (n == 0)
		return NULL;
	counting = b_server;
	tls_sess_input(b, buf, n);
	counting = false;
	return buf;
}

/* Take in what s was given: a handshake step, or once it is done a read
 * (post-handshake messages only: no data is sent during the handshake).
 * 1 once the handshake is done. */
static int
step(struct tls_sess *s, bool server, int done)
{
	char why[256], buf[64];
	long n = 0;
	int r = done;

	counting = server;
	if (!done)
		r = tls_sess_handshake(s, why, sizeof(why));
	else
		n = tls_sess_read(s, buf, sizeof(buf), why, sizeof(why));
	counting = false;
	if (r < 0 || n != 0) {
		fprintf(stderr, "tlsmem: %s handshake: %s\n", server ? "server" : "client",
		    r < 0 || n < 0 ? why : "unexpected data");
		exit(1);
	}
	return r;
}

static void
exchange(struct tls_sess *from, bool from_server, struct tls_sess *to, bool to_server,
    const char *text)
{
	char buf[256], why[256], *wire;
	long n;

	counting = from_server;
	if (tls_sess_write(from, text, strlen(text)) < 0) {
		fprintf(stderr, "tlsmem: write failed\n");
		exit(1);
	}
	counting = false;
	wire = pump(from, from_server, to, to_server);
	counting = to_server;
	n = tls_sess_read(to, buf, sizeof(buf), why, sizeof(why));
	counting = false;
	free(wire);
	if (n != (long)strlen(text)) {
		fprintf(stderr, "tlsmem: read %ld octets, not %zu: %s\n", n, strlen(text), why);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	static struct tls_sess *srv[MAXN], *cli[MAXN];
	struct tls_ctx *sctx, *cctx;
	char err[512];
	size_t n = 50, bytes = 0, heap = 0;
	const char *version = "?";

	if (argc < 6 || argc > 7 || (argc == 7 && (n = strtoul(argv[6], NULL, 10)) == 0) ||
	    n > MAXN) {
		fprintf(stderr, "usage: tlsmem CA SERVER.crt SERVER.key CLIENT.crt CLIENT.key "
		    "[N <= %d]\n", MAXN);
		return 2;
	}
	if (!CRYPTO_set_mem_functions(m_malloc, m_realloc, m_free)) {
		fprintf(stderr, "tlsmem: OpenSSL allocated before main\n");
		return 1;
	}
	struct tls_conf sc = { argv[2], argv[3], argv[1], false, false };
	struct tls_conf cc = { argv[4], argv[5], argv[1], false, false };

	if (tls_ctx_new_server(&sc, &sctx, err, sizeof(err)) < 0) {
		fprintf(stderr, "tlsmem: %s\n", err);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char why[256];
		int rs = 0, rc = 0;

		counting = true;
		if (tls_sess_new(sctx, NULL, false, &srv[i]) < 0 || tls_sess_xmpp(srv[i]) < 0) {
			fprintf(stderr, "tlsmem: server session\n");
			return 1;
		}
		counting = false;
		/* A client context each: a client offers the session of its
		 * last connection to the same host, and these are full
		 * handshakes, as a partner's new streams are. */
		if (tls_ctx_new_client(&cc, &cctx, err, sizeof(err)) < 0) {
			fprintf(stderr, "tlsmem: %s\n", err);
			return 1;
		}
		if (tls_sess_new(cctx, "contoso.test", false, &cli[i]) < 0 ||
		    tls_sess_xmpp(cli[i]) < 0) {
			fprintf(stderr, "tlsmem: client session\n");
			return 1;
		}
		for (int k = 0; k < 20 && (rs != 1 || rc != 1); k++) {
			char *wire;

			rc = step(cli[i], false, rc);
			wire = pump(cli[i], false, srv[i], true);
			rs = step(srv[i], true, rs);
			free(wire);
			wire = pump(srv[i], true, cli[i], false);
			rc = step(cli[i], false, rc);
			free(wire);
		}
		if (rs != 1 || rc != 1) {
			fprintf(stderr, "tlsmem: the handshake did not finish\n");
			return 1;
		}
		/* As an inbound stream does before it offers SASL EXTERNAL
		 * (XEP-0178): the chain and the names checked. */
		counting = true;
		if (tls_sess_peer_check(srv[i], "fabrikam.test", why, sizeof(why)) < 0) {
			fprintf(stderr, "tlsmem: the client's certificate: %s\n", why);
			return 1;
		}
		counting = false;
		exchange(cli[i], false, srv[i], true, "<message to='a@contoso.test'/>");
		exchange(srv[i], true, cli[i], false, "<message to='b@fabrikam.test'/>");
		version = tls_sess_version(srv[i]);
		tls_sess_free(cli[i]);
		tls_ctx_free(cctx);
	}
	for (size_t i = 0; i < ntab; i++) {
		bytes += tab[i].n;
		heap += malloc_usable_size(tab[i].p) + 8;
	}
	printf("{\"connections\": %zu, \"version\": \"%s\", \"bytes\": %.1f, \"allocations\": %.1f, "
	    "\"heap\": %.1f}\n", n, version, (double)bytes / (double)n, (double)ntab / (double)n,
	    (double)heap / (double)n);
	for (size_t i = 0; i < n; i++)
		tls_sess_free(srv[i]);
	tls_ctx_free(sctx);
	free(tab);                         /* OpenSSL frees more at exit */
	tab = NULL;
	ntab = captab = 0;
	return 0;
}
