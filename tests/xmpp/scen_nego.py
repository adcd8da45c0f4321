"""scen_nego.py: stream negotiation profiles between sipedge and a real
Prosody (RFC 6120 §5 STARTTLS, XEP-0220 dialback, the per-partner TLS /
SASL / dialback matrix of sipedgectl xmpp partner): TLS + dialback, plain
dialback (the GTalk profile), and TLS required against a peer without TLS.
SASL EXTERNAL, the default profile, is im-in's and im-out's.

One lab (test 'nego'): sipedge and Prosody fabrikam.test; between the
profiles the partner's row changes with `sipedgectl xmpp partner set` and
Prosody restarts with other s2s settings (its streams go with it).
"""

import re
import time

import edge
from edge import IM_BODY


def both_ways(lab, fab, alice, uas, what, n):
    """alice -> bob (the pool's SIPp gets the MESSAGE, the n-th) and the
    pool -> alice (202, alice gets it): TAP points; returns True when both
    went through."""
    tag = re.sub(r"\W+", "-", what)
    alice.message("bob@contoso.test", IM_BODY, id="in-" + tag)
    got = uas.wait(n, 15)
    m = got[n - 1] if len(got) >= n else None
    ok_in = lab.ok(m is not None and m["body"] == IM_BODY.encode("utf-8") and
                   re.match(r"\s*<?sip:alice@fabrikam\.test[>;]", edge.sip_from(m)),
                   "%s: alice's message reaches the pool as a MESSAGE from "
                   "sip:alice@fabrikam.test, body byte-exact (%d received)" % (what, len(got)),
                   lambda: uas.diag() + lab.xmpp_diag() + lab.edge_diag())
    body = "to alice, %s" % what
    r = edge.pool_message(lab, "sip:alice@fabrikam.test", body)
    st = alice.expect(kind="message", frm="bob@contoso.test", body=body, timeout=10)
    ok_out = lab.ok(r["status"] == 202 and st is not None,
                    "%s: the pool's MESSAGE to alice gets %s and alice receives it (%s)"
                    % (what, r["status"], "received" if st else "nothing"),
                    lambda: [edge.show(r)] + lab.xmpp_diag() + lab.edge_diag())
    errs = alice.received(kind="message", type="error")
    lab.ok(not errs, "%s: alice gets no error back" % what, lambda: [str(e) for e in errs])
    return ok_in and ok_out


def edge_auth_lines(lab, after, method, security):
    """sipedge's 'authenticated' log lines since line `after`: (inbound,
    outbound) lists for fabrikam.test by method ('dialback') with
    security ('TLSv1.3' or 'no TLS')."""
    pat = r"xmpp: authenticated \(%s, %s\), (inbound|outbound) stream contoso\.test " \
          r"(<-|->) fabrikam\.test" % (re.escape(method), re.escape(security))
    lines = [l for l in lab.edge_lines()[after:] if re.search(pat, l)]
    return ([l for l in lines if "inbound stream" in l],
            [l for l in lines if "outbound stream" in l])


def t_nego(lab):
    """Negotiation profiles with a real Prosody: TLS + dialback, plain
    dialback (GTalk profile), TLS required against a peer without TLS."""
    # -- TLS + dialback: --sasl not-supported, Prosody without secure_auth -----------
    fab, alice = edge.edge_xmpp_lab(
        lab, policy=[["xmpp", "partner", "set", "fabrikam.test", "--sasl", "not-supported"]],
        secure_auth=False)
    uas = edge.PoolUas(lab, calls=3, timeout=90)
    mark = len(lab.edge_lines())
    what = "TLS + dialback"
    both_ways(lab, fab, alice, uas, what, 1)
    rows = fab.s2s_show()
    out = [r for r in rows if r["remote"] == "contoso.test" and r["dir"] == "-->"]
    inn = [r for r in rows if r["remote"] == "contoso.test" and r["dir"] == "<--"]
    lab.ok(out and all(r["security"] == "TLSv1.3" and r["dialback"] == "Completed" and
                       r["sasl"] != "Succeeded" for r in out),
           "%s: fabrikam's s2s:show(): its stream to contoso.test is TLSv1.3, dialback "
           "completed, no SASL" % what, lambda: ["rows: %s" % rows])
    lab.ok(inn and all(r["security"] == "TLSv1.3" and r["sasl"] != "Succeeded" for r in inn),
           "%s: fabrikam's s2s:show(): the stream from contoso.test is TLSv1.3 without SASL "
           "EXTERNAL" % what, lambda: ["rows: %s" % rows])
    ins, outs = edge_auth_lines(lab, mark, "dialback", "TLSv1.3")
    lab.ok(ins and outs, "%s: sipedge logs both streams authenticated by dialback over "
           "TLSv1.3 (%d inbound, %d outbound)" % (what, len(ins), len(outs)),
           lambda: lab.edge_diag(60))
    answered = [l for l in lab.edge_lines()[mark:]
                if re.search(r"dialback: .* asked about our key for contoso\.test -> "
                             r"fabrikam\.test: valid", l)]
    lab.ok(answered, "%s: sipedge answered fabrikam's <db:verify/> about its key: valid"
           % what, lambda: lab.edge_diag(60))
    lab.ok(not [l for l in lab.edge_lines()[mark:] if "SASL EXTERNAL" in l and
                "authenticated" in l],
           "%s: no stream was authenticated by SASL EXTERNAL" % what)

    # -- plain dialback, the GTalk profile -------------------------------------------
    what = "plain dialback"
    edge.ctl(lab, "xmpp", "partner", "set", "fabrikam.test", "--tls", "not-supported",
             "--sasl", "not-supported")
    t0 = time.monotonic()
    alice.quit()
    fab.stop()
    fab.knobs["require_encryption"] = False
    edge.applied(lab, t0)
    fab.start()
    alice = lab.xclient("alice@fabrikam.test", fab)
    p = edge.raw_peer(lab)
    p.open(frm="fabrikam.test", to="contoso.test")
    lab.ok(p.features is not None and not p.offers("starttls") and p.offers("dialback"),
           "%s: sipedge's features for fabrikam.test offer dialback and no <starttls/>" % what,
           edge.rawdiag(p))
    p.end()
    p.close()
    mark = len(lab.edge_lines())
    both_ways(lab, fab, alice, uas, what, 2)
    rows = fab.s2s_show()
    link = [r for r in rows if r["remote"] == "contoso.test"]
    out = [r for r in link if r["dir"] == "-->"]
    lab.ok(link and out and all(r["security"] != "TLSv1.3" and r["security"] != "TLSv1.2"
                                for r in link) and
           all(r["dialback"] == "Completed" for r in out),
           "%s: fabrikam's s2s:show(): the streams with contoso.test are not encrypted, "
           "its own authenticated by dialback" % what, lambda: ["rows: %s" % rows])
    ins, outs = edge_auth_lines(lab, mark, "dialback", "no TLS")
    lab.ok(ins and outs, "%s: sipedge logs both streams authenticated by dialback without "
           "TLS (%d inbound, %d outbound)" % (what, len(ins), len(outs)),
           lambda: lab.edge_diag(60))

    # -- TLS required, and a peer without TLS ------------------------------------------
    what = "TLS required, peer without TLS"
    edge.ctl(lab, "xmpp", "partner", "set", "fabrikam.test", "--tls", "required")
    t0 = time.monotonic()
    alice.quit()
    fab.stop()
    fab.knobs["allow_encryption"] = False
    edge.applied(lab, t0)
    fab.start()
    alice = lab.xclient("alice@fabrikam.test", fab)
    mark, fmark = len(lab.edge_lines()), len(fab.log_lines())
    r = edge.pool_message(lab, "sip:alice@fabrikam.test", "must not arrive")
    lab.ok(r["status"] == 408 and r["diag"] == 3004,
           "%s: the pool's MESSAGE to alice gets 408 with ms-diagnostics 3004 (%s)"
           % (what, edge.show(r)), lambda: lab.edge_diag(40))
    lab.ok("fabrikam.test" in r["diag_text"] and "STARTTLS" in r["diag_text"],
           "%s: the ms-diagnostics reason names fabrikam.test and STARTTLS" % what)
    refused = edge.edge_wait_log(lab, r"stream error policy-violation \(3004 .*outbound "
                                 r"stream contoso\.test -> fabrikam\.test", 2, mark)
    lab.ok(refused, "%s: sipedge closes its stream with <policy-violation/> and 3004: %s"
           % (what, refused), lambda: lab.edge_diag(40))
    seen = fab.wait_log(r"policy-violation|3004", 3)
    lab.ok(seen and "3004" in seen,
           "%s: Prosody logs the stream error with sipedge's code: %s" % (what, seen),
           lambda: fab.diag(30))
    # Inbound: sipedge offers only <starttls><required/>, which Prosody
    # (s2s_allow_encryption = false) cannot take; its message bounces.
    alice.message("bob@contoso.test", "must not arrive either", id="notls-in")
    err = alice.expect(kind="message", type="error", id="notls-in", timeout=15)
    e = (err or {}).get("error") or {}
    # Prosody ignores <required/> and tries dialback, which the row allows
    # only over TLS: sipedge refuses it (RFC 6120 §4.9.3.12, not-authorized)
    # with its code, and Prosody puts that text into the bounce.
    lab.ok(err is not None and e.get("condition") in ("remote-server-not-found",
                                                      "remote-server-timeout") and
           re.search(r"not-authorized \(3007 .*fabrikam\.test.*requires TLS", e.get("text") or ""),
           "%s: alice's message to bob bounces with sipedge's refusal, not-authorized 3007, "
           "TLS required (%s: %s)" % (what, e.get("condition"), e.get("text")),
           lambda: lab.xmpp_diag() + lab.edge_diag(40))
    time.sleep(0.5)
    lab.ok(len(uas.received()) == 2, "%s: nothing more reaches the pool (%d MESSAGEs in all)"
           % (what, len(uas.received())))
    stray = alice.received(kind="message", frm="bob@contoso.test", body="must not arrive")
    lab.ok(not stray, "%s: nothing reaches alice" % what)
    inb = [l for l in lab.edge_lines()[mark:] if "inbound stream" in l and
           re.search(r"stream error|closing", l)]
    lab.ok(inb, "%s: sipedge logs why the inbound stream ended: %s" % (what, inb[:2]),
           lambda: lab.edge_diag(40))
    uas.stop()
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


TESTS = {"nego": t_nego}
