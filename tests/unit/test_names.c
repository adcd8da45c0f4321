/* test_names.c: unit tests for names.c (RFC 1035/1123 name syntax, normal form). */
#include <errno.h>
#include <string.h>

#include "sipedge/names.h"
#include "unit.h"

/* Normalise in and expect out (NULL: refused, with a reason). */
static int
expect(const char *in, const char *out)
{
	char buf[NAMES_MAX + 1];
	const char *why = NULL;
	int rc = names_normalize(in, buf, sizeof(buf), &why);

	if (out == NULL) {
		CHECK_EQ_INT(rc, -EINVAL);
		CHECK(why != NULL && why[0] != '\0');
		return 0;
	}
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_STR(buf, out);
	return 0;
}

static int
test_names_valid(void)
{
	CHECK(expect("fabrikam.test", "fabrikam.test") == 0);
	CHECK(expect("sip.fabrikam.test", "sip.fabrikam.test") == 0);
	CHECK(expect("a", "a") == 0);
	CHECK(expect("x-1.y2.z", "x-1.y2.z") == 0);
	CHECK(expect("1.example.test", "1.example.test") == 0);
	CHECK(expect("a--b.test", "a--b.test") == 0);
	return 0;
}

static int
test_names_lower_case_and_trailing_dot(void)
{
	CHECK(expect("FabriKAM.Test", "fabrikam.test") == 0);
	CHECK(expect("SIP.FABRIKAM.TEST.", "sip.fabrikam.test") == 0);
	CHECK(expect("a.", "a") == 0);
	return 0;
}

static int
test_names_bad_syntax(void)
{
	CHECK(expect("", NULL) == 0);
	CHECK(expect(NULL, NULL) == 0);
	CHECK(expect(".", NULL) == 0);
	CHECK(expect("..", NULL) == 0);
	CHECK(expect(".fabrikam.test", NULL) == 0);
	CHECK(expect("fabrikam..test", NULL) == 0);
	CHECK(expect("fabrikam.test..", NULL) == 0);
	CHECK(expect("-fabrikam.test", NULL) == 0);
	CHECK(expect("fabrikam-.test", NULL) == 0);
	CHECK(expect("fabrikam.test-", NULL) == 0);
	CHECK(expect("fab_rikam.test", NULL) == 0);
	CHECK(expect("fab rikam.test", NULL) == 0);
	CHECK(expect("fabrikam.test:5061", NULL) == 0);
	CHECK(expect("user@fabrikam.test", NULL) == 0);
	CHECK(expect("f\xc3\xa9.test", NULL) == 0);
	CHECK(expect("127.0.0.1", NULL) == 0);
	CHECK(expect("fabrikam.123", NULL) == 0);
	return 0;
}

static int
test_names_wildcards(void)
{
	const char *why = NULL;
	char buf[NAMES_MAX + 1];

	CHECK_EQ_INT(names_normalize("*.fabrikam.test", buf, sizeof(buf), &why), -EINVAL);
	CHECK(strstr(why, "wildcard") != NULL);
	CHECK(expect("sip.*.test", NULL) == 0);
	CHECK(!names_wildcard_free("*.fabrikam.test"));
	CHECK(!names_wildcard_free("sip*.fabrikam.test"));
	CHECK(names_wildcard_free("sip.fabrikam.test"));
	CHECK(!names_wildcard_free(NULL));
	return 0;
}

static int
test_names_lengths(void)
{
	char label63[64], label64[65], name[300], buf[NAMES_MAX + 1];
	const char *why = NULL;

	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'b', 64);
	label64[64] = '\0';
	snprintf(name, sizeof(name), "%s.test", label63);
	CHECK(expect(name, name) == 0);
	snprintf(name, sizeof(name), "%s.test", label64);
	CHECK_EQ_INT(names_normalize(name, buf, sizeof(buf), &why), -EINVAL);
	CHECK(strstr(why, "63") != NULL);

	/* 4 * 63 + 3 dots = 255 > 253; 3 * 63 + 61 + 3 = 253 is the limit. */
	snprintf(name, sizeof(name), "%s.%s.%s.%s", label63, label63, label63, label63);
	CHECK_EQ_INT(names_normalize(name, buf, sizeof(buf), &why), -EINVAL);
	CHECK(strstr(why, "253") != NULL);
	snprintf(name, sizeof(name), "%s.%s.%s.%.61s", label63, label63, label63, label63);
	CHECK_EQ_INT(strlen(name), 253);
	CHECK(expect(name, name) == 0);
	/* With its trailing dot the same name is 254 characters and still valid. */
	strcat(name, ".");
	CHECK_EQ_INT(names_normalize(name, buf, sizeof(buf), NULL), 0);
	CHECK_EQ_INT(strlen(buf), 253);
	/* An output buffer too small is an error, never an overflow. */
	CHECK_EQ_INT(names_normalize("fabrikam.test", buf, 5, NULL), -EINVAL);
	return 0;
}

static int
test_names_in_place_and_is_normal(void)
{
	char s[] = "Sip.Fabrikam.Test.";

	CHECK_EQ_INT(names_normalize(s, s, sizeof(s), NULL), 0);
	CHECK_EQ_STR(s, "sip.fabrikam.test");
	CHECK(names_is_normal("sip.fabrikam.test"));
	CHECK(!names_is_normal("Sip.fabrikam.test"));
	CHECK(!names_is_normal("sip.fabrikam.test."));
	CHECK(!names_is_normal("bad_name.test"));
	CHECK(!names_is_normal(""));
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_names_valid),
	UNIT(test_names_lower_case_and_trailing_dot),
	UNIT(test_names_bad_syntax),
	UNIT(test_names_wildcards),
	UNIT(test_names_lengths),
	UNIT(test_names_in_place_and_is_normal),
	{ 0 }
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
