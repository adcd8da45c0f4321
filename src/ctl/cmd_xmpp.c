/* cmd_xmpp.c: sipedgectl commands over the XMPP federation policy: the
 * allowed XMPP partners (Lync Server 2013's New-CsXmppAllowedPartner and its
 * negotiation matrix: TLS per RFC 6120 section 5, SASL EXTERNAL per
 * XEP-0178, dialback per XEP-0220) and the XMPP settings. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* ---------------------------------------------------------- JSON output */

void
ctl_json_xmpp_partner(struct json_out *o, const struct store_xmpp_partner *x)
{
	json_out_begin_object(o);
	json_out_key_string(o, "domain", x->domain);
	json_out_key(o, "additional_domains");
	json_out_begin_array(o);
	for (size_t i = 0; i < x->nadditional; i++)
		json_out_string(o, x->additional[i]);
	json_out_end_array(o);
	json_out_key_string(o, "type", store_xmpp_type_name(x->type));
	json_out_key_string(o, "tls", store_xmpp_nego_name(x->tls));
	json_out_key_string(o, "sasl", store_xmpp_nego_name(x->sasl));
	json_out_key(o, "dialback");
	json_out_bool(o, x->dialback);
	json_out_key(o, "keepalive");
	json_out_bool(o, x->keepalive);
	json_out_key(o, "connection_limit");
	if (x->connection_limit == 0)
		json_out_null(o);
	else
		json_out_uint(o, x->connection_limit);
	json_out_key_string(o, "proxy_fqdn", x->proxy_fqdn);
	json_out_key_string(o, "comment", x->comment);
	json_out_end_object(o);
}

/* ------------------------------------------------------------- options */

/* The options of "xmpp partner add" and "set", parsed; the strings point
 * into the command line, the domain list is malloc'ed. */
struct xopts {
	struct store_xmpp_patch pt;
	const char **domains;
	bool any;                          /* some option was given */
};

static int
parse_onoff(struct ctl *c, const char *opt, const char *v, int *out)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
		*out = 1;
	else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
		*out = 0;
	else
		return ctl_fail(c, CTL_FAIL, "invalid --%s \"%s\": use on or off", opt, v);
	return 0;
}

static int
parse_nego(struct ctl *c, const char *opt, const char *v, int *out)
{
	enum store_xmpp_nego n;

	if (store_xmpp_nego_parse(v, &n) != 0)
		return ctl_fail(c, CTL_FAIL, "invalid --%s \"%s\": use required, optional or "
		    "not-supported", opt, v);
	*out = (int)n;
	return 0;
}

static int
parse_limit(struct ctl *c, const char *v, long *out)
{
	unsigned long n;
	char *end;

	if (strcmp(v, "default") == 0) {
		*out = 0;
		return 0;
	}
	errno = 0;
	n = strtoul(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || n < 1 ||
	    n > STORE_XMPP_CONN_LIMIT_MAX)
		return ctl_fail(c, CTL_FAIL, "invalid --connection-limit \"%s\": a whole number "
		    "from 1 to %d, or default", v, STORE_XMPP_CONN_LIMIT_MAX);
	*out = (long)n;
	return 0;
}

/* "a.test, b.test" into x->domains (split in place of a copy); "" is the
 * empty list. */
static int
parse_domains(struct ctl *c, char *list, struct xopts *x)
{
	size_t n = 1;

	for (const char *p = list; *p; p++)
		n += *p == ',';
	if ((x->domains = calloc(n, sizeof(*x->domains))) == NULL)
		return ctl_fail(c, CTL_FAIL, "out of memory");
	x->pt.set_additional = true;
	x->pt.additional = x->domains;
	if (list[strspn(list, " ")] == '\0')
		return 0;
	for (char *tok = list, *next; tok != NULL; tok = next) {
		char *end;

		if ((next = strchr(tok, ',')) != NULL)
			*next++ = '\0';
		tok += strspn(tok, " ");
		for (end = tok + strlen(tok); end > tok && end[-1] == ' '; end--)
			end[-1] = '\0';
		if (*tok == '\0')
			return ctl_fail(c, CTL_FAIL, "--additional-domains: empty domain in the list");
		x->domains[x->pt.nadditional++] = tok;
	}
	return 0;
}

static int
parse_opts(struct ctl *c, const struct ctl_args *a, char **copy, struct xopts *x)
{
	const char *v;
	int rc;

	memset(x, 0, sizeof(*x));
	x->pt.type = x->pt.tls = x->pt.sasl = x->pt.dialback = x->pt.keepalive = -1;
	x->pt.connection_limit = -1;
	x->any = a->nopts > 0;
	if ((v = ctl_opt(a, "type")) != NULL) {
		enum store_xmpp_type t;

		if (store_xmpp_type_parse(v, &t) != 0)
			return ctl_fail(c, CTL_FAIL, "invalid --type \"%s\": use federated, "
			    "public-verified or public-unverified", v);
		x->pt.type = (int)t;
	}
	if ((v = ctl_opt(a, "tls")) != NULL && (rc = parse_nego(c, "tls", v, &x->pt.tls)) != 0)
		return rc;
	if ((v = ctl_opt(a, "sasl")) != NULL && (rc = parse_nego(c, "sasl", v, &x->pt.sasl)) != 0)
		return rc;
	if ((v = ctl_opt(a, "dialback")) != NULL &&
	    (rc = parse_onoff(c, "dialback", v, &x->pt.dialback)) != 0)
		return rc;
	if ((v = ctl_opt(a, "keepalive")) != NULL &&
	    (rc = parse_onoff(c, "keepalive", v, &x->pt.keepalive)) != 0)
		return rc;
	if ((v = ctl_opt(a, "connection-limit")) != NULL &&
	    (rc = parse_limit(c, v, &x->pt.connection_limit)) != 0)
		return rc;
	x->pt.proxy_fqdn = ctl_opt(a, "proxy-fqdn");
	x->pt.comment = ctl_opt(a, "comment");
	if ((v = ctl_opt(a, "additional-domains")) != NULL) {
		if ((*copy = strdup(v)) == NULL)
			return ctl_fail(c, CTL_FAIL, "out of memory");
		return parse_domains(c, *copy, x);
	}
	return 0;
}

/* The warning of the negotiation matrix, on standard error: the change is
 * made, but does not do what its settings suggest. */
static void
warn_nego(struct ctl *c, const struct store_xmpp_partner *p)
{
	char msg[256];

	if (store_xmpp_nego_check(p->tls, p->sasl, p->dialback, msg, sizeof(msg)) > 0)
		fprintf(stderr, "sipedgectl: %s: warning: %s\n", c->cmd->words, msg);
}

/* ------------------------------------------------------------ partners */

int
cmd_xmpp_partner_add(struct ctl *c, const struct ctl_args *a)
{
	struct store_xmpp_partner p;
	char *copy = NULL, b[NAMES_MAX + 1];
	struct xopts x;
	int rc;

	if ((rc = parse_opts(c, a, &copy, &x)) != 0)
		goto out;
	store_xmpp_partner_defaults(&p);
	p.domain = a->pos[0];
	p.additional = (char **)(uintptr_t)x.pt.additional;
	p.nadditional = x.pt.nadditional;
	if (x.pt.type >= 0)
		p.type = (enum store_xmpp_type)x.pt.type;
	if (x.pt.tls >= 0)
		p.tls = (enum store_xmpp_nego)x.pt.tls;
	if (x.pt.sasl >= 0)
		p.sasl = (enum store_xmpp_nego)x.pt.sasl;
	if (x.pt.dialback >= 0)
		p.dialback = x.pt.dialback;
	if (x.pt.keepalive >= 0)
		p.keepalive = x.pt.keepalive;
	if (x.pt.connection_limit > 0)
		p.connection_limit = (unsigned)x.pt.connection_limit;
	if (x.pt.proxy_fqdn != NULL && x.pt.proxy_fqdn[0] != '\0')
		p.proxy_fqdn = (char *)(uintptr_t)x.pt.proxy_fqdn;
	p.comment = (char *)(uintptr_t)x.pt.comment;
	if ((rc = store_xmpp_partner_add(c->st, &p)) != 0) {
		rc = ctl_store_fail(c, rc);
		goto out;
	}
	warn_nego(c, &p);
	if (!c->json)
		fprintf(c->out, "XMPP partner %s added\n", ctl_shown(a->pos[0], b));
	rc = CTL_OK;
out:
	free(x.domains);
	free(copy);
	return rc;
}

int
cmd_xmpp_partner_set(struct ctl *c, const struct ctl_args *a)
{
	struct store_xmpp_partner *p = NULL;
	char *copy = NULL, b[NAMES_MAX + 1];
	struct xopts x;
	int rc;

	if ((rc = parse_opts(c, a, &copy, &x)) != 0)
		goto out;
	if (!x.any) {
		rc = ctl_fail(c, CTL_USAGE, "nothing to change (see \"sipedgectl help\")");
		goto out;
	}
	if ((rc = store_xmpp_partner_update(c->st, a->pos[0], &x.pt)) != 0 ||
	    (rc = store_xmpp_partner_get(c->st, a->pos[0], &p)) != 0) {
		rc = ctl_store_fail(c, rc);
		goto out;
	}
	warn_nego(c, p);
	if (!c->json)
		fprintf(c->out, "XMPP partner %s changed\n", ctl_shown(a->pos[0], b));
	rc = CTL_OK;
out:
	store_xmpp_partner_free(p, p ? 1 : 0);
	free(x.domains);
	free(copy);
	return rc;
}

int
cmd_xmpp_partner_remove(struct ctl *c, const struct ctl_args *a)
{
	char b[NAMES_MAX + 1];
	int rc = store_xmpp_partner_remove(c->st, a->pos[0]);

	if (rc != 0)
		return ctl_store_fail(c, rc);
	if (!c->json)
		fprintf(c->out, "XMPP partner %s removed\n", ctl_shown(a->pos[0], b));
	return CTL_OK;
}

int
cmd_xmpp_partner_list(struct ctl *c, const struct ctl_args *a)
{
	static const char *const heads[] = {
		"DOMAIN", "ADDITIONAL", "TYPE", "TLS", "SASL", "DIALBACK", "KEEPALIVE",
		"CONN-LIMIT", "PROXY-FQDN", "COMMENT"
	};
	struct store_xmpp_partner *v = NULL;
	struct ctl_table t;
	struct json_out o;
	char lim[24];
	size_t n = 0;
	int rc;

	if ((rc = store_xmpp_partner_list(c->st, &v, &n)) != 0)
		return ctl_store_fail(c, rc);
	if (c->json) {
		json_out_init(&o, c->out);
		json_out_begin_array(&o);
		for (size_t i = 0; i < n; i++)
			ctl_json_xmpp_partner(&o, &v[i]);
		json_out_end_array(&o);
		json_out_end(&o);
	} else {
		ctl_table_init(&t, 10, heads);
		for (size_t i = 0; i < n; i++) {
			char *add = ctl_join(v[i].additional, v[i].nadditional);

			snprintf(lim, sizeof(lim), "%u", v[i].connection_limit);
			ctl_table_add(&t, v[i].domain, add && add[0] ? add : "-", store_xmpp_type_name(v[i].type),
			    store_xmpp_nego_name(v[i].tls), store_xmpp_nego_name(v[i].sasl),
			    v[i].dialback ? "on" : "off", v[i].keepalive ? "on" : "off",
			    v[i].connection_limit ? lim : "default",
			    v[i].proxy_fqdn ? v[i].proxy_fqdn : "(dns srv)",
			    v[i].comment[0] ? v[i].comment : "-");
			free(add);
		}
		ctl_table_print(&t, c->out);
		ctl_table_free(&t);
	}
	store_xmpp_partner_free(v, n);
	return CTL_OK;
}

int
cmd_xmpp_partner_show(struct ctl *c, const struct ctl_args *a)
{
	struct store_xmpp_partner *p = NULL;
	struct store_policy *pol = NULL;
	struct json_out o;
	char lim[48], *add;
	int rc;

	if ((rc = store_xmpp_partner_get(c->st, a->pos[0], &p)) != 0)
		return ctl_store_fail(c, rc);
	if (c->json) {
		json_out_init(&o, c->out);
		ctl_json_xmpp_partner(&o, p);
		json_out_end(&o);
		store_xmpp_partner_free(p, 1);
		return CTL_OK;
	}
	/* The limit in force when the partner has none of its own. */
	if ((rc = store_policy_load(c->st, &pol)) != 0) {
		store_xmpp_partner_free(p, 1);
		return ctl_store_fail(c, rc);
	}
	if (p->connection_limit)
		snprintf(lim, sizeof(lim), "%u", p->connection_limit);
	else
		snprintf(lim, sizeof(lim), "default (%u)", pol->config.xmpp.partner_connection_limit);
	add = ctl_join(p->additional, p->nadditional);
	fprintf(c->out, "domain              %s\n", p->domain);
	fprintf(c->out, "additional-domains  %s\n", add && add[0] ? add : "-");
	fprintf(c->out, "type                %s\n", store_xmpp_type_name(p->type));
	fprintf(c->out, "tls                 %s\n", store_xmpp_nego_name(p->tls));
	fprintf(c->out, "sasl                %s\n", store_xmpp_nego_name(p->sasl));
	fprintf(c->out, "dialback            %s\n", p->dialback ? "on" : "off");
	fprintf(c->out, "keepalive           %s\n", p->keepalive ? "on" : "off");
	fprintf(c->out, "connection-limit    %s\n", lim);
	fprintf(c->out, "proxy-fqdn          %s\n", p->proxy_fqdn ? p->proxy_fqdn : "(dns srv)");
	fprintf(c->out, "comment             %s\n", p->comment[0] ? p->comment : "-");
	free(add);
	store_policy_free(pol);
	store_xmpp_partner_free(p, 1);
	return CTL_OK;
}

/* ------------------------------------------------------------ settings */

int
cmd_xmpp_config_show(struct ctl *c, const struct ctl_args *a)
{
	return ctl_settings_show(c, a, store_xmpp_settings(), "sipedgectl xmpp config show");
}

int
cmd_xmpp_config_set(struct ctl *c, const struct ctl_args *a)
{
	int rc = store_xmpp_config_set(c->st, a->pos[0], a->pos[1]);

	if (rc != 0)
		return ctl_store_fail(c, rc);
	if (!c->json)
		fprintf(c->out, "xmpp %s set to %s\n", a->pos[0], a->pos[1][0] ? a->pos[1] : "\"\"");
	return CTL_OK;
}

int
cmd_xmpp_config_reset(struct ctl *c, const struct ctl_args *a)
{
	int rc = store_xmpp_config_reset(c->st, a->pos[0]);

	if (rc != 0)
		return ctl_store_fail(c, rc);
	if (!c->json)
		fprintf(c->out, "xmpp %s reset to its default\n", a->pos[0]);
	return CTL_OK;
}
