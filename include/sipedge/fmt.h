/* fmt.h: building short strings on the per-message path without the printf
 * family (branches, tags, keys, Via parameters): a bounded buffer that
 * remembers when it ran out.  Header only. */
#ifndef SIPEDGE_FMT_H
#define SIPEDGE_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fmt {
	char *p, *end;       /* next octet; one past the last for text (NUL kept) */
	bool over;           /* something did not fit: the text is cut */
};

/* buf of size len (>= 1) starts empty. */
static inline struct fmt
fmt_init(char *buf, size_t len)
{
	struct fmt f = { buf, buf + len - 1, false };

	*buf = '\0';
	return f;
}

static inline void
fmt_mem(struct fmt *f, const char *s, size_t n)
{
	if (n > (size_t)(f->end - f->p)) {
		n = (size_t)(f->end - f->p);
		f->over = true;
	}
	memcpy(f->p, s, n);
	f->p += n;
	*f->p = '\0';
}

static inline void
fmt_str(struct fmt *f, const char *s)
{
	fmt_mem(f, s ? s : "", s ? strlen(s) : 0);
}

static inline void
fmt_char(struct fmt *f, char c)
{
	fmt_mem(f, &c, 1);
}

/* Exactly digits lowercase hex digits of v (its low 4 * digits bits). */
static inline void
fmt_hex(struct fmt *f, uint64_t v, unsigned digits)
{
	char tmp[16];

	for (unsigned i = 0; i < digits && i < 16; i++) {
		tmp[digits - 1 - i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	}
	fmt_mem(f, tmp, digits < 16 ? digits : 16);
}

static inline void
fmt_uint(struct fmt *f, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < sizeof(tmp));
	fmt_mem(f, tmp + sizeof(tmp) - n, n);
}

#endif
