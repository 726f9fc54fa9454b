#!/usr/bin/env bash
# Makes test/fixtures/backups/v1/: a backup written by this build's `certfleet backup create`
# (format version 1) of the upgrade fixture's SQLite database (test/fixtures/upgrade/v0.1-schema4,
# upgraded in place by this build). Every later build must restore it
# (test/integration/backup-fixture.test.ts), so it is made once, committed, and never remade for
# the same format version: a new format version gets a directory of its own.
#
#   npm run build && bash scripts/make-backup-fixture.sh
#
# Writes: certfleet-v1.cfbak (the backup), passphrase (test-only), inspect.json (what
# `backup inspect --json` says of it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/test/fixtures/upgrade/v0.1-schema4"
out="$root/test/fixtures/backups/v1"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$out" "$work/data"
cp "$src/sqlite/certfleet.db" "$work/data/certfleet.db"
cp "$src/sqlite/node-id" "$work/data/node-id"
passphrase="certfleet backup fixture, format 1"
printf '%s\n' "$passphrase" >"$out/passphrase"
admin="$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).adminPassword' "$src/expected.json")"
cf() { CERTFLEET_CONFIG="$work/cli.json" node "$root/bin/certfleet.js" "$@"; }

CERTFLEET_MASTER_KEY="$(cat "$src/master.key")" node "$root/bin/certfleet.js" serve --data "$work/data" \
  --listen 127.0.0.1:0 --device-listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q '^Node ' "$work/serve.log" && break; sleep 0.1; done
grep -q '^Node ' "$work/serve.log" || { cat "$work/serve.log" >&2; exit 1; }
api="$(sed -n 's|.*console and API at \(http://[^/ ]*\)/.*|\1|p' "$work/serve.log")"
printf '%s\n' "$admin" | cf login --server "$api" --user admin --password-stdin >/dev/null
cf backup create --out "$out/certfleet-v1.cfbak" --passphrase-file "$out/passphrase"
cf backup inspect "$out/certfleet-v1.cfbak" --passphrase-file "$out/passphrase" --json >"$out/inspect.json"
kill -TERM "$pid"
wait "$pid" || true
echo "backup fixture: wrote $out"
