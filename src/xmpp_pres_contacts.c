/* xmpp_pres_contacts.c: the presence of the XMPP contacts that pool users
 * watch (the gateway's notifier dialogs), one entry per resource: a contact
 * signed in at a laptop and a phone is available while either is, and each
 * NOTIFY carries the full state (RFC 6665 §4.2.2: a NOTIFY is the whole
 * state of the resource), a PIDF tuple per available resource (RFC 8048
 * note 2) with its gr= contact, or one closed tuple once none is left.
 * Kept only while a notifier dialog for the (pool user, contact) pair
 * exists, in memory on worker 0: an edge restart asks again by probe. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/log.h"
#include "xmpp_presence.h"

static void
res_clear(struct xres *r)
{
	free(r->resource);
	free(r->uri);
	free(r->status);
	free(r->lang);
	memset(r, 0, sizeof(*r));
}

static void
contact_free(struct xcontact *c)
{
	for (size_t i = 0; i < c->n; i++)
		res_clear(&c->res[i]);
	res_clear(&c->gone);
	free(c);
}

static struct xcontact *
contact_find(struct xpres *xp, const char *user, const char *jid)
{
	for (struct xcontact *c = xp->contacts; c; c = c->next)
		if (strcmp(c->user, user) == 0 && strcmp(c->jid, jid) == 0)
			return c;
	return NULL;
}

static bool
watched(struct xpres *xp, const char *user, const char *jid)
{
	for (struct gwdlg *d = xp->dlgs; d; d = d->next)
		if (d->notifier && !d->ending && strcmp(d->user, user) == 0 &&
		    strcmp(d->jid, jid) == 0)
			return true;
	return false;
}

/* The resource's own address (RFC 7247 §6.3: gr= carries it), or NULL. */
static char *
res_uri(const char *jid, const char *resource)
{
	struct xmpp_jid j;
	char uri[XMPP_URI_MAX];

	if (resource[0] == '\0' || xmpp_jid_parse(jid, &j, NULL) < 0 ||
	    strlen(resource) >= sizeof(j.resource))
		return NULL;
	memcpy(j.resource, resource, strlen(resource) + 1);
	if (xmpp_jid_to_sip_uri(&j, uri, sizeof(uri)) < 0)
		return NULL;
	return strdup(uri);
}

/* r takes copies of resource and p's strings; -ENOMEM leaves r cleared. */
static int
res_set(const struct xcontact *c, struct xres *r, const char *resource, const struct xmpp_pres *p)
{
	res_clear(r);
	r->available = p->available;
	r->show = p->show;
	r->priority = p->priority;
	if ((r->resource = strdup(resource)) == NULL ||
	    (p->status && (r->status = strdup(p->status)) == NULL) ||
	    (p->lang && (r->lang = strdup(p->lang)) == NULL)) {
		res_clear(r);
		return -ENOMEM;
	}
	if (p->available)
		r->uri = res_uri(c->jid, resource);
	return 0;
}

int
xpres__contact_update(struct xpres *xp, const char *user, const char *jid,
    const char *resource, const struct xmpp_pres *p)
{
	struct xcontact *c = contact_find(xp, user, jid);
	size_t i;

	if (c == NULL) {
		if (!watched(xp, user, jid))
			return 0;                  /* no pool user watches it */
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return -ENOMEM;
		snprintf(c->user, sizeof(c->user), "%s", user);
		snprintf(c->jid, sizeof(c->jid), "%s", jid);
		c->next = xp->contacts;
		xp->contacts = c;
	}
	c->known = true;
	for (i = 0; i < c->n && strcmp(c->res[i].resource, resource) != 0; i++)
		;
	if (!p->available) {
		/* RFC 6121 §4.5: this resource is gone; its status is what a
		 * closed document says once no resource is left. */
		if (i < c->n) {
			res_clear(&c->res[i]);
			memmove(&c->res[i], &c->res[i + 1], (c->n - i - 1) * sizeof(c->res[0]));
			memset(&c->res[--c->n], 0, sizeof(c->res[0]));
		}
		return res_set(c, &c->gone, resource, p);
	}
	if (i < c->n) {
		/* Kept in the order they last spoke: res[0] is the quietest. */
		struct xres r = c->res[i];

		memmove(&c->res[i], &c->res[i + 1], (c->n - i - 1) * sizeof(c->res[0]));
		c->res[c->n - 1] = r;
		i = c->n - 1;
	} else {
		if (c->n == XPRES_MAX_RESOURCES) {
			/* A bound on what one contact costs: the resource
			 * quiet for longest makes room. */
			log_info("xmpp: %s has more than %d resources online; the quietest, %s, is no "
			    "longer shown to %s", jid, XPRES_MAX_RESOURCES, c->res[0].resource, user);
			res_clear(&c->res[0]);
			memmove(&c->res[0], &c->res[1], (c->n - 1) * sizeof(c->res[0]));
			memset(&c->res[--c->n], 0, sizeof(c->res[0]));
			i = c->n;
		}
		c->n++;
	}
	if (res_set(c, &c->res[i], resource, p) < 0) {
		memmove(&c->res[i], &c->res[i + 1], (c->n - i - 1) * sizeof(c->res[0]));
		memset(&c->res[--c->n], 0, sizeof(c->res[0]));
		return -ENOMEM;
	}
	return 0;
}

static void
tuple_of(const struct xres *r, struct xmpp_pres_tuple *t)
{
	memset(t, 0, sizeof(*t));
	t->resource = r->resource && r->resource[0] ? r->resource : NULL;
	t->contact = r->uri;
	t->p.available = r->available;
	t->p.show = r->show;
	t->p.status = r->status;
	t->p.lang = r->lang;
	t->p.priority = r->priority;
}

int
xpres__contact_pidf(struct xpres *xp, const char *user, const char *jid, char *buf, size_t len)
{
	const struct xcontact *c = contact_find(xp, user, jid);
	struct xmpp_pres_tuple t[XPRES_MAX_RESOURCES];
	char entity[XMPP_JID_MAX + 8];
	struct xmpp_pidf_opts o;
	size_t n = 0;
	int rc;

	if (c == NULL || !c->known)
		return 0;                          /* nothing heard yet */
	for (; n < c->n; n++)
		tuple_of(&c->res[n], &t[n]);
	if (n == 0) {
		tuple_of(&c->gone, &t[0]);
		t[0].resource = NULL;      /* the contact's, not that resource's */
		t[0].contact = NULL;
		t[0].p.available = false;
		n = 1;
	}
	/* RFC 3863 §4.1.1: the presentity as a pres: URI. */
	snprintf(entity, sizeof(entity), "pres:%s", jid);
	memset(&o, 0, sizeof(o));
	o.entity = entity;
	o.rpid = true;
	if ((rc = xmpp_pres_write_pidf_tuples(t, n, &o, buf, len)) < 0)
		return rc;
	return (int)strlen(buf);
}

void
xpres__contact_release(struct xpres *xp, const char *user, const char *jid)
{
	if (watched(xp, user, jid))
		return;
	for (struct xcontact **pp = &xp->contacts; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->user, user) == 0 && strcmp((*pp)->jid, jid) == 0) {
			struct xcontact *c = *pp;

			*pp = c->next;
			contact_free(c);
			return;
		}
}

void
xpres__contacts_free(struct xpres *xp)
{
	struct xcontact *c;

	while ((c = xp->contacts) != NULL) {
		xp->contacts = c->next;
		contact_free(c);
	}
}
