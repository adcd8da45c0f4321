/* xmpp_thread.h: the XMPP conversation threads the gateway keeps across SIP
 * (RFC 7572 §5 has no SIP header for <thread/>; XEP-0201 §5.1: a reply in a
 * chat carries the thread of the message it answers).  A partner's message
 * to a pool user carries a thread; the gateway remembers it for the pair
 * (pool user, contact) and puts it on the pool user's next messages to that
 * contact.  Bounded: at most max conversations, the least recently used
 * going first, and each forgotten after idle_ms without a message.  Thread-safe
 * (worker 0 notes threads; the worker that translates a pool user's
 * message reads them); time is passed in (milliseconds of one monotonic
 * clock, as the threads' loops cache it: a time a little earlier than the
 * last one seen counts as no time). */
#ifndef SIPEDGE_XMPP_THREAD_H
#define SIPEDGE_XMPP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A thread id is at most this long (longer ones are not kept). */
#define XTHREAD_MAX 256

struct xthreads;

/* 0, -EINVAL (max or idle_ms 0) or -ENOMEM. */
int xthreads_new(size_t max, uint64_t idle_ms, struct xthreads **out);
void xthreads_free(struct xthreads *t);
/* A message between local (our user's bare JID) and remote (the contact's
 * bare JID) carried thread: it is the pair's thread from now.  0, -EINVAL
 * (an empty or over-long thread or address) or -ENOMEM. */
int xthreads_note(struct xthreads *t, const char *local, const char *remote, const char *thread,
    uint64_t now);
/* The pair's thread copied to out, true; false when there is none.  A
 * hit counts as use (the pair's conversation goes on). */
bool xthreads_get(struct xthreads *t, const char *local, const char *remote, uint64_t now,
    char out[XTHREAD_MAX + 1]);
/* Forget the conversations idle for idle_ms or more. */
void xthreads_expire(struct xthreads *t, uint64_t now);
/* How many conversations are kept. */
size_t xthreads_count(struct xthreads *t);

#endif
