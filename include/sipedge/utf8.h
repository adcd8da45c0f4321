/* utf8.h: decoding one UTF-8 sequence strictly (RFC 3629 section 3), shared by
 * the JSON parser and the XMPP address and presence code.  Header only. */
#ifndef SIPEDGE_UTF8_H
#define SIPEDGE_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes, n >= 1), or 0 when
 * it is invalid: a stray continuation byte, a truncated sequence, an overlong
 * form, a surrogate (U+D800-U+DFFF) or a value above U+10FFFF.  When cp is not
 * NULL and the sequence is valid, *cp receives its code point. */
static inline size_t
utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
	unsigned c = s[0], v;
	size_t len;

	if (c < 0x80) {
		if (cp)
			*cp = c;
		return 1;
	}
	/* 0xc0 and 0xc1 could only start overlong two-byte forms; 0xf5 and above
	 * would start values beyond U+10FFFF. */
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	if (cp)
		*cp = v;
	return len;
}

#endif
