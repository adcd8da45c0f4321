/* test_xmpp_pres.c: unit tests for xmpp_pres.c: RFC 8048 section 6 (Tables
 * 1 and 2, notes 2, 4, 6 and 7), the PIDF text byte for byte (RFC 3863, RPID
 * RFC 4480), and the inverse mapping from extracted PIDF values. */
#include <errno.h>
#include <string.h>

#include "sipedge/xmpp_pres.h"
#include "unit.h"

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define PIDF "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\""
#define RPID " xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"" \
	" xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\""

/* 2026-12-01T10:00:00Z */
#define STAMP ((time_t)1796119200)

static const struct xmpp_pidf_opts full_opts = {
	.entity = "sip:juliet@example.com",
	.resource = "balcony",
	.contact = "sip:juliet@example.com;gr=balcony",
	.timestamp = STAMP,
	.rpid = true,
};

static int
expect_doc(const struct xmpp_pres *p, const struct xmpp_pidf_opts *o, const char *doc)
{
	char buf[4096];

	CHECK_EQ_INT(xmpp_pres_write_pidf(p, o, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, doc);
	/* Exactly enough room, and one octet less. */
	CHECK_EQ_INT(xmpp_pres_write_pidf(p, o, buf, strlen(doc) + 1), 0);
	CHECK_EQ_INT(xmpp_pres_write_pidf(p, o, buf, strlen(doc)), -ENOSPC);
	CHECK_EQ_STR(buf, "");
	return 0;
}

/* The document for one show value with every option on. */
#define DOC_OPEN(ns, show, prio, person)                                       \
	HEAD PIDF ns " entity=\"sip:juliet@example.com\">\n"                   \
	"  <tuple id=\"ID-balcony\">\n"                                        \
	"    <status>\n"                                                       \
	"      <basic>open</basic>\n"                                          \
	show                                                                   \
	"    </status>\n"                                                      \
	"    <contact priority=\"" prio "\">sip:juliet@example.com;gr=balcony</contact>\n" \
	"    <note xml:lang=\"en\">Out &amp; about &lt;3</note>\n"             \
	"    <timestamp>2026-12-01T10:00:00Z</timestamp>\n"                    \
	"  </tuple>\n"                                                         \
	person                                                                 \
	"</presence>\n"

#define SHOW(v) "      <show xmlns=\"jabber:client\">" v "</show>\n"
#define PERSON(act) "  <dm:person id=\"p\">\n    <rpid:activities>\n      <rpid:" act \
	"/>\n    </rpid:activities>\n  </dm:person>\n"

static int
write_show(enum xmpp_show show, const char *doc)
{
	struct xmpp_pres p = { true, show, "Out & about <3", "en", 5 };

	return expect_doc(&p, &full_opts, doc);
}

/* RFC 8048 Table 1: no 'type' is basic "open"; no <show/>, no activity. */
static int
test_xmpp_pres_write_available(void)
{
	return write_show(XMPP_SHOW_NONE, DOC_OPEN("", "", "0.039", ""));
}

/* Note 7: <show/> in <status/>; RPID away beside it. */
static int
test_xmpp_pres_write_away(void)
{
	return write_show(XMPP_SHOW_AWAY, DOC_OPEN(RPID, SHOW("away"), "0.039", PERSON("away")));
}

/* chat says no more than "available": no activity. */
static int
test_xmpp_pres_write_chat(void)
{
	return write_show(XMPP_SHOW_CHAT, DOC_OPEN("", SHOW("chat"), "0.039", ""));
}

/* dnd "merely means busy" (note 7). */
static int
test_xmpp_pres_write_dnd(void)
{
	return write_show(XMPP_SHOW_DND, DOC_OPEN(RPID, SHOW("dnd"), "0.039", PERSON("busy")));
}

/* xa: RPID has no extended away; away, with <show>xa</show> keeping it. */
static int
test_xmpp_pres_write_xa(void)
{
	return write_show(XMPP_SHOW_XA, DOC_OPEN(RPID, SHOW("xa"), "0.039", PERSON("away")));
}

/* Without the RPID option the same states carry <show/> alone. */
static int
test_xmpp_pres_write_no_rpid(void)
{
	struct xmpp_pidf_opts o = full_opts;
	struct xmpp_pres p = { true, XMPP_SHOW_DND, "Out & about <3", "en", 5 };

	o.rpid = false;
	return expect_doc(&p, &o, DOC_OPEN("", SHOW("dnd"), "0.039", ""));
}

/* Table 1 notes 4 and 5: type 'unavailable' is "closed"; no <show/>, no
 * activity and no priority, even when the struct holds them. */
static int
test_xmpp_pres_write_unavailable(void)
{
	struct xmpp_pres p = { false, XMPP_SHOW_DND, "Gone home", NULL, 10 };

	return expect_doc(&p, &full_opts,
	    HEAD PIDF " entity=\"sip:juliet@example.com\">\n"
	    "  <tuple id=\"ID-balcony\">\n"
	    "    <status>\n"
	    "      <basic>closed</basic>\n"
	    "    </status>\n"
	    "    <contact>sip:juliet@example.com;gr=balcony</contact>\n"
	    "    <note>Gone home</note>\n"
	    "    <timestamp>2026-12-01T10:00:00Z</timestamp>\n"
	    "  </tuple>\n"
	    "</presence>\n");
}

/* The least document: no resource ("ID"), contact, note or timestamp. */
static int
test_xmpp_pres_write_minimal(void)
{
	struct xmpp_pres p = { true, XMPP_SHOW_NONE, NULL, NULL, 0 };
	struct xmpp_pidf_opts o = { .entity = "pres:romeo@example.net" };

	return expect_doc(&p, &o,
	    HEAD PIDF " entity=\"pres:romeo@example.net\">\n"
	    "  <tuple id=\"ID\">\n"
	    "    <status>\n"
	    "      <basic>open</basic>\n"
	    "    </status>\n"
	    "  </tuple>\n"
	    "</presence>\n");
}

/* Note 6: a negative priority is not mapped; the contact stays. */
static int
test_xmpp_pres_write_negative_priority(void)
{
	struct xmpp_pres p = { true, XMPP_SHOW_NONE, NULL, NULL, -1 };
	struct xmpp_pidf_opts o = { .entity = "sip:a@x.example", .resource = "r",
		.contact = "sip:a@x.example;gr=r" };

	return expect_doc(&p, &o,
	    HEAD PIDF " entity=\"sip:a@x.example\">\n"
	    "  <tuple id=\"ID-r\">\n"
	    "    <status>\n"
	    "      <basic>open</basic>\n"
	    "    </status>\n"
	    "    <contact>sip:a@x.example;gr=r</contact>\n"
	    "  </tuple>\n"
	    "</presence>\n");
}

/* Note 2 and the xs:ID type: any resourcepart makes a distinct NCName. */
static int
test_xmpp_pres_tuple_id(void)
{
	struct xmpp_pres p = { true, XMPP_SHOW_NONE, NULL, NULL, 0 };
	struct xmpp_pidf_opts o = { .entity = "sip:a@x.example",
		.resource = "1 Phone_x.y-z/\xe2\x99\x9a\"<&" };

	return expect_doc(&p, &o,
	    HEAD PIDF " entity=\"sip:a@x.example\">\n"
	    "  <tuple id=\"ID-1_20Phone_5fx.y-z_2f_e2_99_9a_22_3c_26\">\n"
	    "    <status>\n"
	    "      <basic>open</basic>\n"
	    "    </status>\n"
	    "  </tuple>\n"
	    "</presence>\n");
}

/* XML escaping of every string written, a carriage return kept. */
static int
test_xmpp_pres_write_escaping(void)
{
	struct xmpp_pres p = { true, XMPP_SHOW_NONE, "a<b>c&d\"e'f\r\ng\th \xe2\x99\x9a", "x\"y", 0 };
	struct xmpp_pidf_opts o = { .entity = "sip:a&b@x.example", .contact = "sip:a&b@x.example;gr=<r>" };

	return expect_doc(&p, &o,
	    HEAD PIDF " entity=\"sip:a&amp;b@x.example\">\n"
	    "  <tuple id=\"ID\">\n"
	    "    <status>\n"
	    "      <basic>open</basic>\n"
	    "    </status>\n"
	    "    <contact priority=\"0\">sip:a&amp;b@x.example;gr=&lt;r&gt;</contact>\n"
	    "    <note xml:lang=\"x&quot;y\">a&lt;b&gt;c&amp;d&quot;e&apos;f&#13;\ng\th \xe2\x99\x9a</note>\n"
	    "  </tuple>\n"
	    "</presence>\n");
}

/* What XML 1.0 cannot carry, and a missing entity, are refused. */
static int
test_xmpp_pres_write_refusals(void)
{
	struct xmpp_pres p = { true, XMPP_SHOW_NONE, NULL, NULL, 0 };
	struct xmpp_pidf_opts o = { .entity = "sip:a@x.example" };
	char buf[1024];

	p.status = "bell\x07";
	CHECK_EQ_INT(xmpp_pres_write_pidf(&p, &o, buf, sizeof(buf)), -EINVAL);
	CHECK_EQ_STR(buf, "");
	p.status = "bad \xc3";
	CHECK_EQ_INT(xmpp_pres_write_pidf(&p, &o, buf, sizeof(buf)), -EINVAL);
	p.status = "nonchar \xef\xbf\xbe";
	CHECK_EQ_INT(xmpp_pres_write_pidf(&p, &o, buf, sizeof(buf)), -EINVAL);
	p.status = "fine";
	p.lang = "\x01";
	CHECK_EQ_INT(xmpp_pres_write_pidf(&p, &o, buf, sizeof(buf)), -EINVAL);
	p.lang = NULL;
	o.contact = "sip:\x1b@x";
	CHECK_EQ_INT(xmpp_pres_write_pidf(&p, &o, buf, sizeof(buf)), -EINVAL);
	o.contact = NULL;
	o.entity = NULL;
	CHECK_EQ_INT(xmpp_pres_write_pidf(&p, &o, buf, sizeof(buf)), -EINVAL);
	o.entity = "";
	CHECK_EQ_INT(xmpp_pres_write_pidf(&p, &o, buf, sizeof(buf)), -EINVAL);
	o.entity = "sip:a@x.example";
	CHECK_EQ_INT(xmpp_pres_write_pidf(&p, &o, buf, 0), -ENOSPC);
	CHECK_EQ_INT(xmpp_pres_write_pidf(&p, &o, buf, sizeof(buf)), 0);
	return 0;
}

/* ---------------------------------------------------------------- priority */

/* Note 6: 0 -> 0, 127 -> 1, and the RFC's own examples (1 -> 0.007,
 * 2 -> 0.015, 126 -> 0.992); all 128 values distinct and mapped back. */
static int
test_xmpp_pres_priority(void)
{
	char buf[8], seen[128][8];
	int back;

	CHECK_EQ_INT(xmpp_pres_priority_to_pidf(0, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "0");
	CHECK_EQ_INT(xmpp_pres_priority_to_pidf(127, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "1");
	CHECK_EQ_INT(xmpp_pres_priority_to_pidf(1, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "0.007");
	CHECK_EQ_INT(xmpp_pres_priority_to_pidf(2, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "0.015");
	CHECK_EQ_INT(xmpp_pres_priority_to_pidf(126, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "0.992");
	CHECK_EQ_INT(xmpp_pres_priority_to_pidf(13, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "0.102");
	for (int i = 0; i <= 127; i++) {
		CHECK_EQ_INT(xmpp_pres_priority_to_pidf(i, seen[i], sizeof(seen[i])), 0);
		for (int k = 0; k < i; k++)
			CHECK(strcmp(seen[i], seen[k]) != 0);
		CHECK_EQ_INT(xmpp_pres_priority_from_pidf(seen[i], &back), 0);
		CHECK_EQ_INT(back, i);
	}
	CHECK_EQ_INT(xmpp_pres_priority_to_pidf(-1, buf, sizeof(buf)), -ERANGE);
	CHECK_EQ_INT(xmpp_pres_priority_to_pidf(-128, buf, sizeof(buf)), -ERANGE);
	CHECK_EQ_INT(xmpp_pres_priority_to_pidf(128, buf, sizeof(buf)), -EINVAL);
	CHECK_EQ_INT(xmpp_pres_priority_to_pidf(126, buf, 6), 0);
	CHECK_EQ_INT(xmpp_pres_priority_to_pidf(126, buf, 5), -ENOSPC);
	return 0;
}

/* RFC 3863 qvalues: "0(.[0-9]{0,3})?" and "1(.0{0,3})?" only. */
static int
test_xmpp_pres_priority_from_pidf(void)
{
	static const struct {
		const char *q;
		int prio;
	} ok[] = {
		{ "0", 0 }, { "0.", 0 }, { "0.0", 0 }, { "0.000", 0 }, { "1", 127 },
		{ "1.", 127 }, { "1.000", 127 }, { "0.5", 64 }, { "0.8", 102 }, { "0.05", 6 },
		{ "0.004", 1 }, { "0.003", 0 }, { "0.999", 127 },
	};
	static const char *const bad[] = {
		"", "2", "-0.5", "0.1234", "1.001", "1.5", ".5", "0,5", "00", "0.5x", " 0.5", "0x1",
	};
	int p;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_EQ_INT(xmpp_pres_priority_from_pidf(ok[i].q, &p), 0);
		CHECK_EQ_INT(p, ok[i].prio);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(xmpp_pres_priority_from_pidf(bad[i], &p), -EINVAL);
	CHECK_EQ_INT(xmpp_pres_priority_from_pidf(NULL, &p), -EINVAL);
	return 0;
}

/* -------------------------------------------------------------- show/RPID */

static int
test_xmpp_pres_show_names(void)
{
	static const char *const names[] = { "away", "chat", "dnd", "xa" };
	static const enum xmpp_show shows[] = { XMPP_SHOW_AWAY, XMPP_SHOW_CHAT, XMPP_SHOW_DND, XMPP_SHOW_XA };
	enum xmpp_show s = XMPP_SHOW_CHAT;

	for (size_t i = 0; i < 4; i++) {
		CHECK_EQ_STR(xmpp_show_name(shows[i]), names[i]);
		CHECK_EQ_INT(xmpp_show_from_name(names[i], &s), 0);
		CHECK_EQ_INT(s, shows[i]);
	}
	CHECK(xmpp_show_name(XMPP_SHOW_NONE) == NULL);
	CHECK(xmpp_show_name((enum xmpp_show)9) == NULL);
	CHECK_EQ_INT(xmpp_show_from_name("busy", &s), -ENOENT);
	CHECK_EQ_INT(xmpp_show_from_name("DND", &s), -ENOENT);
	CHECK_EQ_INT(xmpp_show_from_name("", &s), -ENOENT);
	CHECK_EQ_INT(xmpp_show_from_name(NULL, &s), -ENOENT);
	CHECK_EQ_INT(s, XMPP_SHOW_XA);
	return 0;
}

static int
test_xmpp_pres_show_activity(void)
{
	CHECK(xmpp_pres_show_activity(XMPP_SHOW_NONE) == NULL);
	CHECK(xmpp_pres_show_activity(XMPP_SHOW_CHAT) == NULL);
	CHECK_EQ_STR(xmpp_pres_show_activity(XMPP_SHOW_AWAY), "away");
	CHECK_EQ_STR(xmpp_pres_show_activity(XMPP_SHOW_XA), "away");
	CHECK_EQ_STR(xmpp_pres_show_activity(XMPP_SHOW_DND), "busy");
	CHECK(xmpp_pres_show_activity((enum xmpp_show)9) == NULL);
	return 0;
}

static int
test_xmpp_pres_activities_show(void)
{
	static const struct {
		const char *name;
		enum xmpp_show show;
	} one[] = {
		{ "away", XMPP_SHOW_AWAY }, { "busy", XMPP_SHOW_DND }, { "on-the-phone", XMPP_SHOW_DND },
		{ "meeting", XMPP_SHOW_DND }, { "appointment", XMPP_SHOW_DND },
		{ "presentation", XMPP_SHOW_DND }, { "performance", XMPP_SHOW_DND },
		{ "vacation", XMPP_SHOW_XA }, { "holiday", XMPP_SHOW_XA },
		{ "permanent-absence", XMPP_SHOW_XA }, { "lunch", XMPP_SHOW_NONE },
		{ "travel", XMPP_SHOW_NONE }, { "sleeping", XMPP_SHOW_NONE }, { "unknown", XMPP_SHOW_NONE },
		{ "other", XMPP_SHOW_NONE }, { "Busy", XMPP_SHOW_NONE },
	};
	const char *mix1[] = { "lunch", "away", "travel" };
	const char *mix2[] = { "away", "vacation" };
	const char *mix3[] = { "vacation", "meeting", "away" };
	const char *mix4[] = { NULL, "busy" };

	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++)
		CHECK_EQ_INT(xmpp_pres_activities_show(&one[i].name, 1), one[i].show);
	CHECK_EQ_INT(xmpp_pres_activities_show(NULL, 0), XMPP_SHOW_NONE);
	CHECK_EQ_INT(xmpp_pres_activities_show(mix1, 3), XMPP_SHOW_AWAY);
	CHECK_EQ_INT(xmpp_pres_activities_show(mix2, 2), XMPP_SHOW_XA);
	CHECK_EQ_INT(xmpp_pres_activities_show(mix3, 3), XMPP_SHOW_DND);
	CHECK_EQ_INT(xmpp_pres_activities_show(mix4, 2), XMPP_SHOW_DND);
	return 0;
}

/* ------------------------------------------------------------ PIDF to XMPP */

/* Table 2 note 1: "open" is available, "closed" unavailable; <note/> is
 * <status/> with its language; the contact priority comes back. */
static int
test_xmpp_pres_read_open(void)
{
	struct xmpp_pidf_values v = { .basic = "open", .note = "Lunch", .note_lang = "en",
		.priority = "0.5" };
	struct xmpp_pres p;

	CHECK_EQ_INT(xmpp_pres_from_pidf(&v, &p, NULL), 0);
	CHECK(p.available);
	CHECK_EQ_INT(p.show, XMPP_SHOW_NONE);
	CHECK_EQ_STR(p.status, "Lunch");
	CHECK_EQ_STR(p.lang, "en");
	CHECK_EQ_INT(p.priority, 64);
	return 0;
}

static int
test_xmpp_pres_read_closed(void)
{
	const char *acts[] = { "busy" };
	struct xmpp_pidf_values v = { .basic = "closed", .show = "dnd", .activities = acts,
		.n_activities = 1, .note = "Gone", .priority = "1" };
	struct xmpp_pres p;

	CHECK_EQ_INT(xmpp_pres_from_pidf(&v, &p, NULL), 0);
	CHECK(!p.available);
	CHECK_EQ_INT(p.show, XMPP_SHOW_NONE);
	CHECK_EQ_STR(p.status, "Gone");
	CHECK(p.lang == NULL);
	CHECK_EQ_INT(p.priority, 0);
	return 0;
}

/* Note 3: each <show/> value passes through, and beats the activities. */
static int
test_xmpp_pres_read_show(void)
{
	static const char *const names[] = { "away", "chat", "dnd", "xa" };
	static const enum xmpp_show shows[] = { XMPP_SHOW_AWAY, XMPP_SHOW_CHAT, XMPP_SHOW_DND, XMPP_SHOW_XA };
	const char *acts[] = { "vacation" };

	for (size_t i = 0; i < 4; i++) {
		struct xmpp_pidf_values v = { .basic = "open", .show = names[i], .activities = acts,
			.n_activities = 1 };
		struct xmpp_pres p;

		CHECK_EQ_INT(xmpp_pres_from_pidf(&v, &p, NULL), 0);
		CHECK_EQ_INT(p.show, shows[i]);
	}
	return 0;
}

/* Without a usable <show/>, the RPID activities decide. */
static int
test_xmpp_pres_read_activities(void)
{
	const char *acts[] = { "meeting" };
	struct xmpp_pidf_values v = { .basic = "open", .activities = acts, .n_activities = 1 };
	struct xmpp_pres p;

	CHECK_EQ_INT(xmpp_pres_from_pidf(&v, &p, NULL), 0);
	CHECK_EQ_INT(p.show, XMPP_SHOW_DND);
	v.show = "busy";        /* not one of RFC 6121's four: ignored */
	CHECK_EQ_INT(xmpp_pres_from_pidf(&v, &p, NULL), 0);
	CHECK_EQ_INT(p.show, XMPP_SHOW_DND);
	v.n_activities = 0;
	CHECK_EQ_INT(xmpp_pres_from_pidf(&v, &p, NULL), 0);
	CHECK_EQ_INT(p.show, XMPP_SHOW_NONE);
	return 0;
}

/* A malformed priority is ignored (RFC 3863 4.1.5); a missing or unknown
 * basic status is refused with a reason. */
static int
test_xmpp_pres_read_refusals(void)
{
	struct xmpp_pidf_values v = { .basic = "open", .priority = "1.5" };
	struct xmpp_pres p;
	const char *why = NULL;

	CHECK_EQ_INT(xmpp_pres_from_pidf(&v, &p, &why), 0);
	CHECK_EQ_INT(p.priority, 0);
	v.basic = NULL;
	CHECK_EQ_INT(xmpp_pres_from_pidf(&v, &p, &why), -EINVAL);
	CHECK(why != NULL && strstr(why, "no basic status") != NULL);
	v.basic = "Open";
	CHECK_EQ_INT(xmpp_pres_from_pidf(&v, &p, &why), -EINVAL);
	CHECK(strstr(why, "neither open nor closed") != NULL);
	v.basic = "busy";
	CHECK_EQ_INT(xmpp_pres_from_pidf(&v, &p, NULL), -EINVAL);
	return 0;
}

/* Written and read back (the values a parser would extract from the
 * document written), every show value survives. */
static int
test_xmpp_pres_round_trip(void)
{
	static const enum xmpp_show shows[] = {
		XMPP_SHOW_NONE, XMPP_SHOW_AWAY, XMPP_SHOW_CHAT, XMPP_SHOW_DND, XMPP_SHOW_XA,
	};

	for (size_t i = 0; i < 5; i++) {
		const char *act = xmpp_pres_show_activity(shows[i]);
		char prio[8];
		struct xmpp_pres in = { true, shows[i], "s", "en", 42 }, out;
		struct xmpp_pidf_values v = { .basic = "open", .show = xmpp_show_name(shows[i]),
			.activities = &act, .n_activities = act ? 1 : 0, .note = "s",
			.note_lang = "en", .priority = prio };

		CHECK_EQ_INT(xmpp_pres_priority_to_pidf(in.priority, prio, sizeof(prio)), 0);
		CHECK_EQ_INT(xmpp_pres_from_pidf(&v, &out, NULL), 0);
		CHECK(out.available);
		CHECK_EQ_INT(out.show, in.show);
		CHECK_EQ_INT(out.priority, 42);
		/* Without <show/>, RPID alone keeps all but xa (read as away)
		 * and chat (read as plain available). */
		v.show = NULL;
		CHECK_EQ_INT(xmpp_pres_from_pidf(&v, &out, NULL), 0);
		CHECK_EQ_INT(out.show, shows[i] == XMPP_SHOW_XA ? XMPP_SHOW_AWAY :
		    shows[i] == XMPP_SHOW_CHAT ? XMPP_SHOW_NONE : shows[i]);
	}
	return 0;
}

/* ---------------------------------------------------------- resources */

/* RFC 8048 note 2: one tuple per resource, in the order given; the RPID
 * person is that of the resource of highest priority (phone: away), not of
 * the first or the last. */
static int
test_xmpp_pres_write_tuples(void)
{
	struct xmpp_pres_tuple t[2] = {
		{ "laptop", "sip:juliet@example.com;gr=laptop",
		  { true, XMPP_SHOW_DND, "In a meeting", NULL, 1 } },
		{ "phone", "sip:juliet@example.com;gr=phone",
		  { true, XMPP_SHOW_AWAY, NULL, NULL, 5 } },
	};
	struct xmpp_pidf_opts o = { .entity = "pres:juliet@example.com", .rpid = true };
	char buf[4096];

	CHECK_EQ_INT(xmpp_pres_write_pidf_tuples(t, 2, &o, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, HEAD PIDF RPID " entity=\"pres:juliet@example.com\">\n"
	    "  <tuple id=\"ID-laptop\">\n    <status>\n      <basic>open</basic>\n"
	    SHOW("dnd") "    </status>\n"
	    "    <contact priority=\"0.007\">sip:juliet@example.com;gr=laptop</contact>\n"
	    "    <note>In a meeting</note>\n  </tuple>\n"
	    "  <tuple id=\"ID-phone\">\n    <status>\n      <basic>open</basic>\n"
	    SHOW("away") "    </status>\n"
	    "    <contact priority=\"0.039\">sip:juliet@example.com;gr=phone</contact>\n"
	    "  </tuple>\n" PERSON("away") "</presence>\n");
	/* No resource: refused; the same single tuple as xmpp_pres_write_pidf. */
	CHECK_EQ_INT(xmpp_pres_write_pidf_tuples(t, 0, &o, buf, sizeof(buf)), -EINVAL);
	return 0;
}

/* The resource a contact is most reachable at: priority first, then show
 * (none or chat, away, xa, dnd), then the first; unavailable ones never. */
static int
test_xmpp_pres_best(void)
{
	struct xmpp_pres_tuple t[4] = {
		{ "a", NULL, { true, XMPP_SHOW_DND, NULL, NULL, 3 } },
		{ "b", NULL, { false, XMPP_SHOW_NONE, NULL, NULL, 0 } },
		{ "c", NULL, { true, XMPP_SHOW_AWAY, NULL, NULL, 3 } },
		{ "d", NULL, { true, XMPP_SHOW_NONE, NULL, NULL, -1 } },
	};

	CHECK_EQ_INT((int)xmpp_pres_best(t, 4), 2);
	t[0].p.priority = 4;
	CHECK_EQ_INT((int)xmpp_pres_best(t, 4), 0);
	t[3].p.show = XMPP_SHOW_CHAT;
	t[3].p.priority = 4;
	CHECK_EQ_INT((int)xmpp_pres_best(t, 4), 3);
	t[3].p.show = XMPP_SHOW_NONE;
	t[0].p.show = XMPP_SHOW_CHAT;
	CHECK_EQ_INT((int)xmpp_pres_best(t, 4), 0);         /* a tie: the first */
	CHECK_EQ_INT((int)xmpp_pres_best(t + 1, 1), 1);      /* none available: n */
	CHECK_EQ_INT((int)xmpp_pres_best(t, 0), 0);
	return 0;
}

static const struct unit_test tests[] = {
	UNIT(test_xmpp_pres_write_tuples),
	UNIT(test_xmpp_pres_best),
	UNIT(test_xmpp_pres_write_available),
	UNIT(test_xmpp_pres_write_away),
	UNIT(test_xmpp_pres_write_chat),
	UNIT(test_xmpp_pres_write_dnd),
	UNIT(test_xmpp_pres_write_xa),
	UNIT(test_xmpp_pres_write_no_rpid),
	UNIT(test_xmpp_pres_write_unavailable),
	UNIT(test_xmpp_pres_write_minimal),
	UNIT(test_xmpp_pres_write_negative_priority),
	UNIT(test_xmpp_pres_tuple_id),
	UNIT(test_xmpp_pres_write_escaping),
	UNIT(test_xmpp_pres_write_refusals),
	UNIT(test_xmpp_pres_priority),
	UNIT(test_xmpp_pres_priority_from_pidf),
	UNIT(test_xmpp_pres_show_names),
	UNIT(test_xmpp_pres_show_activity),
	UNIT(test_xmpp_pres_activities_show),
	UNIT(test_xmpp_pres_read_open),
	UNIT(test_xmpp_pres_read_closed),
	UNIT(test_xmpp_pres_read_show),
	UNIT(test_xmpp_pres_read_activities),
	UNIT(test_xmpp_pres_read_refusals),
	UNIT(test_xmpp_pres_round_trip),
	{ 0 }
};

int
main(int argc, char **argv)
{
	return unit_main(argc, argv, tests);
}
