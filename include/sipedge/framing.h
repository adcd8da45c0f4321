/* framing.h: SIP messages out of a byte stream (RFC 3261 §18.3): Content-Length
 * framing with Sofia-SIP's parser, the size limit, CRLF keep-alives (RFC 5626
 * §3.5.1), NUL octets in header fields, and salvaging an answerable request out
 * of an over-long start line.  Pure: no I/O, no timers; the transport feeds it
 * plaintext and acts on what it reports.
 *
 * The size limit is exact: a message of max bytes (start line, headers, blank
 * line and body) is delivered, one byte more is FRAMER_ERROR 513.
 *
 * NUL octets: RFC 3261 allows them inside a quoted-pair; Sofia-SIP parses C
 * strings and would stall on one.  A NUL in a header field is replaced for
 * parsing by a control octet the message does not otherwise hold, and the
 * message is marked (sipmsg_nul_byte) so that the octet becomes NUL again
 * when it is sent (transport) — the message is relayed unchanged.
 *
 * Ownership: a struct framer is embedded in its connection and owns the partial
 * message.  Messages passed to the callback belong to the callback. */
#ifndef SIPEDGE_FRAMING_H
#define SIPEDGE_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sofia-sip/msg.h>

/* A start line longer than this is answered 414 (request) and the stream is
 * closed: nobody sends such URIs, and parsing them costs memory. */
#define FRAMER_MAX_LINE 8192
/* Bytes handed to the parser at a time: msg_next() copies what is left after
 * each message, so big slices make many messages per read quadratic. */
#define FRAMER_SLICE 16384

enum framer_event {
	/* msg: a complete message (header errors left for the core to judge). */
	FRAMER_MESSAGE,
	/* The stream cannot be framed any more: status 400, 414 or 513; msg
	 * (maybe NULL) holds what could be parsed, enough to answer when it has
	 * Via, From, To, Call-ID and CSeq.  why says what went wrong.  No more
	 * events follow: the framer stops and the connection must close. */
	FRAMER_ERROR,
	/* A CRLFCRLF ping between messages: answer CRLF (RFC 5626 §3.5.1). */
	FRAMER_PING,
};

/* Called for each event; owns msg (when not NULL).  Returns 0 to go on, or
 * non-zero when the connection is no longer open (feeding stops). */
typedef int (*framer_cb)(void *arg, enum framer_event ev, msg_t *msg, int status,
    const char *why);

struct framer {
	msg_t *cur;                 /* the partial message; NULL between messages */
	size_t max;                 /* max-message-size, bytes */
	size_t fed;                 /* octets put into cur */
	uint8_t ka;                 /* CRLFCRLF matcher state */
	bool failed;                /* FRAMER_ERROR reported: nothing more is parsed */
	/* Salvage after an over-long start line (see framing.c). */
	struct framer_salvage *sv;
};

void framer_init(struct framer *f, size_t max);
/* Drop the partial message and any salvage state (connection closed). */
void framer_clear(struct framer *f);
/* Feed n bytes.  Returns 0, or what the callback returned to stop. */
int framer_feed(struct framer *f, const char *p, size_t n, framer_cb cb, void *arg);
/* True while a message is incomplete (for the incomplete-message timer). */
bool framer_partial(const struct framer *f);
/* The edge's own request made as text (a probe, the XMPP gateway's): the
 * first whole message of p[0..n), parsed, or NULL.  The caller owns it. */
msg_t *framer_parse_one(const char *p, size_t n);

#endif
