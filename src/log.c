/* log.c: leveled logging to stderr or syslog; thread-safe (one write per line). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include <stdatomic.h>
#include <stdbool.h>

#include "sipedge/json.h"
#include "sipedge/log.h"

static int log_to_stderr = 1;
/* Read by every thread, changed by a reload: relaxed atomic. */
static _Atomic int log_level = LOG_LVL_INFO;
static _Atomic int log_json;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void
log_init(const char *ident, int to_stderr, enum log_level level)
{
	log_to_stderr = to_stderr;
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

int
log_would(enum log_level level)
{
	return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	if (strcasecmp(s, "warn") == 0) {
		*out = LOG_LVL_WARNING;
		return 0;
	}
	return -EINVAL;
}

const char *
log_level_name(enum log_level level)
{
	return level_names[level];
}

void
log_set_json(int json)
{
	atomic_store_explicit(&log_json, json ? 1 : 0, memory_order_relaxed);
}

/* Write one finished line: text is the message (json 0) or the JSON fields
 * after the time and level, without braces (json 1). */
static void
log_emit(enum log_level level, const char *text, int json)
{
	if (log_to_stderr) {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		/* One fprintf per line: stdio locks the stream, so lines from
		 * several workers never interleave. */
		if (json)
			fprintf(stderr, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",%s}\n", stamp,
			    ts.tv_nsec / 1000000, level_names[level], text);
		else
			fprintf(stderr, "%s.%03ldZ %s: %s\n", stamp, ts.tv_nsec / 1000000,
			    level_names[level], text);
	} else {
		static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

		if (json)
			syslog(prio[level], "{\"level\":\"%s\",%s}", level_names[level], text);
		else
			syslog(prio[level], "%s", text);
	}
}

static void
log_vwrite(enum log_level level, const char *fmt, va_list ap, int with_errno, int saved)
{
	char line[2048], js[4200];
	int n;

	if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (with_errno)
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", strerror(saved));
	if (atomic_load_explicit(&log_json, memory_order_relaxed)) {
		FILE *f = fmemopen(js, sizeof(js), "w");

		if (f != NULL) {
			fputs("\"message\":", f);
			json_write_string(f, line);
			fputc('\0', f);
			fclose(f);
			js[sizeof(js) - 1] = '\0';
			log_emit(level, js, 1);
			return;
		}
	}
	log_emit(level, line, 0);
}

/* A text value: bare when it is a plain token, else quoted with \" and \\
 * escaped and control characters made '?'. */
static void
kv_value(FILE *f, const char *v)
{
	bool plain = v[0] != '\0';

	for (const char *p = v; *p && plain; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x21 ||
		    *p == 0x7f)
			plain = false;
	if (plain) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, f);
	}
	fputc('"', f);
}

void
log_event(enum log_level level, const char *event, const struct log_field *fl, size_t n)
{
	char line[16384];                  /* a traced message's headers fit */
	int json = atomic_load_explicit(&log_json, memory_order_relaxed);
	FILE *f;

	if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	if ((f = fmemopen(line, sizeof(line), "w")) == NULL)
		return;
	if (json) {
		fputs("\"event\":", f);
		json_write_string(f, event);
	} else {
		fprintf(f, "event=%s", event);
	}
	for (size_t i = 0; i < n; i++) {
		if (fl[i].val == NULL)
			continue;
		if (json) {
			fputc(',', f);
			json_write_string(f, fl[i].key);
			fputc(':', f);
			if (fl[i].num)
				fputs(fl[i].val, f);
			else
				json_write_string(f, fl[i].val);
		} else {
			fprintf(f, " %s=", fl[i].key);
			kv_value(f, fl[i].val);
		}
	}
	fputc('\0', f);
	fclose(f);
	line[sizeof(line) - 1] = '\0';
	log_emit(level, line, json);
}

#define LOG_FN(name, level, with_errno)                         \
	void name(const char *fmt, ...)                         \
	{                                                       \
		int saved = errno;                              \
		va_list ap;                                     \
		va_start(ap, fmt);                              \
		log_vwrite(level, fmt, ap, with_errno, saved);  \
		va_end(ap);                                     \
		errno = saved;                                  \
	}

LOG_FN(log_warn, LOG_LVL_WARNING, 1)
LOG_FN(log_warnx, LOG_LVL_WARNING, 0)
LOG_FN(log_error, LOG_LVL_ERROR, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, fmt, ap, 1, saved);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, fmt, ap, 0, 0);
	va_end(ap);
	exit(1);
}
