/* main.c: the sipedge daemon: options, configuration check (-n), start-up checks,
 * pid file, the switch to an unprivileged user, signals, and the worker threads
 * (sipedge(8)). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "sipedge/certcheck.h"
#include "sipedge/conf.h"
#include "sipedge/control.h"
#include "sipedge/daemon.h"
#include "sipedge/log.h"
#include "sipedge/metrics.h"
#include "sipedge/policy.h"
#include "sipedge/proxy.h"
#include "sipedge/sdnotify.h"
#include "sipedge/store.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

static void
usage(void)
{
	fprintf(stderr, "usage: sipedge [-dnv] [-f file]\n");
	exit(2);
}

struct signals {
	struct proxy *px;
	uv_signal_t sigint, sigterm, sighup;
	uv_timer_t policy_timer;
	struct store *st;
	uint64_t generation;
	unsigned ticks;
	struct daemon d;                   /* what the control socket shows */
	struct control *ctl;
	struct metrics *metrics;           /* metrics-listen, or NULL */
};

/* Once a second: apply a committed policy change (the store's generation
 * moves on every write), log the discovered-partner events, and write their
 * counters. */
static void
on_policy_timer(uv_timer_t *tm)
{
	struct signals *sg = tm->data;
	struct policy *pol;
	uint64_t gen;
	char err[1024];

	daemon_cert_tick(&sg->d, time(NULL));
	if (store_generation(sg->st, &gen) < 0) {
		log_warnx("%s: %s: %s", __func__, sg->d.conf->db_path, store_error(sg->st));
	} else if (gen != sg->generation) {
		if (daemon_load_policy(sg->st, sg->d.conf, &pol, err, sizeof(err)) < 0) {
			log_warnx("policy change not applied, keeping the previous one: %s", err);
		} else {
			proxy_set_policy(sg->px, pol);
			daemon_policy_noted(&sg->d, pol);
			log_info("policy generation %llu applied (%zu allowed, %zu blocked, %zu providers)",
			    (unsigned long long)policy_generation(pol), policy_nallowed(pol),
			    policy_nblocked(pol), policy_nproviders(pol));
			policy_unref(pol);
		}
		sg->generation = gen;
	}
	proxy_partners_log(sg->px, uv_now(tm->loop));
	if (++sg->ticks % 2 == 0)
		proxy_record_partners(sg->px, sg->st);
	/* After a burst, give freed memory back to the system (glibc keeps
	 * it in its arenas otherwise). */
	if (sg->ticks % 30 == 0)
		malloc_trim(0);
}

/* A reload asked by SIGHUP: reload.c has logged what it did. */
static void
reloaded(struct daemon *d, const struct daemon_reload_result *res, void *arg)
{
	(void)d;
	(void)res;
	(void)arg;
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct signals *sg = s->data;

	if (signum == SIGHUP) {
		if (daemon_reload(&sg->d, "SIGHUP", reloaded, NULL) == -EBUSY)
			log_info("SIGHUP: a reload is already under way");
		return;
	}
	log_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
	sdnotify_send("STOPPING=1");
	control_close(sg->ctl);
	sg->ctl = NULL;
	metrics_close(sg->metrics);
	sg->metrics = NULL;
	proxy_stop(sg->px);
	uv_close((uv_handle_t *)&sg->policy_timer, NULL);
	uv_close((uv_handle_t *)&sg->sigint, NULL);
	uv_close((uv_handle_t *)&sg->sigterm, NULL);
	uv_close((uv_handle_t *)&sg->sighup, NULL);
}

/* Create path and its parents: 1 when the last component was created here, 0
 * when it was there already, or a negative errno. */
static int
mkdir_p(const char *path)
{
	char buf[1024];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0750) == 0)
		return 1;
	return errno == EEXIST ? 0 : -errno;
}

/* The state directory belongs to the user the daemon will run as: give it one
 * we have just created; warn about one that is someone else's, since after the
 * switch the daemon cannot create or remove files in it (the pid file, the
 * store's -wal and -shm files when the store is kept there). */
static int
state_dir_own(const struct conf *c, int created, char *err, size_t errlen)
{
	struct stat sb;

	if (!c->user[0] || geteuid() != 0)
		return 0;
	if (created && chown(c->state_dir, c->uid, c->gid) < 0) {
		snprintf(err, errlen, "state-dir %s: chown to %s: %s", c->state_dir, c->user,
		    strerror(errno));
		return -errno;
	}
	if (!created && stat(c->state_dir, &sb) == 0 && sb.st_uid != c->uid)
		log_warnx("state-dir %s belongs to uid %u, not to user %s: after the switch to it, "
		    "sipedge cannot write there (chown %s %s)", c->state_dir, (unsigned)sb.st_uid,
		    c->user, c->user, c->state_dir);
	return 0;
}

/* Started as someone other than root, sipedge can only be the configured user
 * already: said before anything is created. */
static int
privileges_check(const struct conf *c, char *err, size_t errlen)
{
	if (!c->user[0] || geteuid() == 0 || (getuid() == c->uid && geteuid() == c->uid))
		return 0;
	snprintf(err, errlen, "user %s: started as uid %u, neither root nor %s, so cannot "
	    "switch to it", c->user, (unsigned)geteuid(), c->user);
	return -EPERM;
}

/* Become the configured user for good, once the listeners are bound and the
 * keys read: the user's supplementary groups, the group, then the user (real,
 * effective and saved alike; glibc applies each to every thread), and a check
 * that root cannot be had back. */
static int
privileges_drop(const struct conf *c, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (!c->user[0] || geteuid() != 0)
		return 0;        /* privileges_check: already the user */
	if (initgroups(c->user, c->gid) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
	    setresuid(c->uid, c->uid, c->uid) < 0) {
		snprintf(err, errlen, "user %s: cannot switch to it: %s", c->user, strerror(errno));
		return -EPERM;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || (c->gid != 0 && setgid(0) == 0) ||
	    getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    ru != c->uid || eu != c->uid || su != c->uid ||
	    rg != c->gid || eg != c->gid || sg != c->gid) {
		snprintf(err, errlen, "user %s: root privileges are still there after the switch",
		    c->user);
		return -EPERM;
	}
	return 0;
}

/* A pid file we hold a lock on: a second sipedge on the same state directory
 * is refused (SO_REUSEPORT would otherwise let it share our ports). */
static int
pidfile_lock(const char *dir, char *err, size_t errlen)
{
	char path[1040], buf[32];
	int fd, n;

	snprintf(path, sizeof(path), "%s/sipedge.pid", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		n = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-n));
		return n;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(err, errlen, "%s: another sipedge (pid %s) is running on this state directory",
		    path, buf[0] ? buf : "?");
		close(fd);
		return -EBUSY;
	}
	return fd;
}

static void
pidfile_write(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_warn("%s: pid file", __func__);
}

/* At a clean stop: the file goes while we still hold its lock, so no second
 * sipedge can have taken it in between. */
static void
pidfile_remove(const char *dir, int fd)
{
	char path[1040];

	snprintf(path, sizeof(path), "%s/sipedge.pid", dir);
	if (unlink(path) < 0)
		log_warn("%s: %s", __func__, path);
	close(fd);
}

int
main(int argc, char **argv)
{
	const char *file = SYSCONFDIR "/sipedge/sipedge.conf";
	int foreground = 0, check_only = 0, verbose = 0, ch, pidfd, created, rc;
	struct conf *c = NULL;
	struct proxy *px = NULL;
	struct signals sg;
	char err[2048], state_dir[sizeof(c->state_dir)];
	uv_loop_t *loop;
	struct store *st = NULL;
	struct policy *pol = NULL;
	struct control *ctl = NULL;
	uint64_t gen = 0;

	/* glibc gives a worker's arena back (madvise) whenever its free top
	 * passes 128 KiB, which under steady traffic means a system call every
	 * few messages (make bench: 0.4 a translated XMPP message) for memory
	 * taken again at once; the periodic malloc_trim of the quiet moments
	 * (proxy.c, the main tick) gives it back instead.  Setting the trim
	 * threshold fixes the mmap one too: up to 4 MiB from the heap. */
	(void)mallopt(M_TRIM_THRESHOLD, 8 << 20);
	(void)mallopt(M_MMAP_THRESHOLD, 4 << 20);

	while ((ch = getopt(argc, argv, "df:nvh")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	log_init("sipedge", 1, LOG_LVL_INFO);
	if (conf_load(file, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "sipedge: %s\n", err);
		return 1;
	}
	if (verbose)
		c->log_level = LOG_LVL_DEBUG;
	/* What federation needs of our certificate, as warnings: what the TLS
	 * set-up cannot use stays fatal there. */
	certcheck_log(c, time(NULL));
	if (check_only) {
		if (proxy_check(c, err, sizeof(err)) < 0) {
			fprintf(stderr, "sipedge: %s: %s\n", file, err);
			conf_free(c);
			return 1;
		}
		if (store_open(c->db_path, 0, &st, err, sizeof(err)) < 0 ||
		    daemon_load_policy(st, c, &pol, err, sizeof(err)) < 0) {
			fprintf(stderr, "sipedge: %s: %s\n", file, err);
			store_close(st);
			conf_free(c);
			return 1;
		}
		policy_unref(pol);
		store_close(st);
		fprintf(stderr, "sipedge: %s: configuration OK\n", file);
		conf_free(c);
		return 0;
	}
	log_set_level(c->log_level);
	log_set_json(c->log_json);
	/* The pid file stays where it was made, whatever a reload reads. */
	snprintf(state_dir, sizeof(state_dir), "%s", c->state_dir);
	if (privileges_check(c, err, sizeof(err)) < 0) {
		fprintf(stderr, "sipedge: %s: %s\n", file, err);
		return 1;
	}
	if ((created = mkdir_p(c->state_dir)) < 0) {
		fprintf(stderr, "sipedge: %s: state-dir %s: %s\n", file, c->state_dir,
		    strerror(-created));
		return 1;
	}
	if (state_dir_own(c, created, err, sizeof(err)) < 0) {
		fprintf(stderr, "sipedge: %s: %s\n", file, err);
		return 1;
	}
	if ((pidfd = pidfile_lock(c->state_dir, err, sizeof(err))) < 0) {
		fprintf(stderr, "sipedge: %s\n", err);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* The policy store must exist and be current before we serve. */
	if (store_open(c->db_path, 0, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "sipedge: %s\n", err);
		return 1;
	}
	if (store_generation(st, &gen) < 0) {
		fprintf(stderr, "sipedge: %s: %s\n", c->db_path, store_error(st));
		return 1;
	}
	if (daemon_load_policy(st, c, &pol, err, sizeof(err)) < 0) {
		fprintf(stderr, "sipedge: %s\n", err);
		return 1;
	}
	/* Everything that can fail on start-up is checked (and reported on
	 * stderr) before we detach. */
	if (proxy_new(c, &px, err, sizeof(err)) < 0) {
		fprintf(stderr, "sipedge: %s\n", err);
		return 1;
	}
	memset(&sg, 0, sizeof(sg));
	/* The daemon's group may use the control socket (and root). */
	if (control_new(uv_default_loop(), c->control_socket, c->user[0] ? c->gid : (gid_t)-1,
	    daemon_cmds, &sg.d, &ctl, err, sizeof(err)) < 0) {
		fprintf(stderr, "sipedge: %s\n", err);
		return 1;
	}
	if (c->has_metrics && metrics_new(uv_default_loop(), &c->metrics_addr, daemon_metrics, &sg.d,
	    &sg.metrics, err, sizeof(err)) < 0) {
		fprintf(stderr, "sipedge: %s\n", err);
		return 1;
	}
	proxy_set_policy(px, pol);
	daemon_policy_noted(&sg.d, pol);
	policy_unref(pol);
	/* Listeners, control socket and metrics bound, keys read, pid file
	 * open: nothing needs root from here on. */
	if (privileges_drop(c, err, sizeof(err)) < 0) {
		fprintf(stderr, "sipedge: %s: %s\n", file, err);
		return 1;
	}
	if (!foreground) {
		if (daemon(0, 0) < 0) {
			fprintf(stderr, "sipedge: daemon: %s\n", strerror(errno));
			return 1;
		}
		log_init("sipedge", 0, c->log_level);
		proxy_after_fork(px);
		if (uv_loop_fork(uv_default_loop()) < 0)
			fatalx("cannot renew the main loop after fork");
	}
	pidfile_write(pidfd);
	if (proxy_start(px) < 0)
		fatalx("cannot start the workers");
	log_info("sipedge %s started: %s, %zu listener(s), edge %s%s%s", PACKAGE_VERSION, file,
	    c->nlisteners, c->edge_fqdn, c->user[0] ? ", running as " : "", c->user);
	/* systemd (Type=notify): the listeners take connections now. */
	if ((rc = sdnotify_send("READY=1")) < 0)
		log_warnx("NOTIFY_SOCKET %s: %s", getenv("NOTIFY_SOCKET"), strerror(-rc));

	loop = uv_default_loop();
	sg.px = px;
	sg.d.px = px;
	sg.d.conf = c;
	sg.d.conf_path = file;
	sg.d.started = time(NULL);
	sg.d.st = st;
	sg.d.verbose = verbose;
	daemon_cert_noted(&sg.d);
	daemon_cert_tick(&sg.d, time(NULL));
	sg.ctl = ctl;
	uv_signal_init(loop, &sg.sigint);
	uv_signal_init(loop, &sg.sigterm);
	uv_signal_init(loop, &sg.sighup);
	sg.sigint.data = sg.sigterm.data = sg.sighup.data = &sg;
	uv_signal_start(&sg.sigint, on_signal, SIGINT);
	uv_signal_start(&sg.sigterm, on_signal, SIGTERM);
	uv_signal_start(&sg.sighup, on_signal, SIGHUP);
	sg.st = st;
	sg.generation = gen;
	sg.ticks = 0;
	uv_timer_init(loop, &sg.policy_timer);
	sg.policy_timer.data = &sg;
	uv_timer_start(&sg.policy_timer, on_policy_timer, 1000, 1000);
	uv_run(loop, UV_RUN_DEFAULT);

	proxy_record_partners(px, st);
	proxy_free(px);
	if (sg.d.has_baseline)
		stats_total_free(&sg.d.baseline);
	store_close(st);
	uv_loop_close(loop);
	log_info("sipedge stopped");
	conf_free(sg.d.conf);        /* the configuration in force (c, or a reload's) */
	conf_free(sg.d.old_conf);
	certcheck_info_free(&sg.d.cert);
	pidfile_remove(state_dir, pidfd);
	return 0;
}
