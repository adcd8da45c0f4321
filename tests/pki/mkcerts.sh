#!/usr/bin/env bash
# mkcerts.sh OUTDIR [xmpp]: a lab PKI made with the openssl CLI, for tests and the demo.
#
# OUTDIR/ca.crt            the lab CA (trust anchor for everything below)
# OUTDIR/NAME.crt/.key     leaf certificates signed by the lab CA:
#   edge        sip.contoso.test, edge-int.contoso.test   (the edge; server+client EKU)
#   pool1       pool1.contoso.test                        (internal pool server 1)
#   pool2       pool2.contoso.test                        (internal pool server 2)
#   fabrikam    sip.fabrikam.test                         (partner edge A)
#   fabrikam2   sip2.fabrikam.test                        (partner edge B)
#   litware     edge.litware.test                         (a direct partner)
#   provider    fed.provider.test                         (a public IM provider)
#   wrongname   sip.wrong.test                            (valid chain, wrong name)
#   serveronly  sip.fabrikam.test, server EKU only        (no clientAuth EKU)
# OUTDIR/untrusted.crt/.key  sip.fabrikam.test signed by another CA (not trusted)
# OUTDIR/rogue-ca.crt       that other CA
#
# With `xmpp` (tests/xmpp; made only on request, so the SIP labs do not wait for
# them), also the XMPP certificates.  An s2s peer is identified by its XMPP domain itself, not by
# the SRV target host (RFC 6120 §13.7.1.2, RFC 6125 DNS-ID), and presents the
# same certificate as a TLS client for SASL EXTERNAL, so both EKUs:
#   edge-xmpp       sip.contoso.test, edge-int.contoso.test, contoso.test
#                   (the edge serving the XMPP domain contoso.test; `edge`
#                   stays without contoso.test: the "our certificate lacks the
#                   XMPP domain" case, and the SIP tests keep their certificate)
#   xmpp-fabrikam   fabrikam.test, xmpp.fabrikam.test        (a Prosody peer)
#   xmpp-northwind  northwind.test, xmpp.northwind.test      (a second peer)
#   xmpp-fabrikam-srvname   xmpp.fabrikam.test only (the SRV target, not the domain)
#   xmpp-fabrikam-expired   fabrikam.test, xmpp.fabrikam.test, expired in 2021
#   xmpp-fabrikam-rogue     fabrikam.test, xmpp.fabrikam.test, from rogue-ca
#   xmpp-northwind-rogue    northwind.test, xmpp.northwind.test, from rogue-ca
#
# Keys are EC P-256 (fast handshakes), mode 0600: readable by the user who ran
# this, which is the user the lab's Prosody runs as (root in CI, run_as_root).
# Existing output is reused when OUTDIR/.complete (and for xmpp
# OUTDIR/.complete-xmpp) exists.
set -euo pipefail

out=${1:?usage: mkcerts.sh OUTDIR [xmpp]}
set=${2:-}
case "$set" in
"" | xmpp) ;;
*) echo "usage: mkcerts.sh OUTDIR [xmpp]" >&2; exit 2 ;;
esac
mkdir -p "$out"
[ -f "$out/.complete" ] && { [ -z "$set" ] || [ -f "$out/.complete-$set" ]; } && exit 0
cd "$out"
umask 077

days=3650
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

mkca() { # name cn
	newkey "$1.key"
	openssl req -x509 -new -key "$1.key" -sha256 -days $days -subj "/O=sipedge lab/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.crt"
}

# leaf name ca eku cn [san…]; with NOT_BEFORE and NOT_AFTER set (YYYYMMDDHHMMSSZ)
# the certificate has those dates instead of now + $days (an expired one): only
# `openssl ca` takes explicit dates in OpenSSL 3.0, so it signs those.
leaf() {
	local name=$1 ca=$2 eku=$3 cn=$4; shift 4
	local sans="DNS:$cn" s
	for s in "$@"; do sans="$sans,DNS:$s"; done
	newkey "$name.key"
	openssl req -new -key "$name.key" -subj "/O=sipedge lab/CN=$cn" -out "$name.csr"
	printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=$eku" "subjectAltName=$sans" > "$name.ext"
	if [ -n "${NOT_AFTER:-}" ]; then
		mkdir -p "$name.ca"
		printf '%s\n' "[ca]" "default_ca = lab" "[lab]" "database = $name.ca/index" \
			"new_certs_dir = $name.ca" "serial = $name.ca/serial" "default_md = sha256" \
			"policy = any" "unique_subject = no" "[any]" "organizationName = optional" \
			"commonName = supplied" > "$name.ca/cnf"
		: > "$name.ca/index"
		openssl rand -hex 8 > "$name.ca/serial"
		openssl ca -batch -config "$name.ca/cnf" -cert "$ca.crt" -keyfile "$ca.key" -notext \
			-in "$name.csr" -out "$name.crt" -startdate "$NOT_BEFORE" -enddate "$NOT_AFTER" \
			-extfile "$name.ext" 2>/dev/null
		rm -rf "$name.ca"
	else
		openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
			-days $days -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
	fi
	rm -f "$name.csr" "$name.ext"
}

both=serverAuth,clientAuth

sip_set() {
	mkca ca "sipedge lab CA"
	mkca rogue-ca "rogue CA"
	leaf edge ca $both sip.contoso.test edge-int.contoso.test
	leaf pool1 ca $both pool1.contoso.test
	leaf pool2 ca $both pool2.contoso.test
	leaf fabrikam ca $both sip.fabrikam.test
	leaf fabrikam2 ca $both sip2.fabrikam.test
	leaf litware ca $both edge.litware.test
	leaf provider ca $both fed.provider.test
	leaf wrongname ca $both sip.wrong.test
	leaf serveronly ca serverAuth sip.fabrikam.test
	leaf untrusted rogue-ca $both sip.fabrikam.test
}

xmpp_set() {
	leaf edge-xmpp ca $both sip.contoso.test edge-int.contoso.test contoso.test
	leaf xmpp-fabrikam ca $both fabrikam.test xmpp.fabrikam.test
	leaf xmpp-northwind ca $both northwind.test xmpp.northwind.test
	leaf xmpp-fabrikam-srvname ca $both xmpp.fabrikam.test
	NOT_BEFORE=20200101000000Z NOT_AFTER=20210101000000Z \
		leaf xmpp-fabrikam-expired ca $both fabrikam.test xmpp.fabrikam.test
	leaf xmpp-fabrikam-rogue rogue-ca $both fabrikam.test xmpp.fabrikam.test
	leaf xmpp-northwind-rogue rogue-ca $both northwind.test xmpp.northwind.test
}

[ -f .complete ] || { sip_set; rm -f ./*.srl; chmod 644 ./*.crt; touch .complete; }
if [ -n "$set" ]; then
	"${set}_set"
	rm -f ./*.srl
	chmod 644 ./*.crt
	touch ".complete-$set"
fi
