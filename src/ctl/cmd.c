/* cmd.c: sipedgectl's command table, argument parsing and dispatch. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* The options of "xmpp partner add" and "set". */
#define XMPP_PARTNER_OPTS "additional-domains= type= tls= sasl= dialback= keepalive= " \
	"connection-limit= proxy-fqdn= comment="
#define XMPP_PARTNER_USAGE "[--additional-domains D1,D2] " \
	"[--type federated|public-verified|public-unverified] " \
	"[--tls required|optional|not-supported] [--sasl required|optional|not-supported] " \
	"[--dialback on|off] [--keepalive on|off] [--connection-limit N|default] " \
	"[--proxy-fqdn FQDN] [--comment TEXT]"

/* One row per command, in help order. */
const struct ctl_cmd ctl_cmds[] = {
	{ "config show", cmd_config_show, 0, 1, "", CTL_DB_OPEN, "[KEY]",
	  "show the access-edge settings (or one value)" },
	{ "config set", cmd_config_set, 2, 2, "", CTL_DB_OPEN, "KEY VALUE",
	  "change a setting" },
	{ "config reset", cmd_config_reset, 1, 1, "", CTL_DB_OPEN, "KEY",
	  "return a setting to its default" },
	{ "allow add", cmd_allow_add, 1, 1, "proxy-fqdn= monitor comment=", CTL_DB_OPEN,
	  "DOMAIN [--proxy-fqdn FQDN] [--monitor] [--comment TEXT]",
	  "allow a partner domain (with --proxy-fqdn: a partner server)" },
	{ "allow remove", cmd_allow_remove, 1, 1, "", CTL_DB_OPEN, "DOMAIN",
	  "remove an allowed domain" },
	{ "allow list", cmd_allow_list, 0, 0, "", CTL_DB_OPEN, "", "list allowed domains" },
	{ "block add", cmd_block_add, 1, 1, "comment= replace", CTL_DB_OPEN,
	  "DOMAIN [--replace] [--comment TEXT]",
	  "block a domain (--replace: an allowed one, in one step)" },
	{ "block remove", cmd_block_remove, 1, 1, "", CTL_DB_OPEN, "DOMAIN",
	  "remove a blocked domain" },
	{ "block list", cmd_block_list, 0, 0, "", CTL_DB_OPEN, "", "list blocked domains" },
	{ "provider add", cmd_provider_add, 1, 1,
	  "proxy-fqdn= kind= domain=+ verification= disabled comment=", CTL_DB_OPEN,
	  "NAME --proxy-fqdn FQDN --kind public|hosting [--domain D]... "
	  "[--verification LEVEL] [--disabled] [--comment TEXT]",
	  "add a public IM or hosting provider" },
	{ "provider set", cmd_provider_set, 1, 1,
	  "proxy-fqdn= kind= domain=+ add-domain=+ remove-domain=+ no-domains "
	  "verification= enabled disabled comment=", CTL_DB_OPEN,
	  "NAME [--proxy-fqdn FQDN] [--kind KIND] [--domain D]... [--add-domain D]... "
	  "[--remove-domain D]... [--no-domains] [--verification LEVEL] "
	  "[--enabled | --disabled] [--comment TEXT]",
	  "change a provider" },
	{ "provider remove", cmd_provider_remove, 1, 1, "", CTL_DB_OPEN, "NAME",
	  "remove a provider" },
	{ "provider list", cmd_provider_list, 0, 0, "", CTL_DB_OPEN, "", "list providers" },
	/* The db only without --live: cmd_partners opens it. */
	{ "partners", cmd_partners, 0, 0, "live", CTL_DB_NONE, "[--live]",
	  "list discovered partners and their counters (--live: the daemon's current view)" },
	{ "partners promote", cmd_partners_promote, 1, 1, "comment=", CTL_DB_OPEN,
	  "DOMAIN [--comment TEXT]", "allow a discovered partner" },
	{ "partners block", cmd_partners_block, 1, 1, "comment=", CTL_DB_OPEN,
	  "DOMAIN [--comment TEXT]", "block a discovered partner" },
	{ "xmpp partner add", cmd_xmpp_partner_add, 1, 1, XMPP_PARTNER_OPTS, CTL_DB_OPEN,
	  "DOMAIN " XMPP_PARTNER_USAGE,
	  "allow an XMPP partner (defaults: public-unverified, TLS and SASL required, "
	  "dialback and keep-alive on, the global connection limit, DNS SRV)" },
	{ "xmpp partner set", cmd_xmpp_partner_set, 1, 1, XMPP_PARTNER_OPTS, CTL_DB_OPEN,
	  "DOMAIN " XMPP_PARTNER_USAGE,
	  "change an XMPP partner (--additional-domains replaces the list, \"\" empties it)" },
	{ "xmpp partner remove", cmd_xmpp_partner_remove, 1, 1, "", CTL_DB_OPEN, "DOMAIN",
	  "remove an XMPP partner and its additional domains" },
	{ "xmpp partner list", cmd_xmpp_partner_list, 0, 0, "", CTL_DB_OPEN, "",
	  "list the XMPP partners" },
	{ "xmpp partner show", cmd_xmpp_partner_show, 1, 1, "", CTL_DB_OPEN, "DOMAIN",
	  "show the XMPP partner serving DOMAIN (its own or an additional domain)" },
	{ "xmpp config show", cmd_xmpp_config_show, 0, 1, "", CTL_DB_OPEN, "[KEY]",
	  "show the XMPP settings (or one value)" },
	{ "xmpp config set", cmd_xmpp_config_set, 2, 2, "", CTL_DB_OPEN, "KEY VALUE",
	  "change an XMPP setting" },
	{ "xmpp config reset", cmd_xmpp_config_reset, 1, 1, "", CTL_DB_OPEN, "KEY",
	  "return an XMPP setting to its default" },
	{ "xmpp streams", cmd_xmpp_streams, 0, 0, "", CTL_DB_NONE, "",
	  "the daemon's XMPP server-to-server streams: direction, domains, TLS, authentication, "
	  "age, stanzas; and the XMPP counters" },
	{ "xmpp probe", cmd_xmpp_probe, 1, 1, "from=", CTL_DB_NONE, "DOMAIN [--from LOCALDOMAIN]",
	  "open an XMPP stream to DOMAIN as the daemon does and report each step (DNS, TCP, TLS, "
	  "certificate names, authentication), then an XMPP ping and its round trip" },
	{ "audit", cmd_audit, 0, 0, "limit=", CTL_DB_OPEN, "[--limit N]",
	  "show the change log, oldest first" },
	{ "db init", cmd_db_init, 0, 0, "", CTL_DB_CREATE, "",
	  "create the policy database" },
	{ "db migrate", cmd_db_migrate, 0, 0, "", CTL_DB_ANY, "",
	  "upgrade the database schema to this version's" },
	{ "export", cmd_export, 0, 1, "", CTL_DB_OPEN, "[FILE]",
	  "write the whole policy as JSON (to standard output without FILE)" },
	{ "import", cmd_import, 1, 1, "", CTL_DB_OPEN, "FILE",
	  "replace the whole policy with FILE's (\"-\": standard input)" },
	{ "route", cmd_route, 1, 1, "from= inbound peer=+", CTL_DB_OPEN,
	  "URI [--from URI] [--inbound --peer FQDN...] [--config FILE]",
	  "dry-run the daemon's routing of a new request to URI, DNS look-ups included" },
	{ "status", cmd_status, 0, 0, "", CTL_DB_NONE, "",
	  "the running daemon: version, uptime, listeners, connections, policy in force" },
	{ "connections", cmd_connections, 0, 0, "side=", CTL_DB_NONE, "[--side internal|external]",
	  "the daemon's connections: peer, certificate name, TLS, age, traffic" },
	{ "stats", cmd_stats, 0, 0, "reset", CTL_DB_NONE, "[--reset]",
	  "the daemon's counters (--reset: count from zero again in sipedgectl)" },
	{ "reload", cmd_reload, 0, 0, "", CTL_DB_NONE, "",
	  "make the daemon read sipedge.conf and its certificate files again (as SIGHUP)" },
	{ "trace", cmd_trace, 0, 1, "domain=", CTL_DB_NONE, "[on [--domain D] | off]",
	  "the daemon's message trace: each message in and out, headers, in its log" },
	{ "probe", cmd_probe, 0, 1, "from= inbound", CTL_DB_NONE, "DOMAIN [--from URI] | --inbound",
	  "send an OPTIONS to DOMAIN along the daemon's real outbound path and report each step; "
	  "--inbound: check our own published SRV, names and listeners" },
	{ "cert check", cmd_cert_check, 0, 0, "", CTL_DB_NONE, "",
	  "check the configured certificate against what federation needs" },
	{ "cert request", cmd_cert_request, 0, 0, "out= key= san=+", CTL_DB_NONE,
	  "--out DIR [--key rsa2048|ec256] [--san NAME]...",
	  "write a new key and a certificate request with the names sipedge.conf needs" },
	{ "cert install", cmd_cert_install, 1, 1, "key=", CTL_DB_NONE, "CERT [--key KEY]",
	  "check CERT, put it (and KEY) in place of the configured files, reload sipedge" },
	{ "help", cmd_help, 0, -1, "", CTL_DB_NONE, "", "list the commands" },
	{ NULL, NULL, 0, 0, NULL, 0, NULL, NULL }
};

/* Number of words in w that equal argv[0..]; 0 if they do not all match. */
static int
match_words(const char *w, int argc, char **argv)
{
	int n = 0;

	while (*w) {
		size_t len = strcspn(w, " ");

		if (n >= argc || strlen(argv[n]) != len || strncmp(argv[n], w, len) != 0)
			return 0;
		n++;
		w += len;
		while (*w == ' ')
			w++;
	}
	return n;
}

/* Find name in the option spec; *has_arg and *repeat describe it. */
static const char *
spec_find(const char *spec, const char *name, size_t namelen, bool *has_arg, bool *repeat)
{
	const char *p = spec;

	while (*p) {
		size_t len = strcspn(p, "=+ ");
		const char *q = p + len;

		*has_arg = *q == '=';
		if (*q == '=')
			q++;
		*repeat = *q == '+';
		if (*q == '+')
			q++;
		if (len == namelen && strncmp(p, name, len) == 0)
			return p;
		p = q;
		while (*p == ' ')
			p++;
	}
	return NULL;
}

static int
usage_fail(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
usage_fail(struct ctl *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ctl_fail(c, CTL_USAGE, "%s (usage: sipedgectl %s%s%s)", msg, c->cmd->words,
	    c->cmd->usage[0] ? " " : "", c->cmd->usage);
}

/* Split argv into positionals and options per the command's spec.  The global
 * options (--json, --db, --config) are accepted here too. */
static int
parse_args(struct ctl *c, int argc, char **argv, struct ctl_args *a)
{
	bool only_pos = false;

	a->npos = 0;
	a->nopts = 0;
	if ((a->pos = calloc((size_t)argc + 1, sizeof(*a->pos))) == NULL)
		return ctl_fail(c, CTL_FAIL, "out of memory");
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value = NULL;
		char optname[64];
		bool has_arg, repeat;
		size_t len;

		if (only_pos || arg[0] != '-' || arg[1] != '-' || arg[2] == '\0') {
			if (!only_pos && strcmp(arg, "--") == 0) {
				only_pos = true;
				continue;
			}
			/* "-" alone is a positional (standard input for import). */
			if (!only_pos && arg[0] == '-' && arg[1] != '\0')
				return usage_fail(c, "unknown option \"%s\"", arg);
			a->pos[a->npos++] = argv[i];
			continue;
		}
		name = arg + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		snprintf(optname, sizeof(optname), "%.*s", (int)(len < 63 ? len : 63), name);
		if (strcmp(optname, "json") == 0 && eq == NULL) {
			c->json = true;
			continue;
		}
		if (strcmp(optname, "db") == 0) {
			value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (value == NULL)
				return usage_fail(c, "option --db needs a value");
			c->db_path = value;
			continue;
		}
		if (strcmp(optname, "config") == 0) {
			value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (value == NULL)
				return usage_fail(c, "option --config needs a value");
			if (value[0] == '\0')
				return usage_fail(c, "--config needs a file name");
			c->conf_path = value;
			continue;
		}
		if (spec_find(c->cmd->opts, name, len, &has_arg, &repeat) == NULL)
			return usage_fail(c, "unknown option \"--%s\"", optname);
		if (has_arg) {
			if (eq != NULL)
				value = eq + 1;
			else if (i + 1 < argc)
				value = argv[++i];
			else
				return usage_fail(c, "option --%s needs a value", optname);
		} else if (eq != NULL) {
			return usage_fail(c, "option --%s takes no value", optname);
		}
		if (!repeat && ctl_flag(a, optname))
			return usage_fail(c, "option --%s given twice", optname);
		if (a->nopts == CTL_MAX_OPTS)
			return usage_fail(c, "too many options");
		snprintf(a->opt_name[a->nopts], sizeof(a->opt_name[0]), "%s", optname);
		a->opt_value[a->nopts++] = value;
	}
	if (a->npos < c->cmd->min_args)
		return usage_fail(c, "missing argument%s", c->cmd->min_args - a->npos > 1 ? "s" : "");
	if (c->cmd->max_args >= 0 && a->npos > c->cmd->max_args)
		return usage_fail(c, "unexpected argument \"%s\"", a->pos[c->cmd->max_args]);
	return 0;
}

const char *
ctl_opt(const struct ctl_args *a, const char *name)
{
	for (int i = a->nopts - 1; i >= 0; i--)
		if (strcmp(a->opt_name[i], name) == 0)
			return a->opt_value[i];
	return NULL;
}

bool
ctl_flag(const struct ctl_args *a, const char *name)
{
	for (int i = 0; i < a->nopts; i++)
		if (strcmp(a->opt_name[i], name) == 0)
			return true;
	return false;
}

const char **
ctl_opt_all(const struct ctl_args *a, const char *name, size_t *n)
{
	const char **v = NULL;
	size_t k = 0;

	for (int i = 0; i < a->nopts; i++)
		if (strcmp(a->opt_name[i], name) == 0)
			k++;
	*n = 0;
	if (k == 0 || (v = calloc(k, sizeof(*v))) == NULL)
		return NULL;
	for (int i = 0; i < a->nopts; i++)
		if (strcmp(a->opt_name[i], name) == 0)
			v[(*n)++] = a->opt_value[i];
	return v;
}

void
ctl_help(FILE *f)
{
	fprintf(f, "usage: sipedgectl [--db PATH] [--config FILE] [--json] COMMAND [ARGS]\n\n"
	    "commands:\n");
	for (const struct ctl_cmd *k = ctl_cmds; k->words; k++)
		fprintf(f, "  %s%s%s\n      %s\n", k->words, k->usage[0] ? " " : "", k->usage,
		    k->help);
}

/* The subcommands of a group ("allow" → "add, remove, list") for a message. */
static void
subcommands(const char *group, char *buf, size_t len)
{
	size_t glen = strlen(group), used = 0;

	buf[0] = '\0';
	for (const struct ctl_cmd *k = ctl_cmds; k->words; k++) {
		if (strncmp(k->words, group, glen) != 0 || k->words[glen] != ' ')
			continue;
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
		    used ? ", " : "", k->words + glen + 1);
		if (used >= len)
			break;
	}
}

int
ctl_db_open(struct ctl *c, enum ctl_db mode)
{
	unsigned flags = mode == CTL_DB_CREATE ? STORE_OPEN_CREATE | STORE_OPEN_ANY :
	    mode == CTL_DB_ANY ? STORE_OPEN_ANY : 0;
	char err[512];

	if (store_open(c->db_path, flags, &c->st, err, sizeof(err)) != 0) {
		/* Whatever the reason, the db could not be used. */
		fprintf(stderr, "sipedgectl: %s\n", err);
		return CTL_DB;
	}
	store_set_actor(c->st, c->actor);
	return CTL_OK;
}

int
ctl_run(struct ctl *c, int argc, char **argv)
{
	const struct ctl_cmd *best = NULL;
	struct ctl_args a = { 0 };
	int nbest = 0, rc;

	for (const struct ctl_cmd *k = ctl_cmds; k->words; k++) {
		int n = match_words(k->words, argc, argv);

		if (n > nbest) {
			nbest = n;
			best = k;
		}
	}
	if (best == NULL) {
		char group[128] = "", g[128], subs[256];
		int depth = 0;

		/* The longest run of words that names a group of commands
		 * ("xmpp", "xmpp partner"). */
		for (int i = 0; i < argc; i++) {
			snprintf(g, sizeof(g), "%s%s%s", group, i ? " " : "", argv[i]);
			subcommands(g, subs, sizeof(subs));
			if (subs[0] == '\0')
				break;
			snprintf(group, sizeof(group), "%s", g);
			depth = i + 1;
		}
		if (depth > 0)
			subcommands(group, subs, sizeof(subs));
		if (depth > 0 && argc == depth)
			fprintf(stderr, "sipedgectl: %s: missing subcommand (%s)\n", group, subs);
		else if (depth > 0)
			fprintf(stderr, "sipedgectl: %s: unknown subcommand \"%s\" (%s)\n",
			    group, argv[depth], subs);
		else
			fprintf(stderr, "sipedgectl: unknown command \"%s\"; \"sipedgectl help\" "
			    "lists the commands\n", argv[0]);
		return CTL_USAGE;
	}
	c->cmd = best;
	/* "partners frobnicate" is a mistyped subcommand, not an argument. */
	if (best->max_args == 0 && argc > nbest && argv[nbest][0] != '-') {
		char subs[256];

		subcommands(best->words, subs, sizeof(subs));
		if (subs[0] != '\0')
			return ctl_fail(c, CTL_USAGE, "unknown subcommand \"%s\" (%s)",
			    argv[nbest], subs);
	}
	if ((rc = parse_args(c, argc - nbest, argv + nbest, &a)) != 0)
		goto out;
	if (best->db != CTL_DB_NONE && (rc = ctl_db_open(c, best->db)) != CTL_OK)
		goto out;
	rc = best->fn(c, &a);
out:
	free(a.pos);
	store_close(c->st);
	c->st = NULL;
	return rc;
}
