"""scen_presence.py: presence across sipedge's XMPP gateway (RFC 8048, RFC 6121,
RFC 6665), scenarios for tests/xmpp/run.  The pool is a Python SIP server on
pool1's address (harness.Responder with pool1's certificate): it answers the
gateway's SUBSCRIBEs, sends NOTIFYs in those dialogs over the same
connection, and sends its own SUBSCRIBE for an XMPP contact through the
edge's internal listener.  Prosody fabrikam.test with alice (slixmpp) is
the XMPP side.  Every check is on what the far side received."""

import json
import os
import re
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import edge                                 # noqa: E402
import lab as xlab                          # noqa: E402

harness = xlab.harness

PIDF_BUSY = (
    "<?xml version='1.0' encoding='UTF-8'?>"
    "<presence xmlns='urn:ietf:params:xml:ns:pidf' "
    "xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' "
    "xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' entity='sip:bob@contoso.test'>"
    "<tuple id='t1'><status><basic>open</basic></status></tuple>"
    "<dm:person id='p1'><rpid:activities><rpid:busy/></rpid:activities></dm:person>"
    "<note xml:lang='en'>In a meeting \u2014 caf\u00e9</note></presence>")


class Pool(object):
    """pool1 played in Python: answers every request 200 (SUBSCRIBE with
    Expires and a Contact), keeps the requests, and can send a request back
    on the connection a request came on."""

    def __init__(self, lab, expires=600):
        ep = lab.ep["pool1"]
        self.lab, self.expires = lab, expires
        self.port = ep.srv
        self.r = harness.Responder(lab, ep.ip, ep.srv, cert_stem="pool1", answer=self.answer)

    def answer(self, raw):
        start, hdrs, _ = harness.parse_sip(raw)
        extra = []
        if start.startswith("SUBSCRIBE "):
            exp = harness.headers(hdrs, "Expires")
            extra = ["Expires: %s" % (exp[0] if exp and exp[0] == "0" else self.expires),
                     "Contact: <sip:presence@127.0.0.10:%d;transport=tls>" % self.port]
        return harness.sip_response(raw, 200, "OK", extra_headers=extra, to_tag="pooltag")

    def wait(self, method, n=1, timeout=8, cond=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [r for r in self.r.requests(method) if cond is None or cond(r)]
            if len(got) >= n:
                return got
            time.sleep(0.05)
        return [r for r in self.r.requests(method) if cond is None or cond(r)]

    def notify(self, sub, state, body=None, cseq=1):
        """A NOTIFY in the dialog the gateway's SUBSCRIBE sub (a request
        record) set up, on its connection."""
        _, hdrs, _ = harness.parse_sip(sub["raw"])
        frm = harness.headers(hdrs, "From")[0]
        to = harness.headers(hdrs, "To")[0]
        cid = harness.headers(hdrs, "Call-ID")[0]
        contact = re.search(r"<([^>]+)>", harness.headers(hdrs, "Contact")[0]).group(1)
        b = (body or "").encode("utf-8")
        h = ["NOTIFY %s SIP/2.0" % contact,
             "Via: SIP/2.0/TLS 127.0.0.10:%d;branch=z9hG4bK-n%d%d" % (self.port, cseq,
                                                                     int(time.time() * 1000)),
             "Max-Forwards: 70",
             "From: %s;tag=pooltag" % to,
             "To: %s" % frm,
             "Call-ID: %s" % cid,
             "CSeq: %d NOTIFY" % cseq,
             "Contact: <sip:presence@127.0.0.10:%d;transport=tls>" % self.port,
             "Event: presence",
             "Subscription-State: %s" % state]
        if body:
            h.append("Content-Type: application/pidf+xml")
        h.append("Content-Length: %d" % len(b))
        sub["conn"].sendall(("\r\n".join(h) + "\r\n\r\n").encode() + b)

    def responses(self, start):
        return [r for r in self.r.responses if r["start"].startswith(start)]


def set_up(lab, ptype=None, extra=()):
    lab.make_pki()
    pool = Pool(lab)
    pol = [["xmpp", "partner", "add", "fabrikam.test"] + (["--type", ptype] if ptype else [])]
    conf = lab.edge_xmpp_conf(routes=(), policy=pol, extra=list(extra))
    lab.start_edge(conf, ports=[lab.edge_int, lab.edge_ext, lab.edge_xmpp])
    fab = lab.prosody("fabrikam.test", users=("alice", "carol"), secure_auth=True, bidi=False)
    alice = lab.xclient("alice@fabrikam.test", fab)
    return pool, fab, alice


def t_presence_in(lab):
    """XMPP watcher → pool user (notes §6 test 19, 21): alice subscribes to
    bob; the pool gets a SUBSCRIBE (Event presence, PIDF, Expires, the trust
    header naming the XMPP partner); its NOTIFY active with a PIDF (busy,
    a note) reaches alice as subscribed, then available/dnd with the note;
    a closed PIDF as unavailable; alice's unsubscribe ends the SIP
    subscription (Expires: 0)."""
    pool, fab, alice = set_up(lab, ptype="federated")
    alice.subscribe("bob@contoso.test")
    subs = pool.wait("SUBSCRIBE")
    lab.ok(len(subs) == 1, "the pool receives one SUBSCRIBE for alice's subscription (%d)"
           % len(subs), lambda: lab.xmpp_diag() + lab.edge_diag())
    sub = subs[0] if subs else {"start": "", "hdrs": [], "raw": b"", "conn": None}
    h = lambda n: harness.headers(sub["hdrs"], n)
    lab.ok(sub["start"].startswith("SUBSCRIBE sip:bob@contoso.test ") and
           h("Event") == ["presence"] and "application/pidf+xml" in " ".join(h("Accept")) and
           h("Expires") == ["28800"],
           "it is SUBSCRIBE sip:bob@contoso.test, Event presence, Accept PIDF, Expires 28800 "
           "(%s %s %s %s)" % (sub["start"], h("Event"), h("Accept"), h("Expires")))
    lab.ok(any("alice@fabrikam.test" in f for f in h("From")),
           "its From is the watcher, sip:alice@fabrikam.test (%s)" % h("From"))
    trust = " ".join(h("ms-edge-proxy-message-trust"))
    lab.ok("ms-source-network=xmpp" in trust and "ms-xmpp-partner=fabrikam.test" in trust and
           "ms-xmpp-partner-type=federated" in trust,
           "its trust header names the XMPP partner and its type (%s)" % trust)
    if not sub["conn"]:
        return
    pool.notify(sub, "active;expires=600", PIDF_BUSY, cseq=1)
    got = alice.expect(kind="presence", frm="bob@contoso.test", type="subscribed", timeout=8)
    lab.ok(got is not None, "alice receives presence type subscribed from bob@contoso.test")
    got = alice.expect(kind="presence", frm="bob@contoso.test", type=None, timeout=8)
    lab.ok(got is not None and got.get("show") == "dnd" and
           got.get("status") == "In a meeting \u2014 caf\u00e9",
           "alice receives bob's presence: show dnd, the note as status, byte-exact (%s)"
           % (got and {k: got.get(k) for k in ("show", "status")}))
    ok200 = pool.responses("SIP/2.0 200")
    lab.ok(len(ok200) >= 1, "the edge answers the NOTIFY 200 (%d)" % len(ok200))
    closed = PIDF_BUSY.replace("<basic>open</basic>", "<basic>closed</basic>")
    pool.notify(sub, "active;expires=600", closed, cseq=2)
    got = alice.expect(kind="presence", frm="bob@contoso.test", type="unavailable", timeout=8)
    lab.ok(got is not None, "a closed PIDF reaches alice as unavailable")
    alice.presence(type="unsubscribe", to="bob@contoso.test")
    ends = pool.wait("SUBSCRIBE", n=2, timeout=8)
    last = ends[-1] if len(ends) >= 2 else None
    lab.ok(last is not None and harness.headers(last["hdrs"], "Expires") == ["0"] and
           any("tag=pooltag" in t for t in harness.headers(last["hdrs"], "To")),
           "alice's unsubscribe ends the SIP subscription: SUBSCRIBE Expires: 0 in the dialog",
           lambda: [r["start"] for r in ends] + lab.edge_diag())
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


def t_presence_out(lab):
    """Pool user → XMPP contact (notes §6 test 20, 21): the pool's SUBSCRIBE
    to sip:alice@fabrikam.test gets 202 with a Contact and Expires, a NOTIFY
    pending; alice (auto-authorising) receives the subscription request;
    then NOTIFY active, and alice's away with a status reaches the pool as a
    PIDF NOTIFY; a second resource of alice's is a second tuple, and she
    stays open while either is; the pool's unsubscribe reaches alice."""
    pool, fab, alice = set_up(lab)
    alice.auto_authorize("on")
    time.sleep(0.3)
    s = lab.tls_connect(lab.edge_int, cert_stem="pool1")
    req = harness.sip_request("SUBSCRIBE", ruri="sip:alice@fabrikam.test", cseq="1 SUBSCRIBE",
                              body=b"", from_uri="sip:bob@contoso.test",
                              via_port=pool.port,
                              extra_headers=["Event: presence", "Accept: application/pidf+xml",
                                             "Expires: 600"])
    code, hdrs, raw, _ = harness.sip_exchange(s, req, timeout=8)
    lab.ok(code == 202 and harness.headers(hdrs, "Expires") == ["600"] and
           any("xmpp-gw@" in c for c in harness.headers(hdrs, "Contact")),
           "the pool's SUBSCRIBE to sip:alice@fabrikam.test gets 202, Expires 600 and the "
           "gateway's Contact (%s %s %s)" % (code, harness.headers(hdrs, "Expires"),
                                             harness.headers(hdrs, "Contact")),
           lambda: lab.edge_diag())
    got = alice.expect(kind="presence", frm="bob@contoso.test", type="subscribe", timeout=8)
    lab.ok(got is not None, "alice receives a subscription request from bob@contoso.test")
    pend = pool.wait("NOTIFY", 1, cond=lambda r: "pending" in
                     " ".join(harness.headers(r["hdrs"], "Subscription-State")))
    lab.ok(len(pend) >= 1, "the pool gets NOTIFY Subscription-State pending")
    act = pool.wait("NOTIFY", 1, timeout=10, cond=lambda r: b"<basic>open</basic>" in r["raw"])
    lab.ok(len(act) >= 1 and "active" in " ".join(harness.headers(act[0]["hdrs"],
                                                                   "Subscription-State")),
           "after alice approves, the pool gets NOTIFY active with a PIDF saying open",
           lambda: [r["raw"][:400] for r in pool.r.requests("NOTIFY")])
    alice.presence(show="away", status="Gone fishing \u00e0 la plage")
    away = pool.wait("NOTIFY", 1, timeout=10,
                     cond=lambda r: "Gone fishing \u00e0 la plage".encode() in r["raw"])
    lab.ok(len(away) >= 1 and b"away" in away[0]["raw"],
           "alice's away with a status reaches the pool as a PIDF NOTIFY (note byte-exact, "
           "RPID away)", lambda: [r["raw"][:600] for r in pool.r.requests("NOTIFY")])
    ct = harness.headers(away[0]["hdrs"], "Content-Type") if away else []
    lab.ok(ct == ["application/pidf+xml"], "its Content-Type is application/pidf+xml (%s)" % ct)
    resources(lab, pool, fab, alice)
    # Unsubscribe: SUBSCRIBE Expires: 0 in the dialog.
    to_hdr = harness.headers(hdrs, "To")[0] if hdrs else ""
    _, rh, _ = harness.parse_sip(req)
    req2 = req.replace(b"Expires: 600", b"Expires: 0").replace(b"1 SUBSCRIBE", b"2 SUBSCRIBE")
    req2 = re.sub(rb"(?m)^To: .*\r\n", ("To: %s\r\n" % to_hdr).encode(), req2)
    req2 = re.sub(rb"branch=[^;\r]+", b"branch=z9hG4bK-unsub1", req2)
    contact = re.search(r"<([^>]+)>", harness.headers(hdrs, "Contact")[0]).group(1) \
        if hdrs and harness.headers(hdrs, "Contact") else "sip:alice@fabrikam.test"
    req2 = re.sub(rb"^SUBSCRIBE \S+", ("SUBSCRIBE %s" % contact).encode(), req2)
    code2, _, _, _ = harness.sip_exchange(s, req2, timeout=8)
    lab.ok(code2 == 200, "the pool's unsubscribe (Expires: 0 in the dialog) gets 200 (%s)" % code2)
    got = alice.expect(kind="presence", frm="bob@contoso.test", type="unsubscribe", timeout=8)
    lab.ok(got is not None, "alice receives presence type unsubscribe from bob@contoso.test")
    term = pool.wait("NOTIFY", 1, timeout=8, cond=lambda r: "terminated" in
                     " ".join(harness.headers(r["hdrs"], "Subscription-State")))
    lab.ok(len(term) >= 1, "the pool gets NOTIFY terminated")
    s.close()
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


def tuples(raw):
    """The tuples of a PIDF NOTIFY: {tuple id: (basic, contact)}."""
    body = raw.split(b"\r\n\r\n", 1)[1].decode("utf-8", "replace") if b"\r\n\r\n" in raw else ""
    out = {}
    for m in re.finditer(r'(?s)<tuple id="([^"]+)">(.*?)</tuple>', body):
        basic = re.search(r"<basic>(\w+)</basic>", m.group(2))
        contact = re.search(r"<contact[^>]*>([^<]+)</contact>", m.group(2))
        out[m.group(1)] = (basic.group(1) if basic else None,
                           contact.group(1) if contact else None)
    return out


def resources(lab, pool, fab, alice):
    """RFC 8048 note 2, RFC 6665 §4.2.2: alice signed in at two resources
    is one tuple per resource in every NOTIFY (full state, with each
    resource's gr= contact); one resource leaving keeps her open through
    the other; the last leaving makes her closed."""
    phone = lab.xclient("alice@fabrikam.test", fab, resource="phone")
    both = pool.wait("NOTIFY", 1, timeout=10, cond=lambda r: len(tuples(r["raw"])) == 2)
    t = tuples(both[0]["raw"]) if both else {}
    lab.ok(t.get("ID-lab", (None,))[0] == "open" and t.get("ID-phone", (None,))[0] == "open" and
           (t.get("ID-phone") or (None, ""))[1] == "sip:alice@fabrikam.test;gr=phone",
           "alice signed in at a second resource: the NOTIFY has a tuple for each, open, "
           "the phone's contact sip:alice@fabrikam.test;gr=phone (%s)" % t,
           lambda: [r["raw"][-900:] for r in pool.r.requests("NOTIFY")[-3:]])
    n = len(pool.r.requests("NOTIFY"))
    alice.presence(type="unavailable", status="laptop closed")
    one = pool.wait("NOTIFY", n + 1, timeout=10)[n:]
    t = tuples(one[0]["raw"]) if one else {}
    lab.ok(t == {"ID-phone": ("open", "sip:alice@fabrikam.test;gr=phone")},
           "the laptop resource goes unavailable: the next NOTIFY still says open, one "
           "tuple, the phone's (%s)" % t,
           lambda: [r["raw"][-900:] for r in pool.r.requests("NOTIFY")[-3:]])
    n = len(pool.r.requests("NOTIFY"))
    phone.quit()
    gone = pool.wait("NOTIFY", n + 1, timeout=10)[n:]
    t = tuples(gone[0]["raw"]) if gone else {}
    lab.ok(list(t.values()) == [("closed", None)],
           "the phone signs out too: the next NOTIFY says closed (%s)" % t,
           lambda: [r["raw"][-900:] for r in pool.r.requests("NOTIFY")[-3:]])


def t_presence_unverified(lab):
    """Partner types (notes §6 test 23): carol at a public-unverified
    partner subscribes to bob, who never subscribed to her: she gets
    unsubscribed and the pool gets nothing; a probe from her gets
    unsubscribed too."""
    pool, fab, alice = set_up(lab, ptype="public-unverified")
    alice.subscribe("bob@contoso.test")
    got = alice.expect(kind="presence", frm="bob@contoso.test", type="unsubscribed", timeout=8)
    lab.ok(got is not None, "alice (public-unverified partner) gets unsubscribed from bob")
    time.sleep(0.5)
    lab.ok(not pool.r.requests("SUBSCRIBE"), "the pool receives no SUBSCRIBE",
           lambda: [r["start"] for r in pool.r.requests()])
    lab.ok(lab.edge_grep(r"public-unverified partner fabrikam\.test.*\(3021\)"),
           "sipedge logs the refusal with 3021", lab.edge_diag)
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


def t_presence_restart(lab):
    """Probe and restart (notes §6 test 22): once alice's subscription to
    bob is approved and bob's presence known, sipedge restarts: it
    subscribes to bob again for the approved watcher (state from the
    store), and when alice logs in again Prosody's probe is answered with
    bob's last presence, from the store."""
    pool, fab, alice = set_up(lab, ptype="federated")
    alice.subscribe("bob@contoso.test")
    subs = pool.wait("SUBSCRIBE")
    if not lab.ok(len(subs) == 1, "the pool receives alice's SUBSCRIBE",
                  lambda: lab.edge_diag()):
        return
    pool.notify(subs[0], "active;expires=600", PIDF_BUSY, cseq=1)
    got = alice.expect(kind="presence", frm="bob@contoso.test", type=None, timeout=8)
    lab.ok(got is not None and got.get("show") == "dnd", "alice sees bob busy (dnd)")
    alice.quit()
    conf = open(lab.edge_conf_path).read()
    lab.stop_edge()
    lab.start_edge(conf, ports=[lab.edge_int, lab.edge_ext, lab.edge_xmpp], check=False)
    again = pool.wait("SUBSCRIBE", n=2, timeout=10)
    lab.ok(len(again) >= 2 and "alice@fabrikam.test" in " ".join(harness.headers(
        again[-1]["hdrs"], "From")) and not any("tag=" in t for t in harness.headers(
            again[-1]["hdrs"], "To")),
           "after the restart sipedge subscribes to bob again for alice (a new dialog)",
           lambda: [r["start"] for r in pool.r.requests()] + lab.edge_diag())
    alice2 = lab.xclient("alice@fabrikam.test", fab)
    got = alice2.expect(kind="presence", frm="bob@contoso.test", type=None, timeout=10)
    lab.ok(got is not None and got.get("show") == "dnd" and
           got.get("status") == "In a meeting \u2014 caf\u00e9",
           "alice logs in again: Prosody's probe is answered with bob's last presence from the "
           "store (dnd, the note byte-exact) (%s)" % (got and {k: got.get(k) for k in
                                                            ("show", "status")}),
           lambda: lab.xmpp_diag() + lab.edge_diag())
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


RATE, BURST, SENT = 2, 5, 14


def xmpp_counters(lab):
    """The XMPP counters of sipedgectl --json stats, or {}."""
    sock = os.path.join(lab.dir, "state", "control.sock")
    rc, out = lab.sipedgectl("--socket", sock, "--json", "stats")
    try:
        return ((json.loads(out).get("counters") or {}).get("xmpp") or {}) if rc == 0 else {}
    except ValueError:
        return {}


def t_presence_rate(lab):
    """A partner over xmpp-presence-rate (RATE a second after a burst of
    BURST): alice sends SENT directed presences to bob at once; the first
    BURST pass, the others come back as presence errors resource-constraint
    (type wait) with 3022, counted and logged; the stream stays up, and once
    the bucket refills her next presence passes."""
    pool, fab, alice = set_up(lab, extra=["xmpp-presence-rate %d" % RATE,
                                          "xmpp-presence-burst %d" % BURST])
    for i in range(SENT):
        alice.presence(to="bob@contoso.test", id="rate-%d" % i)
    errs = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(errs) < SENT - BURST:
        errs = alice.received(kind="presence", type="error")
        time.sleep(0.1)
    time.sleep(0.5)
    errs = alice.received(kind="presence", type="error")
    ids = sorted(int(e.get("id", "rate-x").split("-")[1]) for e in errs
                 if (e.get("id") or "").startswith("rate-"))
    conds = set(((e.get("error") or {}).get("condition"), (e.get("error") or {}).get("type"))
                for e in errs)
    texts = set(edge.code_of((e.get("error") or {}).get("text") or "") for e in errs)
    # A refill during the burst may let one more through: RATE a second.
    lab.ok(SENT - BURST - 2 <= len(ids) <= SENT - BURST and min(ids or [0]) >= BURST,
           "%d presences at once, a burst of %d: the first %d pass, %d of the rest come back as "
           "errors (ids %s)" % (SENT, BURST, BURST, len(ids), ids),
           lambda: alice.diag() + lab.edge_diag(30))
    lab.ok(conds == {("resource-constraint", "wait")} and texts == {3022},
           "each error is resource-constraint, type wait, its text beginning with 3022 (%s %s)"
           % (conds, texts))
    x = xmpp_counters(lab)
    lab.ok(x.get("presence_limited") == len(errs),
           "sipedgectl stats counts them (presence_limited %s)" % x.get("presence_limited"))
    lab.ok(lab.edge_grep(r"fabrikam\.test sends presence faster than %d a second.*\(3022\)"
                         % RATE), "sipedge logs the partner over its rate with 3022",
           lambda: lab.edge_diag(20))
    time.sleep(1.5)
    n = len(errs)
    alice.presence(to="bob@contoso.test", id="rate-after")
    alice.message("bob@contoso.test", "still here", id="rate-msg")
    time.sleep(1.5)
    late = [e for e in alice.received(kind="presence", type="error")][n:]
    got = pool.wait("MESSAGE", 1, timeout=8)
    lab.ok(not late and got and b"still here" in got[0]["raw"],
           "a second later: her next presence passes and her message reaches the pool over "
           "the same stream (%d more errors)" % len(late),
           lambda: [str(e) for e in late] + lab.edge_diag(20))
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


TESTS = {
    "presence-rate": t_presence_rate,
    "presence-in": t_presence_in,
    "presence-out": t_presence_out,
    "presence-unverified": t_presence_unverified,
    "presence-restart": t_presence_restart,
}
