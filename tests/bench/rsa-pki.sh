#!/usr/bin/env bash
# rsa-pki.sh OUTDIR: the RSA-2048 variant of the lab PKI (tests/pki/mkcerts.sh
# makes P-256 keys), for make bench's handshake-cost figure: what a real
# deployment's certificates usually are.  Same names and extended key usages
# as mkcerts.sh, only the certificates the bench needs:
#   OUTDIR/ca.crt            the CA (RSA-2048)
#   OUTDIR/edge.crt/.key     sip.contoso.test, edge-int.contoso.test (server+client EKU)
#   OUTDIR/pool1.crt/.key    pool1.contoso.test (server+client EKU)
# Keys mode 0600.  Existing output is reused when OUTDIR/.complete exists.
set -euo pipefail

out=${1:?usage: rsa-pki.sh OUTDIR}
mkdir -p "$out"
[ -f "$out/.complete" ] && exit 0
cd "$out"
umask 077

days=3650
newkey() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

newkey ca.key
openssl req -x509 -new -key ca.key -sha256 -days $days -subj "/O=sipedge lab/CN=sipedge lab RSA CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt

leaf() { # name cn [san…]
	local name=$1 cn=$2; shift 2
	local sans="DNS:$cn" s
	for s in "$@"; do sans="$sans,DNS:$s"; done
	newkey "$name.key"
	openssl req -new -key "$name.key" -subj "/O=sipedge lab/CN=$cn" -out "$name.csr"
	printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=$sans" > "$name.ext"
	openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
		-days $days -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
	rm -f "$name.csr" "$name.ext"
}

leaf edge sip.contoso.test edge-int.contoso.test
leaf pool1 pool1.contoso.test
rm -f ./*.srl
chmod 644 ./*.crt
touch .complete
