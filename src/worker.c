/* worker.c: a worker thread with its own libuv loop and a mailbox (see
 * worker.h).  uv_async_send coalesces wake-ups; the callback takes the whole
 * mailbox at once, so a burst of mail costs one wake-up. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "sipedge/worker.h"

static void
close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* On the worker's thread: stop taking mail, let the owner close its part,
 * close our handle; the loop then runs dry. */
static void
stop_here(struct worker_thread *wt)
{
	pthread_mutex_lock(&wt->lock);
	wt->stopping = true;
	pthread_mutex_unlock(&wt->lock);
	if (wt->stop_cb)
		wt->stop_cb(wt);
	uv_close((uv_handle_t *)&wt->async, NULL);
}

static void
mailbox_cb(uv_async_t *a)
{
	struct worker_thread *wt = a->data;
	struct worker_mail *list, *next;
	bool stop;

	pthread_mutex_lock(&wt->lock);
	list = wt->head;
	wt->head = wt->tail = NULL;
	stop = wt->stop_asked && !wt->stopping;
	pthread_mutex_unlock(&wt->lock);
	for (; list; list = next) {
		next = list->next;
		wt->mail_cb(wt, list);     /* takes ownership */
	}
	if (stop)
		stop_here(wt);
}

static void
turn_cb(uv_prepare_t *h)
{
	((struct worker_thread *)h->data)->turns++;
}

int
worker_init(struct worker_thread *wt, worker_mail_cb mail_cb, worker_stop_cb stop_cb, void *ud)
{
	int rc;

	wt->ud = ud;
	wt->mail_cb = mail_cb;
	wt->stop_cb = stop_cb;
	if (pthread_mutex_init(&wt->lock, NULL) != 0)
		return -ENOMEM;
	if ((rc = uv_loop_init(&wt->loop)) < 0) {
		pthread_mutex_destroy(&wt->lock);
		return rc;
	}
	wt->loop_open = true;
	wt->loop.data = wt;
	wt->schedstat_fd = -1;
	if ((rc = uv_async_init(&wt->loop, &wt->async, mailbox_cb)) < 0)
		return rc;
	wt->async.data = wt;
	/* Counting turns must not keep the loop alive at shutdown. */
	if ((rc = uv_prepare_init(&wt->loop, &wt->turn)) < 0)
		return rc;
	wt->turn.data = wt;
	uv_prepare_start(&wt->turn, turn_cb);
	uv_unref((uv_handle_t *)&wt->turn);
	return 0;
}

static void
thread_main(void *arg)
{
	struct worker_thread *wt = arg;

	uv_run(&wt->loop, UV_RUN_DEFAULT);
	/* Whatever is left (timers of finished transactions…) gets closed. */
	uv_walk(&wt->loop, close_walk_cb, NULL);
	uv_run(&wt->loop, UV_RUN_DEFAULT);
}

uint64_t
worker_idle_ns(struct worker_thread *wt)
{
	unsigned long long run = 0, wait = 0;
	uint64_t now = uv_hrtime(), busy;
	struct timespec ts;
	char buf[96];
	ssize_t n;

	if (!wt->schedstat_tried) {
		wt->schedstat_tried = true;
		wt->schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	}
	if (wt->schedstat_fd >= 0 && (n = pread(wt->schedstat_fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "%llu %llu", &run, &wait) == 2) {
			busy = (uint64_t)run + (uint64_t)wait;
			return busy < now ? now - busy : 0;
		}
	}
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	busy = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return busy < now ? now - busy : 0;
}

int
worker_start(struct worker_thread *wt)
{
	int rc = uv_thread_create(&wt->thread, thread_main, wt);

	if (rc == 0)
		wt->started = true;
	return rc;
}

int
worker_post(struct worker_thread *wt, struct worker_mail *m)
{
	m->next = NULL;
	pthread_mutex_lock(&wt->lock);
	if (wt->stopping) {
		pthread_mutex_unlock(&wt->lock);
		return -ESHUTDOWN;
	}
	if (wt->tail)
		wt->tail->next = m;
	else
		wt->head = m;
	wt->tail = m;
	pthread_mutex_unlock(&wt->lock);
	uv_async_send(&wt->async);
	return 0;
}

void
worker_stop(struct worker_thread *wt)
{
	pthread_mutex_lock(&wt->lock);
	wt->stop_asked = true;
	pthread_mutex_unlock(&wt->lock);
	uv_async_send(&wt->async);
}

void
worker_fini(struct worker_thread *wt, void (*drop)(struct worker_mail *m))
{
	struct worker_mail *m, *next;

	if (!wt->loop_open)
		return;
	if (wt->started) {
		uv_thread_join(&wt->thread);
	} else {
		/* Never ran: close what was opened on its loop, here. */
		if (!wt->stopping)
			stop_here(wt);
		uv_walk(&wt->loop, close_walk_cb, NULL);
		uv_run(&wt->loop, UV_RUN_DEFAULT);
	}
	pthread_mutex_lock(&wt->lock);
	wt->stopping = true;
	m = wt->head;
	wt->head = wt->tail = NULL;
	pthread_mutex_unlock(&wt->lock);
	for (; m; m = next) {
		next = m->next;
		if (drop)
			drop(m);
	}
	uv_loop_close(&wt->loop);
	wt->loop_open = false;
	if (wt->schedstat_fd >= 0)
		close(wt->schedstat_fd);
	wt->schedstat_fd = -1;
	pthread_mutex_destroy(&wt->lock);
}

void
worker_after_fork(struct worker_thread *wt)
{
	uv_loop_fork(&wt->loop);
	if (wt->schedstat_fd >= 0)         /* another process's thread */
		close(wt->schedstat_fd);
	wt->schedstat_fd = -1;
	wt->schedstat_tried = false;
}
