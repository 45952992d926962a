#!/usr/bin/env bash
# The web console (crates/console/app): `build` installs its npm packages from the lock
# file and builds the bundle the api serves, each only when its inputs changed;
# `browser` installs Debian's Chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/../crates/console/app"

need_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "console: Node.js 20 and npm are needed (https://nodejs.org, or the distribution's nodejs)" >&2
    exit 1
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then
    echo "console: Node.js $(node --version) is too old; 20 or newer is needed" >&2
    exit 1
  fi
}

digest() {
  find "$@" -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
}

build() {
  need_node
  local lock
  lock=$(sha256sum package-lock.json | cut -c1-16)
  if [ "$(cat node_modules/.sage-lock 2>/dev/null)" != "$lock" ]; then
    echo "console: installing npm packages (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock" > node_modules/.sage-lock
  fi
  local inputs
  inputs=$(digest src public e2e index.html package-lock.json tsconfig.json vite.config.ts scripts)
  if [ "$(cat dist/.sage-inputs 2>/dev/null)" != "$inputs" ]; then
    echo "console: building the bundle"
    npm run --silent build >/dev/null
    echo "$inputs" > dist/.sage-inputs
  fi
  echo "console: built in $(pwd)/dist"
}

browser() {
  if ! dpkg -s chromium >/dev/null 2>&1; then
    echo "console: installing Chromium for the browser tests"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >/dev/null
  fi
}

case "${1:-build}" in
  build) build ;;
  browser) browser ;;
  *) echo "usage: $0 build|browser" >&2; exit 2 ;;
esac
