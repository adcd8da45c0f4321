/* metrics.c: the Prometheus exposition (metrics.h): a small HTTP/1.1 server
 * (RFC 9112) on the main thread's loop that answers GET /metrics with the text
 * format, version 0.0.4, and closes each connection after its answer.  It
 * reads the request line and headers (at most METRICS_REQ_MAX octets, within
 * METRICS_TIMEOUT_MS) and ignores any body. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sipedge/log.h"
#include "sipedge/metrics.h"

#define METRICS_REQ_MAX 8192
#define METRICS_TIMEOUT_MS 5000
#define METRICS_CLIENTS_MAX 16

struct mclient;

struct metrics {
	uv_loop_t *loop;
	uv_tcp_t server;
	metrics_render_fn render;
	void *arg;
	struct mclient *clients;
	unsigned nclients, handles;
	bool closing;
};

struct mclient {
	struct metrics *m;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	uv_shutdown_t sd;
	unsigned handles;
	char buf[METRICS_REQ_MAX + 1];
	size_t len;
	char *out;
	bool closing, answered, lingering;
	struct mclient *prev, *next;
};

static void
metrics_handle_gone(struct metrics *m)
{
	if (--m->handles == 0)
		free(m);
}

static void
mclient_closed(uv_handle_t *h)
{
	struct mclient *cl = h->data;
	struct metrics *m = cl->m;

	if (--cl->handles > 0)
		return;
	free(cl->out);
	free(cl);
	metrics_handle_gone(m);
}

static void mclient_close(struct mclient *cl);

static void
mclient_close_timer(uv_timer_t *t)
{
	mclient_close(t->data);
}

static void
mclient_close(struct mclient *cl)
{
	struct metrics *m = cl->m;

	if (cl->closing)
		return;
	cl->closing = true;
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		m->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	m->nclients--;
	uv_close((uv_handle_t *)&cl->tcp, mclient_closed);
	uv_close((uv_handle_t *)&cl->timer, mclient_closed);
}

static void linger_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);
static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b);

static void
shut(uv_shutdown_t *sd, int status)
{
	(void)sd;
	(void)status;
}

/* The answer is out: send our FIN and read (and drop) what the client still
 * sends until its own FIN, for at most a second; closing with unread input
 * would reset the connection and could destroy the answer in flight. */
static void
written(uv_write_t *w, int status)
{
	struct mclient *cl = w->data;

	if (status < 0 || cl->closing) {
		mclient_close(cl);
		return;
	}
	cl->lingering = true;
	cl->len = 0;
	uv_timer_start(&cl->timer, mclient_close_timer, 1000, 0);
	if (uv_shutdown(&cl->sd, (uv_stream_t *)&cl->tcp, shut) < 0 ||
	    uv_read_start((uv_stream_t *)&cl->tcp, alloc_cb, linger_read) < 0)
		mclient_close(cl);
}

static void
linger_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct mclient *cl = s->data;

	(void)b;
	cl->len = 0;
	if (n < 0)
		mclient_close(cl);
}

/* Send status line, headers and body (body may be NULL), then close. */
static void
respond(struct mclient *cl, int status, const char *reason, const char *ctype, const char *body,
    size_t blen, const char *extra)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	uv_buf_t b;

	cl->answered = true;
	uv_read_stop((uv_stream_t *)&cl->tcp);
	uv_timer_stop(&cl->timer);
	if (f == NULL) {
		mclient_close(cl);
		return;
	}
	fprintf(f, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\nCache-Control: no-store\r\n%s\r\n", status, reason, ctype,
	    blen, extra ? extra : "");
	if (body)
		fwrite(body, 1, blen, f);
	if (fclose(f) != 0) {
		free(buf);
		mclient_close(cl);
		return;
	}
	cl->out = buf;
	b = uv_buf_init(buf, (unsigned)len);
	cl->wr.data = cl;
	if (uv_write(&cl->wr, (uv_stream_t *)&cl->tcp, &b, 1, written) < 0)
		mclient_close(cl);
}

static void
respond_text(struct mclient *cl, int status, const char *reason, const char *text,
    const char *extra)
{
	respond(cl, status, reason, "text/plain; charset=utf-8", text, strlen(text), extra);
}

/* A complete request head is in cl->buf. */
static void
handle(struct mclient *cl)
{
	struct metrics *m = cl->m;
	char *sp1, *sp2, *eol, *body = NULL;
	size_t blen = 0;
	FILE *f;

	if ((eol = strchr(cl->buf, '\n')) == NULL) {
		respond_text(cl, 400, "Bad Request", "bad request line\n", NULL);
		return;
	}
	*eol = '\0';
	if (eol > cl->buf && eol[-1] == '\r')
		eol[-1] = '\0';
	sp1 = strchr(cl->buf, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		respond_text(cl, 400, "Bad Request", "bad request line\n", NULL);
		return;
	}
	*sp1 = *sp2 = '\0';
	if (strcmp(cl->buf, "GET") != 0 && strcmp(cl->buf, "HEAD") != 0) {
		respond_text(cl, 405, "Method Not Allowed", "only GET\n", "Allow: GET, HEAD\r\n");
		return;
	}
	/* The path, without a query string (Prometheus may add one). */
	sp1[1 + strcspn(sp1 + 1, "?")] = '\0';
	if (strcmp(sp1 + 1, "/metrics") != 0) {
		respond_text(cl, 404, "Not Found", "the metrics are at /metrics\n", NULL);
		return;
	}
	if ((f = open_memstream(&body, &blen)) == NULL) {
		respond_text(cl, 500, "Internal Server Error", "out of memory\n", NULL);
		return;
	}
	m->render(f, m->arg);
	if (fclose(f) != 0) {
		free(body);
		respond_text(cl, 500, "Internal Server Error", "out of memory\n", NULL);
		return;
	}
	respond(cl, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
	    strcmp(cl->buf, "HEAD") == 0 ? NULL : body, blen, NULL);
	free(body);
}

static void
alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct mclient *cl = h->data;

	(void)hint;
	b->base = cl->buf + cl->len;
	b->len = METRICS_REQ_MAX - cl->len;
}

static void
read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct mclient *cl = s->data;

	(void)b;
	if (n == 0 || cl->answered)
		return;
	if (n < 0) {
		mclient_close(cl);
		return;
	}
	cl->len += (size_t)n;
	cl->buf[cl->len] = '\0';
	if (memchr(cl->buf, '\0', cl->len)) {
		respond_text(cl, 400, "Bad Request", "NUL octet in the request\n", NULL);
		return;
	}
	if (strstr(cl->buf, "\r\n\r\n") || strstr(cl->buf, "\n\n")) {
		handle(cl);
		return;
	}
	if (cl->len >= METRICS_REQ_MAX)
		respond_text(cl, 431, "Request Header Fields Too Large", "request over 8192 octets\n",
		    NULL);
}

static void
timeout_cb(uv_timer_t *t)
{
	struct mclient *cl = t->data;

	if (!cl->answered)
		respond_text(cl, 408, "Request Timeout", "no request within 5 s\n", NULL);
}

static void
connection_cb(uv_stream_t *server, int status)
{
	struct metrics *m = server->data;
	struct mclient *cl;

	if (status < 0 || m->closing || (cl = calloc(1, sizeof(*cl))) == NULL)
		return;
	cl->m = m;
	uv_tcp_init(m->loop, &cl->tcp);
	uv_timer_init(m->loop, &cl->timer);
	cl->tcp.data = cl->timer.data = cl;
	cl->handles = 2;
	m->handles++;
	cl->next = m->clients;
	if (m->clients)
		m->clients->prev = cl;
	m->clients = cl;
	m->nclients++;
	if (uv_accept(server, (uv_stream_t *)&cl->tcp) < 0 || m->nclients > METRICS_CLIENTS_MAX) {
		mclient_close(cl);
		return;
	}
	uv_timer_start(&cl->timer, timeout_cb, METRICS_TIMEOUT_MS, 0);
	if (uv_read_start((uv_stream_t *)&cl->tcp, alloc_cb, read_cb) < 0)
		mclient_close(cl);
}

static void
server_closed(uv_handle_t *h)
{
	metrics_handle_gone(h->data);
}

int
metrics_new(uv_loop_t *loop, const struct sockaddr_storage *addr, metrics_render_fn render,
    void *arg, struct metrics **out, char *err, size_t errlen)
{
	struct metrics *m = calloc(1, sizeof(*m));
	char a[80];
	int rc;

	if (m == NULL) {
		snprintf(err, errlen, "metrics-listen: out of memory");
		return -ENOMEM;
	}
	m->loop = loop;
	m->render = render;
	m->arg = arg;
	m->handles = 1;
	uv_tcp_init(loop, &m->server);
	m->server.data = m;
	if ((rc = uv_tcp_bind(&m->server, (const struct sockaddr *)addr, 0)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)&m->server, 16, connection_cb)) < 0) {
		snprintf(err, errlen, "metrics-listen %s: %s", conf_sockaddr_str(addr, a, sizeof(a)),
		    uv_strerror(rc));
		m->closing = true;
		uv_close((uv_handle_t *)&m->server, server_closed);
		return rc;
	}
	*out = m;
	return 0;
}

void
metrics_close(struct metrics *m)
{
	if (m == NULL || m->closing)
		return;
	m->closing = true;
	while (m->clients)
		mclient_close(m->clients);
	uv_close((uv_handle_t *)&m->server, server_closed);
}
