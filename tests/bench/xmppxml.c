/* xmppxml.c: micro-benchmark of the XMPP XML layer (src/xmpp_xml*.c): CPU time
 * per ~300-octet <message/> stanza parsed from a stream (one read per
 * stanza, and many stanzas per read), serialized, and parsed by expat alone
 * in namespace mode with no handlers (the floor).  Not a test: make
 * tests/bench/xmppxml && tests/bench/xmppxml [stanzas]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <expat.h>

#include "sipedge/xmpp_xml.h"

static const char header[] =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
    "from='fabrikam.test' to='contoso.test' version='1.0'>";

static const char stanza[] =
    "<message from='alice@fabrikam.test/laptop' to='bob@contoso.test' type='chat' "
    "id='a1b2c3d4' xml:lang='en'><body>Hello Bob, are we still on for lunch tomorrow at "
    "noon? Let me know &amp; bring the slides &lt;v2&gt;.</body><thread>t-7f3a91</thread>"
    "<active xmlns='http://jabber.org/protocol/chatstates'/></message>";

static unsigned long count;
static struct xml_doc *kept;

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
on_elem(void *ud, struct xml_doc *d)
{
	(void)ud;
	count++;
	if (kept == NULL)
		kept = d;
	else
		xml_doc_free(d);
	return 0;
}

static void
report(const char *what, double secs, unsigned long n)
{
	printf("%-44s %8.3f us/stanza  (%lu stanzas, %.3f s)\n", what, secs * 1e6 / (double)n, n, secs);
}

int
main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	const struct xmpp_parser_cbs cbs = { NULL, on_elem, NULL };
	struct xmpp_parser_limits l;
	struct xmpp_parser *p;
	struct xml_buf out = { 0 };
	size_t len = sizeof(stanza) - 1, batch = 200;
	char *many = malloc(len * batch);
	double t;

	printf("stanza: %zu octets\n", len);
	for (size_t i = 0; i < batch; i++)
		memcpy(many + i * len, stanza, len);
	xmpp_parser_limits_authed(&l);

	/* One read per stanza. */
	if (xmpp_parser_new(&l, &cbs, NULL, &p) < 0 ||
	    xmpp_parser_feed(p, header, sizeof(header) - 1, NULL) != 0)
		return 1;
	count = 0;
	t = cpu_now();
	for (unsigned long i = 0; i < n; i++)
		if (xmpp_parser_feed(p, stanza, len, NULL) != 0)
			return 1;
	report("xmpp_parser_feed, one stanza per read", cpu_now() - t, count);
	xmpp_parser_free(p);

	/* Many stanzas per read (a busy stream). */
	if (xmpp_parser_new(&l, &cbs, NULL, &p) < 0 ||
	    xmpp_parser_feed(p, header, sizeof(header) - 1, NULL) != 0)
		return 1;
	count = 0;
	t = cpu_now();
	for (unsigned long i = 0; i < n / batch; i++)
		if (xmpp_parser_feed(p, many, len * batch, NULL) != 0)
			return 1;
	report("xmpp_parser_feed, 200 stanzas per read", cpu_now() - t, count);
	xmpp_parser_free(p);

	/* Serializing the tree back. */
	t = cpu_now();
	for (unsigned long i = 0; i < n; i++) {
		xml_buf_reset(&out);
		if (xml_serialize(&out, xml_doc_root(kept), XMPP_NS_SERVER) < 0)
			return 1;
	}
	report("xml_serialize", cpu_now() - t, n);
	printf("tree: %zu octets of arena; serialized: %zu octets\n", xml_doc_size(kept), out.len);

	/* expat alone, namespace mode, no handlers: what any use of it costs. */
	{
		XML_Parser x = XML_ParserCreateNS("UTF-8", '\x01');

		if (XML_Parse(x, header, sizeof(header) - 1, XML_FALSE) != XML_STATUS_OK)
			return 1;
		t = cpu_now();
		for (unsigned long i = 0; i < n; i++)
			if (XML_Parse(x, stanza, (int)len, XML_FALSE) != XML_STATUS_OK)
				return 1;
		report("expat alone (XML_Parse, no handlers)", cpu_now() - t, n);
		XML_ParserFree(x);
	}
	xml_doc_free(kept);
	xml_buf_free(&out);
	free(many);
	return 0;
}
