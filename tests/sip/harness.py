"""harness.py: the loopback SIP lab the sipedge scenario tests run in.

A Lab owns one temporary directory, one port range and every process it
starts (sipedge, stunnel, SIPp, small Python listeners); Lab.close() -- run at
exit and on SIGTERM/SIGINT/SIGALRM -- kills them all.  Nothing here leaves
loopback.  Standard library only.

Topology (DESIGN.md): the edge listens on 127.0.0.1; lab endpoints are
  pool1 127.0.0.10 (cert pool1.contoso.test)   pool2 127.0.0.11
  fab   127.0.0.20 (cert sip.fabrikam.test)    fab2  127.0.0.21 (sip2.fabrikam.test)
  lit   127.0.0.30 (cert edge.litware.test: a direct partner's edge)
  prov  127.0.0.31 (cert fed.provider.test: a public IM provider's proxy)
Each endpoint has, in the lab's port range: a SIPp TCP port (sipp), a stunnel
client port (cli) that carries SIPp's TCP to the edge over mutual TLS with the
endpoint's certificate, and a stunnel server port (srv) where the edge reaches
the endpoint over TLS; srv forwards to sipp.  Scenarios write srv (TLS) into
Via and Contact, so whatever way the edge goes back to an endpoint -- the
connection a request came on, or a new one to the Contact -- reaches SIPp.

Output is TAP (tap()/ok()/done()); failures print the edge's log tail and the
SIPp error logs as '# ' diagnostics.
"""

import csv
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def env_dir(name, fallback):
    v = os.environ.get(name)
    return os.path.abspath(v) if v else os.path.abspath(fallback)


TOP_SRCDIR = env_dir("top_srcdir", os.path.join(HERE, "..", ".."))
TOP_BUILDDIR = env_dir("top_builddir", TOP_SRCDIR)


def shared_dir():
    """$SHARED_DIR, else ../shared next to the source tree; under make
    distcheck the tree is an unpacked copy inside a build directory, so the
    ancestors' 'shared' folders are tried too."""
    cands = [os.environ.get("SHARED_DIR"), os.path.join(TOP_SRCDIR, "..", "shared")]
    d = TOP_SRCDIR
    while os.path.dirname(d) != d:
        d = os.path.dirname(d)
        cands.append(os.path.join(d, "shared"))
    for c in cands:
        if c and os.path.isfile(os.path.join(c, "corpus", "README.md")):
            return os.path.abspath(c)
    return None


# Port ranges: 100 ports per test, below the Linux ephemeral range (32768+), so
# tests run in parallel (make check -j2) without colliding.  Each is only a
# preference: claim_ports() moves to the next free block when another run
# (another build's make check) holds it.
PORT_BASE = {
    "plumbing": 21000, "message-out": 21100, "message-in": 21200,
    "dialog-out": 21300, "dialog-in": 21400, "cancel": 21500,
    "pool-failover": 21600, "hop-wrongname": 21700, "mtls-required": 21800,
    "relay-denied": 21900, "bad-input": 22000, "max-forwards": 22100,
    "timer-f": 22200, "corpus": 22300,
    "fed-out": 24000, "fed-in": 24100, "fed-refused": 24200, "fed-spoofed": 24300,
    "fed-throttle": 24400, "fed-block-live": 24500, "overload": 24600,
    "cross-worker": 24700, "route-steering": 24900,
    "size-limit": 25100, "bad-input-more": 25200, "dialog-bind": 25300,
    "dialog-policy": 25400, "fed-block-replace": 25500, "failover-fast": 25600,
    "outgoing-address": 25700, "overload-shed": 25800, "control": 25900,
    "metrics": 26100, "reload": 26200, "privdrop": 26300, "probe": 26400, "partners": 26500,
    "kam-long-call": 27000, "kam-options": 27100,
    # tests/xmpp (XmppLab: Prosody and sipedge's XMPP listeners at base+70..98)
    "lab-prosody": 23000, "im-in": 23100, "im-out": 23200, "nego": 23300, "certs": 23400,
    "partners-live": 23500, "hostile-peer": 23600, "timers": 23700, "errors": 23800,
    "direct-tls": 23900,
    "presence-in": 28000, "presence-out": 28100, "presence-unverified": 28200,
    "presence-restart": 28300,
    "xmpp-streams": 28400, "xmpp-probe": 28500, "xmpp-refused": 28600,
    "bidi-in": 28700, "bidi-out": 28800, "direct-tls-out": 28900,
    "xmpp-reload": 29500, "presence-rate": 29600, "im-out-workers": 29700,
    "demo": 25000, "bench": 26000, "bench-xmpp": 29000,
}

ENDPOINTS = {
    # name: (ip, certificate file stem, FQDN, side, slot)
    "pool1": ("127.0.0.10", "pool1", "pool1.contoso.test", "internal", 1),
    "pool2": ("127.0.0.11", "pool2", "pool2.contoso.test", "internal", 2),
    "fab": ("127.0.0.20", "fabrikam", "sip.fabrikam.test", "external", 3),
    "fab2": ("127.0.0.21", "fabrikam2", "sip2.fabrikam.test", "external", 4),
    "lit": ("127.0.0.30", "litware", "edge.litware.test", "external", 5),
    "prov": ("127.0.0.31", "provider", "fed.provider.test", "external", 6),
}

EDGE_IP = "127.0.0.1"
EDGE_INT_NAME = "edge-int.contoso.test"
EDGE_EXT_NAME = "sip.contoso.test"


class Endpoint(object):
    def __init__(self, lab, name):
        ip, stem, fqdn, side, slot = ENDPOINTS[name]
        self.name, self.ip, self.stem, self.fqdn, self.side = name, ip, stem, fqdn, side
        b = lab.base + 10 * slot
        self.sipp, self.cli, self.srv = b, b + 1, b + 2
        self.spare = b + 3          # a second SIPp, listeners of tests
        self.spare2 = b + 4


def listening(ip, port):
    """True when a TCP socket listens on ip:port (from /proc/net/tcp: no
    connection is made, so nothing shows up in the peer's log)."""
    want_port = "%04X" % port
    want_ip = "".join("%02X" % int(x) for x in reversed(ip.split(".")))
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                lip, lport = parts[1].split(":")
                if parts[3] == "0A" and lport == want_port and lip in (want_ip, "00000000"):
                    return True
    except OSError:
        pass
    return False


def listening_any(port):
    want = ":%04X" % port
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] == "0A" and parts[1].endswith(want):
                    return True
    except OSError:
        pass
    return False


def claim_ports(preferred, size=100, lo=20000, hi=32700):
    """A block of ports for this run: the preferred one unless another run
    holds it.  A block is held by binding 127.0.0.1:(base + size - 1) for the
    run's lifetime; a block where anything listens is skipped too (leftovers).
    Returns (base, lock socket)."""
    nblocks = (hi - lo) // size
    first = (preferred - lo) // size
    for k in range(nblocks):
        base = lo + ((first + k) % nblocks) * size
        lock = socket.socket()
        try:
            lock.bind(("127.0.0.1", base + size - 1))
        except OSError:
            lock.close()
            continue
        if any(listening_any(p) for p in range(base, base + size)):
            lock.close()
            continue
        return base, lock
    raise RuntimeError("no free block of %d ports in %d-%d" % (size, lo, hi))


def _die_with_parent():
    """preexec_fn: SIGKILL this child when the test driver dies, even by
    SIGKILL (PR_SET_PDEATHSIG), so no lab process outlives its run."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except Exception:
        pass


def tail(path, n=30):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return lines[-n:]
    except OSError:
        return []


def which(prog):
    return shutil.which(prog)


class TAP(object):
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, diag=None):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, desc), flush=True)
        if not cond:
            self.failed += 1
            for line in (diag() if callable(diag) else (diag or [])):
                self.diag(line)
        return bool(cond)

    def skip(self, desc, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, desc, why), flush=True)

    def todo(self, cond, desc, why, diag=None):
        """A known, documented failure: TAP TODO (XFAIL), not counted as failed.
        Passing prints a plain ok, so a fix shows up without turning red."""
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, desc), flush=True)
        else:
            print("not ok %d - %s # TODO %s" % (self.n, desc, why), flush=True)
            for line in (diag() if callable(diag) else (diag or [])):
                self.diag(line)
        return bool(cond)

    @staticmethod
    def diag(line):
        for l in str(line).splitlines() or [""]:
            print("# " + l, flush=True)


class Trap(object):
    """A TCP listener that accepts connections, reads everything and never
    answers (a next hop that swallows requests)."""

    def __init__(self, ip, port):
        self.data = []
        self.conns = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.stop = False
        self.held = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        import select
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns += 1
                c.setblocking(False)
                self.held.append(c)
            except socket.timeout:
                pass
            except OSError:
                return
            for c in list(self.held):
                r, _, _ = select.select([c], [], [], 0)
                if r:
                    try:
                        d = c.recv(65536)
                    except OSError:
                        d = b""
                    if d:
                        self.data.append(d)
                    else:
                        self.held.remove(c)
                        c.close()

    def received(self):
        return b"".join(self.data)

    def close(self):
        self.stop = True
        self.thread.join(1)
        for c in self.held:
            c.close()
        self.sock.close()


class Sipp(object):
    """One SIPp process; statistics from its -trace_stat CSV."""

    def __init__(self, lab, tag, args, timeout, trace=True):
        self.lab, self.tag = lab, tag
        d = lab.dir
        self.stat = os.path.join(d, tag + ".csv")
        self.err = os.path.join(d, tag + ".errors.log")
        self.msgs = os.path.join(d, tag + ".messages.log")
        self.logs = os.path.join(d, tag + ".logs.log")
        self.screen = os.path.join(d, tag + ".screen.log")
        self.out = os.path.join(d, tag + ".out")
        self.rc = None
        self.timeout = timeout
        self.cwd = os.path.join(d, tag + ".d")       # -trace_rtt writes here
        os.makedirs(self.cwd, exist_ok=True)
        full = [lab.sipp_bin] + args + [
            "-nostdin", "-timeout", "%ds" % timeout, "-timeout_error",
            "-trace_stat", "-stf", self.stat, "-fd", "1",
            "-trace_err", "-error_file", self.err,
            "-trace_screen", "-screen_file", self.screen]
        if trace:
            full += ["-trace_logs", "-log_file", self.logs]
        if trace and lab.trace_msg:
            full += ["-trace_msg", "-message_file", self.msgs]
        self.cmd = full
        with open(self.out, "wb") as out:
            self.proc = lab.spawn(full, stdout=out, stderr=subprocess.STDOUT, cwd=self.cwd)

    def wait(self, extra=10):
        if self.rc is None:
            try:
                self.rc = self.proc.wait(self.timeout + extra)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.rc = self.proc.wait()
        return self.rc

    def stop(self, grace=3):
        """Wait up to grace seconds for a natural exit, then end it."""
        if self.rc is None:
            try:
                self.rc = self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGUSR1)   # SIPp: quit after dumping stats
                try:
                    self.rc = self.proc.wait(3)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.rc = self.proc.wait()
        return self.rc

    def stats(self):
        """Last row of the statistics CSV as a dict (cumulative counters)."""
        try:
            with open(self.stat, newline="") as f:
                rows = list(csv.reader(f, delimiter=";"))
        except OSError:
            return {}
        if len(rows) < 2:
            return {}
        head, last = rows[0], rows[-1]
        out = {}
        for k, v in zip(head, last):
            try:
                out[k] = int(v)
            except ValueError:
                out[k] = v
        return out

    def counts(self):
        s = self.stats()
        return (s.get("SuccessfulCall(C)", 0), s.get("FailedCall(C)", 0),
                s.get("IncomingCall(C)", 0), s.get("OutgoingCall(C)", 0))

    def log_lines(self):
        return tail(self.logs, 10000)

    def diag(self):
        out = ["--- SIPp %s: exit %s, %s" % (self.tag, self.rc, " ".join(self.cmd[1:6]))]
        out += ["%s: %s" % (self.tag, l) for l in tail(self.err, 15)]
        out += ["%s: %s" % (self.tag, l) for l in tail(self.out, 5) if l.strip()]
        return out


class Lab(object):
    def __init__(self, name, need=("sipp", "stunnel4"), trace_msg=True, keep=None,
                 workdir=None, timeout=None):
        self.name = name
        self.base, self._port_lock = claim_ports(PORT_BASE[name])
        self.tap = TAP()
        self.procs = []
        self.traps = []
        self.edge_proc = None
        self.edge_log = None
        self.trace_msg = trace_msg
        self.closed = False
        self.workdir = workdir
        self.keep = keep if keep is not None else bool(os.environ.get("SIPEDGE_KEEP"))
        for prog in need:
            if not which(prog):
                print("1..0 # SKIP %s not installed" % prog)
                sys.exit(77)
        self.sipp_bin = which("sipp")
        self.stunnel_bin = which("stunnel4") or which("stunnel")
        self.edge_bin = os.environ.get("SIPEDGE") or os.path.join(TOP_BUILDDIR, "sipedge")
        self.ctl_bin = os.environ.get("SIPEDGECTL") or os.path.join(TOP_BUILDDIR, "sipedgectl")
        if workdir:
            os.makedirs(workdir, exist_ok=True)
            self.dir = os.path.abspath(workdir)
            self.keep = True
        else:
            self.dir = tempfile.mkdtemp(prefix="sipedge-%s-" % name)
        self.pki = os.path.join(self.dir, "pki")
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
            signal.signal(sig, self._on_signal)
        # Every test is bounded in time (SIGALRM bails out and kills the lab).
        signal.alarm(timeout or int(os.environ.get("SIPEDGE_TEST_TIMEOUT", "300")))
        self.ep = dict((n, Endpoint(self, n)) for n in ENDPOINTS)
        # sipedge listeners: internal TLS, external TLS, internal TCP (labs)
        self.edge_int, self.edge_ext, self.edge_tcp = self.base + 1, self.base + 2, self.base + 3

    # -- lifetime ------------------------------------------------------------

    def _on_signal(self, signum, frame):
        TAP.diag("%s: signal %d, stopping the lab" % (self.name, signum))
        print("Bail out! %s: interrupted (signal %d)" % (self.name, signum), flush=True)
        self.close(ok=False)
        os._exit(1)

    def spawn(self, cmd, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_die_with_parent, **kw)
        self.procs.append(p)
        return p

    def close(self, ok=True):
        if self.closed:
            return
        self.closed = True
        for t in self.traps:
            t.close()
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + 3
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait()
        self._port_lock.close()
        if ok and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif not self.workdir:
            TAP.diag("lab files kept in %s" % self.dir)

    def stop_edge(self):
        """SIGTERM sipedge: one TAP point for a clean exit (status 0, no
        sanitizer report in its log)."""
        if not self.edge_proc or self.edge_proc.returncode is not None:
            return
        was_alive = self.edge_proc.poll() is None
        if was_alive:
            self.edge_proc.send_signal(signal.SIGTERM)
        try:
            rc = self.edge_proc.wait(15)
        except subprocess.TimeoutExpired:
            self.edge_proc.kill()
            rc = "hung (killed after 15 s)"
        san = [l for l in self.edge_lines()
               if "Sanitizer" in l or "runtime error:" in l or "LeakSanitizer" in l]
        self.ok(was_alive and rc == 0 and not san,
                "sipedge exits cleanly on SIGTERM (status %s%s)" %
                (rc, ", sanitizer report in log" if san else ""),
                lambda: san[:20] + self.edge_diag(20))

    def done(self):
        """Stop sipedge, print the plan, stop everything, exit with the TAP verdict."""
        self.stop_edge()
        print("1..%d" % self.tap.n, flush=True)
        ok = self.tap.failed == 0
        self.close(ok=ok)
        sys.exit(0 if ok else 1)

    def ok(self, cond, desc, diag=None):
        return self.tap.ok(cond, desc, diag)

    # -- PKI -------------------------------------------------------------------

    def make_pki(self, outdir=None):
        outdir = outdir or self.pki
        subprocess.run([os.path.join(TOP_SRCDIR, "tests", "pki", "mkcerts.sh"), outdir],
                       check=True, stdout=subprocess.DEVNULL)
        return outdir

    def cert(self, stem):
        return os.path.join(self.pki, stem + ".crt"), os.path.join(self.pki, stem + ".key")

    # -- stunnel -----------------------------------------------------------------

    def stunnel(self, services, tag="stunnel"):
        """services: list of dicts made by client()/server().  One stunnel
        process serves them all; returns once every accept port listens."""
        conf = os.path.join(self.dir, tag + ".conf")
        log = os.path.join(self.dir, tag + ".log")
        lines = ["foreground = yes", "pid =", "syslog = no", "output = " + log,
                 "debug = info", ""]
        for s in services:
            lines.append("[%s]" % s["name"])
            for k, v in s.items():
                if k != "name":
                    lines.append("%s = %s" % (k, v))
            lines.append("")
        with open(conf, "w") as f:
            f.write("\n".join(lines))
        p = self.spawn([self.stunnel_bin, conf], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        accepts = [s["accept"].rsplit(":", 1) for s in services]
        if not self.wait_for(lambda: all(listening(a, int(b)) for a, b in accepts)
                             or p.poll() is not None, 10) or p.poll() is not None:
            raise RuntimeError("stunnel did not start: %s" % " | ".join(tail(log, 5)))
        self.stunnel_log = log
        return p

    def client(self, ep, edge_port, cert_stem=None, verify_name=None, name=None):
        """stunnel client: SIPp on ep -> TCP ep.ip:ep.cli -> mTLS -> edge."""
        crt, key = self.cert(cert_stem or ep.stem)
        vname = verify_name or (EDGE_INT_NAME if ep.side == "internal" else EDGE_EXT_NAME)
        return {"name": name or ep.name + "-cli", "client": "yes",
                "accept": "%s:%d" % (ep.ip, ep.cli), "connect": "%s:%d" % (EDGE_IP, edge_port),
                "local": ep.ip, "cert": crt, "key": key,
                "CAfile": os.path.join(self.pki, "ca.crt"), "verifyChain": "yes",
                "checkHost": vname, "sni": vname, "sessionResume": "no",
                "TIMEOUTclose": "0"}

    def server(self, ep, cert_stem=None, connect_port=None, require_cert=True, name=None):
        """stunnel server: the edge -> mTLS ep.ip:ep.srv -> TCP -> SIPp ep.ip:ep.sipp."""
        crt, key = self.cert(cert_stem or ep.stem)
        s = {"name": name or ep.name + "-srv", "accept": "%s:%d" % (ep.ip, ep.srv),
             "connect": "%s:%d" % (ep.ip, connect_port or ep.sipp),
             "cert": crt, "key": key, "CAfile": os.path.join(self.pki, "ca.crt"),
             "TIMEOUTclose": "0"}
        if require_cert:
            s.update({"verifyChain": "yes", "requireCert": "yes"})
        return s

    # -- sipedge -----------------------------------------------------------------

    def edge_conf(self, extra=(), pool=("pool1", "pool2"), routes=("fab", "fab2"),
                  internal_tcp=False, omit=(), state=None, fed="srv", srv=None, policy=(),
                  srv_only=None):
        """A configuration naming the lab: internal listener base+1, external
        base+2 (both TLS on 127.0.0.1), optional internal TCP lab listener base+3.

        The partner fabrikam.test is federated through the policy store
        (sipedgectl, run by start_edge): fed="srv" makes it an allowed partner
        domain whose edges (routes, in that order) a dnsmasq on base+5 serves
        as _sipfederationtls._tcp SRV records; fed="direct" makes it an
        allowed partner server (proxy FQDN of routes[0]) pinned with a `host`
        line, no DNS.  srv: more SRV domains {domain: [(target, port, prio)]},
        each allowed too.  srv_only: SRV domains served but not allowed
        (discovered partners, refusals).  policy: further sipedgectl commands
        (lists), run after those."""
        st = state or os.path.join(self.dir, "state")
        os.makedirs(st, exist_ok=True)
        self.db = os.path.join(st, "policy.db")
        self.dns_port = self.base + 5
        self.dns_srv = {}
        self.dns_hosts = dict((e.fqdn, e.ip) for e in self.ep.values())
        cmds = [["config", "set", "federation", "on"]]
        pins = []
        if routes and fed == "direct":
            ep = self.ep[routes[0]]
            cmds.append(["allow", "add", "fabrikam.test", "--proxy-fqdn", ep.fqdn])
            pins.append("host %s %s:%d" % (ep.fqdn, ep.ip, ep.srv))
        elif routes:
            cmds.append(["allow", "add", "fabrikam.test"])
            self.dns_srv["_sipfederationtls._tcp.fabrikam.test"] = [
                (self.ep[n].fqdn, self.ep[n].srv, 10 * (i + 1)) for i, n in enumerate(routes)]
        for dom, lst in (srv or {}).items():
            cmds.append(["allow", "add", dom])
            self.dns_srv["_sipfederationtls._tcp." + dom] = list(lst)
        for dom, lst in (srv_only or {}).items():
            self.dns_srv["_sipfederationtls._tcp." + dom] = list(lst)
        self.policy_cmds = cmds + [list(c) for c in policy]
        crt, key = self.cert("edge")
        L = ["# %s: generated by tests/sip/harness.py" % self.name,
             "edge-fqdn %s" % EDGE_EXT_NAME,
             "internal-fqdn %s" % EDGE_INT_NAME,
             "sip-domain contoso.test",
             "listen internal tls %s:%d" % (EDGE_IP, self.edge_int),
             "listen external tls %s:%d" % (EDGE_IP, self.edge_ext)]
        if internal_tcp:
            L.append("listen internal tcp %s:%d" % (EDGE_IP, self.edge_tcp))
        L += ["certificate %s" % crt, "private-key %s" % key,
              "ca-bundle %s" % os.path.join(self.pki, "ca.crt")]
        for n in pool:
            ep = self.ep[n]
            L.append("pool-server %s:%d %s" % (ep.fqdn, ep.srv, ep.ip))
        L += ["internal-server pool1.contoso.test", "internal-server pool2.contoso.test"]
        L += pins
        if self.dns_srv:
            L.append("dns-server 127.0.0.1:%d" % self.dns_port)
        L += ["db %s" % self.db, "state-dir %s" % st,
              "log-level debug", "workers %s" % os.environ.get("SIPEDGE_WORKERS", "2"),
              "connect-timeout 2s", "timer-f 6s", "timer-c 20s"]
        L += list(extra)
        out, seen = [], set()
        # later settings of single-valued keys (extra) replace the defaults
        single = {"timer-f", "timer-c", "connect-timeout", "log-level", "workers", "t1",
                  "max-message-size", "idle-timeout", "handshake-timeout", "state-dir"}
        for l in reversed(L):
            k = l.split()[0] if l.strip() else ""
            if k in omit or (k in single and k in seen):
                continue
            seen.add(k)
            out.append(l)
        return "\n".join(reversed(out)) + "\n"

    def sipedgectl(self, *args):
        """Run sipedgectl on the lab's policy db; returns (exit status, output)."""
        r = subprocess.run([self.ctl_bin, "--db", self.db] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        return r.returncode, r.stdout.decode("utf-8", "replace")

    def init_policy(self):
        """Create the policy db (once) and apply the lab's policy commands."""
        if os.path.exists(self.db):
            return
        for cmd in [["db", "init"]] + self.policy_cmds:
            rc, out = self.sipedgectl(*cmd)
            if rc != 0:
                print("Bail out! sipedgectl %s: %s" % (" ".join(cmd), out.strip()), flush=True)
                self.close(ok=False)
                sys.exit(1)

    def start_dns(self):
        """dnsmasq on 127.0.0.1:base+5 serving the lab's SRV and A records."""
        if not self.dns_srv or getattr(self, "dns_proc", None) is not None:
            return
        dnsmasq = which("dnsmasq") or "/usr/sbin/dnsmasq"
        args = [dnsmasq, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--port=%d" % self.dns_port, "--listen-address=127.0.0.1", "--bind-interfaces",
                "--local-ttl=5", "--local=/test/", "--pid-file=", "--user=root"]
        for name, lst in sorted(self.dns_srv.items()):
            for target, port, prio in lst:
                args.append("--srv-host=%s,%s,%d,%d,10" % (name, target, port, prio))
        for fqdn, ip in sorted(self.dns_hosts.items()):
            args.append("--host-record=%s,%s" % (fqdn, ip))
        args += list(getattr(self, "dns_extra", ()))    # more dnsmasq options, from tests
        log = open(os.path.join(self.dir, "dnsmasq.log"), "wb")
        self.dns_proc = self.spawn(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        want = ":%04X" % self.dns_port

        def up():
            try:
                with open("/proc/net/udp") as f:
                    return any(l.split()[1].endswith(want) for l in list(f)[1:])
            except OSError:
                return False
        if not self.wait_for(lambda: up() or self.dns_proc.poll() is not None, 10) or \
                self.dns_proc.poll() is not None:
            print("Bail out! dnsmasq did not start: %s" % " ".join(
                tail(os.path.join(self.dir, "dnsmasq.log"), 5)), flush=True)
            self.close(ok=False)
            sys.exit(1)

    def start_edge(self, conf_text, ports=None, check=True):
        """Write the configuration, set up the policy db and DNS, check it with
        -n (one TAP point), start sipedge -d and wait for its listeners.  Bails
        out when it cannot run."""
        if not os.access(self.edge_bin, os.X_OK):
            print("1..0 # SKIP %s not built" % self.edge_bin)
            self.close(ok=True)
            sys.exit(77)
        self.init_policy()
        self.start_dns()
        conf = os.path.join(self.dir, "sipedge.conf")
        with open(conf, "w") as f:
            f.write(conf_text)
        self.edge_conf_path = conf
        if check:
            r = subprocess.run([self.edge_bin, "-n", "-f", conf], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=20)
            self.ok(r.returncode == 0, "sipedge -n accepts the configuration",
                    lambda: ["exit %d: %s" % (r.returncode, r.stdout.decode("utf-8", "replace"))]
                    + conf_text.splitlines())
        self.edge_log = os.path.join(self.dir, "sipedge.log")
        logf = open(self.edge_log, "wb")
        self.edge_proc = self.spawn([self.edge_bin, "-d", "-f", conf], stdout=logf,
                                    stderr=subprocess.STDOUT)
        logf.close()
        ports = ports or [self.edge_int, self.edge_ext]
        up = self.wait_for(lambda: all(listening(EDGE_IP, p) for p in ports)
                           or self.edge_proc.poll() is not None, 15)
        alive = self.edge_proc.poll() is None
        if not self.ok(up and alive, "sipedge starts and listens on %s" %
                       ", ".join("%s:%d" % (EDGE_IP, p) for p in ports), self.edge_diag):
            print("Bail out! sipedge did not start", flush=True)
            self.close(ok=False)
            sys.exit(1)
        return self.edge_proc

    def edge_alive(self):
        return self.edge_proc is not None and self.edge_proc.poll() is None

    def edge_lines(self):
        return tail(self.edge_log, 100000) if self.edge_log else []

    def edge_grep(self, regex):
        import re
        r = re.compile(regex)
        return [l for l in self.edge_lines() if r.search(l)]

    def edge_diag(self, n=40):
        if not self.edge_log:
            return []
        rc = self.edge_proc.poll() if self.edge_proc else None
        out = ["--- sipedge log tail (%s)" % ("running" if rc is None else "exited %s" % rc)]
        return out + tail(self.edge_log, n)

    # -- SIPp -----------------------------------------------------------------------

    def scenario(self, path):
        return path if os.path.isabs(path) else os.path.join(HERE, path)

    def uas(self, ep, xml, calls, keys=None, timeout=30, tag=None, port=None, extra=(),
            trace=True):
        args = ["-sf", self.scenario(xml), "-t", "t1", "-i", ep.ip, "-p", str(port or ep.sipp),
                "-bind_local", "-m", str(calls), "-recv_timeout", "%d" % (timeout * 1000)]
        for k, v in self.keys(ep, keys).items():
            args += ["-key", k, str(v)]
        s = Sipp(self, tag or ep.name + "-uas", args + list(extra), timeout, trace)
        if not self.wait_for(lambda: listening(ep.ip, port or ep.sipp) or s.proc.poll() is not None, 10):
            raise RuntimeError("SIPp UAS did not listen")
        return s

    def uac(self, ep, xml, calls, keys=None, timeout=30, rate=50, tag=None, port=None,
            extra=(), remote_port=None, trace=True, limit=None):
        args = ["%s:%d" % (ep.ip, remote_port or ep.cli), "-sf", self.scenario(xml),
                "-t", "t1", "-i", ep.ip, "-p", str(port or ep.sipp), "-bind_local",
                "-m", str(calls), "-r", str(rate), "-l", str(limit or max(calls, 1)),
                "-recv_timeout", "%d" % (timeout * 1000)]
        for k, v in self.keys(ep, keys).items():
            args += ["-key", k, str(v)]
        return Sipp(self, tag or ep.name + "-uac", args + list(extra), timeout, trace)

    def keys(self, ep, keys):
        k = {"contact_port": ep.srv, "mf": 70}
        k.update(keys or {})
        return k

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def wait_for(cond, timeout, step=0.05):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return True
            time.sleep(step)
        return bool(cond())

    def trap(self, ip, port):
        t = Trap(ip, port)
        self.traps.append(t)
        return t

    def tls_context(self, cert_stem=None, verify_name=True):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(self.pki, "ca.crt"))
        ctx.check_hostname = verify_name
        if cert_stem:
            ctx.load_cert_chain(*self.cert(cert_stem))
        return ctx

    def tls_connect(self, port, cert_stem=None, sni=EDGE_INT_NAME, source="127.0.0.10",
                    timeout=5):
        s = socket.socket()
        s.settimeout(timeout)
        s.bind((source, 0))
        s.connect((EDGE_IP, port))
        return self.tls_context(cert_stem).wrap_socket(s, server_hostname=sni)


def read_response(sock, timeout=5.0):
    """Read one final SIP response from a stream socket (provisional ones are
    skipped).  Returns (status or None, raw bytes, closed: bool)."""
    import re
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        raw, buf, closed = read_message(sock, buf, max(0.01, deadline - time.monotonic()))
        if raw is None:
            return None, buf, closed
        m = re.match(rb"SIP/2\.0 (\d{3})", raw)
        if m and int(m.group(1)) < 200:
            continue
        return (int(m.group(1)) if m else None), raw, False


def sip_request(method="MESSAGE", ruri="sip:bob@fabrikam.test", via_host="127.0.0.10",
                via_port=5061, branch=None, cseq="1 MESSAGE", mf="70", body=b"hello",
                call_id=None, extra_headers=(), from_uri="sip:alice@contoso.test",
                to_uri=None):
    import random
    branch = branch or "z9hG4bK-py-%08x" % random.getrandbits(32)
    call_id = call_id or "py-%08x@%s" % (random.getrandbits(32), via_host)
    h = ["%s %s SIP/2.0" % (method, ruri),
         "Via: SIP/2.0/TLS %s:%d;branch=%s;rport" % (via_host, via_port, branch),
         "Max-Forwards: %s" % mf,
         "From: <%s>;tag=py%08x" % (from_uri, random.getrandbits(32)),
         "To: <%s>" % (to_uri or ruri),
         "Call-ID: %s" % call_id,
         "CSeq: %s" % cseq,
         "Contact: <sip:alice@%s:%d;transport=tls>" % (via_host, via_port)]
    h += list(extra_headers)
    h += ["Content-Type: text/plain", "Content-Length: %d" % len(body)]
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


def parse_sip(raw):
    """Split one SIP message (bytes or str) into (start line, [(name, value)],
    body).  Header names keep their case; folded lines are joined."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    start = lines[0].strip() if lines else ""
    hdrs = []
    for l in lines[1:]:
        if l[:1] in (" ", "\t") and hdrs:
            hdrs[-1] = (hdrs[-1][0], hdrs[-1][1] + " " + l.strip())
        elif ":" in l:
            n, v = l.split(":", 1)
            hdrs.append((n.strip(), v.strip()))
    return start, hdrs, body


def headers(hdrs, name):
    """Every value of header name (case-insensitive) in a parse_sip list."""
    return [v for n, v in hdrs if n.lower() == name.lower()]


def diag_codes(hdrs):
    """(Warning code, ms-diagnostics code) of a response, None where absent:
    Warning: 399 host "CODE text"; ms-diagnostics: CODE;reason=...;source=..."""
    import re
    w = m = None
    for v in headers(hdrs, "Warning"):
        r = re.match(r'\s*399\s+\S+\s+"(\d+)', v)
        if r:
            w = int(r.group(1))
    for v in headers(hdrs, "ms-diagnostics"):
        r = re.match(r"\s*(\d+)", v)
        if r:
            m = int(r.group(1))
    return w, m


def sipp_messages(path):
    """The messages a SIPp -trace_msg log holds, in order: dicts with 'at'
    (Unix time, from SIPp's local-time stamp), 'dir' ('sent' or 'received'),
    'start' (start line), 'hdrs' (parse_sip list), 'call_id', and 'status'
    (int, responses only)."""
    import re
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    out = []
    parts = re.split(r"(?m)^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d+)\s*\n", text)
    # parts: [preamble, date, fraction, chunk, date, fraction, chunk, ...]
    for i in range(1, len(parts) - 2, 3):
        at = time.mktime(time.strptime(parts[i], "%Y-%m-%d %H:%M:%S")) + float("0." + parts[i + 1])
        chunk = parts[i + 2]
        m = re.match(r"\s*\S+ message (sent|received)[^\n]*\n", chunk)
        if not m:
            continue
        start, hdrs, _ = parse_sip(chunk[m.end():])
        if not start:
            continue
        st = re.match(r"SIP/2\.0 (\d{3})", start)
        cid = headers(hdrs, "Call-ID") or headers(hdrs, "i")
        out.append({"at": at, "dir": m.group(1), "start": start, "hdrs": hdrs,
                    "call_id": cid[0] if cid else None,
                    "status": int(st.group(1)) if st else None})
    return out


def sip_exchange(sock, data, timeout=5.0):
    """Send one request on a connected stream socket and read its final
    response: (status or None, parse_sip headers, raw bytes, closed)."""
    try:
        sock.sendall(data)
    except (OSError, ssl.SSLError):
        return None, [], b"", True
    code, raw, closed = read_response(sock, timeout)
    _, hdrs, _ = parse_sip(raw) if raw else ("", [], "")
    return code, hdrs, raw, closed


def sip_response(req, status=200, reason="OK", extra_headers=(), body=b"", to_tag="resp1",
                 record_route=()):
    """A response to the request req (bytes): its Vias, From, To (with a tag
    when it has none), Call-ID and CSeq, its Record-Route after the entries of
    record_route (a proxy's own, on top), then extra_headers and body."""
    start, hdrs, _ = parse_sip(req)
    h = ["SIP/2.0 %d %s" % (status, reason)]
    h += ["Record-Route: %s" % r for r in record_route]
    for n, v in hdrs:
        ln = n.lower()
        if ln in ("via", "v", "from", "f", "call-id", "i", "cseq", "record-route"):
            h.append("%s: %s" % (n, v))
        elif ln in ("to", "t"):
            h.append("%s: %s%s" % (n, v, "" if ";tag=" in v else ";tag=" + to_tag))
    h += list(extra_headers)
    h.append("Content-Length: %d" % len(body))
    return ("\r\n".join(h) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def read_message(sock, buf, timeout=5.0):
    """Read one SIP message from a stream socket, skipping CRLF keep-alives.
    Returns (message bytes or None, rest of buf, closed)."""
    import re
    deadline = time.monotonic() + timeout
    while True:
        buf = buf.lstrip(b"\r\n")
        i = buf.find(b"\r\n\r\n")
        if i >= 0:
            m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", buf[:i])
            clen = int(m.group(1)) if m else 0
            if len(buf) >= i + 4 + clen:
                return buf[:i + 4 + clen], buf[i + 4 + clen:], False
        left = deadline - time.monotonic()
        if left <= 0:
            return None, buf, False
        sock.settimeout(left)
        try:
            d = sock.recv(65536)
        except socket.timeout:
            return None, buf, False
        except (OSError, ssl.SSLError):
            return None, buf, True
        if not d:
            return None, buf, True
        buf += d


class Responder(object):
    """A SIP server on ip:port, TLS with an endpoint certificate (client
    certificate required) or plain TCP, that answers every request it reads
    with answer(raw) (bytes, or None for no answer; default 200 OK) and records
    each request: dicts with 'peer' (ip, port), 'raw', 'start', 'hdrs', 'body'.
    Responses it receives are recorded in .responses.  Runs in threads until
    the lab closes."""

    def __init__(self, lab, ip, port, cert_stem=None, answer=None, tls=True):
        self.lab, self.got, self.responses, self.conns = lab, [], [], []
        self.answer = answer or (lambda raw: sip_response(raw))
        self.ctx = None
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*lab.cert(cert_stem))
            self.ctx.load_verify_locations(os.path.join(lab.pki, "ca.crt"))
            self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 3
        while True:
            try:     # a listener closed just now may take a moment to go
                self.sock.bind((ip, port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.stop = False
        self.lock = threading.Lock()
        lab.traps.append(self)
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while not self.stop:
            try:
                c, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c, peer), daemon=True).start()

    def serve(self, c, peer):
        try:
            if self.ctx:
                c.settimeout(5)
                c = self.ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            c.close()
            return
        with self.lock:
            self.conns.append(c)
        buf = b""
        while not self.stop:
            raw, buf, closed = read_message(c, buf, timeout=0.5)
            if raw is None:
                if closed:
                    break
                continue
            start, hdrs, body = parse_sip(raw)
            rec = {"peer": peer, "raw": raw, "start": start, "hdrs": hdrs, "body": body,
                   "conn": c}
            if start.startswith("SIP/2.0"):
                with self.lock:
                    self.responses.append(rec)
                continue
            with self.lock:
                self.got.append(rec)
            out = self.answer(raw)
            if out:
                try:
                    c.sendall(out)
                except (OSError, ssl.SSLError):
                    break
        try:
            c.close()
        except OSError:
            pass

    def requests(self, method=None):
        with self.lock:
            return [r for r in self.got if method is None or r["start"].startswith(method + " ")]

    def close(self):
        self.stop = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


class Dialog(object):
    """The caller's view of a dialog set up through the edge: its Call-ID, From
    (with tag), To (with the callee's tag), the callee's Contact and the route
    set (the 200's Record-Route, reversed: RFC 3261 §12.1.2)."""

    def __init__(self, invite, ok):
        _, ih, _ = parse_sip(invite)
        _, rh, _ = parse_sip(ok)
        import re
        self.call_id = headers(ih, "Call-ID")[0]
        self.frm = headers(ih, "From")[0]
        self.to = headers(rh, "To")[0]
        c = headers(rh, "Contact")
        self.contact = re.sub(r"^.*<([^>]*)>.*$", r"\1", c[0]) if c else "sip:callee@invalid"
        self.route = list(reversed([u for v in headers(rh, "Record-Route")
                                    for u in re.findall(r"<[^>]*>", v)]))
        self.cseq = 1

    def request(self, method, via_host, via_port, route=None, frm=None, extra=(), body=b"",
                uri=None, call_id=None):
        """An in-dialog request (bytes) with the next CSeq."""
        import random
        self.cseq += 1
        h = ["%s %s SIP/2.0" % (method, uri or self.contact),
             "Via: SIP/2.0/TLS %s:%d;branch=z9hG4bK-dlg-%08x;rport" % (
                 via_host, via_port, random.getrandbits(32)),
             "Max-Forwards: 70", "From: " + (frm or self.frm), "To: " + self.to,
             "Call-ID: " + (call_id or self.call_id), "CSeq: %d %s" % (self.cseq, method)]
        h += ["Route: " + r for r in (self.route if route is None else route)]
        h += list(extra)
        h.append("Content-Length: %d" % len(body))
        return ("\r\n".join(h) + "\r\n\r\n").encode() + body
