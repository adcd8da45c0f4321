/* test_certcheck.c: unit tests for certcheck.c: each check failing and passing,
 * on certificates made here with the OpenSSL API (a CA, leaves with chosen
 * names, EKU, key and dates), written to a private temporary directory. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sipedge/certcheck.h"
#include "sipedge/log.h"
#include "unit.h"

#define DAY 86400L

/* ----------------------------------------------------------------- fixture */

/* The edge: sip.contoso.test, internal edge-int.contoso.test, SIP domains
 * contoso.test and fabrikam.test; the test's CA in ca.crt. */
static char *fx_domains[] = { "contoso.test", "fabrikam.test" };
static char fx_dir[] = "/tmp/test_certcheck.XXXXXX";
static struct conf fx_conf;
static EVP_PKEY *ca_key;
static X509 *ca_cert;
static time_t fx_now;

/* A leaf to make; NULL lists end with NULL. */
struct leaf {
	const char *cn;                    /* NULL: no CN */
	const char *sans[8];               /* NULL first: no SAN extension */
	const char *eku;                   /* NULL: no EKU extension */
	const char *key;                   /* "ec256", "ec384", "ec224", "rsa1024", "rsa2048", "ed25519" */
	long from, to;                     /* validity, seconds from now */
	EVP_PKEY *signer_key;              /* NULL: the fixture's CA */
	X509 *signer;
	bool ca;
};

static const struct leaf good = {
	"sip.contoso.test",
	{ "sip.contoso.test", "sip.fabrikam.test", "edge-int.contoso.test", NULL },
	"serverAuth,clientAuth", "ec256", -DAY, 365 * DAY, NULL, NULL, false
};

static char *
path(const char *name)
{
	static char buf[8][256];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", fx_dir, name);
	return buf[i];
}

static EVP_PKEY *
new_key(const char *kind)
{
	if (strcmp(kind, "ec256") == 0)
		return EVP_EC_gen("P-256");
	if (strcmp(kind, "ec384") == 0)
		return EVP_EC_gen("P-384");
	if (strcmp(kind, "ec224") == 0)
		return EVP_EC_gen("P-224");
	if (strcmp(kind, "rsa1024") == 0)
		return EVP_RSA_gen(1024);
	if (strcmp(kind, "rsa2048") == 0)
		return EVP_RSA_gen(2048);
	if (strcmp(kind, "ed25519") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return NULL;
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

/* A certificate for pk per l, signed by l's signer (the CA) or by itself. */
static X509 *
make_cert(const struct leaf *l, EVP_PKEY *pk, bool self)
{
	static long serial = 0x1000;
	X509 *x = X509_new();
	X509 *issuer = self ? NULL : l->signer ? l->signer : ca_cert;
	EVP_PKEY *ikey = self ? pk : l->signer_key ? l->signer_key : ca_key;
	char sans[1024] = "";

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_time_adj_ex(X509_getm_notBefore(x), 0, l->from, &fx_now);
	X509_time_adj_ex(X509_getm_notAfter(x), 0, l->to, &fx_now);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "O", MBSTRING_ASC,
	    (const unsigned char *)"test", -1, -1, 0);
	if (l->cn)
		X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
		    (const unsigned char *)l->cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x));
	X509_set_pubkey(x, pk);
	for (int i = 0; l->sans[i]; i++) {
		size_t used = strlen(sans);

		snprintf(sans + used, sizeof(sans) - used, "%sDNS:%s", i ? "," : "", l->sans[i]);
	}
	if ((l->ca && add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE") < 0) ||
	    (l->ca && add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign") < 0) ||
	    (sans[0] && add_ext(x, issuer, NID_subject_alt_name, sans) < 0) ||
	    (l->eku && add_ext(x, issuer, NID_ext_key_usage, l->eku) < 0) ||
	    X509_sign(x, ikey, strcmp(EVP_PKEY_get0_type_name(ikey), "ED25519") == 0 ? NULL :
	    EVP_sha256()) == 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
write_pem(const char *file, X509 *x, X509 *more, EVP_PKEY *pk, mode_t mode)
{
	FILE *f;
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || fchmod(fd, mode) < 0 || (f = fdopen(fd, "w")) == NULL)
		return -1;
	if ((x && !PEM_write_X509(f, x)) || (more && !PEM_write_X509(f, more)) ||
	    (pk && !PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL))) {
		fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
fx_cleanup(void)
{
	nftw(fx_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* The CA (ca.crt), the edge's configuration, the time checks run at. */
static int
fx_init(void)
{
	struct leaf cal = { "test CA", { NULL }, NULL, "ec256", -10 * DAY, 3650 * DAY, NULL, NULL, true };

	fx_now = time(NULL);
	if (mkdtemp(fx_dir) == NULL)
		return -1;
	atexit(fx_cleanup);
	if ((ca_key = new_key("ec256")) == NULL || (ca_cert = make_cert(&cal, ca_key, true)) == NULL ||
	    write_pem(path("ca.crt"), ca_cert, NULL, NULL, 0644) < 0)
		return -1;
	conf_defaults(&fx_conf);
	snprintf(fx_conf.edge_fqdn, sizeof(fx_conf.edge_fqdn), "sip.contoso.test");
	snprintf(fx_conf.internal_fqdn, sizeof(fx_conf.internal_fqdn), "edge-int.contoso.test");
	fx_conf.domains = fx_domains;
	fx_conf.ndomains = 2;
	snprintf(fx_conf.certificate, sizeof(fx_conf.certificate), "%s", path("edge.crt"));
	snprintf(fx_conf.private_key, sizeof(fx_conf.private_key), "%s", path("edge.key"));
	snprintf(fx_conf.ca_bundle, sizeof(fx_conf.ca_bundle), "%s", path("ca.crt"));
	return 0;
}

/* Make l as NAME.crt with its key NAME.key (mode 0600). */
static int
make(const char *name, const struct leaf *l)
{
	char crt[64], key[64];
	EVP_PKEY *pk = new_key(l->key);
	X509 *x = pk ? make_cert(l, pk, false) : NULL;
	int rc;

	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	rc = x && write_pem(path(crt), x, NULL, NULL, 0644) == 0 &&
	    write_pem(path(key), NULL, NULL, pk, 0600) == 0 ? 0 : -1;
	X509_free(x);
	EVP_PKEY_free(pk);
	if (rc < 0)
		fprintf(stderr, "# cannot make %s\n", name);
	return rc;
}

/* Check NAME.crt with NAME.key (at fx_now + shift) into *r. */
static int
run(const char *name, long shift, struct certcheck_report *r)
{
	char crt[64], key[64];

	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	return certcheck_run(&fx_conf, path(crt), path(key), fx_now + shift, r);
}

static const struct certcheck_result *
result(const struct certcheck_report *r, enum certcheck_id id)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->results[i].id == id)
			return &r->results[i];
	return NULL;
}

/* The check's level is want and its message holds text (NULL: any). */
static int
expect(const struct certcheck_report *r, enum certcheck_id id, enum certcheck_level want,
    const char *text)
{
	const struct certcheck_result *res = result(r, id);

	if (res == NULL) {
		fprintf(stderr, "# no result for %s\n", certcheck_id_name(id));
		return 1;
	}
	if (res->level != want || (text && strstr(res->message, text) == NULL)) {
		fprintf(stderr, "# %s: %s \"%s\", expected %s%s%s\n", certcheck_id_name(id),
		    certcheck_level_name(res->level), res->message, certcheck_level_name(want),
		    text ? " with " : "", text ? text : "");
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------- tests */

static int
test_certcheck_good(void)
{
	struct certcheck_report r;

	CHECK(fx_init() == 0);
	CHECK(make("edge", &good) == 0);
	CHECK_EQ_INT(certcheck_run(&fx_conf, NULL, NULL, fx_now, &r), 0);
	CHECK_EQ_INT(r.n, CERTCHECK_N);
	for (size_t i = 0; i < r.n; i++) {
		CHECK_EQ_INT(r.results[i].id, i);
		if (r.results[i].level != CERTCHECK_OK)
			fprintf(stderr, "# %s: %s\n", certcheck_id_name(r.results[i].id),
			    r.results[i].message);
		CHECK_EQ_INT(r.results[i].level, CERTCHECK_OK);
	}
	CHECK_EQ_INT(r.nerrors, 0);
	CHECK_EQ_INT(r.nwarnings, 0);
	CHECK(expect(&r, CERTCHECK_SUBJECT, CERTCHECK_OK, "sip.contoso.test") == 0);
	CHECK(expect(&r, CERTCHECK_SIP_DOMAINS, CERTCHECK_OK, "sip.contoso.test, sip.fabrikam.test") == 0);
	CHECK(expect(&r, CERTCHECK_KEY_STRENGTH, CERTCHECK_OK, "ECDSA P-256") == 0);
	CHECK(expect(&r, CERTCHECK_CHAIN, CERTCHECK_OK, "2 certificates, up to CN=test CA") == 0);
	CHECK(expect(&r, CERTCHECK_EXPIRY, CERTCHECK_OK, "days") == 0);
	CHECK_EQ_STR(certcheck_id_name(CERTCHECK_EKU_CLIENT), "eku-client");
	CHECK_EQ_STR(certcheck_level_name(CERTCHECK_WARNING), "warning");
	return 0;
}

static int
test_certcheck_subject(void)
{
	struct certcheck_report r;
	struct leaf l = good;

	CHECK(fx_init() == 0);
	l.cn = "edge-int.contoso.test";
	CHECK(make("other", &l) == 0);
	CHECK_EQ_INT(run("other", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_SUBJECT, CERTCHECK_ERROR,
	    "subject CN edge-int.contoso.test is not the edge FQDN sip.contoso.test") == 0);
	CHECK_EQ_INT(r.nerrors, 1);

	l = good;
	l.sans[0] = "sip.fabrikam.test";
	l.sans[1] = "edge-int.contoso.test";
	l.sans[2] = NULL;
	CHECK(make("norepeat", &l) == 0);
	CHECK_EQ_INT(run("norepeat", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_SUBJECT, CERTCHECK_ERROR, "not repeated in the SANs") == 0);

	l = good;
	l.sans[0] = NULL;
	CHECK(make("nosan", &l) == 0);
	CHECK_EQ_INT(run("nosan", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_SUBJECT, CERTCHECK_ERROR, "there are none") == 0);

	l = good;
	l.cn = NULL;
	CHECK(make("nocn", &l) == 0);
	CHECK_EQ_INT(run("nocn", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_SUBJECT, CERTCHECK_ERROR, "no subject CN") == 0);

	/* Case and a trailing dot do not matter. */
	l = good;
	l.cn = "SIP.Contoso.Test";
	l.sans[0] = "sip.contoso.test.";
	CHECK(make("case", &l) == 0);
	CHECK_EQ_INT(run("case", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_SUBJECT, CERTCHECK_OK, NULL) == 0);
	return 0;
}

static int
test_certcheck_sip_domains(void)
{
	struct certcheck_report r;
	struct leaf l = good;

	CHECK(fx_init() == 0);
	l.sans[1] = "edge-int.contoso.test";
	l.sans[2] = NULL;
	CHECK(make("nofab", &l) == 0);
	CHECK_EQ_INT(run("nofab", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_SIP_DOMAINS, CERTCHECK_WARNING,
	    "not in the SANs: sip.fabrikam.test") == 0);
	CHECK_EQ_INT(r.nerrors, 0);
	CHECK_EQ_INT(r.nwarnings, 1);

	/* No SIP domain configured: nothing to look for. */
	fx_conf.ndomains = 0;
	CHECK_EQ_INT(run("nofab", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_SIP_DOMAINS, CERTCHECK_OK, "no sip-domain") == 0);
	return 0;
}

/* With an XMPP listener each SIP domain itself must be a SAN (XEP-0178):
 * sip.<domain>, a wildcard or the edge's FQDN does not do. */
static int
test_certcheck_xmpp_domains(void)
{
	static struct xmpp_listener_conf xl[1];
	struct certcheck_report r;
	struct leaf l = good;

	CHECK(fx_init() == 0);
	/* No listener: the check does not apply, whatever the names. */
	CHECK(make("edge", &good) == 0);
	CHECK_EQ_INT(run("edge", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_XMPP_DOMAINS, CERTCHECK_OK, "no XMPP listener") == 0);

	fx_conf.xmpp_listeners = xl;
	fx_conf.nxmpp_listeners = 1;
	CHECK_EQ_INT(run("edge", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_XMPP_DOMAINS, CERTCHECK_WARNING,
	    "not in the SANs: contoso.test, fabrikam.test (XMPP partners") == 0);
	CHECK_EQ_INT(r.nerrors, 0);
	CHECK_EQ_INT(r.nwarnings, 1);

	/* One of the two, and a wildcard that does not cover the other. */
	l.sans[3] = "Contoso.Test.";
	l.sans[4] = "*.fabrikam.test";
	l.sans[5] = NULL;
	CHECK(make("one", &l) == 0);
	CHECK_EQ_INT(run("one", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_XMPP_DOMAINS, CERTCHECK_WARNING,
	    "not in the SANs: fabrikam.test (") == 0);

	l.sans[4] = "fabrikam.test";
	CHECK(make("both", &l) == 0);
	CHECK_EQ_INT(run("both", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_XMPP_DOMAINS, CERTCHECK_OK,
	    "in the SANs: contoso.test, fabrikam.test") == 0);
	CHECK_EQ_INT(r.nwarnings, 0);

	fx_conf.ndomains = 0;
	CHECK_EQ_INT(run("both", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_XMPP_DOMAINS, CERTCHECK_WARNING, "no sip-domain") == 0);
	return 0;
}

static int
test_certcheck_internal_fqdn(void)
{
	struct certcheck_report r;
	struct leaf l = good;

	CHECK(fx_init() == 0);
	l.sans[2] = NULL;
	CHECK(make("noint", &l) == 0);
	CHECK_EQ_INT(run("noint", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_INTERNAL_FQDN, CERTCHECK_WARNING,
	    "internal FQDN edge-int.contoso.test is not in the SANs") == 0);
	snprintf(fx_conf.internal_fqdn, sizeof(fx_conf.internal_fqdn), "sip.contoso.test");
	CHECK_EQ_INT(run("noint", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_INTERNAL_FQDN, CERTCHECK_OK, "is the edge FQDN") == 0);
	return 0;
}

static int
test_certcheck_wildcard(void)
{
	struct certcheck_report r;
	struct leaf l = good;

	CHECK(fx_init() == 0);
	l.sans[3] = "*.contoso.test";
	CHECK(make("wild", &l) == 0);
	CHECK_EQ_INT(run("wild", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_WILDCARD, CERTCHECK_ERROR, "wildcard name *.contoso.test") == 0);
	CHECK_EQ_INT(r.nerrors, 1);

	l = good;
	l.cn = "*.contoso.test";
	l.sans[0] = "*.contoso.test";
	CHECK(make("wildcn", &l) == 0);
	CHECK_EQ_INT(run("wildcn", 0, &r), 0);
	/* Named once, though both the CN and a SAN hold it. */
	CHECK(expect(&r, CERTCHECK_WILDCARD, CERTCHECK_ERROR, "name *.contoso.test; ") == 0);
	CHECK(expect(&r, CERTCHECK_SUBJECT, CERTCHECK_ERROR, NULL) == 0);
	CHECK(expect(&r, CERTCHECK_SIP_DOMAINS, CERTCHECK_WARNING, "sip.contoso.test") == 0);
	return 0;
}

static int
test_certcheck_eku(void)
{
	struct certcheck_report r;
	struct leaf l = good;

	CHECK(fx_init() == 0);
	l.eku = "serverAuth";
	CHECK(make("serveronly", &l) == 0);
	CHECK_EQ_INT(run("serveronly", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_EKU_SERVER, CERTCHECK_OK, NULL) == 0);
	CHECK(expect(&r, CERTCHECK_EKU_CLIENT, CERTCHECK_ERROR, "no clientAuth") == 0);
	CHECK_EQ_INT(r.nerrors, 1);

	l.eku = "clientAuth";
	CHECK(make("clientonly", &l) == 0);
	CHECK_EQ_INT(run("clientonly", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_EKU_SERVER, CERTCHECK_ERROR, "no serverAuth") == 0);
	CHECK(expect(&r, CERTCHECK_EKU_CLIENT, CERTCHECK_OK, NULL) == 0);

	/* No extension: any purpose (RFC 5280), but clientAuth is not named. */
	l.eku = NULL;
	CHECK(make("noeku", &l) == 0);
	CHECK_EQ_INT(run("noeku", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_EKU_SERVER, CERTCHECK_OK, "any purpose") == 0);
	CHECK(expect(&r, CERTCHECK_EKU_CLIENT, CERTCHECK_WARNING, NULL) == 0);
	return 0;
}

static int
test_certcheck_key_strength(void)
{
	static const struct { const char *key, *desc; enum certcheck_level level; } cases[] = {
		{ "rsa1024", "RSA 1024", CERTCHECK_ERROR },
		{ "rsa2048", "RSA 2048", CERTCHECK_OK },
		{ "ec224", "ECDSA secp224r1", CERTCHECK_ERROR },
		{ "ec256", "ECDSA P-256", CERTCHECK_OK },
		{ "ec384", "ECDSA P-384", CERTCHECK_OK },
		{ "ed25519", "Ed25519", CERTCHECK_ERROR },
	};
	struct certcheck_report r;
	struct leaf l = good;

	CHECK(fx_init() == 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		l.key = cases[i].key;
		CHECK(make(cases[i].key, &l) == 0);
		CHECK_EQ_INT(run(cases[i].key, 0, &r), 0);
		CHECK(expect(&r, CERTCHECK_KEY_STRENGTH, cases[i].level, cases[i].desc) == 0);
		CHECK_EQ_INT(r.nerrors, cases[i].level == CERTCHECK_ERROR ? 1 : 0);
		CHECK(expect(&r, CERTCHECK_KEY_MATCH, CERTCHECK_OK, NULL) == 0);
	}
	return 0;
}

static int
test_certcheck_chain(void)
{
	struct leaf cal = { "rogue CA", { NULL }, NULL, "ec256", -DAY, 3650 * DAY, NULL, NULL, true };
	struct leaf ical = { "test intermediate", { NULL }, NULL, "ec256", -DAY, 3650 * DAY, NULL,
		NULL, true };
	EVP_PKEY *rogue_key, *int_key, *pk;
	X509 *rogue, *inter, *x;
	struct certcheck_report r;
	struct leaf l = good;

	CHECK(fx_init() == 0);
	/* Signed by a CA that is not in the bundle. */
	CHECK((rogue_key = new_key("ec256")) != NULL);
	CHECK((rogue = make_cert(&cal, rogue_key, true)) != NULL);
	l.signer = rogue;
	l.signer_key = rogue_key;
	CHECK(make("untrusted", &l) == 0);
	CHECK_EQ_INT(run("untrusted", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_CHAIN, CERTCHECK_ERROR, "unable to get local issuer certificate") == 0);
	CHECK_EQ_INT(r.nerrors, 1);

	/* An intermediate sent in the certificate file: verifies. */
	CHECK((int_key = new_key("ec256")) != NULL);
	CHECK((inter = make_cert(&ical, int_key, false)) != NULL);
	l.signer = inter;
	l.signer_key = int_key;
	CHECK((pk = new_key("ec256")) != NULL);
	CHECK((x = make_cert(&l, pk, false)) != NULL);
	CHECK(write_pem(path("inter.crt"), x, inter, NULL, 0644) == 0);
	CHECK(write_pem(path("inter.key"), NULL, NULL, pk, 0600) == 0);
	CHECK_EQ_INT(run("inter", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_CHAIN, CERTCHECK_OK, "3 certificates") == 0);
	/* Without it, the chain is broken. */
	CHECK(write_pem(path("inter.crt"), x, NULL, NULL, 0644) == 0);
	CHECK_EQ_INT(run("inter", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_CHAIN, CERTCHECK_ERROR, "local issuer") == 0);

	/* An expired leaf is the expiry check's finding only. */
	l = good;
	l.from = -100 * DAY;
	l.to = -10 * DAY;
	CHECK(make("expired", &l) == 0);
	CHECK_EQ_INT(run("expired", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_CHAIN, CERTCHECK_OK, NULL) == 0);
	CHECK(expect(&r, CERTCHECK_EXPIRY, CERTCHECK_ERROR, "expired") == 0);
	CHECK_EQ_INT(r.nerrors, 1);

	/* No bundle, or one that cannot be read. */
	CHECK(make("edge", &good) == 0);
	snprintf(fx_conf.ca_bundle, sizeof(fx_conf.ca_bundle), "%s", path("none.crt"));
	CHECK_EQ_INT(run("edge", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_CHAIN, CERTCHECK_ERROR, "No such file") == 0);
	fx_conf.ca_bundle[0] = '\0';
	CHECK_EQ_INT(run("edge", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_CHAIN, CERTCHECK_ERROR, "no ca-bundle") == 0);
	X509_free(x);
	X509_free(inter);
	X509_free(rogue);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(int_key);
	EVP_PKEY_free(rogue_key);
	return 0;
}

static int
test_certcheck_key_match(void)
{
	struct certcheck_report r;
	EVP_PKEY *pk;
	FILE *f;

	CHECK(fx_init() == 0);
	CHECK(make("edge", &good) == 0);
	CHECK(make("other", &good) == 0);
	CHECK_EQ_INT(certcheck_run(&fx_conf, path("edge.crt"), path("other.key"), fx_now, &r), 0);
	CHECK(expect(&r, CERTCHECK_KEY_MATCH, CERTCHECK_ERROR, "does not match") == 0);
	CHECK_EQ_INT(r.nerrors, 1);
	/* The configured key when none is given. */
	CHECK_EQ_INT(certcheck_run(&fx_conf, path("other.crt"), NULL, fx_now, &r), 0);
	CHECK(expect(&r, CERTCHECK_KEY_MATCH, CERTCHECK_ERROR, "edge.key does not match") == 0);

	CHECK_EQ_INT(certcheck_run(&fx_conf, path("edge.crt"), path("none.key"), fx_now, &r), 0);
	CHECK(expect(&r, CERTCHECK_KEY_MATCH, CERTCHECK_ERROR, "No such file") == 0);
	CHECK_EQ_INT(certcheck_run(&fx_conf, path("edge.crt"), path("ca.crt"), fx_now, &r), 0);
	CHECK(expect(&r, CERTCHECK_KEY_MATCH, CERTCHECK_ERROR, "no unencrypted PEM private key") == 0);

	/* An encrypted key is reported, never prompted for. */
	CHECK((pk = new_key("ec256")) != NULL);
	CHECK((f = fopen(path("enc.key"), "w")) != NULL);
	CHECK(PEM_write_PrivateKey(f, pk, EVP_aes_128_cbc(), (unsigned char *)"secret", 6,
	    NULL, NULL) == 1);
	fclose(f);
	chmod(path("enc.key"), 0600);
	CHECK_EQ_INT(certcheck_run(&fx_conf, path("edge.crt"), path("enc.key"), fx_now, &r), 0);
	CHECK(expect(&r, CERTCHECK_KEY_MATCH, CERTCHECK_ERROR, "no unencrypted") == 0);
	EVP_PKEY_free(pk);

	/* sipedge refuses a key others can read. */
	CHECK(chmod(path("edge.key"), 0640) == 0);
	CHECK_EQ_INT(run("edge", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_KEY_MATCH, CERTCHECK_ERROR, "mode 640") == 0);
	CHECK(chmod(path("edge.key"), 0600) == 0);
	CHECK_EQ_INT(run("edge", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_KEY_MATCH, CERTCHECK_OK, "matches") == 0);
	return 0;
}

static int
test_certcheck_expiry(void)
{
	struct certcheck_report r;

	CHECK(fx_init() == 0);
	/* Valid from a day ago until 365 days from now; checked at several
	 * times. */
	CHECK(make("edge", &good) == 0);
	CHECK_EQ_INT(run("edge", 0, &r), 0);
	CHECK(expect(&r, CERTCHECK_EXPIRY, CERTCHECK_OK, "(365 days)") == 0);
	CHECK_EQ_INT(run("edge", 335 * DAY, &r), 0);
	CHECK(expect(&r, CERTCHECK_EXPIRY, CERTCHECK_OK, "(30 days)") == 0);
	CHECK_EQ_INT(run("edge", 336 * DAY, &r), 0);
	CHECK(expect(&r, CERTCHECK_EXPIRY, CERTCHECK_WARNING, "in 29 days") == 0);
	CHECK_EQ_INT(run("edge", 340 * DAY, &r), 0);
	CHECK(expect(&r, CERTCHECK_EXPIRY, CERTCHECK_WARNING, "in 25 days: renew it") == 0);
	CHECK_EQ_INT(r.nwarnings, 1);
	CHECK_EQ_INT(run("edge", 365 * DAY + 3600, &r), 0);
	CHECK(expect(&r, CERTCHECK_EXPIRY, CERTCHECK_ERROR, "expired on") == 0);
	CHECK_EQ_INT(run("edge", 400 * DAY, &r), 0);
	CHECK(expect(&r, CERTCHECK_EXPIRY, CERTCHECK_ERROR, "(35 days ago)") == 0);
	CHECK_EQ_INT(run("edge", -2 * DAY, &r), 0);
	CHECK(expect(&r, CERTCHECK_EXPIRY, CERTCHECK_ERROR, "not valid before") == 0);
	CHECK_EQ_INT(r.nerrors, 1);
	return 0;
}

static int
test_certcheck_unreadable(void)
{
	struct certcheck_report r;
	FILE *f;

	CHECK(fx_init() == 0);
	CHECK_EQ_INT(certcheck_run(&fx_conf, NULL, NULL, fx_now, &r), 0);
	CHECK_EQ_INT(r.n, 1);
	CHECK(expect(&r, CERTCHECK_CERTIFICATE, CERTCHECK_ERROR, "edge.crt: No such file") == 0);
	CHECK_EQ_INT(r.nerrors, 1);
	CHECK((f = fopen(path("junk.crt"), "w")) != NULL);
	fputs("not a certificate\n", f);
	fclose(f);
	CHECK_EQ_INT(certcheck_run(&fx_conf, path("junk.crt"), NULL, fx_now, &r), 0);
	CHECK_EQ_INT(r.n, 1);
	CHECK(expect(&r, CERTCHECK_CERTIFICATE, CERTCHECK_ERROR, "no PEM certificate") == 0);
	fx_conf.certificate[0] = '\0';
	CHECK_EQ_INT(certcheck_run(&fx_conf, NULL, NULL, fx_now, &r), -EINVAL);
	CHECK_EQ_INT(certcheck_log(&fx_conf, fx_now), 0);
	return 0;
}

static int
test_certcheck_info(void)
{
	struct certcheck_info info;
	char err[256];
	struct tm tm;
	time_t want;

	CHECK(fx_init() == 0);
	CHECK(make("edge", &good) == 0);
	CHECK_EQ_INT(certcheck_info_load(path("edge.crt"), &info, err, sizeof(err)), 0);
	CHECK_EQ_STR(info.subject, "CN=sip.contoso.test,O=test");
	CHECK_EQ_STR(info.issuer, "CN=test CA,O=test");
	CHECK(strlen(info.serial) >= 4 && strspn(info.serial, "0123456789ABCDEF") == strlen(info.serial));
	CHECK_EQ_STR(info.key, "ECDSA P-256");
	CHECK_EQ_INT(info.nsans, 3);
	CHECK_EQ_STR(info.sans[0], "sip.contoso.test");
	CHECK_EQ_STR(info.sans[2], "edge-int.contoso.test");
	/* ASN.1 times have whole seconds. */
	want = fx_now + 365 * DAY;
	gmtime_r(&want, &tm);
	CHECK_EQ_INT(info.not_after, timegm(&tm));
	CHECK_EQ_INT(info.not_before, fx_now - DAY);
	certcheck_info_free(&info);
	CHECK_EQ_INT(info.nsans, 0);
	CHECK_EQ_INT(certcheck_info_load(path("none.crt"), &info, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "none.crt") != NULL);
	certcheck_info_free(&info);
	CHECK_EQ_INT(certcheck_info_load(path("edge.key"), &info, err, sizeof(err)), -EINVAL);
	return 0;
}

/* The daemon's start-up call logs each finding that is not ok, one line. */
static int
test_certcheck_log(void)
{
	struct leaf l = good;
	char buf[4096];
	size_t n;
	FILE *f;
	int fd;

	CHECK(fx_init() == 0);
	l.eku = "serverAuth";
	l.sans[1] = "edge-int.contoso.test";
	l.sans[2] = NULL;
	CHECK(make("edge", &l) == 0);
	CHECK((fd = open(path("log"), O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
	fflush(stderr);
	CHECK(dup2(fd, 2) == 2);
	log_init("test", 1, LOG_LVL_INFO);
	CHECK_EQ_INT(certcheck_log(&fx_conf, fx_now), 1);
	fflush(stderr);
	CHECK((f = fopen(path("log"), "r")) != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	CHECK(strstr(buf, "edge.crt: warning: sip-domains: not in the SANs: sip.fabrikam.test") != NULL);
	CHECK(strstr(buf, "edge.crt: error: eku-client: no clientAuth") != NULL);
	CHECK(strstr(buf, ": ok: ") == NULL);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_certcheck_good),
	UNIT(test_certcheck_subject),
	UNIT(test_certcheck_sip_domains),
	UNIT(test_certcheck_xmpp_domains),
	UNIT(test_certcheck_internal_fqdn),
	UNIT(test_certcheck_wildcard),
	UNIT(test_certcheck_eku),
	UNIT(test_certcheck_key_strength),
	UNIT(test_certcheck_chain),
	UNIT(test_certcheck_key_match),
	UNIT(test_certcheck_expiry),
	UNIT(test_certcheck_unreadable),
	UNIT(test_certcheck_info),
	UNIT(test_certcheck_log),
	{ 0 }
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
