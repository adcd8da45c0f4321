/* tls.h: OpenSSL 3 contexts for both roles, and per-connection TLS over memory BIOs
 * (the session half is used only by transport.c). */
#ifndef SIPEDGE_TLS_H
#define SIPEDGE_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct tls_ctx;

struct tls_conf {
	const char *certificate;   /* PEM chain, leaf first */
	const char *private_key;   /* PEM; refused if group/world readable */
	const char *ca_bundle;     /* PEM CA certificates to verify peers */
	bool require_client_cert;  /* server role: mutual TLS */
	bool eku_any;              /* accept peers whose EKU lacks the expected purpose */
};

/* Server role (listeners) and client role (dialling).  On error return a
 * negative errno and write one clear line naming the file to err. */
int tls_ctx_new_server(const struct tls_conf *c, struct tls_ctx **out, char *err, size_t errlen);
int tls_ctx_new_client(const struct tls_conf *c, struct tls_ctx **out, char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx *ctx);

#endif
