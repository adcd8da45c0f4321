/* json.h: a small JSON (RFC 8259) parser into a tree, and a streaming emitter,
 * for sipedgectl's --json output, the export/import format and the
 * daemon's control socket answers. */
#ifndef SIPEDGE_JSON_H
#define SIPEDGE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 64

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

/* A parsed value; the tree owns all its strings and children. */
struct json {
	enum json_type type;
	bool b;                            /* JSON_BOOL */
	char *str;                         /* JSON_STRING: UTF-8, no NUL inside;
	                                    * JSON_NUMBER: the number's text */
	size_t n;                          /* ARRAY / OBJECT: number of items */
	struct json **items;               /* ARRAY elements, OBJECT values */
	char **keys;                       /* OBJECT keys, unique */
	unsigned line, col;                /* where the value starts (1-based) */
};

/* Parse exactly one value (surrounded by optional white space) from text.
 * Strings must be valid UTF-8; "\u0000", unpaired surrogates, duplicate keys
 * and nesting deeper than JSON_MAX_DEPTH are refused.  On error returns
 * -EINVAL and writes "line:col: message" to err. */
int json_parse(const char *text, size_t len, struct json **out, char *err, size_t errlen);
void json_free(struct json *v);
/* The value of key in an object, or NULL. */
const struct json *json_get(const struct json *obj, const char *key);
/* An integral number within int64_t (no fraction or exponent): 0 or -ERANGE
 * / -EINVAL. */
int json_to_int(const struct json *v, int64_t *out);
const char *json_type_name(enum json_type t);

/* The emitter writes pretty-printed JSON (two-space indents) to a stdio
 * stream; the caller checks ferror() at the end. */
struct json_out {
	FILE *f;
	int depth;
	bool need_comma[JSON_MAX_DEPTH + 1];
	bool after_key;
};

void json_out_init(struct json_out *o, FILE *f);
void json_out_begin_object(struct json_out *o);
void json_out_end_object(struct json_out *o);
void json_out_begin_array(struct json_out *o);
void json_out_end_array(struct json_out *o);
void json_out_key(struct json_out *o, const char *key);
/* NULL writes null.  Bytes that are not valid UTF-8 become U+FFFD. */
void json_out_string(struct json_out *o, const char *s);
void json_out_int(struct json_out *o, int64_t v);
void json_out_uint(struct json_out *o, uint64_t v);
void json_out_bool(struct json_out *o, bool v);
void json_out_null(struct json_out *o);
/* A value that is already JSON text (from the store's audit log), written
 * verbatim; NULL writes null. */
void json_out_raw(struct json_out *o, const char *json);
/* s as one JSON string, quotes included, on one line (the logger's too). */
void json_write_string(FILE *f, const char *s);
/* A key and its value in one call (NULL s writes null). */
void json_out_key_uint(struct json_out *o, const char *key, uint64_t v);
void json_out_key_string(struct json_out *o, const char *key, const char *s);
/* A parsed value, again (its numbers as they were written). */
void json_out_value(struct json_out *o, const struct json *v);
/* End the document with a newline. */
void json_out_end(struct json_out *o);

#endif
