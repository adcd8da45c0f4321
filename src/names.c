/* names.c: DNS name syntax (RFC 1035 2.3.1, RFC 1123 2.1) and normal form. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "sipedge/names.h"

static bool
is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int
names_normalize(const char *in, char *out, size_t outlen, const char **why)
{
	const char *reason = NULL;
	size_t len, lab = 0, lab_start = 0;
	bool all_digits = true;
	char buf[NAMES_MAX + 1];

	if (in == NULL || in[0] == '\0') {
		reason = "empty name";
		goto out;
	}
	len = strlen(in);
	/* One trailing dot marks an absolute name; it is not part of the normal form. */
	if (in[len - 1] == '.')
		len--;
	if (len == 0) {
		reason = "empty name";
		goto out;
	}
	if (len > NAMES_MAX) {
		reason = "name longer than 253 characters";
		goto out;
	}
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? in[i] : '.';

		if (c == '.') {
			if (lab == 0) {
				reason = "empty label";
				goto out;
			}
			if (in[i - 1] == '-') {
				reason = "label ends with a hyphen";
				goto out;
			}
			if (i == len && all_digits) {
				reason = "last label is all digits (an address, not a name)";
				goto out;
			}
			buf[i] = '.';
			lab = 0;
			lab_start = i + 1;
			all_digits = true;
			continue;
		}
		if (c == '*') {
			reason = "wildcards are not allowed";
			goto out;
		}
		if (!is_ldh(c)) {
			reason = "invalid character (letters, digits, hyphens and dots only)";
			goto out;
		}
		if (c == '-' && i == lab_start) {
			reason = "label starts with a hyphen";
			goto out;
		}
		if (++lab > NAMES_LABEL_MAX) {
			reason = "label longer than 63 characters";
			goto out;
		}
		if (c < '0' || c > '9')
			all_digits = false;
		buf[i] = lower(c);
	}
	if (outlen < len + 1) {
		reason = "output buffer too small";
		goto out;
	}
	memcpy(out, buf, len);
	out[len] = '\0';
out:
	if (reason != NULL) {
		if (why != NULL)
			*why = reason;
		return -EINVAL;
	}
	return 0;
}

bool
names_is_normal(const char *s)
{
	char buf[NAMES_MAX + 1];

	if (names_normalize(s, buf, sizeof(buf), NULL) != 0)
		return false;
	return strcmp(s, buf) == 0;
}

bool
names_wildcard_free(const char *s)
{
	return s != NULL && strchr(s, '*') == NULL;
}
