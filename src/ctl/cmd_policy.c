/* cmd_policy.c: sipedgectl commands over the federation policy: config, allow,
 * block, provider, partners. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Load the policy for a listing; on error report and return the exit code. */
static int
load(struct ctl *c, struct store_policy **p)
{
	int rc = store_policy_load(c->st, p);

	return rc ? ctl_store_fail(c, rc) : 0;
}

/* A mutation's result: a short confirmation for people, nothing for --json. */
static int
done(struct ctl *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
done(struct ctl *c, int rc, const char *fmt, ...)
{
	va_list ap;

	if (rc != 0)
		return ctl_store_fail(c, rc);
	if (!c->json) {
		va_start(ap, fmt);
		vfprintf(c->out, fmt, ap);
		va_end(ap);
		fputc('\n', c->out);
	}
	return CTL_OK;
}

/* The normal form of a domain argument for a confirmation (the store has
 * already accepted it). */
const char *
ctl_shown(const char *in, char buf[NAMES_MAX + 1])
{
	return names_normalize(in, buf, NAMES_MAX + 1, NULL) == 0 ? buf : in;
}

/* ------------------------------------------------------------------ config */

void
ctl_json_setting(struct json_out *o, const struct store_setting *s,
    const struct store_config *cfg)
{
	char buf[NAMES_MAX + 16];

	store_setting_format(s, cfg, buf, sizeof(buf));
	switch (s->type) {
	case STORE_SET_BOOL:
		json_out_bool(o, strcmp(buf, "on") == 0);
		break;
	case STORE_SET_UINT:
		json_out_uint(o, strtoull(buf, NULL, 10));
		break;
	case STORE_SET_FQDN:
		if (buf[0] == '\0') {
			json_out_null(o);
			break;
		}
		/* FALLTHROUGH */
	case STORE_SET_ENUM:
		json_out_string(o, buf);
		break;
	}
}

int
ctl_settings_show(struct ctl *c, const struct ctl_args *a, const struct store_setting *table,
    const char *show)
{
	static const char *const heads[] = { "SETTING", "VALUE", "DEFAULT", "DESCRIPTION" };
	const struct store_setting *one = NULL;
	struct store_policy *p;
	struct ctl_table t;
	struct json_out o;
	char buf[NAMES_MAX + 16];
	int rc;

	for (const struct store_setting *s = table; a->npos == 1 && s->name && !one; s++)
		if (strcmp(s->name, a->pos[0]) == 0)
			one = s;
	if (a->npos == 1 && one == NULL)
		return ctl_fail(c, CTL_FAIL, "unknown setting \"%s\"; \"%s\" lists them", a->pos[0],
		    show);
	if ((rc = load(c, &p)) != 0)
		return rc;
	if (c->json) {
		json_out_init(&o, c->out);
		json_out_begin_object(&o);
		for (const struct store_setting *s = table; s->name; s++) {
			if (one != NULL && s != one)
				continue;
			json_out_key(&o, s->name);
			ctl_json_setting(&o, s, &p->config);
		}
		json_out_end_object(&o);
		json_out_end(&o);
	} else if (one != NULL) {
		store_setting_format(one, &p->config, buf, sizeof(buf));
		fprintf(c->out, "%s\n", buf);
	} else {
		ctl_table_init(&t, 4, heads);
		for (const struct store_setting *s = table; s->name; s++) {
			char desc[512];

			store_setting_format(s, &p->config, buf, sizeof(buf));
			snprintf(desc, sizeof(desc), "%s%s%s%s", s->description, s->unit ? " (" : "",
			    s->unit ? s->unit : "", s->unit ? ")" : "");
			ctl_table_add(&t, s->name, buf[0] ? buf : "-", s->def[0] ? s->def : "-", desc);
		}
		ctl_table_print(&t, c->out);
		ctl_table_free(&t);
	}
	store_policy_free(p);
	return CTL_OK;
}

int
cmd_config_show(struct ctl *c, const struct ctl_args *a)
{
	return ctl_settings_show(c, a, store_settings(), "sipedgectl config show");
}

int
cmd_config_set(struct ctl *c, const struct ctl_args *a)
{
	int rc = store_config_set(c->st, a->pos[0], a->pos[1]);

	if (rc != 0)
		return ctl_store_fail(c, rc);
	if (!c->json)
		fprintf(c->out, "%s set to %s\n", a->pos[0], a->pos[1][0] ? a->pos[1] : "\"\"");
	return CTL_OK;
}

int
cmd_config_reset(struct ctl *c, const struct ctl_args *a)
{
	return done(c, store_config_reset(c->st, a->pos[0]), "%s reset to its default",
	    a->pos[0]);
}

/* ------------------------------------------------------------ allow, block */

int
cmd_allow_add(struct ctl *c, const struct ctl_args *a)
{
	const char *proxy = ctl_opt(a, "proxy-fqdn");
	char b[NAMES_MAX + 1];
	int rc = store_allowed_add(c->st, a->pos[0], proxy, ctl_flag(a, "monitor"),
	    ctl_opt(a, "comment"));

	return done(c, rc, proxy ? "%s allowed (partner server)" : "%s allowed",
	    ctl_shown(a->pos[0], b));
}

int
cmd_allow_remove(struct ctl *c, const struct ctl_args *a)
{
	char b[NAMES_MAX + 1];

	return done(c, store_allowed_remove(c->st, a->pos[0]), "%s removed from the allow list",
	    ctl_shown(a->pos[0], b));
}

int
cmd_allow_list(struct ctl *c, const struct ctl_args *a)
{
	static const char *const heads[] = { "DOMAIN", "PROXY-FQDN", "MONITOR", "COMMENT" };
	struct store_policy *p;
	struct ctl_table t;
	struct json_out o;
	int rc;

	if ((rc = load(c, &p)) != 0)
		return rc;
	if (c->json) {
		json_out_init(&o, c->out);
		json_out_begin_array(&o);
		for (size_t i = 0; i < p->nallowed; i++) {
			const struct store_allowed *v = &p->allowed[i];

			json_out_begin_object(&o);
			json_out_key(&o, "domain");
			json_out_string(&o, v->domain);
			json_out_key(&o, "proxy_fqdn");
			json_out_string(&o, v->proxy_fqdn);
			json_out_key(&o, "monitor");
			json_out_bool(&o, v->monitor);
			json_out_key(&o, "comment");
			json_out_string(&o, v->comment);
			json_out_end_object(&o);
		}
		json_out_end_array(&o);
		json_out_end(&o);
	} else {
		ctl_table_init(&t, 4, heads);
		for (size_t i = 0; i < p->nallowed; i++) {
			const struct store_allowed *v = &p->allowed[i];

			ctl_table_add(&t, v->domain, v->proxy_fqdn ? v->proxy_fqdn : "(dns srv)",
			    v->monitor ? "yes" : "no", v->comment[0] ? v->comment : "-");
		}
		ctl_table_print(&t, c->out);
		ctl_table_free(&t);
	}
	store_policy_free(p);
	return CTL_OK;
}

int
cmd_block_add(struct ctl *c, const struct ctl_args *a)
{
	char b[NAMES_MAX + 1];

	if (ctl_flag(a, "replace"))
		return done(c, store_blocked_replace(c->st, a->pos[0], ctl_opt(a, "comment")),
		    "%s blocked", ctl_shown(a->pos[0], b));
	return done(c, store_blocked_add(c->st, a->pos[0], ctl_opt(a, "comment")), "%s blocked",
	    ctl_shown(a->pos[0], b));
}

int
cmd_block_remove(struct ctl *c, const struct ctl_args *a)
{
	char b[NAMES_MAX + 1];

	return done(c, store_blocked_remove(c->st, a->pos[0]), "%s removed from the block list",
	    ctl_shown(a->pos[0], b));
}

int
cmd_block_list(struct ctl *c, const struct ctl_args *a)
{
	static const char *const heads[] = { "DOMAIN", "COMMENT" };
	struct store_policy *p;
	struct ctl_table t;
	struct json_out o;
	int rc;

	if ((rc = load(c, &p)) != 0)
		return rc;
	if (c->json) {
		json_out_init(&o, c->out);
		json_out_begin_array(&o);
		for (size_t i = 0; i < p->nblocked; i++) {
			json_out_begin_object(&o);
			json_out_key(&o, "domain");
			json_out_string(&o, p->blocked[i].domain);
			json_out_key(&o, "comment");
			json_out_string(&o, p->blocked[i].comment);
			json_out_end_object(&o);
		}
		json_out_end_array(&o);
		json_out_end(&o);
	} else {
		ctl_table_init(&t, 2, heads);
		for (size_t i = 0; i < p->nblocked; i++)
			ctl_table_add(&t, p->blocked[i].domain,
			    p->blocked[i].comment[0] ? p->blocked[i].comment : "-");
		ctl_table_print(&t, c->out);
		ctl_table_free(&t);
	}
	store_policy_free(p);
	return CTL_OK;
}

/* --------------------------------------------------------------- providers */

static int
parse_kind(struct ctl *c, const char *s, int *out)
{
	enum store_provider_kind k;

	if (store_provider_kind_parse(s, &k) != 0)
		return ctl_fail(c, CTL_FAIL, "invalid kind \"%s\": use public or hosting", s);
	*out = (int)k;
	return 0;
}

static int
parse_verification(struct ctl *c, const char *s, int *out)
{
	enum store_verification v;

	if (store_verification_parse(s, &v) != 0)
		return ctl_fail(c, CTL_FAIL, "invalid verification level \"%s\": use "
		    "use-source, always-verified or always-unverified", s);
	*out = (int)v;
	return 0;
}

int
cmd_provider_add(struct ctl *c, const struct ctl_args *a)
{
	struct store_provider p = { 0 };
	const char *kind = ctl_opt(a, "kind"), *verif = ctl_opt(a, "verification");
	const char **domains = NULL;
	int k = 0, v = STORE_VERIFY_USE_SOURCE, rc;

	if (ctl_opt(a, "proxy-fqdn") == NULL)
		return ctl_fail(c, CTL_USAGE, "--proxy-fqdn FQDN is required");
	if (kind == NULL)
		return ctl_fail(c, CTL_USAGE, "--kind public|hosting is required");
	if ((rc = parse_kind(c, kind, &k)) != 0)
		return rc;
	if (verif != NULL && (rc = parse_verification(c, verif, &v)) != 0)
		return rc;
	p.name = a->pos[0];
	p.proxy_fqdn = (char *)(uintptr_t)ctl_opt(a, "proxy-fqdn");
	p.kind = (enum store_provider_kind)k;
	p.verification = (enum store_verification)v;
	p.enabled = !ctl_flag(a, "disabled");
	p.comment = (char *)(uintptr_t)ctl_opt(a, "comment");
	domains = ctl_opt_all(a, "domain", &p.ndomains);
	p.domains = (char **)(uintptr_t)domains;
	rc = store_provider_add(c->st, &p);
	free(domains);
	return done(c, rc, "provider %s added", a->pos[0]);
}

int
cmd_provider_set(struct ctl *c, const struct ctl_args *a)
{
	struct store_provider_patch pt = { 0 };
	const char *kind = ctl_opt(a, "kind"), *verif = ctl_opt(a, "verification");
	const char **set = NULL, **add = NULL, **rm = NULL;
	int rc;

	pt.kind = pt.verification = pt.enabled = -1;
	if (ctl_flag(a, "enabled") && ctl_flag(a, "disabled"))
		return ctl_fail(c, CTL_USAGE, "--enabled and --disabled exclude each other");
	if (ctl_flag(a, "no-domains") && ctl_flag(a, "domain"))
		return ctl_fail(c, CTL_USAGE, "--no-domains and --domain exclude each other");
	if (a->nopts == 0)
		return ctl_fail(c, CTL_USAGE, "nothing to change (see \"sipedgectl help\")");
	if (kind != NULL && (rc = parse_kind(c, kind, &pt.kind)) != 0)
		return rc;
	if (verif != NULL && (rc = parse_verification(c, verif, &pt.verification)) != 0)
		return rc;
	if (ctl_flag(a, "enabled"))
		pt.enabled = 1;
	if (ctl_flag(a, "disabled"))
		pt.enabled = 0;
	pt.proxy_fqdn = ctl_opt(a, "proxy-fqdn");
	pt.comment = ctl_opt(a, "comment");
	set = ctl_opt_all(a, "domain", &pt.ndomains);
	pt.set_domains = set != NULL || ctl_flag(a, "no-domains");
	pt.domains = set;
	add = ctl_opt_all(a, "add-domain", &pt.nadd_domains);
	pt.add_domains = add;
	rm = ctl_opt_all(a, "remove-domain", &pt.nremove_domains);
	pt.remove_domains = rm;
	rc = store_provider_update(c->st, a->pos[0], &pt);
	free(set);
	free(add);
	free(rm);
	return done(c, rc, "provider %s changed", a->pos[0]);
}

int
cmd_provider_remove(struct ctl *c, const struct ctl_args *a)
{
	return done(c, store_provider_remove(c->st, a->pos[0]), "provider %s removed", a->pos[0]);
}

/* "a.test,b.test" for a table cell. */
char *
ctl_join(char *const *v, size_t n)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, v[i]);
	}
	return s;
}

int
cmd_provider_list(struct ctl *c, const struct ctl_args *a)
{
	static const char *const heads[] = {
		"NAME", "KIND", "PROXY-FQDN", "VERIFICATION", "ENABLED", "DOMAINS", "COMMENT"
	};
	struct store_policy *p;
	struct ctl_table t;
	struct json_out o;
	int rc;

	if ((rc = load(c, &p)) != 0)
		return rc;
	if (c->json) {
		json_out_init(&o, c->out);
		json_out_begin_array(&o);
		for (size_t i = 0; i < p->nproviders; i++) {
			const struct store_provider *v = &p->providers[i];

			json_out_begin_object(&o);
			json_out_key(&o, "name");
			json_out_string(&o, v->name);
			json_out_key(&o, "kind");
			json_out_string(&o, store_provider_kind_name(v->kind));
			json_out_key(&o, "proxy_fqdn");
			json_out_string(&o, v->proxy_fqdn);
			json_out_key(&o, "verification");
			json_out_string(&o, store_verification_name(v->verification));
			json_out_key(&o, "enabled");
			json_out_bool(&o, v->enabled);
			json_out_key(&o, "domains");
			json_out_begin_array(&o);
			for (size_t j = 0; j < v->ndomains; j++)
				json_out_string(&o, v->domains[j]);
			json_out_end_array(&o);
			json_out_key(&o, "comment");
			json_out_string(&o, v->comment);
			json_out_end_object(&o);
		}
		json_out_end_array(&o);
		json_out_end(&o);
	} else {
		ctl_table_init(&t, 7, heads);
		for (size_t i = 0; i < p->nproviders; i++) {
			const struct store_provider *v = &p->providers[i];
			char *d = ctl_join(v->domains, v->ndomains);

			ctl_table_add(&t, v->name, store_provider_kind_name(v->kind), v->proxy_fqdn,
			    store_verification_name(v->verification), v->enabled ? "yes" : "no",
			    d && d[0] ? d : "-", v->comment[0] ? v->comment : "-");
			free(d);
		}
		ctl_table_print(&t, c->out);
		ctl_table_free(&t);
	}
	store_policy_free(p);
	return CTL_OK;
}

/* ---------------------------------------------------------------- partners */

int
cmd_partners(struct ctl *c, const struct ctl_args *a)
{
	static const char *const heads[] = {
		"DOMAIN", "STATUS", "FIRST-SEEN", "LAST-SEEN", "REQUESTS", "CONTACTS",
		"THROTTLED", "PEERS"
	};
	struct store_partner *p = NULL;
	struct ctl_table t;
	struct json_out o;
	char f[32], l[32], rq[24], ct[24], th[24];
	size_t n = 0;
	int rc;

	if (ctl_flag(a, "live"))
		return cmd_partners_live(c, a);
	if ((rc = ctl_db_open(c, CTL_DB_OPEN)) != CTL_OK)
		return rc;
	if ((rc = store_partners_list(c->st, &p, &n)) != 0)
		return ctl_store_fail(c, rc);
	if (c->json) {
		json_out_init(&o, c->out);
		json_out_begin_array(&o);
		for (size_t i = 0; i < n; i++) {
			json_out_begin_object(&o);
			json_out_key(&o, "domain");
			json_out_string(&o, p[i].domain);
			json_out_key(&o, "status");
			json_out_string(&o, store_partner_status_name(p[i].status));
			json_out_key(&o, "first_seen");
			json_out_string(&o, ctl_time(p[i].first_seen, f, sizeof(f)));
			json_out_key(&o, "last_seen");
			json_out_string(&o, ctl_time(p[i].last_seen, l, sizeof(l)));
			json_out_key(&o, "requests");
			json_out_uint(&o, p[i].requests);
			json_out_key(&o, "contacts");
			json_out_uint(&o, p[i].contacts);
			json_out_key(&o, "throttled");
			json_out_uint(&o, p[i].throttled);
			json_out_key(&o, "peers");
			json_out_begin_array(&o);
			for (size_t j = 0; j < p[i].npeers; j++)
				json_out_string(&o, p[i].peers[j]);
			json_out_end_array(&o);
			json_out_end_object(&o);
		}
		json_out_end_array(&o);
		json_out_end(&o);
	} else {
		ctl_table_init(&t, 8, heads);
		for (size_t i = 0; i < n; i++) {
			char *peers = ctl_join(p[i].peers, p[i].npeers);

			snprintf(rq, sizeof(rq), "%" PRIu64, p[i].requests);
			snprintf(ct, sizeof(ct), "%" PRIu64, p[i].contacts);
			snprintf(th, sizeof(th), "%" PRIu64, p[i].throttled);
			ctl_table_add(&t, p[i].domain, store_partner_status_name(p[i].status),
			    ctl_time(p[i].first_seen, f, sizeof(f)),
			    ctl_time(p[i].last_seen, l, sizeof(l)), rq, ct, th,
			    peers && peers[0] ? peers : "-");
			free(peers);
		}
		ctl_table_print(&t, c->out);
		ctl_table_free(&t);
	}
	store_partners_free(p, n);
	return CTL_OK;
}

int
cmd_partners_promote(struct ctl *c, const struct ctl_args *a)
{
	char b[NAMES_MAX + 1];

	return done(c, store_partner_promote(c->st, a->pos[0], ctl_opt(a, "comment")),
	    "%s allowed", ctl_shown(a->pos[0], b));
}

int
cmd_partners_block(struct ctl *c, const struct ctl_args *a)
{
	char b[NAMES_MAX + 1];

	return done(c, store_partner_block(c->st, a->pos[0], ctl_opt(a, "comment")),
	    "%s blocked", ctl_shown(a->pos[0], b));
}
