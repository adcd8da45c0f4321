"""scen_direct_tls.py: XEP-0368 direct TLS into sipedge (`listen xmpps`):
Prosody finds _xmpps-server._tcp.contoso.test, connects to sipedge's direct
TLS port, authenticates with SASL EXTERNAL and its message reaches the pool;
a raw peer with direct TLS gets features without STARTTLS.

One lab (test 'direct-tls'): sipedge listening for STARTTLS (xmpp) and
direct TLS (xmpps), both published in the lab's DNS, Prosody fabrikam.test
(alice).
"""

import os
import re

import edge
import harness
import lab as xlab
from edge import IM_BODY


def t_direct_tls(lab):
    """Prosody reaches sipedge over direct TLS (XEP-0368)."""
    fab, alice = edge.edge_xmpp_lab(lab, direct_tls=True)
    uas = edge.PoolUas(lab, calls=2, timeout=60)
    mark = len(lab.edge_lines())
    alice.message("bob@contoso.test", IM_BODY, id="dt-1")
    got = uas.wait(1, 15)
    lab.ok(len(got) == 1 and got[0]["body"] == IM_BODY.encode("utf-8") and
           re.match(r"\s*<?sip:alice@fabrikam\.test[>;]", edge.sip_from(got[0])),
           "alice's message reaches the pool, byte-exact, from sip:alice@fabrikam.test",
           lambda: uas.diag() + lab.xmpp_diag() + lab.edge_diag(30))
    direct = xlab.connections(harness.EDGE_IP, lab.edge_xmpps)
    plain = xlab.connections(harness.EDGE_IP, lab.edge_xmpp)
    lab.ok((direct, plain) == (1, 0),
           "Prosody used sipedge's direct TLS port (found through _xmpps-server._tcp): "
           "%d connection there, %d to the STARTTLS port" % (direct, plain))
    rows = fab.s2s_show()
    out = [r for r in rows if r["remote"] == "contoso.test" and r["dir"] == "-->"]
    lab.ok(out and all(r["security"] == "TLSv1.3" and r["sasl"] == "Succeeded" and
                       r["cert"] == "Valid" for r in out),
           "fabrikam's s2s:show(): its stream to contoso.test is TLSv1.3, SASL EXTERNAL "
           "succeeded, sipedge's certificate valid", lambda: ["rows: %s" % rows])
    line = edge.edge_wait_log(lab, r"authenticated \(SASL EXTERNAL, TLSv1\.3\), inbound stream "
                              r"contoso\.test <- fabrikam\.test", 1, mark)
    lab.ok(line, "sipedge logs the inbound stream authenticated: %s" % line,
           lambda: lab.edge_diag(30))

    pki = lab.pki
    p = edge.raw_peer(lab, direct_tls=True)
    version = p.direct_tls(os.path.join(pki, "xmpp-fabrikam.crt"),
                           os.path.join(pki, "xmpp-fabrikam.key"),
                           os.path.join(pki, "ca.crt"), server_name="contoso.test")
    p.open(frm="fabrikam.test", to="contoso.test")
    lab.ok(version == "TLSv1.3" and p.features is not None and not p.offers("starttls") and
           p.offers("external"),
           "a raw peer with direct TLS (%s, sipedge's certificate checked for contoso.test): "
           "features offer SASL EXTERNAL and no STARTTLS" % version, edge.rawdiag(p))
    outcome, cond = p.sasl_external()
    p.send("<message from='alice@fabrikam.test/raw' to='bob@contoso.test' type='chat' "
           "id='dt-2'><body>over direct TLS</body></message>")
    got = uas.wait(2, 10)
    lab.ok(outcome == "success" and len(got) == 2 and got[1]["body"] == b"over direct TLS",
           "its SASL EXTERNAL succeeds (%s %s) and its message reaches the pool" % (outcome, cond),
           lambda: uas.diag() + lab.edge_diag(20))
    p.end()
    p.close()
    uas.stop()
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


def t_direct_tls_out(lab):
    """XEP-0368 outbound: fabrikam.test publishes _xmpps-server (Prosody's
    s2s_direct_tls_ports); sipedge looks it up first and reaches Prosody
    with TLS from the first octet (ALPN xmpp-server, the certificate
    checked for fabrikam.test), authenticates with SASL EXTERNAL, and
    alice receives the pool's message; no connection to Prosody's STARTTLS
    port."""
    fab, alice = edge.edge_xmpp_lab(lab, peer_direct_tls=True)
    nw_tls, nw_plain = fab.s2s_tls, fab.s2s
    r = edge.pool_message(lab, "sip:alice@fabrikam.test", "direct TLS \u00e9")
    lab.ok(r["status"] == 202, "the pool's MESSAGE to alice gets 202 (%s)" % edge.show(r),
           lab.edge_diag)
    got = alice.expect(kind="message", frm="bob@contoso.test", timeout=8)
    lab.ok(got is not None and got.get("body") == "direct TLS \u00e9",
           "alice receives it byte-exact")
    direct = xlab.connections(fab.ip, nw_tls)
    plain = xlab.connections(fab.ip, nw_plain)
    lab.ok(direct == 1 and plain == 0,
           "sipedge reached Prosody's direct-TLS port (%d connection there, %d on STARTTLS)"
           % (direct, plain), lambda: lab.xmpp_diag() + lab.edge_diag())
    rows = [x for x in fab.s2s_show() if x["remote"] == "contoso.test"]
    lab.ok(rows and all(x["security"] == "TLSv1.3" and x["sasl"] == "Succeeded" for x in rows),
           "Prosody's s2s:show(): TLSv1.3, SASL EXTERNAL succeeded (%s)" % rows)
    lab.ok(lab.edge_alive(), "sipedge still running", lab.edge_diag)


TESTS = {"direct-tls": t_direct_tls, "direct-tls-out": t_direct_tls_out}
