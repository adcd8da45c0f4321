"""scen_errors.py: errors across the gateway, both ways (RFC 7247 §7, RFC
7572 §6, RFC 6120 §8.3 and §10.4.3): the pool's SIP failures reach the XMPP
sender as <message type='error'/> with the condition of RFC 7247 Table 3
(src/xmpp_errmap.c), the original id and sipedge's code; what XMPP refuses
reaches the pool as a SIP status where one is left to give (XMPP has no
delivery report: a message to a missing user is accepted and its error is
logged); a partner with no server at all gets 404 and 3008, one that
cannot be reached 408 (3008, or 3009 once the establishment timeout ends
the attempt); a body other than text/plain 415; group chat and
IQs other than ping are refused with service-unavailable; XEP-0199 ping is
answered.

One lab (test 'errors'): sipedge with fabrikam.test, ghost.test (neither SRV
nor address records), deadend.test (a closed port) and silent.test (a
server that accepts and never speaks) allowed, Prosody fabrikam.test
(alice; offline storage off, so a message to a missing user comes back as
service-unavailable), the pool's SIPp answering each MESSAGE with the
status its body asks for (tests/xmpp/im/uas-status.xml).
"""

import re
import time

import edge

ESTABLISH = 3         # stream-establishment-timeout, below the lab's Timer F (6 s)

# SIP status -> the stanza error condition of RFC 7247 Table 3, with the
# type RFC 6120 §8.3.3 gives it.  None: the pool does not answer (Timer F).
STATUSES = ((404, "item-not-found", "cancel"), (480, "recipient-unavailable", "wait"),
            (486, "recipient-unavailable", "wait"), (403, "forbidden", "auth"),
            (415, "not-acceptable", "modify"), (503, "internal-server-error", "cancel"),
            (None, "remote-server-timeout", "wait"))


def sip_to_xmpp(lab, alice):
    """The pool answers alice's messages with each status (or not at all);
    the answered ones are checked now, the unanswered one by timer_f()
    (which gets what this returns) once the edge's Timer F has run."""
    # One call more than it gets: SIPp stays up (and its connection with
    # it) while the edge waits for the answer that never comes.
    uas = edge.PoolUas(lab, calls=len(STATUSES) + 1, timeout=60, xml="uas-status.xml",
                       tag="pool1-uas-status")
    t0 = time.monotonic()
    for st, _, _ in STATUSES:
        alice.message("bob@contoso.test", "status=%s" % (st or "none"), id="e-%s" % (st or "none"))
    got = uas.wait(len(STATUSES), 10)
    lab.ok(len(got) == len(STATUSES), "the pool receives the %d MESSAGEs (%d)"
           % (len(STATUSES), len(got)), lambda: uas.diag() + lab.edge_diag(30))
    for st, cond, etype in STATUSES:
        if st is not None:
            mapped(lab, alice, st, cond, etype, 5)
    return uas, t0


def mapped(lab, alice, st, cond, etype, timeout):
    """alice's error for the message the pool answered st (None: did not
    answer): its condition, type, id and text.  The error stanza or None."""
    mid = "e-%s" % (st or "none")
    err = alice.expect(kind="message", id=mid, timeout=timeout)
    e = (err or {}).get("error") or {}
    what = "SIP %s" % st if st else "no answer from the pool (Timer F)"
    lab.ok(err is not None and err.get("type") == "error" and
           err.get("from", "").startswith("bob@contoso.test") and
           e.get("condition") == cond and e.get("type") == etype,
           "%s -> alice gets <message type='error' id='%s'/> from bob@contoso.test with "
           "<%s/> (type %s): %s" % (what, mid, cond, etype, e),
           lambda: [str(err)] + lab.edge_diag(30))
    # 3020: the pool refused it (and its status); 1202: no next hop
    # answered within timer-f (the pool server named).
    code, text = edge.code_of(e.get("text")), e.get("text") or ""
    lab.ok(code == 3020 and re.search(r"\b%d\b" % st, text) if st else
           code == 1202 and "pool1.contoso.test" in text,
           "%s: the error's text carries sipedge's code, %s (%r)"
           % (what, "3020 and the status" if st else "1202 and the pool server", text))
    return err


def timer_f(lab, alice, uas, t0):
    """The message the pool left unanswered."""
    st, cond, etype = STATUSES[-1]
    err = mapped(lab, alice, st, cond, etype, max(1, t0 + 12 - time.monotonic()))
    took = err["at"] - t0 if err else -1
    lab.ok(5.5 <= took <= 9, "the unanswered one ends with the edge's Timer F (6 s in the "
           "lab): its error came %.1f s after the message" % took)
    uas.stop()


def xmpp_to_sip(lab, fab, alice):
    """What XMPP refuses, as the pool sees it."""
    mark = len(lab.edge_lines())
    r = edge.pool_message(lab, "sip:nobody@fabrikam.test", "to nobody")
    lab.ok(r["status"] == 202,
           "a MESSAGE to sip:nobody@fabrikam.test gets 202: the stanza is on an "
           "authenticated stream, XMPP has no delivery report (%s)" % edge.show(r))
    line = edge.edge_wait_log(lab, r"xmpp: error for a message bob@contoso\.test\S* sent to "
                              r"nobody@fabrikam\.test", 5, mark)
    lab.ok(line, "Prosody's service-unavailable comes back and sipedge logs it: %s" % line,
           lambda: fab.diag(10) + lab.edge_diag(20))
    r = edge.pool_message(lab, "sip:someone@ghost.test", "to a domain with no server")
    lab.ok(r["status"] == 404 and r["diag"] == 3008 and "ghost.test" in r["diag_text"],
           "a MESSAGE to an XMPP partner with no SRV and no address record gets 404 with "
           "ms-diagnostics 3008 (RFC 6120 §10.4.3, RFC 7247 note 4): %s" % edge.show(r),
           lambda: lab.edge_diag(20))

    # RFC 6120 §10.4.3: the name resolves but no stream can be had:
    # remote-server-timeout, 408 (RFC 7247 Table 2).
    r = edge.pool_message(lab, "sip:someone@deadend.test", "to a closed port")
    lab.ok(r["status"] == 408 and r["diag"] == 3008 and "deadend.test" in r["diag_text"],
           "a MESSAGE to an XMPP partner whose server refuses the connection gets 408 with "
           "ms-diagnostics 3008: %s" % edge.show(r), lambda: lab.edge_diag(20))
    t0 = time.monotonic()
    r = edge.pool_message(lab, "sip:someone@silent.test", "to a server that never speaks")
    took = time.monotonic() - t0
    lab.ok(r["status"] == 408 and r["diag"] == 3009 and
           ESTABLISH - 0.2 <= took <= ESTABLISH + 2.5,
           "a MESSAGE to an XMPP partner whose server accepts and never speaks gets 408 with "
           "ms-diagnostics 3009 after stream-establishment-timeout (%d s): %.1f s, %s"
           % (ESTABLISH, took, edge.show(r)), lambda: lab.edge_diag(20))
    r = edge.pool_message(lab, "sip:alice@fabrikam.test", b'{"text": "hi"}',
                          ctype="application/json")
    lab.ok(r["status"] == 415 and r["diag"] == 3019,
           "a MESSAGE that is not text/plain gets 415 with ms-diagnostics 3019: %s"
           % edge.show(r))

    alice.message("bob@contoso.test", "to a room", type="groupchat", id="gc-1")
    err = alice.expect(kind="message", id="gc-1", timeout=5)
    e = (err or {}).get("error") or {}
    lab.ok(err is not None and err.get("type") == "error" and
           e.get("condition") == "service-unavailable" and edge.code_of(e.get("text")) == 3019,
           "a groupchat message is answered with <service-unavailable/> and 3019: %s" % e)
    alice.raw("<iq type='get' to='contoso.test' id='ver-1'>"
              "<query xmlns='jabber:iq:version'/></iq>")
    err = alice.expect(kind="iq", id="ver-1", timeout=5)
    e = (err or {}).get("error") or {}
    lab.ok(err is not None and err.get("type") == "error" and
           e.get("condition") == "service-unavailable" and edge.code_of(e.get("text")) == 3019,
           "an IQ get other than ping is answered with <service-unavailable/> and 3019: %s" % e)
    ok, lines = fab.ping("fabrikam.test", "contoso.test")
    lab.ok(ok, "XMPP ping (XEP-0199) from Prosody's shell to contoso.test gets a pong: %s"
           % [l for l in lines if "pong" in l], lambda: lines + lab.edge_diag(20))


def t_errors(lab):
    """Error mapping SIP -> XMPP and XMPP -> SIP, group chat, IQs, ping."""
    lab.make_pki()
    lab.xmpp_dns("deadend.test", "xmpp.deadend.test", "127.0.0.40", lab.raw_port(0))
    lab.xmpp_dns("silent.test", "xmpp.silent.test", "127.0.0.40", lab.raw_port(1))
    lab.trap("127.0.0.40", lab.raw_port(1))
    fab, alice = edge.edge_xmpp_lab(lab, policy=[
        ["xmpp", "partner", "add", "ghost.test"], ["xmpp", "partner", "add", "deadend.test"],
        ["xmpp", "partner", "add", "silent.test"],
        ["xmpp", "config", "set", "stream-establishment-timeout", str(ESTABLISH)]],
        pool=("pool1",))
    uas, t0 = sip_to_xmpp(lab, alice)
    xmpp_to_sip(lab, fab, alice)           # while the edge's Timer F runs
    timer_f(lab, alice, uas, t0)
    stray = [m for m in alice.received(kind="message") if m.get("type") != "error"]
    lab.ok(not stray, "alice receives no message other than the errors",
           lambda: [str(m) for m in stray])
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


TESTS = {"errors": t_errors}
