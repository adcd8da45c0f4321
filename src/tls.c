/* tls.c: OpenSSL 3 contexts (TLS 1.2+, mutual TLS, EKU) and I/O-free TLS sessions
 * over a custom BIO for the libuv transport (RFC 3261 §26.3.1, RFC 5922 §7). */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sipedge/log.h"
#include "sipedge/tls.h"

/* A certificate with more names than this is odd; keep the first ones. */
#define TLS_MAX_PEER_NAMES 64

/* Client role: the last session of each host dialled, to resume the next
 * connection to it (RFC 8446 §2.2; RFC 5077 for TLS 1.2), bounded. */
#define TLS_RESUME_HOSTS 256
/* A session is resumed for at most this long after its full handshake. */
#define TLS_SESSION_SECONDS 3600

struct tls_resume {
	char *host;
	SSL_SESSION *sess;
	uint64_t used;
};

struct tls_ctx {
	atomic_uint refs;                   /* its owner's, and one per session */
	SSL_CTX *ssl_ctx;
	bool server;
	bool require_client_cert;
	pthread_mutex_t mu;                 /* the workers share the context */
	struct tls_resume resume[TLS_RESUME_HOSTS];
	size_t nresume;
	uint64_t clock;
};

struct tls_sess {
	SSL *ssl;
	struct tls_ctx *ctx;
	char *host;                         /* client role: the host dialled */
	/* Ciphertext borrowed from the caller's read buffer (see tls_sess_input). */
	const unsigned char *in;
	size_t inlen;
	/* Ciphertext produced and not yet handed over; NULL when idle. */
	char *out;
	size_t outlen, outcap;
	char **names;
	size_t nnames;
	bool verified;
	bool xmpp;                          /* tls_sess_xmpp: wildcards, optional peer cert */
	enum tls_fail fail;                 /* why the handshake or a read failed */
};

/*
 * The custom BIO.  Memory BIOs would keep buffers as large as the largest read
 * or write for the life of every connection; this one reads straight from the
 * transport's per-worker read buffer and writes into a buffer that the
 * transport takes over and frees once sent, so an idle session holds none.
 */

static BIO_METHOD *tls_bio_method;
static pthread_once_t tls_bio_once = PTHREAD_ONCE_INIT;

static int
tls_bio_write_ex(BIO *b, const char *data, size_t len, size_t *written)
{
	struct tls_sess *s = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (s->outlen + len > s->outcap) {
		size_t cap = s->outcap ? s->outcap : 1024;
		char *p;

		while (cap < s->outlen + len)
			cap *= 2;
		if ((p = realloc(s->out, cap)) == NULL)
			return 0;
		s->out = p;
		s->outcap = cap;
	}
	memcpy(s->out + s->outlen, data, len);
	s->outlen += len;
	*written = len;
	return 1;
}

static int
tls_bio_read_ex(BIO *b, char *data, size_t len, size_t *readbytes)
{
	struct tls_sess *s = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (s->inlen == 0) {
		/* Not an EOF: the transport reports EOF itself. */
		BIO_set_retry_read(b);
		*readbytes = 0;
		return 0;
	}
	if (len > s->inlen)
		len = s->inlen;
	memcpy(data, s->in, len);
	s->in += len;
	s->inlen -= len;
	*readbytes = len;
	return 1;
}

static long
tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_sess *s = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_PENDING:
		return s ? (long)s->inlen : 0;
	case BIO_CTRL_WPENDING:
		return s ? (long)s->outlen : 0;
	default:
		return 0;
	}
}

static int
tls_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int
tls_bio_destroy(BIO *b)
{
	return 1;
}

static void
tls_bio_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sipedge");

	if (m == NULL || !BIO_meth_set_write_ex(m, tls_bio_write_ex) ||
	    !BIO_meth_set_read_ex(m, tls_bio_read_ex) || !BIO_meth_set_ctrl(m, tls_bio_ctrl) ||
	    !BIO_meth_set_create(m, tls_bio_create) || !BIO_meth_set_destroy(m, tls_bio_destroy)) {
		BIO_meth_free(m);
		return;
	}
	tls_bio_method = m;
}

const char *
tls_err_reason(const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : fallback;
}

/* Open path for reading to turn a missing or unreadable file into errno. */
static int tls_resume_store(SSL *ssl, SSL_SESSION *sess);

static int
tls_check_readable(const char *what, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	int r;

	if (f == NULL) {
		r = -errno;
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return r;
	}
	fclose(f);
	return 0;
}

static int
tls_ctx_new(const struct tls_conf *c, bool server, struct tls_ctx **out, char *err,
    size_t errlen)
{
	struct tls_ctx *t = NULL;
	SSL_CTX *ctx = NULL;
	struct stat st;
	int r;

	if (c == NULL || out == NULL) {
		snprintf(err, errlen, "tls: no configuration");
		return -EINVAL;
	}
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method())) == NULL) {
		snprintf(err, errlen, "tls: cannot create context: %s", tls_err_reason("?"));
		r = -ENOMEM;
		goto out;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Idle connections are the common case at an edge: give the record
	 * buffers back between reads and writes. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	/* Resumption: a peer that reconnects (after an idle timeout, a restart
	 * of ours or its own) skips the certificate exchange, the signatures
	 * and the decoding of its certificate, which is most of the cost of a
	 * handshake with OpenSSL 3.0.  The session keeps the peer's verified
	 * certificate, so its names are the same as at the full handshake. */
	SSL_CTX_set_timeout(ctx, TLS_SESSION_SECONDS);
	if (server) {
		/* Sessions stay in a bounded cache of ours, found by session ID
		 * (TLS 1.2) or by a stateful TLS 1.3 ticket (RFC 8446 §4.6.1):
		 * SSL_OP_NO_TICKET turns the stateless tickets off.  A stateless
		 * ticket carries the session with the peer's certificate, which
		 * OpenSSL 3.0 decodes again on every resumption (a third of the
		 * cost of a full handshake); a cached session is used as it is. */
		SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 1);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_sess_set_cache_size(ctx, 1024);
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sipedge", 7);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, tls_resume_store);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}

	/* Our certificate: required to serve, optional to dial (a client without
	 * one cannot pass mutual TLS, but may talk to a plain TLS server). */
	if (c->certificate != NULL && c->certificate[0] != '\0') {
		if ((r = tls_check_readable("certificate", c->certificate, err, errlen)) < 0)
			goto out;
		if (SSL_CTX_use_certificate_chain_file(ctx, c->certificate) != 1) {
			snprintf(err, errlen, "certificate %s: cannot load: %s", c->certificate,
			    tls_err_reason("no certificate found"));
			r = -EINVAL;
			goto out;
		}
		if (c->private_key == NULL || c->private_key[0] == '\0') {
			snprintf(err, errlen, "certificate %s: no private key configured",
			    c->certificate);
			r = -EINVAL;
			goto out;
		}
		if (stat(c->private_key, &st) < 0) {
			r = -errno;
			snprintf(err, errlen, "private key %s: %s", c->private_key, strerror(errno));
			goto out;
		}
		if (st.st_mode & (S_IRGRP | S_IROTH)) {
			snprintf(err, errlen, "private key %s: readable by group or others "
			    "(mode %03o); refusing it (chmod 600)", c->private_key,
			    (unsigned)(st.st_mode & 0777));
			r = -EPERM;
			goto out;
		}
		if ((r = tls_check_readable("private key", c->private_key, err, errlen)) < 0)
			goto out;
		if (SSL_CTX_use_PrivateKey_file(ctx, c->private_key, SSL_FILETYPE_PEM) != 1) {
			/* OpenSSL already compares the key with the certificate here. */
			if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
				ERR_clear_error();
				snprintf(err, errlen, "private key %s does not match certificate %s",
				    c->private_key, c->certificate);
			} else {
				snprintf(err, errlen, "private key %s: cannot load: %s",
				    c->private_key, tls_err_reason("no key found"));
			}
			r = -EINVAL;
			goto out;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			ERR_clear_error();
			snprintf(err, errlen, "private key %s does not match certificate %s",
			    c->private_key, c->certificate);
			r = -EINVAL;
			goto out;
		}
	} else if (server) {
		snprintf(err, errlen, "tls: a listener needs a certificate and private key");
		r = -EINVAL;
		goto out;
	}

	/* Peers are always verified, so a CA bundle is mandatory. */
	if (c->ca_bundle == NULL || c->ca_bundle[0] == '\0') {
		snprintf(err, errlen, "tls: no CA bundle configured to verify peers");
		r = -EINVAL;
		goto out;
	}
	if ((r = tls_check_readable("CA bundle", c->ca_bundle, err, errlen)) < 0)
		goto out;
	if (SSL_CTX_load_verify_locations(ctx, c->ca_bundle, NULL) != 1) {
		snprintf(err, errlen, "CA bundle %s: cannot load: %s", c->ca_bundle,
		    tls_err_reason("no certificate found"));
		r = -EINVAL;
		goto out;
	}
	/* Our chain, built once here from the certificate file and the CA
	 * bundle: without it OpenSSL builds it again for every handshake (an
	 * X509_verify_cert of our own certificate, signatures checked). */
	if (c->certificate != NULL && c->certificate[0] != '\0') {
		if (SSL_CTX_build_cert_chain(ctx, SSL_BUILD_CHAIN_FLAG_NO_ROOT |
		    SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR) != 1)
			ERR_clear_error();      /* sent as the file has it */
		SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	}
	/* OpenSSL checks the peer's EKU against the role by default (clientAuth
	 * for clients, serverAuth for servers); some partners' certificates
	 * carry serverAuth only. */
	if (c->eku_any)
		SSL_CTX_set_purpose(ctx, X509_PURPOSE_ANY);

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "tls: out of memory");
		r = -ENOMEM;
		goto out;
	}
	t->ssl_ctx = ctx;
	t->server = server;
	t->require_client_cert = server && c->require_client_cert;
	pthread_mutex_init(&t->mu, NULL);
	atomic_init(&t->refs, 1);
	SSL_CTX_set_app_data(ctx, t);
	ctx = NULL;
	*out = t;
	r = 0;
out:
	SSL_CTX_free(ctx);
	return r;
}

int
tls_ctx_new_server(const struct tls_conf *c, struct tls_ctx **out, char *err, size_t errlen)
{
	return tls_ctx_new(c, true, out, err, errlen);
}

int
tls_ctx_new_client(const struct tls_conf *c, struct tls_ctx **out, char *err, size_t errlen)
{
	return tls_ctx_new(c, false, out, err, errlen);
}

struct tls_ctx *
tls_ctx_ref(struct tls_ctx *t)
{
	atomic_fetch_add(&t->refs, 1);
	return t;
}

void
tls_ctx_free(struct tls_ctx *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	/* Sessions hold their own reference to the SSL_CTX. */
	SSL_CTX_free(t->ssl_ctx);
	for (size_t i = 0; i < t->nresume; i++) {
		SSL_SESSION_free(t->resume[i].sess);
		free(t->resume[i].host);
	}
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* ---- client sessions to resume ------------------------------------------- */

/* OpenSSL's new-session callback (client role): keep the session for its
 * host, replacing the one before; 1 = we keep the reference. */
static int
tls_resume_store(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_ctx *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct tls_sess *s = SSL_get_app_data(ssl);
	struct tls_resume *e = NULL;
	char *host;

	if (t == NULL || s == NULL || s->host == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->nresume && !e; i++)
		if (strcmp(t->resume[i].host, s->host) == 0)
			e = &t->resume[i];
	if (e == NULL && t->nresume < TLS_RESUME_HOSTS) {
		if ((host = strdup(s->host)) != NULL) {
			e = &t->resume[t->nresume++];
			*e = (struct tls_resume){ .host = host };
		}
	} else if (e == NULL) {
		/* Full: the host resumed least recently gives way. */
		e = &t->resume[0];
		for (size_t i = 1; i < t->nresume; i++)
			if (t->resume[i].used < e->used)
				e = &t->resume[i];
		if ((host = strdup(s->host)) != NULL) {
			free(e->host);
			e->host = host;
		} else {
			e = NULL;
		}
	}
	if (e != NULL) {
		SSL_SESSION_free(e->sess);
		e->sess = sess;
		e->used = ++t->clock;
	}
	pthread_mutex_unlock(&t->mu);
	return e != NULL;
}

/* The session kept for host, taken out (a TLS 1.3 ticket is for one use,
 * RFC 8446 §C.4; the connection that uses it stores its successor); NULL
 * if none. */
static SSL_SESSION *
tls_resume_take(struct tls_ctx *t, const char *host)
{
	SSL_SESSION *sess = NULL;

	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->nresume; i++)
		if (strcmp(t->resume[i].host, host) == 0) {
			sess = t->resume[i].sess;
			t->resume[i].sess = NULL;
			t->resume[i].used = ++t->clock;
			break;
		}
	pthread_mutex_unlock(&t->mu);
	return sess;
}

static bool
tls_is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int
tls_sess_new(struct tls_ctx *ctx, const char *host, bool require_peer_cert,
    struct tls_sess **out)
{
	struct tls_sess *s = NULL;
	BIO *bio;
	int r;

	if (ctx == NULL || out == NULL || (!ctx->server && (host == NULL || host[0] == '\0')))
		return -EINVAL;
	pthread_once(&tls_bio_once, tls_bio_method_init);
	if (tls_bio_method == NULL)
		return -ENOMEM;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	/* A ticket may come long after the handshake (TLS 1.3), and the
	 * callback that keeps it reaches this context: hold it. */
	s->ctx = tls_ctx_ref(ctx);
	ERR_clear_error();
	if ((s->ssl = SSL_new(ctx->ssl_ctx)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((bio = BIO_new(tls_bio_method)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	BIO_set_data(bio, s);
	SSL_set_bio(s->ssl, bio, bio);
	if (ctx->server) {
		if (require_peer_cert || ctx->require_client_cert)
			SSL_set_verify(s->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT |
			    SSL_VERIFY_CLIENT_ONCE, NULL);
		else
			SSL_set_verify(s->ssl, SSL_VERIFY_NONE, NULL);
		SSL_set_accept_state(s->ssl);
	} else {
		if (!tls_is_ip_literal(host) && SSL_set_tlsext_host_name(s->ssl, host) != 1) {
			r = -EINVAL;
			goto out;
		}
		/* RFC 5922 §7.2: the certificate must name the host we dialled;
		 * wildcards are not acceptable for SIP domains. */
		SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_WILDCARDS);
		if (SSL_set1_host(s->ssl, host) != 1) {
			r = -EINVAL;
			goto out;
		}
		if ((s->host = strdup(host)) == NULL) {
			r = -ENOMEM;
			goto out;
		}
		SSL_set_app_data(s->ssl, s);
		{
			SSL_SESSION *sess = tls_resume_take(ctx, host);

			if (sess != NULL) {
				if (SSL_SESSION_is_resumable(sess))
					(void)SSL_set_session(s->ssl, sess);
				SSL_SESSION_free(sess);
			}
		}
		SSL_set_connect_state(s->ssl);
	}
	*out = s;
	s = NULL;
	r = 0;
out:
	ERR_clear_error();
	tls_sess_free(s);
	return r;
}

static void
tls_names_free(struct tls_sess *s)
{
	for (size_t i = 0; i < s->nnames; i++)
		free(s->names[i]);
	free(s->names);
	s->names = NULL;
	s->nnames = 0;
}

void
tls_sess_free(struct tls_sess *s)
{
	if (s == NULL)
		return;
	SSL_free(s->ssl);
	tls_ctx_free(s->ctx);
	free(s->host);
	free(s->out);
	tls_names_free(s);
	free(s);
}

void
tls_sess_input(struct tls_sess *s, const void *buf, size_t len)
{
	s->in = buf;
	s->inlen = buf ? len : 0;
}

/* Add name in canonical form (lower case, no trailing dot); skip junk. */
static void
tls_names_add(struct tls_sess *s, const unsigned char *p, size_t len)
{
	char *n, **v;

	while (len > 0 && p[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || s->nnames >= TLS_MAX_PEER_NAMES)
		return;
	for (size_t i = 0; i < len; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f)
			return;
	if ((n = malloc(len + 1)) == NULL)
		return;
	for (size_t i = 0; i < len; i++)
		n[i] = (char)tolower(p[i]);
	n[len] = '\0';
	if ((v = realloc(s->names, (s->nnames + 1) * sizeof(*v))) == NULL) {
		free(n);
		return;
	}
	s->names = v;
	s->names[s->nnames++] = n;
}

/* The names of the peer's certificate: SAN dNSNames or, without any, the
 * subject CN (RFC 5922 §7.1); verified or not, as the caller says. */
static void
tls_names_read(struct tls_sess *s, X509 *peer)
{
	GENERAL_NAMES *sans;

	tls_names_free(s);
	if ((sans = X509_get_ext_d2i(peer, NID_subject_alt_name, NULL, NULL)) != NULL) {
		for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

			if (g->type == GEN_DNS)
				tls_names_add(s, ASN1_STRING_get0_data(g->d.dNSName),
				    (size_t)ASN1_STRING_length(g->d.dNSName));
		}
		GENERAL_NAMES_free(sans);
	}
	if (s->nnames == 0) {
		X509_NAME *subj = X509_get_subject_name(peer);
		int i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
		unsigned char *cn = NULL;
		int len;

		if (i >= 0 && (len = ASN1_STRING_to_UTF8(&cn,
		    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)))) > 0)
			tls_names_add(s, cn, (size_t)len);
		OPENSSL_free(cn);
	}
	ERR_clear_error();
}

/* The identity of a verified peer. */
static void
tls_names_collect(struct tls_sess *s)
{
	X509 *peer = SSL_get0_peer_certificate(s->ssl);

	tls_names_free(s);
	if (peer == NULL || SSL_get_verify_result(s->ssl) != X509_V_OK)
		return;
	s->verified = true;
	tls_names_read(s, peer);
}

/* Describe a failed handshake or read in detail; returns the status. */
static int
tls_failure(struct tls_sess *s, char *detail, size_t dlen)
{
	long vr = SSL_get_verify_result(s->ssl);
	unsigned long e = ERR_peek_last_error();
	int r = -EPROTO;

	if (vr != X509_V_OK) {
		snprintf(detail, dlen, "certificate verify failed: %s",
		    X509_verify_cert_error_string(vr));
		s->fail = TLS_FAIL_UNTRUSTED;
		if (vr == X509_V_ERR_HOSTNAME_MISMATCH) {
			/* A client that refused the certificate has not stored it
			 * as the peer's; the chain it received has it first. */
			STACK_OF(X509) *chain = SSL_get_peer_cert_chain(s->ssl);
			X509 *peer = SSL_get0_peer_certificate(s->ssl);

			if (peer == NULL && chain != NULL && sk_X509_num(chain) > 0)
				peer = sk_X509_value(chain, 0);
			s->fail = TLS_FAIL_NAME;
			r = -EACCES;
			/* Say what it names instead (an administrator's first
			 * question); the names are not the session's identity. */
			if (peer != NULL) {
				size_t n = strlen(detail);

				tls_names_read(s, peer);
				for (size_t i = 0; i < s->nnames && n + 4 < dlen; i++)
					n += (size_t)snprintf(detail + n, dlen - n, "%s%s%s",
					    i ? ", " : " (it names ", s->names[i],
					    i + 1 == s->nnames ? ")" : "");
				tls_names_free(s);
			}
		}
	} else {
		snprintf(detail, dlen, "%s", tls_err_reason("connection failed"));
		/* Our own check of a client certificate (TLS 1.2 and 1.3 alike),
		 * or the alert of a server that wanted ours. */
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    (ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE ||
		    ERR_GET_REASON(e) == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED))
			s->fail = TLS_FAIL_NO_CERT;
		else
			s->fail = TLS_FAIL_PROTOCOL;
	}
	ERR_clear_error();
	/* The stream cannot be used any more: drop what is left of the input. */
	tls_sess_input(s, NULL, 0);
	return r;
}

int
tls_sess_handshake(struct tls_sess *s, char *detail, size_t dlen)
{
	int r, e;

	ERR_clear_error();
	if ((r = SSL_do_handshake(s->ssl)) == 1) {
		tls_names_collect(s);
		return 1;
	}
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		return 0;
	}
	return tls_failure(s, detail, dlen);
}

enum tls_fail
tls_sess_fail(const struct tls_sess *s)
{
	return s->fail;
}

long
tls_sess_read(struct tls_sess *s, void *buf, size_t len, char *detail, size_t dlen)
{
	size_t n = 0;
	int e;

	ERR_clear_error();
	if (SSL_read_ex(s->ssl, buf, len, &n) == 1)
		return (long)n;
	e = SSL_get_error(s->ssl, 0);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		return 0;
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
		tls_sess_input(s, NULL, 0);
		return -EPIPE;
	}
	return tls_failure(s, detail, dlen);
}

int
tls_sess_write(struct tls_sess *s, const void *buf, size_t len)
{
	size_t n = 0;

	if (len == 0)
		return 0;
	ERR_clear_error();
	/* The BIO never blocks, so the whole buffer is encrypted at once. */
	if (SSL_write_ex(s->ssl, buf, len, &n) != 1 || n != len) {
		ERR_clear_error();
		return -EPROTO;
	}
	return 0;
}

void
tls_sess_close_notify(struct tls_sess *s)
{
	ERR_clear_error();
	/* Only after a completed handshake; otherwise OpenSSL has nothing to say. */
	if (SSL_is_init_finished(s->ssl))
		(void)SSL_shutdown(s->ssl);
	ERR_clear_error();
}

size_t
tls_sess_output(struct tls_sess *s, char **buf)
{
	size_t n = s->outlen;

	if (n == 0)
		return 0;
	*buf = s->out;
	s->out = NULL;
	s->outlen = s->outcap = 0;
	return n;
}

void
tls_sess_peer_names(const struct tls_sess *s, const char *const **names, size_t *n)
{
	*names = (const char *const *)s->names;
	*n = s->nnames;
}

int
tls_sess_peer_matches(const struct tls_sess *s, const char *fqdn)
{
	X509 *peer;
	int r;

	if (!s->verified || fqdn == NULL || (peer = SSL_get0_peer_certificate(s->ssl)) == NULL)
		return 0;
	r = X509_check_host(peer, fqdn, 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
	ERR_clear_error();
	return r;
}

/* A server session of XMPP asks for the peer's certificate but finishes the
 * handshake whatever it is: the stream decides afterwards whether SASL
 * EXTERNAL may be offered (XEP-0178 §3) or dialback must do. */
static int
tls_accept_any(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

int
tls_sess_xmpp(struct tls_sess *s)
{
	if (s->ctx->server)
		SSL_set_verify(s->ssl, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, tls_accept_any);
	else
		/* RFC 6125 §6.4.3 (RFC 6120 §13.7.1.2): a wildcard stands for
		 * one whole left-most label. */
		SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	s->xmpp = true;
	return 0;
}

int
tls_sess_alpn(struct tls_sess *s, const char *proto)
{
	unsigned char wire[256];
	size_t n = strlen(proto);

	if (s->ctx->server || n == 0 || n > 255)
		return -EINVAL;
	wire[0] = (unsigned char)n;
	memcpy(wire + 1, proto, n);
	/* SSL_set_alpn_protos returns 0 on success. */
	return SSL_set_alpn_protos(s->ssl, wire, (unsigned)n + 1) == 0 ? 0 : -ENOMEM;
}

int
tls_sess_peer_check(const struct tls_sess *s, const char *domain, char *why, size_t len)
{
	X509 *peer = SSL_get0_peer_certificate(s->ssl);
	long vr;
	int r;

	if (peer == NULL) {
		snprintf(why, len, "the peer sent no certificate");
		return -ENOENT;
	}
	if ((vr = SSL_get_verify_result(s->ssl)) != X509_V_OK) {
		snprintf(why, len, "the peer's certificate is not valid: %s",
		    X509_verify_cert_error_string(vr));
		return -EACCES;
	}
	r = X509_check_host(peer, domain, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
	ERR_clear_error();
	if (r == 1)
		return 0;
	{
		size_t n = (size_t)snprintf(why, len, "the peer's certificate does not name %s", domain);

		for (size_t i = 0; i < s->nnames && n + 4 < len; i++)
			n += (size_t)snprintf(why + n, len - n, "%s%s%s", i ? ", " : " (it names ",
			    s->names[i], i + 1 == s->nnames ? ")" : "");
	}
	return -EPERM;
}

bool
tls_sess_resumed(const struct tls_sess *s)
{
	return SSL_session_reused(s->ssl) == 1;
}

const char *
tls_sess_version(const struct tls_sess *s)
{
	return SSL_get_version(s->ssl);
}

const char *
tls_sess_cipher(const struct tls_sess *s)
{
	return SSL_get_cipher_name(s->ssl);
}
