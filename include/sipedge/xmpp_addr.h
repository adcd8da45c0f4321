/* xmpp_addr.h: XMPP addresses (JIDs, RFC 7622) and their mapping to and from
 * 'sip', 'sips', 'im' and 'pres' URIs (RFC 7247 section 6, with the JID
 * escaping of XEP-0106 that section 6.2 prescribes for the localpart).
 *
 * Phase 1 limits, each refused with a reason rather than mapped wrongly: a
 * localpart or domainpart outside ASCII (the PRECIS UsernameCaseMapped profile
 * of RFC 8265 and the IDNA2008 mapping of RFC 5892 are not implemented; an
 * IDNA A-label such as "xn--bcher-kva" is ASCII and accepted as it is). */
#ifndef SIPEDGE_XMPP_ADDR_H
#define SIPEDGE_XMPP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Each part of a JID is 1 to 1023 octets (RFC 7622 section 3.1). */
#define XMPP_JID_PART_MAX 1023
/* "local@domain/resource" at most, with its NUL. */
#define XMPP_JID_MAX (3 * XMPP_JID_PART_MAX + 2 + 1)
/* The longest URI xmpp_jid_to_uri writes, with its NUL: "sips:", a localpart
 * and a resourcepart whose every octet is percent-encoded, "@", the domain and
 * ";gr=". */
#define XMPP_URI_MAX (5 + 3 * XMPP_JID_PART_MAX + 1 + XMPP_JID_PART_MAX + 4 + \
	3 * XMPP_JID_PART_MAX + 1)

/* A JID in canonical form: the localpart in lower case, the domainpart in
 * lower case without a trailing dot (an IPv6 literal in brackets, in the
 * compressed form of RFC 5952), the resourcepart as given.  An absent
 * localpart or resourcepart is the empty string; the domainpart is never
 * empty in a JID these functions produced.  Plain data: copy it freely. */
struct xmpp_jid {
	char local[XMPP_JID_PART_MAX + 1];
	char domain[XMPP_JID_PART_MAX + 1];
	char resource[XMPP_JID_PART_MAX + 1];
};

/* The URI schemes RFC 7247 section 6 maps. */
enum xmpp_uri_scheme {
	XMPP_URI_SIP,
	XMPP_URI_SIPS,
	XMPP_URI_IM,
	XMPP_URI_PRES,
};

/* Parse s as a JID (RFC 7622 section 3: the resourcepart is everything after
 * the first '/', the localpart everything before the first '@' ahead of it)
 * and write its canonical form to *out.  Returns 0, or -EINVAL with *why (when
 * why is not NULL) set to a static reason; *out is then unspecified. */
int xmpp_jid_parse(const char *s, struct xmpp_jid *out, const char **why);

/* True when j names one resource (a "full JID"). */
static inline bool
xmpp_jid_is_full(const struct xmpp_jid *j)
{
	return j->resource[0] != '\0';
}

/* Write "local@domain" (or "domain") to buf, or with full also "/resource"
 * when j has one.  Returns 0, or -ENOSPC when len is too small (buf then holds
 * the empty string). */
int xmpp_jid_format(const struct xmpp_jid *j, bool full, char *buf, size_t len);

/* Map a 'sip', 'sips', 'im' or 'pres' URI to a JID (RFC 7247 section 6.4):
 * the user part is percent-decoded, lower-cased and JID-escaped (XEP-0106: a
 * space " & ' / : < > @ become \20 \22 \26 \27 \2f \3a \3c \3e \40, and a
 * backslash that would start such a sequence becomes \5c); a "gr" URI
 * parameter with a value becomes the resourcepart (RFC 7247 section 6.3).
 * Refused with -EINVAL and a reason: other schemes (tel: above all), a
 * password, a port, user=phone, a temporary GRUU (gr without a value), any
 * other URI parameter, URI headers, and a user part or gr value that does not
 * make a valid localpart or resourcepart.  uri is the bare URI, without the
 * angle brackets or display name of a header field value. */
int xmpp_jid_from_sip_uri(const char *uri, struct xmpp_jid *out, const char **why);

/* Map j to a URI of the given scheme (RFC 7247 section 6.5): the localpart is
 * JID-unescaped (XEP-0106) and every octet the scheme does not allow in a user
 * part is percent-encoded; with gr, a 'sip' or 'sips' URI of a full JID
 * carries the resourcepart, percent-encoded, as its "gr" parameter (the other
 * schemes have no place for it).  j must come from this module.  Returns 0, or
 * -ENOSPC (buf then holds the empty string); XMPP_URI_MAX always suffices. */
int xmpp_jid_to_uri(const struct xmpp_jid *j, enum xmpp_uri_scheme scheme, bool gr,
    char *buf, size_t len);

/* xmpp_jid_to_uri(j, XMPP_URI_SIP, true, buf, len): the form the gateway puts
 * in SIP header fields. */
int xmpp_jid_to_sip_uri(const struct xmpp_jid *j, char *buf, size_t len);

#endif
