/* xmpp_share.c: what the other workers may use of the XMPP gateway (xmpp.h).
 *
 * The gateway lives on worker 0.  A pool user's MESSAGE that reached
 * another worker used to go to worker 0 (a post, a wake-up) and its 202 back
 * (another post, another wake-up) around a write of a few hundred octets.
 * When the stream the gateway would use is authenticated and has nothing
 * queued, that worker now writes the stanza itself under the share's lock
 * (xs_write_other) and answers at once: the same stream, the same TLS
 * session, the same "on an authenticated stream" as worker 0's own path.
 * Anything else (no stream yet, a queue, a request of the same kind still on
 * its way to worker 0, which must keep its place) goes to worker 0 as
 * before. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/xmpp_thread.h"
#include "xmpp_int.h"

int
xmpp_share_new(struct xmpp_share **out)
{
	pthread_mutexattr_t a;
	struct xmpp_share *sh;
	int r;

	if ((sh = calloc(1, sizeof(*sh))) == NULL)
		return -ENOMEM;
	if ((r = pthread_mutexattr_init(&a)) != 0) {
		free(sh);
		return -r;
	}
	/* Worker 0 takes it in nested steps (a write that closes a stream). */
	r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	if (r == 0)
		r = pthread_mutex_init(&sh->mu, &a);
	pthread_mutexattr_destroy(&a);
	if (r != 0) {
		free(sh);
		return -r;
	}
	*out = sh;
	return 0;
}

void
xmpp_share_free(struct xmpp_share *sh)
{
	if (sh == NULL)
		return;
	pthread_mutex_destroy(&sh->mu);
	free(sh);
}

void
xmpp_gw_share(struct xmpp_gw *gw, struct xmpp_share *sh, struct xthreads *thr)
{
	gw->share = sh;
	pthread_mutex_lock(&sh->mu);
	sh->gw = gw;
	sh->thr = thr;
	pthread_mutex_unlock(&sh->mu);
}

bool
xmpp_share_thread(struct xmpp_share *sh, const char *local, const char *remote, uint64_t now,
    char *out)
{
	bool hit = false;

	pthread_mutex_lock(&sh->mu);
	if (sh->thr != NULL)
		hit = xthreads_get(sh->thr, local, remote, now, out);
	pthread_mutex_unlock(&sh->mu);
	return hit;
}

/* The stream find_out (xmpp_gw.c) would pick among the shared ones: the
 * partner's bidirectional stream first, then ours. */
static struct xstream *
find_shared(struct xmpp_gw *gw, const char *local, const char *remote)
{
	for (int pass = 0; pass < 2; pass++)
		for (struct xstream *s = gw->streams; s; s = s->next)
			if (s->shared && s->outbound == (pass == 1) &&
			    strcmp(s->local, local) == 0 && strcmp(s->remote, remote) == 0)
				return s;
	return NULL;
}

int
xmpp_share_send(struct xmpp_share *sh, const char *local, const char *remote, const char *buf,
    size_t len, uint64_t now)
{
	struct xmpp_gw *gw;
	struct xstream *s;
	int r = -EAGAIN;

	pthread_mutex_lock(&sh->mu);
	if ((gw = sh->gw) != NULL && sh->handed == 0 &&
	    (s = find_shared(gw, local, remote)) != NULL) {
		/* This write left worker 0 work (its rest, or a failed socket). */
		if ((r = xs_write_other(s, buf, len, now)) != -EAGAIN &&
		    (s->rest != NULL || s->wire_failed))
			uv_async_send(&gw->kick);
	}
	pthread_mutex_unlock(&sh->mu);
	return r;
}

void
xmpp_share_handed(struct xmpp_share *sh, int delta)
{
	pthread_mutex_lock(&sh->mu);
	if (delta > 0)
		sh->handed++;
	else if (sh->handed > 0)
		sh->handed--;
	pthread_mutex_unlock(&sh->mu);
}
