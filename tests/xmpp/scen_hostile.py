"""scen_hostile.py: a hostile server-to-server peer (rawpeer.py) against
sipedge: addresses it has not authenticated (RFC 6120 §8.1.2.1 invalid-from,
§4.9.3.6 host-unknown, XEP-0178 §3 authzid), restricted XML (§11.1: DOCTYPE
with a billion-laughs payload, comments, processing instructions),
oversized stanzas (§4.9.3.12 policy-violation with XEP-0205's
stanza-too-big), deep nesting and XML that is not well-formed (§4.9.3.13).
Each is refused with its condition and diagnostic code, nothing reaches the
pool, sipedge's memory does not grow, and a well-behaved stream still works.

One lab (test 'hostile-peer'): sipedge with fabrikam.test allowed (SASL
EXTERNAL, the default row), no Prosody; the raw peers present the lab's
xmpp-fabrikam certificate.
"""

import re

import edge
from rawpeer import stream_header

# XEP-0205 §3: the application condition of an oversized stanza.
NS_ERRORS = "urn:xmpp:errors"
SPOOF = "<message from='%s' to='%s' type='chat' id='%s'><body>%s</body></message>"


def billion_laughs():
    """A stream header behind a DOCTYPE whose entities expand to 10^9 'lol's
    (the classic exponential entity expansion) and which uses them."""
    ents = ["<!ENTITY lol0 \"lol\">"]
    for i in range(1, 10):
        ents.append("<!ENTITY lol%d \"%s\">" % (i, ("&lol%d;" % (i - 1)) * 10))
    head = stream_header("fabrikam.test", "contoso.test").decode()
    return ("<?xml version='1.0'?><!DOCTYPE stream:stream [%s]>%s&lol9;" % (
        "".join(ents), head.split("?>", 1)[1])).encode()


def spoofing(lab, uas):
    """Stanzas and authentication for what the stream is not."""
    cases = (("from='eve@northwind.test'", "eve@northwind.test/x", "bob@contoso.test",
              "invalid-from", 3003),
             ("to a domain we do not serve", "alice@fabrikam.test/raw", "bob@litware.test",
              "host-unknown", 3002))
    for n, (what, frm, to, cond, code) in enumerate(cases, 1):
        p = edge.raw_external(lab)
        p.send(SPOOF % (frm, to, "sp-%d" % n, "spoofed"))
        r = p.read_until_close(5)
        lab.ok(edge.closed_with(r, cond, code),
               "spoofing, %s on a stream authenticated as fabrikam.test: <%s/> with %d (%s)"
               % (what, cond, code, edge.showr(r)), edge.rawdiag(p))
        p.close()
    p = edge.raw_peer(lab)
    p.open(frm="fabrikam.test", to="northwind.test")
    r = p.read_until_close(5)
    lab.ok(edge.closed_with(r, "host-unknown", 3002) and p.features is None and
           (p.header or {}).get("from") == "contoso.test",
           "spoofing, a stream header to northwind.test (not ours): <host-unknown/> with 3002 "
           "before any feature (%s)" % edge.showr(r), edge.rawdiag(p))
    p.close()
    p = edge.raw_peer(lab)
    feats = edge.raw_tls(lab, p)
    outcome, cond = p.sasl_external("northwind.test") if feats is not None else (None, None)
    r = p.read_until_close(5)
    lab.ok(outcome == "failure" and cond == "invalid-authzid" and
           edge.closed_with(r, "not-authorized", 3007),
           "spoofing, SASL EXTERNAL with fabrikam's certificate and authzid northwind.test: "
           "<failure><invalid-authzid/>, then <not-authorized/> with 3007 (%s %s, %s)"
           % (outcome, cond, edge.showr(r)), edge.rawdiag(p))
    p.close()
    # RFC 6120 §4.3.3: a restarted stream is between the same two domains;
    # the receiving entity answers a restart with a new stream header
    # (§4.3.3, §5.4.3.3, §6.4.6), and a stream error follows the header of
    # the stream it ends (§4.9.1.1), so that the peer can parse it.
    p = edge.raw_peer(lab)
    p.open(frm="fabrikam.test", to="contoso.test")
    p.frm = "northwind.test"
    crt, key = lab.cert("xmpp-fabrikam")
    feats = p.starttls(crt, key, lab.pki + "/ca.crt")
    r = p.read_until_close(5)
    lab.ok(feats is None and r["closed"] and b"<invalid-from " in r["raw"] and
           b"3003 the restarted stream is northwind.test" in r["raw"],
           "spoofing, the stream restarted after STARTTLS from northwind.test instead of "
           "fabrikam.test: sipedge sends <invalid-from/> with 3003 and closes",
           edge.rawdiag(p))
    lab.ok(p.header is not None and edge.closed_with(r, "invalid-from", 3003),
           "spoofing, that <invalid-from/> comes in a new response stream header, "
           "parseable by the peer (%s; header %s)" % (edge.showr(r), p.header is not None),
           edge.rawdiag(p))
    p.close()
    p = edge.raw_peer(lab)
    edge.raw_tls(lab, p)
    p.to = "litware.test"
    outcome, _ = p.sasl_external("") if p.offers("external") else (None, None)
    r = p.read_until_close(5)
    lab.ok(outcome == "success" and r["closed"] and b"<host-unknown " in r["raw"] and
           b"3002 litware.test is not a domain this edge serves" in r["raw"],
           "spoofing, the stream restarted after SASL to litware.test (not ours): sipedge "
           "sends <host-unknown/> with 3002 and closes", edge.rawdiag(p))
    lab.ok(p.header is not None and edge.closed_with(r, "host-unknown", 3002),
           "spoofing, that <host-unknown/> comes in a new response stream header, "
           "parseable by the peer (%s; header %s)" % (edge.showr(r), p.header is not None),
           edge.rawdiag(p))
    p.close()
    p = edge.raw_peer(lab)
    p.open(frm="fabrikam.test", to="contoso.test")
    p.send(SPOOF % ("alice@fabrikam.test/raw", "bob@contoso.test", "early", "too early"))
    r = p.read_until_close(5)
    lab.ok(edge.closed_with(r, "not-authorized", 3007),
           "spoofing, a stanza before authentication: <not-authorized/> with 3007 (%s)"
           % edge.showr(r), edge.rawdiag(p))
    p.close()
    lab.ok(not uas.received(), "spoofing: nothing reaches the pool (%d MESSAGEs)"
           % len(uas.received()))


def restricted(lab):
    """DOCTYPE, comments and processing instructions (RFC 6120 §11.1)."""
    rss0 = edge.edge_rss_kib(lab)
    p = edge.raw_peer(lab)
    p.open(header=billion_laughs())
    r = p.read_until_close(5)
    lab.ok(edge.closed_with(r, "restricted-xml", 3016) and p.features is None,
           "restricted XML: a DOCTYPE with a billion-laughs payload before the stream header: "
           "<restricted-xml/> with 3016 (%s)" % edge.showr(r), edge.rawdiag(p))
    p.close()
    for what, data, authed in (("a comment before authentication", b"<!-- hello -->", False),
                               ("a processing instruction before authentication",
                                b"<?evil payload?>", False),
                               ("a comment after authentication",
                                b"<message from='alice@fabrikam.test' to='bob@contoso.test'>"
                                b"<!-- c --><body>x</body></message>", True),
                               ("a processing instruction after authentication",
                                b"<?evil payload?>", True)):
        if authed:
            p = edge.raw_external(lab)
        else:
            p = edge.raw_peer(lab)
            p.open(frm="fabrikam.test", to="contoso.test")
        p.send(data)
        r = p.read_until_close(5)
        lab.ok(edge.closed_with(r, "restricted-xml", 3016),
               "restricted XML, %s: <restricted-xml/> with 3016 (%s)" % (what, edge.showr(r)),
               edge.rawdiag(p))
        p.close()
    edge.rss_flat(lab, rss0, edge.edge_rss_kib(lab),
                  "restricted XML: sipedge's VmRSS unchanged within 1 MiB")
    return rss0


def limits(lab):
    """Stanza size, nesting and well-formedness."""
    p = edge.raw_peer(lab)
    p.open(frm="fabrikam.test", to="contoso.test")
    p.send(b"<message from='alice@fabrikam.test' to='bob@contoso.test'><body>" +
           b"x" * (11 * 1024))
    r = p.read_until_close(5)
    too_big = "<stanza-too-big xmlns='%s'/>" % NS_ERRORS
    lab.ok(edge.closed_with(r, "policy-violation", 3017) and
           too_big.encode() in r["raw"],
           "limits: an 11 KiB stanza before authentication: <policy-violation/> and "
           "<stanza-too-big/>, 3017 (%s)" % edge.showr(r), edge.rawdiag(p))
    p.close()
    p = edge.raw_external(lab)
    p.send(b"<message from='alice@fabrikam.test' to='bob@contoso.test' type='chat'><body>" +
           b"y" * (65 * 1024 + 512) + b"</body></message>")
    r = p.read_until_close(5)
    lab.ok(edge.closed_with(r, "policy-violation", 3017) and too_big.encode() in r["raw"],
           "limits: a 65.5 KiB stanza after authentication: <policy-violation/> and "
           "<stanza-too-big/>, 3017 (%s)" % edge.showr(r), edge.rawdiag(p))
    p.close()
    p = edge.raw_external(lab)
    p.send(b"<message from='alice@fabrikam.test' to='bob@contoso.test'>" + b"<a>" * 1000)
    r = p.read_until_close(5)
    # sipedge-diagnostics(7), 3015: "... or breaks a nesting or element limit".
    lab.ok(edge.closed_with(r, "policy-violation", 3015) and
           re.search(r"nested deeper", r["text"] or ""),
           "limits: nesting 1000 deep: <policy-violation/> with 3015, as documented (%s)"
           % edge.showr(r), edge.rawdiag(p))
    p.close()
    # RFC 6120 §4.9.3.13 not-well-formed; §4.9.3.22 names octets that break
    # the rules of UTF-8 as unsupported-encoding.
    for what, data, authed, cond in (
            ("an unclosed attribute value before authentication",
             b"<db:result from='fabrikam.test to='contoso.test'>k</db:result>", False,
             "not-well-formed"),
            ("mismatched tags after authentication",
             b"<message from='alice@fabrikam.test' to='bob@contoso.test'><body>x</bod></message>",
             True, "not-well-formed"),
            ("invalid UTF-8 before authentication", b"<message><body>\xc3\x28</body></message>",
             False, "unsupported-encoding")):
        if authed:
            p = edge.raw_external(lab)
        else:
            p = edge.raw_peer(lab)
            p.open(frm="fabrikam.test", to="contoso.test")
        p.send(data)
        r = p.read_until_close(5)
        lab.ok(edge.closed_with(r, cond, 3015),
               "limits, %s: <%s/> with 3015 (%s)" % (what, cond, edge.showr(r)),
               edge.rawdiag(p))
        p.close()


def t_hostile_peer(lab):
    """Spoofed addresses, restricted XML and limits from a raw peer."""
    edge.edge_xmpp_lab(lab, prosody=False)
    uas = edge.PoolUas(lab, calls=1, timeout=60)
    spoofing(lab, uas)
    rss0 = restricted(lab)
    limits(lab)
    lab.ok(not uas.received(), "nothing from the hostile streams reached the pool (%d "
           "MESSAGEs)" % len(uas.received()))
    edge.rss_flat(lab, rss0, edge.edge_rss_kib(lab),
                  "sipedge's VmRSS after all of them within 1 MiB of before")
    p = edge.raw_external(lab)
    p.send(SPOOF % ("alice@fabrikam.test/raw", "bob@contoso.test", "good-1",
                    edge.IM_BODY.replace("&", "&amp;").replace("<", "&lt;")))
    got = uas.wait(1, 10)
    lab.ok(len(got) == 1 and got[0]["body"] == edge.IM_BODY.encode("utf-8"),
           "a well-behaved stream afterwards: its message reaches the pool byte-exact",
           lambda: uas.diag() + lab.edge_diag(30))
    p.end()
    r = p.read_until_close(3)
    lab.ok(r["error"] is None and r["ended"],
           "and its </stream:stream> is answered with ours, no error (%s)" % edge.showr(r))
    p.close()
    uas.stop()
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


TESTS = {"hostile-peer": t_hostile_peer}
