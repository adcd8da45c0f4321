#!/usr/bin/env python3
"""rawpeer.py: a raw XMPP server-to-server peer for negative tests (RFC 6120
§4 streams and §4.9 stream errors, §5 STARTTLS, §6 SASL EXTERNAL; XEP-0220
Server Dialback).  Standard library only (socket, ssl, xml.parsers.expat),
so it runs under any python3 3.7+ (Debian's or a pyenv).

A real server never sends a spoofed 'from', a DOCTYPE, an oversized stanza
or stops half way through a handshake; this peer does what a test says:

    p = RawPeer("127.0.0.1", port)
    p.direct_tls(cert, key, cafile, server_name="contoso.test")  # XEP-0368, if wanted
    feats = p.open(frm="fabrikam.test", to="contoso.test")  # <stream:features/>
    p.starttls(cert, key, cafile)                            # and the new features
    p.sasl_external()                                        # ("success", None)
    p.send("<message from='eve@northwind.test' ...>")        # any bytes
    r = p.read_until_close()                                 # r["error"], r["text"]

Listener plays the other side: a peer's server that accepts streams, offers
STARTTLS (and the dialback feature), and answers <db:verify/> and
<db:result/> as told (valid, invalid, or not at all), recording everything
it received.

Command line (JSON out):
    rawpeer.py connect HOST PORT --from D --to D [--direct-tls | --starttls] [--cert C --key K]
               [--ca CA] [--external] [--send XML]... [--timeout S]
    rawpeer.py listen IP PORT --domain D [--cert C --key K --ca CA] [--no-tls]
               [--verify valid|invalid|silent] [--result valid|invalid|silent]
               [--duration S]
"""

import argparse
import base64
import json
import socket
import ssl
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from xml.parsers import expat

NS_STREAM = "http://etherx.jabber.org/streams"
NS_SERVER = "jabber:server"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_DB = "jabber:server:dialback"
NS_DB_FEATURE = "urn:xmpp:features:dialback"
NS_STREAM_ERRORS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_XML = "http://www.w3.org/XML/1998/namespace"


def q(ns, name):
    return "{%s}%s" % (ns, name)


def xml_attr(value):
    return (str(value).replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")
            .replace('"', "&quot;"))


def stream_header(frm=None, to=None, id=None, version="1.0", dialback=True, lang=None,
                  extra=None):
    """The opening <stream:stream> tag of an s2s stream (RFC 6120 §4.7)."""
    attrs = [("xmlns", NS_SERVER), ("xmlns:stream", NS_STREAM)]
    if dialback:
        attrs.append(("xmlns:db", NS_DB))
    for k, v in (("from", frm), ("to", to), ("id", id), ("version", version),
                 ("xml:lang", lang)):
        if v is not None:
            attrs.append((k, v))
    attrs += list((extra or {}).items())
    return ("<?xml version='1.0'?><stream:stream %s>" % " ".join(
        "%s='%s'" % (k, xml_attr(v)) for k, v in attrs)).encode("utf-8")


class Reader(object):
    """Incremental parser of one stream: feed() bytes, get events back:
    ("header", attrs), ("element", Element) for each complete child of the
    stream element, ("end", None) at </stream:stream>, ("error", text) when
    the input is not well-formed (then nothing more)."""

    def __init__(self):
        p = expat.ParserCreate("UTF-8", " ")
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._text
        p.buffer_text = True
        self.p, self.depth, self.stack, self.events, self.failed = p, 0, [], [], False

    @staticmethod
    def _name(n):
        return "{%s}%s" % tuple(n.split(" ", 1)) if " " in n else n

    def _start(self, name, attrs):
        tag = self._name(name)
        attrs = dict((self._name(k), v) for k, v in attrs.items())
        self.depth += 1
        if self.depth == 1:
            self.events.append(("header", dict(attrs, tag=tag)))
            return
        el = ET.Element(tag, attrs)
        if self.stack:
            self.stack[-1].append(el)
        self.stack.append(el)

    def _end(self, name):
        self.depth -= 1
        if self.depth == 0:
            self.events.append(("end", None))
            return
        el = self.stack.pop()
        if not self.stack:
            self.events.append(("element", el))

    def _text(self, data):
        if not self.stack:
            return              # whitespace between stanzas (keep-alives)
        el = self.stack[-1]
        if len(el):
            el[-1].tail = (el[-1].tail or "") + data
        else:
            el.text = (el.text or "") + data

    def feed(self, data):
        if self.failed:
            return []
        try:
            self.p.Parse(data, False)
        except expat.ExpatError as e:
            self.failed = True
            self.events.append(("error", str(e)))
        out, self.events = self.events, []
        return out


def stream_error(el):
    """(condition, text) of a <stream:error/> element."""
    cond = text = None
    for c in el:
        if c.tag == q(NS_STREAM_ERRORS, "text"):
            text = c.text or ""
        elif c.tag.startswith("{%s}" % NS_STREAM_ERRORS) and cond is None:
            cond = c.tag.split("}", 1)[1]
    return cond, text


class Stream(object):
    """One s2s stream on a connected socket, either side: send bytes, read
    the peer's header and top-level elements, restart after STARTTLS or
    SASL.  Everything received is kept in .raw, every element in .elements."""

    def __init__(self, sock, timeout=5.0):
        self.sock, self.timeout = sock, timeout
        self.reader = Reader()
        self.queue, self.raw, self.elements = [], b"", []
        self.header = None       # the peer's current stream header attributes
        self.closed = False      # TCP closed by the peer (or reset)
        self.ended = False       # </stream:stream> received
        self.parse_error = None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def restart(self):
        """A new stream on the same connection (RFC 6120 §5.4.3.3, §6.4.6)."""
        self.reader, self.queue, self.header, self.ended = Reader(), [], None, False

    def _pump(self, deadline):
        """Read once; False when nothing more can come (closed or timed out)."""
        if self.closed:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (OSError, ssl.SSLError):
            data = b""
        if not data:
            self.closed = True
            return False
        self.raw += data
        for kind, val in self.reader.feed(data):
            if kind == "header":
                self.header = val
            elif kind == "end":
                self.ended = True
            elif kind == "error":
                self.parse_error = val
            else:
                self.elements.append(val)
                self.queue.append(val)
        return True

    def wait_header(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self.header is None and self._pump(deadline):
            pass
        return self.header

    def next(self, timeout=None):
        """The next top-level element, or None (closed, ended or timed out)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.queue:
            if self.ended or self.parse_error or not self._pump(deadline):
                break
        return self.queue.pop(0) if self.queue else None

    def read_until_close(self, timeout=None):
        """Read until the peer closes the connection (or timeout): a dict
        with error (stream error condition or None), text, ended (saw
        </stream:stream>), closed (TCP closed), elements (the top-level
        elements read by this call), raw (all bytes received so far)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got = list(self.queue)
        self.queue = []
        while self._pump(deadline):
            got += self.queue
            self.queue = []
        got += self.queue
        self.queue = []
        err = [e for e in got if e.tag == q(NS_STREAM, "error")]
        cond, text = stream_error(err[0]) if err else (None, None)
        return {"error": cond, "text": text, "ended": self.ended, "closed": self.closed,
                "elements": got, "raw": self.raw, "parse_error": self.parse_error}

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def client_context(cert=None, key=None, cafile=None, verify=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cafile:
        ctx.load_verify_locations(cafile)
    if verify and cafile:
        ctx.check_hostname = True
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


class RawPeer(Stream):
    """The initiating side: connect to host:port (from source, an address
    to bind), then open(), starttls(), sasl_external(), send(), ..."""

    def __init__(self, host, port, timeout=5.0, source=None):
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect((host, port))
        Stream.__init__(self, s, timeout)
        self.frm = self.to = None
        self.features = None
        self.tls_version = None

    def direct_tls(self, cert=None, key=None, cafile=None, verify=True, server_name=None,
                   alpn=("xmpp-server",)):
        """XEP-0368: TLS from the first byte, before open() (SNI server_name,
        ALPN xmpp-server).  Returns the TLS version; raises ssl.SSLError when
        the handshake fails."""
        ctx = client_context(cert, key, cafile, verify)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_name)
        self.tls_version = self.sock.version()
        return self.tls_version

    def open(self, frm=None, to=None, version="1.0", dialback=True, header=None, **kw):
        """Send a stream header (or the bytes header as they are), read the
        peer's header and its <stream:features/> (None when it sends none or
        closes); both are kept in .header and .features."""
        self.frm, self.to = frm or self.frm, to or self.to
        self.send(header if header is not None else
                  stream_header(self.frm, self.to, version=version, dialback=dialback, **kw))
        self.features = None
        if self.wait_header() is None:
            return None
        el = self.next()
        if el is not None and el.tag == q(NS_STREAM, "features"):
            self.features = el
            return el
        if el is not None:
            self.queue.insert(0, el)
        return None

    def offers(self, what):
        """Whether the last features offer 'starttls', 'starttls-required',
        'external' (SASL EXTERNAL), 'dialback' or 'bidi'."""
        f = self.features
        if f is None:
            return False
        if what in ("starttls", "starttls-required"):
            st = f.find(q(NS_TLS, "starttls"))
            return st is not None and (what == "starttls" or
                                       st.find(q(NS_TLS, "required")) is not None)
        if what == "external":
            return any((m.text or "").strip() == "EXTERNAL"
                       for m in f.iter(q(NS_SASL, "mechanism")))
        if what == "dialback":
            return f.find(q(NS_DB_FEATURE, "dialback")) is not None
        if what == "bidi":
            return f.find(q("urn:xmpp:features:bidi", "bidi")) is not None
        raise ValueError(what)

    def starttls(self, cert=None, key=None, cafile=None, verify=True, server_name=None):
        """<starttls/>; on <proceed/> the TLS handshake (client certificate
        cert/key if given; the server's checked against cafile for
        server_name, default the stream's 'to', when verify) and a new
        stream.  Returns the new features, or None when refused (the
        element the peer sent instead stays readable with next())."""
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        el = self.next()
        if el is None or el.tag != q(NS_TLS, "proceed"):
            if el is not None:
                self.queue.insert(0, el)
            return None
        ctx = client_context(cert, key, cafile, verify)
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_name or self.to)
        self.tls_version = self.sock.version()
        self.restart()
        return self.open()

    def sasl_external(self, authzid=None):
        """SASL EXTERNAL (RFC 6120 §6, XEP-0178): authzid (default the
        stream's 'from'; '' sends '=', the empty response).  Returns
        ("success", None) after restarting the stream, or ("failure",
        condition), or (None, None) when nothing came."""
        authzid = self.frm if authzid is None else authzid
        data = base64.b64encode(authzid.encode("utf-8")).decode() if authzid else "="
        self.send("<auth xmlns='%s' mechanism='EXTERNAL'>%s</auth>" % (NS_SASL, data))
        el = self.next()
        if el is None:
            return None, None
        if el.tag == q(NS_SASL, "success"):
            self.restart()
            self.open()
            return "success", None
        if el.tag == q(NS_SASL, "failure"):
            conds = [c.tag.split("}", 1)[1] for c in el if c.tag != q(NS_SASL, "text")]
            return "failure", (conds[0] if conds else None)
        self.queue.insert(0, el)
        return None, None

    def db_result(self, key, frm=None, to=None, timeout=None):
        """Dialback: <db:result/> with key (XEP-0220 §2.1.1); the answer's
        type ('valid', 'invalid', 'error') or None when none came."""
        self.send("<db:result from='%s' to='%s'>%s</db:result>" % (
            xml_attr(frm or self.frm), xml_attr(to or self.to), key))
        while True:
            el = self.next(timeout)
            if el is None:
                return None
            if el.tag == q(NS_DB, "result"):
                return el.get("type")
            if el.tag == q(NS_STREAM, "error"):
                self.queue.insert(0, el)
                return None

    def end(self):
        """Close the stream politely (</stream:stream>)."""
        try:
            self.send("</stream:stream>")
        except (OSError, ssl.SSLError):
            pass


def dialback_key(secret, receiving, originating, stream_id):
    """XEP-0220 §2.4 recommended key: HMAC-SHA256(SHA256(secret), receiving
    ' ' originating ' ' stream id), hex."""
    import hashlib
    import hmac
    k = hashlib.sha256(secret.encode()).hexdigest().encode()
    return hmac.new(k, ("%s %s %s" % (receiving, originating, stream_id)).encode(),
                    hashlib.sha256).hexdigest()


class Listener(object):
    """A peer's server side on ip:port for domain: accepts streams, answers
    with its own header and features (STARTTLS when cert is given, marked
    required unless tls_required=False; then the dialback feature), performs
    STARTTLS as the server (asking for a client certificate, verified
    against cafile when given), and answers

      <db:verify/>  per verify: 'valid', 'invalid', 'silent' (no answer), or
                    a function (from, to, id, key) -> one of those
      <db:result/>  per result: the same choices, (from, to, key) -> ...

    Each connection is a dict in .sessions: peer, headers (each stream
    header it got), tls (version or None), client_cert (the peer's
    certificate as Python's ssl module reports it), elements (all top-level
    elements), verify / result (the requests answered), closed.
    Runs in threads until close()."""

    def __init__(self, ip, port, domain, cert=None, key=None, cafile=None, tls_required=True,
                 verify="valid", result="valid", timeout=10.0):
        self.domain, self.verify, self.result, self.timeout = domain, verify, result, timeout
        self.tls_required = tls_required
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert, key)
            if cafile:
                self.ctx.load_verify_locations(cafile)
                self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.sessions = []
        self.lock = threading.Lock()
        self.stop = False
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop:
            try:
                c, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            rec = {"peer": peer, "headers": [], "tls": None, "client_cert": None,
                   "elements": [], "verify": [], "result": [], "closed": False}
            with self.lock:
                self.sessions.append(rec)
            threading.Thread(target=self._serve, args=(c, rec), daemon=True).start()

    @staticmethod
    def _decide(policy, *args):
        return policy(*args) if callable(policy) else policy

    def _features(self, st):
        f = "<stream:features>"
        if self.ctx and not st.tls:
            f += "<starttls xmlns='%s'>%s</starttls>" % (
                NS_TLS, "<required/>" if self.tls_required else "")
        f += "<dialback xmlns='%s'><errors/></dialback>" % NS_DB_FEATURE
        return f + "</stream:features>"

    def _serve(self, sock, rec):
        st = Stream(sock, self.timeout)
        st.tls = False
        try:
            while not self.stop:
                if st.wait_header() is None:
                    break
                rec["headers"].append(st.header)
                sid = uuid.uuid4().hex
                st.send(stream_header(self.domain, st.header.get("from"), id=sid))
                st.send(self._features(st))
                restart = False
                while not self.stop and not restart:
                    el = st.next(self.timeout)
                    if el is None:
                        break
                    rec["elements"].append(el)
                    restart = self._handle(st, rec, el)
                if not restart:
                    break
        except (OSError, ssl.SSLError):
            pass
        rec["closed"] = True
        st.close()

    def _handle(self, st, rec, el):
        """One element from the peer; True when the stream restarts."""
        if el.tag == q(NS_TLS, "starttls") and self.ctx and not st.tls:
            st.send("<proceed xmlns='%s'/>" % NS_TLS)
            st.sock.settimeout(self.timeout)
            st.sock = self.ctx.wrap_socket(st.sock, server_side=True)
            st.tls = True
            rec["tls"] = st.sock.version()
            rec["client_cert"] = st.sock.getpeercert()
            st.restart()
            return True
        if el.tag == q(NS_DB, "verify"):
            frm, to, sid, key = el.get("from"), el.get("to"), el.get("id"), el.text or ""
            answer = self._decide(self.verify, frm, to, sid, key)
            rec["verify"].append({"from": frm, "to": to, "id": sid, "key": key,
                                  "answer": answer})
            if answer in ("valid", "invalid"):
                st.send("<db:verify from='%s' to='%s' id='%s' type='%s'/>" % (
                    xml_attr(to), xml_attr(frm), xml_attr(sid), answer))
        elif el.tag == q(NS_DB, "result") and el.get("type") is None:
            frm, to, key = el.get("from"), el.get("to"), el.text or ""
            answer = self._decide(self.result, frm, to, key)
            rec["result"].append({"from": frm, "to": to, "key": key, "answer": answer})
            if answer in ("valid", "invalid"):
                st.send("<db:result from='%s' to='%s' type='%s'/>" % (
                    xml_attr(to), xml_attr(frm), answer))
        return False

    def close(self):
        self.stop = True
        try:
            self.sock.close()
        except OSError:
            pass
        self.thread.join(1)


# -- command line ---------------------------------------------------------------


def describe(el):
    return ET.tostring(el, encoding="unicode")


def cmd_connect(a):
    p = RawPeer(a.host, a.port, timeout=a.timeout)
    out = {"features": None}
    if a.direct_tls:
        out["tls"] = p.direct_tls(a.cert, a.key, a.ca, verify=bool(a.ca), server_name=a.to)
    f = p.open(frm=a.frm, to=a.to)
    out["features"] = describe(f) if f is not None else None
    if a.starttls:
        f = p.starttls(a.cert, a.key, a.ca, verify=bool(a.ca))
        out["tls"] = p.tls_version
        out["features_after_tls"] = describe(f) if f is not None else None
    if a.external:
        out["sasl"] = p.sasl_external()
    for s in a.send or ():
        p.send(s)
    r = p.read_until_close(a.timeout)
    out.update(error=r["error"], text=r["text"], ended=r["ended"], closed=r["closed"],
               elements=[describe(e) for e in r["elements"]])
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


def cmd_listen(a):
    ln = Listener(a.ip, a.port, a.domain, a.cert, a.key, a.ca, verify=a.verify,
                  result=a.result)
    time.sleep(a.duration)
    ln.close()
    for s in ln.sessions:
        print(json.dumps({"peer": list(s["peer"]), "headers": s["headers"], "tls": s["tls"],
                          "verify": s["verify"], "result": s["result"],
                          "elements": [describe(e) for e in s["elements"]]},
                         ensure_ascii=False))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="raw XMPP s2s peer")
    sub = ap.add_subparsers(dest="mode")
    c = sub.add_parser("connect")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--from", dest="frm")
    c.add_argument("--to")
    c.add_argument("--direct-tls", action="store_true", help="XEP-0368: TLS from the first byte")
    c.add_argument("--starttls", action="store_true")
    c.add_argument("--external", action="store_true")
    c.add_argument("--send", action="append")
    l = sub.add_parser("listen")
    l.add_argument("ip")
    l.add_argument("port", type=int)
    l.add_argument("--domain", required=True)
    l.add_argument("--no-tls", action="store_true")
    l.add_argument("--verify", default="valid", choices=("valid", "invalid", "silent"))
    l.add_argument("--result", default="valid", choices=("valid", "invalid", "silent"))
    l.add_argument("--duration", type=float, default=30)
    for s in (c, l):
        s.add_argument("--cert")
        s.add_argument("--key")
        s.add_argument("--ca")
        s.add_argument("--timeout", type=float, default=5)
    a = ap.parse_args(argv)
    if a.mode == "connect":
        return cmd_connect(a)
    if a.mode == "listen":
        if a.no_tls:
            a.cert = a.key = None
        return cmd_listen(a)
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
