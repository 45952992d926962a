# Sourced by the project's scripts: the settings of .env.example, overridden by .env.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
set -a
# shellcheck source=/dev/null
. "$root/.env.example"
# shellcheck source=/dev/null
[ -f "$root/.env" ] && . "$root/.env"
set +a
# The local stack runs on no cloud instance: no SDK of it may ask the metadata address
# for an identity (a worker without dev/emulator.env once did).
export AWS_EC2_METADATA_DISABLED=true
case "$SCRIPTS_DIR" in /*) ;; *) SCRIPTS_DIR="$root/$SCRIPTS_DIR" ;; esac
export SCRIPTS_DIR
