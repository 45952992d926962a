#!/usr/bin/env bash
# Builds the runner image once and reuses it while runner-image/ is unchanged.
# With RUNNER_BASE_IMAGE unset and no registry in reach, the base is a minimal Debian
# rootfs made here with debootstrap and imported into Docker.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${RUNNER_IMAGE:-sage-runner:latest}
base=${RUNNER_BASE_IMAGE:-sage-base:bookworm}
suite=${RUNNER_BASE_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { echo "runner-image: $*"; }
die() { echo "runner-image: ERROR: $*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "the Docker engine does not answer (run dev/stack.sh up first)"

if ! docker image inspect "$base" >/dev/null 2>&1; then
  if [[ "$base" != sage-base:* ]]; then
    docker pull "$base" || die "cannot pull base image $base"
  else
    command -v debootstrap >/dev/null || { say "installing debootstrap"; apt-get install -y -q debootstrap >/dev/null; }
    rootfs=$(mktemp -d /tmp/sage-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    say "building base $base with debootstrap ($suite from $mirror), a few minutes once"
    debootstrap --variant=minbase --include=python3 "$suite" "$rootfs" "$mirror" >/tmp/sage-debootstrap.log 2>&1 \
      || die "debootstrap failed, see /tmp/sage-debootstrap.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import - "$base" >/dev/null || die "docker import failed"
  fi
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
