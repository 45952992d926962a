# Sourced by the project's scripts: the settings of .env.example, overridden by .env.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
set -a
# shellcheck source=/dev/null
. "$root/.env.example"
# shellcheck source=/dev/null
[ -f "$root/.env" ] && . "$root/.env"
set +a
case "$SCRIPTS_DIR" in /*) ;; *) SCRIPTS_DIR="$root/$SCRIPTS_DIR" ;; esac
export SCRIPTS_DIR
