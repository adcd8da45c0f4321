/* cmd_cert.c: sipedgectl cert check / request / install: the edge certificate
 * checked as the daemon checks it at start-up (certcheck.h), a new key with a
 * PKCS#10 request (RFC 2986) carrying the names sipedge.conf implies (RFC 5280
 * §4.2.1.6), and a checked, atomic installation followed by a reload. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ctl.h"
#include "sipedge/certcheck.h"
#include "sipedge/conf.h"
#include "sipedge/names.h"

/* The daemon's pid file in its state-dir (main.c pidfile_lock), locked while
 * it runs. */
#define PID_FILE "sipedge.pid"
/* A certificate file larger than this is not a certificate chain. */
#define MAX_CERT_FILE (1 << 20)

/* The daemon's configuration; need_cert: it must name a certificate and key
 * (not so for a request, which may come before the first certificate). */
static int
load_conf(struct ctl *c, struct conf **out, bool need_cert)
{
	char err[1024];

	if (conf_load(c->conf_path, out, err, sizeof(err)) != 0)
		return ctl_fail(c, CTL_DB, "%s", err);
	if (need_cert && ((*out)->certificate[0] == '\0' || (*out)->private_key[0] == '\0')) {
		conf_free(*out);
		*out = NULL;
		return ctl_fail(c, CTL_FAIL, "%s sets no certificate and private-key", c->conf_path);
	}
	return 0;
}

/* ------------------------------------------------------------------ check */

static void
print_checks(struct ctl *c, const struct certcheck_report *r)
{
	static const char *const heads[] = { "CHECK", "RESULT", "DETAIL" };
	struct ctl_table t;

	ctl_table_init(&t, 3, heads);
	for (size_t i = 0; i < r->n; i++)
		ctl_table_add(&t, certcheck_id_name(r->results[i].id),
		    certcheck_level_name(r->results[i].level), r->results[i].message);
	ctl_table_print(&t, c->out);
	ctl_table_free(&t);
}

/* The keys of a check report, inside an open JSON object. */
static void
json_checks(struct json_out *o, const char *cert, const char *key, const struct conf *cf,
    const struct certcheck_report *r)
{
	struct certcheck_info info;
	char err[512], t[32];

	json_out_key(o, "certificate");
	json_out_string(o, cert);
	json_out_key(o, "private_key");
	json_out_string(o, key);
	json_out_key(o, "ca_bundle");
	json_out_string(o, cf->ca_bundle[0] ? cf->ca_bundle : NULL);
	if (certcheck_info_load(cert, &info, err, sizeof(err)) == 0) {
		json_out_key(o, "subject");
		json_out_string(o, info.subject);
		json_out_key(o, "issuer");
		json_out_string(o, info.issuer);
		json_out_key(o, "serial");
		json_out_string(o, info.serial);
		json_out_key(o, "key");
		json_out_string(o, info.key);
		json_out_key(o, "not_before");
		json_out_string(o, ctl_time(info.not_before, t, sizeof(t)));
		json_out_key(o, "not_after");
		json_out_string(o, ctl_time(info.not_after, t, sizeof(t)));
		json_out_key(o, "sans");
		json_out_begin_array(o);
		for (size_t i = 0; i < info.nsans; i++)
			json_out_string(o, info.sans[i]);
		json_out_end_array(o);
		certcheck_info_free(&info);
	}
	json_out_key(o, "checks");
	json_out_begin_array(o);
	for (size_t i = 0; i < r->n; i++) {
		json_out_begin_object(o);
		json_out_key(o, "check");
		json_out_string(o, certcheck_id_name(r->results[i].id));
		json_out_key(o, "level");
		json_out_string(o, certcheck_level_name(r->results[i].level));
		json_out_key(o, "message");
		json_out_string(o, r->results[i].message);
		json_out_end_object(o);
	}
	json_out_end_array(o);
	json_out_key(o, "errors");
	json_out_uint(o, r->nerrors);
	json_out_key(o, "warnings");
	json_out_uint(o, r->nwarnings);
}

/* The one line on stderr for a report with errors: the first error, and how
 * many more there are. */
static int
fail_checks(struct ctl *c, const char *what, const struct certcheck_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->results[i].level == CERTCHECK_ERROR) {
			char more[64] = "";

			if (r->nerrors > 1)
				snprintf(more, sizeof(more), " (and %zu more error%s)", r->nerrors - 1,
				    r->nerrors > 2 ? "s" : "");
			return ctl_fail(c, CTL_FAIL, "%s%s: %s%s", what,
			    certcheck_id_name(r->results[i].id), r->results[i].message, more);
		}
	return CTL_OK;
}

int
cmd_cert_check(struct ctl *c, const struct ctl_args *a)
{
	struct certcheck_report r;
	struct conf *cf = NULL;
	struct json_out o;
	int rc;

	(void)a;
	if ((rc = load_conf(c, &cf, true)) != 0)
		return rc;
	if ((rc = certcheck_run(cf, NULL, NULL, time(NULL), &r)) < 0) {
		rc = ctl_fail(c, CTL_FAIL, "%s: %s", cf->certificate, strerror(-rc));
		goto out;
	}
	if (c->json) {
		json_out_init(&o, c->out);
		json_out_begin_object(&o);
		json_checks(&o, cf->certificate, cf->private_key, cf, &r);
		json_out_end_object(&o);
		json_out_end(&o);
	} else {
		print_checks(c, &r);
	}
	rc = fail_checks(c, "", &r);
out:
	conf_free(cf);
	return rc;
}

/* ---------------------------------------------------------------- request */

/* A new file that must not exist yet: O_EXCL, and no symbolic link followed. */
static int
create_new(struct ctl *c, const char *path, mode_t mode, int *fd)
{
	if ((*fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)) < 0) {
		if (errno == EEXIST)
			return ctl_fail(c, CTL_FAIL, "%s exists; not overwritten", path);
		return ctl_fail(c, CTL_FAIL, "%s: %s", path, strerror(errno));
	}
	if (fchmod(*fd, mode) < 0) {
		int e = errno;

		close(*fd);
		unlink(path);
		return ctl_fail(c, CTL_FAIL, "%s: %s", path, strerror(e));
	}
	return 0;
}

/* Write all of a memory BIO to fd, fsync and close it. */
static int
write_bio(int fd, BIO *b)
{
	char *p;
	long len = BIO_get_mem_data(b, &p);
	int rc = 0;

	while (len > 0) {
		ssize_t n = write(fd, p, (size_t)len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		p += n;
		len -= n;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* The names of the request: the edge FQDN (also the subject), sip.<domain>
 * for each SIP domain, the internal FQDN when it differs, then the extra
 * ones; each once, in normal form. */
struct names {
	char v[64][NAMES_MAX + 1];
	size_t n;
};

static int
names_add(struct names *ns, const char *name, const char **why)
{
	char norm[NAMES_MAX + 1];

	if (names_normalize(name, norm, sizeof(norm), why) != 0)
		return -EINVAL;
	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], norm) == 0)
			return 0;
	if (ns->n == sizeof(ns->v) / sizeof(ns->v[0])) {
		*why = "too many names";
		return -E2BIG;
	}
	strcpy(ns->v[ns->n++], norm);
	return 0;
}

static int
request_names(struct ctl *c, const struct conf *cf, const char **extra, size_t nextra,
    struct names *ns)
{
	char name[NAMES_MAX + 8];
	const char *why = NULL;

	ns->n = 0;
	if (names_add(ns, cf->edge_fqdn, &why) != 0)
		return ctl_fail(c, CTL_FAIL, "edge-fqdn %s: %s", cf->edge_fqdn, why);
	for (size_t i = 0; i < cf->ndomains; i++) {
		snprintf(name, sizeof(name), "sip.%s", cf->domains[i]);
		if (names_add(ns, name, &why) != 0)
			return ctl_fail(c, CTL_FAIL, "%s: %s", name, why);
	}
	if (names_add(ns, cf->internal_fqdn, &why) != 0)
		return ctl_fail(c, CTL_FAIL, "internal-fqdn %s: %s", cf->internal_fqdn, why);
	for (size_t i = 0; i < nextra; i++)
		if (names_add(ns, extra[i], &why) != 0)
			return ctl_fail(c, CTL_USAGE, "--san \"%s\" is not a host name: %s", extra[i],
			    why);
	return 0;
}

static int
add_ext(STACK_OF(X509_EXTENSION) *exts, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, value);

	if (e == NULL || !sk_X509_EXTENSION_push(exts, e)) {
		X509_EXTENSION_free(e);
		return -EINVAL;
	}
	return 0;
}

/* A PKCS#10 request for pk: subject CN the first name, the names as SAN
 * dNSNames, EKU serverAuth and clientAuth (SEEDS.md: the external edge
 * certificate has both), key usage as fits the key; SHA-256. */
static X509_REQ *
make_request(EVP_PKEY *pk, bool rsa, const struct names *ns)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_REQ *req = X509_REQ_new();
	char sans[sizeof(ns->v) + 64 * 5] = "";
	X509V3_CTX v3;
	bool ok;

	for (size_t i = 0; i < ns->n; i++) {
		size_t used = strlen(sans);

		snprintf(sans + used, sizeof(sans) - used, "%sDNS:%s", i ? "," : "", ns->v[i]);
	}
	X509V3_set_ctx(&v3, NULL, NULL, req, NULL, 0);
	ok = exts != NULL && req != NULL && X509_REQ_set_version(req, 0) == 1 &&
	    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
	    (const unsigned char *)ns->v[0], -1, -1, 0) == 1 &&
	    X509_REQ_set_pubkey(req, pk) == 1 &&
	    add_ext(exts, &v3, NID_subject_alt_name, sans) == 0 &&
	    add_ext(exts, &v3, NID_ext_key_usage, "serverAuth,clientAuth") == 0 &&
	    add_ext(exts, &v3, NID_key_usage, rsa ? "critical,digitalSignature,keyEncipherment" :
	    "critical,digitalSignature") == 0 &&
	    X509_REQ_add_extensions(req, exts) == 1 &&
	    X509_REQ_sign(req, pk, EVP_sha256()) > 0;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (!ok) {
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

static void
print_request(struct ctl *c, const char *keyfile, const char *reqfile, const char *keydesc,
    const struct names *ns)
{
	struct json_out o;

	if (c->json) {
		json_out_init(&o, c->out);
		json_out_begin_object(&o);
		json_out_key(&o, "private_key");
		json_out_string(&o, keyfile);
		json_out_key(&o, "request");
		json_out_string(&o, reqfile);
		json_out_key(&o, "key");
		json_out_string(&o, keydesc);
		json_out_key(&o, "subject");
		json_out_string(&o, ns->v[0]);
		json_out_key(&o, "sans");
		json_out_begin_array(&o);
		for (size_t i = 0; i < ns->n; i++)
			json_out_string(&o, ns->v[i]);
		json_out_end_array(&o);
		json_out_key(&o, "eku");
		json_out_begin_array(&o);
		json_out_string(&o, "serverAuth");
		json_out_string(&o, "clientAuth");
		json_out_end_array(&o);
		json_out_end_object(&o);
		json_out_end(&o);
		return;
	}
	fprintf(c->out, "private key  %s (%s, mode 0600)\n", keyfile, keydesc);
	fprintf(c->out, "request      %s\n", reqfile);
	fprintf(c->out, "subject      CN=%s\n", ns->v[0]);
	fprintf(c->out, "SANs         ");
	for (size_t i = 0; i < ns->n; i++)
		fprintf(c->out, "%s%s", i ? ", " : "", ns->v[i]);
	fprintf(c->out, "\nEKU          serverAuth, clientAuth\n");
	fprintf(c->out, "Send the request to a public CA, then: sipedgectl cert install CERT "
	    "--key %s\n", keyfile);
}

int
cmd_cert_request(struct ctl *c, const struct ctl_args *a)
{
	const char *dir = ctl_opt(a, "out"), *kt = ctl_opt(a, "key");
	const char **extra = NULL;
	char keyfile[PATH_MAX], reqfile[PATH_MAX];
	int kfd = -1, rfd = -1, rc;
	struct conf *cf = NULL;
	EVP_PKEY *pk = NULL;
	X509_REQ *req = NULL;
	BIO *kb = NULL, *rb = NULL;
	struct names *ns = NULL;
	size_t nextra;
	struct stat st;
	bool rsa, kmade = false, rmade = false;

	extra = ctl_opt_all(a, "san", &nextra);
	if (dir == NULL || dir[0] == '\0') {
		rc = ctl_fail(c, CTL_USAGE, "--out DIR is needed (usage: sipedgectl cert request "
		    "%s)", c->cmd->usage);
		goto out;
	}
	if (kt == NULL)
		kt = "rsa2048";
	if (strcmp(kt, "rsa2048") != 0 && strcmp(kt, "ec256") != 0) {
		rc = ctl_fail(c, CTL_USAGE, "--key \"%s\" is not rsa2048 or ec256", kt);
		goto out;
	}
	rsa = strcmp(kt, "rsa2048") == 0;
	if ((ns = calloc(1, sizeof(*ns))) == NULL) {
		rc = ctl_fail(c, CTL_FAIL, "out of memory");
		goto out;
	}
	if ((rc = load_conf(c, &cf, false)) != 0 ||
	    (rc = request_names(c, cf, extra, nextra, ns)) != 0)
		goto out;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		rc = ctl_fail(c, CTL_FAIL, "--out %s: %s", dir,
		    stat(dir, &st) < 0 ? strerror(errno) : "not a directory");
		goto out;
	}
	if ((size_t)snprintf(keyfile, sizeof(keyfile), "%s/%s.key", dir, ns->v[0]) >= sizeof(keyfile) ||
	    (size_t)snprintf(reqfile, sizeof(reqfile), "%s/%s.csr", dir, ns->v[0]) >= sizeof(reqfile)) {
		rc = ctl_fail(c, CTL_FAIL, "--out %s: name too long", dir);
		goto out;
	}
	/* Both files are claimed before any work, so that neither is left
	 * alone when the other exists. */
	if ((rc = create_new(c, keyfile, 0600, &kfd)) != 0)
		goto out;
	kmade = true;
	if ((rc = create_new(c, reqfile, 0644, &rfd)) != 0)
		goto out;
	rmade = true;
	ERR_clear_error();
	pk = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	/* The key goes through a secure-heap BIO, wiped when freed. */
	if (pk == NULL || (req = make_request(pk, rsa, ns)) == NULL ||
	    (kb = BIO_new(BIO_s_secmem())) == NULL || (rb = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509_REQ(rb, req) != 1) {
		unsigned long e = ERR_get_error();

		rc = ctl_fail(c, CTL_FAIL, "cannot make the key and request: %s",
		    e ? ERR_reason_error_string(e) : "out of memory");
		goto out;
	}
	rc = write_bio(kfd, kb);
	kfd = -1;
	if (rc < 0) {
		rc = ctl_fail(c, CTL_FAIL, "%s: %s", keyfile, strerror(-rc));
		goto out;
	}
	rc = write_bio(rfd, rb);
	rfd = -1;
	if (rc < 0) {
		rc = ctl_fail(c, CTL_FAIL, "%s: %s", reqfile, strerror(-rc));
		goto out;
	}
	print_request(c, keyfile, reqfile, rsa ? "RSA 2048" : "ECDSA P-256", ns);
	rc = CTL_OK;
out:
	/* Leave nothing half made (the files were ours: O_EXCL). */
	if (rc != CTL_OK && kmade)
		unlink(keyfile);
	if (rc != CTL_OK && rmade)
		unlink(reqfile);
	if (kfd >= 0)
		close(kfd);
	if (rfd >= 0)
		close(rfd);
	BIO_free(kb);
	BIO_free(rb);
	X509_REQ_free(req);
	EVP_PKEY_free(pk);
	conf_free(cf);
	free(ns);
	free(extra);
	return rc;
}

/* ---------------------------------------------------------------- install */

/* One file being replaced: the new content is written to tmp beside path,
 * then (commit) path's current file is kept as path.old and tmp renamed over
 * path, so that path names a whole file at every moment. */
struct staged {
	const char *path;
	char tmp[PATH_MAX], old[PATH_MAX];
	bool had_old, committed;
};

static int
stage(struct ctl *c, struct staged *s, const char *path, const char *data, size_t len,
    mode_t mode)
{
	struct stat st;
	ssize_t n;
	int fd;

	memset(s, 0, sizeof(*s));
	s->path = path;
	if ((size_t)snprintf(s->tmp, sizeof(s->tmp), "%s.XXXXXX", path) >= sizeof(s->tmp) ||
	    (size_t)snprintf(s->old, sizeof(s->old), "%s.old", path) >= sizeof(s->old))
		return ctl_fail(c, CTL_FAIL, "%s: name too long", path);
	if (stat(path, &st) == 0) {
		s->had_old = true;
		/* A certificate keeps its mode; a key is 0600 whatever it was. */
		if (mode != 0600)
			mode = st.st_mode & 0777;
	} else if (errno != ENOENT) {
		return ctl_fail(c, CTL_FAIL, "%s: %s", path, strerror(errno));
	}
	if ((fd = mkostemp(s->tmp, O_CLOEXEC)) < 0)
		return ctl_fail(c, CTL_FAIL, "%s: %s", s->tmp, strerror(errno));
	/* The daemon reads the new files as the old ones' owner did. */
	if (fchmod(fd, mode) < 0 ||
	    (s->had_old && fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM))
		goto fail;
	while (len > 0) {
		if ((n = write(fd, data, len)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		data += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	{
		int e = errno ? errno : EIO;

		if (fd >= 0)
			close(fd);
		unlink(s->tmp);
		s->tmp[0] = '\0';
		return ctl_fail(c, CTL_FAIL, "%s: %s", path, strerror(e));
	}
}

static void
unstage(struct staged *s)
{
	if (s->path != NULL && !s->committed && s->tmp[0])
		unlink(s->tmp);
}

/* Keep the current file as .old (a hard link: path stays in place). */
static int
keep_old(struct ctl *c, struct staged *s)
{
	if (!s->had_old)
		return 0;
	if (unlink(s->old) < 0 && errno != ENOENT)
		return ctl_fail(c, CTL_FAIL, "%s: %s", s->old, strerror(errno));
	if (link(s->path, s->old) < 0)
		return ctl_fail(c, CTL_FAIL, "cannot keep %s as %s: %s", s->path, s->old,
		    strerror(errno));
	return 0;
}

static int
commit(struct ctl *c, struct staged *s)
{
	if (rename(s->tmp, s->path) < 0)
		return ctl_fail(c, CTL_FAIL, "%s: %s", s->path, strerror(errno));
	s->committed = true;
	return 0;
}

/* Make the renames in path's directory durable. */
static void
sync_dir(const char *path)
{
	char dir[PATH_MAX], *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

static int
read_file(struct ctl *c, const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	if (f == NULL)
		return ctl_fail(c, CTL_FAIL, "%s: %s", path, strerror(errno));
	if ((buf = malloc(MAX_CERT_FILE + 1)) == NULL) {
		fclose(f);
		return ctl_fail(c, CTL_FAIL, "out of memory");
	}
	n = fread(buf, 1, MAX_CERT_FILE + 1, f);
	if (ferror(f) || n > MAX_CERT_FILE) {
		int e = ferror(f) ? EIO : EFBIG;

		fclose(f);
		OPENSSL_cleanse(buf, MAX_CERT_FILE + 1);
		free(buf);
		return ctl_fail(c, CTL_FAIL, "%s: %s", path, strerror(e));
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

/* Whether path holds exactly data (then there is nothing to replace). */
static bool
same_content(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	bool same = false;
	size_t n;

	if (f != NULL && (buf = malloc(len + 1)) != NULL) {
		n = fread(buf, 1, len + 1, f);
		same = n == len && memcmp(buf, data, len) == 0;
		OPENSSL_cleanse(buf, len + 1);
	}
	free(buf);
	if (f != NULL)
		fclose(f);
	return same;
}

static bool
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	    sa.st_ino == sb.st_ino;
}

/* Tell a running sipedge to take the new certificate.  Today: SIGHUP to the
 * pid in state-dir/sipedge.pid, which main.c keeps locked (flock) while the
 * daemon runs, so that an unlocked file is one left by a daemon that stopped.
 * This is the one place to switch to the control socket.  Returns 1 when told
 * (*pid set), 0 when no daemon runs, or a negative errno with why. */
static int
tell_daemon(const struct conf *cf, long *pid, char *why, size_t len)
{
	char path[PATH_MAX], buf[32], *end;
	ssize_t n;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", cf->state_dir, PID_FILE);
	*pid = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		rc = -errno;
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return rc == -ENOENT ? 0 : rc;
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		snprintf(why, len, "%s is not locked", path);
		close(fd);
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		rc = -errno;
		snprintf(why, len, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	errno = 0;
	*pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') || *pid <= 1) {
		snprintf(why, len, "%s holds no pid (\"%.*s\")", path, (int)strcspn(buf, "\n"), buf);
		return -EINVAL;
	}
	if (kill((pid_t)*pid, SIGHUP) < 0) {
		rc = -errno;
		snprintf(why, len, "cannot signal pid %ld: %s", *pid, strerror(errno));
		return rc;
	}
	return 1;
}

/* Put cert (and key) in place of the configured files: both are staged, the
 * old ones kept, then both renamed, the key first (a daemon reloads on our
 * signal, after both).  A file whose content is already in place is left as it
 * is.  sc and sk say what was replaced (their path is NULL otherwise). */
static int
install(struct ctl *c, const struct conf *cf, const char *cert, const char *key,
    struct staged *sc, struct staged *sk)
{
	char *cdata = NULL, *kdata = NULL;
	size_t clen = 0, klen = 0;
	bool put_cert = !same_file(cert, cf->certificate);
	bool put_key = key != NULL && !same_file(key, cf->private_key);
	int rc;

	if ((put_cert && (rc = read_file(c, cert, &cdata, &clen)) != 0) ||
	    (put_key && (rc = read_file(c, key, &kdata, &klen)) != 0))
		goto out;
	/* The certificate file is world-readable: no key goes there. */
	if (put_cert && memmem(cdata, clen, "PRIVATE KEY-----", 16) != NULL) {
		rc = ctl_fail(c, CTL_FAIL, "refused: %s holds a private key; give the certificate "
		    "and --key as separate files", cert);
		goto out;
	}
	put_cert = put_cert && !same_content(cf->certificate, cdata, clen);
	put_key = put_key && !same_content(cf->private_key, kdata, klen);
	if ((put_cert && (rc = stage(c, sc, cf->certificate, cdata, clen, 0644)) != 0) ||
	    (put_key && (rc = stage(c, sk, cf->private_key, kdata, klen, 0600)) != 0) ||
	    (put_cert && (rc = keep_old(c, sc)) != 0) ||
	    (put_key && (rc = keep_old(c, sk)) != 0) ||
	    (put_key && (rc = commit(c, sk)) != 0))
		goto out;
	if (put_cert && (rc = commit(c, sc)) != 0) {
		/* Put the old key back: it matches the certificate in place. */
		if (sk->committed && sk->had_old && rename(sk->old, sk->path) == 0)
			sk->committed = false;
		goto out;
	}
	if (put_cert)
		sync_dir(cf->certificate);
	if (put_key)
		sync_dir(cf->private_key);
	rc = 0;
out:
	if (kdata != NULL)
		OPENSSL_cleanse(kdata, klen);
	free(kdata);
	free(cdata);
	return rc;
}

static void
print_installed(struct ctl *c, struct json_out *o, const char *cert, const struct staged *sc,
    const struct staged *sk, int told, long pid)
{
	const struct staged *both[] = { sc, sk };

	if (c->json) {
		json_out_key(o, "installed");
		json_out_bool(o, true);
		json_out_key(o, "replaced");
		json_out_begin_array(o);
		for (size_t i = 0; i < 2; i++)
			if (both[i]->committed)
				json_out_string(o, both[i]->path);
		json_out_end_array(o);
		json_out_key(o, "daemon");
		json_out_string(o, told > 0 ? "signalled" : told == 0 ? "not running" : "error");
		json_out_key(o, "pid");
		if (pid > 0)
			json_out_int(o, pid);
		else
			json_out_null(o);
		return;
	}
	if (!sc->committed && !sk->committed)
		fprintf(c->out, "%s is already in place\n", cert);
	for (size_t i = 0; i < 2; i++)
		if (both[i]->committed)
			fprintf(c->out, "installed %s%s%s\n", both[i]->path,
			    both[i]->had_old ? ", the previous one kept as " : "",
			    both[i]->had_old ? both[i]->old : "");
	if (told > 0)
		fprintf(c->out, "sent SIGHUP to sipedge (pid %ld) to reload\n", pid);
	else if (told == 0)
		fprintf(c->out, "sipedge is not running; it uses the new certificate when it starts\n");
}

/* Check, install, tell the daemon. */
int
cmd_cert_install(struct ctl *c, const struct ctl_args *a)
{
	const char *cert = a->pos[0], *key = ctl_opt(a, "key");
	struct staged sc = { 0 }, sk = { 0 };
	struct certcheck_report r;
	struct conf *cf = NULL;
	struct json_out o;
	char why[PATH_MAX + 128];
	long pid = 0;
	int rc, told;

	if (key != NULL && key[0] == '\0')
		return ctl_fail(c, CTL_USAGE, "--key needs a file name");
	if ((rc = load_conf(c, &cf, true)) != 0)
		return rc;
	if ((rc = certcheck_run(cf, cert, key, time(NULL), &r)) < 0) {
		rc = ctl_fail(c, CTL_FAIL, "%s: %s", cert, strerror(-rc));
		goto out;
	}
	if (c->json) {
		json_out_init(&o, c->out);
		json_out_begin_object(&o);
		json_checks(&o, cert, key ? key : cf->private_key, cf, &r);
	} else {
		print_checks(c, &r);
	}
	if (r.nerrors > 0)
		rc = fail_checks(c, "refused: ", &r);
	else
		rc = install(c, cf, cert, key, &sc, &sk);
	if (rc != 0) {
		if (c->json) {
			json_out_key(&o, "installed");
			json_out_bool(&o, false);
		}
	} else {
		told = tell_daemon(cf, &pid, why, sizeof(why));
		print_installed(c, &o, cert, &sc, &sk, told, pid);
		if (told < 0)
			rc = ctl_fail(c, CTL_FAIL, "installed, but sipedge was not told to reload: "
			    "%s", why);
	}
	if (c->json) {
		json_out_end_object(&o);
		json_out_end(&o);
	}
out:
	unstage(&sc);
	unstage(&sk);
	conf_free(cf);
	return rc;
}
