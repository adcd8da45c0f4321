/* store_partners.c: discovered partners (counters the daemon records,
 * promote and block) and the audit log. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_int.h"


/* ------------------------------------------------------ discovered partners */

int
store_partners_record(struct store *st, const struct store_partner_delta *d, size_t n)
{
	sqlite3_stmt *up = NULL, *peer = NULL;
	char domain[NAMES_MAX + 1], fqdn[NAMES_MAX + 1];
	time_t now = time(NULL);
	int rc;

	if (n == 0)
		return 0;
	if ((rc = store__tx_begin(st)) != 0)
		return rc;
	if ((rc = store__prep(st, &up,
	    "INSERT INTO partner (domain, first_seen, last_seen, requests, contacts, throttled) "
	    "VALUES (?1, ?2, ?2, ?3, ?4, ?5) ON CONFLICT (domain) DO UPDATE SET "
	    "last_seen = max(last_seen, excluded.last_seen), "
	    "requests = requests + excluded.requests, contacts = contacts + excluded.contacts, "
	    "throttled = throttled + excluded.throttled", NULL)) != 0)
		goto out;
	if ((rc = store__prep(st, &peer,
	    "INSERT INTO partner_peer (domain, fqdn, last_seen) VALUES (?1, ?2, ?3) "
	    "ON CONFLICT (domain, fqdn) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
	    NULL)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int64_t seen = d[i].seen ? (int64_t)d[i].seen : (int64_t)now;

		if ((rc = store__norm(st, "partner domain", d[i].domain, domain)) != 0)
			goto out;
		sqlite3_reset(up);
		sqlite3_bind_text(up, 1, domain, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(up, 2, seen);
		/* Counters are SQLite int64: clamp rather than wrap negative. */
		sqlite3_bind_int64(up, 3, (int64_t)(d[i].requests > INT64_MAX ? INT64_MAX : d[i].requests));
		sqlite3_bind_int64(up, 4, (int64_t)(d[i].contacts > INT64_MAX ? INT64_MAX : d[i].contacts));
		sqlite3_bind_int64(up, 5, (int64_t)(d[i].throttled > INT64_MAX ? INT64_MAX : d[i].throttled));
		if ((rc = sqlite3_step(up)) != SQLITE_DONE) {
			rc = store__sqlerr(st, rc);
			goto out;
		}
		for (size_t j = 0; j < d[i].npeers; j++) {
			if ((rc = store__norm(st, "peer FQDN", d[i].peers[j], fqdn)) != 0)
				goto out;
			sqlite3_reset(peer);
			sqlite3_bind_text(peer, 1, domain, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(peer, 2, fqdn, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(peer, 3, seen);
			if ((rc = sqlite3_step(peer)) != SQLITE_DONE) {
				rc = store__sqlerr(st, rc);
				goto out;
			}
		}
	}
	sqlite3_finalize(up);
	sqlite3_finalize(peer);
	up = peer = NULL;
	rc = store__tx_commit(st);
out:
	sqlite3_finalize(up);
	sqlite3_finalize(peer);
	if (rc != 0)
		store__tx_rollback(st);
	return rc;
}

void
store_partners_free(struct store_partner *p, size_t n)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(p[i].domain);
		for (size_t j = 0; j < p[i].npeers; j++)
			free(p[i].peers[j]);
		free(p[i].peers);
	}
	free(p);
}

int
store_partners_list(struct store *st, struct store_partner **out, size_t *nout)
{
	sqlite3_stmt *s = NULL, *ps = NULL;
	struct store_partner *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if ((rc = store__exec_sql(st, "BEGIN")) != 0)
		return rc;
	if ((rc = store__prep(st, &s, "SELECT p.domain, p.first_seen, p.last_seen, p.requests, "
	    "p.contacts, p.throttled, "
	    "EXISTS (SELECT 1 FROM allowed_domain a WHERE a.domain = p.domain), "
	    "EXISTS (SELECT 1 FROM blocked_domain b WHERE b.domain = p.domain) "
	    "FROM partner p ORDER BY p.domain", NULL)) != 0)
		goto out;
	if ((rc = store__prep(st, &ps, "SELECT fqdn FROM partner_peer WHERE domain = ? ORDER BY fqdn",
	    NULL)) != 0)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_partner *p;
		size_t pcap = 0;

		if (store__grow(&v, &cap, n, sizeof(*v)) != 0) {
			rc = store__serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		p = &v[n++];
		if ((rc = store__col_dup(st, s, 0, false, &p->domain)) != 0)
			goto out;
		p->first_seen = (time_t)sqlite3_column_int64(s, 1);
		p->last_seen = (time_t)sqlite3_column_int64(s, 2);
		p->requests = (uint64_t)sqlite3_column_int64(s, 3);
		p->contacts = (uint64_t)sqlite3_column_int64(s, 4);
		p->throttled = (uint64_t)sqlite3_column_int64(s, 5);
		p->status = sqlite3_column_int(s, 7) ? STORE_PARTNER_BLOCKED :
		    sqlite3_column_int(s, 6) ? STORE_PARTNER_ALLOWED : STORE_PARTNER_DISCOVERED;
		sqlite3_reset(ps);
		sqlite3_bind_text(ps, 1, p->domain, -1, SQLITE_TRANSIENT);
		while ((rc = sqlite3_step(ps)) == SQLITE_ROW) {
			if (store__grow(&p->peers, &pcap, p->npeers, sizeof(*p->peers)) != 0) {
				rc = store__serr(st, -ENOMEM, "out of memory");
				goto out;
			}
			if ((rc = store__col_dup(st, ps, 0, false, &p->peers[p->npeers])) != 0)
				goto out;
			p->npeers++;
		}
		if (rc != SQLITE_DONE) {
			rc = store__sqlerr(st, rc);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = store__sqlerr(st, rc);
		goto out;
	}
	sqlite3_finalize(s);
	sqlite3_finalize(ps);
	s = ps = NULL;
	if ((rc = store__exec_sql(st, "COMMIT")) != 0)
		goto out;
	*out = v;
	*nout = n;
	return 0;
out:
	sqlite3_finalize(s);
	sqlite3_finalize(ps);
	store__tx_rollback(st);
	store_partners_free(v, n);
	return rc;
}

static int
partner_known(struct store *st, const char *domain)
{
	int64_t one;
	int rc = store__query_int(st, &one, "SELECT 1 FROM partner WHERE domain = ?", "s", domain);

	if (rc == -ENOENT)
		return store__serr(st, -ENOENT, "%s is not a discovered partner", domain);
	return rc;
}

static int
do_partner_promote(struct store *st, const char *domain, void *arg)
{
	int rc = partner_known(st, domain);

	return rc ? rc : store__allowed_insert(st, domain, NULL, false, arg);
}

static int
do_partner_block(struct store *st, const char *domain, void *arg)
{
	int rc = partner_known(st, domain);

	return rc ? rc : store__blocked_insert(st, domain, arg);
}

int
store_partner_promote(struct store *st, const char *domain, const char *comment)
{
	static const struct change ch = { "partners promote", "allowed", store__allowed_json };

	return store__audited(st, &ch, domain, false, do_partner_promote, (void *)(uintptr_t)comment);
}

int
store_partner_block(struct store *st, const char *domain, const char *comment)
{
	static const struct change ch = { "partners block", "blocked", store__blocked_json };

	return store__audited(st, &ch, domain, false, do_partner_block, (void *)(uintptr_t)comment);
}

/* --------------------------------------------------------------- audit */

void
store_audit_free(struct store_audit *a, size_t n)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(a[i].actor);
		free(a[i].command);
		free(a[i].object);
		free(a[i].old_json);
		free(a[i].new_json);
	}
	free(a);
}

int
store_audit_list(struct store *st, size_t limit, struct store_audit **out, size_t *nout)
{
	sqlite3_stmt *s = NULL;
	struct store_audit *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if ((rc = store__prep(st, &s, "SELECT id, at, actor, command, object, old, new FROM "
	    "(SELECT * FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id", "i",
	    limit == 0 || limit > INT64_MAX ? (int64_t)-1 : (int64_t)limit)) != 0)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_audit *a;

		if (store__grow(&v, &cap, n, sizeof(*v)) != 0) {
			rc = store__serr(st, -ENOMEM, "out of memory");
			goto out;
		}
		a = &v[n++];
		a->id = sqlite3_column_int64(s, 0);
		a->at = (time_t)sqlite3_column_int64(s, 1);
		if ((rc = store__col_dup(st, s, 2, false, &a->actor)) != 0 ||
		    (rc = store__col_dup(st, s, 3, false, &a->command)) != 0 ||
		    (rc = store__col_dup(st, s, 4, false, &a->object)) != 0 ||
		    (rc = store__col_dup(st, s, 5, true, &a->old_json)) != 0 ||
		    (rc = store__col_dup(st, s, 6, true, &a->new_json)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = store__sqlerr(st, rc);
		goto out;
	}
	sqlite3_finalize(s);
	*out = v;
	*nout = n;
	return 0;
out:
	sqlite3_finalize(s);
	store_audit_free(v, n);
	return rc;
}
