/* certcheck.c: checks of the edge's own certificate against what federation
 * needs (SEEDS.md "Certificates"; RFC 5280 §4.2.1.6 subjectAltName, §4.2.1.12
 * extKeyUsage; RFC 5922 §7.1 SIP domain certificates; XEP-0178 and RFC 6120
 * §13.7.1.2 for the XMPP domains), and a summary of a certificate.  Reads
 * the certificate, key and CA bundle files it is given; nothing else. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sipedge/certcheck.h"
#include "sipedge/tls.h"
#include "sipedge/log.h"
#include "sipedge/names.h"

static const char *const id_names[CERTCHECK_N] = {
	[CERTCHECK_CERTIFICATE] = "certificate",
	[CERTCHECK_SUBJECT] = "subject",
	[CERTCHECK_SIP_DOMAINS] = "sip-domains",
	[CERTCHECK_XMPP_DOMAINS] = "xmpp-domains",
	[CERTCHECK_INTERNAL_FQDN] = "internal-fqdn",
	[CERTCHECK_WILDCARD] = "wildcard",
	[CERTCHECK_EKU_SERVER] = "eku-server",
	[CERTCHECK_EKU_CLIENT] = "eku-client",
	[CERTCHECK_KEY_STRENGTH] = "key-strength",
	[CERTCHECK_CHAIN] = "chain",
	[CERTCHECK_KEY_MATCH] = "key-match",
	[CERTCHECK_EXPIRY] = "expiry",
};

const char *
certcheck_id_name(enum certcheck_id id)
{
	return (unsigned)id < CERTCHECK_N ? id_names[id] : "?";
}

const char *
certcheck_level_name(enum certcheck_level level)
{
	switch (level) {
	case CERTCHECK_OK:
		return "ok";
	case CERTCHECK_WARNING:
		return "warning";
	case CERTCHECK_ERROR:
		return "error";
	}
	return "?";
}

/* ------------------------------------------------------------ reading files */

/* The certificate being checked: the leaf, the rest of its file (intermediates,
 * sent to peers with it), and its names.  Owns everything. */
struct cert {
	X509 *leaf;
	STACK_OF(X509) *chain;
	char cn[NAMES_MAX + 64];           /* "" when there is none */
	char **sans;                       /* dNSNames as written */
	size_t nsans;
};

/* Open a file for reading as a BIO, turning a failure into an errno. */
static int
open_bio(const char *path, BIO **out)
{
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -errno;
	if ((*out = BIO_new_fp(f, BIO_CLOSE)) == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	return 0;
}

/* Never ask for a passphrase: an encrypted key is reported, not prompted for
 * (sipedge cannot use one either). */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int
strv_add(char ***v, size_t *n, const char *s, size_t len)
{
	char **nv, *d;

	if ((d = strndup(s, len)) == NULL)
		return -ENOMEM;
	if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL) {
		free(d);
		return -ENOMEM;
	}
	nv[(*n)++] = d;
	*v = nv;
	return 0;
}

static void
strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The SAN dNSNames of x, as written (names with a NUL inside are skipped:
 * no peer would match them). */
static int
cert_sans(X509 *x, char ***out, size_t *n)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int rc = 0;

	*out = NULL;
	*n = 0;
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens) && rc == 0; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *p;
		int len;

		if (g->type != GEN_DNS)
			continue;
		p = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		if (len <= 0 || memchr(p, '\0', (size_t)len) != NULL)
			continue;
		rc = strv_add(out, n, (const char *)p, (size_t)len);
	}
	GENERAL_NAMES_free(gens);
	if (rc != 0) {
		strv_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* The (first) subject CN of x in UTF-8, or "". */
static void
cert_cn(X509 *x, char *buf, size_t len)
{
	const X509_NAME *name = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int n;

	buf[0] = '\0';
	if (i < 0)
		return;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (n > 0 && memchr(utf8, '\0', (size_t)n) == NULL)
		snprintf(buf, len, "%.*s", n, (const char *)utf8);
	OPENSSL_free(utf8);
}

static void
cert_free(struct cert *k)
{
	X509_free(k->leaf);
	sk_X509_pop_free(k->chain, X509_free);
	strv_free(k->sans, k->nsans);
	memset(k, 0, sizeof(*k));
}

/* Read a PEM file: its first certificate is the leaf, the others its chain. */
static int
cert_load(const char *path, struct cert *k, char *err, size_t errlen)
{
	BIO *b = NULL;
	X509 *x;
	int rc;

	memset(k, 0, sizeof(*k));
	if ((rc = open_bio(path, &b)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	ERR_clear_error();
	if ((k->leaf = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) == NULL) {
		snprintf(err, errlen, "%s: no PEM certificate in it (%s)", path,
		    tls_err_reason("no start line"));
		rc = -EINVAL;
		goto out;
	}
	if ((k->chain = sk_X509_new_null()) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) != NULL)
		if (!sk_X509_push(k->chain, x)) {
			X509_free(x);
			rc = -ENOMEM;
			goto out;
		}
	/* The end of the file ends the loop with a "no start line" error. */
	ERR_clear_error();
	cert_cn(k->leaf, k->cn, sizeof(k->cn));
	rc = cert_sans(k->leaf, &k->sans, &k->nsans);
out:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
	if (rc < 0)
		cert_free(k);
	BIO_free(b);
	return rc;
}

/* ----------------------------------------------------------------- helpers */

/* Two DNS names are the same without regard to case or a trailing dot. */
static bool
same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static bool
has_san(const struct cert *k, const char *name)
{
	for (size_t i = 0; i < k->nsans; i++)
		if (same_name(k->sans[i], name))
			return true;
	return false;
}

/* Append ", s" (or s first) to buf, truncating quietly. */
static void
list_add(char *buf, size_t len, const char *s)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, "%s%s", used ? ", " : "", s);
}

/* "2026-05-01T10:00:00Z". */
static const char *
utc(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
	return buf;
}

static int
asn1_time(const ASN1_TIME *a, time_t *out)
{
	struct tm tm;

	if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1)
		return -EINVAL;
	*out = timegm(&tm);
	return 0;
}

/* A name as RFC 2253 text ("CN=sip.contoso.com,O=Contoso"). */
static void
name_str(const X509_NAME *name, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	buf[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_read(b, buf, (int)len - 1)) > 0)
		buf[n] = '\0';
	BIO_free(b);
}

/* The serial number in upper-case hex. */
static void
serial_str(X509 *x, char *buf, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	snprintf(buf, len, "%s", hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

/* "RSA 2048", "ECDSA P-256"; *strong: at least RSA 2048 or ECDSA P-256. */
static void
key_desc(EVP_PKEY *pk, char *buf, size_t len, bool *strong)
{
	char group[64] = "";
	int bits = EVP_PKEY_get_bits(pk);

	*strong = false;
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		snprintf(buf, len, "RSA %d", bits);
		*strong = bits >= 2048;
		return;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) != 1)
			snprintf(group, sizeof(group), "?");
		ERR_clear_error();
		/* The NIST curves TLS 1.3 and every SIP peer know (RFC 8446
		 * §4.2.7); a smaller or exotic curve is refused by partners. */
		if (strcmp(group, "prime256v1") == 0 || strcmp(group, "secp384r1") == 0 ||
		    strcmp(group, "secp521r1") == 0) {
			*strong = true;
			snprintf(buf, len, "ECDSA P-%s", strcmp(group, "prime256v1") == 0 ? "256" :
			    strcmp(group, "secp384r1") == 0 ? "384" : "521");
		} else {
			snprintf(buf, len, "ECDSA %s", group);
		}
		return;
	case EVP_PKEY_ED25519:
		snprintf(buf, len, "Ed25519");
		return;
	case EVP_PKEY_ED448:
		snprintf(buf, len, "Ed448");
		return;
	default:
		snprintf(buf, len, "%s %d", OBJ_nid2sn(EVP_PKEY_get_base_id(pk)), bits);
		return;
	}
}

/* ------------------------------------------------------------------ checks */

static void
set(struct certcheck_report *r, enum certcheck_id id, enum certcheck_level level,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
set(struct certcheck_report *r, enum certcheck_id id, enum certcheck_level level,
    const char *fmt, ...)
{
	struct certcheck_result *res = &r->results[r->n++];
	va_list ap;

	res->id = id;
	res->level = level;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	if (level == CERTCHECK_ERROR)
		r->nerrors++;
	else if (level == CERTCHECK_WARNING)
		r->nwarnings++;
}

static void
check_subject(const struct conf *c, const struct cert *k, struct certcheck_report *r)
{
	if (k->cn[0] == '\0')
		set(r, CERTCHECK_SUBJECT, CERTCHECK_ERROR, "no subject CN; it must be the edge "
		    "FQDN %s", c->edge_fqdn);
	else if (!same_name(k->cn, c->edge_fqdn))
		set(r, CERTCHECK_SUBJECT, CERTCHECK_ERROR, "subject CN %s is not the edge FQDN %s",
		    k->cn, c->edge_fqdn);
	else if (!has_san(k, k->cn))
		/* Peers that find a SAN extension look only at it (RFC 5922
		 * §7.1, RFC 6125 §6.4.4): the name must be there too. */
		set(r, CERTCHECK_SUBJECT, CERTCHECK_ERROR, "subject CN %s is not repeated in the "
		    "SANs (%s); peers look only at the SANs", k->cn,
		    k->nsans ? "other names only" : "there are none");
	else
		set(r, CERTCHECK_SUBJECT, CERTCHECK_OK, "subject CN %s is the edge FQDN, repeated "
		    "in the SANs", k->cn);
}

/* Partners and clients look for sip.<domain> (the name the reference system's
 * certificate wizard puts in for each SIP domain); an edge without it still
 * works for partners that find it by SRV under another name, hence a warning. */
static void
check_sip_domains(const struct conf *c, const struct cert *k, struct certcheck_report *r)
{
	char missing[400] = "", present[400] = "", name[NAMES_MAX + 8];

	for (size_t i = 0; i < c->ndomains; i++) {
		snprintf(name, sizeof(name), "sip.%s", c->domains[i]);
		list_add(has_san(k, name) ? present : missing, sizeof(missing), name);
	}
	if (c->ndomains == 0)
		set(r, CERTCHECK_SIP_DOMAINS, CERTCHECK_OK, "no sip-domain configured");
	else if (missing[0])
		set(r, CERTCHECK_SIP_DOMAINS, CERTCHECK_WARNING, "not in the SANs: %s (partners "
		    "and clients look for sip.<domain> for each SIP domain)", missing);
	else
		set(r, CERTCHECK_SIP_DOMAINS, CERTCHECK_OK, "in the SANs: %s", present);
}

/* An XMPP server authenticates a domain, not a host: a partner's server
 * accepts SASL EXTERNAL from us, and SASL EXTERNAL or dialback on our
 * listener, only when our certificate names the XMPP domain itself
 * (XEP-0178 §3 and §4, RFC 6120 §13.7.1.2), which for the gateway is each
 * SIP domain (RFC 7247 §6): the edge's FQDN or sip.<domain> is not enough.
 * A wildcard does not count: it does not cover the domain's own name.  A
 * missing name is a warning, as for sip-domains: the edge runs, and dialback
 * may still do for partners that allow it.  Without an XMPP listener the
 * check does not apply. */
static void
check_xmpp_domains(const struct conf *c, const struct cert *k, struct certcheck_report *r)
{
	char missing[400] = "", present[400] = "";

	if (c->nxmpp_listeners == 0) {
		set(r, CERTCHECK_XMPP_DOMAINS, CERTCHECK_OK, "no XMPP listener configured");
		return;
	}
	for (size_t i = 0; i < c->ndomains; i++)
		list_add(has_san(k, c->domains[i]) ? present : missing, sizeof(missing),
		    c->domains[i]);
	if (c->ndomains == 0)
		set(r, CERTCHECK_XMPP_DOMAINS, CERTCHECK_WARNING, "listen xmpp is configured but no "
		    "sip-domain: there is no XMPP domain for the certificate to name");
	else if (missing[0])
		set(r, CERTCHECK_XMPP_DOMAINS, CERTCHECK_WARNING, "not in the SANs: %s (XMPP partners "
		    "authenticate the XMPP domain itself, XEP-0178: SASL EXTERNAL with them fails)",
		    missing);
	else
		set(r, CERTCHECK_XMPP_DOMAINS, CERTCHECK_OK, "in the SANs: %s (XEP-0178)", present);
}

/* The same certificate serves the internal listeners: pool servers verify the
 * name they dial there. */
static void
check_internal_fqdn(const struct conf *c, const struct cert *k, struct certcheck_report *r)
{
	if (c->internal_fqdn[0] == '\0' || same_name(c->internal_fqdn, c->edge_fqdn))
		set(r, CERTCHECK_INTERNAL_FQDN, CERTCHECK_OK, "the internal FQDN is the edge FQDN");
	else if (has_san(k, c->internal_fqdn))
		set(r, CERTCHECK_INTERNAL_FQDN, CERTCHECK_OK, "internal FQDN %s is in the SANs",
		    c->internal_fqdn);
	else
		set(r, CERTCHECK_INTERNAL_FQDN, CERTCHECK_WARNING, "internal FQDN %s is not in the "
		    "SANs; pool servers that dial it cannot verify the edge", c->internal_fqdn);
}

static void
check_wildcard(const struct cert *k, struct certcheck_report *r)
{
	char found[400] = "";

	if (!names_wildcard_free(k->cn))
		list_add(found, sizeof(found), k->cn);
	for (size_t i = 0; i < k->nsans; i++)
		if (!names_wildcard_free(k->sans[i]) && !same_name(k->sans[i], k->cn))
			list_add(found, sizeof(found), k->sans[i]);
	if (found[0])
		set(r, CERTCHECK_WILDCARD, CERTCHECK_ERROR, "wildcard name %s; the external edge "
		    "certificate must name each host", found);
	else
		set(r, CERTCHECK_WILDCARD, CERTCHECK_OK, "no wildcard name");
}

/* serverAuth: partners and the pool verify us as a server.  clientAuth: the
 * edge is a TLS client whenever it dials a partner's edge or a pool server,
 * always with mutual TLS; a peer that checks the purpose of client
 * certificates (OpenSSL's default, sipedge's own listeners without eku-any,
 * public IM providers that require the client EKU) refuses the handshake.  So
 * a missing clientAuth is an error: outbound federation fails with it. */
static void
check_eku(const struct cert *k, struct certcheck_report *r)
{
	uint32_t xku = X509_get_extended_key_usage(k->leaf);

	if (!(X509_get_extension_flags(k->leaf) & EXFLAG_XKUSAGE)) {
		/* RFC 5280 §4.2.1.12: no extension, any purpose. */
		set(r, CERTCHECK_EKU_SERVER, CERTCHECK_OK, "no extended key usage extension "
		    "(any purpose, RFC 5280 4.2.1.12)");
		set(r, CERTCHECK_EKU_CLIENT, CERTCHECK_WARNING, "no extended key usage extension; "
		    "providers that require the client EKU look for clientAuth");
		return;
	}
	if (xku & XKU_SSL_SERVER)
		set(r, CERTCHECK_EKU_SERVER, CERTCHECK_OK, "serverAuth");
	else
		set(r, CERTCHECK_EKU_SERVER, CERTCHECK_ERROR, "no serverAuth in the extended key "
		    "usage; partners and the pool refuse the edge as a server");
	if (xku & XKU_SSL_CLIENT)
		set(r, CERTCHECK_EKU_CLIENT, CERTCHECK_OK, "clientAuth");
	else
		set(r, CERTCHECK_EKU_CLIENT, CERTCHECK_ERROR, "no clientAuth in the extended key "
		    "usage; the edge is a TLS client when it dials partners, which refuse it");
}

static void
check_key_strength(const struct cert *k, struct certcheck_report *r)
{
	EVP_PKEY *pk = X509_get0_pubkey(k->leaf);
	char desc[64];
	bool strong;

	if (pk == NULL) {
		set(r, CERTCHECK_KEY_STRENGTH, CERTCHECK_ERROR, "cannot read the public key: %s",
		    tls_err_reason("unknown key type"));
		return;
	}
	key_desc(pk, desc, sizeof(desc), &strong);
	if (strong)
		set(r, CERTCHECK_KEY_STRENGTH, CERTCHECK_OK, "%s", desc);
	else
		set(r, CERTCHECK_KEY_STRENGTH, CERTCHECK_ERROR, "%s; at least RSA 2048 or ECDSA "
		    "P-256 is needed", desc);
}

/* The leaf's own validity is the expiry check's; here only the rest of the
 * chain's dates count. */
static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
	int e = X509_STORE_CTX_get_error(ctx);

	if (!ok && X509_STORE_CTX_get_error_depth(ctx) == 0 &&
	    (e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID))
		return 1;
	return ok;
}

static void
check_chain(const struct conf *c, const struct cert *k, time_t now, struct certcheck_report *r)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	char subj[256], top[256];

	if (c->ca_bundle[0] == '\0') {
		set(r, CERTCHECK_CHAIN, CERTCHECK_ERROR, "no ca-bundle configured to verify it");
		return;
	}
	if (access(c->ca_bundle, R_OK) < 0) {
		set(r, CERTCHECK_CHAIN, CERTCHECK_ERROR, "CA bundle %s: %s", c->ca_bundle,
		    strerror(errno));
		return;
	}
	ERR_clear_error();
	if ((store = X509_STORE_new()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL) {
		set(r, CERTCHECK_CHAIN, CERTCHECK_ERROR, "out of memory");
		goto out;
	}
	if (X509_STORE_load_file(store, c->ca_bundle) != 1) {
		set(r, CERTCHECK_CHAIN, CERTCHECK_ERROR, "CA bundle %s: cannot load: %s",
		    c->ca_bundle, tls_err_reason("no certificate found"));
		goto out;
	}
	X509_STORE_set_verify_cb(store, verify_cb);
	if (X509_STORE_CTX_init(ctx, store, k->leaf, k->chain) != 1) {
		set(r, CERTCHECK_CHAIN, CERTCHECK_ERROR, "cannot verify: %s", tls_err_reason("?"));
		goto out;
	}
	X509_STORE_CTX_set_time(ctx, 0, now);
	if (X509_verify_cert(ctx) == 1) {
		STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx);
		int n = sk_X509_num(built);

		name_str(X509_get_subject_name(sk_X509_value(built, n - 1)), top, sizeof(top));
		set(r, CERTCHECK_CHAIN, CERTCHECK_OK, "verifies against %s (%d certificate%s, up to "
		    "%s)", c->ca_bundle, n, n == 1 ? "" : "s", top);
	} else {
		int e = X509_STORE_CTX_get_error(ctx);
		X509 *at = X509_STORE_CTX_get_current_cert(ctx);

		name_str(X509_get_subject_name(at ? at : k->leaf), subj, sizeof(subj));
		set(r, CERTCHECK_CHAIN, CERTCHECK_ERROR, "does not verify against %s: %s (at %s)",
		    c->ca_bundle, X509_verify_cert_error_string(e), subj);
	}
	ERR_clear_error();
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
}

static void
check_key_match(const char *path, const struct cert *k, struct certcheck_report *r)
{
	EVP_PKEY *pk = NULL;
	struct stat st;
	BIO *b = NULL;
	int rc;

	if (path == NULL || path[0] == '\0') {
		set(r, CERTCHECK_KEY_MATCH, CERTCHECK_ERROR, "no private-key configured");
		return;
	}
	if ((rc = open_bio(path, &b)) < 0) {
		set(r, CERTCHECK_KEY_MATCH, CERTCHECK_ERROR, "private key %s: %s", path,
		    strerror(-rc));
		return;
	}
	ERR_clear_error();
	if ((pk = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL)) == NULL)
		set(r, CERTCHECK_KEY_MATCH, CERTCHECK_ERROR, "private key %s: no unencrypted PEM "
		    "private key in it (%s)", path, tls_err_reason("no start line"));
	else if (X509_check_private_key(k->leaf, pk) != 1)
		set(r, CERTCHECK_KEY_MATCH, CERTCHECK_ERROR, "private key %s does not match the "
		    "certificate", path);
	/* sipedge refuses such a key file (tls.c), so say it here too. */
	else if (stat(path, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)))
		set(r, CERTCHECK_KEY_MATCH, CERTCHECK_ERROR, "private key %s matches but is "
		    "readable by group or others (mode %03o; chmod 600)", path,
		    (unsigned)(st.st_mode & 0777));
	else
		set(r, CERTCHECK_KEY_MATCH, CERTCHECK_OK, "private key %s matches", path);
	ERR_clear_error();
	EVP_PKEY_free(pk);
	BIO_free(b);
}

static void
check_expiry(const struct cert *k, time_t now, struct certcheck_report *r)
{
	time_t nb, na;
	char when[32];
	long days;

	if (asn1_time(X509_get0_notBefore(k->leaf), &nb) < 0 ||
	    asn1_time(X509_get0_notAfter(k->leaf), &na) < 0) {
		set(r, CERTCHECK_EXPIRY, CERTCHECK_ERROR, "unreadable validity dates");
		return;
	}
	days = (long)((na - now) / 86400);
	if (now < nb)
		set(r, CERTCHECK_EXPIRY, CERTCHECK_ERROR, "not valid before %s",
		    utc(nb, when, sizeof(when)));
	else if (now > na)
		set(r, CERTCHECK_EXPIRY, CERTCHECK_ERROR, "expired on %s (%ld day%s ago)",
		    utc(na, when, sizeof(when)), -days, days == -1 ? "" : "s");
	else if (na - now < (time_t)CERTCHECK_EXPIRY_WARN_DAYS * 86400)
		set(r, CERTCHECK_EXPIRY, CERTCHECK_WARNING, "expires on %s, in %ld day%s: renew it",
		    utc(na, when, sizeof(when)), days, days == 1 ? "" : "s");
	else
		set(r, CERTCHECK_EXPIRY, CERTCHECK_OK, "valid until %s (%ld days)",
		    utc(na, when, sizeof(when)), days);
}

int
certcheck_run(const struct conf *c, const char *certificate, const char *private_key,
    time_t now, struct certcheck_report *out)
{
	struct cert k;
	char err[400], serial[96], issuer[256];
	int rc;

	if (certificate == NULL)
		certificate = c->certificate;
	if (private_key == NULL)
		private_key = c->private_key;
	if (certificate[0] == '\0')
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if ((rc = cert_load(certificate, &k, err, sizeof(err))) < 0) {
		if (rc == -ENOMEM)
			return rc;
		set(out, CERTCHECK_CERTIFICATE, CERTCHECK_ERROR, "%s", err);
		return 0;
	}
	serial_str(k.leaf, serial, sizeof(serial));
	name_str(X509_get_issuer_name(k.leaf), issuer, sizeof(issuer));
	set(out, CERTCHECK_CERTIFICATE, CERTCHECK_OK, "%s: serial %s, issued by %s", certificate,
	    serial, issuer);
	check_subject(c, &k, out);
	check_sip_domains(c, &k, out);
	check_xmpp_domains(c, &k, out);
	check_internal_fqdn(c, &k, out);
	check_wildcard(&k, out);
	check_eku(&k, out);
	check_key_strength(&k, out);
	check_chain(c, &k, now, out);
	check_key_match(private_key, &k, out);
	check_expiry(&k, now, out);
	cert_free(&k);
	return 0;
}

size_t
certcheck_log(const struct conf *c, time_t now)
{
	struct certcheck_report r;
	int rc;

	if (c->certificate[0] == '\0')
		return 0;
	if ((rc = certcheck_run(c, NULL, NULL, now, &r)) < 0) {
		log_warnx("%s: certificate %s: cannot check it: %s", __func__, c->certificate,
		    strerror(-rc));
		return 0;
	}
	for (size_t i = 0; i < r.n; i++)
		if (r.results[i].level != CERTCHECK_OK)
			log_warnx("%s: certificate %s: %s: %s: %s", __func__, c->certificate,
			    certcheck_level_name(r.results[i].level),
			    certcheck_id_name(r.results[i].id), r.results[i].message);
	return r.nerrors;
}

/* -------------------------------------------------------------------- info */

void
certcheck_info_free(struct certcheck_info *info)
{
	strv_free(info->sans, info->nsans);
	memset(info, 0, sizeof(*info));
}

int
certcheck_info_load(const char *path, struct certcheck_info *out, char *err, size_t errlen)
{
	struct cert k;
	EVP_PKEY *pk;
	bool strong;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cert_load(path, &k, err, errlen)) < 0)
		return rc;
	if (asn1_time(X509_get0_notBefore(k.leaf), &out->not_before) < 0 ||
	    asn1_time(X509_get0_notAfter(k.leaf), &out->not_after) < 0) {
		snprintf(err, errlen, "%s: unreadable validity dates", path);
		cert_free(&k);
		return -EINVAL;
	}
	serial_str(k.leaf, out->serial, sizeof(out->serial));
	name_str(X509_get_subject_name(k.leaf), out->subject, sizeof(out->subject));
	name_str(X509_get_issuer_name(k.leaf), out->issuer, sizeof(out->issuer));
	if ((pk = X509_get0_pubkey(k.leaf)) != NULL)
		key_desc(pk, out->key, sizeof(out->key), &strong);
	else
		snprintf(out->key, sizeof(out->key), "?");
	ERR_clear_error();
	/* The names move to the info. */
	out->sans = k.sans;
	out->nsans = k.nsans;
	k.sans = NULL;
	k.nsans = 0;
	cert_free(&k);
	return 0;
}
