/* reload.c: the daemon's reload (SIGHUP, sipedgectl reload; sipedge(8)
 * RELOAD): the configuration file is read and checked as "sipedge -n" checks
 * it (the certificate, key and CA bundle too); if it fails, nothing changes
 * and the answer is the same message.  Otherwise what can change live is put
 * in force on every worker (proxy_reload), keys that need a restart keep
 * their values and are named, a change of SIP domains rebuilds the policy
 * snapshot, and the log level follows. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "sipedge/certcheck.h"
#include "sipedge/daemon.h"
#include "sipedge/log.h"
#include "sipedge/policy.h"
#include "sipedge/proxy.h"
#include "sipedge/store.h"

int
daemon_load_policy(struct store *st, const struct conf *c, struct policy **out, char *err,
    size_t errlen)
{
	struct store_policy *sp;
	int rc;

	if ((rc = store_policy_load(st, &sp)) < 0) {
		snprintf(err, errlen, "%s: %s", c->db_path, store_error(st));
		return rc;
	}
	rc = policy_build_local(sp, (const char *const *)c->domains, c->ndomains, out);
	store_policy_free(sp);
	if (rc < 0)
		snprintf(err, errlen, "%s: cannot build the policy: %s", c->db_path, strerror(-rc));
	return rc;
}

void
daemon_policy_noted(struct daemon *d, const struct policy *pol)
{
	d->policy_generation = policy_generation(pol);
	d->policy_loaded = time(NULL);
	d->policy_allowed = policy_nallowed(pol);
	d->policy_blocked = policy_nblocked(pol);
	d->policy_providers = policy_nproviders(pol);
	d->policy_xmpp_partners = policy_nxmpp_partners(pol);
}

void
daemon_cert_noted(struct daemon *d)
{
	char err[512];

	certcheck_info_free(&d->cert);
	d->has_cert = d->conf->certificate[0] &&
	    certcheck_info_load(d->conf->certificate, &d->cert, err, sizeof(err)) == 0;
	d->cert_warned = 0;
}

void
daemon_cert_tick(struct daemon *d, time_t now)
{
	long long left;

	if (!d->has_cert || now < d->cert_warned + 86400)
		return;
	left = (long long)(d->cert.not_after - now);
	if (left >= 30LL * 86400)
		return;
	d->cert_warned = now;
	if (left < 0)
		log_warnx("certificate %s (serial %s) expired %lld days ago: partners refuse the edge",
		    d->conf->certificate, d->cert.serial, -left / 86400);
	else
		log_warnx("certificate %s (serial %s) expires in %lld days: renew it (sipedgectl "
		    "cert request, cert install)", d->conf->certificate, d->cert.serial, left / 86400);
}

struct reload_job {
	struct daemon *d;
	struct daemon_reload_result res;
	daemon_reload_cb cb;
	void *arg;
};

static void
report(struct reload_job *j)
{
	struct daemon_reload_result *r = &j->res;
	char applied[1024] = "", restart[1024] = "";

	for (size_t i = 0; i < r->nchanges; i++) {
		char *b = r->changes[i].restart ? restart : applied;
		size_t n = strlen(b);

		snprintf(b + n, 1024 - n, "%s%s", n ? ", " : "", r->changes[i].key);
	}
	log_info("configuration reloaded from %s: %s%s%s%s%s", j->d->conf_path,
	    applied[0] ? "applied " : "", applied,
	    applied[0] && restart[0] ? "; " : "", restart[0] ? "needing a restart (kept as they "
	    "were): " : "", restart);
	if (!applied[0] && !restart[0])
		log_info("no setting changed; TLS contexts made again from the certificate, key and "
		    "CA bundle files");
}

/* Every worker has the new configuration. */
static void
switched(void *arg)
{
	struct reload_job *j = arg;
	struct daemon *d = j->d;

	conf_free(d->old_conf);
	d->old_conf = NULL;
	d->reloading = false;
	d->reloads++;
	d->reloaded_at = time(NULL);
	daemon_cert_noted(d);
	report(j);
	j->cb(d, &j->res, j->arg);
	free(j);
}

int
daemon_reload(struct daemon *d, const char *why, daemon_reload_cb cb, void *arg)
{
	struct reload_job *j;
	struct daemon_reload_result *r;
	struct conf *nc = NULL;
	struct policy *pol = NULL;
	bool domains = false;
	char err[1536];
	int rc;

	if (d->reloading)
		return -EBUSY;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -ENOMEM;
	j->d = d;
	j->cb = cb;
	j->arg = arg;
	r = &j->res;
	log_info("reloading %s (%s)", d->conf_path, why);
	if ((rc = conf_load(d->conf_path, &nc, err, sizeof(err))) < 0) {
		snprintf(r->message, sizeof(r->message), "%s", err);
		goto refused;
	}
	if ((rc = proxy_check(nc, err, sizeof(err))) < 0) {
		snprintf(r->message, sizeof(r->message), "%s: %s", d->conf_path, err);
		goto refused;
	}
	/* As at start-up: what federation needs of the certificate, as warnings. */
	certcheck_log(nc, time(NULL));
	r->nchanges = conf_diff(d->conf, nc, r->changes, sizeof(r->changes) / sizeof(r->changes[0]));
	for (size_t i = 0; i < r->nchanges; i++)
		if (strcmp(r->changes[i].key, "sip-domain") == 0)
			domains = true;
	if ((rc = conf_keep_restart(nc, d->conf)) < 0) {
		snprintf(r->message, sizeof(r->message), "out of memory");
		goto refused;
	}
	if (domains && (rc = daemon_load_policy(d->st, nc, &pol, err, sizeof(err))) < 0) {
		snprintf(r->message, sizeof(r->message), "%s", err);
		goto refused;
	}
	d->reloading = true;
	d->old_conf = d->conf;
	if ((rc = proxy_reload(d->px, nc, uv_default_loop(), switched, j, err, sizeof(err))) < 0) {
		d->reloading = false;
		d->old_conf = NULL;
		snprintf(r->message, sizeof(r->message), "%s: %s", d->conf_path, err);
		goto refused;
	}
	d->conf = nc;
	if (!d->verbose)
		log_set_level(nc->log_level);
	log_set_json(nc->log_json);
	if (pol != NULL) {
		proxy_set_policy(d->px, pol);
		daemon_policy_noted(d, pol);
		policy_unref(pol);
	}
	return 0;
refused:
	if (pol != NULL)
		policy_unref(pol);
	conf_free(nc);
	r->status = rc;
	log_warnx("reload refused, the running configuration stays: %s", r->message);
	cb(d, r, arg);
	free(j);
	return 0;
}
