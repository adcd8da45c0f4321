/* control.c: the control socket (control.h): a Unix stream listener on the
 * main thread's loop, one request line per connection, one JSON answer, then
 * close.  The commands themselves are the daemon's (control_cmds.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sipedge/control.h"
#include "sipedge/log.h"

#define STR_(x) #x
#define STR(x) STR_(x)

struct client;

struct control {
	uv_loop_t *loop;
	uv_pipe_t server;
	char path[1024];
	const struct control_cmd *cmds;
	void *arg;
	struct client *clients;
	unsigned nclients;
	unsigned handles;                  /* open: the listener's and the clients' */
	bool closing;
};

/* One of ctl's handles is closed: the last frees it. */
static void
ctl_handle_gone(struct control *ctl)
{
	if (--ctl->handles == 0)
		free(ctl);
}

struct control_req {
	struct client *cl;                 /* NULL once the client is gone */
	char *buf;                         /* the answer (open_memstream) */
	size_t len;
	FILE *f;
	struct json_out o;
	bool answered;
};

struct client {
	struct control *ctl;
	uv_pipe_t pipe;
	uv_timer_t timer;
	uv_write_t wr;
	unsigned handles;
	char line[CONTROL_LINE_MAX + 1];
	size_t len;
	struct control_req *req;           /* the request being answered */
	char *out;                         /* the answer being written (owned) */
	const char *bad;                   /* why the line is refused, once it ends */
	bool closing;
	struct client *prev, *next;
};

static void client_close(struct client *cl);

/* ---- answers ------------------------------------------------------------ */

static int
req_open(struct control_req *r)
{
	if (r->f)
		return 0;
	if ((r->f = open_memstream(&r->buf, &r->len)) == NULL)
		return -errno;
	json_out_init(&r->o, r->f);
	return 0;
}

static void
req_discard(struct control_req *r)
{
	if (r->f)
		fclose(r->f);
	free(r->buf);
	r->f = NULL;
	r->buf = NULL;
	r->len = 0;
}

static void
write_cb(uv_write_t *w, int status)
{
	struct client *cl = w->data;

	(void)status;               /* a client that left early has its answer lost */
	client_close(cl);
}

/* The answer is complete (buf, len): send it and close, or drop it. */
static void
req_finish(struct control_req *r)
{
	struct client *cl = r->cl;
	uv_buf_t b;

	r->answered = true;
	if (r->f) {
		if (fclose(r->f) != 0) {
			free(r->buf);
			r->buf = NULL;
		}
		r->f = NULL;
	}
	if (cl == NULL || r->buf == NULL) {
		free(r->buf);
		free(r);
		if (cl) {
			cl->req = NULL;
			client_close(cl);
		}
		return;
	}
	cl->req = NULL;
	cl->out = r->buf;
	b = uv_buf_init(r->buf, (unsigned)r->len);
	free(r);
	cl->wr.data = cl;
	uv_timer_stop(&cl->timer);
	if (uv_write(&cl->wr, (uv_stream_t *)&cl->pipe, &b, 1, write_cb) < 0)
		client_close(cl);
}

struct json_out *
control_result(struct control_req *r)
{
	if (r->f == NULL) {
		if (req_open(r) < 0)
			return NULL;
		json_out_begin_object(&r->o);
		json_out_key(&r->o, "ok");
		json_out_bool(&r->o, true);
		json_out_key(&r->o, "version");
		json_out_int(&r->o, CONTROL_VERSION);
		json_out_key(&r->o, "result");
	}
	return &r->o;
}

void
control_answer(struct control_req *r)
{
	if (r->answered)
		return;
	if (r->f == NULL) {
		control_fail(r, "internal", "the command gave no answer");
		return;
	}
	json_out_end_object(&r->o);
	json_out_end(&r->o);
	req_finish(r);
}

void
control_fail(struct control_req *r, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (r->answered)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	req_discard(r);
	if (req_open(r) == 0) {
		json_out_begin_object(&r->o);
		json_out_key(&r->o, "ok");
		json_out_bool(&r->o, false);
		json_out_key(&r->o, "version");
		json_out_int(&r->o, CONTROL_VERSION);
		json_out_key(&r->o, "error");
		json_out_string(&r->o, msg);
		json_out_key(&r->o, "code");
		json_out_string(&r->o, code);
		json_out_end_object(&r->o);
		json_out_end(&r->o);
	}
	req_finish(r);
}

/* ---- requests ----------------------------------------------------------- */

/* Split the line at single spaces; NUL octets or control characters make it
 * invalid.  Returns the number of words, or -1. */
static int
split(char *line, char **argv, int max)
{
	int n = 0;

	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -1;
	for (char *p = line; *p; ) {
		if (*p == ' ') {
			p++;
			continue;
		}
		if (n == max)
			return -1;
		argv[n++] = p;
		p += strcspn(p, " ");
		if (*p)
			*p++ = '\0';
	}
	return n;
}

static void
dispatch(struct client *cl)
{
	struct control *ctl = cl->ctl;
	struct control_req *r;
	char *argv[CONTROL_ARGS_MAX + 2];
	int argc;
	const struct control_cmd *cmd;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		client_close(cl);
		return;
	}
	r->cl = cl;
	cl->req = r;
	if (cl->bad) {
		control_fail(r, "bad-request", "%s", cl->bad);
		return;
	}
	log_debug("control: %s", cl->line);
	argc = split(cl->line, argv, CONTROL_ARGS_MAX + 2);
	if (argc < 0) {
		control_fail(r, "bad-request", "the request has control characters or too many words");
		return;
	}
	if (argc < 3 || strcmp(argv[0], CONTROL_MAGIC) != 0) {
		control_fail(r, "bad-request", "expected \"%s %d COMMAND ...\"", CONTROL_MAGIC,
		    CONTROL_VERSION);
		return;
	}
	if (strcmp(argv[1], "1") != 0) {
		control_fail(r, "version", "protocol version %.16s is not spoken here (version %d)",
		    argv[1], CONTROL_VERSION);
		return;
	}
	for (cmd = ctl->cmds; cmd->name; cmd++)
		if (strcmp(cmd->name, argv[2]) == 0)
			break;
	if (cmd->name == NULL) {
		control_fail(r, "unknown-command", "unknown command \"%.64s\"", argv[2]);
		return;
	}
	argc -= 3;
	if (argc < cmd->min_args || (cmd->max_args >= 0 && argc > cmd->max_args)) {
		control_fail(r, "usage", "%s: wrong number of arguments (%d)", cmd->name, argc);
		return;
	}
	cmd->fn(r, argc, argv + 3, ctl->arg);
}

static void
alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct client *cl = h->data;

	(void)hint;
	buf->base = cl->line + cl->len;
	buf->len = CONTROL_LINE_MAX - cl->len;
}

static void
read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct client *cl = s->data;
	char *nl;

	(void)buf;
	if (n == 0)
		return;
	if (n < 0) {
		client_close(cl);
		return;
	}
	cl->len += (size_t)n;
	cl->line[cl->len] = '\0';
	if (memchr(cl->line, '\0', cl->len) != NULL) {
		cl->bad = "the request has a NUL octet";
		uv_read_stop(s);
		dispatch(cl);
		return;
	}
	if ((nl = strchr(cl->line, '\n')) == NULL) {
		/* Over the limit: read on to the end of the line (within the
		 * client's time) and answer then; closing with unread input
		 * would reset the connection and lose the answer. */
		if (cl->len >= CONTROL_LINE_MAX) {
			cl->bad = "request line over " STR(CONTROL_LINE_MAX) " octets";
			cl->len = 0;
		}
		return;
	}
	*nl = '\0';
	if (nl > cl->line && nl[-1] == '\r')
		nl[-1] = '\0';
	uv_read_stop(s);
	dispatch(cl);
}

/* ---- clients ------------------------------------------------------------ */

static void
client_handle_closed(uv_handle_t *h)
{
	struct client *cl = h->data;
	struct control *ctl = cl->ctl;

	if (--cl->handles > 0)
		return;
	free(cl->out);
	free(cl);
	ctl_handle_gone(ctl);
}

static void
client_close(struct client *cl)
{
	struct control *ctl = cl->ctl;

	if (cl->closing)
		return;
	cl->closing = true;
	if (cl->req) {
		cl->req->cl = NULL;        /* a command still working answers into nothing */
		cl->req = NULL;
	}
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		ctl->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	ctl->nclients--;
	uv_close((uv_handle_t *)&cl->pipe, client_handle_closed);
	uv_close((uv_handle_t *)&cl->timer, client_handle_closed);
}

static void
timeout_cb(uv_timer_t *t)
{
	struct client *cl = t->data;

	if (cl->req == NULL) {
		log_debug("control: a client sent no request in %d ms", CONTROL_TIMEOUT_MS);
		client_close(cl);
	}
}

static void
connection_cb(uv_stream_t *server, int status)
{
	struct control *ctl = server->data;
	struct client *cl;

	if (status < 0 || ctl->closing)
		return;
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return;
	cl->ctl = ctl;
	uv_pipe_init(ctl->loop, &cl->pipe, 0);
	uv_timer_init(ctl->loop, &cl->timer);
	cl->pipe.data = cl->timer.data = cl;
	cl->handles = 2;
	ctl->handles++;
	cl->next = ctl->clients;
	if (ctl->clients)
		ctl->clients->prev = cl;
	ctl->clients = cl;
	ctl->nclients++;
	if (uv_accept(server, (uv_stream_t *)&cl->pipe) < 0) {
		client_close(cl);
		return;
	}
	if (ctl->nclients > CONTROL_CLIENTS_MAX) {
		log_warnx("control: over %d clients at once, closing the newest", CONTROL_CLIENTS_MAX);
		client_close(cl);
		return;
	}
	uv_timer_start(&cl->timer, timeout_cb, CONTROL_TIMEOUT_MS, 0);
	if (uv_read_start((uv_stream_t *)&cl->pipe, alloc_cb, read_cb) < 0)
		client_close(cl);
}

/* ---- the listener ------------------------------------------------------- */

static void
server_closed(uv_handle_t *h)
{
	ctl_handle_gone(h->data);
}

int
control_new(uv_loop_t *loop, const char *path, gid_t gid, const struct control_cmd *cmds,
    void *arg, struct control **out, char *err, size_t errlen)
{
	struct control *ctl;
	struct stat sb;
	int rc;

	if (strlen(path) >= sizeof(((struct control *)0)->path) || strlen(path) >= 108) {
		snprintf(err, errlen, "control socket %s: path too long for a Unix socket", path);
		return -ENAMETOOLONG;
	}
	if ((ctl = calloc(1, sizeof(*ctl))) == NULL) {
		snprintf(err, errlen, "control socket: out of memory");
		return -ENOMEM;
	}
	ctl->loop = loop;
	ctl->cmds = cmds;
	ctl->arg = arg;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	/* A socket left by a sipedge that did not exit cleanly; the pid file
	 * lock has already shown that none is running on this directory. */
	if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
		unlink(path);
	uv_pipe_init(loop, &ctl->server, 0);
	ctl->server.data = ctl;
	ctl->handles = 1;
	if ((rc = uv_pipe_bind(&ctl->server, path)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)&ctl->server, 16, connection_cb)) < 0) {
		snprintf(err, errlen, "control socket %s: %s", path, uv_strerror(rc));
		ctl->closing = true;
		uv_close((uv_handle_t *)&ctl->server, server_closed);
		return rc;
	}
	if (chmod(path, 0660) < 0 || (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0)) {
		rc = -errno;
		snprintf(err, errlen, "control socket %s: %s", path, strerror(-rc));
		ctl->closing = true;
		unlink(path);
		uv_close((uv_handle_t *)&ctl->server, server_closed);
		return rc;
	}
	*out = ctl;
	return 0;
}


void
control_close(struct control *ctl)
{
	if (ctl == NULL || ctl->closing)
		return;
	ctl->closing = true;
	unlink(ctl->path);
	while (ctl->clients)
		client_close(ctl->clients);
	uv_close((uv_handle_t *)&ctl->server, server_closed);
}
