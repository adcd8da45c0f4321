/* xmpp_xml_int.h: what the files of the XML module share (RFC 6120 §4, §11):
 * the arena behind a struct xml_doc (xmpp_xml_tree.c), which the parser
 * fills directly; the parser's state, split between the feeding and
 * lifecycle (xmpp_xml.c) and expat's handlers that build the trees and check
 * the limits (xmpp_xml_sax.c); and the XML 1.0 character check that the
 * parser's error reports and the serializer (xmpp_xml_out.c) both need.  Not
 * for callers outside the module: they include sipedge/xmpp_xml.h. */
#ifndef SIPEDGE_XMPP_XML_INT_H
#define SIPEDGE_XMPP_XML_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sipedge/xmpp_xml.h"

/* A block of the arena after the first (which lives in the doc's own
 * allocation). */
struct xml_chunk {
	struct xml_chunk *next;
	size_t size;
};

/* One element tree and everything it points to.  Memory is taken from the
 * current block, front to back; a request that does not fit starts a new
 * block twice the size of the last (or the request's, if larger), so a
 * stanza of a few hundred octets costs one malloc in all. */
struct xml_doc {
	struct xml_elem *root;
	char *cur, *end;               /* free space of the current block */
	struct xml_chunk *chunks;      /* blocks after the first, newest first */
	size_t size;                   /* octets allocated for this doc */
	size_t next_block;             /* size of the next block */
};

/* The first block of a doc made by the parser or xml_doc_new: large enough
 * for a typical stanza (a message with a body, a presence with a few
 * children) in one allocation. */
#define XML_DOC_FIRST 1024

/* An empty doc (no root) whose first block holds at least hint octets. */
struct xml_doc *xmpp_xml__doc_create(size_t hint);
/* n octets aligned for any of the tree's structures, or NULL. */
void *xmpp_xml__alloc(struct xml_doc *d, size_t n);
/* A NUL-terminated copy of the n octets at s, or NULL. */
char *xmpp_xml__strdup(struct xml_doc *d, const char *s, size_t n);
/* A new element (attributes none, text "") appended to parent's children,
 * or made the root when parent is NULL; ns and name are used as they are
 * (they must live in d or be static).  NULL when out of memory. */
struct xml_elem *xmpp_xml__elem_new(struct xml_doc *d, struct xml_elem *parent,
    const char *ns, const char *name);
/* How many attributes an array holding n has room for: arrays grow by
 * doubling from 4, so the capacity follows from the count alone. */
size_t xmpp_xml__attrs_cap(size_t n);

/* The length of the XML 1.0 character (production [2] Char) encoded in
 * UTF-8 at s, at most n octets: 1 to 4, or 0 when the octets are not valid
 * UTF-8 (overlong, surrogate, above U+10FFFF, truncated) or not a character
 * XML allows (C0 controls other than tab, newline and carriage return,
 * U+FFFE, U+FFFF).  *utf8_ok says whether the octets were at least valid
 * UTF-8, which tells unsupported-encoding from not-well-formed. */
size_t xmpp_xml__char_len(const unsigned char *s, size_t n, int *utf8_ok);

/* ---- the parser ---- */

/* expat joins a namespace name and a local name with this; it cannot occur
 * in XML 1.0 text, so no namespace name can contain it. */
#define XMPP_XML__NS_SEP '\x01'

/* What expat may hold for one stream (struct xmpp_parser_limits.memory_max),
 * and where its blocks come from (xmpp_xml_mem.c). */
struct xmpp_xml__arena;
struct xmpp_xml__quota {
	size_t used, max, peak;
	bool hit;                          /* a request was refused */
	bool sysfail;                      /* malloc itself failed */
	bool own_pages;                    /* a stream's parser: from an arena */
	struct xmpp_xml__arena *arena;     /* made on the first block */
};

/* xmpp_xml_mem.c: the quota charged by expat's allocator, set around every
 * call into expat; the allocator itself (an XML_Memory_Handling_Suite, for
 * files that include expat.h); an arena given back to the kernel (after
 * XML_ParserFree of the parser whose blocks it holds); what it has mapped. */
extern _Thread_local struct xmpp_xml__quota *xmpp_xml__cur_quota;
#ifdef XML_MAJOR_VERSION
extern const XML_Memory_Handling_Suite xmpp_xml__mem_suite;
#endif
void xmpp_xml__arena_free(struct xmpp_xml__arena *a);
size_t xmpp_xml__arena_mapped(const struct xmpp_xml__arena *a);

/* A namespace name of the doc being built, so that a tree holds each only
 * once however often a stanza uses it (gen: the doc it belongs to). */
struct xmpp_xml__ns_slot {
	const char *s;
	size_t len;
	uint32_t hash;
	unsigned gen;
};

struct xmpp_parser {
	struct XML_ParserStruct *x;        /* expat's XML_Parser */
	struct xmpp_xml__quota q;
	struct xmpp_parser_limits lim;     /* for what starts from now on */
	struct xmpp_parser_limits el;      /* of the top-level element being built */
	struct xmpp_parser_cbs cbs;
	void *ud;
	unsigned long salt;                /* expat's hash salt */
	bool doc_mode;                     /* xml_doc_parse: the root is the element */
	unsigned top;                      /* depth at which top-level elements start:
	                                    * 1 in a stream, 0 in a document */

	/* Where the stream stands. */
	unsigned depth;                    /* open elements, the stream's root included */
	bool opened, closed;               /* header seen; </stream:stream> seen */
	bool ended;                        /* paused at </stream:stream>: expat is done */
	bool halt;                         /* stopped: handlers do nothing more */
	bool in_parse, in_feed;
	bool paused;                       /* a callback asked for a pause */
	bool reprime;                      /* expat must be brought back into the stream */
	bool replaying;                    /* the header is being given again, silently */
	bool nomem, too_big;
	int status;                        /* once failed: what every feed returns */
	int cb_rc;                         /* a callback's negative status */
	enum xmpp_serr err;
	const char *err_text;

	/* Offsets in octets of the stream since its last reset. */
	unsigned long long fed;            /* handed to expat */
	unsigned long long xbase;          /* the offset of expat's index 0 */
	unsigned long long mark;           /* end of the last event at stream level */
	unsigned long long el_start;       /* '<' of the top-level element being built */
	unsigned long long pause_end;      /* end of the element a callback paused at */
	unsigned long long bytes;          /* parsed (xmpp_parser_bytes) */

	/* The top-level element being built. */
	struct xml_doc *doc;
	struct xml_elem *cur;              /* innermost open element */
	size_t nelems;
	size_t ns_decls;                   /* declarations of the next start tag */
	/* Character data of the open elements, innermost last: an open element's
	 * text_len is where its own starts here (its text is NULL until its end
	 * tag, when it is copied into the doc). */
	char *text;
	size_t text_len, text_cap;
	struct xmpp_xml__ns_slot *slots;   /* open addressing, nslots a power of 2 */
	size_t nslots, nused;
	unsigned gen;

	/* The stream's octets up to the end of its header (for reprime), and the
	 * default namespace the header declared. */
	char *head;
	size_t head_len, head_cap;
	char *default_ns;

	struct xml_doc *result;            /* xml_doc_parse's document */
};

int xmpp_xml__parser_init(struct xmpp_parser **out, const struct xmpp_parser_limits *l,
    const struct xmpp_parser_cbs *cbs, void *ud, bool doc_mode, unsigned long salt);
/* Handlers, options and salt on a new or reset expat parser (xmpp_xml.c). */
void xmpp_xml__setup(struct xmpp_parser *p);
/* Only the handlers (xmpp_xml_sax.c). */
void xmpp_xml__handlers(struct xmpp_parser *p);
/* Record the first failure and stop the parser. */
void xmpp_xml__fail(struct xmpp_parser *p, enum xmpp_serr e, const char *text, bool too_big);
void xmpp_xml__nomem(struct xmpp_parser *p);

#endif
