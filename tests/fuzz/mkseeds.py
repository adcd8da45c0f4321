#!/usr/bin/env python3
"""mkseeds.py: writes the seed corpora of tests/fuzz/seeds/ (committed; run
again only to change them): python3 tests/fuzz/mkseeds.py [SEEDS_DIR].

The cases follow the unit tests: the framing and request checks of
tests/unit/test_framing.c and tests/sip, the tokens and branches of
test_core.c (same key), the dnsmasq zone of test_dns.c as DNS answers, the
configuration of test_core.c with the errors it tests, the federation
types of test_fedroute.c, and XMPP server-to-server streams like those of
test_xmpp_xml.c.  Tokens and branches are signed here with the
fuzz targets' fixed key (SipHash-2-4, as rr.c), so that they verify."""

import base64
import os
import shutil
import struct
import sys

KEY = (0x0706050403020100, 0x0F0E0D0C0B0A0908)
MASK = (1 << 64) - 1


# ---------------------------------------------------------------- SipHash-2-4

def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK


def siphash(key, data):
    k0, k1 = key
    v0 = 0x736F6D6570736575 ^ k0
    v1 = 0x646F72616E646F6D ^ k1
    v2 = 0x6C7967656E657261 ^ k0
    v3 = 0x7465646279746573 ^ k1

    def rnd(v0, v1, v2, v3):
        v0 = (v0 + v1) & MASK; v1 = _rotl(v1, 13); v1 ^= v0; v0 = _rotl(v0, 32)
        v2 = (v2 + v3) & MASK; v3 = _rotl(v3, 16); v3 ^= v2
        v0 = (v0 + v3) & MASK; v3 = _rotl(v3, 21); v3 ^= v0
        v2 = (v2 + v1) & MASK; v1 = _rotl(v1, 17); v1 ^= v2; v2 = _rotl(v2, 32)
        return v0, v1, v2, v3

    n = len(data)
    blocks = n // 8 * 8
    for i in range(0, blocks, 8):
        m = struct.unpack_from("<Q", data, i)[0]
        v3 ^= m
        v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
        v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
        v0 ^= m
    b = (n & 0xFF) << 56
    for i, c in enumerate(data[blocks:]):
        b |= c << (8 * i)
    v3 ^= b
    v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
    v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
    v0 ^= b
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


# ------------------------------------------------------- rr.c tokens, branches

def token(side, kind, conn_id, fqdn, callid, addr=None, key=KEY):
    """rr_token_encode: ver side kind family | conn_id | port addr | len fqdn | tag."""
    fam = 0 if addr is None else (4 if len(addr[0]) == 4 else 6)
    raw = bytes([1, side, kind, fam]) + struct.pack(">Q", conn_id)
    if addr is not None:
        raw += struct.pack(">H", addr[1]) + addr[0]
    f = fqdn.encode()
    raw += bytes([len(f)]) + f
    tag = siphash(key, raw + callid.encode())
    raw += struct.pack(">Q", tag)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token2(side, kind, conn_id, fqdn, callid, addr=None, domain="", fed=0, routes=None,
           key=KEY, ver=2, flags=None):
    """rr_token_encode, format 2: format 1's fields up to the FQDN, then
    len domain | fed | flags (bit 0: a Route hash follows) | routes | tag."""
    fam = 0 if addr is None else (4 if len(addr[0]) == 4 else 6)
    raw = bytes([ver, side, kind, fam]) + struct.pack(">Q", conn_id)
    if addr is not None:
        raw += struct.pack(">H", addr[1]) + addr[0]
    f = fqdn.encode()
    d = domain.encode()
    raw += bytes([len(f)]) + f + bytes([len(d)]) + d + bytes([fed])
    raw += bytes([flags if flags is not None else (1 if routes is not None else 0)])
    if routes is not None:
        raw += struct.pack(">Q", routes)
    tag = siphash(key, raw + callid.encode())
    raw += struct.pack(">Q", tag)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def branch(conn_id, counter, loop, key=KEY):
    raw = b"b" + struct.pack(">QII", conn_id, counter, loop)
    return "z9hG4bKsE%016x%08x%08x%016x" % (conn_id, counter, loop, siphash(key, raw))


# --------------------------------------------------------------------- SIP

CRLF = "\r\n"


def sip(start, headers, body=""):
    h = list(headers)
    if not any(x.lower().startswith(("content-length:", "l:")) for x in h):
        h.append("Content-Length: %d" % len(body.encode()))
    return (start + CRLF + CRLF.join(h) + CRLF + CRLF + body).encode()


def request(method, ruri, frm, to, callid="f1@fabrikam.test", cseq=1, via=None,
            extra=(), body="", ctype="text/plain"):
    via = via or ["SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-%s-1" % method.lower()]
    hdr = ["Via: " + v for v in via]
    hdr += ["Max-Forwards: 70", "From: " + frm, "To: " + to, "Call-ID: " + callid,
            "CSeq: %d %s" % (cseq, method)]
    hdr += list(extra)
    if body:
        hdr.append("Content-Type: " + ctype)
    return sip("%s %s SIP/2.0" % (method, ruri), hdr, body)


SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.20\r\ns=-\r\nc=IN IP4 127.0.0.20\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\n")

CALLID = "f1@fabrikam.test"
TOK_EXT = token(1, 0, 0x100000001, "sip.fabrikam.test", CALLID, (bytes([127, 0, 0, 20]), 5061))
TOK_INT = token(0, 1, 0x200000002, "", CALLID)


def framing_seeds():
    msg = request("MESSAGE", "sip:bob@contoso.test", "<sip:alice@fabrikam.test>;tag=a1",
                  "<sip:bob@contoso.test>", body="hello")
    invite = request("INVITE", "sip:bob@contoso.test", "\"Alice\" <sip:alice@fabrikam.test>;tag=a1",
                     "<sip:bob@contoso.test>", extra=["Contact: <sip:alice@127.0.0.20:5061;transport=tls>",
                                                       "Supported: timer"],
                     body=SDP, ctype="application/sdp")
    bye = request("BYE", "sip:bob@127.0.0.10:5071;transport=tcp", "<sip:alice@fabrikam.test>;tag=a1",
                  "<sip:bob@contoso.test>;tag=b1", cseq=2,
                  extra=["Route: <sip:sip.contoso.test:5061;transport=tls;lr;sipedge=%s>" % TOK_INT])
    ack = request("ACK", "sip:bob@127.0.0.10:5071", "<sip:alice@fabrikam.test>;tag=a1",
                  "<sip:bob@contoso.test>;tag=b1",
                  extra=["Route: <sip:sip.contoso.test:5061;lr;sipedge=%s>" % TOK_EXT,
                         "Route: <sip:pool1.contoso.test;lr>"])
    resp = sip("SIP/2.0 200 OK",
               ["Via: SIP/2.0/TLS sip.contoso.test:5061;branch=%s" % branch(42, 7, 0x1234abcd),
                "Via: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-invite-1;received=127.0.0.20;rport=5061",
                "Record-Route: <sip:sip.contoso.test:5061;transport=tls;lr;sipedge=%s>" % TOK_EXT,
                "From: <sip:alice@fabrikam.test>;tag=a1", "To: <sip:bob@contoso.test>;tag=b1",
                "Call-ID: " + CALLID, "CSeq: 1 INVITE", "Contact: <sip:bob@127.0.0.10:5071>"])
    ring = sip("SIP/2.0 180 Ringing",
               ["Via: SIP/2.0/TLS sip.contoso.test:5061;branch=z9hG4bKsE00",
                "From: <sip:alice@fabrikam.test>;tag=a1", "To: <sip:bob@contoso.test>;tag=b1",
                "Call-ID: " + CALLID, "CSeq: 1 INVITE"])
    compact = (b"OPTIONS sip:contoso.test SIP/2.0\r\nv: SIP/2.0/TCP [::1]:5062;rport;branch=z9hG4bK-c\r\n"
               b"f: <sip:a@fabrikam.test>;tag=x\r\nt: sip:contoso.test\r\ni: c1\r\n"
               b"CSeq: 9 OPTIONS\r\nk: path\r\nl: 1\r\n\r\na")
    options = request("OPTIONS", "sip:sip.contoso.test:5061;transport=tls", "<sip:ping@fabrikam.test>;tag=o1",
                      "<sip:sip.contoso.test>", extra=["Accept: application/sdp"])
    # Diagnostics the pool adds, with the source the partners must not see
    # (a quoted ';source=' stays: it is inside reason's value).
    diags = ['ms-diagnostics: 1003;reason="User does not exist";source="pool1.contoso.test"',
             'MS-Diagnostics:  2;reason="a;source=b" ; Source = pool2.contoso.test;x=1',
             'ms-diagnostics: 3;source;appName="x\\";source=y"',
             'ms-diagnostics-public: 4;reason="already public";source="kept"']
    resp_diag = sip("SIP/2.0 404 Not Found",
                    ["Via: SIP/2.0/TLS sip.contoso.test:5061;branch=%s" % branch(42, 7, 0x1234abcd),
                     "Via: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-message-1",
                     "From: <sip:alice@fabrikam.test>;tag=a1", "To: <sip:bob@contoso.test>;tag=b1",
                     "Call-ID: " + CALLID, "CSeq: 1 MESSAGE"] + diags)
    # Record-Route lists as the pool and the edge build them: ours with its
    # token, the pool's own entries after it (reversed into a Route set by
    # the partner).
    rrs = ["Record-Route: <sip:pool1.contoso.test:5071;transport=tls;lr>",
           "Record-Route: <sip:sip.contoso.test:5061;transport=tls;lr;sipedge=%s>, "
           "<sip:edge-int.contoso.test:5062;transport=tcp;lr;sipedge=%s>" % (TOK_EXT, TOK_INT),
           "Record-Route: <sip:pool2.contoso.test;lr;maddr=127.0.0.11>"]
    resp_rr = sip("SIP/2.0 200 OK",
                  ["Via: SIP/2.0/TLS sip.contoso.test:5061;branch=%s" % branch(42, 7, 0x1234abcd),
                   "Via: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-invite-1"] + rrs +
                  ["From: <sip:alice@fabrikam.test>;tag=a1", "To: <sip:bob@contoso.test>;tag=b1",
                   "Call-ID: " + CALLID, "CSeq: 1 INVITE", "Contact: <sip:bob@127.0.0.10:5071>"] + diags[:1])
    invite_rr = request("INVITE", "sip:alice@fabrikam.test", "<sip:bob@contoso.test>;tag=b2",
                        "<sip:alice@fabrikam.test>", callid="o1@contoso.test",
                        extra=rrs[:1] + rrs[2:] + ["Contact: <sip:bob@127.0.0.10:5071>"] + diags[:2])
    s = {
        "options-edge.sip": options,
        "options-edge-tagged-ipv6.sip": options.replace(b";tag=o1", b";tag=o1\r\nv: SIP/2.0/TCP [::1]:5070;rport")
        .replace(b"<sip:sip.contoso.test>", b"<sip:sip.contoso.test>;tag=t9"),
        "response-diagnostics.sip": resp_diag,
        "response-record-routes.sip": resp_rr,
        "invite-record-routes.sip": invite_rr,
        # Schemes not in lower case: the route text must not depend on
        # whether Sofia parsed the header or duplicated it (found by
        # fuzz_framing: url_dup writes "sip:" for "Sip:").
        "response-record-routes-scheme-case.sip": resp_rr.replace(b"<sip:pool1", b"<Sip:pool1")
        .replace(b"<sip:pool2", b"<SIPS:pool2"),
        "message.sip": msg,
        "invite.sip": invite,
        "bye-route-token.sip": bye,
        "ack-routes.sip": ack,
        "response-200.sip": resp,
        "response-180.sip": ring,
        "compact-ipv6.sip": compact,
        "no-content-length.sip": msg.replace(b"Content-Length: 5\r\n", b""),
        "max-forwards-0.sip": msg.replace(b"Max-Forwards: 70", b"Max-Forwards: 0"),
        "cseq-mismatch.sip": msg.replace(b"CSeq: 1 MESSAGE", b"CSeq: 1 INVITE"),
        "proxy-require.sip": msg.replace(b"Max-Forwards: 70\r\n",
                                         b"Max-Forwards: 70\r\nProxy-Require: foo, bar\r\n"),
        "bad-version.sip": msg.replace(b" SIP/2.0\r\n", b" SIP/7.0\r\n", 1),
        "tel-uri.sip": msg.replace(b"MESSAGE sip:bob@contoso.test", b"MESSAGE tel:+15551234"),
        "no-via.sip": b"\r\n".join(l for l in msg.split(b"\r\n") if not l.startswith(b"Via:")),
        "nul-in-header.bin": msg.replace(b"<sip:alice@fabrikam.test>",
                                         b"\"Al\\\x00ice\" <sip:alice@fabrikam.test>"),
        "odd-method.sip": request("NEW+METH`OD", "sip:bob@contoso.test",
                                  "<sip:alice@fabrikam.test>;tag=a1", "<sip:bob@contoso.test>"),
        # Cut patterns (see fuzz_framing.c): one read, byte by byte, slices of
        # 7, random slices; a 384-octet limit; pipelining with a CRLFCRLF ping.
        "pipelined-one-read.bin": b"\x00\x00\x00" + msg + b"\r\n\r\n" + invite + resp,
        "pipelined-bytewise.bin": b"\x01\x00\x00" + b"\r\n\r\n" + msg + b"\r\n" + bye,
        "pipelined-slices7.bin": b"\x02\x06\x00" + ack + b"\r\n\r\n\r\n\r\n" + msg,
        "pipelined-random.bin": b"\x03\x2a\x00" + invite + msg + ring,
        "limit-384.bin": b"\x04\x00\x04" + msg + invite,
        "limit-bytewise.bin": b"\x05\x00\x08" + invite,
        "ping-only.bin": b"\x00\x00\x00\r\n\r\n\r\n\r\n\r\n",
    }
    # A body that comes in two reads, the second read ending it and holding
    # most of the next message: 256-octet reads, a 384-octet limit.  Both
    # messages are within the limit (framing.c once counted the next
    # message's octets as the first one's, 513, and leaked them).
    short = (b"MESSAGE sip:b@c.test SIP/2.0\r\nv: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
             b"f: <sip:a@f.test>;tag=1\r\nt: <sip:b@c.test>\r\ni: 1\r\nCSeq: 1 MESSAGE\r\n"
             b"l: 200\r\n\r\n" + b"x" * 200)
    short2 = short.replace(b"l: 200", b"l: 150").replace(b"x" * 200, b"y" * 150).replace(b"i: 1", b"i: 2")
    s["body-in-parts-pipelined.bin"] = b"\x06\xff\x04" + short + short2
    # Found by fuzz_framing (c38df7a): a folded Record-Route that puts a line
    # break into a URI parameter; the Route text must refuse it, not print
    # two entries as one.  The input as libFuzzer minimised it.
    s["route-line-break.sip"] = b'SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS sip.contoso.test:5061;branch=z9hG4bKsE000000000000002a000000071234abcdd098bdff238`e81d\r\nVia: SIP/2.0/TLS 127.0.0.20:5061;branch=z9hG4bK-invite-1\r\nRecord-Route: <sip:pool1.co.test:5061;transport=tls;lr;sContent-Type:\r\n AAAnnI>, <sip\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffEAAAABE8V_AAAUEXNpcC5mYWJyaWthbS50ZXN00Z4MVF5rnnI>, <sip\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff:edge-int.contoso.test:5062;transport=tcp;lr;sipedge=AQABAAAAAAIAAAACZAMdnHtYlrMvR>\r\nRecord-Route: <sip:pool2.contoso.test;lr;maddr=127.0.0.11>\r\n\xc6rom: <sip:alice@fabrikam.test>;tag=a1\r\nTo: <sip:bob@contoso.test>;tag=b1\r\nCall-ID: f1@fabrikam.test\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.10:5071>\r\nms-diagnostics: 1003;reason="User does not exist";source="pool1.contoso.test"\r\nContent-Length: 0\r\n\r\n'
    # A start line over FRAMER_MAX_LINE (8192): salvaged and answered 414.
    long_uri = "sip:" + "a" * 9000 + "@contoso.test"
    s["long-start-line.bin"] = b"\x02\xff\x00" + request(
        "MESSAGE", long_uri, "<sip:alice@fabrikam.test>;tag=a1", "<sip:bob@contoso.test>", body="x")
    return s


def token_seeds():
    v6 = bytes.fromhex("20010db8000000000000000000000001")
    seeds = {
        "tok-ext-v4.txt": TOK_EXT + "\n" + CALLID,
        "tok-int-tcp.txt": TOK_INT + "\n" + CALLID,
        "tok-v6.txt": token(1, 0, 7, "edge.litware.test", "abc", (v6, 5061)) + "\nabc",
        "tok-long-fqdn.txt": token(1, 0, 1, "a" * 60 + "." + "b" * 60 + "." + "c" * 60 + ".test",
                                   "x") + "\nx",
        "tok-empty-callid.txt": token(0, 0, 0, "pool1.contoso.test", "") + "\n",
        "tok-wrong-callid.txt": TOK_EXT + "\nother@fabrikam.test",
        "tok-wrong-key.txt": token(1, 0, 1, "a.test", "c", key=(1, 2)) + "\nc",
        "tok-bad-b64.txt": "AQEAAAAAAAAAAQ+/\nc",
        "tok-len-mod4.txt": "AQEAA\nc",
        "tok-too-long.txt": "A" * 600 + "\nc",
        "branch-ours.txt": branch(0x100000001, 1, 0xdeadbeef),
        "branch-tampered.txt": branch(5, 6, 7)[:-1] + "0",
        "branch-upper.txt": branch(5, 6, 7).upper(),
        "branch-rfc3261.txt": "z9hG4bK74bf9",
        # Format 2: the partner's domain, the federation type (fedroute.h:
        # 1 allowed server .. 4 discovered) and the hash of the pool's Route
        # entries; a flag rr.c does not know, and a format it does not.
        "tok2-ext-domain.txt": token2(1, 0, 0x100000001, "sip.fabrikam.test", CALLID,
                                      (bytes([127, 0, 0, 20]), 5061), "fabrikam.test", 3) + "\n" + CALLID,
        "tok2-routes.txt": token2(1, 0, 9, "sip.fabrikam.test", CALLID, None, "fabrikam.test", 1,
                                  0x0123456789ABCDEF) + "\n" + CALLID,
        "tok2-v6-discovered.txt": token2(1, 0, 3, "edge.litware.test", "abc", (v6, 5061),
                                         "litware.test", 4, 0) + "\nabc",
        "tok2-int-tcp.txt": token2(0, 1, 0x200000002, "", CALLID) + "\n" + CALLID,
        "tok2-long-names.txt": token2(1, 0, 1, "a" * 255, "x", None, "b" * 255, 255,
                                      MASK) + "\nx",
        "tok2-bad-flags.txt": token2(1, 0, 1, "a.test", "c", None, "a.test", 1, flags=2) + "\nc",
        "tok2-routes-short.txt": token2(1, 0, 1, "a.test", "c", None, "a.test", 1, flags=1) + "\nc",
        "tok3-format.txt": token2(1, 0, 1, "a.test", "c", None, "a.test", 1, ver=3) + "\nc",
    }
    seeds = {k: v.encode() for k, v in seeds.items()}
    # The peer fields of fuzz_token.c's third use: external TLS over IPv4
    # (octet 0), connection id, port, address, type 3, a Route hash, then
    # the FQDN, the domain and the Call-ID.
    seeds["peer-fields.bin"] = (bytes([0x05]) + struct.pack(">QH", 0x100000001, 5061) +
                                bytes([192, 0, 2, 20]) + bytes(12) + bytes([3, 1]) +
                                struct.pack(">Q", 0xFEDCBA9876543210) +
                                b"sip.fabrikam.test\nfabrikam.test\n" + CALLID.encode())
    return seeds


# --------------------------------------------------------------------- DNS

def dname(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns(qname, qtype, answers, rcode=0, flags=0x8180):
    """A response: header, one question, then answers (owner, type, ttl, rdata)
    where owner is bytes (already encoded, may be a pointer)."""
    hdr = struct.pack(">HHHHHH", 0x1234, flags | rcode, 1, len(answers), 0, 0)
    q = dname(qname) + struct.pack(">HH", qtype, 1)
    body = b""
    for owner, rtype, ttl, rdata in answers:
        body += owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata
    return hdr + q + body


PTR_Q = b"\xc0\x0c"          # the question's name
SRV_NAME = "_sipfederationtls._tcp.fabrikam.test"


def srv(prio, weight, port, target):
    return struct.pack(">HHH", prio, weight, port) + dname(target)


def dns_seeds():
    A, AAAA, CNAME, SRV = 1, 28, 5, 33
    s = {}
    s["srv-three.dns"] = dns(SRV_NAME, SRV, [
        (PTR_Q, SRV, 600, srv(10, 60, 5061, "sip.fabrikam.test")),
        (PTR_Q, SRV, 600, srv(10, 40, 5063, "sip3.fabrikam.test")),
        (PTR_Q, SRV, 300, srv(20, 0, 5062, "sip2.fabrikam.test")),
    ])
    # The second record's target compressed against the first one's.
    first = srv(10, 60, 5061, "sip.fabrikam.test")
    off = 12 + len(dname(SRV_NAME)) + 4 + 2 + 10 + 6     # first target's offset
    s["srv-compressed.dns"] = dns(SRV_NAME, SRV, [
        (PTR_Q, SRV, 60, first),
        (PTR_Q, SRV, 60, struct.pack(">HHH", 5, 0, 5070) + b"\x04sip4" + struct.pack(">H", 0xC000 | (off + 4))),
    ])
    s["srv-dot.dns"] = dns(SRV_NAME, SRV, [(PTR_Q, SRV, 60, srv(0, 0, 0, ""))])
    s["srv-bad-target.dns"] = dns(SRV_NAME, SRV, [(PTR_Q, SRV, 60, srv(1, 1, 5061, "bad_name!.test")),
                                                 (PTR_Q, SRV, 60, srv(1, 1, 5061, "ok.test"))])
    s["srv-short-rdata.dns"] = dns(SRV_NAME, SRV, [(PTR_Q, SRV, 60, b"\0\1\0")])
    s["a.dns"] = dns("sip.fabrikam.test", A, [(PTR_Q, A, 3600, bytes([127, 0, 0, 20]))])
    s["a-ttl-topbit.dns"] = dns("sip.fabrikam.test", A, [(PTR_Q, A, 0x80000001, bytes([127, 0, 0, 20]))])
    s["a-many.dns"] = dns("sip.fabrikam.test", A,
                          [(PTR_Q, A, 60, bytes([10, 0, i // 256, i % 256])) for i in range(70)])
    s["aaaa.dns"] = dns("sip.fabrikam.test", AAAA, [(PTR_Q, AAAA, 60, bytes(15) + b"\1")])
    s["a-bad-rdlen.dns"] = dns("sip.fabrikam.test", A, [(PTR_Q, A, 60, b"\1\2\3")])
    s["cname-a.dns"] = dns("alias.fabrikam.test", A, [
        (PTR_Q, CNAME, 300, dname("sip.fabrikam.test")),
        (dname("sip.fabrikam.test"), A, 600, bytes([127, 0, 0, 20])),
    ])
    s["other-class.dns"] = dns("sip.fabrikam.test", A, [(PTR_Q, A, 60, b"\1\2\3\4")]).replace(
        struct.pack(">HHIH", A, 1, 60, 4), struct.pack(">HHIH", A, 3, 60, 4))
    s["nxdomain.dns"] = dns(SRV_NAME, SRV, [], rcode=3)
    s["truncated.dns"] = s["srv-three.dns"][:-9]
    s["pointer-loop.dns"] = struct.pack(">HHHHHH", 1, 0x8180, 1, 1, 0, 0) + b"\xc0\x0c\0\1\0\1" + \
        b"\xc0\x0c\0\1\0\1\0\0\0\x3c\0\4\1\2\3\4"
    s["header-only.dns"] = b"\x12\x34\x81\x80\0\0\0\0\0\0\0\0"
    return s


# --------------------------------------------------------------------- conf

BASE_CONF = (
    "edge-fqdn sip.contoso.test\n"
    "sip-domain contoso.test\n"
    "listen external tls 127.0.0.1:5061\n"
    "listen internal tcp 127.0.0.1:5060\n"
    "certificate /x.crt\nprivate-key /x.key\nca-bundle /ca.crt\n"
    "pool-server pool1.contoso.test:5071 127.0.0.10\n"
    "pool-server pool2.contoso.test 127.0.0.11\n"
    "internal-server pool1.contoso.test\n"
    "internal-server 127.0.0.2\n"
    "host sip.fabrikam.test 127.0.0.20\n"
    "host sip2.fabrikam.test 127.0.0.21:5062 tcp\n"
    "dns-server 127.0.0.1:5353\n"
    "timer-f 2s\n")


def conf_seeds():
    s = {"base.conf": BASE_CONF}
    s["full.conf"] = BASE_CONF + (
        "internal-fqdn Edge-Int.Contoso.Test.\n"
        "sip-domain fabrikam-hosted.test   # a second domain\n"
        "listen internal tls [::1]:5063 mutual-tls no\n"
        "eku-any yes\n"
        "pool-server pool3.contoso.test [::1] tcp\n"
        "host v6.fabrikam.test [2001:db8::1]:5061 tls\n"
        "dns-server [::1]:53\ndns-server 127.0.0.53\n"
        "dns-timeout 500ms\n"
        "db /var/lib/sipedge/policy.db\nstate-dir /var/lib/sipedge\nrr-key-file /var/lib/sipedge/rr.key\n"
        "log-level debug\nworkers 4\nmax-message-size 65536\n"
        "handshake-timeout 10s\nidle-timeout 10m\nincomplete-timeout 30s\nconnect-timeout 5s\n"
        "max-connections 10000\nmax-connections-per-address 256\nmax-transactions 20000\n"
        "t1 500ms\ntimer-c 3m\ntimer-f 1h\n")
    s["outgoing.conf"] = BASE_CONF + (
        "listen internal tcp [::1]:5062\nlisten external tls [::]:5063\n"
        "outgoing-address internal 10.0.0.5\n"
        "outgoing-address external 192.0.2.10\noutgoing-address external 2001:db8::1\n"
        "failover-delay 0\nhop-retry 1s\n")
    s["outgoing-any.conf"] = ("edge-fqdn a.test\nsip-domain a.test\n"
                              "listen internal tcp 0.0.0.0:5060\nlisten internal tcp [::1]:5062\n"
                              "outgoing-address internal any\noutgoing-address internal 10.0.0.5\n")
    s["outgoing-default.conf"] = ("edge-fqdn a.test\nsip-domain a.test\n"
                                  "listen internal tcp 0.0.0.0:5060\nlisten internal tcp 127.0.0.2:5061\n"
                                  "listen internal tcp 127.0.0.3:5062\nlisten internal tcp [::]:5063\n")
    s["tcp-only.conf"] = ("edge-fqdn a.test\r\nsip-domain a.test\r\n"
                          "listen internal tcp 127.0.0.1\r\n\t# comment\r\n")
    errors = {
        "err-unknown-key.conf": "bogus-key 1\n",
        "err-external-tcp.conf": "listen external tcp 127.0.0.1:1\n",
        "err-mutual-no.conf": "listen external tls 127.0.0.1:1 mutual-tls no\n",
        "err-listen-name.conf": "listen internal tls nowhere:99\n",
        "err-workers.conf": "workers lots\n",
        "err-timer-words.conf": "timer-c 5 parsecs\n",
        "err-duration.conf": "timer-c 5x\n",
        "err-duration-range.conf": "t1 99999999999h\n",
        "err-hostname.conf": "pool-server bad_name!\n",
        "err-port.conf": "pool-server ok.test:99999\n",
        "err-host-udp.conf": "host x.test 1.2.3.4 udp\n",
        "err-host-twice.conf": "host sip.fabrikam.test 1.2.3.5\n",
        "err-dns-server.conf": "dns-server localhost\n",
        "err-route.conf": "route x.test a.test\n",
        "err-words.conf": "sip-domain " + " ".join(["a.test"] * 20) + "\n",
        "err-long-line.conf": "db /" + "x" * 5000 + "\n",
        "err-size.conf": "max-message-size 1023\n",
        "err-outgoing-port.conf": "outgoing-address internal 10.0.0.5:5060\n",
        "err-outgoing-wildcard.conf": "outgoing-address external [::]\n",
        "err-outgoing-twice.conf": "outgoing-address external 192.0.2.1\noutgoing-address external 192.0.2.2\n",
        "err-outgoing-side.conf": "outgoing-address dmz 192.0.2.1\n",
        "err-outgoing-words.conf": "outgoing-address internal\n",
        "err-outgoing-name.conf": "outgoing-address internal edge.contoso.test\n",
    }
    for name, extra in errors.items():
        s[name] = BASE_CONF + extra
    s["err-no-edge.conf"] = "sip-domain a.test\n"
    s["err-no-listen.conf"] = "edge-fqdn a.test\nsip-domain a.test\n"
    s["err-no-cert.conf"] = "edge-fqdn a.test\nsip-domain a.test\nlisten internal tls 127.0.0.1\n"
    s["err-long-state-dir.conf"] = ("edge-fqdn a.test\nsip-domain a.test\nlisten internal tcp 127.0.0.1\n"
                                    "state-dir /" + "s" * 1020 + "\n")
    return {k: v.encode() for k, v in s.items()}


# --------------------------------------------------------------------- policy

def policy_seeds():
    def inbound(frm, via, extra=(), ruri="sip:bob@contoso.test", method="MESSAGE"):
        return request(method, ruri, "<sip:alice@%s>;tag=a1" % frm, "<%s>" % ruri,
                       via=["SIP/2.0/TLS %s:5061;branch=z9hG4bK-p1" % via], extra=extra, body="hi")

    def outbound(domain, method="INVITE"):
        return request(method, "sip:bob@%s" % domain, "<sip:alice@contoso.test>;tag=a1",
                       "<sip:bob@%s>" % domain, via=["SIP/2.0/TLS pool1.contoso.test:5061;branch=z9hG4bK-o1"])

    s = {
        "out-allowed-domain.sip": outbound("fabrikam.test"),
        "out-allowed-server.sip": outbound("LitWare.TEST."),
        "out-provider.sip": outbound("im.provider.test"),
        "out-provider-disabled.sip": outbound("hosted.test"),
        "out-blocked.sip": outbound("evil.test"),
        "out-local.sip": outbound("contoso.test"),
        "out-discovered.sip": outbound("partner.example"),
        "out-ip.sip": outbound("192.0.2.1"),
        "out-wildcard.sip": request("MESSAGE", "sip:*.fabrikam.test", "<sip:a@contoso.test>;tag=1",
                                    "<sip:b@fabrikam.test>"),
        "in-allowed-server.sip": inbound("litware.test", "EDGE.litware.test."),
        "in-allowed-server-wrong-cert.sip": inbound("litware.test", "sip.fabrikam.test"),
        "in-provider-verified.sip": inbound(
            "provider.test", "fed.provider.test",
            extra=["ms-edge-proxy-message-trust: ms-source-type=Provider;ms-ep-fqdn=x.test;"
                   "ms-source-network=federation;ms-source-verified-user=verified"]),
        "in-provider-unverified.sip": inbound("unverif.test", "sip.unverif.test"),
        "in-provider-disabled.sip": inbound("hosted.test", "sip.hoster.test"),
        "in-provider-foreign.sip": inbound("fabrikam.test", "fed.provider.test"),
        "in-blocked.sip": inbound("Evil.Test", "sip.evil.test"),
        "in-spoofed.sip": inbound("contoso.test", "sip.fabrikam.test"),
        "in-srv-accept.sip": inbound("fabrikam.test", "sip.fabrikam.test",
                                     extra=["Record-Route: <sip:sip.fabrikam.test;lr>",
                                            "Contact: <sip:alice@SIP.fabrikam.test.>"]),
        "in-srv-refuse.sip": inbound("fabrikam.test", "sip.fabrikam.test",
                                     extra=["Route: <sip:other.fabrikam.test;lr>"]),
        "in-discovered.sip": inbound("partner.example", "sip.partner.example",
                                     extra=["Route: <sip:sip.partner.example;lr>",
                                            "Route: <sip:*.partner.example;lr>"]),
        "in-ip-peer.sip": inbound("partner.example", "[2001:db8::1]"),
        "in-invite-northwind.sip": inbound("northwind.test", "sip.northwind.test", method="INVITE"),
    }
    return s


# ----------------------------------------------------------------------- xmpp

XMPP_HDR = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
            "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
            "from='%s' to='%s' id='%s' version='1.0' xml:lang='en'>")


def xmpp_hdr(frm="fabrikam.test", to="contoso.test", sid="a1b2c3"):
    return XMPP_HDR % (frm, to, sid)


def xmpp_seeds():
    """Server-to-server streams as fuzz_xmpp.c reads them: as they are, or
    after three control octets (reads, limits); see its header comment."""
    tls_ns = "urn:ietf:params:xml:ns:xmpp-tls"
    sasl_ns = "urn:ietf:params:xml:ns:xmpp-sasl"
    features_tls = ("<stream:features><starttls xmlns='%s'><required/></starttls>"
                    "<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>"
                    "</stream:features>" % tls_ns)
    features_sasl = ("<stream:features><mechanisms xmlns='%s'><mechanism>EXTERNAL</mechanism>"
                     "</mechanisms><bidi xmlns='urn:xmpp:features:bidi'/></stream:features>" % sasl_ns)
    message = ("<message from='alice@fabrikam.test/laptop' to='bob@contoso.test' type='chat' "
               "id='m1' xml:lang='fr'><subject>lunch</subject><body>h\xc3\xa9llo &amp; &lt;b&gt; "
               "&#x263A; \xf0\x9f\x98\x80\r\nbye</body><thread parent='t0'>t1</thread>"
               "<active xmlns='http://jabber.org/protocol/chatstates'/>"
               "<html xmlns='http://jabber.org/protocol/xhtml-im'><body "
               "xmlns='http://www.w3.org/1999/xhtml'><p style='font-weight:bold'>hi</p></body></html>"
               "</message>")
    stanzas = (message +
               "\n \t\r\n"
               "<presence from='alice@fabrikam.test/laptop' to='bob@contoso.test'><show>away</show>"
               "<status xml:lang='en'>out</status><priority>5</priority>"
               "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://x.test' "
               "ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence> "
               "<presence type='subscribe' from='alice@fabrikam.test' to='bob@contoso.test' id='s1'/>"
               "<presence type='probe' from='alice@fabrikam.test' to='bob@contoso.test'/>"
               "<iq type='get' id='p1' from='fabrikam.test' to='contoso.test'><ping xmlns='urn:xmpp:ping'/></iq>"
               "<iq type='result' id='p1' from='contoso.test' to='fabrikam.test'/>"
               "<message type='error' id='m2' from='bob@contoso.test' to='alice@fabrikam.test'>"
               "<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
               "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>&quot;no&quot; &apos;one&apos;"
               "</text></error></message>"
               "<message><body><![CDATA[<not> & markup]]></body></message>")
    dialback = ("<db:result from='fabrikam.test' to='contoso.test'>"
                "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3</db:result>"
                "<db:verify from='contoso.test' to='fabrikam.test' id='a1b2c3'>"
                "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3</db:verify>"
                "<db:result from='contoso.test' to='fabrikam.test' type='valid'/>"
                "<db:result from='x.test' to='contoso.test' type='error'><error type='cancel'>"
                "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>"
                "<d:verify xmlns:d='jabber:server:dialback' from='a' to='b' id='c'>k</d:verify>")
    restarts = (xmpp_hdr(sid="s1") + features_tls +
                "<proceed xmlns='%s'/>" % tls_ns +
                "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" +  # TLS, never parsed
                "")
    after_tls = (xmpp_hdr(sid="s2") + features_sasl +
                 "<auth xmlns='%s' mechanism='EXTERNAL'>=</auth>" % sasl_ns +
                 "<success xmlns='%s'/>" % sasl_ns +
                 xmpp_hdr(sid="s3") +
                 "<stream:features><bidi xmlns='urn:xmpp:features:bidi'/></stream:features>" +
                 message + "</stream:stream>")
    seeds = {
        "stream-stanzas.xml": xmpp_hdr() + stanzas + "</stream:stream>",
        "stream-dialback.xml": xmpp_hdr() + dialback,
        # What an initiating server reads: the restarts after STARTTLS and
        # SASL; after <proceed/> the rest of the read is a new stream here.
        "stream-restarts.xml": xmpp_hdr(sid="s1") + features_tls + "<proceed xmlns='%s'/>" % tls_ns
                               + after_tls,
        # What a receiving server reads: <starttls/>, then TLS.
        "stream-starttls-then-tls.xml": restarts.replace(features_tls, "")
                                        .replace("<proceed", "<starttls"),
        "stream-error.xml": xmpp_hdr() + "<stream:error><host-unknown "
                            "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text "
                            "xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>"
                            "contoso.test is not served here</text><stanza-too-big "
                            "xmlns='urn:xmpp:errors'/></stream:error></stream:stream>",
        "stream-prefixes.xml": ("<stream:stream xmlns='jabber:server' "
                                "xmlns:stream='http://etherx.jabber.org/streams'>"
                                "<p:message xmlns:p='jabber:server' q:x='1' xmlns:q='urn:q'>"
                                "<xml:x/><p:body xml:space='preserve'>t</p:body>"
                                "<e xmlns=''/></p:message>"),
        "stream-no-default.xml": ("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"
                                  "<a><b xmlns='urn:b'><c/></b></a>"),
        "bad-doctype.xml": ("<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
                            "<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
                            "<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>]>"
                            + xmpp_hdr() + "<message>&lol2;</message>"),
        "bad-comment.xml": xmpp_hdr() + "<message><!-- c --></message>",
        "bad-pi.xml": xmpp_hdr() + "<?pi data?>",
        "bad-entity.xml": xmpp_hdr() + "<message a='&foo;'/>",
        "bad-encoding.xml": "<?xml version='1.0' encoding='ISO-8859-1'?>" + xmpp_hdr()[21:],
        "bad-utf8.xml": xmpp_hdr() + "<message><body>\xed\xa0\x80\xc3</body></message>",
        "bad-utf16.xml": "\xff\xfe<\x00s\x00",
        "bad-prefix.xml": xmpp_hdr() + "<x:message/>",
        "bad-namespace.xml": "<stream xmlns='jabber:server'><message/>",
        "bad-text.xml": xmpp_hdr() + "<message/>hello",
        "bad-mismatch.xml": xmpp_hdr() + "<message><body></message>",
        "pidf.xml": ("<?xml version='1.0' encoding='UTF-8'?><presence "
                     "xmlns='urn:ietf:params:xml:ns:pidf' "
                     "xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' entity='sip:bob@contoso.test'>"
                     "<tuple id='t1'><status><basic>open</basic></status>"
                     "<note xml:lang='en'>At lunch</note></tuple><rpid:person><rpid:activities>"
                     "<rpid:away/></rpid:activities></rpid:person></presence>"),
        # Control octets: one octet per read; 6-octet reads under small
        # limits; 1..256-octet reads; small limits that the stanzas exceed.
        "ctl-bytewise-restarts.bin": "\x01\x00\x00" + xmpp_hdr(sid="s1") + features_tls
                                     + "<proceed xmlns='%s'/>" % tls_ns + after_tls,
        "ctl-reads6-small.bin": "\x06\x05\x10" + xmpp_hdr() + stanzas,
        "ctl-random-reads.bin": "\x03\x2a\x00" + xmpp_hdr() + dialback + stanzas,
        "ctl-small-limits.bin": "\x04\x00\x00" + xmpp_hdr() + "<m><a><b><c><d><e/></d></c></b></a></m>"
                                + "<m a='1' b='2' c='3' d='4' e='5' f='6' g='7' h='8' i='9'/>"
                                + "<m>" + "<x/>" * 40 + "</m>" + "<m>" + "y" * 400 + "</m>",
        "ctl-keepalives.bin": "\x02\x07\x00" + xmpp_hdr() + " " * 3000 + "<message/>" + "\n" * 3000,
        # Read again with a sleep tried after every read (the high bit of
        # octet 1): one octet per read through the restarts; 6-octet reads
        # of stanzas and keep-alives; random reads of dialback and stanzas.
        "ctl-sleep-bytewise-restarts.bin": "\x01\x80\x00" + xmpp_hdr(sid="s1") + features_tls
                                           + "<proceed xmlns='%s'/>" % tls_ns + after_tls,
        "ctl-sleep-reads6.bin": "\x02\x85\x00" + xmpp_hdr() + stanzas + "  \n " + stanzas
                                + "</stream:stream>",
        "ctl-sleep-random-reads.bin": "\x03\xaa\x00" + xmpp_hdr() + dialback + stanzas,
        "ctl-sleep-small-limits.bin": "\x06\x83\x10" + xmpp_hdr() + stanzas + "<x:y/>",
    }
    return {k: v.encode("latin-1") if isinstance(v, str) else v for k, v in seeds.items()}


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
    sets = {"framing": framing_seeds(), "token": token_seeds(), "dns": dns_seeds(),
            "conf": conf_seeds(), "policy": policy_seeds(), "xmpp": xmpp_seeds()}
    for target, seeds in sets.items():
        d = os.path.join(top, target)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        for name, data in sorted(seeds.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print("%s: %d seeds" % (d, len(seeds)))


if __name__ == "__main__":
    main()
