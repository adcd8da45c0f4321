/* log.h: logging to stderr (-d) or syslog, printf-checked (OpenSMTPD log.c style). */
#ifndef SIPEDGE_LOG_H
#define SIPEDGE_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARNING, LOG_LVL_INFO, LOG_LVL_DEBUG };

#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* A structured event (log_event): its fields in order; num: the value is a
 * number (unquoted in JSON). */
struct log_field {
	const char *key;
	const char *val;                   /* NULL: the field is left out */
	int num;
};

/* to_stderr: 1 logs to stderr (foreground), 0 to syslog with ident. */
void log_init(const char *ident, int to_stderr, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);
/* log-format: 0 text (events as key=value), 1 JSON (every line one object:
 * time, level and message, or the event's fields). */
void log_set_json(int json);
/* One line for an event: "event=NAME key=value ..." (values with spaces,
 * quotes or '=' quoted), or {"event":"NAME","key":...} with log-format json. */
void log_event(enum log_level level, const char *event, const struct log_field *f, size_t n);
int log_would(enum log_level level);

void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);   /* appends ": strerror(errno)" */
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);  /* with strerror */
_Noreturn void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
