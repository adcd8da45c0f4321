"""scen_certs.py: certificates on server-to-server streams (RFC 6120 §13.7,
XEP-0178 SASL EXTERNAL, XEP-0220 dialback as the fallback): our own
certificate without the XMPP domain, refused by a real Prosody, and a
peer's certificate that names the wrong host, has expired or comes from an
unknown CA, presented by a raw peer -- sipedge offers no EXTERNAL, and
either closes with <not-authorized/> and the precise reason or, where the
partner's row allows dialback, falls back to it.

One lab (test 'certs'): sipedge with the lab certificate `edge` (it names
sip.contoso.test, not contoso.test); Prosody northwind.test (carol), an XMPP
partner with the default row; fabrikam.test is played by raw peers, and its
authoritative server (for <db:verify/>) by a rawpeer.Listener that answers
'valid'.
"""

import re
import ssl
import subprocess
import time

import edge

# The bad certificates of fabrikam.test and what OpenSSL or sipedge says of each.
BAD = (("xmpp-fabrikam-srvname", "wrong name",
        r"the peer's certificate does not name fabrikam\.test \(it names xmpp\.fabrikam\.test\)"),
       ("xmpp-fabrikam-expired", "expired",
        r"the peer's certificate is not valid: certificate has expired"),
       ("xmpp-fabrikam-rogue", "unknown CA",
        r"the peer's certificate is not valid: "
        r"unable to (get local issuer certificate|verify the first certificate)"))


def ours_refused(lab, nw, carol):
    """Our certificate lacks contoso.test: Prosody refuses both ways."""
    what = "our certificate without contoso.test"
    r = subprocess.run([lab.edge_bin, "-n", "-f", lab.edge_conf_path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    out = r.stdout.decode("utf-8", "replace")
    warned = [l for l in out.splitlines() + lab.edge_lines()
              if re.search(r"(?i)warn", l) and "contoso.test" in l and
              re.search(r"(?i)certificate", l)]
    # XMPP federation notes §6 test 7: a start-up warning, since no partner
    # that checks names (RFC 6120 §13.7.1.2) will accept this certificate.
    lab.ok(r.returncode == 0 and warned,
           "%s: sipedge -n (or its start-up log) warns that the certificate does not "
           "name the XMPP domain contoso.test" % what,
           ["exit %d: %s" % (r.returncode, out)])
    mark = len(lab.edge_lines())
    res = edge.pool_message(lab, "sip:carol@northwind.test", "must not arrive")
    # RFC 6120 §10.4.3: the name resolved but no stream could be negotiated,
    # remote-server-timeout, which RFC 7247 Table 2 maps to 408.
    lab.ok(res["status"] == 408 and res["diag"] == 3010,
           "%s: the pool's MESSAGE to carol gets 408 with ms-diagnostics 3010, the "
           "partner's stream error (%s)" % (what, edge.show(res)),
           lambda: nw.diag(20) + lab.edge_diag(40))
    lab.ok(re.search(r"northwind\.test closed the stream: not-authorized", res["diag_text"]) and
           re.search(r"(?i)not valid for this name|certificate", res["diag_text"]),
           "%s: ms-diagnostics carries Prosody's reason verbatim" % what)
    refusal = nw.wait_log(r"(?i)not valid for this name|Forbidding insecure connection", 3)
    lab.ok(refusal, "%s: Prosody logs the refusal of contoso.test's certificate: %s"
           % (what, refusal), lambda: nw.diag(30))
    line = edge.edge_wait_log(lab, r"xmpp: northwind\.test closed the stream: not-authorized",
                              2, mark)
    lab.ok(line, "%s: sipedge logs the partner's stream error verbatim: %s" % (what, line),
           lambda: lab.edge_diag(40))
    carol.message("bob@contoso.test", "must not arrive either", id="ours-in")
    err = carol.expect(kind="message", type="error", id="ours-in", timeout=15)
    e = (err or {}).get("error") or {}
    lab.ok(err is not None and e.get("condition") in ("remote-server-not-found",
                                                      "remote-server-timeout") and
           re.search(r"(?i)not valid for this name|certificate", e.get("text") or ""),
           "%s: carol's message to bob bounces: Prosody does not accept contoso.test's "
           "certificate (%s: %s)" % (what, e.get("condition"), e.get("text")),
           lambda: nw.diag(30))
    rows = nw.s2s_show()
    lab.ok(not any(r["remote"] == "contoso.test" and (r["sasl"] == "Succeeded" or
                                                     r["dialback"] == "Completed")
                   for r in rows),
           "%s: northwind has no authenticated stream with contoso.test" % what,
           lambda: ["rows: %s" % rows])


def bad_peer(lab, stem, verify=False):
    """A raw peer claiming fabrikam.test with the certificate stem, after
    STARTTLS: (peer, features or None, TLS error or None)."""
    p = edge.raw_peer(lab)
    try:
        feats = edge.raw_tls(lab, p, cert=stem, verify=verify)
    except (ssl.SSLError, OSError) as e:
        return p, None, str(e)
    return p, feats, None


def refused(lab, row):
    """Each bad certificate with SASL EXTERNAL the only way left: no
    EXTERNAL offered, <not-authorized/>, 3006 and the reason."""
    for stem, name, why in BAD:
        what = "peer certificate, %s, %s" % (name, row)
        mark = len(lab.edge_lines())
        p, feats, tls_err = bad_peer(lab, stem)
        r = p.read_until_close(5)
        lab.ok(tls_err is None and p.tls_version is not None and feats is None and
               not p.offers("external"),
               "%s: TLS is set up (%s), then no features, so no SASL EXTERNAL"
               % (what, tls_err or p.tls_version), edge.rawdiag(p))
        lab.ok(edge.closed_with(r, "not-authorized", 3006) and re.search(why, r["text"] or ""),
               "%s: sipedge closes with <not-authorized/>, 3006 and the reason (%s)"
               % (what, edge.showr(r)), edge.rawdiag(p))
        line = edge.edge_wait_log(lab, r"stream error not-authorized \(3006 .*inbound stream "
                                  r"contoso\.test <- fabrikam\.test", 2, mark)
        lab.ok(line and re.search(why, line), "%s: sipedge logs it" % what,
               lambda: lab.edge_diag(20))
        p.close()


def fallback(lab, uas, ln):
    """SASL optional, dialback on: each bad certificate gets dialback
    instead, checked with the authoritative server (the listener), and the
    message goes through."""
    for n, (stem, name, why) in enumerate(BAD, 1):
        what = "peer certificate, %s, SASL optional + dialback" % name
        mark = len(lab.edge_lines())
        nver = sum(len(s["verify"]) for s in ln.sessions)
        p, feats, tls_err = bad_peer(lab, stem)
        lab.ok(feats is not None and not p.offers("external") and p.offers("dialback"),
               "%s: after STARTTLS sipedge offers dialback, not SASL EXTERNAL (%s)"
               % (what, tls_err or p.tls_version), edge.rawdiag(p))
        key = "k%d-0123456789abcdef" % n
        answer = p.db_result(key) if feats is not None else None
        verify = [v for s in ln.sessions for v in s["verify"]][nver:]
        lab.ok(answer == "valid" and len(verify) == 1 and verify[0]["key"] == key and
               verify[0]["id"] == (p.header or {}).get("id") and
               verify[0]["from"] == "contoso.test" and verify[0]["to"] == "fabrikam.test",
               "%s: sipedge asks fabrikam's authoritative server about the key (<db:verify/>, "
               "our stream id) and answers <db:result type='valid'/> (%s)" % (what, answer),
               lambda: ["verify: %s" % verify] + edge.rawdiag(p)() + lab.edge_diag(30))
        body = "after dialback, %s" % name
        p.send("<message from='alice@fabrikam.test/raw' to='bob@contoso.test' type='chat' "
               "id='fb-%d'><body>%s</body></message>" % (n, body))
        got = uas.wait(n, 10)
        lab.ok(len(got) >= n and got[n - 1]["body"] == body.encode(),
               "%s: the message reaches the pool (%d received)" % (what, len(got)),
               lambda: uas.diag() + lab.edge_diag(30))
        line = edge.edge_wait_log(lab, r"authenticated \(dialback, TLSv1\.3\), inbound stream "
                                  r"contoso\.test <- fabrikam\.test", 1, mark)
        lab.ok(line, "%s: sipedge logs the stream authenticated by dialback" % what)
        p.end()
        p.close()


def dialback_refused(lab, ln):
    """Dialback that must fail (XEP-0220 §2.1.3, §2.2.2): the authoritative
    server denies the key; and a <db:verify/> about a key we never made."""
    what = "dialback, the authoritative server says the key is invalid"
    ln.verify = "invalid"
    p, feats, _ = bad_peer(lab, "xmpp-fabrikam-srvname")
    answer = p.db_result("k-forged-0123456789") if feats is not None else None
    r = p.read_until_close(5)
    lab.ok(answer == "invalid" and edge.closed_with(r, "not-authorized", 3007) and
           "did not confirm the key" in (r["text"] or ""),
           "%s: <db:result type='invalid'/>, then <not-authorized/> with 3007 (%s, %s)"
           % (what, answer, edge.showr(r)), edge.rawdiag(p))
    p.close()
    ln.verify = "valid"
    what = "dialback, asked to verify a key sipedge never made"
    p, feats, _ = bad_peer(lab, "xmpp-fabrikam-srvname")
    p.send("<db:verify from='fabrikam.test' to='contoso.test' id='no-such-stream'>"
           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef</db:verify>")
    el = p.next(5)
    lab.ok(el is not None and el.tag == "{jabber:server:dialback}verify" and
           el.get("type") == "invalid" and el.get("id") == "no-such-stream" and
           el.get("from") == "contoso.test" and el.get("to") == "fabrikam.test",
           "%s: <db:verify type='invalid'/> from contoso.test, same id" % what,
           edge.rawdiag(p))
    p.end()
    p.close()


def t_certs(lab):
    """Our certificate without the XMPP domain (Prosody refuses it); a
    peer's certificate with the wrong name, expired, from an unknown CA
    (no EXTERNAL; refused, or dialback where allowed)."""
    lab.make_pki()
    ln = lab.raw_listener("fabrikam.test", "127.0.0.20", 0, cert="xmpp-fabrikam",
                          verify="valid", result="valid")
    nwp = lab.prosody("northwind.test", start=False, users=("carol",), secure_auth=True,
                     bidi=False)
    edge.edge_xmpp_lab(lab, cert="edge", prosody=False,
                       policy=[["xmpp", "partner", "add", "northwind.test"]])
    nw = nwp.start()
    carol = lab.xclient("carol@northwind.test", nw)
    ours_refused(lab, nw, carol)

    uas = edge.PoolUas(lab, calls=len(BAD), timeout=60)
    refused(lab, "SASL required")
    t0 = time.monotonic()
    edge.ctl(lab, "xmpp", "partner", "set", "fabrikam.test", "--sasl", "optional",
             "--dialback", "off")
    edge.applied(lab, t0)
    refused(lab, "SASL optional, dialback off")
    t0 = time.monotonic()
    edge.ctl(lab, "xmpp", "partner", "set", "fabrikam.test", "--dialback", "on")
    edge.applied(lab, t0)
    fallback(lab, uas, ln)
    dialback_refused(lab, ln)
    uas.stop()
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


TESTS = {"certs": t_certs}
