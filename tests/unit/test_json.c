/* test_json.c: unit tests for the JSON parser and emitter (src/json.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/json.c"
#include "unit.h"

static int
parse_ok(const char *text, struct json **out)
{
	char err[256] = "";
	int rc = json_parse(text, strlen(text), out, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "# parse of %s failed: %s\n", text, err);
	return rc;
}

/* Expect a parse error whose message contains want. */
static int
parse_bad(const char *text, size_t len, const char *want)
{
	struct json *v = NULL;
	char err[256] = "";
	int rc = json_parse(text, len, &v, err, sizeof(err));

	if (rc != -EINVAL || strstr(err, want) == NULL) {
		fprintf(stderr, "# \"%s\": rc %d, err \"%s\", wanted \"%s\"\n", text, rc, err, want);
		json_free(v);
		return 1;
	}
	return 0;
}

static int
test_json_values(void)
{
	struct json *v = NULL;
	int64_t n;

	CHECK(parse_ok(" {\"a\": [1, -2, 3.5, 1e3, true, false, null, \"x\"], \"b\": {}} ", &v) == 0);
	CHECK_EQ_INT(v->type, JSON_OBJECT);
	CHECK_EQ_INT(v->n, 2);
	CHECK_EQ_INT(json_get(v, "a")->n, 8);
	CHECK(json_to_int(json_get(v, "a")->items[0], &n) == 0 && n == 1);
	CHECK(json_to_int(json_get(v, "a")->items[1], &n) == 0 && n == -2);
	CHECK_EQ_INT(json_to_int(json_get(v, "a")->items[2], &n), -EINVAL);
	CHECK_EQ_INT(json_to_int(json_get(v, "a")->items[3], &n), -EINVAL);
	CHECK(json_get(v, "a")->items[4]->b);
	CHECK_EQ_INT(json_get(v, "a")->items[6]->type, JSON_NULL);
	CHECK_EQ_STR(json_get(v, "a")->items[7]->str, "x");
	CHECK_EQ_INT(json_get(v, "b")->type, JSON_OBJECT);
	CHECK(json_get(v, "c") == NULL);
	json_free(v);
	CHECK(parse_ok("\"\"", &v) == 0);
	CHECK_EQ_STR(v->str, "");
	json_free(v);
	CHECK(parse_ok("[99999999999999999999]", &v) == 0);
	CHECK_EQ_INT(json_to_int(v->items[0], &n), -ERANGE);
	json_free(v);
	return 0;
}

static int
test_json_escapes_and_utf8(void)
{
	struct json *v = NULL;

	CHECK(parse_ok("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac\\ud83d\\ude00\"", &v) == 0);
	CHECK_EQ_STR(v->str, "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	json_free(v);
	CHECK(parse_ok("\"caf\xc3\xa9\"", &v) == 0);
	CHECK_EQ_STR(v->str, "caf\xc3\xa9");
	json_free(v);
	CHECK(parse_bad("\"\\ud83d\"", 8, "surrogate") == 0);
	CHECK(parse_bad("\"\\ude00\"", 8, "surrogate") == 0);
	CHECK(parse_bad("\"\\ud83d\\u0041\"", 14, "surrogate") == 0);
	CHECK(parse_bad("\"\\u0000\"", 8, "u0000") == 0);
	CHECK(parse_bad("\"\\u12\"", 6, "truncated") == 0);
	CHECK(parse_bad("\"\\u12xy\"", 8, "hex") == 0);
	CHECK(parse_bad("\"\\x\"", 4, "escape") == 0);
	CHECK(parse_bad("\"\xc3\"", 3, "UTF-8") == 0);
	CHECK(parse_bad("\"\xc0\xaf\"", 4, "UTF-8") == 0);        /* overlong */
	CHECK(parse_bad("\"\xed\xa0\x80\"", 5, "UTF-8") == 0);    /* surrogate */
	CHECK(parse_bad("\"\xf4\x90\x80\x80\"", 6, "UTF-8") == 0); /* > U+10FFFF */
	CHECK(parse_bad("\"a\nb\"", 5, "control") == 0);
	CHECK(parse_bad("\"abc", 4, "unterminated") == 0);
	CHECK(parse_bad("\"abc\\\"", 6, "unterminated") == 0);
	return 0;
}

static int
test_json_syntax_errors(void)
{
	char deep[200];

	CHECK(parse_bad("", 0, "end of input") == 0);
	CHECK(parse_bad("   ", 3, "end of input") == 0);
	CHECK(parse_bad("{", 1, "expected a string key") == 0);
	CHECK(parse_bad("{\"a\" 1}", 7, "':'") == 0);
	CHECK(parse_bad("{\"a\": 1,}", 9, "expected a string key") == 0);
	CHECK(parse_bad("[1,]", 4, "unexpected character") == 0);
	CHECK(parse_bad("[1 2]", 5, "expected ','") == 0);
	CHECK(parse_bad("{\"a\": 1, \"a\": 2}", 16, "duplicate key") == 0);
	CHECK(parse_bad("01", 2, "after the value") == 0);
	CHECK(parse_bad("-", 1, "bad number") == 0);
	CHECK(parse_bad("1.", 2, "'.'") == 0);
	CHECK(parse_bad("1e", 2, "exponent") == 0);
	CHECK(parse_bad("tru", 3, "unexpected character") == 0);
	CHECK(parse_bad("nul", 3, "unexpected character") == 0);
	CHECK(parse_bad("{} {}", 5, "after the value") == 0);
	CHECK(parse_bad("'a'", 3, "unexpected character") == 0);
	CHECK(parse_bad("[1]\0", 4, "after the value") == 0);
	/* Errors carry line and column. */
	CHECK(parse_bad("{\n  \"a\": x\n}", 12, "2:8:") == 0);
	memset(deep, '[', sizeof(deep));
	CHECK(parse_bad(deep, sizeof(deep), "nested deeper") == 0);
	return 0;
}

static int
test_json_emitter(void)
{
	struct json_out o;
	struct json *v = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(f != NULL);
	json_out_init(&o, f);
	json_out_begin_object(&o);
	json_out_key(&o, "s");
	json_out_string(&o, "q\"b\\n\n\x01\xff\xc3\xa9");
	json_out_key(&o, "n");
	json_out_int(&o, -5);
	json_out_key(&o, "u");
	json_out_uint(&o, 18446744073709551615ULL);
	json_out_key(&o, "e");
	json_out_begin_array(&o);
	json_out_end_array(&o);
	json_out_key(&o, "a");
	json_out_begin_array(&o);
	json_out_bool(&o, true);
	json_out_null(&o);
	json_out_string(&o, NULL);
	json_out_raw(&o, "{\"x\":1}");
	json_out_end_array(&o);
	json_out_end_object(&o);
	json_out_end(&o);
	fclose(f);
	CHECK_EQ_STR(buf, "{\n  \"s\": \"q\\\"b\\\\n\\n\\u0001\\ufffd\xc3\xa9\",\n  \"n\": -5,\n"
	    "  \"u\": 18446744073709551615,\n  \"e\": [],\n"
	    "  \"a\": [\n    true,\n    null,\n    null,\n    {\"x\":1}\n  ]\n}\n");
	/* What it writes, it reads back. */
	CHECK(parse_ok(buf, &v) == 0);
	CHECK_EQ_STR(json_get(v, "s")->str, "q\"b\\n\n\x01\xef\xbf\xbd\xc3\xa9");
	json_free(v);
	free(buf);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_json_values),
	UNIT(test_json_escapes_and_utf8),
	UNIT(test_json_syntax_errors),
	UNIT(test_json_emitter),
	{ 0 }
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
