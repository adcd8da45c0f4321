/* store_xmpp_sub.c: the presence subscriptions of the SIP/XMPP gateway
 * (store_xmpp.h), kept in SQLite so that a contact's probe is answered after
 * a restart (RFC 6121 section 4.3; the states of appendix A).  The daemon's
 * state, not policy: no generation bump, no audit. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "store_int.h"

static const char *const state_names[] = { "none", "to", "from", "both", NULL };

const char *
store_xmpp_sub_state_name(enum store_xmpp_sub_state s)
{
	return s <= STORE_XMPP_SUB_BOTH ? state_names[s] : "?";
}

int
store_xmpp_sub_state_parse(const char *s, enum store_xmpp_sub_state *out)
{
	for (int i = 0; s != NULL && state_names[i]; i++)
		if (strcmp(state_names[i], s) == 0) {
			*out = (enum store_xmpp_sub_state)i;
			return 0;
		}
	return -EINVAL;
}

/* Text stored for the daemon: no control characters but tab, CR and LF
 * (which a PIDF document may hold) when multiline. */
static bool
clean(const char *s, bool multiline)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && !(multiline && (*p == '\t' || *p == '\r' || *p == '\n'))) ||
		    *p == 0x7f)
			return false;
	return true;
}

/* Our user: a sip: or sips: URI on one line, without spaces. */
static int
check_uri(struct store *st, const char *uri)
{
	if (uri == NULL || (strncasecmp(uri, "sip:", 4) != 0 && strncasecmp(uri, "sips:", 5) != 0) ||
	    strlen(uri) > STORE_XMPP_URI_MAX || !clean(uri, false) || strchr(uri, ' ') != NULL)
		return store__serr(st, -EINVAL, "invalid local URI \"%s\": a sip: or sips: URI of at "
		    "most %d bytes without spaces", uri ? uri : "", STORE_XMPP_URI_MAX);
	return 0;
}

/* A bare JID ([localpart@]domainpart, RFC 7622 section 3) whose domain part is
 * a DNS name: written to out with that part in normal form.  The localpart is
 * kept as given (the gateway prepares it); only the characters RFC 7622
 * section 3.3.1 never allows in one are refused. */
static int
norm_jid(struct store *st, const char *jid, char out[STORE_XMPP_JID_MAX + 1])
{
	const char *at, *dom;
	char d[NAMES_MAX + 1];
	size_t llen;

	if (jid == NULL || strlen(jid) > STORE_XMPP_JID_MAX || strchr(jid, '/') != NULL ||
	    !clean(jid, false))
		goto bad;
	at = strchr(jid, '@');
	dom = at ? at + 1 : jid;
	llen = at ? (size_t)(at - jid) : 0;
	if (at != NULL && (llen == 0 || llen > 1023 || strpbrk(dom, "@") != NULL))
		goto bad;
	for (size_t i = 0; i < llen; i++)
		if (strchr(" \"&':<>", jid[i]) != NULL)
			goto bad;
	if (names_normalize(dom, d, sizeof(d), NULL) != 0)
		goto bad;
	snprintf(out, STORE_XMPP_JID_MAX + 1, "%.*s%s%s", (int)llen, jid, at ? "@" : "", d);
	return 0;
bad:
	return store__serr(st, -EINVAL, "invalid bare JID \"%.300s\": [localpart@]domain, no "
	    "resource, the domain a DNS name", jid ? jid : "");
}

static int
check_sub(struct store *st, const struct store_xmpp_sub *s)
{
	if ((unsigned)s->state > STORE_XMPP_SUB_BOTH)
		return store__serr(st, -EINVAL, "bad subscription state");
	/* RFC 6121 appendix A: a pending request is only possible in a direction
	 * that has no subscription yet. */
	if (s->pending_out && s->state != STORE_XMPP_SUB_NONE && s->state != STORE_XMPP_SUB_FROM)
		return store__serr(st, -EINVAL, "subscription state %s cannot be pending out: our "
		    "user already receives the contact's presence",
		    store_xmpp_sub_state_name(s->state));
	if (s->pending_in && s->state != STORE_XMPP_SUB_NONE && s->state != STORE_XMPP_SUB_TO)
		return store__serr(st, -EINVAL, "subscription state %s cannot be pending in: the "
		    "contact already receives our user's presence",
		    store_xmpp_sub_state_name(s->state));
	if (s->last_presence != NULL && (strlen(s->last_presence) > STORE_XMPP_PRESENCE_MAX ||
	    !clean(s->last_presence, true)))
		return store__serr(st, -EINVAL, "last presence longer than %d bytes or with control "
		    "characters", STORE_XMPP_PRESENCE_MAX);
	if (s->sip_dialog != NULL && (strlen(s->sip_dialog) > STORE_XMPP_URI_MAX ||
	    !clean(s->sip_dialog, false)))
		return store__serr(st, -EINVAL, "SIP dialog longer than %d bytes or with control "
		    "characters", STORE_XMPP_URI_MAX);
	if (s->sip_expires < 0)
		return store__serr(st, -EINVAL, "negative SIP subscription expiry");
	return 0;
}

int
store_xmpp_sub_put(struct store *st, const struct store_xmpp_sub *s)
{
	char jid[STORE_XMPP_JID_MAX + 1];
	int rc;

	if ((rc = check_uri(st, s->local_uri)) != 0 || (rc = norm_jid(st, s->remote_jid, jid)) != 0 ||
	    (rc = check_sub(st, s)) != 0)
		return rc;
	return store__run(st, NULL, "INSERT OR REPLACE INTO xmpp_subscription (local_uri, remote_jid, "
	    "state, pending_out, pending_in, last_presence, sip_dialog, sip_expires, updated_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0), ?)", "sssddssii", s->local_uri, jid,
	    store_xmpp_sub_state_name(s->state), s->pending_out ? 1 : 0, s->pending_in ? 1 : 0,
	    s->last_presence, s->sip_dialog, (int64_t)s->sip_expires, (int64_t)time(NULL));
}

int
store_xmpp_sub_set_presence(struct store *st, const char *local_uri, const char *remote_domain,
    const char *presence, int *n)
{
	char d[NAMES_MAX + 1], tail[NAMES_MAX + 2];
	int rc;

	if ((rc = check_uri(st, local_uri)) != 0)
		return rc;
	if (remote_domain == NULL || names_normalize(remote_domain, d, sizeof(d), NULL) != 0)
		return store__serr(st, -EINVAL, "invalid domain \"%.300s\"",
		    remote_domain ? remote_domain : "");
	if (presence == NULL || strlen(presence) > STORE_XMPP_PRESENCE_MAX || !clean(presence, true))
		return store__serr(st, -EINVAL, "last presence longer than %d bytes or with control "
		    "characters", STORE_XMPP_PRESENCE_MAX);
	snprintf(tail, sizeof(tail), "@%s", d);
	return store__run(st, n, "UPDATE xmpp_subscription SET last_presence = ?, updated_at = ? "
	    "WHERE local_uri = ? AND state IN ('from', 'both') AND "
	    "substr(remote_jid, -length(?)) = ?", "sisss", presence, (int64_t)time(NULL), local_uri,
	    tail, tail);
}

void
store_xmpp_sub_clear(struct store_xmpp_sub *s)
{
	if (s == NULL)
		return;
	free(s->local_uri);
	free(s->remote_jid);
	free(s->last_presence);
	free(s->sip_dialog);
	memset(s, 0, sizeof(*s));
}

void
store_xmpp_sub_free(struct store_xmpp_sub *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_xmpp_sub_clear(&v[i]);
	free(v);
}

#define SUB_COLUMNS "local_uri, remote_jid, state, pending_out, pending_in, last_presence, " \
	"sip_dialog, sip_expires, updated_at"

static int
read_row(struct store *st, sqlite3_stmt *s, struct store_xmpp_sub *out)
{
	const char *state = (const char *)sqlite3_column_text(s, 2);
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = store__col_dup(st, s, 0, false, &out->local_uri)) != 0 ||
	    (rc = store__col_dup(st, s, 1, false, &out->remote_jid)) != 0 ||
	    (rc = store__col_dup(st, s, 5, true, &out->last_presence)) != 0 ||
	    (rc = store__col_dup(st, s, 6, true, &out->sip_dialog)) != 0)
		return rc;
	if (store_xmpp_sub_state_parse(state, &out->state) != 0)
		return store__serr(st, -EINVAL, "%s: subscription of %s to %s has a bad state",
		    st->path, out->local_uri, out->remote_jid);
	out->pending_out = sqlite3_column_int(s, 3) != 0;
	out->pending_in = sqlite3_column_int(s, 4) != 0;
	out->sip_expires = (time_t)sqlite3_column_int64(s, 7);
	out->updated_at = (time_t)sqlite3_column_int64(s, 8);
	return 0;
}

int
store_xmpp_sub_get(struct store *st, const char *local_uri, const char *remote_jid,
    struct store_xmpp_sub *out)
{
	char jid[STORE_XMPP_JID_MAX + 1];
	struct store_xmpp_sub v;
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = check_uri(st, local_uri)) != 0 || (rc = norm_jid(st, remote_jid, jid)) != 0)
		return rc;
	if ((rc = store__prep(st, &s, "SELECT " SUB_COLUMNS " FROM xmpp_subscription "
	    "WHERE local_uri = ? AND remote_jid = ?", "ss", local_uri, jid)) != 0)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if ((rc = read_row(st, s, &v)) == 0)
			*out = v;
		else
			store_xmpp_sub_clear(&v);
	} else if (rc == SQLITE_DONE) {
		rc = store__serr(st, -ENOENT, "no subscription between %s and %s", local_uri, jid);
	} else {
		rc = store__sqlerr(st, rc);
	}
	sqlite3_finalize(s);
	return rc;
}

int
store_xmpp_sub_delete(struct store *st, const char *local_uri, const char *remote_jid)
{
	char jid[STORE_XMPP_JID_MAX + 1];
	int n = 0, rc;

	if ((rc = check_uri(st, local_uri)) != 0 || (rc = norm_jid(st, remote_jid, jid)) != 0)
		return rc;
	rc = store__run(st, &n, "DELETE FROM xmpp_subscription WHERE local_uri = ? AND "
	    "remote_jid = ?", "ss", local_uri, jid);
	if (rc == 0 && n == 0)
		rc = store__serr(st, -ENOENT, "no subscription between %s and %s", local_uri, jid);
	return rc;
}

int
store_xmpp_sub_list(struct store *st, const char *local_uri, const char *remote_domain,
    struct store_xmpp_sub **out, size_t *nout)
{
	char dom[NAMES_MAX + 1] = "", at_dom[NAMES_MAX + 2] = "";
	struct store_xmpp_sub *v = NULL;
	sqlite3_stmt *s = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (local_uri != NULL && (rc = check_uri(st, local_uri)) != 0)
		return rc;
	if (remote_domain != NULL) {
		if ((rc = store__norm(st, "domain", remote_domain, dom)) != 0)
			return rc;
		snprintf(at_dom, sizeof(at_dom), "@%s", dom);
	}
	/* A bare JID's domain is all of it or what follows its '@'; the JIDs are
	 * stored with that part in lower case, so plain comparison is right. */
	if ((rc = store__prep(st, &s, "SELECT " SUB_COLUMNS " FROM xmpp_subscription "
	    "WHERE (?1 IS NULL OR local_uri = ?1) AND (?2 IS NULL OR remote_jid = ?2 OR "
	    "substr(remote_jid, -length(?3)) = ?3) ORDER BY local_uri, remote_jid", "sss",
	    local_uri, remote_domain ? dom : NULL, at_dom)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (store__grow(&v, &cap, n, sizeof(*v)) != 0) {
			rc = store__serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		if ((rc = read_row(st, s, &v[n++])) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = store__sqlerr(st, rc);
		goto out;
	}
	*out = v;
	*nout = n;
	v = NULL;
	rc = 0;
out:
	sqlite3_finalize(s);
	store_xmpp_sub_free(v, n);
	return rc;
}
