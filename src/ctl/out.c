/* out.c: sipedgectl output: one-line error messages with exit codes, tables
 * for people, UTC times. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int
ctl_fail(struct ctl *c, int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sipedgectl: ");
	if (c != NULL && c->cmd != NULL)
		fprintf(stderr, "%s: ", c->cmd->words);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* Trouble with the db itself gets its own exit code, so that a script can
 * tell "refused" from "could not ask". */
int
ctl_exit_for(int rc)
{
	switch (rc) {
	case 0:
		return CTL_OK;
	case -EBUSY:
	case -EILSEQ:
	case -ESTALE:
	case -ENOTSUP:
	case -ENODATA:
	case -EACCES:
	case -EPERM:
	case -EIO:
	case -ENOSPC:
	case -EISDIR:
	case -ENOTDIR:
		return CTL_DB;
	default:
		return CTL_FAIL;
	}
}

int
ctl_store_fail(struct ctl *c, int rc)
{
	const char *msg = c->st ? store_error(c->st) : "";

	return ctl_fail(c, ctl_exit_for(rc), "%s", msg[0] ? msg : strerror(-rc));
}

const char *
ctl_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
	return buf;
}

void
ctl_table_init(struct ctl_table *t, size_t ncols, const char *const *heads)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->heads = heads;
}

int
ctl_table_add(struct ctl_table *t, ...)
{
	va_list ap;
	int rc = 0;

	if ((t->nrows + 1) * t->ncols > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : t->ncols * 16;
		char **c;

		while (ncap < (t->nrows + 1) * t->ncols)
			ncap *= 2;
		if ((c = realloc(t->cells, ncap * sizeof(*c))) == NULL)
			return -ENOMEM;
		t->cells = c;
		t->cap = ncap;
	}
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		char *d = strdup(s ? s : "-");

		if (d == NULL)
			rc = -ENOMEM;
		t->cells[t->nrows * t->ncols + i] = d;
	}
	va_end(ap);
	t->nrows++;
	return rc;
}

/* Display width of UTF-8 text: code points, which is right for the names and
 * most comments shown here. */
static size_t
width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void
ctl_table_print(const struct ctl_table *t, FILE *f)
{
	size_t *w = calloc(t->ncols, sizeof(*w));

	if (w == NULL)
		return;
	for (size_t i = 0; i < t->ncols; i++)
		w[i] = width(t->heads[i]);
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			const char *cell = t->cells[r * t->ncols + i];
			size_t cw = cell ? width(cell) : 1;

			if (cw > w[i])
				w[i] = cw;
		}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *cell = r == 0 ? t->heads[i] : t->cells[(r - 1) * t->ncols + i];

			if (cell == NULL)
				cell = "-";
			if (i + 1 == t->ncols) {
				fprintf(f, "%s\n", cell);
			} else {
				fputs(cell, f);
				for (size_t k = width(cell); k < w[i] + 2; k++)
					fputc(' ', f);
			}
		}
	}
	free(w);
}

void
ctl_table_free(struct ctl_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
