/* store.h: the SQLite policy store (db/schema.sql), shared by the daemon and
 * sipedgectl(8); src/store.c holds all the SQL.
 *
 * Every function returns 0 or a negative errno and, on failure, leaves one
 * clear sentence in store_error().  Output parameters are written only on
 * success.  A struct store is one SQLite connection: use it from one thread at
 * a time (the daemon keeps one per thread that needs it).
 *
 * Errors:
 *   -ENOENT  no such db file, or no such domain / provider / setting
 *   -EEXIST  duplicate entry, or a consistency rule would be broken
 *   -EINVAL  a value with bad syntax or out of bounds
 *   -ESTALE  the db's schema is older than this binary's: run "db migrate"
 *   -ENOTSUP the db's schema is newer than this binary's (refused)
 *   -ENODATA the db is not initialised (schema version 0): run "db init"
 *   -EILSEQ  the file is not a sipedge policy db, or it is corrupt
 *   -EBUSY   the db stayed locked by another writer past the busy timeout
 *   -EACCES  permission denied
 *   -EIO     any other SQLite failure */
#ifndef SIPEDGE_STORE_H
#define SIPEDGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sipedge/names.h"
#include "sipedge/store_xmpp.h"

struct store;

/* store_open flags. */
#define STORE_OPEN_CREATE   0x1  /* create the file if missing (db init) */
#define STORE_OPEN_ANY      0x2  /* accept any schema version (db init, db migrate) */

/* Open the db at PATH read-write with foreign keys on and a busy timeout of 5 s.
 * Unless STORE_OPEN_ANY, the schema version must be exactly this binary's.
 * On error returns a negative errno and writes one line to err. */
int store_open(const char *path, unsigned flags, struct store **out, char *err, size_t errlen);
void store_close(struct store *st);
/* The message of the last failure on st ("" if none).  Owned by st. */
const char *store_error(const struct store *st);
/* Milliseconds to wait for another writer's lock before -EBUSY. */
void store_busy_timeout(struct store *st, int ms);
/* Commits on st without an fsync each (SQLite synchronous=NORMAL in WAL
 * mode): a change survives a crash of the process, not always a power cut.
 * For the daemon's frequent small writes on an event loop (presence
 * states).  0 or -errno. */
int store_sync_relaxed(struct store *st);
/* Who the audit log names for changes made through st (default "unknown"). */
void store_set_actor(struct store *st, const char *actor);

/* Schema versions: the one this binary writes, and the db's. */
int store_schema_version(void);
int store_db_version(struct store *st, int *out);
/* Bring a db of version 0 (new or empty file) to the current version, set
 * WAL mode.  -EEXIST if it already has a schema. */
int store_init(struct store *st);
/* Apply the missing migrations, each in its own transaction.  *from and *to
 * (may be NULL) receive the versions before and after.  -ENOTSUP if newer. */
int store_migrate(struct store *st, int *from, int *to);

/* A counter bumped by every committed change to the policy (not by partner
 * counters).  One indexed row read: cheap enough to poll once a second. */
int store_generation(struct store *st, uint64_t *out);

/* ---- access-edge configuration ---- */

enum store_routing { STORE_ROUTING_DNS_SRV = 0, STORE_ROUTING_DEFAULT_ROUTE = 1 };

struct store_config {
	bool federation;                   /* federation: on|off, default off */
	bool partner_discovery;            /* partner-discovery: on|off, default off */
	enum store_routing routing;        /* routing-method, default dns-srv */
	char default_route_fqdn[NAMES_MAX + 1]; /* default-route-fqdn, "" if unset */
	unsigned discovered_rate;          /* requests/s per discovered partner, 20 */
	unsigned discovered_suspicious_rate; /* requests/s once suspicious, 1 */
	unsigned discovered_suspicious_ratio; /* failed per 100 successful, 100 */
	unsigned discovered_contacts;      /* distinct internal contacts per period, 1000 */
	unsigned discovered_period;        /* report period, minutes, 60 */
	bool mark_source_verifiable;       /* mark-source-verifiable, default on */
	struct store_xmpp_config xmpp;     /* the XMPP settings (store_xmpp.h) */
};

enum store_setting_type { STORE_SET_BOOL, STORE_SET_UINT, STORE_SET_ENUM, STORE_SET_FQDN };

struct store_setting;
/* Parse text into c (syntax and bounds), or format c's value as text. */
typedef int store_setting_apply_cb(const struct store_setting *s, const char *value,
    struct store_config *c, char *err, size_t errlen);
typedef void store_setting_format_cb(const struct store_setting *s,
    const struct store_config *c, char *buf, size_t len);

/* One row of the typed settings table (the only list of settings). */
struct store_setting {
	const char *name;                  /* "discovered-rate" */
	enum store_setting_type type;
	unsigned min, max;                 /* STORE_SET_UINT bounds, inclusive */
	const char *const *choices;        /* STORE_SET_ENUM names, NULL-ended; index = value */
	const char *def;                   /* default, in text form */
	const char *unit;                  /* "requests/s", "minutes" or NULL */
	size_t offset;                     /* field in struct store_config */
	store_setting_apply_cb *apply;
	store_setting_format_cb *format;
	const char *description;
};

/* The settings table, NULL-name terminated, in display order. */
const struct store_setting *store_settings(void);
const struct store_setting *store_setting_find(const char *name);
/* The XMPP settings ("sipedgectl xmpp config"), the same kind of table over
 * c->xmpp, stored apart (xmpp_config). */
const struct store_setting *store_xmpp_settings(void);
const struct store_setting *store_xmpp_setting_find(const char *name);
/* Write every default (access-edge and XMPP) into c. */
void store_config_defaults(struct store_config *c);
/* Parse VALUE ("on", "20", "dns-srv", an FQDN or "" to unset) into c's field
 * for s, checking syntax and bounds (not the cross-setting rules). */
int store_setting_parse(const struct store_setting *s, const char *value,
    struct store_config *c, char *err, size_t errlen);
/* Format s's value in c as text ("on", "20", "dns-srv", FQDN or ""). */
void store_setting_format(const struct store_setting *s, const struct store_config *c,
    char *buf, size_t len);
/* Rules across settings: default-route needs an FQDN; partner discovery needs
 * DNS SRV routing; the suspicious rate is not above the normal rate; the XMPP
 * partner-connection-limit is not above connection-limit. */
int store_config_check(const struct store_config *c, char *err, size_t errlen);

/* Set or reset (to its default) one setting; audited; refuses a change that
 * breaks store_config_check with -EINVAL. */
int store_config_set(struct store *st, const char *name, const char *value);
int store_config_reset(struct store *st, const char *name);

/* ---- the policy ---- */

struct store_allowed {
	char *domain;
	char *proxy_fqdn;                  /* NULL: find the partner by DNS SRV */
	bool monitor;
	char *comment;                     /* never NULL in a loaded policy */
};

struct store_blocked {
	char *domain;
	char *comment;
};

enum store_provider_kind { STORE_PROVIDER_PUBLIC = 0, STORE_PROVIDER_HOSTING = 1 };

/* How messages from a provider are marked (Lync VerificationLevel). */
enum store_verification {
	STORE_VERIFY_USE_SOURCE = 0,       /* trust the provider's own mark (UseSourceVerification) */
	STORE_VERIFY_ALWAYS_VERIFIED = 1,  /* every message verified (AlwaysVerifiable) */
	STORE_VERIFY_ALWAYS_UNVERIFIED = 2 /* every message unverified (AlwaysUnverifiable) */
};

struct store_provider {
	char *name;
	enum store_provider_kind kind;
	char *proxy_fqdn;
	enum store_verification verification;
	bool enabled;
	char *comment;
	char **domains;                    /* sorted */
	size_t ndomains;
};

/* The whole policy, as the daemon snapshots it and export writes it.  Owned by
 * the caller of store_policy_load; free with store_policy_free.  Lists are
 * sorted by domain or name. */
struct store_policy {
	uint64_t generation;               /* of the transaction that read it */
	struct store_config config;
	struct store_allowed *allowed;
	size_t nallowed;
	struct store_blocked *blocked;
	size_t nblocked;
	struct store_provider *providers;
	size_t nproviders;
	struct store_xmpp_partner *xmpp_partners;
	size_t nxmpp_partners;
};

/* Read the policy (the XMPP partners and settings too) in one read
 * transaction.  -EINVAL if a row fails the rules
 * (edited by hand): the daemon then keeps its previous snapshot. */
int store_policy_load(struct store *st, struct store_policy **out);
void store_policy_free(struct store_policy *p);
/* Replace the whole policy with p in one transaction (import), validating and
 * normalising every name first; audited row by row as command.  All or
 * nothing. */
int store_policy_replace(struct store *st, const struct store_policy *p, const char *command);

/* Names and kinds as text. */
const char *store_provider_kind_name(enum store_provider_kind k);
int store_provider_kind_parse(const char *s, enum store_provider_kind *out);
const char *store_verification_name(enum store_verification v);
int store_verification_parse(const char *s, enum store_verification *out);
/* Provider names: 1-64 letters, digits, '.', '-', '_' (case kept, compared
 * case-insensitively). */
bool store_provider_name_valid(const char *name);

/* Allowed and blocked domains.  Names are validated and normalised here. */
int store_allowed_add(struct store *st, const char *domain, const char *proxy_fqdn,
    bool monitor, const char *comment);
int store_allowed_remove(struct store *st, const char *domain);
int store_blocked_add(struct store *st, const char *domain, const char *comment);
/* Block domain, removing it in the same transaction from the allow list or
 * from the XMPP partners (a partner's own domain removes the partner, an
 * additional domain leaves its partner's list); it need not be either. */
int store_blocked_replace(struct store *st, const char *domain, const char *comment);
int store_blocked_remove(struct store *st, const char *domain);

int store_provider_add(struct store *st, const struct store_provider *p);
/* Changes to a provider: NULL / -1 fields are kept. */
struct store_provider_patch {
	const char *proxy_fqdn;
	int kind;                          /* enum store_provider_kind or -1 */
	int verification;                  /* enum store_verification or -1 */
	int enabled;                       /* 0, 1 or -1 */
	const char *comment;
	bool set_domains;                  /* replace the list with domains[] */
	const char *const *domains;
	size_t ndomains;
	const char *const *add_domains;
	size_t nadd_domains;
	const char *const *remove_domains; /* each must be in the list */
	size_t nremove_domains;
};
int store_provider_update(struct store *st, const char *name, const struct store_provider_patch *pt);
int store_provider_remove(struct store *st, const char *name);

/* ---- discovered partners ---- */

/* One partner's traffic since the daemon's last report. */
struct store_partner_delta {
	const char *domain;
	const char *const *peers;          /* certificate FQDNs seen; may repeat earlier ones */
	size_t npeers;
	uint64_t requests;                 /* requests routed */
	uint64_t contacts;                 /* new distinct internal contacts (the caller dedups) */
	uint64_t throttled;                /* requests refused by the limits */
	time_t seen;                       /* last seen; 0: now */
};

/* Add a batch of deltas in one transaction (upsert by domain; first_seen kept,
 * last_seen the later one).  Does not move the generation.  Entries with a
 * bad domain or peer name are refused as a whole (-EINVAL). */
int store_partners_record(struct store *st, const struct store_partner_delta *d, size_t n);

enum store_partner_status { STORE_PARTNER_DISCOVERED = 0, STORE_PARTNER_ALLOWED, STORE_PARTNER_BLOCKED };

struct store_partner {
	char *domain;
	enum store_partner_status status;  /* whether it has since been allowed or blocked */
	time_t first_seen, last_seen;
	uint64_t requests, contacts, throttled;
	char **peers;                      /* sorted */
	size_t npeers;
};

int store_partners_list(struct store *st, struct store_partner **out, size_t *n);
void store_partners_free(struct store_partner *p, size_t n);
const char *store_partner_status_name(enum store_partner_status s);
/* Allow (no proxy, DNS SRV) or block a discovered partner.  -ENOENT if the
 * domain was never discovered; -EEXIST if already allowed or blocked. */
int store_partner_promote(struct store *st, const char *domain, const char *comment);
int store_partner_block(struct store *st, const char *domain, const char *comment);

/* ---- audit log ---- */

struct store_audit {
	int64_t id;
	time_t at;
	char *actor;
	char *command;                     /* "allow add" */
	char *object;                      /* "allowed fabrikam.test" */
	char *old_json;                    /* NULL: did not exist */
	char *new_json;                    /* NULL: no longer exists */
};

/* The last LIMIT entries (0: all), oldest first. */
int store_audit_list(struct store *st, size_t limit, struct store_audit **out, size_t *n);
void store_audit_free(struct store_audit *a, size_t n);

#endif
