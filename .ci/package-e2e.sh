#!/usr/bin/env bash
# The package as a user gets it: pack it, check it with publint and attw,
# scaffold an app with `cairn init` from the tarball in a temporary folder
# outside the repository, install the tarball there (everything else from
# the registry), then run the app's generate, test, build and start on plain
# node, call it with its client script, `npx cairn tasks list` and `npx cairn
# tasks show` (the result decoded through server reflection), stop it by PID
# with SIGTERM, and drive `npm run dev` through edits and errors.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-package-e2e.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
started=$(date +%s)
step() { echo "-- [$(( $(date +%s) - started ))s] $*"; }
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

step "npm pack (builds dist/ with tsc)"
cd "$REPO"
npm pack --pack-destination "$WORK" --json > "$WORK/pack.json"
TGZ="$WORK/$(node -e 'const p=require(process.argv[1])[0]; console.log(p.filename)' "$WORK/pack.json")"
node -e 'const p=require(process.argv[1])[0]; console.log(`tarball ${p.filename}: ${(p.size/1024).toFixed(1)} kB packed, ${(p.unpackedSize/1024).toFixed(1)} kB unpacked, ${p.entryCount} files`); const bad=p.files.map(f=>f.path).filter(f=>/^(test|bench|\.ci|examples)\//.test(f)); if (bad.length) { console.error("tarball holds files it must not:", bad); process.exit(1); }' "$WORK/pack.json"

step "publint and attw on the tarball"
npx publint "$TGZ" --strict
npx attw "$TGZ" --profile esm-only

step "cairn init my-app, run from the tarball (npx --package)"
cd "$WORK"
npx --yes --package="$TGZ" cairn init my-app
cd my-app
test -f .gitignore && test -f README.md && test -f tsconfig.json && test -f proto/counter/v1/counter.proto

step "npm install (@cairn-dev/cairn from the tarball, the rest from the registry)"
npm install "$TGZ"
node -e 'const r=require("@cairn-dev/cairn/package.json"); if (!require.resolve("@cairn-dev/cairn/package.json").startsWith(process.cwd())) process.exit(1); console.log("installed", r.name, r.version)'

step "npm run generate"
npm run generate
test -f generated/counter/v1/counter_cairn.ts

step "npm test"
npm test

step "npm run build"
npm run build
test -f dist/src/server.js

step "npm start on plain node (the start script's command, run directly to know its PID)"
test "$(node -p 'require("./package.json").scripts.start')" = "node dist/src/server.js"
export CAIRN_TOKEN_SECRET="e2e-$RANDOM-$RANDOM"
PORT=0 CAIRN_DATA_DIR="$WORK/data" node dist/src/server.js > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
  # The readable startup line, or its JSON record when NODE_ENV=production.
  URL="$(sed -n -e 's/^cairn: serving on \(http:[^ ]*\)$/\1/p' -e 's/^{.*"msg":"serving on \(http:[^"]*\)".*$/\1/p' "$WORK/server.log")"
  if [ -n "$URL" ]; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/server.log"; echo "the server exited before serving" >&2; exit 1; fi
  sleep 0.1
done
if [ -z "$URL" ]; then cat "$WORK/server.log"; echo "the server did not print 'cairn: serving on' within 30 s" >&2; exit 1; fi
echo "server $SERVER_PID: $(cat "$WORK/server.log")"

step "npm run client $URL"
npm run --silent client -- "$URL" | tee "$WORK/client.log"
grep -q "^workflow done: b-.* = 6$" "$WORK/client.log"

step "npx cairn tasks list (operator token from npx cairn token --admin)"
TOKEN="$(npx cairn token --admin)"
npx cairn tasks list --url "$URL" --token "$TOKEN" | tee "$WORK/tasks.log"
grep -q "countUp" "$WORK/tasks.log"

step "npx cairn tasks show: the result as JSON with the app's field names (server reflection)"
TASK="$(awk '/countUp/ { print $1; exit }' "$WORK/tasks.log")"
npx cairn tasks show "$TASK" --url "$URL" --token "$TOKEN" | tee "$WORK/show.log"
grep -q '^result  *{"value":"[0-9]*"}$' "$WORK/show.log"

step "stop the server (pid $SERVER_PID) with SIGTERM"
kill -TERM "$SERVER_PID"
code=0
wait "$SERVER_PID" || code=$?
SERVER_PID=""
if [ "$code" != 0 ]; then cat "$WORK/server.log"; echo "the server exited with $code on SIGTERM" >&2; exit 1; fi
test -d "$WORK/data"

step "npm run dev: a .ts change restarts, a .proto change re-generates, errors are printed and the loop goes on (bench/dev-loop.ts)"
rm -rf "$WORK/my-app/.cairn"
(cd "$REPO" && node --import tsx bench/dev-loop.ts "$WORK/my-app")

step "package end-to-end: all steps passed"
