"""lab.py: the XMPP side of the loopback lab (RFC 6120 s2s, RFC 6121 IM and
presence): real Prosody servers, XMPP users driven through xclient.py, and
the DNS records that join them to the SIP lab of tests/sip/harness.py.

XmppLab extends harness.Lab (port block, dnsmasq, PKI, stunnel, SIPp,
sipedge, TAP, clean-up on exit and signals) with
  prosody(domain, ...)   a Prosody for one XMPP domain on its own loopback
                         address, in the foreground, owned and killed by the
                         lab; ping() and s2s_show() through its admin shell
  xclient(jid, ...)      an XMPP user agent (xclient.py, Debian's python3 and
                         slixmpp) that follows commands and reports stanzas
  the DNS records        _xmpp-server._tcp / _xmpps-server._tcp for every
                         Prosody domain and for contoso.test (sipedge's XMPP
                         listener, edge_xmpp), added to harness.start_dns
  raw_listener(...)      a rawpeer.Listener published as a domain's server
  edge_xmpp_conf(...)    harness's sipedge configuration plus `listen xmpp`
Raw streams for negative tests come from rawpeer.py (standard library only);
connections() counts a listener's TCP connections (XEP-0288: one or two).
Records added after dnsmasq started restart it: add them before traffic.

Ports, in the lab's block (base .. base+99; base+99 is the block's lock):
  base+70+5k .. +4   Prosody number k (k < 4): c2s, s2s, s2s direct TLS
  base+90, base+91   sipedge's XMPP listeners (STARTTLS, direct TLS)
  base+92 .. +98     raw peers' listeners (raw_port(i))
The SIP lab uses base+1 .. base+64 (harness.Lab, harness.Endpoint).

Prosody's outbound s2s connections leave from 127.0.0.1 whatever its
`interfaces` are: tests identify peers by stream and certificate, never by
source address.  Its logs stay in the lab directory; a failed TAP point
prints their tails as '# ' diagnostics.
"""

import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sip"))
import harness  # noqa: E402
from harness import EDGE_IP, Lab, listening, tail  # noqa: E402

PROSODY = os.environ.get("PROSODY") or "/usr/bin/prosody"
PROSODYCTL = os.environ.get("PROSODYCTL") or "/usr/bin/prosodyctl"
# slixmpp is a Debian package of Debian's python3; the python3 on PATH may be
# another (a pyenv) without it.
XMPP_PYTHON = os.environ.get("XMPP_PYTHON") or "/usr/bin/python3"
XCLIENT = os.path.join(HERE, "xclient.py")

# The lab's XMPP domains: (loopback address, certificate stem).  contoso.test
# is the domain sipedge serves (its SIP domain); the others are Prosody peers.
DOMAINS = {
    "fabrikam.test": ("127.0.0.20", "xmpp-fabrikam"),
    "northwind.test": ("127.0.0.30", "xmpp-northwind"),
}
EDGE_DOMAIN = "contoso.test"
PASSWORD = "secret"

PORT0 = 70           # first Prosody port, relative to the block's base
EDGE_XMPP, EDGE_XMPPS = 90, 91
RAW0, RAW_N = 92, 7


def missing():
    """Why the XMPP lab cannot run here (a package is not installed), or None."""
    if not os.access(PROSODY, os.X_OK) or not os.access(PROSODYCTL, os.X_OK):
        return "prosody not installed"
    # Without lua-unbound Prosody resolves through /etc/resolv.conf on port 53
    # only, and cannot reach the lab's dnsmasq.
    if not glob.glob("/usr/lib/*/lua/5.4/lunbound.so") and \
            not glob.glob("/usr/lib/lua/5.4/lunbound.so"):
        return "lua-unbound (lua5.4-unbound) not installed"
    if not os.access(XMPP_PYTHON, os.X_OK):
        return "%s not installed" % XMPP_PYTHON
    r = subprocess.run([XMPP_PYTHON, "-c", "import slixmpp"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        return "python3-slixmpp not installed (for %s)" % XMPP_PYTHON
    return None


def pki_cache():
    """A directory with the lab PKI and its XMPP certificates, made by
    tests/pki/mkcerts.sh once and reused by every XMPP lab: under the build
    tree, named after the script's SHA-256 (a changed script makes a new
    one).  Made in a private directory and renamed into place, so parallel
    tests (make check -j2) never see half of one; the loser of a race
    removes its copy."""
    script = os.path.join(harness.TOP_SRCDIR, "tests", "pki", "mkcerts.sh")
    with open(script, "rb") as f:
        tag = hashlib.sha256(f.read()).hexdigest()[:16]
    top = os.path.join(harness.TOP_BUILDDIR, "tests", "xmpp")
    final = os.path.join(top, ".pki-" + tag)
    if os.path.isfile(os.path.join(final, ".complete-xmpp")):
        return final
    os.makedirs(top, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".pki-new-", dir=top)
    try:
        subprocess.run([script, work, "xmpp"], check=True, stdout=subprocess.DEVNULL)
        os.chmod(work, 0o755)
        os.rename(work, final)
    except OSError:
        if not os.path.isfile(os.path.join(final, ".complete-xmpp")):
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def skip_unless_available():
    """TAP skip (exit 77) when Prosody, lua-unbound or slixmpp is missing."""
    why = missing()
    if why:
        print("1..0 # SKIP %s" % why, flush=True)
        sys.exit(77)


def lua_str(s):
    """A Lua string literal for s."""
    return '"%s"' % str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def lua_bool(b):
    return "true" if b else "false"


def connections(ip, port):
    """How many established TCP connections have ip:port as their local
    (listening) end, from /proc/net/tcp: the connections a server accepted
    there (RFC 6120 §4.2, XEP-0288 counts them)."""
    want = "%s:%04X" % ("".join("%02X" % int(x) for x in reversed(ip.split("."))), port)
    n = 0
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] == "01" and parts[1] == want:
                    n += 1
    except OSError:
        pass
    return n


def sipp_received(path):
    """The requests and responses a SIPp received, from its -trace_msg log,
    in order: dicts with start (start line), hdrs (harness.parse_sip list)
    and body (bytes exactly as received, cut at Content-Length)."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError:
        return []
    out = []
    chunks = re.split(rb"(?m)^-{20,} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\s*\n", text)
    for chunk in chunks[1:]:
        m = re.match(rb"\s*\S+ message received[^\n]*\n", chunk)
        if not m:
            continue
        raw = chunk[m.end():].lstrip(b"\r\n")
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            head, sep, rest = raw.partition(b"\n\n")
        start, hdrs, _ = harness.parse_sip(head + b"\r\n\r\n")
        clen = harness.headers(hdrs, "Content-Length") or harness.headers(hdrs, "l")
        n = int(clen[0]) if clen and clen[0].strip().isdigit() else len(rest)
        out.append({"start": start, "hdrs": hdrs, "body": rest[:n]})
    return out


class Prosody(object):
    """One Prosody serving one XMPP domain on one loopback address.  Knobs
    (the s2s settings the partner matrix of the XMPP federation notes needs):

      require_encryption  s2s_require_encryption (STARTTLS required, and sent
                          outbound even when not offered)
      secure_auth         s2s_secure_auth (chain and name must be valid, so
                          SASL EXTERNAL; no dialback over a bad certificate)
      allow_encryption    s2s_allow_encryption (False: never TLS)
      bidi                mod_s2s_bidi loaded (XEP-0288, one TCP connection)
      dialback            mod_dialback loaded (XEP-0220)
      direct_tls          listen for XEP-0368 direct TLS (s2s_direct_tls_ports)
      cert                certificate stem in the lab PKI (default: the
                          domain's, DOMAINS)
      nagle               network_settings.nagle (None: Prosody's default,
                          Nagle's algorithm on; False: TCP_NODELAY)
      read_timeout        network_settings.read_timeout, seconds (Prosody
                          sends a whitespace keep-alive on s2s when it ends)
      users               localparts registered (password PASSWORD) before start
      extra               more global configuration lines (Lua)
      vhost_extra         more lines in the VirtualHost section
      debug               also write a debug log (debug.log; about 4x slower)

    Started by start() (XmppLab.prosody() does it), stopped by stop(); the
    lab kills it on close in any case."""

    def __init__(self, lab, domain, slot, ip=None, cert=None, users=("alice",),
                 require_encryption=True, secure_auth=True, allow_encryption=True,
                 bidi=True, dialback=True, direct_tls=False, read_timeout=None, nagle=None,
                 extra=(), vhost_extra=(), debug=None):
        self.lab, self.domain = lab, domain
        dip, dstem = DOMAINS.get(domain, (None, None))
        self.ip = ip or dip
        if not self.ip:
            raise ValueError("no address for XMPP domain %s" % domain)
        self.cert = cert or dstem
        if not self.cert:
            raise ValueError("no certificate for XMPP domain %s" % domain)
        b = lab.base + PORT0 + 5 * slot
        self.c2s, self.s2s, self.s2s_tls = b, b + 1, b + 2
        self.users = list(users)
        self.knobs = dict(require_encryption=require_encryption, secure_auth=secure_auth,
                          allow_encryption=allow_encryption, bidi=bidi, dialback=dialback,
                          direct_tls=direct_tls, read_timeout=read_timeout, nagle=nagle)
        self.extra, self.vhost_extra = list(extra), list(vhost_extra)
        self.debug = bool(os.environ.get("SIPEDGE_XMPP_DEBUG")) if debug is None else debug
        self.tag = domain.split(".")[0]
        self.dir = os.path.join(lab.dir, "prosody-" + self.tag)
        self.conf = os.path.join(self.dir, "prosody.cfg.lua")
        self.log = os.path.join(self.dir, "prosody.log")
        self.debug_log = os.path.join(self.dir, "debug.log")
        self.out = os.path.join(self.dir, "prosody.out")
        self.proc = None
        self.starts = 0

    def cert_is_good(self):
        """Whether the certificate is the domain's own valid one (DOMAINS)."""
        return DOMAINS.get(self.domain, (None, None))[1] == self.cert

    # -- configuration --------------------------------------------------------

    def config_text(self):
        lab, k = self.lab, self.knobs
        crt, key = lab.cert(self.cert)
        mods = ["roster", "saslauth", "tls", "disco", "ping", "presence", "message",
                "admin_shell"]
        off = ["offline"]          # errors come back instead of being stored
        for name, on in (("dialback", k["dialback"]), ("s2s_bidi", k["bidi"])):
            (mods if on else off).append(name)
        logs = ["info = %s" % lua_str(self.log)]
        if self.debug:
            logs.append("debug = %s" % lua_str(self.debug_log))
        net = {}
        if k["read_timeout"] is not None:
            net["read_timeout"] = k["read_timeout"]
        if k["nagle"] is not None:
            net["nagle"] = lua_bool(k["nagle"])
        L = ["-- %s: generated by tests/xmpp/lab.py for the sipedge lab (%s)" % (
                self.conf, lab.name),
             # CI runs as root; without this Prosody would switch to the user
             # 'prosody', who cannot read the lab's keys.
             "run_as_root = true",
             "pidfile = %s" % lua_str(os.path.join(self.dir, "prosody.pid")),
             "data_path = %s" % lua_str(os.path.join(self.dir, "data")),
             # <domain>.crt/.key here: the certificate picked by SNI on the
             # direct TLS port.
             "certificates = %s" % lua_str(os.path.join(self.dir, "certs")),
             "log = { %s }" % "; ".join(logs),
             "interfaces = { %s }" % lua_str(self.ip),
             "local_interfaces = { %s }" % lua_str(self.ip),
             "c2s_ports = { %d }" % self.c2s,
             "s2s_ports = { %d }" % self.s2s,
             "s2s_direct_tls_ports = { %s }" % (str(self.s2s_tls) if k["direct_tls"] else ""),
             "c2s_direct_tls_ports = { }", "legacy_ssl_ports = { }",
             "http_ports = { }", "https_ports = { }",
             "component_ports = { }",
             "admin_socket = %s" % lua_str(os.path.join(self.dir, "admin.sock")),
             "modules_enabled = { %s }" % "; ".join(lua_str(m) for m in mods),
             "modules_disabled = { %s }" % "; ".join(lua_str(m) for m in off),
             'authentication = "internal_plain"',
             # Lab users only: plain passwords, no TLS needed on c2s.
             "c2s_require_encryption = false",
             "allow_unencrypted_plain_auth = true",
             "s2s_require_encryption = %s" % lua_bool(k["require_encryption"]),
             "s2s_secure_auth = %s" % lua_bool(k["secure_auth"]),
             "s2s_allow_encryption = %s" % lua_bool(k["allow_encryption"]),
             "network_settings = { %s }" % "; ".join(
                 "%s = %s" % (n, v) for n, v in sorted(net.items())),
             # Trust the lab CA only.
             "ssl = { cafile = %s; capath = %s }" % (
                 lua_str(os.path.join(lab.pki, "ca.crt")), lua_str("/nonexistent")),
             # Names through the lab's dnsmasq: libunbound forwards to it, and
             # 'test.' must be made transparent, since libunbound otherwise
             # answers that reserved zone (RFC 6761) itself with NXDOMAIN.
             "unbound = { resolvconf = false; hoststxt = false; forward = %s; "
             'options = { ["local-zone:"] = "test. transparent" } }'
             % lua_str("127.0.0.1@%d" % lab.dns_port)]
        L += self.extra
        L += ["", "VirtualHost %s" % lua_str(self.domain),
              "  ssl = { certificate = %s; key = %s }" % (lua_str(crt), lua_str(key))]
        L += ["  " + l for l in self.vhost_extra]
        return "\n".join(L) + "\n"

    def write_config(self):
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        certs = os.path.join(self.dir, "certs")
        os.makedirs(certs, exist_ok=True)
        crt, key = self.lab.cert(self.cert)
        for src, ext in ((crt, "crt"), (key, "key")):
            dst = os.path.join(certs, "%s.%s" % (self.domain, ext))
            if os.path.lexists(dst):
                os.unlink(dst)
            os.symlink(src, dst)
        with open(self.conf, "w") as f:
            f.write(self.config_text())

    def ctl(self, *args, stdin=None, timeout=20):
        """prosodyctl on this instance's configuration: (exit status, output)."""
        r = subprocess.run([PROSODYCTL, "--config", self.conf] + list(args),
                           input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        return r.returncode, r.stdout.decode("utf-8", "replace")

    def register(self, user, password=PASSWORD):
        """Create an account offline (before start, or while running)."""
        rc, out = self.ctl("register", user, self.domain, password)
        if rc != 0:
            raise RuntimeError("prosodyctl register %s@%s: %s" % (user, self.domain, out.strip()))

    # -- lifetime --------------------------------------------------------------

    def start(self, timeout=10):
        """Write the configuration, register the users (first start only),
        start Prosody in the foreground and wait until it listens and its
        admin socket exists.  Raises RuntimeError (with the log tail) if not."""
        self.write_config()
        if self.starts == 0:
            for u in self.users:
                self.register(u)
        self.starts += 1
        with open(self.log, "ab") as f:
            f.write(("=== lab.py: start #%d of %s at %.3f\n" % (
                self.starts, self.domain, time.time())).encode())
        out = open(self.out, "ab")
        self.proc = self.lab.spawn([PROSODY, "--config", self.conf, "-F"], stdout=out,
                                   stderr=subprocess.STDOUT)
        out.close()
        ports = [self.c2s, self.s2s] + ([self.s2s_tls] if self.knobs["direct_tls"] else [])
        sock = os.path.join(self.dir, "admin.sock")
        up = self.lab.wait_for(lambda: self.proc.poll() is not None or (
            all(listening(self.ip, p) for p in ports) and os.path.exists(sock)), timeout)
        if not up or self.proc.poll() is not None:
            raise RuntimeError("Prosody %s did not start (exit %s): %s" % (
                self.domain, self.proc.poll(), " | ".join(self.diag(8)[1:])))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5):
        """SIGTERM and wait; returns the exit status (None if it had to be killed)."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def restart(self):
        self.stop()
        return self.start()

    # -- logs --------------------------------------------------------------------

    def log_lines(self):
        return tail(self.log, 100000)

    def grep(self, regex):
        r = re.compile(regex)
        return [l for l in self.log_lines() if r.search(l)]

    def wait_log(self, regex, timeout=5):
        """The first log line matching regex, waiting up to timeout s; or None."""
        found = []
        self.lab.wait_for(lambda: found.extend(self.grep(regex)) or found, timeout)
        return found[0] if found else None

    def diag(self, n=25):
        rc = self.proc.poll() if self.proc else "not started"
        out = ["--- Prosody %s (%s:%d s2s, %s) log tail" % (
            self.domain, self.ip, self.s2s, "running" if rc is None else "exit %s" % rc)]
        out += tail(self.log, n)
        extra = [l for l in tail(self.out, 5) if l.strip()]
        if extra:
            out += ["--- Prosody %s stdout/stderr" % self.domain] + extra
        return out

    # -- admin shell -------------------------------------------------------------

    def shell(self, commands, timeout=20):
        """Run admin shell commands (prosodyctl shell, commands on stdin, one
        a line; each waits for the one before).  Returns the output lines with
        the shell's banner and prompts removed."""
        text = "".join(c + "\n" for c in commands).encode()
        rc, out = self.ctl("shell", stdin=text, timeout=timeout)
        lines = []
        for l in out.splitlines():
            while l.startswith("prosody> "):
                l = l[len("prosody> "):]
            lines.append(l)
        # The banner ends with the line that points at the online documentation.
        cut = 0
        for i, l in enumerate(lines):
            if "prosody.im/doc/console" in l:
                cut = i + 1
        return [l for l in lines[cut:] if l.strip()]

    def ping(self, from_domain=None, to_domain=None, timeout=10):
        """XEP-0199 ping from a local domain to a remote one through the admin
        shell (xmpp:ping): (ok, output lines).  ok is True when a pong came
        back from to_domain; the lines show connected / authenticated /
        established times or the error."""
        frm = from_domain or self.domain
        cmd = "xmpp:ping(%s, %s, %d)" % (lua_str(frm), lua_str(to_domain), timeout)
        lines = self.shell([cmd], timeout=timeout + 15)
        ok = any(re.search(r"pong from %s in " % re.escape(to_domain), l) for l in lines)
        return ok, lines

    S2S_COLUMNS = ("id", "host", "dir", "remote", "ipv", "secure", "s2s_sasl", "dialback",
                   "cert", "sni", "alpn")

    def s2s_show(self):
        """The s2s sessions (s2s:show), one dict each: id, host, dir ('-->'
        outgoing, '<--' incoming, '<->' bidirectional), remote, ipv,
        security ('TLSv1.3', 'insecure', ...), sasl ('Succeeded', 'Failed',
        ''), dialback ('Not used', 'Initiated', 'Completed', ...), cert
        (certificate status: 'Valid', 'Untrusted', 'Expired', 'Mismatched',
        ...), sni and alpn (what the TLS client asked for: a direct TLS
        connection, XEP-0368, has alpn 'xmpp-server')."""
        spec = "{ %s }" % "; ".join(lua_str(c) for c in self.S2S_COLUMNS)
        lines = self.shell(["s2s:show(nil, %s)" % spec])
        keys = ("id", "host", "dir", "remote", "ipv", "security", "sasl", "dialback", "cert",
                "sni", "alpn")
        rows = []
        for l in lines:
            # The shell starts each line it prints with "| "; the table's
            # columns are separated by "|" (the last one may be empty).
            cells = [c.strip() for c in l[1:].split("|")] if l.startswith("|") else []
            if len(cells) != len(keys) or cells[0] in ("Session ID", ""):
                continue
            rows.append(dict(zip(keys, cells)))
        return rows


class XClient(object):
    """One XMPP user agent: xclient.py under Debian's python3, logged in as
    jid on a lab Prosody.  Commands go to its stdin as JSON lines; every
    stanza it receives comes back as a dict (see xclient.py) in .got, with
    "at", the time.monotonic() it arrived.

        c = lab.xclient("alice@fabrikam.test", prosody)
        c.message("carol@northwind.test", "héllo")
        st = c.expect(kind="message", frm="carol@northwind.test")
    """

    def __init__(self, lab, jid, prosody, password=PASSWORD, resource="lab",
                 auto_authorize="off", presence=True, timeout=10):
        self.lab, self.jid, self.prosody = lab, jid, prosody
        self.tag = "xclient-" + jid.replace("@", "-at-")
        self.stderr = os.path.join(lab.dir, self.tag + ".log")
        self.trace = os.path.join(lab.dir, self.tag + ".jsonl")
        self.got, self.events = [], []
        self.cond = threading.Condition()
        self.taken = set()
        self.full_jid = None
        # The c2s leg checks the server's certificate against the lab CA,
        # unless the Prosody presents one of the lab's bad certificates (for
        # its s2s side, which is what such a test is about).
        ca = os.path.join(lab.pki, "ca.crt") if prosody.cert_is_good() else "none"
        cmd = [XMPP_PYTHON, XCLIENT, "--jid", "%s/%s" % (jid, resource),
               "--password", password, "--host", prosody.ip, "--port", str(prosody.c2s),
               "--ca", ca, "--auto-authorize", auto_authorize]
        if not presence:
            cmd.append("--no-presence")
        err = open(self.stderr, "ab")
        self.proc = lab.spawn(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        err.close()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        ev = self.wait_event(lambda e: e.get("kind") in ("online", "fatal"), timeout)
        if not ev or ev.get("kind") != "online":
            raise RuntimeError("xclient %s did not log in: %s | %s" % (
                jid, ev, " | ".join(tail(self.stderr, 5))))
        self.full_jid = ev.get("jid")

    def _read(self):
        with open(self.trace, "ab") as trace:
            for raw in self.proc.stdout:
                trace.write(raw)
                trace.flush()
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except ValueError:
                    obj = {"kind": "garbage", "raw": raw.decode("utf-8", "replace")}
                obj["at"] = time.monotonic()      # when it arrived (time.monotonic)
                with self.cond:
                    (self.got if obj.get("kind") in ("message", "presence", "iq")
                     else self.events).append(obj)
                    self.cond.notify_all()
        with self.cond:
            self.events.append({"kind": "exit"})
            self.cond.notify_all()

    def wait_event(self, pred, timeout=5):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if pred(e):
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    # -- commands -----------------------------------------------------------------

    def send(self, cmd, **fields):
        """Write one command; waits for xclient's acknowledgement (its 'ack'
        line with the same seq) and returns it, with the stanza id it used."""
        self._seq = getattr(self, "_seq", 0) + 1
        obj = dict((k, v) for k, v in fields.items() if v is not None)
        obj.update(cmd=cmd, seq=self._seq)
        line = json.dumps(obj, ensure_ascii=False) + "\n"
        try:
            self.proc.stdin.write(line.encode("utf-8"))
            self.proc.stdin.flush()
        except (OSError, ValueError):
            return None
        seq = self._seq
        return self.wait_event(lambda e: e.get("kind") in ("ack", "exit")
                               and e.get("seq", seq) == seq, 5)

    def message(self, to, body=None, type="chat", subject=None, thread=None, lang=None,
                id=None):
        return self.send("message", to=to, body=body, type=type, subject=subject,
                         thread=thread, lang=lang, id=id)

    def presence(self, to=None, type=None, show=None, status=None, priority=None, id=None):
        return self.send("presence", to=to, type=type, show=show, status=status,
                         priority=priority, id=id)

    def subscribe(self, to):
        return self.presence(to=to, type="subscribe")

    def auto_authorize(self, value):
        """'on' (accept every subscription request), 'off' (leave them to the
        test) or 'reject'."""
        return self.send("auto-authorize", value=value)

    def raw(self, xml):
        """Send XML as it is on the c2s stream (the server stamps 'from')."""
        return self.send("raw", xml=xml)

    def quit(self, timeout=5):
        if self.proc.poll() is None:
            self.send("quit")
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    # -- what arrived -------------------------------------------------------------

    @staticmethod
    def matches(st, fields):
        """fields: stanza keys to values; 'frm' stands for 'from'.  A bare JID
        value matches a full one of the same bare JID; a callable value is a
        predicate."""
        for k, want in fields.items():
            k = "from" if k == "frm" else k
            have = st.get(k)
            if callable(want):
                if not want(have):
                    return False
            elif k in ("from", "to") and isinstance(want, str) and "/" not in want:
                if (have or "").split("/", 1)[0] != want:
                    return False
            elif have != want:
                return False
        return True

    def expect(self, timeout=5, **fields):
        """The first stanza not returned before that matches fields (see
        matches), waiting up to timeout s; None when none came."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, st in enumerate(self.got):
                    if i not in self.taken and self.matches(st, fields):
                        self.taken.add(i)
                        return st
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def received(self, **fields):
        """Every stanza so far that matches fields (taken or not)."""
        with self.cond:
            return [st for st in self.got if self.matches(st, fields)]

    def diag(self, n=10):
        out = ["--- xclient %s (%s)" % (self.jid, "running" if self.proc.poll() is None
                                       else "exit %s" % self.proc.returncode)]
        with self.cond:
            out += [json.dumps(s, ensure_ascii=False)[:300] for s in self.got[-n:]]
        out += ["stderr: " + l for l in tail(self.stderr, n)]
        return out


class XmppLab(Lab):
    """harness.Lab with Prosody peers, XMPP clients and XMPP DNS records.
    Skips the test (exit 77) when Prosody, lua-unbound or slixmpp is missing.
    need: the programs harness.Lab checks (SIPp and stunnel for tests with
    the SIP pool; none for a Prosody-only test)."""

    def __init__(self, name, need=(), **kw):
        skip_unless_available()
        Lab.__init__(self, name, need=need, **kw)
        self.prosodys = []
        self.xclients = []
        # sipedge's XMPP listeners (external side): `listen xmpp EDGE_IP:PORT`
        self.edge_xmpp = self.base + EDGE_XMPP
        self.edge_xmpps = self.base + EDGE_XMPPS
        self.edge_direct_tls = False
        # The SIP lab sets these in edge_conf; a Prosody-only lab needs them too.
        self.dns_port = self.base + 5
        self.dns_srv = getattr(self, "dns_srv", {})
        self.dns_hosts = getattr(self, "dns_hosts", {})
        self.xmpp_srv, self.xmpp_hosts = {}, {}
        self.dns_started_with = None

    def raw_port(self, i):
        """The i-th port for raw peers' listeners (rawpeer.Listener)."""
        if not 0 <= i < RAW_N:
            raise ValueError("raw peer port index %d" % i)
        return self.base + RAW0 + i

    # -- PKI and DNS ---------------------------------------------------------------

    def make_pki(self, outdir=None):
        """The lab PKI with the XMPP certificates (tests/pki/mkcerts.sh xmpp),
        copied from pki_cache() (made once per version of mkcerts.sh: making
        it costs seconds, copying it milliseconds)."""
        outdir = outdir or self.pki
        shutil.copytree(pki_cache(), outdir, dirs_exist_ok=True)
        return outdir

    def xmpp_dns(self, domain, host, ip, port=None, tls_port=None):
        """Publish an XMPP domain's s2s service: _xmpp-server._tcp.DOMAIN ->
        host:port (STARTTLS), _xmpps-server._tcp.DOMAIN -> host:tls_port
        (XEP-0368 direct TLS) when given, and host -> ip.  Restarts a running
        dnsmasq so the records take effect."""
        if port:
            self.xmpp_srv["_xmpp-server._tcp." + domain] = [(host, port, 10)]
        if tls_port:
            self.xmpp_srv["_xmpps-server._tcp." + domain] = [(host, tls_port, 10)]
        self.xmpp_hosts[host] = ip
        if getattr(self, "dns_proc", None) is not None:
            self.start_dns()

    def edge_dns(self, direct_tls=False):
        """Publish contoso.test's XMPP service at sipedge's XMPP listeners:
        xmpp.contoso.test (EDGE_IP), port edge_xmpp, and with direct_tls also
        _xmpps-server at edge_xmpps."""
        self.edge_direct_tls = direct_tls
        self.xmpp_dns(EDGE_DOMAIN, "xmpp." + EDGE_DOMAIN, EDGE_IP, self.edge_xmpp,
                      self.edge_xmpps if direct_tls else None)

    def start_dns(self):
        """harness.Lab.start_dns with the XMPP records added; when dnsmasq
        already runs without some of them it is started again with all."""
        for k, v in self.xmpp_srv.items():
            self.dns_srv[k] = list(v)
        self.dns_hosts.update(self.xmpp_hosts)
        want = (sorted(self.dns_srv.items()), sorted(self.dns_hosts.items()))
        proc = getattr(self, "dns_proc", None)
        if proc is not None:
            if self.dns_started_with == want and proc.poll() is None:
                return
            proc.terminate()
            proc.wait(5)
            self.dns_proc = None
        self.dns_started_with = want
        Lab.start_dns(self)

    # -- Prosody and clients -----------------------------------------------------

    def prosody(self, domain, start=True, **knobs):
        """A Prosody for domain (Prosody's knobs), its DNS records published;
        started unless start=False."""
        if len(self.prosodys) >= 4:
            raise RuntimeError("at most 4 Prosody instances per lab")
        p = Prosody(self, domain, len(self.prosodys), **knobs)
        self.prosodys.append(p)
        self.xmpp_dns(domain, "xmpp." + domain, p.ip, p.s2s,
                      p.s2s_tls if p.knobs["direct_tls"] else None)
        if start:
            self.start_dns()
            p.start()
        return p

    def raw_listener(self, domain, ip, i=0, cert=None, **kw):
        """A rawpeer.Listener playing domain's server on ip:raw_port(i)
        (STARTTLS with certificate stem cert, client certificates checked
        against the lab CA; cert None: no TLS), published as domain's
        _xmpp-server._tcp service (host xmpp.DOMAIN) and closed with the
        lab.  kw: rawpeer.Listener's (verify, result, tls_required, ...)."""
        import rawpeer
        crt, key = self.cert(cert) if cert else (None, None)
        ln = rawpeer.Listener(ip, self.raw_port(i), domain, crt, key,
                              os.path.join(self.pki, "ca.crt"), **kw)
        self.traps.append(ln)
        self.xmpp_dns(domain, "xmpp." + domain, ip, self.raw_port(i))
        return ln

    def xclient(self, jid, prosody, **kw):
        c = XClient(self, jid, prosody, **kw)
        self.xclients.append(c)
        return c

    # -- sipedge's XMPP side ------------------------------------------------------

    def edge_xmpp_conf(self, extra=(), policy=(), cert="edge-xmpp", direct_tls=False, **kw):
        """harness.Lab.edge_conf plus sipedge's XMPP listener on the external
        side (`listen xmpp EDGE_IP:edge_xmpp`), contoso.test published in the
        lab's DNS at that listener, the edge certificate `cert` (edge-xmpp
        names contoso.test; the lab's `edge` does not) and a `dns-server`
        line in any case, since XMPP partners are found through DNS (RFC 6120
        §3.2).  policy: sipedgectl commands run before start, e.g.
        [["xmpp", "partner", "add", "fabrikam.test"]]."""
        self.edge_dns(direct_tls)
        text = self.edge_conf(extra=["listen xmpp %s:%d" % (EDGE_IP, self.edge_xmpp)]
                              + list(extra), policy=policy, **kw)
        if cert != "edge":
            for old, new in zip(self.cert("edge"), self.cert(cert)):
                text = text.replace(" %s\n" % old, " %s\n" % new)
        if not re.search(r"(?m)^dns-server ", text):
            text += "dns-server 127.0.0.1:%d\n" % self.dns_port
        return text

    # -- TAP -----------------------------------------------------------------------

    def xmpp_diag(self):
        out = []
        for p in self.prosodys:
            out += p.diag()
        for c in self.xclients:
            out += c.diag()
        return out

    def ok(self, cond, desc, diag=None):
        """A TAP point; the first failure without its own diagnostics prints
        the Prosody logs and the clients' last stanzas (they are the same for
        the failures after it)."""
        if diag is None and not getattr(self, "xmpp_diag_shown", False):
            diag = self.xmpp_diag
            self.xmpp_diag_shown = not cond
        return self.tap.ok(cond, desc, diag)

    def close(self, ok=True):
        for c in self.xclients:
            try:
                if c.proc.poll() is None:
                    c.proc.stdin.close()
            except OSError:
                pass
        Lab.close(self, ok)
