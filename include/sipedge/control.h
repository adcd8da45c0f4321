/* control.h: the daemon's control socket (sipedgectl status, stats, reload, …):
 * a Unix stream socket in the state directory, mode 0660, so that only root
 * and the daemon's group may connect.
 *
 * Protocol (CONTROL_VERSION; bumped on any incompatible change): the client
 * writes one line, at most CONTROL_LINE_MAX octets,
 *     "sipedge-control VERSION COMMAND [ARG ...]\n"
 * (arguments separated by single spaces, no quoting: every argument is a
 * name, a number or a URI), and reads one JSON object until end of file:
 *     {"ok": true, "version": 1, "result": {...}}
 *     {"ok": false, "version": 1, "error": "unknown command \"x\"",
 *      "code": "unknown-command"}
 * A request that is not understood gets an error answer, never a crash; a
 * client that sends nothing for CONTROL_TIMEOUT_MS is closed.
 *
 * The socket runs on the main thread's loop; each command is a row of a table
 * the daemon gives (control_cmds.c), answering at once or later (a command
 * that asks the workers). */
#ifndef SIPEDGE_CONTROL_H
#define SIPEDGE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <uv.h>

#include "sipedge/json.h"

#define CONTROL_VERSION 1
#define CONTROL_MAGIC "sipedge-control"
#define CONTROL_LINE_MAX 1024
#define CONTROL_ARGS_MAX 16
#define CONTROL_TIMEOUT_MS 5000
#define CONTROL_CLIENTS_MAX 32

struct control;
struct control_req;

/* A command: argv[0] is its name.  It answers with control_answer, now or
 * later, exactly once (the request stays valid until then, also when the
 * client has gone). */
struct control_cmd {
	const char *name;
	int min_args, max_args;            /* after the name */
	void (*fn)(struct control_req *r, int argc, char **argv, void *arg);
};

/* Listen on path (an old socket file there is replaced), chmod 0660 and, if
 * gid is not (gid_t)-1, chown to that group.  0 or a negative errno / libuv
 * error; err says why. */
int control_new(uv_loop_t *loop, const char *path, gid_t gid, const struct control_cmd *cmds,
    void *arg, struct control **out, char *err, size_t errlen);
/* Stop listening, remove the socket file, drop the clients (a command still
 * working answers into nothing); frees itself once the handles are closed. */
void control_close(struct control *c);

/* The answer's result: the command writes one JSON value (an object) into o
 * and then calls control_answer.  Or an error: control_fail. */
struct json_out *control_result(struct control_req *r);
void control_answer(struct control_req *r);
void control_fail(struct control_req *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
