-- db/migrations/002-xmpp.sql: schema version 2: XMPP federation.  The allowed
-- XMPP partners with their stream negotiation settings (Lync Server 2013's
-- New-CsXmppAllowedPartner), their additional domains, the XMPP settings, and
-- the presence subscriptions the SIP/XMPP gateway keeps across restarts
-- (RFC 6121 section 3 and appendix A).
--
-- A domain is one thing only: a SIP allowed domain, a domain a SIP provider
-- serves, a blocked domain, an XMPP partner's domain, or one of an XMPP
-- partner's additional domains.  src/store_xmpp.c and src/store_domains.c check
-- this first to say which one is in the way; the triggers below also hold for
-- changes made with the sqlite3 shell.
--
-- The audit log's objects (db/schema.sql) gain "xmpp partner <domain>" and
-- "xmpp config <setting>".

-- Allowed XMPP partners.  tls and sasl are the partner's TlsNegotiation and
-- SaslNegotiation; connection_limit NULL means the setting
-- partner-connection-limit; proxy_fqdn NULL means the partner's servers are
-- found by DNS SRV.  The one table constraint is Lync's negotiation matrix:
-- SASL (EXTERNAL, with the certificate) is only possible over TLS, and a
-- partner must be able to authenticate by SASL or by dialback.
CREATE TABLE xmpp_partner (
	domain           TEXT PRIMARY KEY CHECK (domain <> '' AND domain = lower(domain)),
	partner_type     TEXT NOT NULL DEFAULT 'public-unverified'
	                 CHECK (partner_type IN ('federated', 'public-verified', 'public-unverified')),
	tls              TEXT NOT NULL DEFAULT 'required'
	                 CHECK (tls IN ('required', 'optional', 'not-supported')),
	sasl             TEXT NOT NULL DEFAULT 'required'
	                 CHECK (sasl IN ('required', 'optional', 'not-supported')),
	dialback         INTEGER NOT NULL DEFAULT 1 CHECK (dialback IN (0, 1)),
	keepalive        INTEGER NOT NULL DEFAULT 1 CHECK (keepalive IN (0, 1)),
	connection_limit INTEGER CHECK (connection_limit IS NULL OR connection_limit BETWEEN 1 AND 100000),
	proxy_fqdn       TEXT CHECK (proxy_fqdn IS NULL OR (proxy_fqdn <> '' AND proxy_fqdn = lower(proxy_fqdn))),
	comment          TEXT NOT NULL DEFAULT '',
	added            INTEGER NOT NULL,
	CONSTRAINT xmpp_partner_can_authenticate
	CHECK (dialback = 1 OR (sasl <> 'not-supported' AND tls <> 'not-supported'))
);

-- The other domains an XMPP partner serves (AdditionalDomains); a domain
-- belongs to at most one partner.
CREATE TABLE xmpp_partner_domain (
	domain  TEXT PRIMARY KEY CHECK (domain <> '' AND domain = lower(domain)),
	partner TEXT NOT NULL REFERENCES xmpp_partner (domain) ON DELETE CASCADE
);
CREATE INDEX xmpp_partner_domain_partner ON xmpp_partner_domain (partner);

-- XMPP settings that differ from their defaults; the typed table of names,
-- bounds and defaults is in src/store_config.c, as for the config table.
CREATE TABLE xmpp_config (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- Presence subscriptions between one of our SIP users and a remote XMPP
-- contact, from our user's side as in a roster item (RFC 6121 2.1.2.5):
-- state 'to' means our user receives the contact's presence, 'from' that the
-- contact receives our user's.  pending_out (our user asked, no answer yet)
-- and pending_in (the contact asked, our user has not answered) complete the
-- nine states of RFC 6121 appendix A.  last_presence is our user's presence
-- as the gateway last had it from the pool (to answer the contact's probes
-- after a restart); sip_dialog and sip_expires describe the gateway's SIP
-- subscription for this pair.  The daemon's state, not policy: no generation
-- bump, no audit.
CREATE TABLE xmpp_subscription (
	local_uri     TEXT NOT NULL CHECK (local_uri <> ''),
	remote_jid    TEXT NOT NULL CHECK (remote_jid <> ''),
	state         TEXT NOT NULL DEFAULT 'none' CHECK (state IN ('none', 'to', 'from', 'both')),
	pending_out   INTEGER NOT NULL DEFAULT 0 CHECK (pending_out IN (0, 1)),
	pending_in    INTEGER NOT NULL DEFAULT 0 CHECK (pending_in IN (0, 1)),
	last_presence TEXT,
	sip_dialog    TEXT,
	sip_expires   INTEGER,
	updated_at    INTEGER NOT NULL,
	PRIMARY KEY (local_uri, remote_jid),
	CHECK (pending_out = 0 OR state IN ('none', 'from')),
	CHECK (pending_in = 0 OR state IN ('none', 'to'))
) WITHOUT ROWID;
CREATE INDEX xmpp_subscription_remote ON xmpp_subscription (remote_jid);

-- A domain is one thing only (see the top of this file).
CREATE TRIGGER xmpp_partner_domain_free_ins BEFORE INSERT ON xmpp_partner
WHEN EXISTS (SELECT 1 FROM allowed_domain WHERE domain = NEW.domain)
  OR EXISTS (SELECT 1 FROM provider_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both a SIP federation partner and an XMPP partner'); END;
CREATE TRIGGER xmpp_partner_domain_free_upd BEFORE UPDATE OF domain ON xmpp_partner
WHEN EXISTS (SELECT 1 FROM allowed_domain WHERE domain = NEW.domain)
  OR EXISTS (SELECT 1 FROM provider_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both a SIP federation partner and an XMPP partner'); END;
CREATE TRIGGER xmpp_partner_not_blocked_ins BEFORE INSERT ON xmpp_partner
WHEN EXISTS (SELECT 1 FROM blocked_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both blocked and an XMPP partner'); END;
CREATE TRIGGER xmpp_partner_not_blocked_upd BEFORE UPDATE OF domain ON xmpp_partner
WHEN EXISTS (SELECT 1 FROM blocked_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both blocked and an XMPP partner'); END;
CREATE TRIGGER xmpp_partner_not_additional_ins BEFORE INSERT ON xmpp_partner
WHEN EXISTS (SELECT 1 FROM xmpp_partner_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain belongs to at most one XMPP partner'); END;
CREATE TRIGGER xmpp_partner_not_additional_upd BEFORE UPDATE OF domain ON xmpp_partner
WHEN EXISTS (SELECT 1 FROM xmpp_partner_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain belongs to at most one XMPP partner'); END;

CREATE TRIGGER xmpp_additional_free_ins BEFORE INSERT ON xmpp_partner_domain
WHEN EXISTS (SELECT 1 FROM allowed_domain WHERE domain = NEW.domain)
  OR EXISTS (SELECT 1 FROM provider_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both a SIP federation partner and an XMPP partner'); END;
CREATE TRIGGER xmpp_additional_free_upd BEFORE UPDATE OF domain ON xmpp_partner_domain
WHEN EXISTS (SELECT 1 FROM allowed_domain WHERE domain = NEW.domain)
  OR EXISTS (SELECT 1 FROM provider_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both a SIP federation partner and an XMPP partner'); END;
CREATE TRIGGER xmpp_additional_not_blocked_ins BEFORE INSERT ON xmpp_partner_domain
WHEN EXISTS (SELECT 1 FROM blocked_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both blocked and an XMPP partner'); END;
CREATE TRIGGER xmpp_additional_not_blocked_upd BEFORE UPDATE OF domain ON xmpp_partner_domain
WHEN EXISTS (SELECT 1 FROM blocked_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both blocked and an XMPP partner'); END;
CREATE TRIGGER xmpp_additional_not_partner_ins BEFORE INSERT ON xmpp_partner_domain
WHEN EXISTS (SELECT 1 FROM xmpp_partner WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain belongs to at most one XMPP partner'); END;
CREATE TRIGGER xmpp_additional_not_partner_upd BEFORE UPDATE OF domain ON xmpp_partner_domain
WHEN EXISTS (SELECT 1 FROM xmpp_partner WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain belongs to at most one XMPP partner'); END;

CREATE TRIGGER allowed_not_xmpp_ins BEFORE INSERT ON allowed_domain
WHEN EXISTS (SELECT 1 FROM xmpp_partner WHERE domain = NEW.domain)
  OR EXISTS (SELECT 1 FROM xmpp_partner_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both a SIP federation partner and an XMPP partner'); END;
CREATE TRIGGER allowed_not_xmpp_upd BEFORE UPDATE OF domain ON allowed_domain
WHEN EXISTS (SELECT 1 FROM xmpp_partner WHERE domain = NEW.domain)
  OR EXISTS (SELECT 1 FROM xmpp_partner_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both a SIP federation partner and an XMPP partner'); END;
CREATE TRIGGER provider_domain_not_xmpp_ins BEFORE INSERT ON provider_domain
WHEN EXISTS (SELECT 1 FROM xmpp_partner WHERE domain = NEW.domain)
  OR EXISTS (SELECT 1 FROM xmpp_partner_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both a SIP federation partner and an XMPP partner'); END;
CREATE TRIGGER provider_domain_not_xmpp_upd BEFORE UPDATE OF domain ON provider_domain
WHEN EXISTS (SELECT 1 FROM xmpp_partner WHERE domain = NEW.domain)
  OR EXISTS (SELECT 1 FROM xmpp_partner_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both a SIP federation partner and an XMPP partner'); END;
CREATE TRIGGER blocked_not_xmpp_ins BEFORE INSERT ON blocked_domain
WHEN EXISTS (SELECT 1 FROM xmpp_partner WHERE domain = NEW.domain)
  OR EXISTS (SELECT 1 FROM xmpp_partner_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both blocked and an XMPP partner'); END;
CREATE TRIGGER blocked_not_xmpp_upd BEFORE UPDATE OF domain ON blocked_domain
WHEN EXISTS (SELECT 1 FROM xmpp_partner WHERE domain = NEW.domain)
  OR EXISTS (SELECT 1 FROM xmpp_partner_domain WHERE domain = NEW.domain)
BEGIN SELECT RAISE(ABORT, 'a domain cannot be both blocked and an XMPP partner'); END;

-- Any change to the XMPP policy moves the generation on (db/schema.sql, meta),
-- so that a running daemon swaps its snapshot within a second.
CREATE TRIGGER gen_xmpp_partner_ins AFTER INSERT ON xmpp_partner
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_xmpp_partner_upd AFTER UPDATE ON xmpp_partner
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_xmpp_partner_del AFTER DELETE ON xmpp_partner
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_xmpp_partner_domain_ins AFTER INSERT ON xmpp_partner_domain
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_xmpp_partner_domain_upd AFTER UPDATE ON xmpp_partner_domain
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_xmpp_partner_domain_del AFTER DELETE ON xmpp_partner_domain
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_xmpp_config_ins AFTER INSERT ON xmpp_config
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_xmpp_config_upd AFTER UPDATE ON xmpp_config
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
CREATE TRIGGER gen_xmpp_config_del AFTER DELETE ON xmpp_config
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;
