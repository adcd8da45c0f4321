/* worker.h: a worker thread: its own libuv loop and a mailbox other threads
 * post to.  Nothing SIP-specific: the proxy builds its workers on it.
 *
 * A mail is any struct that embeds a struct worker_mail; its owner passes it
 * to worker_post and the worker's mail callback owns it from then on.  Stop is
 * asked with worker_stop; the worker then calls its stop callback on its own
 * thread (which closes what the owner opened on the loop), closes its own
 * handles, and its loop runs dry. */
#ifndef SIPEDGE_WORKER_H
#define SIPEDGE_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct worker_mail {
	struct worker_mail *next;
};

struct worker_thread;
typedef void (*worker_mail_cb)(struct worker_thread *wt, struct worker_mail *m);
typedef void (*worker_stop_cb)(struct worker_thread *wt);

struct worker_thread {
	uv_loop_t loop;
	void *ud;                          /* the owner's */
	/* How busy the loop is: worker_idle_ns for the time it waited for
	 * input, and the turns it made (each poll for input and the work on
	 * what it returned), read on the worker's own thread. */
	uint64_t turns;
	/* private */
	int schedstat_fd;                  /* /proc/thread-self/schedstat, or -1 */
	bool schedstat_tried;
	uv_thread_t thread;
	bool started, loop_open, stop_asked;
	uv_async_t async;
	pthread_mutex_t lock;
	struct worker_mail *head, *tail;
	bool stopping;                     /* no more mail is taken */
	worker_mail_cb mail_cb;
	worker_stop_cb stop_cb;
	uv_prepare_t turn;
};

/* Set up the loop and the mailbox (not the thread yet).  0 or -errno. */
int worker_init(struct worker_thread *wt, worker_mail_cb mail_cb, worker_stop_cb stop_cb,
    void *ud);
/* Run the loop on a new thread.  0 or a libuv error. */
int worker_start(struct worker_thread *wt);
/* Hand m to the worker (from any thread).  0, or -ESHUTDOWN when it no longer
 * takes mail (m stays the caller's). */
int worker_post(struct worker_thread *wt, struct worker_mail *m);
/* Ask the worker to stop (from any thread); idempotent. */
void worker_stop(struct worker_thread *wt);
/* Wait for the thread to end, or, when it never ran, close what was opened on
 * its loop; then release the loop and the mailbox, giving each mail still in
 * it to drop (which may be NULL to free nothing).  The thread's memory is the
 * caller's. */
void worker_fini(struct worker_thread *wt, void (*drop)(struct worker_mail *m));
/* On the worker's own thread: the time it has spent waiting for input, in
 * nanoseconds since some fixed point (non-decreasing), for the overload
 * control.  That is the wall clock less the time the thread ran or waited to
 * run, as the kernel counts them (/proc/thread-self/schedstat; its CPU time
 * where that file is missing).  libuv's own measure (UV_METRICS_IDLE_TIME)
 * costs an extra epoll_wait with no timeout on every turn of the loop. */
uint64_t worker_idle_ns(struct worker_thread *wt);
/* The loop was made before fork(): renew its kernel state in the child. */
void worker_after_fork(struct worker_thread *wt);

#endif
