/* names.h: validation and normalisation of DNS domain names and FQDNs
 * (RFC 1035 section 2.3.1, RFC 1123 section 2.1), shared by the store, the CLI
 * and the daemon. */
#ifndef SIPEDGE_NAMES_H
#define SIPEDGE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* Longest name in presentation form without the trailing dot (RFC 1035 2.3.4,
 * 255 octets on the wire). */
#define NAMES_MAX 253
#define NAMES_LABEL_MAX 63

/* Check IN as a host/domain name and write its normal form to OUT (at least
 * NAMES_MAX + 1 bytes): lower case, one trailing dot removed.  Every label has
 * 1-63 letters, digits or hyphens, not starting or ending with a hyphen; the
 * whole name is at most 253 characters; the last label is not all digits, so an
 * IPv4 address is never taken for a name.  Wildcards ("*") are refused.
 * Returns 0, or -EINVAL with *why (if why is not NULL) set to a static reason
 * such as "empty label" or "label longer than 63 characters".  OUT may be IN. */
int names_normalize(const char *in, char *out, size_t outlen, const char **why);

/* True when S is already a valid name in normal form (what names_normalize
 * would return unchanged). */
bool names_is_normal(const char *s);

/* True when S contains no wildcard character: certificate names such as
 * "*.fabrikam.test" must not be taken as the name of a host or domain. */
bool names_wildcard_free(const char *s);

#endif
