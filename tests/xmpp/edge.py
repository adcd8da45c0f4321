"""edge.py: sipedge between Prosody and the pool, for the XMPP scenario
tests (RFC 6120 s2s, RFC 7247/7572 translation): the lab set-up they share
and the probes they assert with -- the pool's MESSAGE and its final response
(status, ms-diagnostics), what the pool's SIPp received, a raw s2s peer
authenticated to sipedge, the diagnostic code of a stream error's <text/>,
sipedge's resident memory.

Every scenario module (scen_*.py) and tests/xmpp/run import it; nothing here
is a TAP point except contoso_link().
"""

import os
import re
import time

import lab as xlab      # first: it puts tests/sip (harness) on the path
import harness  # noqa: E402
import rawpeer

HERE = os.path.dirname(os.path.abspath(__file__))

# é, & and <x>: a character outside ASCII and the two that XML must escape.
IM_BODY = "h\u00e9llo & <x>"
BOB = "sip:bob@contoso.test"


def edge_xmpp_lab(lab, policy=(), cert="edge-xmpp", extra=(), direct_tls=False,
                  prosody=True, users=("alice",), pool=("pool1", "pool2"), **prosody_knobs):
    """PKI, the pool's SIPp behind stunnel (pool1), sipedge with its SIP lab
    configuration plus `listen xmpp` (external side, lab.edge_xmpp;
    `listen xmpps` at lab.edge_xmpps too with direct_tls, published as
    _xmpps-server._tcp.contoso.test), the certificate `cert` (edge-xmpp
    names contoso.test; the lab's `edge` does not), the partner fabrikam.test
    allowed (`sipedgectl xmpp partner add fabrikam.test`, then the
    sipedgectl commands of policy), and unless prosody is False a Prosody
    fabrikam.test (users, s2s_secure_auth = true unless prosody_knobs say
    otherwise) with alice logged in.  pool: the pool servers (harness
    endpoints; only pool1 has a SIPp).  Returns (fab, alice) or (None, None)."""
    lab.make_pki()
    ep = lab.ep
    lab.stunnel([lab.client(ep["pool1"], lab.edge_int), lab.server(ep["pool1"])])
    more = list(extra)
    ports = [lab.edge_int, lab.edge_ext, lab.edge_xmpp]
    if direct_tls:
        more.append("listen xmpps %s:%d" % (harness.EDGE_IP, lab.edge_xmpps))
        ports.append(lab.edge_xmpps)
    conf = lab.edge_xmpp_conf(routes=(), cert=cert, extra=more, direct_tls=direct_tls, pool=pool,
                              policy=[["xmpp", "partner", "add", "fabrikam.test"]]
                              + [list(c) for c in policy])
    if not prosody:
        lab.start_edge(conf, ports=ports)
        return None, None
    # Prosody's records go into the lab's DNS before it starts.
    # XEP-0288 only where a scenario asks for it (scen_bidi): the others
    # count one stream each way.
    knobs = dict(users=users, secure_auth=True, bidi=False)
    knobs.update(prosody_knobs)
    # peer_direct_tls: Prosody's own XEP-0368 port, published as its
    # _xmpps-server (direct_tls is sipedge's).
    knobs["direct_tls"] = knobs.pop("peer_direct_tls", False)
    fab = lab.prosody("fabrikam.test", start=False, **knobs)
    lab.start_edge(conf, ports=ports)
    fab.start()
    alice = lab.xclient("alice@fabrikam.test", fab)
    return fab, alice


def contoso_link(lab, fab, what):
    """TAP point: fabrikam's s2s:show() has an authenticated TLS 1.3 link to
    contoso.test (SASL EXTERNAL, no dialback)."""
    rows = fab.s2s_show()
    link = [r for r in rows if r["remote"] == "contoso.test"]
    lab.ok(link and all(r["security"] == "TLSv1.3" and r["sasl"] == "Succeeded" and
                        r["dialback"] == "Not used" and r["cert"] == "Valid" for r in link),
           "%s: fabrikam's s2s:show(): contoso.test over TLSv1.3, SASL EXTERNAL succeeded, "
           "no dialback, sipedge's certificate valid" % what,
           lambda: ["rows: %s" % rows] + lab.xmpp_diag() + lab.edge_diag())


def ctl(lab, *args):
    """sipedgectl on the lab's policy database; raises when it fails (a
    lab error, not a finding)."""
    rc, out = lab.sipedgectl(*args)
    if rc != 0:
        raise RuntimeError("sipedgectl %s: exit %d: %s" % (" ".join(args), rc, out.strip()))
    return out


def applied(lab, since):
    """Wait until the daemon has read the store again after a change made
    at `since` (time.monotonic()): it re-reads it once a second."""
    left = since + 1.6 - time.monotonic()
    if left > 0:
        time.sleep(left)


# -- the pool's side ------------------------------------------------------------------


def pool_message(lab, to, body="from the pool", frm=BOB, timeout=12, extra=(),
                 ctype="text/plain;charset=UTF-8"):
    """The pool (pool1's certificate, from its address) sends one MESSAGE
    to `to` (Content-Type ctype) through sipedge's internal listener and reads the final
    response: a dict with status (None: none came), reason, hdrs, raw,
    diag (the ms-diagnostics code), diag_text (its reason=) and warning
    (the Warning's code)."""
    p1 = lab.ep["pool1"]
    body = body.encode("utf-8") if isinstance(body, str) else body
    req = harness.sip_request(ruri=to, via_host=p1.ip, via_port=p1.srv, from_uri=frm, body=body,
                              extra_headers=list(extra))
    req = req.replace(b"Content-Type: text/plain\r\n", b"Content-Type: %s\r\n" % ctype.encode())
    try:
        s = lab.tls_connect(lab.edge_int, cert_stem="pool1", source=p1.ip, timeout=timeout)
    except OSError as e:
        return {"status": None, "reason": "connect: %s" % e, "hdrs": [], "raw": b"",
                "diag": None, "diag_text": "", "warning": None}
    try:
        code, hdrs, raw, _ = harness.sip_exchange(s, req, timeout)
    finally:
        s.close()
    start = raw.split(b"\r\n", 1)[0].decode("utf-8", "replace") if raw else ""
    w, m = harness.diag_codes(hdrs)
    md = harness.headers(hdrs, "ms-diagnostics")
    return {"status": code, "reason": start, "hdrs": hdrs, "raw": raw, "diag": m,
            "diag_text": md[0] if md else "", "warning": w}


def show(r):
    """A pool_message result for a TAP description."""
    return "%s, ms-diagnostics: %s" % (r["reason"] or "no response", r["diag_text"] or "none")


class PoolUas(object):
    """The pool's SIPp UAS (tests/xmpp/im/uas.xml: answers 200) for up to
    `calls` MESSAGEs; received() lists what it got so far."""

    def __init__(self, lab, calls=1, timeout=30, xml="uas.xml", keys=None, tag=None):
        self.lab = lab
        self.sipp = lab.uas(lab.ep["pool1"], os.path.join(HERE, "im", xml), calls,
                            timeout=timeout, keys=keys, tag=tag)

    def received(self):
        return [m for m in xlab.sipp_received(self.sipp.msgs) if m["start"].startswith("MESSAGE ")]

    def wait(self, n, timeout):
        """The MESSAGEs once n arrived or timeout s passed."""
        self.lab.wait_for(lambda: len(self.received()) >= n, timeout, step=0.1)
        return self.received()

    def stop(self, grace=1):
        return self.sipp.stop(grace=grace)

    def diag(self):
        return self.sipp.diag()


def sip_from(m):
    """The From header of a received SIP message (parsed by sipp_received)."""
    v = harness.headers(m["hdrs"], "From") + harness.headers(m["hdrs"], "f")
    return v[0] if v else ""


# -- raw s2s peers --------------------------------------------------------------------


def code_of(text):
    """The diagnostic code at the start of a stream or stanza error's text
    ('3004 fabrikam.test does not offer ...' -> 3004), or None."""
    m = re.match(r"\s*(\d{4})\b", text or "")
    return int(m.group(1)) if m else None


def raw_peer(lab, port=None, direct_tls=False, timeout=5.0):
    """A rawpeer.RawPeer connected to sipedge's XMPP listener (direct TLS:
    the xmpps one)."""
    return rawpeer.RawPeer(harness.EDGE_IP, port or (lab.edge_xmpps if direct_tls
                                                     else lab.edge_xmpp), timeout=timeout)


def raw_tls(lab, p, frm="fabrikam.test", cert="xmpp-fabrikam", to="contoso.test",
            verify=True):
    """Open the stream from frm to to, STARTTLS with the client certificate
    `cert` (the lab's; None: none) checking sipedge's for `to` when verify:
    the features after TLS, or None."""
    pki = lab.pki
    crt, key = lab.cert(cert) if cert else (None, None)
    if p.open(frm=frm, to=to) is None:
        return None
    return p.starttls(crt, key, os.path.join(pki, "ca.crt"), verify=verify)


def raw_external(lab, frm="fabrikam.test", cert="xmpp-fabrikam", to="contoso.test", port=None):
    """A raw peer authenticated to sipedge as frm by SASL EXTERNAL with the
    certificate `cert`; raises when sipedge does not accept it (a lab
    error)."""
    p = raw_peer(lab, port)
    feats = raw_tls(lab, p, frm, cert, to)
    if feats is None or not p.offers("external"):
        raise RuntimeError("raw peer %s: no SASL EXTERNAL after STARTTLS: %r" % (
            frm, p.raw.decode("utf-8", "replace")[-400:]))
    outcome, cond = p.sasl_external()
    if outcome != "success" or p.features is None:
        raise RuntimeError("raw peer %s: SASL EXTERNAL %s %s: %r" % (
            frm, outcome, cond, p.raw.decode("utf-8", "replace")[-400:]))
    return p


def closed_with(r, cond, code=None):
    """Whether a read_until_close() result is the stream error cond (with
    the diagnostic code in its text when code is given), the stream ended
    and the connection closed."""
    return (r["error"] == cond and (code is None or code_of(r["text"]) == code) and
            r["ended"] and r["closed"])


def showr(r):
    """A read_until_close() result for a TAP description."""
    return "%s %r%s%s" % (r["error"], r["text"], ", </stream:stream>" if r["ended"] else "",
                          ", closed" if r["closed"] else "")


def rawdiag(p):
    return lambda: ["raw: %r" % p.raw.decode("utf-8", "replace")[-800:]]


# -- sipedge ----------------------------------------------------------------------------


def edge_rss_kib(lab):
    """sipedge's resident set (VmRSS, KiB), or None."""
    try:
        with open("/proc/%d/status" % lab.edge_proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, AttributeError):
        pass
    return None


def edge_sanitized(lab):
    """The sanitizer the running sipedge is built with ("AddressSanitizer"
    or "ThreadSanitizer"), or None: ASan's quarantine keeps freed memory
    resident and TSan's shadow grows with what it watches, so RSS says
    nothing there."""
    try:
        with open("/proc/%d/maps" % lab.edge_proc.pid) as f:
            maps = f.read()
    except (OSError, AttributeError):
        return None
    return "AddressSanitizer" if "libasan" in maps else \
        "ThreadSanitizer" if "libtsan" in maps else None


def rss_flat(lab, rss0, rss1, desc):
    """TAP point: sipedge's VmRSS went from rss0 to rss1 KiB, within 1 MiB
    (skipped under a sanitizer)."""
    desc = "%s (%s -> %s KiB)" % (desc, rss0, rss1)
    san = edge_sanitized(lab)
    if san:
        lab.tap.skip(desc, "%s's own memory makes RSS meaningless" % san)
        return True
    return lab.ok(rss0 is not None and rss1 is not None and abs(rss1 - rss0) <= 1024, desc)


def edge_wait_log(lab, regex, timeout=5, after=0):
    """The first sipedge log line matching regex among those after the
    first `after` lines, waiting up to timeout s; or None."""
    r = re.compile(regex)
    found = []

    def look():
        found[:] = [l for l in lab.edge_lines()[after:] if r.search(l)]
        return bool(found)
    lab.wait_for(look, timeout, step=0.1)
    return found[0] if found else None
