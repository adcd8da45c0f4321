/* route.h: where a new (out-of-dialog) request goes.  Pure: no I/O, first match
 * wins, one function per criterion (OpenSMTPD ruleset.c style).  This is the static
 * route table; the federation policy replaces it behind the same interface. */
#ifndef SIPEDGE_ROUTE_H
#define SIPEDGE_ROUTE_H

#include <stddef.h>

#include "sipedge/conf.h"
#include "sipedge/diag.h"

struct route_facts {
	enum side in_side;            /* where the request came from */
	const char *target_domain;    /* Request-URI host, lower case */
};

struct route_decision {
	int status;                   /* 0: forward; else the refusal status */
	enum diag_code diag;
	char detail[160];
	enum side out_side;
	const struct hop *hops;       /* points into the conf */
	size_t nhops;
};

/* 0 and a forwarding decision, or -1 with status, diag and detail set.  The
 * caller has already checked that an internal peer is an allowed server. */
int route_decide(const struct conf *c, const struct route_facts *f, struct route_decision *out);

#endif
