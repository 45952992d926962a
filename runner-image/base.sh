#!/usr/bin/env bash
# Makes a minimal Debian base image with debootstrap and imports it into Docker, once:
# the local base recipe of every image here, for hosts that reach Debian's mirror but
# no container registry. An image of that name already there is kept.
# Usage: runner-image/base.sh IMAGE PACKAGES   (PACKAGES comma-separated, added to minbase)
set -euo pipefail
image=$1 packages=$2
suite=${RUNNER_BASE_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { echo "base-image: $*"; }
die() { echo "base-image: ERROR: $*" >&2; exit 1; }

docker image inspect "$image" >/dev/null 2>&1 && exit 0
command -v debootstrap >/dev/null || { say "installing debootstrap"; apt-get install -y -q debootstrap >/dev/null; }
rootfs=$(mktemp -d /tmp/sage-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
log=/tmp/sage-debootstrap-${image//[:\/]/-}.log
say "building $image with debootstrap ($suite from $mirror, with $packages), a few minutes once"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$log" 2>&1 \
  || die "debootstrap failed, see $log"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import - "$image" >/dev/null || die "docker import failed"
say "ready: $image"
