"""kamailio.py: a real Kamailio (Debian's 5.6) as a SIP proxy in the loopback lab.

The kam-* scenario tests put a stateful, record-routing Kamailio on each side
of the edge, the way real deployments have a pool server and a partner's edge
proxy there:

  SIPp UA --TCP--> pool Kamailio --TLS--> sipedge --TLS--> partner Kamailio --TCP--> SIPp UA
  127.0.0.10       pool1.contoso.test     127.0.0.1        sip.fabrikam.test          127.0.0.20

Each Kamailio listens for TLS where the edge reaches it (advertised under its
FQDN, so its Record-Route names it as the edge's configuration does) and for
plain TCP where its SIPp UA talks to it (Debian's SIPp has no TLS).  It sends
requests for its own domain to the UA, everything else to the edge's listener
of its side over TLS (chain verified, SNI set), and in-dialog requests along
loose_route().  It logs every request it receives and relays and every reply
(xlog "KAMLAB ..." lines in NAME.log, see LOG_FORMAT below); a ctl socket
serves kamcmd (ctl()); stop()/start()/restart() keep the same ports and
configuration.  Optionally it runs dispatcher and pings destinations with
OPTIONS, as partner proxies and SBCs do.

Names: Kamailio resolves through its internal DNS cache; every lab name it
needs is preloaded there (corex dns_cache, permanent), and it runs in a mount
namespace of its own (unshare -m) whose /etc/hosts names the lab and whose
/etc/resolv.conf points at 127.0.0.1, so a stray look-up never leaves
loopback.  Nothing else on the machine sees those files.

Kamailio 5.6 verifies the peer's certificate chain but not its name; the
configuration logs the peer certificate's subject CN of every TLS message
(tls_cn= in the KAMLAB lines) so tests can check whom they talked to.

Standard library only.
"""

import os
import re
import signal
import subprocess
import sys
import time

import harness

KAMAILIO = os.environ.get("KAMAILIO") or "/usr/sbin/kamailio"
KAMCMD = os.environ.get("KAMCMD") or "/usr/sbin/kamcmd"
MODULE_DIRS = ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules",
               "/usr/local/lib64/kamailio/modules", "/usr/local/lib/kamailio/modules")
SYSTEM_PIDFILE = "/run/kamailio/kamailio.pid"


def module_dir():
    for d in MODULE_DIRS:
        if os.path.isfile(os.path.join(d, "tls.so")):
            return d
    return None


def missing():
    """Why Kamailio cannot run here, or None."""
    if not os.access(KAMAILIO, os.X_OK):
        return "kamailio not installed"
    if not module_dir():
        return "kamailio tls module not installed (kamailio-tls-modules)"
    if not os.access(KAMCMD, os.X_OK):
        return "kamcmd not installed"
    return None


def skip_unless_available():
    """TAP skip (exit 77) when Kamailio or its TLS module is missing."""
    why = missing()
    if why:
        print("1..0 # SKIP %s" % why, flush=True)
        sys.exit(77)


def stop_system_kamailio():
    """Installing Debian's kamailio may have started its system service, which
    would hold port 5060 and read /etc/kamailio: stop it (its own pid file
    names it; nothing else is touched).  Returns a note, or None."""
    try:
        with open(SYSTEM_PIDFILE) as f:
            pid = int(f.read().strip() or "0")
    except (OSError, ValueError):
        return None
    if pid <= 1:
        return None
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().split(b"\0")
    except OSError:
        return None
    if not cmd or not cmd[0].endswith(b"kamailio"):
        return None
    for tool in (["service", "kamailio", "stop"], ["/etc/init.d/kamailio", "stop"]):
        try:
            subprocess.run(tool, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if not os.path.exists("/proc/%d" % pid):
            return "stopped the system kamailio service (pid %d)" % pid
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass
    deadline = time.monotonic() + 5
    while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return "stopped the system kamailio (pid %d from %s)" % (pid, SYSTEM_PIDFILE)


_NS_OK = None


def private_names_possible():
    """True when `unshare -m` + bind mounts work here (root, a kernel or
    sandbox that allows mount namespaces)."""
    global _NS_OK
    if _NS_OK is None:
        unshare = harness.which("unshare")
        _NS_OK = False
        if unshare and os.geteuid() == 0:
            try:
                r = subprocess.run([unshare, "-m", "sh", "-c",
                                    "mount --bind /dev/null /etc/hosts && test ! -s /etc/hosts"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
                _NS_OK = r.returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                _NS_OK = False
    return _NS_OK


def names_wrapper(lab, tag, binary, hosts):
    """An executable script in the lab dir that runs `binary` (with the
    script's arguments) in a private mount namespace whose /etc/hosts maps
    hosts {name: ip}: the system resolver (getaddrinfo) of that process finds
    the lab's names, nothing else on the machine sees them.  None when mount
    namespaces are not possible here."""
    if not private_names_possible():
        return None
    hosts_file = os.path.join(lab.dir, tag + ".hosts")
    with open(hosts_file, "w") as f:
        f.write("127.0.0.1 localhost\n")
        for n, a in sorted(hosts.items()):
            f.write("%s %s\n" % (a, n))
    path = os.path.join(lab.dir, tag + ".sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n# %s in a mount namespace with %s as /etc/hosts "
                "(tests/sip/kamailio.py)\n" % (binary, hosts_file))
        f.write("exec %s -m sh -c 'mount --bind \"$0\" /etc/hosts && exec \"$@\"' "
                "'%s' '%s' \"$@\"\n" % (harness.which("unshare"), hosts_file, binary))
    os.chmod(path, 0o755)
    return path


# Every line a lab Kamailio writes about SIP starts with "KAMLAB <what>":
#   KAMLAB req METHOD RURI ci=CALLID cseq=N src=PROTO:IP:PORT tls_cn=CN
#   KAMLAB relay METHOD ci=CALLID to=DST-URI
#   KAMLAB reply STATUS REASON METHOD ci=CALLID src=... tls_cn=CN diag=<ms-diagnostics>
#        allow=<Allow> accept=<Accept> supported=<Supported>
#   KAMLAB local METHOD RURI ci=CALLID            (requests of its own: pings)
#   KAMLAB ds-up URI / KAMLAB ds-down URI          (dispatcher state changes)
LINE = re.compile(r"KAMLAB (\S+) (.*)$")


class Kamailio(object):
    """One Kamailio in the lab.

    name       tag for files in the lab dir (NAME.cfg, NAME.tls.cfg, NAME.log, ...)
    ip         loopback address it listens on
    stem       certificate file stem in the lab PKI
    fqdn       its TLS name (advertised in Record-Route, SNI it answers to)
    tls_port   TLS listener (where the edge reaches it)
    tcp_port   TCP listener (where its SIPp UA talks to it)
    domain     its users' domain: requests for it go to ua
    ua         (ip, port) of its SIPp UA (TCP)
    edge       (name, port): the edge listener for everything else, dialled
               on harness.EDGE_IP over TLS with SNI `name`
    hosts      {name: ip} preloaded into its DNS cache (and its hosts file)
    dispatcher optional list of destination URIs (set 1) it pings with OPTIONS
    ping_from  From of those pings
    ping_interval seconds between pings
    """

    def __init__(self, lab, name, ip, stem, fqdn, tls_port, tcp_port, domain, ua, edge,
                 hosts=None, dispatcher=(), ping_from=None, ping_interval=1):
        self.lab, self.name, self.ip, self.stem, self.fqdn = lab, name, ip, stem, fqdn
        self.tls_port, self.tcp_port, self.domain, self.ua, self.edge = \
            tls_port, tcp_port, domain, ua, edge
        self.hosts = dict(hosts or {})
        self.hosts.setdefault(fqdn, ip)
        self.dispatcher = list(dispatcher)
        self.ping_from = ping_from or "sip:ping@%s" % domain
        self.ping_interval = ping_interval
        d = lab.dir
        self.cfg = os.path.join(d, name + ".cfg")
        self.tls_cfg = os.path.join(d, name + ".tls.cfg")
        self.ds_list = os.path.join(d, name + ".dispatcher.list")
        self.log = os.path.join(d, name + ".log")
        self.pidfile = os.path.join(d, name + ".pid")
        self.rundir = os.path.join(d, name + ".run")
        self.ctl_sock = os.path.join(d, name + ".ctl")
        self.hosts_file = os.path.join(d, name + ".hosts")
        self.resolv_file = os.path.join(d, name + ".resolv.conf")
        self.proc = None
        self.starts = 0
        self.written = False

    # -- configuration ------------------------------------------------------------

    def write(self):
        os.makedirs(self.rundir, exist_ok=True)
        crt, key = self.lab.cert(self.stem)
        ca = os.path.join(self.lab.pki, "ca.crt")
        ename, eport = self.edge
        tls = ["# %s: TLS profiles, generated by tests/sip/kamailio.py" % self.name]
        common = ["method = TLSv1.2+", "verify_certificate = yes", "require_certificate = yes",
                  "certificate = %s" % crt, "private_key = %s" % key, "ca_list = %s" % ca,
                  "verify_depth = 3"]
        tls += ["[server:default]"] + common + [""]
        tls += ["[client:default]"] + common + ["server_name = %s" % ename, ""]
        tls += ["[client:%s:%d]" % (harness.EDGE_IP, eport)] + common + \
               ["server_name = %s" % ename, ""]
        with open(self.tls_cfg, "w") as f:
            f.write("\n".join(tls))
        with open(self.hosts_file, "w") as f:
            f.write("127.0.0.1 localhost\n")
            for n, a in sorted(self.hosts.items()):
                f.write("%s %s\n" % (a, n))
        with open(self.resolv_file, "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        if self.dispatcher:
            with open(self.ds_list, "w") as f:
                for uri in self.dispatcher:
                    f.write("1 %s 8 0\n" % uri)     # 8: probing
        with open(self.cfg, "w") as f:
            f.write(self.cfg_text())
        self.written = True

    def cfg_text(self):
        ename, eport = self.edge
        ua_ip, ua_port = self.ua
        mods = ["tls", "corex", "tm", "tmx", "sl", "rr", "pv", "xlog", "textops", "siputils",
                "maxfwd", "ctl", "kex"]
        if self.dispatcher:
            mods.append("dispatcher")
        L = ["#!KAMAILIO",
             "# %s: generated by tests/sip/kamailio.py for the sipedge lab" % self.name,
             "debug=1", "log_stderror=yes", "memdbg=5", "memlog=5",
             "children=2", "tcp_children=2", "auto_aliases=no", "rev_dns=no", "dns=no",
             "use_dns_cache=yes", "dns_try_ipv6=no", "dns_try_naptr=no", "use_dns_failover=no",
             "dns_retr_time=1", "dns_retr_no=1", "dns_servers_no=1", "dns_use_search_list=no",
             "enable_sctp=no", "enable_tls=yes", "disable_tcp=no",
             # Kamailio itself never closes a connection during a test.
             "tcp_connection_lifetime=3600", "tcp_connect_timeout=2", "tcp_send_timeout=3",
             "tcp_accept_no_cl=yes", "tcp_keepalive=no",
             # Its connections come from its own address, as a real server's.
             "tcp_source_ipv4=%s" % self.ip,
             'server_header="Server: kamailio-lab %s"' % self.name,
             'user_agent_header="User-Agent: kamailio-lab %s"' % self.name,
             # Kamailio resolves an advertised name at start-up with the
             # system resolver: only where its private /etc/hosts names it.
             "listen=tls:%s:%d%s" % (self.ip, self.tls_port, " advertise %s:%d" % (
                 self.fqdn, self.tls_port) if private_names_possible() else ""),
             "listen=tcp:%s:%d" % (self.ip, self.tcp_port),
             'alias="%s:%d"' % (self.fqdn, self.tls_port),
             'mpath="%s/"' % module_dir(), ""]
        L += ['loadmodule "%s.so"' % m for m in mods] + [""]
        L += ['modparam("tls", "config", "%s")' % self.tls_cfg,
              'modparam("tls", "connection_timeout", 3600)',
              'modparam("ctl", "binrpc", "unix:%s")' % self.ctl_sock,
              'modparam("rr", "enable_double_rr", 1)',
              'modparam("rr", "append_fromtag", 1)',
              'modparam("tm", "fr_timer", 5000)',
              'modparam("tm", "fr_inv_timer", 20000)']
        for n, a in sorted(self.hosts.items()):
            L.append('modparam("corex", "dns_cache", "type=A;name=%s;addr=%s;ttl=86400;flags=2")'
                     % (n, a))
        if self.dispatcher:
            L += ['modparam("dispatcher", "list_file", "%s")' % self.ds_list,
                  'modparam("dispatcher", "ds_ping_method", "OPTIONS")',
                  'modparam("dispatcher", "ds_ping_from", "%s")' % self.ping_from,
                  'modparam("dispatcher", "ds_ping_interval", %d)' % self.ping_interval,
                  'modparam("dispatcher", "ds_probing_mode", 1)',
                  'modparam("dispatcher", "ds_probing_threshold", 1)',
                  'modparam("dispatcher", "ds_inactive_threshold", 1)',
                  'modparam("dispatcher", "ds_ping_reply_codes", "code=200")']
        edge_uri = "sip:%s:%d;transport=tls" % (ename, eport)
        ua_uri = "sip:%s:%d;transport=tcp" % (ua_ip, ua_port)
        peer = "src=$pr:$si:$sp tls_cn=$var(cn)"
        L += ["", r'''
request_route {
	route(PEER);
	xlog("L_NOTICE", "KAMLAB req $rm $ru ci=$ci cseq=$cs %(peer)s\n");
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	# Keep-alives to this proxy itself.
	if (is_method("OPTIONS") && uri == myself && $rU == $null) {
		append_to_reply("Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, MESSAGE\r\n");
		sl_send_reply("200", "OK");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) route(RELAY);
		exit;
	}
	if (has_totag()) {
		if (loose_route()) {
			route(RELAY);
			exit;
		}
		if (is_method("ACK")) {
			if (t_check_trans()) route(RELAY);
			exit;
		}
		sl_send_reply("404", "Not here");
		exit;
	}
	t_check_trans();
	remove_hf("Route");
	record_route();
	if ($rd == "%(domain)s") {
		$du = "%(ua_uri)s";
	} else {
		$du = "%(edge_uri)s";
	}
	route(RELAY);
}

# The subject CN of the TLS peer's certificate (Kamailio verifies the chain).
route[PEER] {
	$var(cn) = "-";
	if ($pr == "tls") {
		$var(cn) = $tls_peer_subject_cn;
	}
}

route[RELAY] {
	xlog("L_NOTICE", "KAMLAB relay $rm ci=$ci to=$du ruri=$ru\n");
	if (is_method("INVITE|BYE|CANCEL|MESSAGE|INFO|OPTIONS|UPDATE|NOTIFY|SUBSCRIBE")) {
		t_on_failure("FAIL");
	}
	if (!t_relay()) {
		xlog("L_NOTICE", "KAMLAB relay-failed $rm ci=$ci to=$du\n");
		sl_reply_error();
	}
	exit;
}

failure_route[FAIL] {
	xlog("L_NOTICE", "KAMLAB failure $T_reply_code $rm ci=$ci\n");
}

reply_route {
	route(PEER);
	xlog("L_NOTICE", "KAMLAB reply $rs $rr $rm ci=$ci cseq=$cs %(peer)s diag=$hdr(ms-diagnostics) allow=$hdr(Allow) accept=$hdr(Accept) supported=$hdr(Supported)\n");
}

event_route[tm:local-request] {
	xlog("L_NOTICE", "KAMLAB local $rm $ru ci=$ci\n");
}
''' % {"peer": peer, "domain": self.domain, "ua_uri": ua_uri, "edge_uri": edge_uri}]
        if self.dispatcher:
            L.append(r'''
event_route[dispatcher:dst-up] {
	xlog("L_NOTICE", "KAMLAB ds-up $ru\n");
}

event_route[dispatcher:dst-down] {
	xlog("L_NOTICE", "KAMLAB ds-down $ru\n");
}
''')
        return "\n".join(L)

    # -- process ----------------------------------------------------------------

    def command(self, kam=None):
        """The command line that runs kamailio (or kam, another kamailio
        command) in its private mount namespace, when there can be one."""
        kam = kam or [KAMAILIO, "-DD", "-E", "-f", self.cfg, "-Y", self.rundir, "-P",
                      self.pidfile, "-m", "48", "-M", "8", "-a", "no"]
        if private_names_possible():
            script = ('h=$1; r=$2; shift 2; mount --bind "$h" /etc/hosts && '
                      'mount --bind "$r" /etc/resolv.conf && exec "$@"')
            return [harness.which("unshare"), "-m", "sh", "-c", script, "sh",
                    self.hosts_file, self.resolv_file] + kam
        return kam

    def check(self):
        """kamailio -c on the configuration: (ok, output)."""
        if not self.written:
            self.write()
        r = subprocess.run(self.command([KAMAILIO, "-c", "-f", self.cfg]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = r.stdout.decode("utf-8", "replace")
        # kamailio -c says "config file ok" and exits 0 after some errors
        # (an advertised name it cannot resolve): its ERROR lines count too.
        bad = re.search(r"\b(ERROR|CRITICAL|ALERT|BUG):", out)
        return r.returncode == 0 and not bad, out

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def listening(self):
        return harness.listening(self.ip, self.tls_port) and \
            harness.listening(self.ip, self.tcp_port)

    def start(self, timeout=15):
        """Start (or start again) on the same ports and configuration; True
        once both listeners and the ctl socket are up."""
        if not self.written:
            self.write()
        self.starts += 1
        with open(self.log, "ab") as logf:
            logf.write(("=== kamailio.py: start #%d of %s at %.3f\n"
                        % (self.starts, self.name, time.time())).encode())
            logf.flush()
            self.proc = self.lab.spawn(self.command(), stdout=logf, stderr=subprocess.STDOUT)
        ok = self.lab.wait_for(lambda: (self.listening() and os.path.exists(self.ctl_sock))
                               or self.proc.poll() is not None, timeout)
        self.started_at = time.time()
        return ok and self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, wait for every Kamailio process (the process group) and for
        the ports to close.  True when it stopped in time."""
        if self.proc is None or self.proc.poll() is not None:
            return True
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
            clean = True
        except subprocess.TimeoutExpired:
            clean = False
        # Kamailio's children leave with it; make sure none lingers.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except OSError:
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
            clean = False
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.lab.wait_for(lambda: not harness.listening(self.ip, self.tls_port)
                          and not harness.listening(self.ip, self.tcp_port), 5)
        try:
            os.unlink(self.ctl_sock)
        except OSError:
            pass
        with open(self.log, "ab") as logf:
            logf.write(("=== kamailio.py: stopped %s at %.3f (exit %s)\n"
                        % (self.name, time.time(), self.proc.returncode)).encode())
        return clean

    def restart(self):
        """Stop and start again on the same ports: (stopped cleanly, started)."""
        a = self.stop()
        return a, self.start()

    # -- looking at it --------------------------------------------------------------

    def ctl(self, *args, timeout=10):
        """kamcmd on its ctl socket: (exit status, output)."""
        try:
            r = subprocess.run([KAMCMD, "-s", "unix:" + self.ctl_sock] + list(args),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            return -1, "kamcmd timed out"
        return r.returncode, r.stdout.decode("utf-8", "replace")

    def dispatcher_list(self):
        """[(uri, flags)] from dispatcher.list."""
        rc, out = self.ctl("dispatcher.list")
        if rc != 0:
            return []
        return re.findall(r"URI:\s*(\S+)\s*\n\s*FLAGS:\s*(\S+)", out)

    def lines(self):
        return harness.tail(self.log, 200000)

    def events(self, kind=None):
        """KAMLAB lines as (kind, text), optionally only of one kind."""
        out = []
        for l in self.lines():
            m = LINE.search(l)
            if m and (kind is None or m.group(1) == kind):
                out.append((m.group(1), m.group(2)))
        return out

    def grep(self, regex):
        r = re.compile(regex)
        return [l for l in self.lines() if r.search(l)]

    def diag(self, n=25):
        rc = self.proc.poll() if self.proc else None
        return ["--- %s log tail (%s)" % (self.name, "running" if rc is None else "exit %s" % rc)] + \
            ["%s: %s" % (self.name, l) for l in harness.tail(self.log, n)]


class TcpLink(object):
    """A UA's TCP access link to its proxy that outlives the proxy's restarts,
    as a phone reconnects to its registrar: SIPp connects to (ip, port); each
    of its connections is carried to the proxy at (ip, target) on a
    connection from ip, dialled again whenever the proxy side has closed.
    SIPp 3.6 cannot do that itself (-max_reconnect leaves a call on the dead
    socket: EPIPE).  Bytes pass unchanged, SIP over TCP framing included."""

    def __init__(self, lab, ip, port, target):
        import socket
        import threading
        self.ip, self.port, self.target = ip, port, target
        self.redials = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(8)
        self.stop = False
        self.pairs = []              # [client socket, proxy socket or None]
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        lab.traps.append(self)       # Lab.close() closes it

    def _dial(self):
        import socket
        up = socket.socket()
        up.bind((self.ip, 0))
        up.settimeout(3)
        up.connect((self.ip, self.target))
        up.settimeout(None)
        return up

    def run(self):
        import select
        while not self.stop:
            socks = [self.sock] + [c for c, _ in self.pairs] + [u for _, u in self.pairs if u]
            try:
                r, _, _ = select.select(socks, [], [], 0.2)
            except (OSError, ValueError):
                return
            for s in r:
                if s is self.sock:
                    try:
                        c, _ = self.sock.accept()
                    except OSError:
                        return
                    self.pairs.append([c, None])
                    continue
                pair = next((p for p in self.pairs if s in p), None)
                if pair is None:
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if s is pair[0]:
                    if not data:                 # the UA hung up its link
                        for x in pair:
                            if x:
                                x.close()
                        self.pairs.remove(pair)
                        continue
                    try:
                        if pair[1] is None:
                            pair[1] = self._dial()
                            self.redials += 1
                        pair[1].sendall(data)
                    except OSError:
                        if pair[1]:
                            pair[1].close()
                        pair[1] = None
                elif not data:                   # the proxy went away: dial again later
                    pair[1].close()
                    pair[1] = None
                else:
                    try:
                        pair[0].sendall(data)
                    except OSError:
                        pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        for c, u in self.pairs:
            c.close()
            if u:
                u.close()
        self.sock.close()


def pool_proxy(lab, dispatcher=(), ua_port=None):
    """The internal pool server pool1.contoso.test on 127.0.0.10: TLS on
    ep.srv (the edge's pool-server), TCP on ep.cli for its UA at ep.sipp;
    everything not for contoso.test goes to the edge's internal listener."""
    ep = lab.ep["pool1"]
    return Kamailio(lab, "kam-pool", ep.ip, ep.stem, ep.fqdn, ep.srv, ep.cli, "contoso.test",
                    (ep.ip, ua_port or ep.sipp), (harness.EDGE_INT_NAME, lab.edge_int),
                    hosts=lab_hosts(lab), dispatcher=dispatcher, ping_from="sip:ping@contoso.test")


def partner_proxy(lab, dispatcher=(), ua_port=None):
    """The partner's edge proxy sip.fabrikam.test on 127.0.0.20 (found by the
    edge through _sipfederationtls._tcp.fabrikam.test): TLS on ep.srv, TCP on
    ep.cli for its UA at ep.sipp; contoso.test goes to the edge's external
    listener."""
    ep = lab.ep["fab"]
    return Kamailio(lab, "kam-fab", ep.ip, ep.stem, ep.fqdn, ep.srv, ep.cli, "fabrikam.test",
                    (ep.ip, ua_port or ep.sipp), (harness.EDGE_EXT_NAME, lab.edge_ext),
                    hosts=lab_hosts(lab), dispatcher=dispatcher,
                    ping_from="sip:ping@fabrikam.test")


def lab_hosts(lab):
    h = dict((e.fqdn, e.ip) for e in lab.ep.values())
    h[harness.EDGE_INT_NAME] = harness.EDGE_IP
    h[harness.EDGE_EXT_NAME] = harness.EDGE_IP
    return h
