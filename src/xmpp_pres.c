/* xmpp_pres.c: XMPP presence (RFC 6121 section 4.7) to and from PIDF
 * (RFC 3863 section 4, RPID RFC 4480 section 3.2) per RFC 8048 section 6. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "sipedge/fmt.h"
#include "sipedge/utf8.h"
#include "sipedge/xmpp_pres.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const show_names[] = {
	[XMPP_SHOW_NONE] = NULL,
	[XMPP_SHOW_AWAY] = "away",
	[XMPP_SHOW_CHAT] = "chat",
	[XMPP_SHOW_DND] = "dnd",
	[XMPP_SHOW_XA] = "xa",
};

/* The RPID activity written for each show value.  RFC 8048 leaves the choice
 * to the gateway (note 7 of Table 1); these follow RFC 4480 section 3.2:
 * "away" is physically away (XMPP away, and xa for lack of an "extended"
 * activity: the <show/> element written beside it keeps the difference),
 * "busy" is busy without details, which is what RFC 8048 says dnd means.
 * chat is only "available", which basic "open" already says. */
static const char *const show_activity[] = {
	[XMPP_SHOW_NONE] = NULL,
	[XMPP_SHOW_AWAY] = "away",
	[XMPP_SHOW_CHAT] = NULL,
	[XMPP_SHOW_DND] = "busy",
	[XMPP_SHOW_XA] = "away",
};

/* Reading RPID without a <show/> element: the activities of RFC 4480
 * section 3.2 that imply a show value.  Being in a meeting, on the phone or
 * presenting is being busy; a vacation, a holiday or a permanent absence is
 * being away for an extended period.  Other activities (a meal, travel,
 * sleeping...) say nothing about availability for chat and map to nothing. */
static const struct {
	const char *name;
	enum xmpp_show show;
} activity_show[] = {
	{ "away", XMPP_SHOW_AWAY },
	{ "busy", XMPP_SHOW_DND },
	{ "on-the-phone", XMPP_SHOW_DND },
	{ "meeting", XMPP_SHOW_DND },
	{ "appointment", XMPP_SHOW_DND },
	{ "presentation", XMPP_SHOW_DND },
	{ "performance", XMPP_SHOW_DND },
	{ "vacation", XMPP_SHOW_XA },
	{ "holiday", XMPP_SHOW_XA },
	{ "permanent-absence", XMPP_SHOW_XA },
};

/* How unavailable each show value is, to pick one among several activities. */
static const int show_rank[] = {
	[XMPP_SHOW_NONE] = 0, [XMPP_SHOW_CHAT] = 0, [XMPP_SHOW_AWAY] = 1,
	[XMPP_SHOW_XA] = 2, [XMPP_SHOW_DND] = 3,
};

const char *
xmpp_show_name(enum xmpp_show s)
{
	return (unsigned)s < NELEM(show_names) ? show_names[s] : NULL;
}

int
xmpp_show_from_name(const char *name, enum xmpp_show *out)
{
	for (unsigned i = 0; name && i < NELEM(show_names); i++)
		if (show_names[i] && strcmp(name, show_names[i]) == 0) {
			*out = (enum xmpp_show)i;
			return 0;
		}
	return -ENOENT;
}

const char *
xmpp_pres_show_activity(enum xmpp_show s)
{
	return (unsigned)s < NELEM(show_activity) ? show_activity[s] : NULL;
}

enum xmpp_show
xmpp_pres_activities_show(const char *const *names, size_t n)
{
	enum xmpp_show best = XMPP_SHOW_NONE;

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; names[i] && k < NELEM(activity_show); k++)
			if (strcmp(names[i], activity_show[k].name) == 0 &&
			    show_rank[activity_show[k].show] > show_rank[best])
				best = activity_show[k].show;
	return best;
}

/* ------------------------------------------------------------- priority */

int
xmpp_pres_priority_to_pidf(int priority, char *buf, size_t len)
{
	struct fmt f;
	int t;

	if (priority < 0)
		return -ERANGE;
	if (priority > XMPP_PRIORITY_MAX)
		return -EINVAL;
	if (len < 6)
		return -ENOSPC;
	f = fmt_init(buf, len);
	t = priority * 1000 / XMPP_PRIORITY_MAX;
	if (t == 0 || t == 1000) {
		fmt_char(&f, t ? '1' : '0');
	} else {
		fmt_str(&f, "0.");
		fmt_char(&f, (char)('0' + t / 100));
		fmt_char(&f, (char)('0' + t / 10 % 10));
		fmt_char(&f, (char)('0' + t % 10));
	}
	return 0;
}

int
xmpp_pres_priority_from_pidf(const char *q, int *out)
{
	int t = 0, scale = 100;
	const char *p;

	/* RFC 3863 section 4.4: "0(.[0-9]{0,3})?" or "1(.0{0,3})?". */
	if (q == NULL || (q[0] != '0' && q[0] != '1'))
		return -EINVAL;
	if (q[1] != '\0' && q[1] != '.')
		return -EINVAL;
	p = q[1] == '.' ? q + 2 : q + 1;
	for (int i = 0; p[i]; i++) {
		if (i == 3 || p[i] < '0' || p[i] > '9')
			return -EINVAL;
		t += (p[i] - '0') * scale;
		scale /= 10;
	}
	if (q[0] == '1') {
		if (t != 0)
			return -EINVAL;
		t = 1000;
	}
	*out = (t * XMPP_PRIORITY_MAX + 500) / 1000;
	return 0;
}

/* ---------------------------------------------------------------- write */

/* Append s XML-escaped (XML 1.0 section 2.4 for text, 3.3.3 for attribute
 * values in double quotes).  A carriage return is written as a character
 * reference, since a parser would otherwise turn it into a line feed.
 * Refuses what is not UTF-8 and the characters XML 1.0 section 2.2 excludes:
 * the C0 controls other than tab, line feed and carriage return, and U+FFFE
 * and U+FFFF. */
static int
xml_text(struct fmt *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		unsigned cp;
		size_t l = utf8_decode(p + i, n - i, &cp);

		if (l == 0 || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
		    cp == 0xfffe || cp == 0xffff)
			return -EINVAL;
		switch (cp) {
		case '&': fmt_str(f, "&amp;"); break;
		case '<': fmt_str(f, "&lt;"); break;
		case '>': fmt_str(f, "&gt;"); break;
		case '"': fmt_str(f, "&quot;"); break;
		case '\'': fmt_str(f, "&apos;"); break;
		case '\r': fmt_str(f, "&#13;"); break;
		default: fmt_mem(f, (const char *)p + i, l); break;
		}
		i += l;
	}
	return 0;
}

/* The tuple id: an xs:ID is an NCName, which a resourcepart (any UTF-8 but
 * controls) need not be, so every octet other than an ASCII letter, digit,
 * '-' or '.' becomes '_' and two hex digits.  '_' itself is encoded, so two
 * resourceparts never share an id. */
static void
tuple_id(struct fmt *f, const char *resource)
{
	fmt_str(f, "ID");
	if (resource == NULL || resource[0] == '\0')
		return;
	fmt_char(f, '-');
	for (const unsigned char *p = (const unsigned char *)resource; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.') {
			fmt_char(f, (char)*p);
		} else {
			fmt_char(f, '_');
			fmt_hex(f, *p, 2);
		}
	}
}

/* One <tuple/>; the bits of the escapes' failures. */
static int
write_tuple(struct fmt *f, const struct xmpp_pres_tuple *t, const char *tsv)
{
	const struct xmpp_pres *p = &t->p;
	const char *show = p->available ? xmpp_show_name(p->show) : NULL;
	char prio[8];
	/* RFC 8048 note 6: a negative priority is not mapped; nor is the
	 * priority of an unavailable resource, which RFC 6121 4.7.2.3 gives
	 * only to available presence. */
	bool has_prio = p->available && t->contact != NULL &&
	    xmpp_pres_priority_to_pidf(p->priority, prio, sizeof(prio)) == 0;
	int rc = 0;

	fmt_str(f, "  <tuple id=\"");
	tuple_id(f, t->resource);
	fmt_str(f, "\">\n    <status>\n      <basic>");
	fmt_str(f, p->available ? "open" : "closed");
	fmt_str(f, "</basic>\n");
	/* RFC 8048 note 7 (and its Example 19): <show/> as a PIDF extension in
	 * <status/>, after <basic/> as the RFC 3863 schema orders them. */
	if (show) {
		fmt_str(f, "      <show xmlns=\"jabber:client\">");
		fmt_str(f, show);
		fmt_str(f, "</show>\n");
	}
	fmt_str(f, "    </status>\n");
	if (t->contact) {
		fmt_str(f, "    <contact");
		if (has_prio) {
			fmt_str(f, " priority=\"");
			fmt_str(f, prio);
			fmt_char(f, '"');
		}
		fmt_char(f, '>');
		rc |= xml_text(f, t->contact);
		fmt_str(f, "</contact>\n");
	}
	if (p->status) {
		fmt_str(f, "    <note");
		if (p->lang) {
			fmt_str(f, " xml:lang=\"");
			rc |= xml_text(f, p->lang);
			fmt_char(f, '"');
		}
		fmt_char(f, '>');
		rc |= xml_text(f, p->status);
		fmt_str(f, "</note>\n");
	}
	if (tsv) {
		fmt_str(f, "    <timestamp>");
		fmt_str(f, tsv);
		fmt_str(f, "</timestamp>\n");
	}
	fmt_str(f, "  </tuple>\n");
	return rc;
}

size_t
xmpp_pres_best(const struct xmpp_pres_tuple *t, size_t n)
{
	size_t best = n;

	for (size_t i = 0; i < n; i++) {
		if (!t[i].p.available)
			continue;
		if (best == n || t[i].p.priority > t[best].p.priority ||
		    (t[i].p.priority == t[best].p.priority &&
		    show_rank[t[i].p.show] < show_rank[t[best].p.show]))
			best = i;
	}
	return best;
}

int
xmpp_pres_write_pidf_tuples(const struct xmpp_pres_tuple *t, size_t n,
    const struct xmpp_pidf_opts *o, char *buf, size_t len)
{
	size_t best = xmpp_pres_best(t, n);
	const char *act = best < n && o->rpid ? xmpp_pres_show_activity(t[best].p.show) : NULL;
	char ts[32];
	struct fmt f;
	int rc = 0;

	if (len == 0)
		return -ENOSPC;
	f = fmt_init(buf, len);
	if (o->entity == NULL || o->entity[0] == '\0' || n == 0)
		return -EINVAL;
	if (o->timestamp) {
		struct tm tm;

		/* RFC 3863 4.1.7: RFC 3339 date-time, capital 'T' and 'Z'. */
		if (gmtime_r(&o->timestamp, &tm) == NULL ||
		    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			return -EINVAL;
	}
	fmt_str(&f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"");
	if (act)
		fmt_str(&f, " xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\""
		    " xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\"");
	fmt_str(&f, " entity=\"");
	rc |= xml_text(&f, o->entity);
	fmt_str(&f, "\">\n");
	for (size_t i = 0; i < n; i++)
		rc |= write_tuple(&f, &t[i], o->timestamp ? ts : NULL);
	/* RFC 4480 Table 1: <activities/> belongs to the <person/> element of
	 * the data model (RFC 4479), not to a tuple: the person's is that of
	 * the resource the contact is most reachable at. */
	if (act) {
		fmt_str(&f, "  <dm:person id=\"p\">\n    <rpid:activities>\n      <rpid:");
		fmt_str(&f, act);
		fmt_str(&f, "/>\n    </rpid:activities>\n  </dm:person>\n");
	}
	fmt_str(&f, "</presence>\n");
	if (rc != 0) {
		buf[0] = '\0';
		return -EINVAL;
	}
	if (f.over) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}

int
xmpp_pres_write_pidf(const struct xmpp_pres *p, const struct xmpp_pidf_opts *o,
    char *buf, size_t len)
{
	struct xmpp_pres_tuple t = { o->resource, o->contact, *p };

	return xmpp_pres_write_pidf_tuples(&t, 1, o, buf, len);
}

/* ----------------------------------------------------------------- read */

int
xmpp_pres_from_pidf(const struct xmpp_pidf_values *v, struct xmpp_pres *out,
    const char **why)
{
	const char *dummy;
	int prio;

	if (why == NULL)
		why = &dummy;
	/* Table 2 note 1. */
	if (v->basic == NULL) {
		*why = "tuple has no basic status";
		return -EINVAL;
	}
	if (strcmp(v->basic, "open") == 0) {
		out->available = true;
	} else if (strcmp(v->basic, "closed") == 0) {
		out->available = false;
	} else {
		*why = "basic status is neither open nor closed";
		return -EINVAL;
	}
	out->show = XMPP_SHOW_NONE;
	/* Note 3: a <show/> the SIP side carries passes through; a value that
	 * is none of RFC 6121's four is ignored rather than sent on. */
	if (out->available && (v->show == NULL || xmpp_show_from_name(v->show, &out->show) < 0))
		out->show = xmpp_pres_activities_show(v->activities, v->n_activities);
	out->status = v->note;
	out->lang = v->note ? v->note_lang : NULL;
	out->priority = 0;
	if (out->available && v->priority && xmpp_pres_priority_from_pidf(v->priority, &prio) == 0)
		out->priority = prio;
	return 0;
}
