/* policy_xmpp.c: the XMPP part of the policy snapshot (see policy.h): the
 * allowed XMPP partners by domain and additional domain, the XMPP settings,
 * and the federation decision for a remote XMPP domain (the s2s peer of
 * RFC 6120 section 4; Lync Server 2013 allows only listed partners). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/hmap.h"
#include "sipedge/policy.h"
#include "policy_int.h"

struct pol_xmpp_partner {
	struct policy_xmpp_partner pub;
	char *domain;                      /* pub.domain aliases it */
	char **additional;                 /* owned; pub.additional aliases it */
	char *proxy_fqdn;
};

/* One name a partner serves, pointing back at it. */
struct pol_xmpp_name {
	struct hnode node;                 /* key: the partner's domain or an additional one */
	struct pol_xmpp_partner *partner;
};

/* The arrays are never resized once their nodes are in the map. */
struct policy_xmpp {
	struct hmap names;
	struct pol_xmpp_partner *partners;
	size_t npartners;
	struct pol_xmpp_name *names_v;
	size_t nnames;
};

void
policy__xmpp_free(struct policy_xmpp *x)
{
	if (x == NULL)
		return;
	for (size_t i = 0; i < x->npartners; i++) {
		struct pol_xmpp_partner *q = &x->partners[i];

		free(q->domain);
		for (size_t j = 0; j < q->pub.nadditional; j++)
			free(q->additional[j]);
		free(q->additional);
		free(q->proxy_fqdn);
	}
	free(x->partners);
	free(x->names_v);
	hmap_free(&x->names);
	free(x);
}

static int
add_name(struct policy_xmpp *x, struct pol_xmpp_partner *q, const char *key)
{
	struct pol_xmpp_name *n = &x->names_v[x->nnames++];

	n->partner = q;
	return policy__put_unique(&x->names, &n->node, key);
}

/* The snapshot takes what the store would: a hand-edited row it would refuse
 * refuses the snapshot (the daemon then keeps its previous one). */
static int
build_partner(struct policy_xmpp *x, struct pol_xmpp_partner *q,
    const struct store_xmpp_partner *sq, const struct store_xmpp_config *cfg)
{
	char msg[256];
	int rc = 0;

	if ((unsigned)sq->type > STORE_XMPP_PUBLIC_UNVERIFIED ||
	    store_xmpp_nego_check(sq->tls, sq->sasl, sq->dialback, msg, sizeof(msg)) < 0 ||
	    sq->connection_limit > STORE_XMPP_CONN_LIMIT_MAX)
		return -EINVAL;
	q->pub.type = sq->type;
	q->pub.tls = sq->tls;
	q->pub.sasl = sq->sasl;
	q->pub.dialback = sq->dialback;
	q->pub.keepalive = sq->keepalive;
	q->pub.connection_limit = sq->connection_limit ? sq->connection_limit :
	    cfg->partner_connection_limit;
	if ((q->domain = policy__norm_dup(sq->domain, &rc)) == NULL)
		return rc;
	q->pub.domain = q->domain;
	if (sq->proxy_fqdn != NULL && (q->proxy_fqdn = policy__norm_dup(sq->proxy_fqdn, &rc)) == NULL)
		return rc;
	q->pub.proxy_fqdn = q->proxy_fqdn;
	if ((rc = add_name(x, q, q->domain)) != 0)
		return rc;
	if (sq->nadditional == 0)
		return 0;
	if ((q->additional = calloc(sq->nadditional, sizeof(*q->additional))) == NULL)
		return -ENOMEM;
	q->pub.additional = (const char *const *)q->additional;
	for (size_t i = 0; i < sq->nadditional; i++) {
		if ((q->additional[i] = policy__norm_dup(sq->additional[i], &rc)) == NULL)
			return rc;
		q->pub.nadditional = i + 1;
		if ((rc = add_name(x, q, q->additional[i])) != 0)
			return rc;
	}
	return 0;
}

int
policy__xmpp_build(const struct store_policy *sp, struct policy_xmpp **out)
{
	struct policy_xmpp *x;
	size_t nnames = 0;
	int rc = 0;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return -ENOMEM;
	hmap_init(&x->names);
	for (size_t i = 0; i < sp->nxmpp_partners; i++) {
		if (sp->xmpp_partners[i].nadditional > STORE_XMPP_ADDITIONAL_MAX) {
			rc = -EINVAL;
			goto out;
		}
		nnames += 1 + sp->xmpp_partners[i].nadditional;
	}
	if (sp->nxmpp_partners > 0 &&
	    ((x->partners = calloc(sp->nxmpp_partners, sizeof(*x->partners))) == NULL ||
	    (x->names_v = calloc(nnames, sizeof(*x->names_v))) == NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < sp->nxmpp_partners; i++) {
		x->npartners = i + 1;
		rc = build_partner(x, &x->partners[i], &sp->xmpp_partners[i], &sp->config.xmpp);
	}
out:
	if (rc != 0) {
		policy__xmpp_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

const struct store_xmpp_config *
policy_xmpp_config(const struct policy *p)
{
	return &policy_config(p)->xmpp;
}

const struct policy_xmpp_partner *
policy_xmpp_partner(const struct policy *p, const char *domain)
{
	struct hnode *n = policy__get_norm(&policy__xmpp(p)->names, domain);

	return n ? &hmap_entry(n, struct pol_xmpp_name, node)->partner->pub : NULL;
}

size_t
policy_nxmpp_partners(const struct policy *p)
{
	return policy__xmpp(p)->npartners;
}

/* Blocked before partner, although the store never lets a domain be both:
 * a snapshot built from any data must never let a blocked domain through. */
enum policy_xmpp_verdict
policy_xmpp_decide(const struct policy *pol, const char *domain,
    const struct policy_xmpp_partner **out)
{
	const struct policy_xmpp_partner *x;

	if (out != NULL)
		*out = NULL;
	if (!policy_config(pol)->federation)
		return POLICY_XMPP_FEDERATION_OFF;
	if (policy_local(pol, domain))
		return POLICY_XMPP_LOCAL;
	if (policy_blocked(pol, domain))
		return POLICY_XMPP_BLOCKED;
	if ((x = policy_xmpp_partner(pol, domain)) == NULL)
		return POLICY_XMPP_NOT_PARTNER;
	if (out != NULL)
		*out = x;
	return POLICY_XMPP_PARTNER;
}

const char *
policy_xmpp_verdict_name(enum policy_xmpp_verdict v)
{
	static const char *const names[] = {
		"partner", "federation-off", "local", "blocked", "not-partner"
	};

	return (unsigned)v <= POLICY_XMPP_NOT_PARTNER ? names[v] : "?";
}
