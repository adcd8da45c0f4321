#!/usr/bin/env python3
"""idle_conns.py PORT CA CERT KEY SNI COUNT [SOURCE...]: open COUNT mutual-TLS
connections to 127.0.0.1:PORT (spread over the SOURCE loopback addresses),
print 'open N' once they are all up (or 'open N failed M: reason'), then hold
them until stdin closes or a line arrives.  Standard library only."""

import resource
import socket
import ssl
import sys


def main():
    port, ca, cert, key, sni, count = sys.argv[1:7]
    count = int(count)
    sources = sys.argv[7:] or ["127.0.0.1"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 256), hard))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    held, failed, why = [], 0, ""
    for i in range(count):
        s = socket.socket()
        s.settimeout(10)
        try:
            s.bind((sources[i % len(sources)], 0))
            s.connect(("127.0.0.1", int(port)))
            t = ctx.wrap_socket(s, server_hostname=sni)
            held.append(t)
        except (OSError, ssl.SSLError) as e:
            failed += 1
            why = str(e)
            s.close()
    print("open %d failed %d%s" % (len(held), failed, (": " + why) if why else ""), flush=True)
    sys.stdin.readline()
    for t in held:
        t.close()


if __name__ == "__main__":
    main()
