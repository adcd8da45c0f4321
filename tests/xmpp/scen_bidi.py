"""scen_bidi.py: bidirectional server-to-server streams (XEP-0288) between
sipedge and Prosody (mod_s2s_bidi on), scenarios for tests/xmpp/run: one
TCP connection carries the messages of both directions, whichever side
opened it; Prosody's s2s:show() says <->, sipedge's xmpp streams says bidi.
Every check is on what the far side received and on the sockets."""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import edge                                 # noqa: E402
import lab as xlab                          # noqa: E402

harness = xlab.harness


def one_link(lab, fab, what):
    """TAP points: exactly one TCP connection between Prosody and sipedge
    (on sipedge's XMPP port, or on Prosody's s2s port), and Prosody's
    s2s:show() has one bidirectional row for contoso.test."""
    inbound = xlab.connections(harness.EDGE_IP, lab.edge_xmpp)
    outbound = xlab.connections(fab.ip, fab.s2s)
    rows = [r for r in fab.s2s_show() if r["remote"] == "contoso.test"]
    lab.ok(inbound + outbound == 1, "%s: one TCP connection carries both directions (%d on "
           "sipedge's port, %d on Prosody's)" % (what, inbound, outbound))
    lab.ok(len(rows) == 1 and rows[0]["dir"] == "<->",
           "%s: Prosody's s2s:show() has one bidirectional row for contoso.test (%s)"
           % (what, [r["dir"] for r in rows]), lambda: lab.xmpp_diag() + lab.edge_diag())
    sock = os.path.join(lab.dir, "state", "control.sock")
    rc, out = lab.sipedgectl("--socket", sock, "--json", "xmpp", "streams")
    try:
        rows = [r for r in json.loads(out).get("streams", []) if r.get("remote") ==
                "fabrikam.test"]
    except ValueError:
        rows = []
    lab.ok(rc == 0 and len(rows) == 1 and rows[0].get("bidi") is True,
           "%s: sipedgectl xmpp streams lists one stream with fabrikam.test, bidirectional "
           "(%s)" % (what, [(r.get("direction"), r.get("bidi")) for r in rows]), [out[:600]])


def t_bidi_in(lab):
    """Prosody opens the stream (alice -> bob) and asks for bidi; bob's
    answer from the pool goes back over the same connection."""
    fab, alice = edge.edge_xmpp_lab(lab, bidi=True)
    uas = lab.uas(lab.ep["pool1"], os.path.join(HERE, "im", "uas.xml"), 1, timeout=20)
    alice.message("bob@contoso.test", edge.IM_BODY, id="bidi-1")
    rc = uas.stop(grace=15)
    lab.ok(rc == 0, "alice's message reaches the pool (SIPp exit %s)" % rc,
           lambda: uas.diag() + lab.edge_diag())
    r = edge.pool_message(lab, "sip:alice@fabrikam.test", "back the same way \u00e9")
    lab.ok(r["status"] == 202, "the pool's MESSAGE to alice gets 202 (%s)" % edge.show(r))
    got = alice.expect(kind="message", frm="bob@contoso.test", timeout=8)
    lab.ok(got is not None and got.get("body") == "back the same way \u00e9",
           "alice receives it byte-exact")
    one_link(lab, fab, "inbound first")


def t_bidi_out(lab):
    """sipedge opens the stream (pool -> alice), asks for bidi; alice's
    reply comes back over it."""
    fab, alice = edge.edge_xmpp_lab(lab, bidi=True)
    r = edge.pool_message(lab, "sip:alice@fabrikam.test", "out first")
    lab.ok(r["status"] == 202, "the pool's MESSAGE to alice gets 202 (%s)" % edge.show(r))
    got = alice.expect(kind="message", frm="bob@contoso.test", timeout=8)
    lab.ok(got is not None and got.get("body") == "out first", "alice receives it")
    uas = lab.uas(lab.ep["pool1"], os.path.join(HERE, "im", "uas.xml"), 1, timeout=20)
    time.sleep(0.3)
    alice.message("bob@contoso.test", edge.IM_BODY, id="bidi-2")
    rc = uas.stop(grace=15)
    got = [m for m in xlab.sipp_received(uas.msgs) if m["start"].startswith("MESSAGE ")]
    lab.ok(rc == 0 and len(got) == 1 and got[0]["body"] == edge.IM_BODY.encode("utf-8"),
           "alice's reply reaches the pool byte-exact (SIPp exit %s, %d)" % (rc, len(got)),
           lambda: uas.diag() + lab.edge_diag())
    one_link(lab, fab, "outbound first")


TESTS = {
    "bidi-in": t_bidi_in,
    "bidi-out": t_bidi_out,
}
