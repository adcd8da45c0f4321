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
/* Contexts are counted: each session holds one; tls_ctx_free drops the
 * caller's (a reload replaces contexts while old connections still use
 * theirs). */
struct tls_ctx *tls_ctx_ref(struct tls_ctx *ctx);
/* The reason of the calling thread's last OpenSSL error, or fallback; clears
 * the error queue. */
const char *tls_err_reason(const char *fallback);
void tls_ctx_free(struct tls_ctx *ctx);

/* --- Sessions (used by transport.c) ---
 *
 * One TLS session over a byte stream, with no I/O of its own: the transport
 * hands it the ciphertext it read (tls_sess_input) and sends the ciphertext
 * it produces (tls_sess_output).  Nothing is buffered per session while the
 * connection is idle: input is borrowed, output is handed over.  A session is
 * owned by its connection and used from one thread only. */
struct tls_sess;

/* Client role (ctx from tls_ctx_new_client): host is the FQDN dialled, sent
 * as SNI (unless it is an IP literal) and required in the peer certificate.
 * Server role: host is NULL; require_peer_cert asks for and verifies a client
 * certificate (mutual TLS; also implied by the context's require_client_cert).
 * 0 or a negative errno. */
int tls_sess_new(struct tls_ctx *ctx, const char *host, bool require_peer_cert,
    struct tls_sess **out);
void tls_sess_free(struct tls_sess *s);

/* Ciphertext read from the peer.  The session borrows buf (no copy) and
 * consumes it during the following tls_sess_handshake()/tls_sess_read()
 * calls; it is all consumed once one of them returns 0.  NULL drops what is
 * left. */
void tls_sess_input(struct tls_sess *s, const void *buf, size_t len);
/* Advance the handshake: 1 done (peer verified), 0 more input needed, -EACCES
 * the peer certificate is valid but does not name host, -EPROTO any other
 * failure.  On failure detail gets one line saying why. */
int tls_sess_handshake(struct tls_sess *s, char *detail, size_t dlen);
/* Plaintext: > 0 bytes read into buf, 0 more input needed, -EPIPE the peer
 * sent close_notify, -EPROTO a fatal error (detail says why). */
long tls_sess_read(struct tls_sess *s, void *buf, size_t len, char *detail, size_t dlen);
/* Encrypt all of buf into the output.  0 or -EPROTO. */
int tls_sess_write(struct tls_sess *s, const void *buf, size_t len);
/* Queue a close_notify alert. */
void tls_sess_close_notify(struct tls_sess *s);
/* Hand over the ciphertext produced so far: returns its length and sets *buf
 * to a malloc()ed buffer the caller frees; 0 (and *buf untouched) if none. */
size_t tls_sess_output(struct tls_sess *s, char **buf);

/* After the handshake: the verified peer identity (SAN dNSNames, else the
 * subject CN; lower case, no trailing dot).  Owned by the session. */
void tls_sess_peer_names(const struct tls_sess *s, const char *const **names, size_t *n);
/* 1 if the verified peer certificate is valid for fqdn (X509_check_host). */
int tls_sess_peer_matches(const struct tls_sess *s, const char *fqdn);
/* XMPP's rules for this session (before the handshake): a server asks for
 * the peer's certificate without requiring it, and completes the handshake
 * whatever the certificate (tls_sess_peer_check judges it afterwards); a
 * client accepts a wildcard for the left-most label (RFC 6125 §6.4.3).  0. */
int tls_sess_xmpp(struct tls_sess *s);
/* A client session offers the ALPN protocol proto (before the handshake).
 * 0, or -EINVAL for a server session or a bad name. */
int tls_sess_alpn(struct tls_sess *s, const char *proto);
/* After the handshake: 0 if the peer's certificate is valid (chain, dates,
 * purpose) and names domain (DNS-ID, a wildcard for one whole label); else
 * -ENOENT no certificate, -EACCES it is not valid, -EPERM it names other
 * hosts, with why saying so ("… has expired", "… does not name x (it names
 * y)"). */
int tls_sess_peer_check(const struct tls_sess *s, const char *domain, char *why, size_t len);
/* The handshake resumed an earlier session (no certificate exchange; the
 * peer's certificate and names are those of the session's full handshake).
 * Servers issue one ticket per full handshake and keep TLS 1.2 session IDs;
 * clients keep the last session of each host dialled and offer it the next
 * time; sessions are resumed for an hour at most. */
bool tls_sess_resumed(const struct tls_sess *s);
/* Why the last handshake or read failed (after a negative status). */
enum tls_fail {
	TLS_FAIL_NONE = 0,
	TLS_FAIL_NO_CERT,                   /* no certificate where one is required */
	TLS_FAIL_UNTRUSTED,                 /* the chain does not verify (CA, dates) */
	TLS_FAIL_NAME,                      /* it does not name the host dialled */
	TLS_FAIL_PROTOCOL,                  /* versions, ciphers, alerts, garbage */
};
enum tls_fail tls_sess_fail(const struct tls_sess *s);
/* Protocol version and cipher, for logs ("TLSv1.3 TLS_AES_128_GCM_SHA256"). */
const char *tls_sess_version(const struct tls_sess *s);
const char *tls_sess_cipher(const struct tls_sess *s);

#endif
