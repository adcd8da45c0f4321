"""scen_partners.py: the XMPP partner list applied live (RFC 6120 §4.9.3.14
policy-violation; sipedgectl's xmpp partner and block commands): an unknown
domain's stream refused (3001), a blocked one refused both ways (2002), a
domain added as a partner accepted on its next attempt without a restart,
and a removed partner's live streams closed within a second or two.

One lab (test 'partners-live'): sipedge with fabrikam.test allowed, Prosody
fabrikam.test (alice) and Prosody northwind.test (carol), which is not in
the list at first.
"""

import re
import time

import edge
from edge import IM_BODY


def generation_applied(lab, after, timeout=3):
    """Seconds until the daemon logs a new policy generation after line
    `after` (it re-reads the store each second), or None."""
    t0 = time.monotonic()
    line = edge.edge_wait_log(lab, r"policy generation \d+ applied", timeout, after)
    return time.monotonic() - t0 if line else None


def refused_inbound(lab, carol, uas, n_before, what, code, cond="policy-violation"):
    """carol's message to bob bounces with sipedge's stream error (cond, code);
    the pool receives nothing more."""
    refused_inbound.n = getattr(refused_inbound, "n", 0) + 1
    mid = "nw-%d-%d" % (code, refused_inbound.n)
    carol.message("bob@contoso.test", "must not arrive", id=mid)
    err = carol.expect(kind="message", type="error", id=mid, timeout=15)
    e = (err or {}).get("error") or {}
    lab.ok(err is not None and re.search(r"%s \(%d .*northwind\.test" % (cond, code),
                                         e.get("text") or ""),
           "%s: carol's message to bob bounces with sipedge's %s %d (%s: %s)"
           % (what, cond, code, e.get("condition"), e.get("text")),
           lambda: lab.xmpp_diag() + lab.edge_diag(30))
    time.sleep(0.3)
    lab.ok(len(uas.received()) == n_before,
           "%s: nothing reaches the pool (%d MESSAGEs in all)" % (what, len(uas.received())))


def t_partners_live(lab):
    """Unknown, blocked, added and removed XMPP partners, live."""
    nw = lab.prosody("northwind.test", start=False, users=("carol",), secure_auth=True,
                     bidi=False)
    fab, alice = edge.edge_xmpp_lab(lab)
    pid = lab.edge_proc.pid
    nw.start()
    carol = lab.xclient("carol@northwind.test", nw)
    uas = edge.PoolUas(lab, calls=3, timeout=90)

    # -- not in the list ----------------------------------------------------------------
    what = "northwind.test not a partner"
    mark = len(lab.edge_lines())
    refused_inbound(lab, carol, uas, 0, what, 3001)
    line = edge.edge_wait_log(lab, r"stream error policy-violation \(3001 northwind\.test is not "
                              r"an allowed XMPP partner\), inbound", 1, mark)
    lab.ok(line, "%s: sipedge logs the refusal: %s" % (what, line), lambda: lab.edge_diag(20))

    # -- blocked ----------------------------------------------------------------------
    what = "northwind.test blocked"
    mark = len(lab.edge_lines())
    edge.ctl(lab, "block", "add", "northwind.test")
    generation_applied(lab, mark)
    refused_inbound(lab, carol, uas, 0, what, 2002)
    r = edge.pool_message(lab, "sip:carol@northwind.test", "must not arrive")
    lab.ok(r["status"] == 403 and r["diag"] == 2002,
           "%s: the pool's MESSAGE to carol gets 403 2002 (%s)" % (what, edge.show(r)),
           lambda: lab.edge_diag(20))
    stray = carol.received(kind="message", frm="bob@contoso.test",
                           type=lambda t: t != "error")
    lab.ok(not stray, "%s: nothing reaches carol" % what, lambda: [str(x) for x in stray])

    # -- added as a partner -------------------------------------------------------------
    what = "northwind.test added"
    mark = len(lab.edge_lines())
    edge.ctl(lab, "block", "remove", "northwind.test")
    edge.ctl(lab, "xmpp", "partner", "add", "northwind.test")
    took = generation_applied(lab, mark)
    lab.ok(took is not None and took < 2.0,
           "%s: the running daemon applies the change within a second (%s s), no restart"
           % (what, "%.2f" % took if took is not None else "not"), lambda: lab.edge_diag(20))
    t0 = time.monotonic()
    carol.message("bob@contoso.test", IM_BODY, id="nw-ok")
    got = uas.wait(1, 10)
    lab.ok(len(got) == 1 and got[0]["body"] == IM_BODY.encode("utf-8") and
           re.match(r"\s*<?sip:carol@northwind\.test[>;]", edge.sip_from(got[0])),
           "%s: carol's next message reaches the pool from sip:carol@northwind.test (%.2f s)"
           % (what, time.monotonic() - t0), lambda: uas.diag() + lab.edge_diag(30))
    r = edge.pool_message(lab, "sip:carol@northwind.test", "hello carol")
    st = carol.expect(kind="message", frm="bob@contoso.test", body="hello carol", timeout=10)
    lab.ok(r["status"] == 202 and st is not None,
           "%s: the pool's MESSAGE to carol gets %s and carol receives it" % (what, r["status"]),
           lambda: [edge.show(r)] + lab.edge_diag(30))
    starts = lab.edge_grep(r"sipedge \S+ started: ")
    lab.ok(lab.edge_alive() and lab.edge_proc.pid == pid and len(starts) == 1,
           "%s: the same sipedge process throughout, started once (no restart)" % what,
           starts)

    # -- a live partner blocked --------------------------------------------------------
    what = "northwind.test blocked while its streams are up"
    rows = nw.s2s_show()
    lab.ok(len([x for x in rows if x["remote"] == "contoso.test"]) == 2,
           "%s: northwind has its two streams with contoso.test" % what,
           lambda: ["rows: %s" % rows])
    mark, nmark = len(lab.edge_lines()), len(nw.log_lines())
    edge.ctl(lab, "block", "add", "northwind.test", "--replace")
    t0 = time.monotonic()
    gone = lab.wait_for(lambda: not [x for x in nw.s2s_show() if x["remote"] == "contoso.test"],
                        4, step=0.2)
    took = time.monotonic() - t0
    lab.ok(gone and took < 2.5, "%s: northwind's s2s:show() has no stream with contoso.test "
           "%.2f s after `sipedgectl block add northwind.test --replace`" % (what, took),
           lambda: nw.diag(20))
    errs = [l for l in nw.log_lines()[nmark:]
            if "policy-violation (2002 northwind.test is blocked)" in l]
    lab.ok(errs, "%s: Prosody logs sipedge's stream error, policy-violation 2002: %s"
           % (what, errs[:1]), lambda: nw.diag(20) + lab.edge_diag(20))
    closed = [l for l in lab.edge_lines()[mark:]
              if re.search(r"stream error policy-violation \(2002 northwind\.test is blocked\), "
                           r"(inbound|outbound) stream", l)]
    lab.ok(len(closed) == 2, "%s: sipedge closes both streams with policy-violation 2002 (%d)"
           % (what, len(closed)), lambda: lab.edge_diag(20))
    refused_inbound(lab, carol, uas, 1, what, 2002)

    # -- a partner removed while its streams are up --------------------------------------
    what = "fabrikam.test removed"
    alice.message("bob@contoso.test", "before the removal", id="fab-1")
    r = edge.pool_message(lab, "sip:alice@fabrikam.test", "before the removal")
    got = uas.wait(2, 10)
    rows = fab.s2s_show()
    up = [x for x in rows if x["remote"] == "contoso.test"]
    lab.ok(len(got) == 2 and r["status"] == 202 and len(up) == 2,
           "%s: before, fabrikam has two authenticated streams with contoso.test, traffic "
           "both ways (%d rows, pool %s)" % (what, len(up), r["status"]),
           lambda: ["rows: %s" % rows, edge.show(r)] + lab.edge_diag(30))
    mark, fmark = len(lab.edge_lines()), len(fab.log_lines())
    edge.ctl(lab, "xmpp", "partner", "remove", "fabrikam.test")
    t0 = time.monotonic()
    gone = lab.wait_for(lambda: not [x for x in fab.s2s_show() if x["remote"] == "contoso.test"],
                        4, step=0.2)
    took = time.monotonic() - t0
    lab.ok(gone and took < 2.5,
           "%s: fabrikam's s2s:show() has no stream with contoso.test %.2f s after "
           "`sipedgectl xmpp partner remove`" % (what, took), lambda: fab.diag(20))
    errs = [l for l in fab.log_lines()[fmark:]
            if re.search(r"policy-violation \(3001 fabrikam\.test is not an allowed XMPP "
                         r"partner\)", l)]
    lab.ok(errs, "%s: Prosody logs sipedge's stream error, policy-violation 3001: %s"
           % (what, errs[:1]), lambda: fab.diag(20))
    closed = [l for l in lab.edge_lines()[mark:]
              if re.search(r"stream error policy-violation \(3001 fabrikam\.test is not an "
                           r"allowed XMPP partner\), (inbound|outbound) stream", l)]
    lab.ok(len(closed) == 2, "%s: sipedge closes both streams with policy-violation 3001 (%d)"
           % (what, len(closed)), lambda: lab.edge_diag(20))
    r = edge.pool_message(lab, "sip:alice@fabrikam.test", "after the removal")
    # No longer an XMPP partner, nor a SIP one: the SIP federation policy
    # refuses the unknown domain.
    lab.ok(r["status"] == 403 and r["diag"] == 2004,
           "%s: the pool's MESSAGE to alice is refused now, 403 2004 (%s)" % (what, edge.show(r)))
    time.sleep(0.3)
    late = alice.received(kind="message", body="after the removal")
    lab.ok(not late, "%s: nothing reaches alice after the removal" % what)
    uas.stop()
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


TESTS = {"partners-live": t_partners_live}
