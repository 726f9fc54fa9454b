#!/usr/bin/env bash
# The import interoperability matrix (issue 13): one keystore file per way a tool an administrator
# has writes one, made with the real tools on this machine (openssl 3, Java 17 keytool) and, for
# what Windows writes, by scripts/make-windows-pkcs12.mjs (BER with indefinite lengths, Microsoft
# CSP and key-name attributes, a zero-length password), which openssl must then read.
#
#   bash scripts/make-interop-matrix.sh FIXTURES_OUT     # test/fixtures/make-fixtures.sh calls it
#
# Writes FIXTURES_OUT/interop/: the files, and cases.json: for each file the tool and options, how
# the password is given to `certfleet cert import` (a password file, --no-password, an empty
# password file), what certfleet must answer (imported, or the policy refusal's code), the integrity
# check it must report, and the SHA-256 fingerprint of the file's certificate as `openssl x509
# -fingerprint -sha256` prints it (read out of the file itself by openssl or keytool).
#
# Keys are the fixtures' shared pool (FIXTURES_OUT/keys); every case has a certificate of its own,
# so that all of them can be imported into one keystore. Idempotent: interop/.complete holds the
# SHA-256 of this script and of the Windows writer.
set -euo pipefail

fixtures="$(cd "$1" && pwd)"
scripts="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$fixtures/interop"
hash="$(cat "$scripts/make-interop-matrix.sh" "$scripts/make-windows-pkcs12.mjs" "$scripts/../test/fixtures/jobs.sh" | sha256sum | cut -d' ' -f1)"
up_to_date() { [[ -f "$out/.complete" && "$(cat "$out/.complete")" == "$hash" ]]; }
if up_to_date; then
  echo "interop matrix: up to date ($out)"
  exit 0
fi
# two test runners starting at once build it once (the lock lives outside the tree)
exec 8>"${TMPDIR:-/tmp}/certfleet-interop-$(echo "$out" | sha256sum | cut -c1-16).lock"
flock 8
if up_to_date; then
  echo "interop matrix: up to date ($out)"
  exit 0
fi

started=$SECONDS
rm -rf "$out"
mkdir -p "$out/.work" "$out/.cases" "$out/.logs"
cd "$out"
W=.work
PASS=storepass1
RSA="$fixtures/keys/rsa-2048-1.pem"
EC="$fixtures/keys/ec-p256-1.pem"
WINDOWS=(node "$scripts/make-windows-pkcs12.mjs")
KEYTOOL=(keytool -J-XX:+UseSerialGC -J-XX:TieredStopAtLevel=1 -noprompt)

cert() { # cert ID KEY [digest] [days]: a self-signed certificate of its own for the case
  openssl req -x509 -new -key "$2" -subj "/O=certfleet interop/CN=$1.interop.certfleet.test" "${3:--sha256}" -days "${4:-3650}" -out "$W/$1.crt"
}
# The fingerprint of the first certificate openssl reads out of a PKCS#12 file (-legacy: RC2 too).
p12_fingerprint() { # FILE PASSWORD
  openssl pkcs12 -legacy -in "$1" -passin "pass:$2" -nokeys | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2
}
jks_fingerprint() { # FILE
  keytool -exportcert -rfc -alias server -keystore "$1" -storepass "$PASS" | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2
}
# record ORDER ID FILE TOOL OPTIONS PASSWORD-MODE EXPECT INTEGRITY FINGERPRINT
#   PASSWORD-MODE: password (a --password-file holding storepass1), none (--no-password),
#   empty-file (a --password-file that is empty); EXPECT: imported, or the refusal's code
record() {
  local fp=${9:+\"$9\"}
  printf '{"order":%d,"id":"%s","file":"%s","tool":"%s","options":"%s","password":"%s","expect":"%s","integrityCheck":"%s","fingerprint":%s}\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "${fp:-null}" >".cases/$2.json"
}

# --- openssl 3 -----------------------------------------------------------------------------------
# openssl_case ORDER ID PASSWORD-MODE EXPECT INTEGRITY OPTIONS...: openssl pkcs12 -export OPTIONS
openssl_case() {
  local order=$1 id=$2 mode=$3 expect=$4 integrity=$5
  shift 5
  local pw=$PASS key=$RSA
  [[ $mode == password ]] || pw=''
  [[ $id == *-ec-* ]] && key=$EC
  cert "$id" "$key"
  openssl pkcs12 -export -in "$W/$id.crt" -inkey "$key" -name server -passout "pass:$pw" -out "$id.p12" "$@"
  record "$order" "$id" "$id.p12" "openssl 3" "pkcs12 -export${*:+ $*}" "$mode" "$expect" "$integrity" "$(p12_fingerprint "$id.p12" "$pw")"
}
openssl_cases() {
  openssl_case 1 openssl-default password imported mac
  openssl_case 2 openssl-legacy password imported mac -legacy
  openssl_case 3 openssl-nomac password imported none -nomac
  openssl_case 4 openssl-nomaciter password imported mac -nomaciter
  openssl_case 5 openssl-noiter password imported mac -noiter
  openssl_case 6 openssl-nopbe password imported mac -keypbe NONE -certpbe NONE
  openssl_case 7 openssl-descert password imported mac -descert
  openssl_case 8 openssl-macalg-sha512 password imported mac -macalg sha512
  openssl_case 9 openssl-aes128 password imported mac -keypbe AES-128-CBC -certpbe AES-128-CBC
  openssl_case 10 openssl-aes256 password imported mac -keypbe AES-256-CBC -certpbe AES-256-CBC
  openssl_case 11 openssl-ec-p256 password imported mac
  openssl_case 12 openssl-empty-password none imported mac
  openssl_case 13 openssl-empty-password-legacy empty-file imported mac -legacy
  openssl_case 14 openssl-nopbe-nomac-empty none imported none -keypbe NONE -certpbe NONE -nomac
  # Java 8's defaults, by their structure: 3DES key bag, RC2-40 certificates, SHA-1 MAC, 1024 rounds
  openssl_case 15 openssl-java8-structure password imported mac -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-RC2-40 -macalg sha1 -iter 1024 -legacy
}
openssl_refused() {
  cert md5-signed "$RSA" -md5
  openssl pkcs12 -export -in "$W/md5-signed.crt" -inkey "$RSA" -name server -passout "pass:$PASS" -out openssl-md5.p12
  record 16 openssl-md5 openssl-md5.p12 "openssl 3" "req -x509 -md5; pkcs12 -export" password algorithm_not_allowed mac "$(p12_fingerprint openssl-md5.p12 "$PASS")"
}

# --- Java 17 keytool: an openssl file converted by keytool -importkeystore with the properties ----
# keytool_case ORDER ID STORETYPE EXPECT INTEGRITY -J-D…
keytool_case() {
  local order=$1 id=$2 type=$3 expect=$4 integrity=$5
  shift 5
  local ext=p12
  [[ $type == JKS ]] && ext=jks
  [[ $type == JCEKS ]] && ext=jceks
  cert "$id" "$RSA"
  openssl pkcs12 -export -in "$W/$id.crt" -inkey "$RSA" -name server -passout "pass:$PASS" -out "$W/$id-src.p12"
  "${KEYTOOL[@]}" "$@" -importkeystore -srckeystore "$W/$id-src.p12" -srcstoretype PKCS12 -srcstorepass "$PASS" \
    -destkeystore "$id.$ext" -deststoretype "$type" -deststorepass "$PASS"
  local fp=''
  case $type in
    PKCS12) fp="$(p12_fingerprint "$id.$ext" "$PASS")" ;;
    JKS) fp="$(jks_fingerprint "$id.$ext")" ;;
  esac
  local options="-importkeystore -deststoretype $type${*:+ $*}"
  record "$order" "$id" "$id.$ext" "keytool (Java 17)" "$options" password "$expect" "$integrity" "$fp"
}
keytool_default() { keytool_case 20 keytool-pkcs12-default PKCS12 imported mac; }
keytool_certpbe_none() { keytool_case 21 keytool-pkcs12-certpbe-none PKCS12 imported mac -J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE; }
keytool_mac_none() { keytool_case 22 keytool-pkcs12-mac-none PKCS12 imported none -J-Dkeystore.pkcs12.macAlgorithm=NONE; }
keytool_both_none() {
  keytool_case 23 keytool-pkcs12-certpbe-mac-none PKCS12 imported none \
    -J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE -J-Dkeystore.pkcs12.macAlgorithm=NONE
}
# what Java 8 wrote (and Java 17 still writes when asked): 3DES keys, RC2-40 certificates, SHA-1 MAC
keytool_legacy() { keytool_case 24 keytool-pkcs12-legacy PKCS12 imported mac -J-Dkeystore.pkcs12.legacy; }
keytool_jks() { keytool_case 25 keytool-jks JKS imported keystore_digest; }
keytool_jceks() { keytool_case 26 keytool-jceks JCEKS file_unreadable none; }

# --- what Windows writes ---------------------------------------------------------------------------
# windows_case ORDER ID PASSWORD-MODE EXPECT OPTIONS...: make-windows-pkcs12.mjs OPTIONS
windows_case() {
  local order=$1 id=$2 mode=$3 expect=$4
  shift 4
  local pw=$PASS pwargs=(--password "$PASS")
  [[ $mode == password ]] || { pw=''; pwargs=(--zero-length-password); }
  [[ -f "$W/$id.crt" ]] || cert "$id" "$RSA"
  local key=$RSA
  [[ -f "$W/$id.key" ]] && key="$W/$id.key"
  "${WINDOWS[@]}" --key "$key" --cert "$W/$id.crt" --out "$id.pfx" "${pwargs[@]}" "$@"
  # openssl must read it (MAC and bags) with the password as an administrator would type it
  openssl pkcs12 -legacy -in "$id.pfx" -passin "pass:$pw" -noout
  record "$order" "$id" "$id.pfx" "Windows (structure)" "${*:-3DES key, RC2-40 certificate, BER, CSP attributes}" "$mode" "$expect" mac \
    "$(p12_fingerprint "$id.pfx" "$pw")"
}
windows_cases() {
  windows_case 30 windows-no-password none imported
  windows_case 31 windows-password password imported
  windows_case 32 windows-no-password-empty-file empty-file imported --definite
  windows_case 33 windows-mac-without-iterations password imported --mac-iterations omit
  windows_case 34 windows-cert-next-to-key none imported --cert-next-to-key --local-key-id 5a
  windows_case 35 windows-unencrypted-key-bag none imported --cert-next-to-key --key-bag plain --local-key-id 54696d652031373030303030303030303030
  windows_case 36 windows-no-csp password imported --no-csp --local-key-id 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
}
windows_expired() {
  # like the two real Windows files of issue 13: no password, and a certificate expired 9 days ago
  "${KEYTOOL[@]}" -genkeypair -alias server -keyalg RSA -keysize 2048 -sigalg SHA256withRSA \
    -dname "CN=windows-expired.interop.certfleet.test, O=certfleet interop" -startdate -10d -validity 1 \
    -storetype PKCS12 -keystore "$W/expired-src.p12" -storepass "$PASS"
  openssl pkcs12 -in "$W/expired-src.p12" -passin "pass:$PASS" -nokeys | openssl x509 -out "$W/windows-expired.crt"
  openssl pkcs12 -in "$W/expired-src.p12" -passin "pass:$PASS" -nocerts -nodes | openssl pkey -out "$W/windows-expired.key"
  windows_case 37 windows-expired none certificate_expired
}

# shellcheck source=../test/fixtures/jobs.sh
source "$scripts/../test/fixtures/jobs.sh"
for j in keytool_default keytool_certpbe_none keytool_mac_none keytool_both_none keytool_legacy keytool_jks keytool_jceks \
  windows_expired openssl_cases openssl_refused windows_cases; do
  job "$j"
done
wait_jobs "interop matrix" || exit 1

node -e '
  const fs = require("node:fs");
  const cases = fs.readdirSync(".cases").map((f) => JSON.parse(fs.readFileSync(".cases/" + f, "utf8")));
  cases.sort((a, b) => a.order - b.order);
  fs.writeFileSync("cases.json", JSON.stringify(cases.map(({ order, ...c }) => c), null, 2) + "\n");
'
rm -rf .work .cases .logs
echo "$hash" >.complete
echo "interop matrix: made $(ls | wc -l) files in $((SECONDS - started)) s ($out)"
