#!/usr/bin/env bash
# The local stack on a Debian-family host: PostgreSQL, RabbitMQ, Redis, an S3 server
# (s3s-fs) and the Docker engine, each installed when missing, started on loopback when
# not answering, and waited for. Idempotent: run it as often as you like.
#
#   dev/stack.sh up        install and start what is missing
#   dev/stack.sh down      stop what `up` started (and the api and worker of `just up`)
#   dev/stack.sh start-api BINARY|- [NAME=VALUE...]   (re)start the api of `just up`
#   dev/stack.sh stop-app  stop only the api and worker of `just up`
#   dev/stack.sh status    one line per service
#   dev/stack.sh drop-test-databases   drop the databases and queues earlier test runs created
set -euo pipefail
. "$(dirname "$0")/env.sh"

run_dir=/run/sage
log_dir=/var/log/sage
started="$run_dir/started"
s3s_version=0.14.1

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

say() { echo "stack: $*"; }
die() { echo "stack: ERROR: $*" >&2; exit 1; }

# Waits until "$2..." succeeds, for at most $1 seconds.
wait_until() {
  local limit=$1; shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_updated=""
need_packages() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  if [ -z "$apt_updated" ]; then
    $SUDO apt-get update -q >/dev/null || die "apt-get update failed"
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

mark_started() {
  $SUDO mkdir -p "$run_dir"
  grep -qx "$1" "$started" 2>/dev/null || echo "$1" | $SUDO tee -a "$started" >/dev/null
}

# --- PostgreSQL ------------------------------------------------------------------------
pg_cluster() { pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1, $2}'; }

postgres_up() {
  need_packages postgresql
  read -r version cluster <<<"$(pg_cluster)"
  [ -n "${version:-}" ] || die "no PostgreSQL cluster found (pg_lsclusters is empty)"
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    say "starting PostgreSQL $version/$cluster"
    $SUDO pg_ctlcluster "$version" "$cluster" start || die "pg_ctlcluster $version $cluster start failed"
    mark_started postgres
  fi
  wait_until 60 pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL does not answer on 127.0.0.1:5432"
  # The role and database of DATABASE_URL (postgres://user:password@host:port/db).
  [[ "$DATABASE_URL" =~ ^postgres(ql)?://([^:]+):([^@]+)@[^/]+/([^?]+) ]] \
    || die "DATABASE_URL is not postgres://user:password@host:port/db"
  local user=${BASH_REMATCH[2]} password=${BASH_REMATCH[3]} db=${BASH_REMATCH[4]}
  as_postgres psql -q -v ON_ERROR_STOP=1 -v user="$user" -v password="$password" >/dev/null <<'SQL' \
    || die "cannot create the PostgreSQL role"
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'user', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
SQL
  if ! as_postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    as_postgres createdb -O "$user" "$db" || die "cannot create database $db"
  fi
}

postgres_down() {
  read -r version cluster <<<"$(pg_cluster)"
  [ -n "${version:-}" ] && $SUDO pg_ctlcluster "$version" "$cluster" stop 2>/dev/null || true
}

# --- RabbitMQ --------------------------------------------------------------------------
rabbitmq_up() {
  need_packages rabbitmq-server
  if ! port_open 5672; then
    say "starting RabbitMQ"
    $SUDO env RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_DIST_PORT=25672 \
      rabbitmq-server -detached >/dev/null 2>&1 || die "rabbitmq-server -detached failed"
    mark_started rabbitmq
  fi
  wait_until 120 port_open 5672 || die "RabbitMQ does not answer on 127.0.0.1:5672 (see /var/log/rabbitmq/)"
  $SUDO rabbitmqctl -q await_startup --timeout 60 >/dev/null 2>&1 || die "RabbitMQ did not finish starting"
  # Each test app declares queues of its own prefix (test-…): the broker drops them a
  # minute after their app went away, so a test run does not leave hundreds behind
  # (with some 300, this 2-core node took over 10 s to accept a connection).
  $SUDO rabbitmqctl -q set_policy --apply-to queues test-queues-expire '^test-' '{"expires": 60000}' \
    >/dev/null 2>&1 || die "cannot set the expiry policy of test queues"
}

rabbitmq_down() { $SUDO rabbitmqctl -q stop >/dev/null 2>&1 || true; }

# --- Redis -----------------------------------------------------------------------------
# The password of REDIS_URL (redis://[user]:<password>@host:port/db), percent-decoded
# as the api and the worker read it; Redis requires it.
redis_password() {
  local rest=${REDIS_URL#*://}
  [[ $rest == *@* ]] || return 0
  rest=${rest%%@*}
  python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1]), end="")' "${rest#*:}"
}
# redis-cli reads it from here, so it never shows in a process list.
REDISCLI_AUTH=$(redis_password)
export REDISCLI_AUTH

redis_answers() { [ "$(redis-cli --no-auth-warning -h 127.0.0.1 ping 2>/dev/null)" = PONG ]; }

redis_up() {
  need_packages redis-server redis-tools
  [ -n "$REDISCLI_AUTH" ] || die "REDIS_URL holds no password (redis://:<password>@host:port/db); Redis must require one"
  if [ "$(REDISCLI_AUTH='' redis-cli -h 127.0.0.1 ping 2>/dev/null)" = PONG ]; then
    # A Redis of an earlier stack that took anyone: it requires the password from now on.
    say "Redis now requires the password of REDIS_URL"
    printf '%s' "$REDISCLI_AUTH" | REDISCLI_AUTH='' redis-cli -h 127.0.0.1 -x config set requirepass >/dev/null \
      || die "cannot set Redis's password"
  elif ! redis_answers; then
    if port_open 6379; then
      die "the Redis on 127.0.0.1:6379 refuses the password of REDIS_URL"
    fi
    say "starting Redis"
    $SUDO mkdir -p "$log_dir" "$run_dir"
    # The password arrives as configuration on stdin, not as an argument; the config
    # reader takes backslash escapes inside quotes, so those are escaped.
    local quoted=${REDISCLI_AUTH//\\/\\\\}
    quoted=${quoted//\"/\\\"}
    printf 'requirepass "%s"\n' "$quoted" |
      $SUDO redis-server - --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --logfile "$log_dir/redis.log" --pidfile "$run_dir/redis.pid" || die "redis-server failed to start"
    mark_started redis
  fi
  wait_until 30 redis_answers || die "Redis does not answer on 127.0.0.1:6379"
}

redis_down() { redis-cli --no-auth-warning -h 127.0.0.1 shutdown nosave >/dev/null 2>&1 || true; }

# --- S3 (s3s-fs) -----------------------------------------------------------------------
s3_port() { [[ "$S3_ENDPOINT" =~ :([0-9]+)/?$ ]] && echo "${BASH_REMATCH[1]}" || echo 9000; }

s3_up() {
  local port; port=$(s3_port)
  if ! command -v s3s-fs >/dev/null; then
    command -v cargo >/dev/null || die "cargo is needed to install the S3 server s3s-fs"
    say "installing s3s-fs $s3s_version (a few minutes, once)"
    cargo install s3s-fs --version "$s3s_version" --features binary --locked -q \
      || die "cargo install s3s-fs failed"
  fi
  if ! port_open "$port"; then
    say "starting the S3 server on 127.0.0.1:$port"
    $SUDO mkdir -p "$S3_DATA_DIR/$S3_BUCKET" "$log_dir" "$run_dir"
    # From /: s3s-fs resolves every request against its working directory, and the
    # caller's (a CI clone) may be deleted while the server lives on.
    (cd / && exec nohup "$(command -v s3s-fs)" --host 127.0.0.1 --port "$port" \
      --access-key "$S3_ACCESS_KEY_ID" --secret-key "$S3_SECRET_ACCESS_KEY" "$S3_DATA_DIR" \
      >"$log_dir/s3.log" 2>&1) &
    echo $! | $SUDO tee "$run_dir/s3.pid" >/dev/null
    mark_started s3
  fi
  wait_until 30 port_open "$port" || die "the S3 server does not answer on 127.0.0.1:$port (see $log_dir/s3.log)"
}

s3_down() { stop_pidfile "$run_dir/s3.pid"; }

# --- Docker ----------------------------------------------------------------------------
docker_up() {
  command -v dockerd >/dev/null || need_packages docker.io
  if ! $SUDO docker info >/dev/null 2>&1; then
    say "starting the Docker engine"
    $SUDO mkdir -p "$log_dir" "$run_dir"
    nohup $SUDO dockerd >"$log_dir/dockerd.log" 2>&1 &
    mark_started docker
  fi
  wait_until 60 $SUDO docker info || die "the Docker engine does not answer (see $log_dir/dockerd.log)"
}

# gVisor for SANDBOX_RUNTIME_*=runsc: Debian's runsc, registered with the engine as
# `runsc` with the only settings it starts containers with on these hosts (ptrace, no
# network: see docs/security.md). The running engine takes it up on SIGHUP.
gvisor_up() {
  need_packages runsc
  local config=/etc/docker/daemon.json
  $SUDO python3 - "$config" <<'PY' || die "cannot register runsc in /etc/docker/daemon.json"
import json, os, sys
path = sys.argv[1]
config = json.load(open(path)) if os.path.exists(path) else {}
wanted = {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=none"]}
if config.get("runtimes", {}).get("runsc") != wanted:
    config.setdefault("runtimes", {})["runsc"] = wanted
    json.dump(config, open(path, "w"), indent=2)
PY
  if ! $SUDO docker info --format '{{json .Runtimes}}' | grep -q '"runsc"'; then
    $SUDO kill -HUP "$(cat /var/run/docker.pid)" || die "cannot signal the Docker engine"
    wait_until 10 sh -c "$SUDO docker info --format '{{json .Runtimes}}' | grep -q runsc" \
      || die "the Docker engine did not take up runsc (see $log_dir/dockerd.log)"
  fi
}

docker_down() {
  local pid; pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  [ -n "$pid" ] && $SUDO kill "$pid" 2>/dev/null || true
}

stop_pidfile() {
  local pid; pid=$(cat "$1" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    $SUDO kill "$pid" 2>/dev/null || true
    wait_until 20 bash -c "! kill -0 $pid" || $SUDO kill -9 "$pid" 2>/dev/null || true
  fi
  $SUDO rm -f "$1"
}

status_line() {
  local name=$1; shift
  if "$@" >/dev/null 2>&1; then echo "$name: up"; else echo "$name: down"; fi
}

case "${1:-up}" in
  up)
    postgres_up; say "PostgreSQL ok"
    rabbitmq_up; say "RabbitMQ ok"
    redis_up; say "Redis ok"
    s3_up; say "S3 ok"
    docker_up; say "Docker ok"
    gvisor_up; say "gVisor (runsc) registered"
    "$(dirname "$0")/egress-firewall.sh" || die "the egress firewall rules cannot be installed"
    say "egress firewall ok (EGRESS_BRIDGE=${EGRESS_BRIDGE:-sage-egress0})"
    # The evidence PDF is set in Nanum Gothic (Hangul and Latin); its tests read PDFs
    # back with poppler and count fixtures again with python3; `just bench findings`
    # compares with jq under GNU time; notification tests receive mail with aiosmtpd.
    need_packages fonts-nanum poppler-utils python3 jq time python3-aiosmtpd openssl
    say "report fonts and tools ok"
    ;;
  start-api)
    # (Re)starts the api of `just up` from BINARY ('-': the one running now), with
    # NAME=VALUE settings over the environment's, and waits until it is ready.
    bin=${2:--}
    [ "$bin" = - ] && bin=$(readlink "/proc/$(cat "$run_dir/api.pid" 2>/dev/null)/exe" 2>/dev/null || true)
    [ -n "$bin" ] && [ -x "$bin" ] || die "no api binary to start (run just up first)"
    stop_pidfile "$run_dir/api.pid"
    mkdir -p "$run_dir" "$log_dir"
    nohup env "${@:3}" "$bin" >>"$log_dir/api.log" 2>&1 &
    echo $! >"$run_dir/api.pid"
    "$(dirname "$0")/wait-ready.sh" "http://$API_BIND" "$log_dir/api.log"
    ;;
  stop-app)
    stop_pidfile "$run_dir/worker.pid"
    stop_pidfile "$run_dir/api.pid"
    ;;
  down)
    stop_pidfile "$run_dir/worker.pid"
    stop_pidfile "$run_dir/api.pid"
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
      "$(dirname "$0")/emulator.sh" down
    fi
    if [ -f "$started" ]; then
      while read -r service; do
        say "stopping $service"
        "${service}_down"
      done < <(tac "$started")
      $SUDO rm -f "$started"
    fi
    ;;
  drop-test-databases)
    # Each test creates a database of its own; drop those of earlier runs.
    as_postgres psql -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'sage\_test\_%'" |
      while read -r db; do as_postgres dropdb --if-exists --force "$db"; done
    # ... and the queues their apps declared (prefix test-).
    { $SUDO rabbitmqctl -q list_queues name 2>/dev/null || true; } | { grep '^test-' || true; } |
      while read -r queue; do $SUDO rabbitmqctl -q delete_queue "$queue" </dev/null >/dev/null 2>&1 || true; done
    ;;
  status)
    status_line postgres pg_isready -q -h 127.0.0.1 -p 5432
    status_line rabbitmq port_open 5672
    status_line redis redis_answers
    status_line s3 port_open "$(s3_port)"
    status_line docker $SUDO docker info
    ;;
  *) die "usage: dev/stack.sh up|down|stop-app|status|drop-test-databases" ;;
esac
