#!/usr/bin/env bash
# Makes the upgrade fixture (SPEC B3): databases made by an earlier certfleet, which
# test/e2e/upgrade.e2e.test.ts upgrades in place with the current build.
#
#   scripts/make-upgrade-fixture.sh [REVISION] [OUT_DIR]
#
# REVISION (default 18a4962: the build at the start of issue 9, schema = migrations 0001–0004) is
# built in a temporary git worktree; its real `certfleet serve` runs once on a fresh SQLite file
# and once on a fresh PostgreSQL schema (CERTFLEET_TEST_PG, default
# postgres://postgres@127.0.0.1:5432/test), and its real CLI and `certfleet agent` fill them the
# way an administrator and a fleet would: an imported PKCS#12, a generated EC certificate, an
# imported SHA1withRSA certificate for old firmware, a default change, a deactivation, moves, an
# enrollment token and four devices (two on old firmware). OUT_DIR (default
# test/fixtures/upgrade/v0.1-schema4, replaced as a whole) then holds what an upgrade starts from:
#
#   master.key                     the fixed, test-only master key (base64) both servers ran with
#   expected.json                  per database, what the upgraded server must still say (README: Tests)
#   sqlite/certfleet.db            the SQLite database, checkpointed (no -wal file)
#   postgres/dump.sql              pg_dump --inserts of the schema, named __CERTFLEET_SCHEMA__
#   {sqlite,postgres}/node-id      the node's id: the upgraded server is the same node restarting
#   {sqlite,postgres}/agents/NAME/state.json   each device's state (pin, credential)
#
# Needs: git, node, openssl, psql and pg_dump, and the test fixtures (`npm run fixtures`, run here).
set -euo pipefail

rev="${1:-18a4962}"
root="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
out="${2:-$root/test/fixtures/upgrade/v0.1-schema4}"
pg_url="${CERTFLEET_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}"

# Test-only secrets, committed with the fixture: nothing here protects anything real.
MASTER_KEY=2Q0rVh5Cqyl2fKDtFPOjS4kY3sLQ4cBvn8X7cHZ1tRw=
ADMIN_PASSWORD=upgrade-fixture-admin-1
EXPORT_PASSWORD=upgrade-fixture-export-1
SCHEMA=certfleet_upgrade_fixture
PLACEHOLDER=__CERTFLEET_SCHEMA__

command -v pg_dump >/dev/null && command -v psql >/dev/null || { echo "upgrade fixture: psql and pg_dump are required" >&2; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 "$pg_url" -c 'select 1' >/dev/null

work="$(mktemp -d "${TMPDIR:-/tmp}/certfleet-upgrade-fixture.XXXXXX")"
build="$work/build"
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null || true
  git -C "$root" worktree remove --force "$build" 2>/dev/null || true
  psql -X -q "$pg_url" -c "drop schema if exists $SCHEMA cascade" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "upgrade fixture: building $rev in $build"
git -C "$root" worktree add --detach "$build" "$rev" >/dev/null
# The revision's own dependencies: the tree's node_modules when its lock file is the same.
if cmp -s "$root/package-lock.json" "$build/package-lock.json"; then
  ln -s "$root/node_modules" "$build/node_modules"
else
  (cd "$build" && npm ci --no-audit --no-fund >/dev/null)
fi
(cd "$build" && npm run --silent build >/dev/null)
(cd "$root" && npm run --silent fixtures)
fixtures="$root/test/fixtures/out"
store_password="$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).storePassword' "$fixtures/passwords.json")"

# A legacy certificate as an older installation has them: SHA1withRSA, which old firmware verifies.
openssl req -x509 -newkey rsa:2048 -sha1 -nodes -days 3650 \
  -subj "/CN=legacy-sha1.certfleet.test/O=certfleet upgrade fixture" \
  -keyout "$work/legacy.key" -out "$work/legacy.crt" 2>/dev/null
cat "$work/legacy.crt" "$work/legacy.key" >"$work/legacy-sha1.pem"

secret() { # NAME VALUE: a 0600 file holding VALUE (passwords go through files, never argv)
  (umask 077 && printf '%s' "$2" >"$work/$1")
  echo "$work/$1"
}
admin_file="$(secret admin.pw "$ADMIN_PASSWORD")"
export_file="$(secret export.pw "$EXPORT_PASSWORD")"
store_file="$(secret store.pw "$store_password")"
any_file="$(secret any.pw unused-for-a-plain-pem)"

cf() { CERTFLEET_CONFIG="$work/cli.json" node "$build/bin/certfleet.js" "$@"; }

# serve DATA_DIR [--db URL]: starts the revision's server and waits for the line that says it runs.
serve() {
  local data="$1"
  shift
  log="$work/serve-$(basename "$data").log"
  CERTFLEET_MASTER_KEY="$MASTER_KEY" CERTFLEET_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    node "$build/bin/certfleet.js" serve --data "$data" --listen 127.0.0.1:0 --device-listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    grep -q '^Node ' "$log" && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; echo "upgrade fixture: serve exited" >&2; exit 1; }
    sleep 0.1
  done
  grep -q '^Node ' "$log" || { cat "$log" >&2; echo "upgrade fixture: serve did not start within 60 s" >&2; exit 1; }
  api="$(sed -n 's|.*console and API at \(http://[^/ ]*\)/.*|\1|p' "$log")"
  devices="$(sed -n 's|^Device channel (TLS) listening on \([^;]*\);.*|\1|p' "$log")"
}

stop() {
  kill -TERM "$server_pid"
  wait "$server_pid" || { cat "$log" >&2; echo "upgrade fixture: serve did not stop cleanly" >&2; exit 1; }
  server_pid=""
}

# agent NAME PROFILE UNIT_ID [more]: one full cycle of the real agent with its state in AGENTS/NAME.
agent() {
  local name="$1" profile="$2" unit="$3"
  shift 3
  cf agent --server "$devices" --state "$AGENTS/$name" --profile "$profile" --unit-id "$unit" \
    --name "$name" --once --json "$@" >"$work/agent-$name.json"
  echo "  $name ($profile): $(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).pinnedAlias' "$work/agent-$name.json")"
}

# The same story on each database; the comments give the keystore after each step.
populate() {
  printf '%s\n' "$ADMIN_PASSWORD" | cf login --server "$api" --user admin --password-stdin >/dev/null
  cf cert import "$fixtures/keytool-rsa2048-sha256.p12" --alias imported-p12 --password-file "$store_file" >/dev/null
  cf cert generate --alias generated-ec --sig-alg SHA256withECDSA --cn upgrade-fixture.certfleet.test >/dev/null
  cf cert import "$work/legacy-sha1.pem" --alias legacy-sha1 --password-file "$any_file" >/dev/null
  # tckey (default), imported-p12, generated-ec, legacy-sha1 — all active
  cf enroll create --uses 10 --expires 365d --json >"$work/enroll.json"
  node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).token)' "$work/enroll.json" >"$work/token"
  chmod 600 "$work/token"
  agent modern-1 igel-os-12 02:00:5e:00:00:01 --token-file "$work/token"                  # tckey
  agent win7-1 windows-7-embedded-3.08.100 02:00:5e:00:00:02 --token-file "$work/token"   # imported-p12: no SHA512withRSA
  cf cert default generated-ec >/dev/null
  # generated-ec (default), tckey, imported-p12, legacy-sha1; modern-1 gets generated-ec pending
  cf sync run --json >/dev/null
  agent modern-1 igel-os-12 02:00:5e:00:00:01                                              # replaced and confirmed
  cf cert deactivate imported-p12 >/dev/null  # win7-1 keeps it (K4)
  cf cert down tckey >/dev/null
  cf cert down tckey >/dev/null
  # generated-ec (default), imported-p12 (inactive), legacy-sha1, tckey
  agent modern-2 igel-os-11 02:00:5e:00:00:03 --token-file "$work/token"                  # generated-ec
  agent legacy-1 igel-linux-4.01.650 02:00:5e:00:00:04 --token-file "$work/token"         # legacy-sha1: no ECDSA, no SHA512withRSA
  cf sync run --json >"$work/sync.json"
  cf cert list --json >"$work/certs.json"
  cf device list --json >"$work/devices.json"
  for alias in $(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).map((c) => c.alias).join(" ")' "$work/certs.json"); do
    cf cert export-keypair "$alias" --out "$work/$alias.p12" --password-file "$export_file" >/dev/null
    # The key as openssl reads it from the export, re-encoded as PKCS#8 DER: the same bytes for the same key.
    openssl pkcs12 -in "$work/$alias.p12" -passin "file:$export_file" -nocerts -nodes 2>/dev/null |
      openssl pkey -outform DER | sha256sum | cut -d' ' -f1 >"$work/$alias.key-sha256"
  done
  # Settled: no replacement pending, so each device's pin is the one the fixture records.
  node --input-type=module - "$work" >"$work/expected-part.json" <<'EOF'
import { readFileSync } from 'node:fs';
const work = process.argv[2];
const read = (name) => JSON.parse(readFileSync(`${work}/${name}`, 'utf8'));
const sync = read('sync.json');
if (sync.scheduled !== 0) throw new Error(`a replacement is pending: ${JSON.stringify(sync)}`);
const certs = read('certs.json');
const fingerprint = Object.fromEntries(certs.map((c) => [c.alias, c.sha256Fingerprint]));
console.log(JSON.stringify({
  certificates: certs.map((c) => ({
    alias: c.alias,
    position: c.position,
    active: c.active,
    isDefault: c.isDefault,
    signatureAlgorithm: c.signatureAlgorithm,
    sha256Fingerprint: c.sha256Fingerprint,
    privateKeyPkcs8Sha256: readFileSync(`${work}/${c.alias}.key-sha256`, 'utf8').trim(),
  })),
  devices: read('devices.json').devices.map((d) => {
    if (d.pendingCertificateAlias !== null) throw new Error(`${d.name} has a pending replacement`);
    const state = JSON.parse(readFileSync(`${process.env.AGENTS}/${d.name}/state.json`, 'utf8'));
    if (state.deviceId !== d.id || state.pinned.sha256 !== fingerprint[d.certificateAlias]) throw new Error(`${d.name}: its state and the server disagree`);
    return { name: d.name, id: d.id, unitId: d.unitId, profile: d.profile, pinnedAlias: d.certificateAlias, pinnedSha256: fingerprint[d.certificateAlias] };
  }),
}));
EOF
  cf logout >/dev/null
}

rm -rf "$out"
mkdir -p "$out/sqlite" "$out/postgres"
printf '%s\n' "$MASTER_KEY" >"$out/master.key"

echo "upgrade fixture: SQLite"
export AGENTS="$out/sqlite/agents"
serve "$work/sqlite"
populate
stop
mv "$work/expected-part.json" "$work/expected-sqlite.json"
[[ ! -s "$work/sqlite/certfleet.db-wal" ]] || { echo "upgrade fixture: the SQLite WAL was not checkpointed" >&2; exit 1; }
cp "$work/sqlite/certfleet.db" "$out/sqlite/certfleet.db"
cp "$work/sqlite/node-id" "$out/sqlite/node-id"

echo "upgrade fixture: PostgreSQL (schema $SCHEMA)"
export AGENTS="$out/postgres/agents"
psql -X -q -v ON_ERROR_STOP=1 "$pg_url" -c "drop schema if exists $SCHEMA cascade" -c "create schema $SCHEMA" >/dev/null
sep='?'
[[ "$pg_url" == *\?* ]] && sep='&'
serve "$work/postgres" --db "${pg_url}${sep}options=-c%20search_path%3D$SCHEMA"
populate
stop
mv "$work/expected-part.json" "$work/expected-postgres.json"
cp "$work/postgres/node-id" "$out/postgres/node-id"
# Plain SQL with INSERTs (no COPY, no psql commands), so a client library can run it as one script;
# the schema's name becomes a placeholder and CREATE SCHEMA goes: it restores into any empty schema.
pg_dump --schema="$SCHEMA" --no-owner --no-privileges --no-comments --inserts "$pg_url" |
  grep -v -e '^\\' -e "^CREATE SCHEMA $SCHEMA;\$" |
  sed "s/\b$SCHEMA\b/$PLACEHOLDER/g" >"$out/postgres/dump.sql"
! grep -q "$SCHEMA" "$out/postgres/dump.sql" || { echo "upgrade fixture: the schema name is left in the dump" >&2; exit 1; }

node --input-type=module - "$work" "$rev" "$(git -C "$build" rev-parse HEAD)" "$ADMIN_PASSWORD" >"$out/expected.json" <<'EOF'
import { readFileSync } from 'node:fs';
const [work, revision, commit, adminPassword] = process.argv.slice(2);
const read = (name) => JSON.parse(readFileSync(`${work}/${name}`, 'utf8'));
const migrations = readFileSync(`${work}/build/src/storage/migrations/index.ts`, 'utf8').match(/'\d{4}-[a-z0-9-]+'(?=:)/g).map((m) => m.slice(1, -1));
console.log(JSON.stringify({
  madeBy: { revision, commit, migrations },
  adminUser: 'admin',
  adminPassword,
  schemaPlaceholder: '__CERTFLEET_SCHEMA__',
  sqlite: read('expected-sqlite.json'),
  postgres: read('expected-postgres.json'),
}, null, 2));
EOF
chmod -R go-rwx "$out/sqlite/agents" "$out/postgres/agents"
echo "upgrade fixture: written to $out ($(du -sh "$out" | cut -f1))"
