"""scen_workers.py: the pool's MESSAGEs to an XMPP partner from connections
held by both workers (the lab runs two), a scenario for tests/xmpp/run.

The XMPP streams live on worker 0.  A MESSAGE that worker 1 received is
written by worker 1 itself when the stream is up and has nothing queued,
and handed to worker 0 otherwise (sipedge(8), XMPP federation).  Either
way every MESSAGE is answered 202, alice receives every body byte-exact and
each connection's messages in the order it sent them: first with Prosody
reading, then with Prosody stopped (SIGSTOP) while messages of 16 KiB
(worker 1's first) fill the socket and sipedge's queue, and read once it
goes on (SIGCONT)."""

import os
import re
import signal
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import edge                                 # noqa: E402
import lab as xlab                          # noqa: E402
from scen_presence import xmpp_counters     # noqa: E402

harness = xlab.harness

PER_CONN = 30
BIG = 16 * 1024
MAX_FILL = 480                              # 7.5 MiB at most


def body_of(conn, i, tail):
    return "c%d-%03d %s" % (conn, i, tail)


def sender(lab, sock, conn, n, tail, out, stop=None):
    """Send n MESSAGEs on sock one after the other, each after the last
    one's final response (or fewer: until stop(i) says so); out[conn] =
    their statuses."""
    p1 = lab.ep["pool1"]
    codes = []
    for i in range(n):
        if stop is not None and stop(i):
            break
        req = harness.sip_request(ruri="sip:alice@fabrikam.test", via_host=p1.ip,
                                  via_port=p1.srv, from_uri=edge.BOB,
                                  body=body_of(conn, i, tail).encode("utf-8"))
        code, _, _, _ = harness.sip_exchange(sock, req, 10)
        codes.append(code)
        if code is None:
            break
    out[conn] = codes


def run_both(lab, socks, n, tail):
    """Both connections send n messages at the same time; their statuses."""
    out = {}
    th = [threading.Thread(target=sender, args=(lab, s, c, n, tail, out))
          for c, s in enumerate(socks)]
    for t in th:
        t.start()
    for t in th:
        t.join(120)
    return out


def check_round(lab, alice, tail, codes, what, timeout=20):
    """TAP points: every MESSAGE answered 202; alice receives all bodies
    byte-exact, each connection's in its order."""
    want = {c: len(codes.get(c, [])) for c in (0, 1)}
    n = want[0] + want[1]
    lab.ok(all(codes.get(c) == [202] * want[c] for c in (0, 1)),
           "%s: the %d MESSAGEs of both connections are answered 202 (%s)"
           % (what, n, {c: sorted(set(map(str, v))) for c, v in codes.items()}),
           lambda: lab.edge_diag())
    pat = re.compile(r"^c([01])-(\d{3}) ")
    got = {0: [], 1: []}
    bad = []
    deadline = time.monotonic() + timeout
    while len(got[0]) + len(got[1]) < n and time.monotonic() < deadline:
        st = alice.expect(kind="message", frm="bob@contoso.test", timeout=1)
        if st is None:
            continue
        b = st.get("body") or ""
        m = pat.match(b)
        if not m:
            continue
        c, i = int(m.group(1)), int(m.group(2))
        got[c].append(i)
        if b.encode("utf-8") != body_of(c, i, tail).encode("utf-8"):
            bad.append(b[:40])
    lab.ok(len(got[0]) == want[0] and len(got[1]) == want[1],
           "%s: alice receives all %d messages (%d, %d)" % (what, n, len(got[0]), len(got[1])),
           lambda: alice.diag() + lab.xmpp_diag() + lab.edge_diag())
    lab.ok(got[0] == sorted(got[0]) and got[1] == sorted(got[1]),
           "%s: each connection's messages arrive in the order it sent them" % what,
           lambda: ["conn 0: %s" % got[0], "conn 1: %s" % got[1]])
    lab.ok(not bad, "%s: every body arrives byte-exact (%d differ)" % (what, len(bad)),
           lambda: bad[:5])


def t_im_out_workers(lab):
    """MESSAGEs from connections on both workers, to a stream that is up,
    then to one whose peer does not read for a while."""
    fab, alice = edge.edge_xmpp_lab(lab)
    socks = []
    for _ in range(2):
        socks.append(lab.tls_connect(lab.edge_int, cert_stem="pool1", source=lab.ep["pool1"].ip,
                                     timeout=10))
    # The first MESSAGE sets the stream up (worker 0 dials; queued meanwhile).
    first = {}
    sender(lab, socks[0], 0, 1, "set-up", first)
    lab.ok(first.get(0) == [202], "the first MESSAGE sets the stream up and is answered 202 (%s)"
           % first.get(0), lambda: lab.xmpp_diag() + lab.edge_diag())
    alice.expect(kind="message", frm="bob@contoso.test", timeout=10)
    x0 = xmpp_counters(lab)

    codes = run_both(lab, socks, PER_CONN, edge.IM_BODY)
    check_round(lab, alice, edge.IM_BODY, codes, "stream up")
    x1 = xmpp_counters(lab)
    direct = x1.get("stanzas_out_direct", 0) - x0.get("stanzas_out_direct", 0)
    sent = (x1.get("stanzas", {}).get("out", 0) - x0.get("stanzas", {}).get("out", 0))
    # One connection is worker 1's (sipedge balances inbound connections):
    # its MESSAGEs go straight to the stream, the other's through worker 0.
    lab.ok(sent == 2 * PER_CONN and PER_CONN <= direct < 2 * PER_CONN,
           "sipedgectl stats: %d stanzas out, %d of them written by worker 1 itself "
           "(stanzas_out_direct; expected %d to %d)" % (sent, direct, PER_CONN, 2 * PER_CONN - 1),
           lambda: ["before %s" % x0, "after %s" % x1])

    # Which connection is worker 1's: its MESSAGE is written directly.
    one = {}
    sender(lab, socks[0], 0, 1, "which worker", one)
    alice.expect(kind="message", frm="bob@contoso.test", timeout=10)
    x2 = xmpp_counters(lab)
    w1 = 0 if x2.get("stanzas_out_direct", 0) > x1.get("stanzas_out_direct", 0) else 1
    # Prosody stops reading: worker 1 writes until the kernel's buffers
    # (some 4 MB on loopback) are full and the rest of a write waits for
    # worker 0 (logged); then worker 0's connection adds its MESSAGEs
    # behind it, under sipedge's 1 MiB bound for a peer that does not read.
    big = "x" * BIG
    nlog = len(lab.edge_lines())
    rest = re.compile(r"octets another worker wrote")

    def queued(i):
        return i > 0 and i % 4 == 0 and any(rest.search(l) for l in lab.edge_lines()[nlog:])
    for s in socks:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    fab.proc.send_signal(signal.SIGSTOP)
    try:
        out = {}
        sender(lab, socks[w1], w1, MAX_FILL, big, out, stop=queued)
        sender(lab, socks[1 - w1], 1 - w1, PER_CONN, big, out)
    finally:
        fab.proc.send_signal(signal.SIGCONT)
    check_round(lab, alice, big, out, "peer not reading", timeout=60)
    line = edge.edge_wait_log(lab, r"octets another worker wrote", timeout=1, after=nlog)
    lab.ok(line is not None, "a write of worker 1's that the full socket did not take "
           "was queued by worker 0 first (%s)" % (line or "no such log line").strip()[-120:],
           lambda: lab.edge_lines()[nlog:][-15:])
    for s in socks:
        s.close()
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


TESTS = {"im-out-workers": t_im_out_workers}
