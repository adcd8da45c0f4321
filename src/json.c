/* json.c: JSON (RFC 8259) parser and emitter for sipedgectl.  Written for
 * untrusted import files: every byte is checked, depth is bounded, errors name
 * the line and column. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipedge/json.h"
#include "sipedge/utf8.h"

/* ----------------------------------------------------------------- parser */

struct parser {
	const char *s;
	size_t len, pos;
	unsigned line;
	size_t line_start;
	char *err;
	size_t errlen;
};

static int
perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, p->errlen, "%u:%zu: ", p->line, p->pos - p->line_start + 1);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void
skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];

		if (c == '\n') {
			p->line++;
			p->line_start = p->pos + 1;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			break;
		}
		p->pos++;
	}
}

static struct json *
new_value(struct parser *p, enum json_type t)
{
	struct json *v = calloc(1, sizeof(*v));

	if (v != NULL) {
		v->type = t;
		v->line = p->line;
		v->col = (unsigned)(p->pos - p->line_start + 1);
	}
	return v;
}

static int
hex4(struct parser *p, unsigned *out)
{
	unsigned v = 0;

	if (p->len - p->pos < 4)
		return perr(p, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = p->s[p->pos + (size_t)i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return perr(p, "bad hex digit in \\u escape");
	}
	p->pos += 4;
	*out = v;
	return 0;
}

static size_t
utf8_put(char *d, unsigned cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string starting at the opening quote; *out is a fresh C string.  The
 * decoded form is never longer than the source, so one allocation of the
 * remaining length bounds it. */
static int
parse_string(struct parser *p, char **out)
{
	size_t start = ++p->pos, end;
	char *buf, *d;
	int rc;

	/* Find the closing quote first to size the buffer. */
	for (end = start; end < p->len && p->s[end] != '"'; end++)
		if (p->s[end] == '\\')
			end++;
	if (end >= p->len)
		return perr(p, "unterminated string");
	if ((buf = malloc(end - start + 1)) == NULL)
		return perr(p, "out of memory");
	d = buf;
	while (p->pos < end) {
		unsigned char c = (unsigned char)p->s[p->pos];

		if (c < 0x20) {
			rc = perr(p, "control character in string (escape it)");
			goto fail;
		}
		if (c == '\\') {
			char e = p->s[++p->pos];
			unsigned cp, lo;

			p->pos++;
			switch (e) {
			case '"': *d++ = '"'; break;
			case '\\': *d++ = '\\'; break;
			case '/': *d++ = '/'; break;
			case 'b': *d++ = '\b'; break;
			case 'f': *d++ = '\f'; break;
			case 'n': *d++ = '\n'; break;
			case 'r': *d++ = '\r'; break;
			case 't': *d++ = '\t'; break;
			case 'u':
				if ((rc = hex4(p, &cp)) != 0)
					goto fail;
				if (cp >= 0xdc00 && cp <= 0xdfff) {
					rc = perr(p, "unpaired surrogate in \\u escape");
					goto fail;
				}
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (p->pos + 2 > end || p->s[p->pos] != '\\' ||
					    p->s[p->pos + 1] != 'u') {
						rc = perr(p, "unpaired surrogate in \\u escape");
						goto fail;
					}
					p->pos += 2;
					if ((rc = hex4(p, &lo)) != 0)
						goto fail;
					if (lo < 0xdc00 || lo > 0xdfff) {
						rc = perr(p, "unpaired surrogate in \\u escape");
						goto fail;
					}
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				if (cp == 0) {
					rc = perr(p, "\\u0000 is not allowed in strings");
					goto fail;
				}
				/* \uXXXX is six bytes of source for at most three of
				 * output; a pair is twelve for four. */
				d += utf8_put(d, cp);
				break;
			default:
				p->pos--;
				rc = perr(p, "bad escape in string");
				goto fail;
			}
			continue;
		}
		{
			size_t n = utf8_decode((const unsigned char *)p->s + p->pos, end - p->pos, NULL);

			if (n == 0) {
				rc = perr(p, "invalid UTF-8 in string");
				goto fail;
			}
			memcpy(d, p->s + p->pos, n);
			d += n;
			p->pos += n;
		}
	}
	*d = '\0';
	p->pos = end + 1;
	*out = buf;
	return 0;
fail:
	free(buf);
	return rc;
}

static int
parse_number(struct parser *p, struct json *v)
{
	size_t start = p->pos;
	const char *s = p->s;

#define DIGIT(i) ((i) < p->len && s[i] >= '0' && s[i] <= '9')
	if (p->pos < p->len && s[p->pos] == '-')
		p->pos++;
	if (!DIGIT(p->pos))
		return perr(p, "bad number");
	if (s[p->pos] == '0')
		p->pos++;
	else
		while (DIGIT(p->pos))
			p->pos++;
	if (p->pos < p->len && s[p->pos] == '.') {
		p->pos++;
		if (!DIGIT(p->pos))
			return perr(p, "bad number: digits must follow '.'");
		while (DIGIT(p->pos))
			p->pos++;
	}
	if (p->pos < p->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (s[p->pos] == '+' || s[p->pos] == '-'))
			p->pos++;
		if (!DIGIT(p->pos))
			return perr(p, "bad number: digits must follow the exponent");
		while (DIGIT(p->pos))
			p->pos++;
	}
#undef DIGIT
	if ((v->str = strndup(s + start, p->pos - start)) == NULL)
		return perr(p, "out of memory");
	return 0;
}

static int parse_value(struct parser *p, struct json **out, int depth);

static int
add_item(struct parser *p, struct json *v, struct json *item, char *key, size_t *cap)
{
	if (v->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct json **items = realloc(v->items, ncap * sizeof(*items));

		if (items == NULL)
			return perr(p, "out of memory");
		v->items = items;
		if (v->type == JSON_OBJECT) {
			char **keys = realloc(v->keys, ncap * sizeof(*keys));

			if (keys == NULL)
				return perr(p, "out of memory");
			v->keys = keys;
		}
		*cap = ncap;
	}
	v->items[v->n] = item;
	if (v->type == JSON_OBJECT)
		v->keys[v->n] = key;
	v->n++;
	return 0;
}

static int
parse_container(struct parser *p, struct json *v, int depth)
{
	char close = v->type == JSON_OBJECT ? '}' : ']';
	size_t cap = 0;
	int rc;

	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		struct json *item = NULL;
		char *key = NULL;

		skip_ws(p);
		if (v->type == JSON_OBJECT) {
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return perr(p, "expected a string key");
			if ((rc = parse_string(p, &key)) != 0)
				return rc;
			if (json_get(v, key) != NULL) {
				p->pos--;
				rc = perr(p, "duplicate key \"%s\"", key);
				free(key);
				return rc;
			}
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':') {
				free(key);
				return perr(p, "expected ':' after a key");
			}
			p->pos++;
		}
		if ((rc = parse_value(p, &item, depth + 1)) != 0) {
			free(key);
			return rc;
		}
		if ((rc = add_item(p, v, item, key, &cap)) != 0) {
			free(key);
			json_free(item);
			return rc;
		}
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		return perr(p, "expected ',' or '%c'", close);
	}
}

static int
literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return perr(p, "unexpected character");
	p->pos += n;
	return 0;
}

static int
parse_value(struct parser *p, struct json **out, int depth)
{
	struct json *v;
	int rc;
	char c;

	skip_ws(p);
	if (p->pos >= p->len)
		return perr(p, "unexpected end of input");
	if (depth > JSON_MAX_DEPTH)
		return perr(p, "nested deeper than %d", JSON_MAX_DEPTH);
	c = p->s[p->pos];
	if ((v = new_value(p, JSON_NULL)) == NULL)
		return perr(p, "out of memory");
	switch (c) {
	case '{':
		v->type = JSON_OBJECT;
		rc = parse_container(p, v, depth);
		break;
	case '[':
		v->type = JSON_ARRAY;
		rc = parse_container(p, v, depth);
		break;
	case '"':
		v->type = JSON_STRING;
		rc = parse_string(p, &v->str);
		break;
	case 't':
		v->type = JSON_BOOL;
		v->b = true;
		rc = literal(p, "true");
		break;
	case 'f':
		v->type = JSON_BOOL;
		rc = literal(p, "false");
		break;
	case 'n':
		rc = literal(p, "null");
		break;
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			v->type = JSON_NUMBER;
			rc = parse_number(p, v);
		} else {
			rc = perr(p, "unexpected character");
		}
	}
	if (rc != 0) {
		json_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

int
json_parse(const char *text, size_t len, struct json **out, char *err, size_t errlen)
{
	struct parser p = { text, len, 0, 1, 0, err, errlen };
	struct json *v = NULL;
	int rc;

	if ((rc = parse_value(&p, &v, 0)) != 0)
		return rc;
	skip_ws(&p);
	if (p.pos < p.len) {
		json_free(v);
		return perr(&p, "unexpected text after the value");
	}
	*out = v;
	return 0;
}

void
json_free(struct json *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		json_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	free(v);
}

const struct json *
json_get(const struct json *obj, const char *key)
{
	if (obj == NULL || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->items[i];
	return NULL;
}

int
json_to_int(const struct json *v, int64_t *out)
{
	const char *s;
	long long n;
	char *end;

	if (v == NULL || v->type != JSON_NUMBER)
		return -EINVAL;
	s = v->str;
	if (strpbrk(s, ".eE") != NULL)
		return -EINVAL;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	*out = (int64_t)n;
	return 0;
}

const char *
json_type_name(enum json_type t)
{
	static const char *const names[] = {
		"null", "a boolean", "a number", "a string", "an array", "an object"
	};

	return (unsigned)t <= JSON_OBJECT ? names[t] : "?";
}

/* ---------------------------------------------------------------- emitter */

void
json_out_init(struct json_out *o, FILE *f)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
}

static void
indent(struct json_out *o)
{
	fputc('\n', o->f);
	for (int i = 0; i < o->depth; i++)
		fputs("  ", o->f);
}

/* Separator and indentation before a value or a key. */
static void
before(struct json_out *o)
{
	if (o->after_key) {
		o->after_key = false;
		return;
	}
	if (o->depth == 0)
		return;
	if (o->need_comma[o->depth])
		fputc(',', o->f);
	o->need_comma[o->depth] = true;
	indent(o);
}

static void
begin(struct json_out *o, char c)
{
	before(o);
	fputc(c, o->f);
	if (o->depth < JSON_MAX_DEPTH)
		o->depth++;
	o->need_comma[o->depth] = false;
}

static void
end(struct json_out *o, char c)
{
	bool had = o->need_comma[o->depth];

	if (o->depth > 0)
		o->depth--;
	if (had)
		indent(o);
	fputc(c, o->f);
}

void
json_out_begin_object(struct json_out *o)
{
	begin(o, '{');
}

void
json_out_end_object(struct json_out *o)
{
	end(o, '}');
}

void
json_out_begin_array(struct json_out *o)
{
	begin(o, '[');
}

void
json_out_end_array(struct json_out *o)
{
	end(o, ']');
}

void
json_write_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	fputc('"', f);
	while (n > 0) {
		unsigned char c = *p;
		size_t l;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			l = 1;
		} else if (c == '\n') {
			fputs("\\n", f);
			l = 1;
		} else if (c == '\t') {
			fputs("\\t", f);
			l = 1;
		} else if (c == '\r') {
			fputs("\\r", f);
			l = 1;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			l = 1;
		} else if ((l = utf8_decode(p, n, NULL)) == 0) {
			fputs("\\ufffd", f);
			l = 1;
		} else {
			fwrite(p, 1, l, f);
		}
		p += l;
		n -= l;
	}
	fputc('"', f);
}

void
json_out_key(struct json_out *o, const char *key)
{
	before(o);
	json_write_string(o->f, key);
	fputs(": ", o->f);
	o->after_key = true;
}

void
json_out_string(struct json_out *o, const char *s)
{
	before(o);
	if (s == NULL)
		fputs("null", o->f);
	else
		json_write_string(o->f, s);
}

void
json_out_int(struct json_out *o, int64_t v)
{
	before(o);
	fprintf(o->f, "%lld", (long long)v);
}

void
json_out_uint(struct json_out *o, uint64_t v)
{
	before(o);
	fprintf(o->f, "%llu", (unsigned long long)v);
}

void
json_out_bool(struct json_out *o, bool v)
{
	before(o);
	fputs(v ? "true" : "false", o->f);
}

void
json_out_null(struct json_out *o)
{
	before(o);
	fputs("null", o->f);
}

void
json_out_raw(struct json_out *o, const char *json)
{
	before(o);
	fputs(json ? json : "null", o->f);
}

void
json_out_key_uint(struct json_out *o, const char *key, uint64_t v)
{
	json_out_key(o, key);
	json_out_uint(o, v);
}

void
json_out_key_string(struct json_out *o, const char *key, const char *s)
{
	json_out_key(o, key);
	json_out_string(o, s);
}

void
json_out_value(struct json_out *o, const struct json *v)
{
	if (v == NULL) {
		json_out_null(o);
		return;
	}
	switch (v->type) {
	case JSON_NULL:
		json_out_null(o);
		break;
	case JSON_BOOL:
		json_out_bool(o, v->b);
		break;
	case JSON_NUMBER:
		json_out_raw(o, v->str);        /* the number's own text */
		break;
	case JSON_STRING:
		json_out_string(o, v->str);
		break;
	case JSON_ARRAY:
		json_out_begin_array(o);
		for (size_t i = 0; i < v->n; i++)
			json_out_value(o, v->items[i]);
		json_out_end_array(o);
		break;
	case JSON_OBJECT:
		json_out_begin_object(o);
		for (size_t i = 0; i < v->n; i++) {
			json_out_key(o, v->keys[i]);
			json_out_value(o, v->items[i]);
		}
		json_out_end_object(o);
		break;
	}
}

void
json_out_end(struct json_out *o)
{
	fputc('\n', o->f);
}
