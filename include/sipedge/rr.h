/* rr.h: what the edge signs so that nobody can steer it: Via branches (RFC 3261
 * §16.6 item 8, with loop detection §16.3 item 4) and Record-Route tokens (the
 * peer each side of a dialog is reached at; RFC 5658 double record-routing).
 *
 * Both carry a 64-bit SipHash-2-4 tag under a 128-bit key kept in rr-key-file, so
 * dialogs survive a restart.  A Record-Route token is bound to the Call-ID: a peer
 * cannot replay one dialog's route into another dialog. */
#ifndef SIPEDGE_RR_H
#define SIPEDGE_RR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sipedge/conf.h"

struct rr_key {
	uint64_t k0, k1;
};

/* Read the key from path, creating it (mode 0600, random) when missing.  0,
 * or a negative errno and one line in err. */
int rr_key_load(const char *path, struct rr_key *out, char *err, size_t errlen);
uint64_t rr_siphash(const struct rr_key *k, const void *data, size_t len);

/* Where the peer of one side of a dialog is: the connection it used, and an
 * address to dial when that connection is gone; on the external side also the
 * partner's SIP domain and federation type, so that an in-dialog request can be
 * checked against the current policy and bound to the partner. */
struct rr_peer {
	enum side side;
	enum tp_kind kind;
	uint64_t conn_id;
	char fqdn[CONF_MAX_NAME];           /* its certificate identity ("" for TCP) */
	bool has_addr;
	struct sockaddr_storage addr;       /* dialable address, when known */
	char domain[CONF_MAX_NAME];         /* external: the partner's domain ("" unknown) */
	unsigned char fed;                  /* external: enum fed_type of the dialog */
	/* external: the Route entries that must follow ours in a request from
	 * the partner (the pool's own Record-Route entries), keyed-hashed. */
	bool has_routes;
	uint64_t routes;
};

/* A token names at most two names of 255 octets (base64url of ~550 octets). */
#define RR_TOKEN_MAX 768
#define RR_PARAM "sipedge"
int rr_token_encode(const struct rr_key *k, const struct rr_peer *p, const char *callid,
    char *out, size_t outlen);
/* 0, -EINVAL (not a token), or -EPERM (the tag does not verify).  Tokens of
 * format 1 (before domain and type were added) decode with those empty. */
int rr_token_decode(const struct rr_key *k, const char *tok, const char *callid,
    struct rr_peer *out);

/* The keyed hash of a list of Route URIs (each followed by '\n'), for
 * rr_peer.routes: a peer without the key cannot make another list match. */
uint64_t rr_routes_hash(const struct rr_key *k, const char *text, size_t len);

#define RR_BRANCH_PREFIX "z9hG4bKsE"
#define RR_BRANCH_LEN (9 + 16 + 8 + 8 + 16)
/* branch = prefix, upstream connection id, counter, loop hash, tag (hex). */
void rr_branch_make(const struct rr_key *k, uint64_t conn_in_id, uint32_t counter,
    uint32_t loop, char out[RR_BRANCH_LEN + 1]);
/* 0 if branch is one of ours with a valid tag; fills the fields given. */
int rr_branch_parse(const struct rr_key *k, const char *branch, uint64_t *conn_in_id,
    uint32_t *loop);

#endif
