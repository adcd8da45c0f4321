"""scen_timers.py: the XMPP timers and connection limits (sipedgectl xmpp
config: stream-establishment-timeout, keepalive-interval,
stream-inactivity-timeout, partner-connection-limit; RFC 6120 §4.6.1
whitespace keep-alives, §4.9.3.4 connection-timeout, §4.9.3.17
resource-constraint, §4.4 closing a stream): a silent connection and a
stalled negotiation are closed after the establishment timeout, an idle
authenticated stream gets whitespace every keep-alive interval and is
closed gracefully after the inactivity timeout (and Prosody's next message
opens a new one), and the connection over a partner's limit, or over the
edge's, is refused.

One lab (test 'timers'): sipedge with the timers shortened to the store's
lower bounds (establishment 2 s, keep-alive 10 s) and inactivity 23 s, so
that two keep-alives come before it; Prosody fabrikam.test (alice); raw
peers as fabrikam.test and northwind.test.  The checks run side by side
while the idle streams wait.
"""

import threading
import time

import edge
import harness
import lab as xlab
from edge import IM_BODY

ESTABLISH, KEEPALIVE, INACTIVITY, PARTNER_LIMIT = 2, 10, 23, 2


class Watch(object):
    """Reads a raw peer's stream in a thread until it closes, keeping the
    time of each arrival: .arrivals [(seconds since start, octets)]."""

    def __init__(self, p, limit):
        self.p, self.t0, self.arrivals = p, time.monotonic(), []
        self.thread = threading.Thread(target=self.run, args=(limit,), daemon=True)
        self.thread.start()

    def run(self, limit):
        p, deadline = self.p, self.t0 + limit
        while not p.closed and time.monotonic() < deadline:
            n = len(p.raw)
            p._pump(min(deadline, time.monotonic() + 0.5))
            if len(p.raw) > n:
                self.arrivals.append((time.monotonic() - self.t0, p.raw[n:]))

    def join(self, timeout):
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def spaces(self):
        """The arrival times of whitespace-only reads (keep-alives)."""
        return [t for t, d in self.arrivals if d.strip() == b"" and d]


def establishment(lab):
    """A silent TCP connection and a stream stalled after its header."""
    silent = edge.raw_peer(lab, timeout=8)
    stalled = edge.raw_peer(lab, timeout=8)
    t0 = time.monotonic()
    stalled.open(frm="fabrikam.test", to="contoso.test")
    res = {}

    def wait(name, p):
        res[name] = (p.read_until_close(8), time.monotonic() - t0)
    ths = [threading.Thread(target=wait, args=a, daemon=True)
           for a in (("silent", silent), ("stalled", stalled))]
    for t in ths:
        t.start()
    for t in ths:
        t.join(10)
    for name, p, what in (("silent", silent, "a silent TCP connection"),
                          ("stalled", stalled, "a stream that stops after the header")):
        r, took = res.get(name, ({"error": None, "text": None, "ended": False,
                                  "closed": False, "raw": b""}, -1))
        lab.ok(edge.closed_with(r, "connection-timeout", 3009) and
               ESTABLISH - 0.2 <= took <= ESTABLISH + 2.5,
               "establishment: %s is closed with <connection-timeout/> and 3009 after %.1f s "
               "(stream-establishment-timeout %d s): %s" % (what, took, ESTABLISH,
                                                           edge.showr(r)),
               edge.rawdiag(p))
        if name == "silent":
            header_named(lab, p, "establishment: %s" % what)
        p.close()




def header_named(lab, p, what):
    """TAP point: the response header that carries a
    stream error sent before the peer's own header has a stream id and our
    domain (RFC 6120 §4.7.3: the receiving entity generates a unique id;
    §4.7.1: its 'from'; §4.9.1.2: the header is sent even so)."""
    h = p.header or {}
    lab.ok(h.get("id") and h.get("from") == "contoso.test",
           "%s: the response header has a stream id and from='contoso.test' (id %r, "
           "from %r)" % (what, h.get("id"), h.get("from")), edge.rawdiag(p))


def partner_limit(lab):
    """partner-connection-limit: the next stream of northwind.test over it."""
    what = "partner-connection-limit %d" % PARTNER_LIMIT
    peers = [edge.raw_external(lab, frm="northwind.test", cert="xmpp-northwind")
             for _ in range(PARTNER_LIMIT)]
    lab.ok(len(peers) == PARTNER_LIMIT,
           "%s: %d streams of northwind.test authenticated" % (what, len(peers)))
    mark = len(lab.edge_lines())
    p = edge.raw_peer(lab)
    p.open(frm="northwind.test", to="contoso.test")
    r = p.read_until_close(5)
    lab.ok(edge.closed_with(r, "resource-constraint", 3012) and p.features is None,
           "%s: stream number %d is refused at its header with <resource-constraint/> and 3012 "
           "(%s)" % (what, PARTNER_LIMIT + 1, edge.showr(r)), edge.rawdiag(p))
    line = edge.edge_wait_log(lab, r"stream error resource-constraint \(3012 northwind\.test "
                              r"has %d streams open" % PARTNER_LIMIT, 1, mark)
    lab.ok(line, "%s: sipedge logs it: %s" % (what, line), lambda: lab.edge_diag(20))
    p.close()
    peers[0].end()
    peers[0].read_until_close(3)
    peers[0].close()
    time.sleep(0.2)
    again = edge.raw_external(lab, frm="northwind.test", cert="xmpp-northwind")
    lab.ok(again.features is not None,
           "%s: once one of them closed, a new stream of northwind.test is accepted" % what)
    for q in peers[1:] + [again]:
        q.end()
        q.close()


def global_limit(lab, fab):
    """connection-limit: the connection over the edge's limit, whoever it
    is from, is refused as soon as it is accepted."""
    what = "connection-limit 2"
    fab.stop()
    lab.wait_for(lambda: edge_streams(lab) == 0, 3)
    t0 = time.monotonic()
    edge.ctl(lab, "xmpp", "config", "set", "partner-connection-limit", "1")
    edge.ctl(lab, "xmpp", "config", "set", "connection-limit", "2")
    edge.applied(lab, t0)
    a = edge.raw_external(lab)
    b = edge.raw_external(lab, frm="northwind.test", cert="xmpp-northwind")
    mark = len(lab.edge_lines())
    c = edge.raw_peer(lab)
    r = c.read_until_close(5)
    lab.ok(edge.closed_with(r, "resource-constraint", 3012),
           "%s: with two streams open, a third TCP connection gets <resource-constraint/> and "
           "3012 without sending anything (%s)" % (what, edge.showr(r)), edge.rawdiag(c))
    header_named(lab, c, what)
    line = edge.edge_wait_log(lab, r"XMPP connection-limit 2 reached", 1, mark)
    lab.ok(line, "%s: sipedge logs it: %s" % (what, line), lambda: lab.edge_diag(20))
    c.close()
    a.end()
    a.read_until_close(3)
    a.close()
    time.sleep(0.2)
    d = edge.raw_external(lab)
    lab.ok(d.features is not None, "%s: once one closed, a new stream is accepted" % what)
    for q in (b, d):
        q.end()
        q.close()


def edge_streams(lab):
    """Established TCP connections on sipedge's XMPP listener."""
    return xlab.connections(harness.EDGE_IP, lab.edge_xmpp)


def t_timers(lab):
    """Establishment timeout, keep-alives, inactivity close, partner limit."""
    fab, alice = edge.edge_xmpp_lab(lab, policy=[
        ["xmpp", "config", "set", "stream-establishment-timeout", str(ESTABLISH)],
        ["xmpp", "config", "set", "keepalive-interval", str(KEEPALIVE)],
        ["xmpp", "config", "set", "stream-inactivity-timeout", str(INACTIVITY)],
        ["xmpp", "config", "set", "partner-connection-limit", str(PARTNER_LIMIT)],
        ["xmpp", "partner", "set", "fabrikam.test", "--connection-limit", "6"],
        ["xmpp", "partner", "add", "northwind.test"]])
    uas = edge.PoolUas(lab, calls=2, timeout=90)

    # Prosody's two streams, which then stay idle.
    alice.message("bob@contoso.test", IM_BODY, id="t-1")
    r = edge.pool_message(lab, "sip:alice@fabrikam.test", "hello alice")
    got = uas.wait(1, 10)
    st = alice.expect(kind="message", frm="bob@contoso.test", timeout=10)
    lab.ok(len(got) == 1 and r["status"] == 202 and st is not None,
           "Prosody's streams up both ways: alice's message reaches the pool, the pool's "
           "reaches alice (%s)" % edge.show(r), lambda: uas.diag() + lab.edge_diag(30))
    t_prosody = time.monotonic()
    rows = fab.s2s_show()
    lab.ok(len([x for x in rows if x["remote"] == "contoso.test"]) == 2,
           "fabrikam's s2s:show() has its two streams with contoso.test",
           lambda: ["rows: %s" % rows])
    mark, fmark = len(lab.edge_lines()), len(fab.log_lines())

    # An idle raw stream, watched while the other checks run.
    idle = edge.raw_external(lab)
    watch = Watch(idle, INACTIVITY + 8)
    establishment(lab)
    partner_limit(lab)

    what = "an idle authenticated stream"
    watch.join(INACTIVITY + 10)
    r = idle.read_until_close(0.1)
    closed_at = watch.arrivals[-1][0] if watch.arrivals else -1
    sp = watch.spaces()
    lab.ok(len(sp) >= 2 and KEEPALIVE - 0.2 <= sp[0] <= KEEPALIVE + 2.5 and
           KEEPALIVE - 1.5 <= sp[1] - sp[0] <= KEEPALIVE + 2.5,
           "%s receives a whitespace keep-alive every keepalive-interval (%d s): at %s s"
           % (what, KEEPALIVE, ", ".join("%.1f" % t for t in sp)),
           lambda: ["arrivals: %s" % watch.arrivals])
    lab.ok(r["error"] is None and r["ended"] and r["closed"] and
           INACTIVITY - 0.2 <= closed_at <= INACTIVITY + 2.5,
           "%s is closed gracefully (</stream:stream>, no stream error) after %.1f s "
           "(stream-inactivity-timeout %d s): %s" % (what, closed_at, INACTIVITY,
                                                     edge.showr(r)),
           lambda: ["arrivals: %s" % watch.arrivals] + lab.edge_diag(20))
    idle.close()

    def inactivity_lines():
        return [l for l in lab.edge_lines()[mark:]
                if "no stanza for %d s (stream-inactivity-timeout)" % INACTIVITY in l]
    # The three are closed in the same tick, the raw one (which the watch
    # saw close) possibly first: the others' lines may follow it by a few
    # milliseconds (more under ASan).
    lab.wait_for(lambda: len(inactivity_lines()) >= 3, 3, step=0.1)
    lines = inactivity_lines()
    lab.ok(len(lines) >= 3,
           "sipedge logs the inactivity close of the raw stream and of Prosody's two (%d lines)"
           % len(lines), lambda: lab.edge_diag(30))
    gone = lab.wait_for(lambda: not [x for x in fab.s2s_show() if x["remote"] ==
                                     "contoso.test"], 4, step=0.3)
    took = time.monotonic() - t_prosody
    closed = [l for l in fab.log_lines()[fmark:]
              if "contoso.test" in l and "closed" in l and "error" not in l.lower()]
    lab.ok(gone and closed,
           "Prosody's idle streams are closed gracefully too (%.0f s after their last "
           "stanza): %s" % (took, closed[:2]), lambda: fab.diag(20))

    # The next message opens a new stream.
    what = "after the inactivity close"
    alice.message("bob@contoso.test", "a new stream", id="t-2")
    got = uas.wait(2, 10)
    lab.ok(len(got) == 2 and got[1]["body"] == b"a new stream",
           "%s: alice's next message reaches the pool over a new stream" % what,
           lambda: uas.diag() + lab.xmpp_diag() + lab.edge_diag(30))
    rows = fab.s2s_show()
    lab.ok([x for x in rows if x["remote"] == "contoso.test" and x["dir"] == "-->"],
           "%s: fabrikam's s2s:show() has a stream to contoso.test again" % what,
           lambda: ["rows: %s" % rows])
    uas.stop()
    global_limit(lab, fab)
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


TESTS = {"timers": t_timers}
