#!/usr/bin/env bash
# Builds the sage-api and sage-worker images offline from this host's binaries
# (PROFILE release, the default, or debug) and the console's bundle, on the local base
# (runner-image/base.sh with CA certificates and the report fonts). Each is tagged by a
# digest of its inputs, rebuilt only when they change, and tagged :latest.
# Usage: dev/images.sh [release|debug]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${1:-release}
base=${APP_BASE_IMAGE:-sage-app-base:bookworm}
context=${APP_BUILD_CONTEXT:-/var/cache/sage-runner/app-context}

say() { echo "images: $*"; }
die() { echo "images: ERROR: $*" >&2; exit 1; }

case "$profile" in
  release) cargo build --release --bins -q -p sage-api -p sage-worker ;;
  debug) cargo build --bins -q -p sage-api -p sage-worker ;;
  *) die "the profile is release or debug, not $profile" ;;
esac
"$root/dev/console.sh" build
"$root/runner-image/base.sh" "$base" ca-certificates,fonts-nanum

bin=${CARGO_TARGET_DIR:-$root/target}/$profile
rm -rf "$context"
mkdir -p "$context/bin"
# Symbols stay on the host: the images take the code only.
for binary in sage-api sage-worker; do
  strip --strip-all -o "$context/bin/$binary" "$bin/$binary"
done
cp -r "$root/crates/console/app/dist" "$context/console"
(cd "$root" && git ls-files -z scripts | tar --null -T - -c) | tar -C "$context" -x
cp "$root/Dockerfile" "$context/Dockerfile"

digest=$( (cd "$context" && find . -type f -print0 | sort -z | xargs -0 sha256sum;
           docker image inspect --format '{{.Id}}' "$base") | sha256sum | cut -c1-12)
for target in api worker; do
  image=sage-$target
  if docker image inspect "$image:$digest" >/dev/null 2>&1; then
    say "up to date ($image:$digest)"
  else
    say "building $image:$digest ($profile binaries)"
    docker build -q --target "$target" --build-arg "BASE=$base" -t "$image:$digest" "$context" \
      >/tmp/sage-$target-image.log 2>&1 || die "docker build failed, see /tmp/sage-$target-image.log"
  fi
  docker tag "$image:$digest" "$image:latest"
  say "ready: $image:$digest ($(docker image inspect --format '{{.Size}}' "$image:$digest" | numfmt --to=iec))"
done
