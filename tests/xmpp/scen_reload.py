"""scen_reload.py: a reload (SIGHUP; sipedge(8) RELOAD) reaches the XMPP
side, scenario for tests/xmpp/run: a certificate renewed in place is used
by the next XMPP stream without a restart, both ways, and the gateway keeps
no pointer into the configuration the reload replaced (the sanitizer build
runs this test too).

sipedge starts with a copy of the lab certificate `edge`, which does not
name the XMPP domain contoso.test, so Prosody fabrikam.test (s2s_secure_auth)
refuses it; the copy is then overwritten with `edge-xmpp` (it names
contoso.test) and sipedge is sent SIGHUP."""

import os
import shutil
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import edge                                 # noqa: E402
import lab as xlab                          # noqa: E402


def copy_cert(lab, src, dst):
    """Certificate and key of stem src over stem dst's files (the key mode
    0600: sipedge refuses a key others can read)."""
    for a, b in zip(lab.cert(src), lab.cert(dst)):
        shutil.copyfile(a, b)
        os.chmod(b, 0o600)


def reload_edge(lab, what):
    """SIGHUP, then wait for the log line of the switch (TAP point)."""
    n = len(lab.edge_grep(r"configuration reloaded"))
    lab.edge_proc.send_signal(signal.SIGHUP)
    lab.ok(lab.wait_for(lambda: len(lab.edge_grep(r"configuration reloaded")) > n, 10),
           "%s: sipedge reloads (SIGHUP)" % what, lab.edge_diag)


def t_xmpp_reload(lab):
    """A certificate renewed in place reaches the XMPP streams at a reload."""
    lab.make_pki()
    copy_cert(lab, "edge", "renewed")
    fab, alice = edge.edge_xmpp_lab(lab, cert="renewed")
    if fab is None:
        return
    what = "before the reload"
    res = edge.pool_message(lab, "sip:alice@fabrikam.test", "must not arrive")
    lab.ok(res["status"] == 408 and res["diag"] == 3010,
           "%s: the pool's MESSAGE to alice gets 408 3010: Prosody refuses a certificate "
           "without contoso.test (%s)" % (what, edge.show(res)),
           lambda: fab.diag(20) + lab.edge_diag(40))

    copy_cert(lab, "edge-xmpp", "renewed")
    reload_edge(lab, "the certificate renewed in place")
    what = "after the reload"
    res = edge.pool_message(lab, "sip:alice@fabrikam.test", "renewed out")
    lab.ok(res["status"] == 202, "%s: the pool's MESSAGE to alice gets 202 (%s)"
           % (what, edge.show(res)), lambda: fab.diag(20) + lab.edge_diag(40))
    got = alice.expect(kind="message", frm="bob@contoso.test", body="renewed out", timeout=10)
    lab.ok(got is not None, "%s: alice receives the pool's message" % what,
           lambda: alice.diag() + fab.diag(20))
    edge.contoso_link(lab, fab, what)

    # Inbound: Prosody opens its own stream to sipedge and checks the
    # certificate sipedge's listener now presents.
    uas = edge.PoolUas(lab, calls=2, timeout=40)
    alice.message("bob@contoso.test", "renewed in", id="reload-in")
    got = uas.wait(1, 15)
    lab.ok(len(got) == 1 and got[0]["body"] == b"renewed in",
           "%s: alice's message reaches the pool over Prosody's stream to sipedge (%d MESSAGEs)"
           % (what, len(got)), lambda: uas.diag() + fab.diag(20) + lab.edge_diag(40))
    errs = alice.received(kind="message", type="error")
    lab.ok(not errs, "%s: alice gets no error back" % what, lambda: [str(e) for e in errs])

    # A second reload with nothing changed: the gateway still works with
    # the configuration and contexts made then (the first ones are freed).
    reload_edge(lab, "nothing changed")
    alice.message("bob@contoso.test", "second reload", id="reload-in-2")
    got = uas.wait(2, 15)
    lab.ok(len(got) == 2 and got[1]["body"] == b"second reload",
           "after a second reload: alice's next message reaches the pool (%d MESSAGEs)"
           % len(got), lambda: uas.diag() + lab.edge_diag(40))
    uas.stop()
    res = edge.pool_message(lab, "sip:alice@fabrikam.test", "after two reloads")
    lab.ok(res["status"] == 202 and alice.expect(kind="message", body="after two reloads",
                                                 timeout=10) is not None,
           "after a second reload: the pool's message reaches alice (%s)" % edge.show(res))
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


TESTS = {"xmpp-reload": t_xmpp_reload}
