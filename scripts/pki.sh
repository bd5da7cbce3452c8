#!/usr/bin/env bash
# Test PKI for li707 (tests, benchmarks, `make demo`), made with the openssl CLI.
# Usage: scripts/pki.sh DIR
# Creates in DIR (idempotent: files already there are kept; delete DIR to start over):
#   ca.pem ca.key            test CA ("li707 test CA")
#   ca2.pem ca2.key          a second, unrelated CA
#   server.pem server.key    server cert for localhost, 127.0.0.1, ::1 (signed by ca)
#   server2.pem server2.key  a second server cert (same names) for reload tests
#   csp1.pem csp1.key        client, signed by ca, on the allow-list (CN=csp1, SAN DNS csp1.test)
#   csp2.pem csp2.key        client, signed by ca, NOT on the allow-list
#   expired.pem expired.key  client, signed by ca, expired
#   other.pem other.key      client CN=csp1 signed by ca2
#   revoked.pem revoked.key  client CN=csp1 (on the allow-list) signed by ca, revoked
#   crl.pem                  ca's CRL listing revoked.pem
#   psk1.key psk2.key        PSK files (64 hex digits, mode 0600)
# All keys are ECDSA P-256, mode 0600. Nothing here is secret: test material only.
set -euo pipefail
D=${1:?usage: pki.sh DIR}
mkdir -p "$D"
umask 077
cd "$D"

key() { [ -s "$1.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

ca() { # ca NAME CN
	[ -s "$1.pem" ] && return 0
	key "$1"
	openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 3650 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$1.pem" 2>/dev/null
}

# leaf NAME CA SUBJECT EXT-PURPOSE SAN [DAYS|expired]
leaf() {
	local name=$1 cak=$2 subj=$3 eku=$4 san=$5 days=${6:-825}
	[ -s "$name.pem" ] && return 0
	key "$name"
	openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
		"$eku" "$san" >"$name.ext"
	if [ "$days" = expired ]; then
		# A certificate whose validity ended yesterday: signed through `openssl ca` with
		# explicit dates (x509 -req cannot set a start date in the past).
		rm -rf ca.db && mkdir -p ca.db && : >ca.db/index && echo 01 >ca.db/serial
		cat >ca.db/ca.cnf <<CNF
[ca]
default_ca=d
[d]
database=ca.db/index
serial=ca.db/serial
new_certs_dir=ca.db
default_md=sha256
policy=p
copy_extensions=none
unique_subject=no
[p]
commonName=supplied
CNF
		openssl ca -batch -config ca.db/ca.cnf -cert "$cak.pem" -keyfile "$cak.key" \
			-startdate 20200101000000Z -enddate 20210101000000Z -extfile "$name.ext" \
			-in "$name.csr" -out "$name.pem" -notext 2>/dev/null
		rm -rf ca.db
	else
		openssl x509 -req -in "$name.csr" -CA "$cak.pem" -CAkey "$cak.key" -CAcreateserial \
			-days "$days" -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
	fi
	rm -f "$name.csr" "$name.ext"
}

psk() { [ -s "$1" ] || { openssl rand -hex 32 >"$1"; chmod 600 "$1"; }; }

ca ca "li707 test CA"
ca ca2 "li707 other CA"
leaf server ca "/CN=localhost" serverAuth "DNS:localhost,IP:127.0.0.1,IP:::1"
leaf server2 ca "/CN=localhost" serverAuth "DNS:localhost,IP:127.0.0.1,IP:::1"
leaf csp1 ca "/CN=csp1/O=li707 test" clientAuth "DNS:csp1.test"
leaf csp2 ca "/CN=csp2/O=li707 test" clientAuth "DNS:csp2.test"
leaf expired ca "/CN=csp1/O=li707 test" clientAuth "DNS:csp1.test" expired
leaf other ca2 "/CN=csp1/O=li707 test" clientAuth "DNS:csp1.test"
leaf revoked ca "/CN=csp1/O=li707 test" clientAuth "DNS:csp1.test"
if [ ! -s crl.pem ]; then
	rm -rf crl.db && mkdir -p crl.db && : >crl.db/index && echo 1000 >crl.db/crlnumber
	cat >crl.db/ca.cnf <<CNF
[ca]
default_ca=d
[d]
database=crl.db/index
crlnumber=crl.db/crlnumber
default_md=sha256
default_crl_days=3650
CNF
	openssl ca -batch -config crl.db/ca.cnf -cert ca.pem -keyfile ca.key -revoke revoked.pem 2>/dev/null
	openssl ca -batch -config crl.db/ca.cnf -cert ca.pem -keyfile ca.key -gencrl -out crl.pem 2>/dev/null
	rm -rf crl.db
fi
psk psk1.key
psk psk2.key
rm -f ./*.srl
chmod 600 ./*.key
