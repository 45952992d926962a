#!/usr/bin/env bash
# The image smoke test: builds the sage-api and sage-worker images (dev/images.sh,
# PROFILE debug by default), runs them with host networking against the local stack,
# each on a read-only root with every capability dropped, on a database and queues of
# their own beside anything `just up` runs, and walks the demo's scenario
# (dev/demo.py) against them: a run with its log and artifact, a timeout, an approval,
# SIEM events, the refusals, the secret found nowhere (their container logs included).
# Usage: dev/smoke-images.sh [debug|release]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/dev/env.sh"
profile=${1:-debug}
api_port=${SMOKE_API_PORT:-18080}
database=sage_smoke
data=/var/lib/sage/smoke
secrets=/dev/shm/sage-smoke-secrets

say() { echo "smoke: $*"; }
die() { echo "smoke: ERROR: $*" >&2; exit 1; }

"$root/dev/images.sh" "$profile"
"$root/runner-image/build.sh" >/dev/null

cleanup() {
  docker rm -f sage-smoke-api sage-smoke-worker >/dev/null 2>&1 || true
  rm -rf "$secrets"
}
trap cleanup EXIT
cleanup

# A database of its own, made fresh, owned by the stack's role.
runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 \
  -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database OWNER sage" \
  >/dev/null || die "cannot make the database $database"
database_url=${DATABASE_URL%/*}/$database

# The folders the worker shares with the engine, at the same path on both sides, the
# worker's own and private (it refuses them otherwise).
rm -rf "$data"
install -d -o 10002 -g 10002 -m 0700 "$data" "$data/staging" "$secrets"

DEMO_SIEM_PORT=${DEMO_SIEM_PORT:-19480}
DEMO_SIEM_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
export DEMO_SIEM_PORT DEMO_SIEM_SECRET

# Every setting of .env.example from this environment, then the smoke test's own.
settings=$(mktemp)
trap 'cleanup; rm -f "$settings"' EXIT
while IFS= read -r name; do
  printf '%s=%s\n' "$name" "${!name-}"
done < <(sed -n 's/^\([A-Z][A-Z0-9_]*\)=.*/\1/p' "$root/.env.example") \
  | grep -v -E '^(SCRIPTS_DIR|EVIDENCE_FONT_DIR|LOG_FORMAT)=' >"$settings"
cat >>"$settings" <<SETTINGS
DATABASE_URL=$database_url
QUEUE_PREFIX=sage-smoke
API_BIND=127.0.0.1:$api_port
API_METRICS_BIND=127.0.0.1:19090
WORKER_ID=smoke-worker
WORKER_METRICS_BIND=127.0.0.1:19091
STAGING_DIR=$data/staging
SECRETS_DIR=$secrets
SIEM_WEBHOOK_URL=http://127.0.0.1:$DEMO_SIEM_PORT/siem
SIEM_WEBHOOK_SECRET=$DEMO_SIEM_SECRET
SETTINGS

hardened=(--network host --read-only --tmpfs /tmp:rw,nosuid,nodev,size=64m
          --cap-drop ALL --security-opt no-new-privileges --env-file "$settings")
docker run --rm "${hardened[@]}" sage-api:latest migrate >/dev/null || die "sage-api migrate failed"
docker run --rm "${hardened[@]}" sage-api:latest seed || die "sage-api seed failed"
docker run -d --name sage-smoke-api "${hardened[@]}" sage-api:latest >/dev/null
docker run -d --name sage-smoke-worker "${hardened[@]}" \
  --group-add "$(stat -c %g /var/run/docker.sock)" \
  -v /var/run/docker.sock:/var/run/docker.sock \
  -v "$data/staging:$data/staging" -v "$secrets:$secrets" \
  sage-worker:latest >/dev/null
READY_TIMEOUT=60 "$root/dev/wait-ready.sh" "http://127.0.0.1:$api_port" \
  || { docker logs --tail 30 sage-smoke-api; die "the api image did not become ready"; }
sleep 1
[ "$(docker inspect -f '{{.State.Running}}' sage-smoke-worker)" = true ] \
  || { docker logs --tail 30 sage-smoke-worker; die "the worker image did not start"; }
curl -fsS http://127.0.0.1:19090/metrics | grep -q '^sage_http_requests' \
  || die "the api image does not serve /metrics on API_METRICS_BIND"
say "api $(docker inspect -f '{{.Config.Image}}' sage-smoke-api) and worker run as $(docker exec sage-smoke-api id -u):$(docker exec sage-smoke-worker id -u), read-only, no capabilities"

DEMO_SERVICE_LOGS="$(docker inspect -f '{{.LogPath}}' sage-smoke-api):$(docker inspect -f '{{.LogPath}}' sage-smoke-worker)" \
DATABASE_URL=$database_url \
  python3 "$root/dev/demo.py" "http://127.0.0.1:$api_port" \
  || { docker logs --tail 40 sage-smoke-worker; die "the demo failed against the images"; }
say "passed"
