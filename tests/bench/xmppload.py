#!/usr/bin/env python3
"""xmppload.py: the XMPP client side of the XMPP bench (tests/bench/xmpp):
users logged in to a lab Prosody over c2s (RFC 6120: STARTTLS checked
against the lab CA, SASL PLAIN, resource binding) that send messages at a
rate, or receive them and count them.  Standard library only (socket, ssl,
select, expat), so it runs under any python3; its own CPU is not measured.

    xmppload.py send HOST PORT --domain D --users u1,u2,... --to JID --ca CA
    xmppload.py recv HOST PORT --domain D --users u1 --ca CA

Both log in every user (one connection each), print {"event": "ready"} and
then follow commands on stdin, one JSON object a line, answering each with
one JSON line on stdout:

  send  {"cmd": "run", "rate": R, "secs": S, "to": JID}  R messages a second
        for S seconds to JID (default --to), round robin over the
        connections, on an open-loop schedule (1 ms tick; how late the
        sender was is reported); answers {"event": "done", "sent", "secs",
        "late_ms_max", "errors"} once the last one is written.
        {"cmd": "report"}  {"errors"}: error messages received so far.
  recv  {"cmd": "report"}  {"received", "errors", "lat_us": {n, p50, p99,
        max}} -- counts since start, latencies since the last reset.
        {"cmd": "reset"}  {"event": "reset"}: the latencies are emptied.
  both  {"cmd": "quit"}  (or end of input) closes the streams and exits.

Every message body starts with "T" and the CLOCK_MONOTONIC time it was
written (ns), the stamp the receiver (this recv, or sipload uas --
tests/bench/sipload.c) subtracts from its own clock at the read: one-way
latency on one host clock.  The body is padded to --body octets (default
32, sipload's).  Messages of type error that come back count as errors.
Loopback only; every run ends by --max-time at the latest.
"""

import argparse
import base64
import json
import os
import select
import signal
import socket
import ssl
import sys
import time
from xml.parsers import expat

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "xmpp"))
import rawpeer  # noqa: E402

NS_CLIENT = "jabber:client"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
HEADER = ("<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' to='%%s' "
          "version='1.0'>" % (NS_CLIENT, rawpeer.NS_STREAM))


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def login(host, port, domain, user, password, ca, resource, timeout=10.0):
    """A c2s stream logged in as user@domain/resource: (TLS socket, full JID).
    Raises RuntimeError naming the step that failed."""
    s = socket.create_connection((host, port), timeout)
    st = rawpeer.Stream(s, timeout)

    def step(what, cond):
        if not cond:
            raise RuntimeError("%s@%s: %s: %r" % (user, domain, what,
                                                  st.raw.decode("utf-8", "replace")[-300:]))

    def open_stream():
        st.restart()
        st.send(HEADER % domain)
        step("no stream header", st.wait_header() is not None)
        f = st.next()
        step("no stream features", f is not None and f.tag == rawpeer.q(rawpeer.NS_STREAM,
                                                                        "features"))
        return f
    open_stream()
    st.send("<starttls xmlns='%s'/>" % rawpeer.NS_TLS)
    el = st.next()
    step("STARTTLS refused", el is not None and el.tag == rawpeer.q(rawpeer.NS_TLS, "proceed"))
    ctx = rawpeer.client_context(cafile=ca)
    st.sock = ctx.wrap_socket(st.sock, server_hostname=domain)
    open_stream()
    cred = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
    st.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (rawpeer.NS_SASL, cred))
    el = st.next()
    step("SASL PLAIN failed", el is not None and el.tag == rawpeer.q(rawpeer.NS_SASL, "success"))
    open_stream()
    st.send("<iq type='set' id='bind1'><bind xmlns='%s'><resource>%s</resource></bind></iq>"
            % (NS_BIND, resource))
    el = st.next()
    jid = el.find(".//{%s}jid" % NS_BIND) if el is not None else None
    step("resource binding failed", el is not None and el.get("type") == "result" and
         jid is not None)
    st.sock.setblocking(False)
    return st.sock, jid.text


class Incoming(object):
    """The stanzas of one logged-in stream, parsed as they come: messages
    counted, their stamps turned into latencies (us) at `now`."""

    def __init__(self, lat):
        self.p = expat.ParserCreate("UTF-8", " ")
        self.p.StartElementHandler = self.start
        self.p.EndElementHandler = self.end
        self.p.CharacterDataHandler = self.text
        self.p.buffer_text = True
        self.depth, self.kind, self.type, self.body, self.in_body = 0, None, None, None, False
        self.received = self.errors = 0
        self.lat = lat
        self.now = 0
        # The stream header came through the login parser; this one starts
        # after it.
        self.p.Parse("<stream:stream xmlns='%s' xmlns:stream='%s'>"
                     % (NS_CLIENT, rawpeer.NS_STREAM), False)

    def start(self, name, attrs):
        self.depth += 1
        if self.depth == 2:
            self.kind = name.rsplit(" ", 1)[-1]
            self.type, self.body = attrs.get("type"), None
        elif self.depth == 3 and self.kind == "message" and name.endswith(" body"):
            self.in_body, self.body = True, ""

    def text(self, data):
        if self.in_body:
            self.body += data

    def end(self, name):
        if self.depth == 3:
            self.in_body = False
        elif self.depth == 2 and self.kind == "message":
            if self.type == "error":
                self.errors += 1
            elif self.body is not None:
                self.received += 1
                b = self.body
                if b[:1] == "T":
                    digits = b[1:].split(" ", 1)[0]
                    if digits.isdigit():
                        self.lat.append((self.now - int(digits)) / 1000.0)
        self.depth -= 1

    def feed(self, data, now):
        self.now = now
        self.p.Parse(data, False)


def read_ready(socks, incoming, timeout):
    """Wait up to timeout for input on socks; parse what came.  False when a
    stream closed."""
    r, _, _ = select.select(socks, [], [], max(0.0, timeout))
    ok = True
    for s in r:
        while True:
            try:
                data = s.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                break
            except (OSError, ssl.SSLError):
                data = b""
            if not data:
                ok = False
                break
            incoming[s].feed(data, time.monotonic_ns())
            if not s.pending():
                break
    return ok


def write_all(s, data, deadline):
    """Write data to a non-blocking TLS socket (waiting while it is full)."""
    view = memoryview(data)
    while view:
        try:
            n = s.send(view)
            view = view[n:]
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            if time.monotonic() > deadline:
                raise RuntimeError("stream stuck: nothing written for long")
            select.select([], [s], [], 0.05)


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(q * len(sorted_vals) + 0.999999) - 1))
    return sorted_vals[i]


def commands():
    """Lines from stdin, without blocking: a generator of parsed commands
    (None when there is none yet; {"cmd": "quit"} at end of input)."""
    buf = b""
    while True:
        r, _, _ = select.select([0], [], [], 0)
        if not r:
            yield None
            continue
        data = os.read(0, 4096)
        if not data:
            yield {"cmd": "quit"}
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                yield json.loads(line.decode())


def next_command(cmds, socks, incoming):
    """The next command, the streams read while none comes; None (said) when
    a stream closed."""
    while True:
        cmd = next(cmds)
        if cmd is not None:
            return cmd
        if not read_ready(socks, incoming, 0.05):
            emit({"event": "error", "reason": "a stream closed"})
            return None


def run_send(a, socks, incoming):
    rr = 0
    cmds = commands()
    while True:
        cmd = next_command(cmds, socks, incoming)
        if cmd is None:
            return 1
        if cmd["cmd"] == "quit":
            return 0
        if cmd["cmd"] == "report":
            read_ready(socks, incoming, 0)
            emit({"event": "report", "errors": sum(i.errors for i in incoming.values())})
            continue
        rate, secs, to = float(cmd["rate"]), float(cmd["secs"]), cmd.get("to", a.to)
        total = int(round(rate * secs))
        sent, late = 0, 0.0
        t0 = time.monotonic()
        while sent < total:
            now = time.monotonic()
            due = min(total, int((now - t0) * rate) + 1)
            if due > sent:
                late = max(late, now - (t0 + sent / rate))
                out = dict((s, []) for s in socks)
                while sent < due:
                    s = socks[rr % len(socks)]
                    rr += 1
                    body = "T%d %d " % (time.monotonic_ns(), sent)
                    body += "x" * max(0, a.body - len(body))
                    out[s].append("<message to='%s' type='chat' id='m%d'><body>%s</body>"
                                  "</message>" % (to, sent, body))
                    sent += 1
                for s, lst in out.items():
                    if lst:
                        write_all(s, "".join(lst).encode(), time.monotonic() + 10)
            nxt = t0 + sent / rate
            if not read_ready(socks, incoming, min(0.001, nxt - time.monotonic())):
                emit({"event": "error", "reason": "a stream closed", "sent": sent})
                return 1
        emit({"event": "done", "sent": sent, "secs": round(time.monotonic() - t0, 3),
              "late_ms_max": round(late * 1000, 1),
              "errors": sum(i.errors for i in incoming.values())})


def run_recv(a, socks, incoming, lat):
    cmds = commands()
    while True:
        cmd = next_command(cmds, socks, incoming)
        if cmd is None:
            return 1
        if cmd["cmd"] == "quit":
            return 0
        if cmd["cmd"] == "report":
            # What is already readable counts too.
            read_ready(socks, incoming, 0)
            v = sorted(lat)
            emit({"event": "report", "received": sum(i.received for i in incoming.values()),
                  "errors": sum(i.errors for i in incoming.values()),
                  "lat_us": {"n": len(v), "p50": pct(v, 0.5), "p99": pct(v, 0.99),
                             "max": v[-1] if v else None}})
        elif cmd["cmd"] == "reset":
            del lat[:]
            emit({"event": "reset"})


def main():
    ap = argparse.ArgumentParser(description="XMPP c2s load client for the XMPP bench")
    ap.add_argument("mode", choices=("send", "recv"))
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--domain", required=True)
    ap.add_argument("--users", required=True, help="localparts, comma-separated")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--to", help="send: the recipient JID")
    ap.add_argument("--body", type=int, default=32)
    ap.add_argument("--max-time", type=float, default=600)
    a = ap.parse_args()
    if not a.host.startswith("127.") and a.host != "::1":
        print("xmppload: refusing a host that is not a loopback address", file=sys.stderr)
        return 2
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.alarm(int(a.max_time))
    lat = []
    socks, incoming = [], {}
    try:
        for u in a.users.split(","):
            s, jid = login(a.host, a.port, a.domain, u, a.password, a.ca, "bench%d" % os.getpid())
            socks.append(s)
            incoming[s] = Incoming(lat)
            if a.mode == "recv":
                # Available, so that messages to the bare JID reach it.
                write_all(s, b"<presence/>", time.monotonic() + 5)
    except (OSError, RuntimeError, ssl.SSLError) as e:
        emit({"event": "error", "reason": "login: %s" % e})
        return 1
    emit({"event": "ready", "conns": len(socks)})
    try:
        rc = run_send(a, socks, incoming) if a.mode == "send" else run_recv(a, socks, incoming, lat)
    except (OSError, RuntimeError, ssl.SSLError) as e:
        emit({"event": "error", "reason": str(e)})
        rc = 1
    for s in socks:
        try:
            s.setblocking(True)
            s.settimeout(1)
            s.sendall(b"</stream:stream>")
            s.close()
        except (OSError, ssl.SSLError):
            pass
    emit({"event": "bye"})
    return rc


if __name__ == "__main__":
    sys.exit(main())
