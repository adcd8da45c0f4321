/* sipedgectl.c: the admin CLI's main: global options, then one command from
 * the table in cmd.c (sipedgectl(8)). */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif

#define DEFAULT_DB LOCALSTATEDIR "/lib/sipedge/policy.db"
#define DEFAULT_SOCKET LOCALSTATEDIR "/lib/sipedge/control.sock"

static int
usage(FILE *f, int code)
{
	ctl_help(f);
	fprintf(f, "\nThe database is --db PATH, else $SIPEDGE_DB, else %s.\n", DEFAULT_DB);
	fprintf(f, "The daemon's control socket is --socket PATH, else $SIPEDGE_SOCKET, else %s.\n",
	    DEFAULT_SOCKET);
	fprintf(f, "The configuration (route, cert) is --config FILE, else $SIPEDGE_CONF, "
	    "else %s.\n", CTL_DEFAULT_CONF);
	return code;
}

/* The audit log names the person: under sudo, the user who ran sudo. */
static void
actor(char *buf, size_t len)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(geteuid());

	if (geteuid() == 0 && sudo != NULL && sudo[0] != '\0')
		snprintf(buf, len, "%s", sudo);
	else if (pw != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "uid %ld", (long)geteuid());
}

int
main(int argc, char **argv)
{
	struct ctl c = { 0 };
	int i, rc;

	c.out = stdout;
	c.db_path = getenv("SIPEDGE_DB");
	if (c.db_path == NULL || c.db_path[0] == '\0')
		c.db_path = DEFAULT_DB;
	c.socket_path = getenv("SIPEDGE_SOCKET");
	if (c.socket_path == NULL || c.socket_path[0] == '\0')
		c.socket_path = DEFAULT_SOCKET;
	c.conf_path = getenv("SIPEDGE_CONF");
	if (c.conf_path == NULL || c.conf_path[0] == '\0')
		c.conf_path = CTL_DEFAULT_CONF;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0) {
			c.json = true;
		} else if (strcmp(a, "--db") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "sipedgectl: option --db needs a value\n");
				return CTL_USAGE;
			}
			c.db_path = argv[++i];
		} else if (strncmp(a, "--db=", 5) == 0) {
			c.db_path = a + 5;
		} else if (strcmp(a, "--socket") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "sipedgectl: option --socket needs a value\n");
				return CTL_USAGE;
			}
			c.socket_path = argv[++i];
		} else if (strncmp(a, "--socket=", 9) == 0) {
			c.socket_path = a + 9;
		} else if (strcmp(a, "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "sipedgectl: option --config needs a value\n");
				return CTL_USAGE;
			}
			c.conf_path = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			c.conf_path = a + 9;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			return usage(stdout, CTL_OK);
		} else if (strcmp(a, "--version") == 0) {
			printf("sipedgectl %s (policy schema version %d)\n", PACKAGE_VERSION,
			    store_schema_version());
			return CTL_OK;
		} else {
			fprintf(stderr, "sipedgectl: unknown option \"%s\"; "
			    "\"sipedgectl help\" lists the commands\n", a);
			return CTL_USAGE;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "sipedgectl: missing command; \"sipedgectl help\" lists them\n");
		return CTL_USAGE;
	}
	if (c.db_path[0] == '\0') {
		fprintf(stderr, "sipedgectl: --db needs a file name\n");
		return CTL_USAGE;
	}
	if (c.socket_path[0] == '\0') {
		fprintf(stderr, "sipedgectl: --socket needs a file name\n");
		return CTL_USAGE;
	}
	if (c.conf_path[0] == '\0') {
		fprintf(stderr, "sipedgectl: --config needs a file name\n");
		return CTL_USAGE;
	}
	actor(c.actor, sizeof(c.actor));
	rc = ctl_run(&c, argc - i, argv + i);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "sipedgectl: cannot write to standard output\n");
		return CTL_FAIL;
	}
	return rc;
}
