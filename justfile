# Sage Runner. `just up` brings the whole stack up; `just test` runs every check.
# Both install and start what is missing (PostgreSQL, RabbitMQ, Redis, an S3 server,
# the Docker engine, the runner image), so a fresh Debian/Ubuntu host with Rust is enough.

set shell := ["bash", "-euo", "pipefail", "-c"]

run_dir := "/run/sage"
log_dir := "/var/log/sage"

default:
    @just --list

# The whole stack: services, runner and scanner images, a local AWS emulator, migrations,
# the sample modules, api on 127.0.0.1:8080, one worker; then the main job runs once. `just up release` runs optimised builds (the speed
# docs/benchmarks.md reports; the first build takes longer).
up profile="debug": stack
    #!/usr/bin/env bash
    set -euo pipefail
    . dev/env.sh
    mkdir -p {{run_dir}} {{log_dir}}
    runner-image/build.sh
    dev/emulator.sh up
    # The scanner image builds in the background (many minutes, the first time): the
    # worker notices it within 30 s of it being ready and reports the tools available.
    nohup runner-image/scanner/build.sh >{{log_dir}}/scanner-image.log 2>&1 &
    dev/console.sh build
    case "{{profile}}" in
      debug) cargo build --bins -q ;;
      release) cargo build --release --bins -q ;;
      *) echo "up: the profile is debug or release, not {{profile}}" >&2; exit 2 ;;
    esac
    bin="${CARGO_TARGET_DIR:-target}/{{profile}}"
    dev/stack.sh stop-app
    # The sample catalog (backup-db for the analyst, and one behind an approval): made
    # once, left alone afterwards.
    "$bin/sage-api" seed >{{log_dir}}/seed.log 2>&1 || { tail -n 20 {{log_dir}}/seed.log; echo "up: seeding failed" >&2; exit 1; }
    dev/stack.sh start-api "$bin/sage-api"
    # The local worker's AWS is the emulator: STS, the network of egress runs, the SDKs' endpoint.
    set -a; . dev/emulator.env; set +a
    nohup "$bin/sage-worker" >{{log_dir}}/worker.log 2>&1 & echo $! >{{run_dir}}/worker.pid
    sleep 1
    kill -0 "$(cat {{run_dir}}/worker.pid)" 2>/dev/null || { tail -n 20 {{log_dir}}/worker.log; echo "up: the worker did not start" >&2; exit 1; }
    echo
    # The main job: the analyst runs backup-db once, its log printed as it arrives.
    python3 dev/main-job.py "http://$API_BIND"
    echo
    echo "Sage Runner is up: api http://$API_BIND (logs in {{log_dir}}/), one worker."
    echo "Demo users: admin@example.com (admin), analyst@example.com, other-analyst@example.com"
    echo "Scanners run against a local AWS emulator (moto, account 123456789012): see README."
    echo "The scanner image: $(tail -n 1 {{log_dir}}/scanner-image.log) (log: {{log_dir}}/scanner-image.log)"
    echo "Next: open http://$API_BIND/ for the console (pick a demo user), http://$API_BIND/docs"
    echo "      for the API; 'just down' stops everything."

# Walks the sample scenario over HTTP against `just up`'s stack and prints each step's
# outcome: a run with its live log and artifact, a timeout, an approval, SIEM events
# received by a local receiver (the api restarts to send to it, then as it was),
# injection and path traversal refused, the secret found nowhere.
demo:
    #!/usr/bin/env bash
    set -euo pipefail
    . dev/env.sh
    export DEMO_SIEM_PORT=${DEMO_SIEM_PORT:-9480}
    DEMO_SIEM_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
    export DEMO_SIEM_SECRET
    echo "demo: the api restarts to send its audit events to 127.0.0.1:$DEMO_SIEM_PORT"
    dev/stack.sh start-api - "SIEM_WEBHOOK_URL=http://127.0.0.1:$DEMO_SIEM_PORT/siem" \
      "SIEM_WEBHOOK_SECRET=$DEMO_SIEM_SECRET"
    trap 'echo "demo: the api restarts as just up left it"; dev/stack.sh start-api -' EXIT
    python3 dev/demo.py "http://$API_BIND"

# Stops the api, the worker and the services `just up` started.
down:
    dev/stack.sh down

# Installs and starts the services (idempotent).
stack:
    dev/stack.sh up

# The sandbox images (runner, scanners) and the local AWS emulator the scanner tests use;
# each is rebuilt only when its recipe changes.
image: stack
    #!/usr/bin/env bash
    set -euo pipefail
    . dev/env.sh
    runner-image/build.sh
    dev/emulator.sh up
    runner-image/scanner/build.sh

# The sage-api and sage-worker images, built offline from this host's binaries on the
# local Debian base (`just images debug` takes the debug build).
images profile="release": stack
    dev/images.sh {{profile}}

# Runs the api and worker images against the local stack (host networking, beside
# `just up`'s processes) and walks the demo's scenario against them.
smoke profile="debug": stack image console
    dev/smoke-images.sh {{profile}}

# The web console's bundle (npm ci and a Vite build, each only when its inputs changed).
console:
    dev/console.sh build

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -q -- -D warnings

# The full suite against the real services: lints first, then every test.
test: lint stack image console
    #!/usr/bin/env bash
    set -euo pipefail
    . dev/env.sh
    dev/check-deploy.sh
    dev/console.sh browser
    (cd crates/console/app && npm run --silent check && npm run --silent lint && npx vitest run --reporter=dot)
    dev/stack.sh drop-test-databases
    if cargo nextest --version >/dev/null 2>&1; then
      cargo nextest run --workspace --no-fail-fast
    else
      cargo test --workspace --no-fail-fast
    fi
    dev/smoke-images.sh debug

# Benchmarks, each figure beside its baseline as a ratio (optimised builds of the api and
# the worker, run as processes; suites: pipeline, logs, reads, findings, history, all, and scan,
# which `all` leaves out: a Custodian scan of 200 accounts x 2 regions). docs/benchmarks.md
# records the figures.
bench suite="all": stack image
    #!/usr/bin/env bash
    set -euo pipefail
    . dev/env.sh
    command -v wrk >/dev/null || { echo "bench: installing wrk"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
    cargo build --release -q -p sage-api -p sage-worker -p sage-findings -p sage-bench
    cargo run --release -q -p sage-bench -- {{suite}}
