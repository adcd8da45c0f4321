/* cmd_admin.c: sipedgectl commands over the db as a whole: audit, db init,
 * db migrate, export, import, help. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* The export format's version: bump it when a reader of the old one would
 * misread the new one.  Format 2 added the XMPP sections; a format 1 file
 * (without them) still imports, as a policy without XMPP partners. */
#define POLICY_FORMAT 2
/* An import file is a policy, not a data set. */
#define IMPORT_MAX (64 * 1024 * 1024)

int
cmd_help(struct ctl *c, const struct ctl_args *a)
{
	ctl_help(c->out);
	return CTL_OK;
}

/* ------------------------------------------------------------------- audit */

int
cmd_audit(struct ctl *c, const struct ctl_args *a)
{
	static const char *const heads[] = {
		"ID", "WHEN", "ACTOR", "COMMAND", "OBJECT", "OLD", "NEW"
	};
	const char *lim = ctl_opt(a, "limit");
	struct store_audit *v = NULL;
	unsigned long limit = 0;
	struct ctl_table t;
	struct json_out o;
	char when[32], id[24];
	size_t n = 0;
	int rc;

	if (lim != NULL) {
		char *end;

		errno = 0;
		limit = strtoul(lim, &end, 10);
		if (lim[0] < '0' || lim[0] > '9' || *end != '\0' || errno != 0 || limit == 0)
			return ctl_fail(c, CTL_USAGE, "--limit needs a positive whole number, "
			    "not \"%s\"", lim);
	}
	if ((rc = store_audit_list(c->st, limit, &v, &n)) != 0)
		return ctl_store_fail(c, rc);
	if (c->json) {
		json_out_init(&o, c->out);
		json_out_begin_array(&o);
		for (size_t i = 0; i < n; i++) {
			json_out_begin_object(&o);
			json_out_key(&o, "id");
			json_out_int(&o, v[i].id);
			json_out_key(&o, "at");
			json_out_string(&o, ctl_time(v[i].at, when, sizeof(when)));
			json_out_key(&o, "actor");
			json_out_string(&o, v[i].actor);
			json_out_key(&o, "command");
			json_out_string(&o, v[i].command);
			json_out_key(&o, "object");
			json_out_string(&o, v[i].object);
			/* The store wrote these with SQLite's json1: they are JSON. */
			json_out_key(&o, "old");
			json_out_raw(&o, v[i].old_json);
			json_out_key(&o, "new");
			json_out_raw(&o, v[i].new_json);
			json_out_end_object(&o);
		}
		json_out_end_array(&o);
		json_out_end(&o);
	} else {
		ctl_table_init(&t, 7, heads);
		for (size_t i = 0; i < n; i++) {
			snprintf(id, sizeof(id), "%" PRId64, v[i].id);
			ctl_table_add(&t, id, ctl_time(v[i].at, when, sizeof(when)), v[i].actor,
			    v[i].command, v[i].object, v[i].old_json, v[i].new_json);
		}
		ctl_table_print(&t, c->out);
		ctl_table_free(&t);
	}
	store_audit_free(v, n);
	return CTL_OK;
}

/* ---------------------------------------------------------------------- db */

int
cmd_db_init(struct ctl *c, const struct ctl_args *a)
{
	int rc = store_init(c->st);

	if (rc != 0)
		return ctl_store_fail(c, rc);
	if (!c->json)
		fprintf(c->out, "%s: initialised (schema version %d)\n", c->db_path,
		    store_schema_version());
	return CTL_OK;
}

int
cmd_db_migrate(struct ctl *c, const struct ctl_args *a)
{
	struct json_out o;
	int from, to, rc;

	if ((rc = store_migrate(c->st, &from, &to)) != 0)
		return ctl_store_fail(c, rc);
	if (c->json) {
		json_out_init(&o, c->out);
		json_out_begin_object(&o);
		json_out_key(&o, "from");
		json_out_int(&o, from);
		json_out_key(&o, "to");
		json_out_int(&o, to);
		json_out_end_object(&o);
		json_out_end(&o);
	} else if (from == to) {
		fprintf(c->out, "%s: schema version %d is current\n", c->db_path, to);
	} else {
		fprintf(c->out, "%s: migrated from schema version %d to %d\n", c->db_path, from, to);
	}
	return CTL_OK;
}

/* ------------------------------------------------------------------ export */

static void
export_policy(struct json_out *o, const struct store_policy *p)
{
	json_out_begin_object(o);
	json_out_key(o, "sipedge_policy");
	json_out_int(o, POLICY_FORMAT);
	json_out_key(o, "config");
	json_out_begin_object(o);
	for (const struct store_setting *s = store_settings(); s->name; s++) {
		json_out_key(o, s->name);
		ctl_json_setting(o, s, &p->config);
	}
	json_out_end_object(o);

	json_out_key(o, "allowed");
	json_out_begin_array(o);
	for (size_t i = 0; i < p->nallowed; i++) {
		json_out_begin_object(o);
		json_out_key(o, "domain");
		json_out_string(o, p->allowed[i].domain);
		json_out_key(o, "proxy_fqdn");
		json_out_string(o, p->allowed[i].proxy_fqdn);
		json_out_key(o, "monitor");
		json_out_bool(o, p->allowed[i].monitor);
		json_out_key(o, "comment");
		json_out_string(o, p->allowed[i].comment);
		json_out_end_object(o);
	}
	json_out_end_array(o);

	json_out_key(o, "blocked");
	json_out_begin_array(o);
	for (size_t i = 0; i < p->nblocked; i++) {
		json_out_begin_object(o);
		json_out_key(o, "domain");
		json_out_string(o, p->blocked[i].domain);
		json_out_key(o, "comment");
		json_out_string(o, p->blocked[i].comment);
		json_out_end_object(o);
	}
	json_out_end_array(o);

	json_out_key(o, "providers");
	json_out_begin_array(o);
	for (size_t i = 0; i < p->nproviders; i++) {
		const struct store_provider *v = &p->providers[i];

		json_out_begin_object(o);
		json_out_key(o, "name");
		json_out_string(o, v->name);
		json_out_key(o, "kind");
		json_out_string(o, store_provider_kind_name(v->kind));
		json_out_key(o, "proxy_fqdn");
		json_out_string(o, v->proxy_fqdn);
		json_out_key(o, "verification");
		json_out_string(o, store_verification_name(v->verification));
		json_out_key(o, "enabled");
		json_out_bool(o, v->enabled);
		json_out_key(o, "domains");
		json_out_begin_array(o);
		for (size_t j = 0; j < v->ndomains; j++)
			json_out_string(o, v->domains[j]);
		json_out_end_array(o);
		json_out_key(o, "comment");
		json_out_string(o, v->comment);
		json_out_end_object(o);
	}
	json_out_end_array(o);

	json_out_key(o, "xmpp_config");
	json_out_begin_object(o);
	for (const struct store_setting *s = store_xmpp_settings(); s->name; s++) {
		json_out_key(o, s->name);
		ctl_json_setting(o, s, &p->config);
	}
	json_out_end_object(o);
	json_out_key(o, "xmpp_partners");
	json_out_begin_array(o);
	for (size_t i = 0; i < p->nxmpp_partners; i++)
		ctl_json_xmpp_partner(o, &p->xmpp_partners[i]);
	json_out_end_array(o);
	json_out_end_object(o);
	json_out_end(o);
}

/* The export is deterministic (sorted, no time stamp) so that the files of
 * two edges can be compared with diff. */
int
cmd_export(struct ctl *c, const struct ctl_args *a)
{
	const char *file = a->npos ? a->pos[0] : NULL;
	struct store_policy *p;
	struct json_out o;
	char tmp[4096];
	FILE *f = c->out;
	int rc;

	if ((rc = store_policy_load(c->st, &p)) != 0)
		return ctl_store_fail(c, rc);
	if (file != NULL && strcmp(file, "-") != 0) {
		/* Write beside the target and rename, so a reader never sees half. */
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", file) >= sizeof(tmp)) {
			rc = ctl_fail(c, CTL_FAIL, "%s: file name too long", file);
			goto out;
		}
		if ((f = fopen(tmp, "w")) == NULL) {
			rc = ctl_fail(c, CTL_FAIL, "%s: %s", tmp, strerror(errno));
			goto out;
		}
	}
	json_out_init(&o, f);
	export_policy(&o, p);
	if (f != c->out) {
		if (ferror(f) | (fclose(f) != 0)) {
			rc = ctl_fail(c, CTL_FAIL, "%s: write failed: %s", tmp, strerror(errno));
			unlink(tmp);
			goto out;
		}
		if (rename(tmp, file) != 0) {
			rc = ctl_fail(c, CTL_FAIL, "%s: %s", file, strerror(errno));
			unlink(tmp);
			goto out;
		}
	}
	rc = CTL_OK;
out:
	store_policy_free(p);
	return rc;
}

/* ------------------------------------------------------------------ import */

struct imp {
	struct ctl *c;
	const char *file;
};

/* "import: FILE:LINE:COL: PATH: message" */
static int
bad(struct imp *im, const struct json *v, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
bad(struct imp *im, const struct json *v, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ctl_fail(im->c, CTL_FAIL, "%s:%u:%u: %s: %s", im->file, v->line, v->col, path, msg);
}

/* Refuse keys outside the space-separated list: a misspelt key would
 * otherwise be dropped silently. */
static int
only_keys(struct imp *im, const struct json *obj, const char *path, const char *keys)
{
	for (size_t i = 0; i < obj->n; i++) {
		const char *k = obj->keys[i], *p = keys;
		size_t len = strlen(k);
		bool ok = false;

		while (*p && !ok) {
			size_t l = strcspn(p, " ");

			ok = l == len && strncmp(p, k, l) == 0;
			p += l;
			p += strspn(p, " ");
		}
		if (!ok)
			return bad(im, obj->items[i], path, "unknown key \"%s\" (expected: %s)", k, keys);
	}
	return 0;
}

/* The member key of obj as type t; NULL if absent and optional.  null counts
 * as absent when null_ok. */
static int
member(struct imp *im, const struct json *obj, const char *path, const char *key,
    enum json_type t, bool required, bool null_ok, const struct json **out)
{
	const struct json *v = json_get(obj, key);

	*out = NULL;
	if (v == NULL || (null_ok && v->type == JSON_NULL)) {
		if (required)
			return bad(im, obj, path, "missing \"%s\"", key);
		return 0;
	}
	if (v->type != t)
		return bad(im, v, path, "\"%s\" must be %s, not %s", key, json_type_name(t),
		    json_type_name(v->type));
	*out = v;
	return 0;
}

/* The settings of table in the object cfg (section path) into out, which
 * holds the defaults or earlier sections. */
static int
import_config(struct imp *im, const struct json *cfg, const char *path,
    const struct store_setting *table, struct store_config *out)
{
	char err[256], num[32];

	for (size_t i = 0; i < cfg->n; i++) {
		const struct store_setting *s = table;
		const struct json *v = cfg->items[i];
		const char *text = NULL;
		int64_t n;

		while (s->name && strcmp(s->name, cfg->keys[i]) != 0)
			s++;
		if (s->name == NULL)
			return bad(im, v, path, "unknown setting \"%s\"", cfg->keys[i]);
		switch (s->type) {
		case STORE_SET_BOOL:
			if (v->type == JSON_BOOL)
				text = v->b ? "on" : "off";
			break;
		case STORE_SET_UINT:
			if (json_to_int(v, &n) == 0) {
				snprintf(num, sizeof(num), "%" PRId64, n);
				text = num;
			} else if (v->type == JSON_NUMBER) {
				return bad(im, v, path, "%s: %s is not a whole number from %u to %u",
				    s->name, v->str, s->min, s->max);
			}
			break;
		case STORE_SET_FQDN:
			if (v->type == JSON_NULL)
				text = "";
			/* FALLTHROUGH */
		case STORE_SET_ENUM:
			if (v->type == JSON_STRING)
				text = v->str;
			break;
		}
		if (text == NULL)
			return bad(im, v, path, "%s must be %s, not %s", s->name,
			    s->type == STORE_SET_BOOL ? "true or false" :
			    s->type == STORE_SET_UINT ? "a number" : "a string",
			    json_type_name(v->type));
		if (store_setting_parse(s, text, out, err, sizeof(err)) != 0)
			return bad(im, v, path, "%s", err);
	}
	if (store_config_check(out, err, sizeof(err)) != 0)
		return bad(im, cfg, path, "%s", err);
	return 0;
}

static int
import_allowed(struct imp *im, const struct json *arr, struct store_policy *p)
{
	char path[64];
	int rc;

	if ((p->allowed = calloc(arr->n + 1, sizeof(*p->allowed))) == NULL)
		return ctl_fail(im->c, CTL_FAIL, "out of memory");
	for (size_t i = 0; i < arr->n; i++) {
		const struct json *e = arr->items[i], *d, *px, *m, *cm;
		struct store_allowed *a = &p->allowed[p->nallowed];

		snprintf(path, sizeof(path), "allowed[%zu]", i);
		if (e->type != JSON_OBJECT)
			return bad(im, e, path, "must be an object, not %s", json_type_name(e->type));
		if ((rc = only_keys(im, e, path, "domain proxy_fqdn monitor comment")) != 0 ||
		    (rc = member(im, e, path, "domain", JSON_STRING, true, false, &d)) != 0 ||
		    (rc = member(im, e, path, "proxy_fqdn", JSON_STRING, false, true, &px)) != 0 ||
		    (rc = member(im, e, path, "monitor", JSON_BOOL, false, false, &m)) != 0 ||
		    (rc = member(im, e, path, "comment", JSON_STRING, false, true, &cm)) != 0)
			return rc;
		a->domain = d->str;
		a->proxy_fqdn = px ? px->str : NULL;
		a->monitor = m ? m->b : false;
		a->comment = cm ? cm->str : "";
		p->nallowed++;
	}
	return 0;
}

static int
import_blocked(struct imp *im, const struct json *arr, struct store_policy *p)
{
	char path[64];
	int rc;

	if ((p->blocked = calloc(arr->n + 1, sizeof(*p->blocked))) == NULL)
		return ctl_fail(im->c, CTL_FAIL, "out of memory");
	for (size_t i = 0; i < arr->n; i++) {
		const struct json *e = arr->items[i], *d, *cm;
		struct store_blocked *b = &p->blocked[p->nblocked];

		snprintf(path, sizeof(path), "blocked[%zu]", i);
		if (e->type != JSON_OBJECT)
			return bad(im, e, path, "must be an object, not %s", json_type_name(e->type));
		if ((rc = only_keys(im, e, path, "domain comment")) != 0 ||
		    (rc = member(im, e, path, "domain", JSON_STRING, true, false, &d)) != 0 ||
		    (rc = member(im, e, path, "comment", JSON_STRING, false, true, &cm)) != 0)
			return rc;
		b->domain = d->str;
		b->comment = cm ? cm->str : "";
		p->nblocked++;
	}
	return 0;
}

static int
import_providers(struct imp *im, const struct json *arr, struct store_policy *p)
{
	char path[64];
	int rc;

	if ((p->providers = calloc(arr->n + 1, sizeof(*p->providers))) == NULL)
		return ctl_fail(im->c, CTL_FAIL, "out of memory");
	for (size_t i = 0; i < arr->n; i++) {
		const struct json *e = arr->items[i], *nm, *k, *px, *vl, *en, *ds, *cm;
		struct store_provider *v = &p->providers[p->nproviders];

		snprintf(path, sizeof(path), "providers[%zu]", i);
		if (e->type != JSON_OBJECT)
			return bad(im, e, path, "must be an object, not %s", json_type_name(e->type));
		if ((rc = only_keys(im, e, path,
		    "name kind proxy_fqdn verification enabled domains comment")) != 0 ||
		    (rc = member(im, e, path, "name", JSON_STRING, true, false, &nm)) != 0 ||
		    (rc = member(im, e, path, "kind", JSON_STRING, true, false, &k)) != 0 ||
		    (rc = member(im, e, path, "proxy_fqdn", JSON_STRING, true, false, &px)) != 0 ||
		    (rc = member(im, e, path, "verification", JSON_STRING, false, false, &vl)) != 0 ||
		    (rc = member(im, e, path, "enabled", JSON_BOOL, false, false, &en)) != 0 ||
		    (rc = member(im, e, path, "domains", JSON_ARRAY, false, false, &ds)) != 0 ||
		    (rc = member(im, e, path, "comment", JSON_STRING, false, true, &cm)) != 0)
			return rc;
		v->name = nm->str;
		if (store_provider_kind_parse(k->str, &v->kind) != 0)
			return bad(im, k, path, "kind \"%s\" is not public or hosting", k->str);
		v->proxy_fqdn = px->str;
		v->verification = STORE_VERIFY_USE_SOURCE;
		if (vl != NULL && store_verification_parse(vl->str, &v->verification) != 0)
			return bad(im, vl, path, "verification \"%s\" is not use-source, "
			    "always-verified or always-unverified", vl->str);
		v->enabled = en ? en->b : true;
		v->comment = cm ? cm->str : "";
		p->nproviders++;
		if (ds == NULL)
			continue;
		if ((v->domains = calloc(ds->n + 1, sizeof(*v->domains))) == NULL)
			return ctl_fail(im->c, CTL_FAIL, "out of memory");
		for (size_t j = 0; j < ds->n; j++) {
			if (ds->items[j]->type != JSON_STRING)
				return bad(im, ds->items[j], path, "domains[%zu] must be a string, not %s",
				    j, json_type_name(ds->items[j]->type));
			v->domains[v->ndomains++] = ds->items[j]->str;
		}
	}
	return 0;
}

/* A partner's negotiation value; *out keeps its default when v is NULL. */
static int
import_nego(struct imp *im, const struct json *v, const char *path, enum store_xmpp_nego *out)
{
	if (v != NULL && store_xmpp_nego_parse(v->str, out) != 0)
		return bad(im, v, path, "\"%s\" is not required, optional or not-supported", v->str);
	return 0;
}

/* The XMPP partners; the strings point into the JSON tree.  The store checks
 * the rules (the negotiation matrix, one thing per domain) on replace. */
static int
import_xmpp_partners(struct imp *im, const struct json *arr, struct store_policy *p)
{
	char path[64];
	int rc;

	if ((p->xmpp_partners = calloc(arr->n + 1, sizeof(*p->xmpp_partners))) == NULL)
		return ctl_fail(im->c, CTL_FAIL, "out of memory");
	for (size_t i = 0; i < arr->n; i++) {
		const struct json *e = arr->items[i], *d, *ad, *ty, *tl, *sa, *db, *ka, *cl, *px, *cm;
		struct store_xmpp_partner *x = &p->xmpp_partners[p->nxmpp_partners];
		int64_t lim;

		snprintf(path, sizeof(path), "xmpp_partners[%zu]", i);
		if (e->type != JSON_OBJECT)
			return bad(im, e, path, "must be an object, not %s", json_type_name(e->type));
		if ((rc = only_keys(im, e, path, "domain additional_domains type tls sasl dialback "
		    "keepalive connection_limit proxy_fqdn comment")) != 0 ||
		    (rc = member(im, e, path, "domain", JSON_STRING, true, false, &d)) != 0 ||
		    (rc = member(im, e, path, "additional_domains", JSON_ARRAY, false, false, &ad)) != 0 ||
		    (rc = member(im, e, path, "type", JSON_STRING, false, false, &ty)) != 0 ||
		    (rc = member(im, e, path, "tls", JSON_STRING, false, false, &tl)) != 0 ||
		    (rc = member(im, e, path, "sasl", JSON_STRING, false, false, &sa)) != 0 ||
		    (rc = member(im, e, path, "dialback", JSON_BOOL, false, false, &db)) != 0 ||
		    (rc = member(im, e, path, "keepalive", JSON_BOOL, false, false, &ka)) != 0 ||
		    (rc = member(im, e, path, "connection_limit", JSON_NUMBER, false, true, &cl)) != 0 ||
		    (rc = member(im, e, path, "proxy_fqdn", JSON_STRING, false, true, &px)) != 0 ||
		    (rc = member(im, e, path, "comment", JSON_STRING, false, true, &cm)) != 0)
			return rc;
		store_xmpp_partner_defaults(x);
		p->nxmpp_partners++;
		x->domain = d->str;
		if (ty != NULL && store_xmpp_type_parse(ty->str, &x->type) != 0)
			return bad(im, ty, path, "type \"%s\" is not federated, public-verified or "
			    "public-unverified", ty->str);
		if ((rc = import_nego(im, tl, path, &x->tls)) != 0 ||
		    (rc = import_nego(im, sa, path, &x->sasl)) != 0)
			return rc;
		x->dialback = db ? db->b : true;
		x->keepalive = ka ? ka->b : true;
		if (cl != NULL && (json_to_int(cl, &lim) != 0 || lim < 1 ||
		    lim > STORE_XMPP_CONN_LIMIT_MAX))
			return bad(im, cl, path, "connection_limit %s is not a whole number from 1 to "
			    "%d (null: partner-connection-limit)", cl->str, STORE_XMPP_CONN_LIMIT_MAX);
		x->connection_limit = cl ? (unsigned)lim : 0;
		x->proxy_fqdn = px ? px->str : NULL;
		x->comment = cm ? cm->str : "";
		if (ad == NULL)
			continue;
		if ((x->additional = calloc(ad->n + 1, sizeof(*x->additional))) == NULL)
			return ctl_fail(im->c, CTL_FAIL, "out of memory");
		for (size_t j = 0; j < ad->n; j++) {
			if (ad->items[j]->type != JSON_STRING)
				return bad(im, ad->items[j], path, "additional_domains[%zu] must be a "
				    "string, not %s", j, json_type_name(ad->items[j]->type));
			x->additional[x->nadditional++] = ad->items[j]->str;
		}
	}
	return 0;
}

/* Read all of a file (or standard input for "-"). */
static int
slurp(struct ctl *c, const char *file, char **out, size_t *len)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	size_t n = 0, cap = 0;
	char *buf = NULL;

	if (f == NULL)
		return ctl_fail(c, CTL_FAIL, "%s: %s", file, strerror(errno));
	for (;;) {
		size_t r;

		if (n == cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			if (cap > IMPORT_MAX + 1)
				cap = IMPORT_MAX + 1;
			if (n == cap || (nb = realloc(buf, cap)) == NULL) {
				free(buf);
				if (f != stdin)
					fclose(f);
				return ctl_fail(c, CTL_FAIL, "%s: larger than %d bytes", file, IMPORT_MAX);
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno;

		free(buf);
		if (f != stdin)
			fclose(f);
		return ctl_fail(c, CTL_FAIL, "%s: read failed: %s", file, strerror(e));
	}
	if (f != stdin)
		fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

int
cmd_import(struct ctl *c, const struct ctl_args *a)
{
	struct imp im = { c, a->pos[0] };
	struct store_policy p = { 0 };
	const struct json *fmt, *cfg, *al, *bl, *pr, *xc = NULL, *xp = NULL;
	struct json *root = NULL;
	char *text = NULL, err[256];
	size_t len = 0;
	int64_t version;
	int rc;

	if ((rc = slurp(c, im.file, &text, &len)) != 0)
		return rc;
	if (json_parse(text, len, &root, err, sizeof(err)) != 0) {
		rc = ctl_fail(c, CTL_FAIL, "%s:%s", im.file, err);
		goto out;
	}
	if (root->type != JSON_OBJECT) {
		rc = bad(&im, root, "top level", "must be an object, not %s",
		    json_type_name(root->type));
		goto out;
	}
	if ((rc = member(&im, root, "top level", "sipedge_policy", JSON_NUMBER, true, false,
	    &fmt)) != 0)
		goto out;
	if (json_to_int(fmt, &version) != 0 || version < 1 || version > POLICY_FORMAT) {
		rc = bad(&im, fmt, "sipedge_policy", "format %s is not supported (this sipedgectl "
		    "reads formats 1 to %d)", fmt->str, POLICY_FORMAT);
		goto out;
	}
	if ((rc = only_keys(&im, root, "top level", version == 1 ?
	    "sipedge_policy config allowed blocked providers" :
	    "sipedge_policy config allowed blocked providers xmpp_config xmpp_partners")) != 0)
		goto out;
	/* Every section is required: a missing one would silently empty it. */
	if ((rc = member(&im, root, "top level", "config", JSON_OBJECT, true, false, &cfg)) != 0 ||
	    (rc = member(&im, root, "top level", "allowed", JSON_ARRAY, true, false, &al)) != 0 ||
	    (rc = member(&im, root, "top level", "blocked", JSON_ARRAY, true, false, &bl)) != 0 ||
	    (rc = member(&im, root, "top level", "providers", JSON_ARRAY, true, false, &pr)) != 0)
		goto out;
	if (version >= 2 &&
	    ((rc = member(&im, root, "top level", "xmpp_config", JSON_OBJECT, true, false,
	    &xc)) != 0 ||
	    (rc = member(&im, root, "top level", "xmpp_partners", JSON_ARRAY, true, false,
	    &xp)) != 0))
		goto out;
	store_config_defaults(&p.config);
	if ((rc = import_config(&im, cfg, "config", store_settings(), &p.config)) != 0 ||
	    (xc != NULL && (rc = import_config(&im, xc, "xmpp_config", store_xmpp_settings(),
	    &p.config)) != 0) ||
	    (rc = import_allowed(&im, al, &p)) != 0 ||
	    (rc = import_blocked(&im, bl, &p)) != 0 ||
	    (rc = import_providers(&im, pr, &p)) != 0 ||
	    (xp != NULL && (rc = import_xmpp_partners(&im, xp, &p)) != 0))
		goto out;
	if ((rc = store_policy_replace(c->st, &p, "import")) != 0) {
		rc = ctl_fail(c, ctl_exit_for(rc), "%s: %s", im.file, store_error(c->st));
		goto out;
	}
	if (!c->json)
		fprintf(c->out, "imported %s: %zu allowed, %zu blocked, %zu providers, "
		    "%zu XMPP partners\n", im.file, p.nallowed, p.nblocked, p.nproviders,
		    p.nxmpp_partners);
	rc = CTL_OK;
out:
	/* The policy points into the JSON tree; free only its arrays. */
	for (size_t i = 0; i < p.nproviders; i++)
		free(p.providers[i].domains);
	free(p.providers);
	for (size_t i = 0; i < p.nxmpp_partners; i++)
		free(p.xmpp_partners[i].additional);
	free(p.xmpp_partners);
	free(p.allowed);
	free(p.blocked);
	json_free(root);
	free(text);
	return rc;
}
