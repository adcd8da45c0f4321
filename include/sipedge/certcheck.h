/* certcheck.h: the edge's own certificate against what federation needs (names,
 * wildcard, EKU, key strength, chain, key match, validity; RFC 5280 §4.2.1.6 and
 * §4.2.1.12, RFC 5922 §7.1; for XMPP, RFC 6120 §13.7.1.2 and XEP-0178), and a
 * summary of a certificate for status output.
 * Reads only the files it is given; no other I/O. */
#ifndef SIPEDGE_CERTCHECK_H
#define SIPEDGE_CERTCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "sipedge/conf.h"

/* A certificate that expires within this many days gets a warning. */
#define CERTCHECK_EXPIRY_WARN_DAYS 30

enum certcheck_level { CERTCHECK_OK = 0, CERTCHECK_WARNING, CERTCHECK_ERROR };

/* The checks, in the order they are reported.  Each has a stable name
 * (certcheck_id_name) used by sipedgectl's output and JSON. */
enum certcheck_id {
	CERTCHECK_CERTIFICATE = 0,         /* "certificate": the file holds a PEM certificate */
	CERTCHECK_SUBJECT,                 /* "subject": CN is the edge FQDN, repeated in the SANs */
	CERTCHECK_SIP_DOMAINS,             /* "sip-domains": sip.<domain> in the SANs, each domain */
	CERTCHECK_XMPP_DOMAINS,            /* "xmpp-domains": with an XMPP listener, each domain
	                                    * itself in the SANs (XEP-0178) */
	CERTCHECK_INTERNAL_FQDN,           /* "internal-fqdn": in the SANs when it differs */
	CERTCHECK_WILDCARD,                /* "wildcard": no '*' in the CN or a SAN */
	CERTCHECK_EKU_SERVER,              /* "eku-server": serverAuth */
	CERTCHECK_EKU_CLIENT,              /* "eku-client": clientAuth */
	CERTCHECK_KEY_STRENGTH,            /* "key-strength": RSA >= 2048, ECDSA P-256/384/521 */
	CERTCHECK_CHAIN,                   /* "chain": verifies against the CA bundle */
	CERTCHECK_KEY_MATCH,               /* "key-match": the private key is the certificate's */
	CERTCHECK_EXPIRY,                  /* "expiry": valid now, not within 30 days of its end */
	CERTCHECK_N
};

struct certcheck_result {
	enum certcheck_id id;
	enum certcheck_level level;
	char message[512];                 /* one line, for people and the log */
};

/* The results of one run: one per check, in enum order; only the certificate
 * check when the certificate cannot be read.  Owned by the caller (no heap). */
struct certcheck_report {
	struct certcheck_result results[CERTCHECK_N];
	size_t n;
	size_t nerrors, nwarnings;
};

/* Check a certificate for the edge that c describes (edge_fqdn, internal_fqdn,
 * domains, ca_bundle).  certificate and private_key name the files to check;
 * NULL means the configured ones (c->certificate, c->private_key).  now is the
 * time the validity is checked at.  Returns 0 with every finding in *out
 * (an unreadable file is a finding, not an error), or -EINVAL when there is
 * no certificate to check (none given or configured), -ENOMEM. */
int certcheck_run(const struct conf *c, const char *certificate, const char *private_key,
    time_t now, struct certcheck_report *out);

const char *certcheck_id_name(enum certcheck_id id);
const char *certcheck_level_name(enum certcheck_level level);

/* Log each finding that is not ok (log_warnx, "certificate FILE: LEVEL: CHECK:
 * message"), or nothing when no certificate is configured.  For the daemon's
 * start-up: a finding never stops it here (the TLS set-up refuses what it
 * cannot use).  Returns the number of errors found. */
size_t certcheck_log(const struct conf *c, time_t now);

/* What a certificate says, for status output and the expiry metric. */
struct certcheck_info {
	time_t not_before, not_after;
	char serial[96];                   /* upper-case hex, no separators */
	char subject[512];                 /* RFC 2253 ("CN=sip.contoso.com,O=Contoso") */
	char issuer[512];
	char key[32];                      /* "RSA 2048", "ECDSA P-256", "Ed25519" */
	char **sans;                       /* SAN dNSNames as written (may hold '*') */
	size_t nsans;
};

/* Read the first certificate of a PEM file into *out.  0, or -ENOENT / -EACCES
 * (cannot open), -EINVAL (no PEM certificate in it), -ENOMEM; on error err gets
 * one line naming the file and *out is left empty (certcheck_info_free is safe). */
int certcheck_info_load(const char *path, struct certcheck_info *out, char *err, size_t errlen);
void certcheck_info_free(struct certcheck_info *info);

#endif
