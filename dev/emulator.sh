#!/usr/bin/env bash
# A local AWS account for the scanners: moto's server as a container of the project's
# own image, on an internal Docker network (no route out of the machine). Sandboxes of
# `network: egress` runs join that network when the worker has EMULATOR_NETWORK set,
# and reach moto as http://moto:5000 and nothing else: inter-container traffic is off on
# the network, as on the egress network, and one firewall rule lets moto's port through
# (and its answers back). The worker itself asks its STS at the container's fixed
# address (STS_ENDPOINT_URL). Development and tests only.
#
#   dev/emulator.sh up      build the image once, make the network, start moto (idempotent)
#   dev/emulator.sh down    stop moto and remove the network
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

network=${EMULATOR_NETWORK:-sage-emulator}
bridge=${EMULATOR_BRIDGE:-sage-emu0}
subnet=${EMULATOR_SUBNET:-172.30.213.0/24}
address=${EMULATOR_ADDRESS:-172.30.213.10}
base=${RUNNER_BASE_IMAGE:-sage-base:bookworm}
context=${EMULATOR_BUILD_CONTEXT:-/var/cache/sage-runner/moto-context}
container=sage-moto

say() { echo "emulator: $*"; }
die() { echo "emulator: ERROR: $*" >&2; exit 1; }

image() {
  docker image inspect "$base" >/dev/null 2>&1 || die "the base image $base is missing (runner-image/build.sh makes it)"
  local digest
  digest=$( (cat "$here/moto/Dockerfile" "$here/moto/requirements.txt"; docker image inspect --format '{{.Id}}' "$base") | sha256sum | cut -c1-12)
  if ! docker image inspect "sage-moto:$digest" >/dev/null 2>&1; then
    say "fetching moto's packages (checked against dev/moto/requirements.txt)"
    mkdir -p "$context/wheels" "$context/pip"
    python3 -m pip download -q --no-deps --require-hashes -r "$here/moto/requirements.txt" -d "$context/wheels" \
      || die "pip download of moto failed"
    sed -n 's/^\([^ #][^ ]*\) .*/\1/p' "$here/moto/requirements.txt" >"$context/wheels/pins.txt"
    python3 -m pip download -q --no-deps --require-hashes -r "$here/../runner-image/scanner/requirements/pip.txt" -d "$context/pip" \
      || die "pip download of pip failed"
    rm -rf "$context/pip/pip.whl"
    mv "$context"/pip/pip-*.whl "$context/pip/pip.whl"
    say "building sage-moto:$digest"
    docker build -q --build-arg "BASE=$base" -t "sage-moto:$digest" -f "$here/moto/Dockerfile" "$context" >/tmp/sage-moto-build.log 2>&1 \
      || die "docker build failed, see /tmp/sage-moto-build.log"
  fi
  docker tag "sage-moto:$digest" sage-moto:latest
}

icc_option=com.docker.network.bridge.enable_icc
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# Sandboxes on the network reach moto's port, and moto answers them; nothing else
# crosses the bridge (Docker's inter-container DROP comes after DOCKER-USER).
moto_rules() {
  echo "-i $bridge -o $bridge -d $address -p tcp --dport 5000 -j ACCEPT"
  echo "-i $bridge -o $bridge -s $address -p tcp --sport 5000 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
}

network() {
  local shape
  shape=$(docker network inspect -f "{{.Internal}} {{index .Options \"$icc_option\"}}" "$network" 2>/dev/null || true)
  if [[ -n "$shape" && "$shape" != "true false" ]]; then
    # Made by an earlier version of this script, with sandboxes able to reach each other.
    say "network $network lets sandboxes reach each other or leave the machine ($shape): making it again"
    docker rm -f "$container" >/dev/null 2>&1 || true
    docker network rm "$network" >/dev/null || die "cannot remove network $network (containers still on it?)"
    shape=
  fi
  if [[ -z "$shape" ]]; then
    docker network create --internal --subnet "$subnet" -o "$icc_option=false" \
      -o "com.docker.network.bridge.name=$bridge" --label sage.network=emulator "$network" >/dev/null \
      || die "cannot make network $network"
  fi
  local rule
  while read -r rule; do
    # shellcheck disable=SC2086
    $SUDO iptables -C DOCKER-USER $rule 2>/dev/null || $SUDO iptables -I DOCKER-USER $rule \
      || die "cannot let sandboxes reach moto: iptables -I DOCKER-USER $rule"
  done < <(moto_rules)
}

up() {
  image
  network
  local running_image
  running_image=$(docker inspect -f '{{.Image}}' "$container" 2>/dev/null || true)
  if [[ "$running_image" != "$(docker image inspect -f '{{.Id}}' sage-moto:latest)" ]] \
     || [[ "$(docker inspect -f '{{.State.Running}}' "$container" 2>/dev/null)" != true ]]; then
    docker rm -f "$container" >/dev/null 2>&1 || true
    # The second alias serves the S3 Control API, which puts the account id in front of
    # the endpoint's host name.
    docker run -d --name "$container" --restart unless-stopped --network "$network" --ip "$address" \
      --network-alias moto --network-alias 123456789012.moto \
      --read-only --tmpfs /tmp:size=256m --cap-drop ALL --security-opt no-new-privileges \
      --memory 1g --pids-limit 256 --label sage.emulator=moto sage-moto:latest >/dev/null \
      || die "cannot start moto"
  fi
  local i
  for i in $(seq 1 60); do
    if curl -fs -o /dev/null "http://$address:5000/moto-api/"; then
      say "moto answers at http://$address:5000 (sandboxes: http://moto:5000) on $network"
      return 0
    fi
    sleep 0.5
  done
  docker logs --tail 20 "$container" >&2 || true
  die "moto does not answer at http://$address:5000"
}

down() {
  docker rm -f "$container" >/dev/null 2>&1 || true
  docker network rm "$network" >/dev/null 2>&1 || true
  local rule
  while read -r rule; do
    # shellcheck disable=SC2086
    $SUDO iptables -D DOCKER-USER $rule 2>/dev/null || true
  done < <(moto_rules)
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) die "usage: dev/emulator.sh up|down" ;;
esac
