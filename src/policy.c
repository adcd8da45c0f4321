/* policy.c: the immutable, refcounted policy snapshot (see policy.h): hash
 * lookups over the store's allowed and blocked domains and providers; the
 * XMPP partners are policy_xmpp.c's part of it. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/hmap.h"
#include "sipedge/names.h"
#include "sipedge/policy.h"
#include "policy_int.h"

/* A bare name in a set (blocked and local domains). */
struct pol_name {
	struct hnode node;
	char *name;
};

struct pol_allowed {
	struct hnode node;
	struct policy_allowed pub;
};

struct pol_provider;

/* One served domain, pointing back at its provider. */
struct pol_pdom {
	struct hnode node;
	struct pol_provider *prov;
};

struct pol_provider {
	struct hnode by_name;              /* key: name_key */
	struct hnode by_proxy;             /* key: pub.proxy_fqdn */
	struct policy_provider pub;
	char *name_key;                    /* lower-case name */
	char **domains;                    /* owned; pub.domains aliases it */
	struct pol_pdom *doms;             /* ndomains nodes in p->provider_domains */
};

/* Every string and array below is owned by the snapshot and freed with it.
 * The arrays are never resized after the nodes are in the maps. */
struct policy {
	atomic_uint refs;
	uint64_t generation;
	struct store_config config;
	struct hmap blocked, local, allowed;
	struct hmap providers, provider_proxies, provider_domains;
	struct pol_name *blocked_v, *local_v;
	size_t nblocked, nlocal;
	struct pol_allowed *allowed_v;
	size_t nallowed;
	struct pol_provider *providers_v;
	size_t nproviders;
	struct policy_xmpp *xmpp;          /* policy_xmpp.c */
};

/* Normalise in into out (NAMES_MAX + 1 bytes); false if it is no domain name. */
static bool
norm(const char *in, char *out)
{
	return in != NULL && names_normalize(in, out, NAMES_MAX + 1, NULL) == 0;
}

/* A normalised, owned copy of in, or NULL (bad name or no memory: *rc says). */
char *
policy__norm_dup(const char *in, int *rc)
{
	char buf[NAMES_MAX + 1];
	char *s;

	if (!norm(in, buf)) {
		*rc = -EINVAL;
		return NULL;
	}
	if ((s = strdup(buf)) == NULL)
		*rc = -ENOMEM;
	return s;
}

/* Put n in m unless its key is already there: the snapshot is built from data
 * that may have been edited by hand, and a duplicate would make one entry
 * shadow another silently. */
int
policy__put_unique(struct hmap *m, struct hnode *n, const char *key)
{
	if (hmap_get(m, key) != NULL)
		return -EINVAL;
	return hmap_put(m, n, key);
}

/* Entry i of a name set (blocked or local domains), allocated by the caller. */
static int
add_name(struct hmap *m, struct pol_name *v, size_t *np, size_t i, const char *name)
{
	int rc = 0;

	if ((v[i].name = policy__norm_dup(name, &rc)) == NULL)
		return rc;
	*np = i + 1;
	return policy__put_unique(m, &v[i].node, v[i].name);
}

static int
build_blocked(struct policy *p, const struct store_policy *sp)
{
	int rc = 0;

	if (sp->nblocked == 0)
		return 0;
	if ((p->blocked_v = calloc(sp->nblocked, sizeof(*p->blocked_v))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; rc == 0 && i < sp->nblocked; i++)
		rc = add_name(&p->blocked, p->blocked_v, &p->nblocked, i, sp->blocked[i].domain);
	return rc;
}

static int
build_local(struct policy *p, const char *const *names, size_t n)
{
	int rc = 0;

	if (n == 0)
		return 0;
	if ((p->local_v = calloc(n, sizeof(*p->local_v))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = add_name(&p->local, p->local_v, &p->nlocal, i, names[i]);
	return rc;
}

static int
build_allowed(struct policy *p, const struct store_policy *sp)
{
	int rc = 0;

	if (sp->nallowed == 0)
		return 0;
	if ((p->allowed_v = calloc(sp->nallowed, sizeof(*p->allowed_v))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < sp->nallowed; i++) {
		struct pol_allowed *a = &p->allowed_v[i];

		p->nallowed = i + 1;
		a->pub.monitor = sp->allowed[i].monitor;
		if ((a->pub.domain = policy__norm_dup(sp->allowed[i].domain, &rc)) == NULL)
			return rc;
		if (sp->allowed[i].proxy_fqdn != NULL &&
		    (a->pub.proxy_fqdn = policy__norm_dup(sp->allowed[i].proxy_fqdn, &rc)) == NULL)
			return rc;
		if ((rc = policy__put_unique(&p->allowed, &a->node, a->pub.domain)) != 0)
			return rc;
	}
	return 0;
}

static int
build_provider(struct policy *p, struct pol_provider *q, const struct store_provider *sq)
{
	int rc = 0;

	if (sq->name == NULL || !store_provider_name_valid(sq->name))
		return -EINVAL;
	if ((q->name_key = strdup(sq->name)) == NULL || (q->pub.name = strdup(sq->name)) == NULL)
		return -ENOMEM;
	for (char *c = q->name_key; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	q->pub.kind = sq->kind;
	q->pub.verification = sq->verification;
	q->pub.enabled = sq->enabled;
	if ((q->pub.proxy_fqdn = policy__norm_dup(sq->proxy_fqdn, &rc)) == NULL)
		return rc;
	if ((rc = policy__put_unique(&p->providers, &q->by_name, q->name_key)) != 0 ||
	    (rc = policy__put_unique(&p->provider_proxies, &q->by_proxy, q->pub.proxy_fqdn)) != 0)
		return rc;
	if (sq->ndomains == 0)
		return 0;
	if ((q->domains = calloc(sq->ndomains, sizeof(*q->domains))) == NULL ||
	    (q->doms = calloc(sq->ndomains, sizeof(*q->doms))) == NULL)
		return -ENOMEM;
	q->pub.domains = (const char *const *)q->domains;
	for (size_t i = 0; i < sq->ndomains; i++) {
		if ((q->domains[i] = policy__norm_dup(sq->domains[i], &rc)) == NULL)
			return rc;
		q->pub.ndomains = i + 1;
		q->doms[i].prov = q;
		if ((rc = policy__put_unique(&p->provider_domains, &q->doms[i].node, q->domains[i])) != 0)
			return rc;
	}
	return 0;
}

static void
free_names(struct pol_name *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static void
policy_free(struct policy *p)
{
	free_names(p->blocked_v, p->nblocked);
	free_names(p->local_v, p->nlocal);
	for (size_t i = 0; i < p->nallowed; i++) {
		free((char *)p->allowed_v[i].pub.domain);
		free((char *)p->allowed_v[i].pub.proxy_fqdn);
	}
	free(p->allowed_v);
	for (size_t i = 0; i < p->nproviders; i++) {
		struct pol_provider *q = &p->providers_v[i];

		free(q->name_key);
		free((char *)q->pub.name);
		free((char *)q->pub.proxy_fqdn);
		for (size_t j = 0; j < q->pub.ndomains; j++)
			free(q->domains[j]);
		free(q->domains);
		free(q->doms);
	}
	free(p->providers_v);
	hmap_free(&p->blocked);
	hmap_free(&p->local);
	hmap_free(&p->allowed);
	hmap_free(&p->providers);
	hmap_free(&p->provider_proxies);
	hmap_free(&p->provider_domains);
	policy__xmpp_free(p->xmpp);
	free(p);
}

int
policy_build_local(const struct store_policy *sp, const char *const *local_domains,
    size_t nlocal, struct policy **out)
{
	struct policy *p;
	int rc;

	if (sp == NULL)
		return -EINVAL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	atomic_init(&p->refs, 1);
	p->generation = sp->generation;
	p->config = sp->config;
	hmap_init(&p->blocked);
	hmap_init(&p->local);
	hmap_init(&p->allowed);
	hmap_init(&p->providers);
	hmap_init(&p->provider_proxies);
	hmap_init(&p->provider_domains);
	rc = build_blocked(p, sp);
	if (rc == 0)
		rc = build_local(p, local_domains, nlocal);
	if (rc == 0)
		rc = build_allowed(p, sp);
	if (rc == 0 && sp->nproviders > 0) {
		if ((p->providers_v = calloc(sp->nproviders, sizeof(*p->providers_v))) == NULL)
			rc = -ENOMEM;
		for (size_t i = 0; rc == 0 && i < sp->nproviders; i++) {
			p->nproviders = i + 1;
			rc = build_provider(p, &p->providers_v[i], &sp->providers[i]);
		}
	}
	if (rc == 0)
		rc = policy__xmpp_build(sp, &p->xmpp);
	if (rc != 0) {
		policy_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int
policy_build(const struct store_policy *sp, struct policy **out)
{
	return policy_build_local(sp, NULL, 0, out);
}

struct policy *
policy_ref(struct policy *p)
{
	/* Relaxed is enough to take a reference: the caller already holds one,
	 * so the snapshot cannot go away meanwhile. */
	if (p != NULL)
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void
policy_unref(struct policy *p)
{
	/* Release on the decrement and acquire before the free, so that every
	 * other thread's reads of the snapshot happen before it is freed. */
	if (p != NULL && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
		policy_free(p);
}

uint64_t
policy_generation(const struct policy *p)
{
	return p->generation;
}

const struct store_config *
policy_config(const struct policy *p)
{
	return &p->config;
}

const struct policy_xmpp *
policy__xmpp(const struct policy *p)
{
	return p->xmpp;
}

/* The node for domain in m, after normalising it. */
struct hnode *
policy__get_norm(const struct hmap *m, const char *domain)
{
	char key[NAMES_MAX + 1];

	if (!norm(domain, key))
		return NULL;
	return hmap_get(m, key);
}

bool
policy_blocked(const struct policy *p, const char *domain)
{
	return policy__get_norm(&p->blocked, domain) != NULL;
}

bool
policy_local(const struct policy *p, const char *domain)
{
	return policy__get_norm(&p->local, domain) != NULL;
}

const struct policy_allowed *
policy_allowed(const struct policy *p, const char *domain)
{
	struct hnode *n = policy__get_norm(&p->allowed, domain);

	return n ? &hmap_entry(n, struct pol_allowed, node)->pub : NULL;
}

const struct policy_provider *
policy_provider(const struct policy *p, const char *name)
{
	char key[65];
	size_t i;
	struct hnode *n;

	if (name == NULL)
		return NULL;
	for (i = 0; name[i] && i < sizeof(key) - 1; i++)
		key[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
	if (name[i] != '\0')
		return NULL;             /* longer than any valid name */
	key[i] = '\0';
	n = hmap_get(&p->providers, key);
	return n ? &hmap_entry(n, struct pol_provider, by_name)->pub : NULL;
}

const struct policy_provider *
policy_provider_by_proxy(const struct policy *p, const char *fqdn)
{
	struct hnode *n = policy__get_norm(&p->provider_proxies, fqdn);

	return n ? &hmap_entry(n, struct pol_provider, by_proxy)->pub : NULL;
}

const struct policy_provider *
policy_provider_by_domain(const struct policy *p, const char *domain)
{
	struct hnode *n = policy__get_norm(&p->provider_domains, domain);

	return n ? &hmap_entry(n, struct pol_pdom, node)->prov->pub : NULL;
}

size_t
policy_nblocked(const struct policy *p)
{
	return p->nblocked;
}

size_t
policy_nallowed(const struct policy *p)
{
	return p->nallowed;
}

size_t
policy_nproviders(const struct policy *p)
{
	return p->nproviders;
}
