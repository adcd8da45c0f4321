#!/usr/bin/python3
"""xclient.py: an XMPP user agent for the sipedge lab tests (RFC 6120 c2s,
RFC 6121 messages, presence and subscriptions), driven through stdin/stdout.

Runs under Debian's python3 with python3-slixmpp (the python3 on PATH may
lack it).  It logs in as --jid on --host:--port (STARTTLS with the lab CA,
then the plain password the lab's Prosody allows), fetches the roster, sends
its initial presence (unless --no-presence) and prints one JSON object a
line on stdout, UTF-8 (not \\u escapes), flushed at once:

  {"kind": "online", "jid": FULL-JID}          logged in, ready for commands
  {"kind": "ack", "seq": N, "cmd": C, "id": I}  command N done (I: stanza id)
  {"kind": "message" | "presence" | "iq", ...}  a stanza received, see below
                                               (IQs: results and errors only)
  {"kind": "fatal", "reason": ...}              cannot log in / stream lost
  {"kind": "bye"}                               quit done

A received stanza: kind, from, to, type, id, lang (its own xml:lang only),
body, subject, thread, show, status, priority (each the first such child's
text exactly as parsed, "" for an empty element, null when absent; every
body with its xml:lang in "bodies" when there are several), error
({"type", "condition", "text"} for type='error') and xml (the stanza as
slixmpp serialises it, for diagnostics).

Commands on stdin, one JSON object a line (each may carry "seq", echoed in
the ack):
  {"cmd": "message", "to", "body", "type" (default chat), "subject",
   "thread", "lang", "id"}
  {"cmd": "presence", "to", "type" (subscribe, subscribed, unsubscribe,
   unsubscribed, unavailable, probe; absent: available), "show", "status",
   "priority", "id"}
  {"cmd": "auto-authorize", "value": "on" | "off" | "reject"}
      on: accept subscription requests; off: leave them (the test answers
      with presence subscribed/unsubscribed); reject: refuse them
  {"cmd": "auto-subscribe", "value": true | false}  subscribe back on accept
  {"cmd": "raw", "xml": "..."}                      send XML as it is
  {"cmd": "quit"}                                   log out and exit 0
End of input is quit.  --ca none skips the check of the server's certificate
(for a lab server that presents one of the bad certificates on purpose).  Stanzas are built element by element (absent fields
are left out), so a test controls exactly what goes on the wire.
"""

import argparse
import json
import os
import ssl
import sys
import threading
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def emit(obj):
    sys.stdout.buffer.write(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")
    sys.stdout.buffer.flush()


def local(tag):
    return tag.rsplit("}", 1)[-1]


def describe(stanza):
    """The JSON view of a received stanza (see the module comment)."""
    x = stanza.xml
    d = {"kind": local(x.tag), "from": x.get("from"), "to": x.get("to"),
         "type": x.get("type"), "id": x.get("id"), "lang": x.get(XML_LANG)}
    ns = x.tag[1:].split("}", 1)[0] if x.tag.startswith("{") else ""
    for name in ("body", "subject", "thread", "show", "status", "priority"):
        el = x.find("{%s}%s" % (ns, name)) if ns else x.find(name)
        d[name] = None if el is None else (el.text or "")
    bodies = x.findall("{%s}body" % ns) if ns else x.findall("body")
    if len(bodies) > 1:
        d["bodies"] = [{"lang": b.get(XML_LANG), "text": b.text or ""} for b in bodies]
    err = x.find("{%s}error" % ns) if ns else x.find("error")
    if err is not None:
        cond = text = None
        for c in err:
            if c.tag == "{%s}text" % STANZAS_NS:
                text = c.text or ""
            elif c.tag.startswith("{%s}" % STANZAS_NS) and cond is None:
                cond = local(c.tag)
        d["error"] = {"type": err.get("type"), "condition": cond, "text": text}
    d["xml"] = str(stanza)
    return d


class Client(slixmpp.ClientXMPP):
    def __init__(self, args):
        slixmpp.ClientXMPP.__init__(self, args.jid, args.password)
        self.args = args
        if args.ca == "none":
            # A server whose certificate is one of the lab's bad ones (its
            # s2s side is under test, not this c2s leg).
            self.ssl_context.check_hostname = False
            self.ssl_context.verify_mode = ssl.CERT_NONE
        else:
            self.ca_certs = args.ca
        self.quitting = False
        self.online = False
        self.failed = False
        self.set_authorize(args.auto_authorize)
        self.auto_subscribe = False
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", lambda _: self.fatal("authentication failed"))
        self.add_event_handler("connection_failed", lambda e: self.fatal("connection failed: %s" % e))
        self.add_event_handler("stream_error", lambda e: emit(
            {"kind": "stream-error", "condition": e["condition"], "text": e["text"]}))
        self.add_event_handler("disconnected", self.on_disconnected)
        self.register_handler(Callback("lab message", StanzaPath("message"), self.on_stanza))
        self.register_handler(Callback("lab presence", StanzaPath("presence"), self.on_stanza))
        # IQ answers only: a handler for get/set would stop slixmpp's own
        # replies (RFC 6120 §8.2.3).
        for t in ("result", "error"):
            self.register_handler(Callback("lab iq " + t, StanzaPath("iq@type=%s" % t),
                                           self.on_stanza))

    def set_authorize(self, value):
        self.auto_authorize = {"on": True, "off": None, "reject": False}[value]

    def fatal(self, reason):
        emit({"kind": "fatal", "reason": reason})
        self.failed = self.quitting = True
        self.loop.stop()

    async def on_start(self, _event):
        await self.get_roster()
        if not self.args.no_presence:
            self.send_presence()
        self.online = True
        emit({"kind": "online", "jid": str(self.boundjid)})
        threading.Thread(target=self.read_commands, daemon=True).start()

    def on_disconnected(self, reason):
        if not self.quitting:
            emit({"kind": "fatal", "reason": "disconnected: %s" % (reason or "")})
            self.failed = True
        self.loop.stop()

    def on_stanza(self, stanza):
        emit(describe(stanza))

    # -- commands ---------------------------------------------------------------

    def read_commands(self):
        for raw in sys.stdin.buffer:
            if not raw.strip():
                continue
            self.loop.call_soon_threadsafe(self.command, raw)
        self.loop.call_soon_threadsafe(self.command, b'{"cmd": "quit"}')

    def build(self, name, cmd, fields, attrs=("to", "type", "id")):
        el = ET.Element(name)
        for a in attrs:
            if cmd.get(a) is not None:
                el.set(a, str(cmd[a]))
        if cmd.get("lang") is not None:
            el.set(XML_LANG, cmd["lang"])
        for f in fields:
            if cmd.get(f) is not None:
                ET.SubElement(el, f).text = str(cmd[f])
        return el

    def command(self, raw):
        try:
            cmd = json.loads(raw.decode("utf-8"))
            what = cmd.get("cmd")
            ack = {"kind": "ack", "seq": cmd.get("seq"), "cmd": what}
            if what == "message":
                cmd.setdefault("type", "chat")
                cmd.setdefault("id", self.new_id())
                el = self.build("message", cmd, ("subject", "body", "thread"))
                self.send_raw(ET.tostring(el, encoding="unicode"))
                ack["id"] = cmd["id"]
            elif what == "presence":
                cmd.setdefault("id", self.new_id())
                el = self.build("presence", cmd, ("show", "status", "priority"))
                self.send_raw(ET.tostring(el, encoding="unicode"))
                ack["id"] = cmd["id"]
            elif what == "auto-authorize":
                self.set_authorize(cmd["value"])
            elif what == "auto-subscribe":
                self.auto_subscribe = bool(cmd["value"])
            elif what == "raw":
                self.send_raw(cmd["xml"])
            elif what == "quit":
                self.quitting = True
                emit(dict(ack, kind="ack"))
                self.disconnect(wait=2.0)
                return
            else:
                ack = {"kind": "error", "seq": cmd.get("seq"), "reason": "unknown command %r" % what}
            emit(ack)
        except (ValueError, KeyError, TypeError) as e:
            emit({"kind": "error", "reason": "bad command: %s" % e})


def main():
    ap = argparse.ArgumentParser(description="XMPP user agent for the sipedge lab")
    ap.add_argument("--jid", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True,
                    help="CA bundle that signs the server certificate, or 'none': no check")
    ap.add_argument("--auto-authorize", choices=("on", "off", "reject"), default="off")
    ap.add_argument("--no-presence", action="store_true", help="no initial presence")
    args = ap.parse_args()
    c = Client(args)
    c.connect(address=(args.host, args.port), force_starttls=True)
    try:
        c.loop.run_forever()
    except KeyboardInterrupt:
        pass
    emit({"kind": "bye"})
    return 0 if c.quitting and c.online and not c.failed else 1


if __name__ == "__main__":
    # os._exit: the thread reading stdin may still be blocked in a read, and
    # an interpreter shutdown around it aborts (Python's stdin buffer lock).
    os._exit(main())
