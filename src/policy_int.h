/* policy_int.h: what the policy snapshot's files share (policy.c, which owns
 * struct policy, and policy_xmpp.c, which owns its XMPP part).  Private to
 * the module; policy.h is its interface. */
#ifndef SIPEDGE_POLICY_INT_H
#define SIPEDGE_POLICY_INT_H

#include "sipedge/hmap.h"
#include "sipedge/policy.h"
#include "sipedge/store.h"

/* The XMPP partners of a snapshot (policy_xmpp.c). */
struct policy_xmpp;

/* policy.c: the snapshot's XMPP part, and the name helpers both files use. */
const struct policy_xmpp *policy__xmpp(const struct policy *p);
char *policy__norm_dup(const char *in, int *rc);
int policy__put_unique(struct hmap *m, struct hnode *n, const char *key);
struct hnode *policy__get_norm(const struct hmap *m, const char *domain);

/* policy_xmpp.c: build the XMPP part from sp (0, -EINVAL for a bad or
 * duplicate name or a setting the store would refuse, -ENOMEM), free it. */
int policy__xmpp_build(const struct store_policy *sp, struct policy_xmpp **out);
void policy__xmpp_free(struct policy_xmpp *x);

#endif
