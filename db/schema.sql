-- db/schema.sql: the sipedge policy store, schema version 1 (migration 1).
--
-- Applied by "sipedgectl db init" / "sipedgectl db migrate" (the SQL is compiled
-- into the binaries); later changes are db/migrations/NNN-name.sql, applied in
-- order, each taking PRAGMA user_version from NNN-1 to NNN.  Never edit a
-- migration that has been released: add a new one.
--
-- Names (domains, FQDNs) are stored in normal form: lower case, no trailing dot
-- (src/names.c).  Times are Unix seconds, UTC.  All SQL that reads or writes
-- these tables lives in src/store.c.

-- Small counters.  "generation" is bumped by the triggers below on every change
-- to the policy tables, so a daemon can poll one row to learn that it must
-- reload; discovered-partner counters do not bump it.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('generation', 1);

-- Access-edge settings that differ from their defaults; the typed table of
-- names, bounds and defaults is in src/store.c.
CREATE TABLE config (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- Allowed partner domains.  With proxy_fqdn: an allowed partner server (direct
-- federation); without: an allowed partner domain found by DNS SRV.
CREATE TABLE allowed_domain (
	domain     TEXT PRIMARY KEY CHECK (domain <> '' AND domain = lower(domain)),
	proxy_fqdn TEXT CHECK (proxy_fqdn IS NULL OR (proxy_fqdn <> '' AND proxy_fqdn = lower(proxy_fqdn))),
	monitor    INTEGER NOT NULL DEFAULT 0 CHECK (monitor IN (0, 1)),
	comment    TEXT NOT NULL DEFAULT '',
	added      INTEGER NOT NULL
);

CREATE TABLE blocked_domain (
	domain  TEXT PRIMARY KEY CHECK (domain <> '' AND domain = lower(domain)),
	comment TEXT NOT NULL DEFAULT '',
	added   INTEGER NOT NULL
);

-- Public IM and hosting providers share one table so that names and proxy
-- FQDNs are unique across both kinds.
CREATE TABLE provider (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (name <> ''),
	kind         TEXT NOT NULL CHECK (kind IN ('public', 'hosting')),
	proxy_fqdn   TEXT NOT NULL UNIQUE CHECK (proxy_fqdn <> '' AND proxy_fqdn = lower(proxy_fqdn)),
	verification TEXT NOT NULL DEFAULT 'use-source'
	             CHECK (verification IN ('always-verified', 'always-unverified', 'use-source')),
	enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	comment      TEXT NOT NULL DEFAULT '',
	added        INTEGER NOT NULL
);

-- The SIP domains a provider serves; a domain belongs to at most one provider.
CREATE TABLE provider_domain (
	domain      TEXT PRIMARY KEY CHECK (domain <> '' AND domain = lower(domain)),
	provider_id INTEGER NOT NULL REFERENCES provider (id) ON DELETE CASCADE
);
CREATE INDEX provider_domain_provider ON provider_domain (provider_id);

-- Discovered partners (open federation) as reported by the daemon.
CREATE TABLE partner (
	domain     TEXT PRIMARY KEY CHECK (domain <> '' AND domain = lower(domain)),
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	requests   INTEGER NOT NULL DEFAULT 0,
	contacts   INTEGER NOT NULL DEFAULT 0,
	throttled  INTEGER NOT NULL DEFAULT 0
);

-- The edge servers (certificate FQDNs) a discovered partner connected from or
-- was reached at.
CREATE TABLE partner_peer (
	domain    TEXT NOT NULL REFERENCES partner (domain) ON DELETE CASCADE,
	fqdn      TEXT NOT NULL CHECK (fqdn <> '' AND fqdn = lower(fqdn)),
	last_seen INTEGER NOT NULL,
	PRIMARY KEY (domain, fqdn)
) WITHOUT ROWID;

-- Every change made through sipedgectl: object is "allowed <domain>", "blocked
-- <domain>", "provider <name>", "config <setting>" or "schema"; old and new are
-- its JSON values before and after (NULL when it did not exist).
CREATE TABLE audit (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	at      INTEGER NOT NULL,
	actor   TEXT NOT NULL,
	command TEXT NOT NULL,
	object  TEXT NOT NULL,
	old     TEXT,
	new     TEXT
);

-- Consistency rules.  src/store.c checks them first to give a precise message;
-- these triggers also hold for changes made with the sqlite3 shell.
CREATE TRIGGER allowed_not_blocked_ins BEFORE INSERT ON allowed_domain
WHEN EXISTS (SELECT 1 FROM blocked_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both allowed and blocked'); END;
CREATE TRIGGER allowed_not_blocked_upd BEFORE UPDATE OF domain ON allowed_domain
WHEN EXISTS (SELECT 1 FROM blocked_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both allowed and blocked'); END;
CREATE TRIGGER blocked_not_allowed_ins BEFORE INSERT ON blocked_domain
WHEN EXISTS (SELECT 1 FROM allowed_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both allowed and blocked'); END;
CREATE TRIGGER blocked_not_allowed_upd BEFORE UPDATE OF domain ON blocked_domain
WHEN EXISTS (SELECT 1 FROM allowed_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both allowed and blocked'); END;
CREATE TRIGGER allowed_proxy_not_provider_ins BEFORE INSERT ON allowed_domain
WHEN NEW.proxy_fqdn IS NOT NULL AND EXISTS (SELECT 1 FROM provider WHERE proxy_fqdn = NEW.proxy_fqdn)
BEGIN SELECT RAISE(ABORT, 'an FQDN cannot be both an allowed partner server and a provider proxy'); END;
CREATE TRIGGER allowed_proxy_not_provider_upd BEFORE UPDATE OF proxy_fqdn ON allowed_domain
WHEN NEW.proxy_fqdn IS NOT NULL AND EXISTS (SELECT 1 FROM provider WHERE proxy_fqdn = NEW.proxy_fqdn)
BEGIN SELECT RAISE(ABORT, 'an FQDN cannot be both an allowed partner server and a provider proxy'); END;
CREATE TRIGGER provider_proxy_not_allowed_ins BEFORE INSERT ON provider
WHEN EXISTS (SELECT 1 FROM allowed_domain WHERE proxy_fqdn = NEW.proxy_fqdn)
BEGIN SELECT RAISE(ABORT, 'an FQDN cannot be both an allowed partner server and a provider proxy'); END;
CREATE TRIGGER provider_proxy_not_allowed_upd BEFORE UPDATE OF proxy_fqdn ON provider
WHEN EXISTS (SELECT 1 FROM allowed_domain WHERE proxy_fqdn = NEW.proxy_fqdn)
BEGIN SELECT RAISE(ABORT, 'an FQDN cannot be both an allowed partner server and a provider proxy'); END;

-- Any change to the policy moves the generation on (see meta above).
CREATE TRIGGER gen_config_ins AFTER INSERT ON config
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_config_upd AFTER UPDATE ON config
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_config_del AFTER DELETE ON config
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_allowed_ins AFTER INSERT ON allowed_domain
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_allowed_upd AFTER UPDATE ON allowed_domain
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_allowed_del AFTER DELETE ON allowed_domain
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_blocked_ins AFTER INSERT ON blocked_domain
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_blocked_upd AFTER UPDATE ON blocked_domain
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_blocked_del AFTER DELETE ON blocked_domain
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_provider_ins AFTER INSERT ON provider
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_provider_upd AFTER UPDATE ON provider
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_provider_del AFTER DELETE ON provider
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_provider_domain_ins AFTER INSERT ON provider_domain
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_provider_domain_upd AFTER UPDATE ON provider_domain
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_provider_domain_del AFTER DELETE ON provider_domain
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
