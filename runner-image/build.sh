#!/usr/bin/env bash
# Builds the runner image once and reuses it while runner-image/ is unchanged.
# With RUNNER_BASE_IMAGE unset and no registry in reach, the base is a minimal Debian
# rootfs made here with debootstrap and imported into Docker.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${RUNNER_IMAGE:-sage-runner:latest}
base=${RUNNER_BASE_IMAGE:-sage-base:bookworm}

say() { echo "runner-image: $*"; }
die() { echo "runner-image: ERROR: $*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "the Docker engine does not answer (run dev/stack.sh up first)"

if [[ "$base" != sage-base:* ]]; then
  docker image inspect "$base" >/dev/null 2>&1 || docker pull "$base" || die "cannot pull base image $base"
else
  "$here/base.sh" "$base" python3
fi

# The tag carries a digest of the recipe and the base, so a change rebuilds and an
# unchanged tree reuses the image.
base_id=$(docker image inspect --format '{{.Id}}' "$base")
digest=$( (cat "$here/Dockerfile"; echo "$base_id") | sha256sum | cut -c1-12)
if docker image inspect "sage-runner:$digest" >/dev/null 2>&1; then
  say "up to date (sage-runner:$digest)"
else
  say "building sage-runner:$digest on $base"
  docker build -q --build-arg "BASE=$base" -t "sage-runner:$digest" "$here" >/dev/null \
    || die "docker build failed"
fi
docker tag "sage-runner:$digest" "$image"
say "ready: $image"
