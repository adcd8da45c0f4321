/* ctl.h: sipedgectl internals shared by its files: the command table, parsed
 * arguments, output helpers and exit codes. */
#ifndef SIPEDGE_CTL_H
#define SIPEDGE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "sipedge/json.h"
#include "sipedge/store.h"

/* Exit codes (sipedgectl(8) EXIT STATUS). */
enum ctl_exit {
	CTL_OK = 0,
	CTL_FAIL = 1,                      /* refused: bad value, duplicate, unknown name, rule */
	CTL_USAGE = 2,                     /* bad command line */
	CTL_DB = 3,                        /* db missing, unreadable, corrupt, wrong version, busy */
	CTL_DOWN = 4                       /* the daemon is not running or cannot be reached */
};

/* What a command needs from the db before its handler runs. */
enum ctl_db {
	CTL_DB_NONE,                       /* no db (help) */
	CTL_DB_OPEN,                       /* an existing db at this binary's schema version */
	CTL_DB_CREATE,                     /* create if missing, any version (db init) */
	CTL_DB_ANY                         /* existing, any version (db migrate) */
};

#define CTL_MAX_OPTS 32

/* A command line after the command words: positionals and --options. */
struct ctl_args {
	char **pos;
	int npos;
	char opt_name[CTL_MAX_OPTS][64];   /* without "--" */
	const char *opt_value[CTL_MAX_OPTS]; /* NULL for flags */
	int nopts;
};

struct ctl;

/* One row per command: adding a command is adding a row (cmd.c). */
struct ctl_cmd {
	const char *words;                 /* "allow add" */
	int (*fn)(struct ctl *c, const struct ctl_args *a);
	int min_args, max_args;            /* positionals; max -1: any */
	const char *opts;                  /* "proxy-fqdn= monitor comment= domain=+":
	                                    * '=' takes a value, '+' may repeat */
	enum ctl_db db;
	const char *usage;                 /* arguments, for "usage:" lines and help */
	const char *help;
};

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
/* The daemon's configuration, for the commands that read it (route, cert). */
#define CTL_DEFAULT_CONF SYSCONFDIR "/sipedge/sipedge.conf"

struct ctl {
	const char *db_path;
	const char *socket_path;           /* the daemon's control socket */
	const char *conf_path;             /* --config, $SIPEDGE_CONF, CTL_DEFAULT_CONF */
	bool json;
	char actor[64];                    /* for the audit log */
	struct store *st;                  /* opened per the command's ctl_db */
	const struct ctl_cmd *cmd;
	FILE *out;
};

/* cmd.c */
extern const struct ctl_cmd ctl_cmds[];
int ctl_run(struct ctl *c, int argc, char **argv);
/* Open c->db_path as mode asks (the table does it before a handler runs; a
 * handler whose row says CTL_DB_NONE may call it).  CTL_OK, or CTL_DB with
 * the message printed. */
int ctl_db_open(struct ctl *c, enum ctl_db mode);
void ctl_help(FILE *f);
const char *ctl_opt(const struct ctl_args *a, const char *name);
bool ctl_flag(const struct ctl_args *a, const char *name);
/* All values of a repeatable option, in order; *n gets the count.  The array
 * is malloc'ed (free it) and NULL when there are none. */
const char **ctl_opt_all(const struct ctl_args *a, const char *name, size_t *n);

/* out.c: messages on stderr, one line each, "sipedgectl: <command>: ...". */
int ctl_fail(struct ctl *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A store error: its message, exit CTL_DB for db trouble, else CTL_FAIL. */
int ctl_store_fail(struct ctl *c, int rc);
int ctl_exit_for(int rc);
/* "2024-05-01T10:00:00Z"; "-" for 0. */
const char *ctl_time(time_t t, char *buf, size_t len);

/* A table for people: columns padded to the widest cell, two spaces apart. */
struct ctl_table {
	size_t ncols;
	const char *const *heads;
	char **cells;                      /* nrows * ncols, owned */
	size_t nrows, cap;
};
void ctl_table_init(struct ctl_table *t, size_t ncols, const char *const *heads);
/* Add a row of ncols strings (NULL shows as "-"); copied.  0 or -ENOMEM. */
int ctl_table_add(struct ctl_table *t, ...);
void ctl_table_print(const struct ctl_table *t, FILE *f);
void ctl_table_free(struct ctl_table *t);

/* cmd_policy.c */
int cmd_config_show(struct ctl *c, const struct ctl_args *a);
int cmd_config_set(struct ctl *c, const struct ctl_args *a);
int cmd_config_reset(struct ctl *c, const struct ctl_args *a);
int cmd_allow_add(struct ctl *c, const struct ctl_args *a);
int cmd_allow_remove(struct ctl *c, const struct ctl_args *a);
int cmd_allow_list(struct ctl *c, const struct ctl_args *a);
int cmd_block_add(struct ctl *c, const struct ctl_args *a);
int cmd_block_remove(struct ctl *c, const struct ctl_args *a);
int cmd_block_list(struct ctl *c, const struct ctl_args *a);
int cmd_provider_add(struct ctl *c, const struct ctl_args *a);
int cmd_provider_set(struct ctl *c, const struct ctl_args *a);
int cmd_provider_remove(struct ctl *c, const struct ctl_args *a);
int cmd_provider_list(struct ctl *c, const struct ctl_args *a);
int cmd_partners(struct ctl *c, const struct ctl_args *a);
int cmd_partners_promote(struct ctl *c, const struct ctl_args *a);
int cmd_partners_block(struct ctl *c, const struct ctl_args *a);
/* Write one setting's value as typed JSON (export and config show). */
void ctl_json_setting(struct json_out *o, const struct store_setting *s,
    const struct store_config *cfg);
/* "config show" over a settings table; show names the command that lists
 * its names. */
int ctl_settings_show(struct ctl *c, const struct ctl_args *a, const struct store_setting *table,
    const char *show);
/* The normal form of a domain argument for a confirmation. */
const char *ctl_shown(const char *in, char buf[NAMES_MAX + 1]);
/* "a.test,b.test" (malloc'ed; "" for none; NULL without memory). */
char *ctl_join(char *const *v, size_t n);

/* cmd_xmpp.c: the XMPP partners and settings */
int cmd_xmpp_partner_add(struct ctl *c, const struct ctl_args *a);
int cmd_xmpp_partner_set(struct ctl *c, const struct ctl_args *a);
int cmd_xmpp_partner_remove(struct ctl *c, const struct ctl_args *a);
int cmd_xmpp_partner_list(struct ctl *c, const struct ctl_args *a);
int cmd_xmpp_partner_show(struct ctl *c, const struct ctl_args *a);
int cmd_xmpp_config_show(struct ctl *c, const struct ctl_args *a);
int cmd_xmpp_config_set(struct ctl *c, const struct ctl_args *a);
int cmd_xmpp_config_reset(struct ctl *c, const struct ctl_args *a);
/* One partner as JSON (list, show, export; the audit log's keys). */
void ctl_json_xmpp_partner(struct json_out *o, const struct store_xmpp_partner *x);

/* cmd_daemon.c: through the running daemon's control socket */
/* Send "sipedge-control 1 LINE" and read the answer; on success *out is the
 * parsed "result" inside *doc (json_free it).  Failures are reported here;
 * returns the exit code. */
int ctl_daemon_call(struct ctl *c, const char *line, struct json **doc, const struct json **out);
/* --json: the result as the daemon gave it. */
void ctl_print_json(struct ctl *c, const struct json *v);
/* A member of an answer: a string ("-" when absent), a count (0). */
const char *ctl_jstr(const struct json *obj, const char *key);
uint64_t ctl_jnum(const struct json *obj, const char *key);
/* "42s", "3m 5s", "2h 10m", "1d 4h". */
void ctl_duration(uint64_t s, char *buf, size_t len);
int cmd_status(struct ctl *c, const struct ctl_args *a);
int cmd_connections(struct ctl *c, const struct ctl_args *a);
int cmd_stats(struct ctl *c, const struct ctl_args *a);
int cmd_reload(struct ctl *c, const struct ctl_args *a);
int cmd_probe(struct ctl *c, const struct ctl_args *a);
int cmd_trace(struct ctl *c, const struct ctl_args *a);
int cmd_partners_live(struct ctl *c, const struct ctl_args *a);

/* cmd_xmpp_live.c: the running daemon's XMPP side */
int cmd_xmpp_streams(struct ctl *c, const struct ctl_args *a);
int cmd_xmpp_probe(struct ctl *c, const struct ctl_args *a);
/* The "xmpp" counters of an answer (stats, xmpp streams), for people. */
void ctl_xmpp_counters(FILE *f, const struct json *x);

/* cmd_admin.c */
int cmd_audit(struct ctl *c, const struct ctl_args *a);
int cmd_db_init(struct ctl *c, const struct ctl_args *a);
int cmd_db_migrate(struct ctl *c, const struct ctl_args *a);
int cmd_export(struct ctl *c, const struct ctl_args *a);
int cmd_import(struct ctl *c, const struct ctl_args *a);
int cmd_help(struct ctl *c, const struct ctl_args *a);

/* cmd_route.c */
int cmd_route(struct ctl *c, const struct ctl_args *a);

/* cmd_cert.c */
int cmd_cert_check(struct ctl *c, const struct ctl_args *a);
int cmd_cert_request(struct ctl *c, const struct ctl_args *a);
int cmd_cert_install(struct ctl *c, const struct ctl_args *a);

#endif
