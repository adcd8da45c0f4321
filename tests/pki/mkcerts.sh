#!/usr/bin/env bash
# mkcerts.sh OUTDIR: a lab PKI made with the openssl CLI, for tests and the demo.
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
# Keys are EC P-256 (fast handshakes), mode 0600.  Existing output is reused when
# OUTDIR/.complete exists.
set -euo pipefail

out=${1:?usage: mkcerts.sh OUTDIR}
mkdir -p "$out"
[ -f "$out/.complete" ] && exit 0
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

leaf() { # name ca eku cn [san…]
	local name=$1 ca=$2 eku=$3 cn=$4; shift 4
	local sans="DNS:$cn" s
	for s in "$@"; do sans="$sans,DNS:$s"; done
	newkey "$name.key"
	openssl req -new -key "$name.key" -subj "/O=sipedge lab/CN=$cn" -out "$name.csr"
	printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=$eku" "subjectAltName=$sans" > "$name.ext"
	openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
		-days $days -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
	rm -f "$name.csr" "$name.ext"
}

both=serverAuth,clientAuth
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
rm -f ./*.srl
chmod 644 ./*.crt
touch .complete
