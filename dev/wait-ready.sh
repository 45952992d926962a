#!/usr/bin/env bash
# Waits until the api at $1 answers /ready with 200; on failure prints why and the log.
set -uo pipefail
url=$1 log=${2:-}
deadline=$((SECONDS + ${READY_TIMEOUT:-90}))
while [ $SECONDS -lt $deadline ]; do
  body=$(curl -s -m 5 -w '\n%{http_code}' "$url/ready" 2>/dev/null) || body=""
  [ "${body##*$'\n'}" = "200" ] && exit 0
  sleep 0.5
done
echo "the api at $url is not ready: ${body%$'\n'*}" >&2
[ -n "$log" ] && tail -n 30 "$log" >&2
exit 1
