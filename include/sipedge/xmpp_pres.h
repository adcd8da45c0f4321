/* xmpp_pres.h: one XMPP presence state (RFC 6121 section 4.7) and its mapping
 * to and from a PIDF document (RFC 3863) as RFC 8048 section 6 specifies: no
 * 'type' <-> basic "open", type "unavailable" <-> basic "closed", <status/>
 * <-> <note/>, <priority/> <-> the contact priority (note 6 of its Table 1),
 * and <show/> carried as itself, <show xmlns='jabber:client'/> in the PIDF
 * <status/> (note 7, RECOMMENDED).  RFC 8048 defines no mapping between
 * <show/> and RPID (RFC 4480); the RPID <activities/> written and read here
 * are the "custom extension" its note 7 allows, for SIP watchers that render
 * RPID but not <show/>.  No XML parser here: reading takes values another
 * layer extracted. */
#ifndef SIPEDGE_XMPP_PRES_H
#define SIPEDGE_XMPP_PRES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* RFC 6121 section 4.7.2.1; XMPP_SHOW_NONE is the absence of <show/>. */
enum xmpp_show {
	XMPP_SHOW_NONE,
	XMPP_SHOW_AWAY,
	XMPP_SHOW_CHAT,
	XMPP_SHOW_DND,
	XMPP_SHOW_XA,
};

/* RFC 6121 section 4.7.2.3. */
#define XMPP_PRIORITY_MIN (-128)
#define XMPP_PRIORITY_MAX 127

/* One presence state.  The strings are borrowed: the caller keeps them alive
 * while the struct is used (xmpp_pres_from_pidf points them into its input). */
struct xmpp_pres {
	bool available;         /* false: type='unavailable' */
	enum xmpp_show show;    /* meaningful only when available */
	const char *status;     /* <status/> text, or NULL */
	const char *lang;       /* the xml:lang of that text, or NULL */
	int priority;           /* -128..127; 0 when the stanza has none */
};

/* "away", "chat", "dnd", "xa"; NULL for XMPP_SHOW_NONE or out of range. */
const char *xmpp_show_name(enum xmpp_show s);
/* The show value named name, or -ENOENT (*out untouched). */
int xmpp_show_from_name(const char *name, enum xmpp_show *out);

/* RFC 8048 note 6: XMPP priority 0..127 to a PIDF priority 0..1 ("0",
 * "0.007", "0.015", ... "0.992", "1"; thousandths rounded down, which keeps
 * all 128 values distinct).  A negative priority MUST NOT be mapped: -ERANGE.
 * buf needs 6 octets.  Returns 0, -ERANGE or -EINVAL (above 127). */
int xmpp_pres_priority_to_pidf(int priority, char *buf, size_t len);
/* The inverse: a PIDF qvalue ("0", "0.5", "1.000"; RFC 3863 section 4.4) to
 * the nearest XMPP priority 0..127, exact for what the function above wrote.
 * Returns 0, or -EINVAL for a malformed or out-of-range value. */
int xmpp_pres_priority_from_pidf(const char *q, int *out);

/* The RPID activity written for s ("away" for away and xa, "busy" for dnd:
 * RFC 8048 note 7 says dnd "merely means busy"), or NULL (none, chat). */
const char *xmpp_pres_show_activity(enum xmpp_show s);
/* The show value for a set of RPID activity names (their local names, e.g.
 * "busy"): the least available one they imply, XMPP_SHOW_NONE if none does. */
enum xmpp_show xmpp_pres_activities_show(const char *const *names, size_t n);

/* How to write the PIDF document. */
struct xmpp_pidf_opts {
	const char *entity;     /* the presentity's URI (RFC 3863 4.1.1); required */
	const char *resource;   /* XMPP resourcepart for the tuple id, or NULL */
	const char *contact;    /* <contact/> URI (e.g. with gr=), or NULL */
	time_t timestamp;       /* <timestamp/>, or 0 for none */
	bool rpid;              /* also write RPID <activities/> for show */
};

/* Write p as an application/pidf+xml document to buf: one tuple whose id is
 * "ID-" and the resourcepart (RFC 8048 note 2; octets other than letters,
 * digits, '-' and '.' written as "_" and two hex digits, so that any
 * resourcepart makes a valid xs:ID) or "ID" without one.  Text is
 * XML-escaped.  Returns 0, -EINVAL (no entity; a string that is not UTF-8 or
 * holds a character XML 1.0 cannot carry) or -ENOSPC (buf then holds ""). */
int xmpp_pres_write_pidf(const struct xmpp_pres *p, const struct xmpp_pidf_opts *o,
    char *buf, size_t len);

/* One resource of a contact: a tuple of a document with one per resource
 * (RFC 8048 note 2). */
struct xmpp_pres_tuple {
	const char *resource;   /* resourcepart for the tuple id, or NULL */
	const char *contact;    /* <contact/> URI (with gr=), or NULL */
	struct xmpp_pres p;
};

/* The index of the resource a contact is most reachable at: the available
 * one of highest priority, ties going to the more available show (none or
 * chat, then away, xa, dnd; RFC 6121 section 4.7.2.1), then to the first;
 * n when none is available. */
size_t xmpp_pres_best(const struct xmpp_pres_tuple *t, size_t n);
/* Write n (at least 1) resources of one contact as one application/pidf+xml
 * document, a tuple each as xmpp_pres_write_pidf writes it (o->resource and
 * o->contact are not used: each tuple has its own), and the RPID person of
 * the xmpp_pres_best one.  Returns 0, -EINVAL (as below, or n 0) or
 * -ENOSPC (buf then holds ""). */
int xmpp_pres_write_pidf_tuples(const struct xmpp_pres_tuple *t, size_t n,
    const struct xmpp_pidf_opts *o, char *buf, size_t len);

/* Values already extracted from one PIDF tuple and its presence document. */
struct xmpp_pidf_values {
	const char *basic;              /* text of <basic/>, or NULL */
	const char *show;               /* text of <show xmlns='jabber:client'/>, or NULL */
	const char *const *activities;  /* local names of the RPID activities */
	size_t n_activities;
	const char *note;               /* text of the <note/> chosen, or NULL */
	const char *note_lang;          /* its xml:lang, or NULL */
	const char *priority;           /* the <contact/> 'priority' attribute, or NULL */
};

/* Map those values to a presence state (RFC 8048 section 6.3, Table 2).  The
 * show value comes from <show/> when it names one of the four, else from the
 * RPID activities.  A malformed priority is ignored as RFC 3863 section 4.1.5
 * asks (priority 0, the XMPP default).  Returns 0, or -EINVAL with *why when
 * the basic status is missing or neither "open" nor "closed". */
int xmpp_pres_from_pidf(const struct xmpp_pidf_values *v, struct xmpp_pres *out,
    const char **why);

#endif
