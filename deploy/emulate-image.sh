#!/usr/bin/env bash
# deploy/Dockerfile's steps without Docker, for machines that have no Docker
# daemon (like CI here): pack this repository, `cairn init` an app, run stage 1
# (npm ci, npm run build, npm prune --omit=dev), copy what stage 2 copies
# (package.json, node_modules, dist), and run the image's command the way the
# StatefulSet's pod does: uid 1000, a read-only root file system with a tmpfs
# at /tmp, the data directory the only other writable place, the ConfigMap's
# environment. Then it calls the app with its client, checks /readyz, sends
# SIGTERM and expects a clean exit 0. Needs root (mount namespace); ~3 min.
#
#   sudo deploy/emulate-image.sh
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-image.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
[ "$(id -u)" = 0 ] || { echo "emulate-image.sh: needs root (it makes a mount namespace)" >&2; exit 2; }

echo "-- the app: npm pack, cairn init, npm install"
cd "$REPO"
npm pack --pack-destination "$WORK" --json > "$WORK/pack.json"
TGZ="$WORK/$(node -e 'console.log(require(process.argv[1])[0].filename)' "$WORK/pack.json")"
cd "$WORK" && npx --yes --package="$TGZ" cairn init my-app > /dev/null
cd my-app && npm install "$TGZ" > /dev/null

echo "-- stage 1: npm ci, npm run build, npm prune --omit=dev"
mkdir "$WORK/build" && cp package.json package-lock.json "$WORK/build/"
cd "$WORK/build" && npm ci > /dev/null
(cd "$WORK/my-app" && tar cf - --exclude=node_modules --exclude=dist --exclude=.cairn .) | tar xf -
npm run build > /dev/null && npm prune --omit=dev > /dev/null

echo "-- stage 2: package.json, node_modules, dist; data owned by 1000"
mkdir -p "$WORK/image/app" "$WORK/image/data"
cp -r package.json node_modules dist "$WORK/image/app/"
chown 1000:1000 "$WORK/image/data"
chmod -R a-w "$WORK/image/app"

echo "-- run it as the pod does"
# unshare, the inner shell, setpriv and env each exec the next: $! is node's PID.
unshare --mount bash -c '
  set -e
  mount --make-rprivate /
  mount -t tmpfs tmpfs /mnt && mkdir /mnt/app /mnt/data
  mount --bind "$1/app" /mnt/app && mount -o remount,bind,ro /mnt/app
  mount --bind "$1/data" /mnt/data
  mount -o remount,bind,ro /
  mount -t tmpfs -o size=256m tmpfs /tmp
  if touch /etc/cairn-write-probe 2>/dev/null; then echo "the root file system is writable" >&2; exit 1; fi
  cd /mnt/app
  exec setpriv --reuid 1000 --regid 1000 --clear-groups env -i PATH=/usr/bin:/bin \
    NODE_ENV=production CAIRN_HOST=127.0.0.1 CAIRN_PORT=0 CAIRN_DATA_DIR=/mnt/data \
    CAIRN_DRAIN_TIMEOUT=20s CAIRN_NODES=1 CAIRN_PARTITIONS=8 CAIRN_POD_NAME=cairn-0 \
    "CAIRN_PEER_URL=http://cairn-{i}.cairn-peers:9992" CAIRN_CLUSTER_SECRET=emulated-cluster-secret \
    node dist/src/server.js
' emulate "$WORK/image" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
  URL="$(grep -o 'serving on http://[0-9.:]*' "$WORK/server.log" | head -1 | cut -d' ' -f3 || true)"
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.2
done
[ -n "$URL" ] || { echo "the server did not start:"; cat "$WORK/server.log"; exit 1; }
for _ in $(seq 1 100); do curl -sf "$URL/readyz" > /dev/null && break; sleep 0.2; done
curl -sf "$URL/readyz"; echo
node "$WORK/build/dist/src/client.js" "$URL"
kill -TERM "$SERVER_PID"
status=0; wait "$SERVER_PID" || status=$?
SERVER_PID=""
[ "$status" = 0 ] || { echo "exit status $status after SIGTERM:"; cat "$WORK/server.log"; exit 1; }
echo "-- ok: served as uid 1000 on a read-only root, drained and exited 0 on SIGTERM"
