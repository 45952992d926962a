#!/usr/bin/env bash
# Checks deploy/ and docker-compose.yml offline: no cluster, no registry.
#
#   - docker-compose.yml passes `docker-compose config -q` (Debian's docker-compose 1.29);
#   - every overlay under deploy/overlays renders with the kubectl on PATH and with
#     Debian bookworm's kubectl 1.20 (kustomize v2.0.3), to the same objects;
#   - every rendered object is valid against the Kubernetes $K8S_VERSION schema
#     (kubernetes-validate, strict: unknown fields fail). KEDA's and the Prometheus
#     Operator's kinds have no schema there: they are only checked to parse and to
#     carry apiVersion, kind and metadata.name, and are listed as skipped;
#   - no drift: every name in the sage-config ConfigMap and every variable a container
#     sets is in .env.example; no secret sits in the ConfigMap; the Secret's keys are
#     in .env.example and deploy/README.md; the KEDA queue is <QUEUE_PREFIX>.jobs; the
#     bind addresses match the container ports;
#   - `privileged: true` appears only in the privileged-engine overlay (and there only
#     on the engine); nothing mounts a host path or the node's Docker socket.
#
# Installs what is missing, once: kubectl (Debian's kubernetes-client) when there is
# none, Debian's kubectl 1.20 unpacked under the cache for the second render,
# docker-compose (Debian), and kubernetes-validate (PyPI) in a venv under the cache.
# The cache is /var/cache/sage-runner, or ~/.cache/sage-runner when that is not
# writable. Exits non-zero when any check fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# The oldest Kubernetes the manifests claim (native sidecars are on by default from 1.29).
K8S_VERSION=${K8S_VERSION:-1.29.0}
KUBERNETES_VALIDATE_VERSION=1.37.0

cache=/var/cache/sage-runner
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/sage-runner
  mkdir -p "$cache"
fi

say() { printf 'check-deploy: %s\n' "$*"; }
passed=0
failed=0
ok() { passed=$((passed + 1)); say "ok    $*"; }
bad() { failed=$((failed + 1)); say "FAIL  $*"; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
apt_updated=""
apt_update() {
  [ -n "$apt_updated" ] && return 0
  $SUDO apt-get update -qq
  apt_updated=1
}
apt_install() {
  apt_update
  say "installing $* (apt-get)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "$@" >/dev/null
}
kubectl_version() {
  "$1" version --client 2>/dev/null | grep -oE 'v1\.[0-9]+\.[0-9]+' | head -n 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- tools ---------------------------------------------------------------------------
say "tools (cache: $cache)"
if ! command -v kubectl >/dev/null 2>&1; then
  apt_install kubernetes-client
fi
kubectls=("$(command -v kubectl)")
main_version=$(kubectl_version "${kubectls[0]}")
say "  kubectl ${kubectls[0]}: $main_version"
# kustomize v2.0.3 knows only `bases` and `patchesStrategicMerge`: the overlays keep to
# it, and this render proves they still do.
if [[ "$main_version" != v1.20.* ]]; then
  old=$cache/kubectl-1.20/root/usr/bin/kubectl
  if [ ! -x "$old" ]; then
    say "  fetching Debian bookworm's kubernetes-client (kubectl 1.20) into $cache/kubectl-1.20"
    rm -rf "$cache/kubectl-1.20"
    mkdir -p "$cache/kubectl-1.20"
    (
      cd "$cache/kubectl-1.20"
      apt-get download kubernetes-client >download.log 2>&1 \
        || { apt_update && apt-get download kubernetes-client >download.log 2>&1; } \
        || { cat download.log >&2; exit 1; }
      dpkg-deb -x kubernetes-client_*.deb root
    )
  fi
  kubectls+=("$old")
  say "  kubectl $old: $(kubectl_version "$old")"
fi
if ! command -v docker-compose >/dev/null 2>&1; then
  apt_install docker-compose
fi
say "  $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"
venv=$cache/deploy-venv
have=$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("kubernetes-validate"))' 2>/dev/null || true)
if [ "$have" != "$KUBERNETES_VALIDATE_VERSION" ]; then
  say "  installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (pip) into $venv"
  python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv && python3 -m venv "$venv"; }
  "$venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
say "  kubernetes-validate $KUBERNETES_VALIDATE_VERSION, schemas of Kubernetes $K8S_VERSION"

# --- docker-compose.yml ----------------------------------------------------------------
say "docker-compose.yml"
if out=$(docker-compose -f docker-compose.yml config -q 2>&1); then
  ok "docker-compose.yml: docker-compose config -q"
else
  bad "docker-compose.yml: docker-compose config -q"
  printf '%s\n' "$out" | sed 's/^/    /'
fi

# --- render ----------------------------------------------------------------------------
overlays=()
for dir in deploy/overlays/*/; do
  overlays+=("$(basename "$dir")")
done
[ ${#overlays[@]} -gt 0 ] || { bad "no overlay under deploy/overlays"; exit 1; }
say "render (${overlays[*]})"
renders=()
for name in "${overlays[@]}"; do
  for i in "${!kubectls[@]}"; do
    k=${kubectls[$i]}
    out=$tmp/$name.$i.yaml
    if "$k" kustomize "deploy/overlays/$name" >"$out" 2>"$tmp/stderr"; then
      ok "$name: renders with kubectl $(kubectl_version "$k") ($(grep -c '^kind:' "$out") objects)"
      renders+=("$name=$out")
    else
      bad "$name: kubectl $(kubectl_version "$k") kustomize deploy/overlays/$name"
    fi
    # Newer kustomize warns that bases/patchesStrategicMerge are deprecated: they are
    # kept on purpose (see above). Anything else it says is shown.
    grep -vE "Warning: '(bases|patchesStrategicMerge)' is deprecated" "$tmp/stderr" | sed 's/^/    /' || true
  done
done

# --- objects -------------------------------------------------------------------------
say "objects (schemas of Kubernetes $K8S_VERSION)"
"$venv/bin/python" - "$K8S_VERSION" "$tmp/counts" "${renders[@]}" <<'PY'
import json
import re
import subprocess
import sys
from collections import defaultdict

import kubernetes_validate
import yaml

version, counts_file, *renders = sys.argv[1:]
passed = failed = 0


def ok(message):
    global passed
    passed += 1
    print(f"check-deploy: ok    {message}", flush=True)


def bad(message):
    global failed
    failed += 1
    print(f"check-deploy: FAIL  {message}", flush=True)


# Kinds of CRDs, which kubernetes-validate has no schema for.
CRD_GROUPS = {"keda.sh", "monitoring.coreos.com"}
# The keys of the sage-secrets Secret (deploy/README.md says how to make it).
SECRET_KEYS = [
    "DATABASE_URL", "AMQP_URL", "REDIS_URL", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY",
    "SECRETS_KEY", "AUDIT_KEY", "SIEM_WEBHOOK_URL", "SIEM_WEBHOOK_SECRET",
    "APPROVAL_WEBHOOK_URL", "APPROVAL_WEBHOOK_SECRET",
]
PRIVILEGED_OVERLAY = "privileged-engine"

# Documented settings: `NAME=` lines of .env.example, commented-out ones too.
documented = set(re.findall(r"^[ \t]*#?[ \t]*([A-Z][A-Z0-9_]+)=", open(".env.example").read(), re.M))
readme = open("deploy/README.md").read()


def name_of(doc):
    return f"{doc['kind']}/{doc['metadata']['name']}"


def walk(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield path + (key,), key, value
            yield from walk(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, path + (i,))


def pod_spec(doc):
    spec = doc.get("spec", {})
    if doc["kind"] in ("Deployment", "Job", "DaemonSet", "StatefulSet"):
        return spec.get("template", {}).get("spec")
    return None


def containers(spec):
    return [("initContainers", c) for c in spec.get("initContainers", [])] + [
        ("containers", c) for c in spec.get("containers", [])
    ]


def load(path):
    try:
        return list(d for d in yaml.safe_load_all(open(path)) if d is not None)
    except yaml.YAMLError as e:
        return e


by_overlay = defaultdict(list)
for item in renders:
    overlay, path = item.split("=", 1)
    by_overlay[overlay].append(path)

# Secret keys: documented where a reader looks.
missing = [k for k in SECRET_KEYS if k not in documented] + [
    f"{k} (README)" for k in SECRET_KEYS if k not in readme
]
if missing:
    bad(f"Secret keys missing from .env.example or deploy/README.md: {missing}")
else:
    ok(f"the {len(SECRET_KEYS)} Secret keys are in .env.example and deploy/README.md")

for overlay, paths in sorted(by_overlay.items()):
    docs = load(paths[0])
    if isinstance(docs, Exception):
        bad(f"{overlay}: rendered YAML does not parse: {docs}")
        continue

    # The same objects from every kustomize.
    for other in paths[1:]:
        theirs = load(other)
        canon = lambda ds: sorted(json.dumps(d, sort_keys=True) for d in ds)
        if isinstance(theirs, Exception) or canon(theirs) != canon(docs):
            bad(f"{overlay}: kustomize v2.0.3 (kubectl 1.20) renders other objects than the newer kustomize")
        else:
            ok(f"{overlay}: kustomize v2.0.3 (kubectl 1.20) renders the same {len(docs)} objects")

    # Schemas.
    skipped = []
    for doc in docs:
        if not isinstance(doc, dict) or not all(
            isinstance(doc.get(k), str) and doc.get(k) for k in ("apiVersion", "kind")
        ) or not (doc.get("metadata") or {}).get("name"):
            bad(f"{overlay}: an object lacks apiVersion, kind or metadata.name: {str(doc)[:120]}")
            continue
        if doc["apiVersion"].split("/")[0] in CRD_GROUPS:
            skipped.append(f"{name_of(doc)} ({doc['apiVersion']})")
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
            ok(f"{overlay}: {name_of(doc)} valid")
        except kubernetes_validate.ValidationError as e:
            where = ".".join(str(p) for p in e.absolute_path)
            bad(f"{overlay}: {name_of(doc)} invalid at {where}: {e.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.VersionNotSupportedError) as e:
            bad(f"{overlay}: {name_of(doc)}: {e}")
    for s in skipped:
        print(f"check-deploy: skip  {overlay}: {s}: a CRD, no schema in kubernetes-validate (parsed, has apiVersion, kind, metadata.name)")

    by_kind = defaultdict(dict)
    for doc in docs:
        by_kind[doc["kind"]][doc["metadata"]["name"]] = doc

    # Privileged containers, host paths, the node's socket.
    privileged = [
        f"{name_of(doc)} {'.'.join(str(p) for p in path)}"
        for doc in docs
        for path, key, value in walk(doc)
        if key == "privileged" and value is True
    ]
    if overlay == PRIVILEGED_OVERLAY:
        expected = ["Deployment/sage-worker spec.template.spec.initContainers.0.securityContext.privileged"]
        if privileged == expected:
            ok(f"{overlay}: privileged: true on the engine container only")
        else:
            bad(f"{overlay}: privileged: true expected on the engine only, found {privileged}")
    elif privileged:
        bad(f"{overlay}: privileged: true outside {PRIVILEGED_OVERLAY}: {privileged}")
    else:
        ok(f"{overlay}: no privileged: true")
    host = [
        name_of(doc) for doc in docs for path, key, value in walk(doc)
        if key == "hostPath" or (isinstance(value, str) and "docker.sock" in value)
    ]
    if host:
        bad(f"{overlay}: host paths or the node's Docker socket in {sorted(set(host))}")
    else:
        ok(f"{overlay}: no hostPath volume, no Docker socket")

    # Pod Security: a privileged container needs the namespace to allow it.
    ns = by_kind["Namespace"].get("sage", {})
    enforce = (ns.get("metadata", {}).get("labels") or {}).get("pod-security.kubernetes.io/enforce")
    want = "privileged" if privileged else "baseline"
    if enforce == want:
        ok(f"{overlay}: namespace enforces Pod Security {enforce}")
    else:
        bad(f"{overlay}: namespace enforces {enforce!r}, expected {want!r}")

    worker = by_kind["Deployment"].get("sage-worker")
    api = by_kind["Deployment"].get("sage-api")
    if not worker or not api or "sage-migrate" not in by_kind["Job"]:
        bad(f"{overlay}: Deployments sage-api, sage-worker and Job sage-migrate expected")
        continue
    wspec = pod_spec(worker)
    if overlay == "sysbox":
        if wspec.get("runtimeClassName") == "sysbox-runc":
            ok(f"{overlay}: worker pods run under runtimeClassName sysbox-runc")
        else:
            bad(f"{overlay}: worker pods lack runtimeClassName sysbox-runc")

    # Every container: memory limit; all but the engine hardened.
    failed_before = failed
    for doc in docs:
        spec = pod_spec(doc)
        if not spec:
            continue
        pod_sc = spec.get("securityContext") or {}
        for where, c in containers(spec):
            label = f"{name_of(doc)} container {c['name']}"
            problems = []
            if not (c.get("resources", {}).get("limits") or {}).get("memory"):
                problems.append("no memory limit")
            if c["name"] != "engine":
                sc = c.get("securityContext") or {}
                if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
                    problems.append("may run as root")
                if sc.get("readOnlyRootFilesystem") is not True:
                    problems.append("writable root")
                if sc.get("allowPrivilegeEscalation") is not False:
                    problems.append("privilege escalation allowed")
                if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
                    problems.append("capabilities not dropped")
                seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
                if seccomp != "RuntimeDefault":
                    problems.append("no RuntimeDefault seccomp")
            if problems:
                bad(f"{overlay}: {label}: {', '.join(problems)}")
    if failed == failed_before:
        ok(f"{overlay}: every container has a memory limit; api, worker, migrate run non-root, read-only, without capabilities, under RuntimeDefault seccomp")

    # The engine's start script is valid sh.
    engine = next((c for _, c in containers(wspec) if c["name"] == "engine"), None)
    if engine is None:
        bad(f"{overlay}: the worker has no engine container")
    else:
        if re.search(r"@sha256:[0-9a-f]{64}$", engine.get("image", "")):
            ok(f"{overlay}: the engine's image is pinned by digest")
        else:
            bad(f"{overlay}: the engine's image {engine.get('image')!r} is not pinned by digest")
        script = engine["command"][-1]
        check = subprocess.run(["sh", "-n"], input=script, text=True, capture_output=True)
        if check.returncode == 0 and "fence" in script:
            ok(f"{overlay}: engine start script parses (sh -n) and installs the fence")
        else:
            bad(f"{overlay}: engine start script: {check.stderr.strip() or 'no fence'}")
        # The fence itself, run with an iptables that prints what it would insert:
        # every rule that lets traffic through names one of the resolvers.
        fence = script[: script.index("pull() {")] + "\nfence\n"
        stub = 'iptables() { case "$*" in *" -C "*) return 1;; esac; echo "$*"; }\n'
        run = subprocess.run(["sh", "-c", stub + fence], text=True, capture_output=True)
        resolvers = [line.split()[1] for line in open("/etc/resolv.conf") if line.startswith("nameserver")]
        accepts = [line for line in run.stdout.splitlines() if line.endswith("-j ACCEPT")]
        loose = [line for line in accepts if not any(f"-d {r} " in line for r in resolvers)]
        if run.returncode == 0 and accepts and not loose:
            ok(f"{overlay}: the engine's fence lets DNS through to the pod's resolvers only ({len(accepts)} rules)")
        else:
            bad(f"{overlay}: the engine's fence: {run.stderr.strip() or loose or 'no DNS rule'}")

    # Configuration drift.
    config = by_kind["ConfigMap"].get("sage-config", {}).get("data", {})
    undocumented = sorted(set(config) - documented)
    if undocumented:
        bad(f"{overlay}: ConfigMap names not in .env.example: {undocumented}")
    else:
        ok(f"{overlay}: the {len(config)} ConfigMap names are all in .env.example")
    leaked = sorted(set(config) & set(SECRET_KEYS))
    if leaked:
        bad(f"{overlay}: secrets in the ConfigMap: {leaked}")
    else:
        ok(f"{overlay}: no Secret key in the ConfigMap")
    env_names = {
        e["name"]
        for doc in docs if pod_spec(doc)
        for _, c in containers(pod_spec(doc))
        for e in c.get("env", [])
    }
    if env_names - documented:
        bad(f"{overlay}: container env names not in .env.example: {sorted(env_names - documented)}")
    else:
        ok(f"{overlay}: container env names {sorted(env_names)} are in .env.example")
    for doc in docs:
        for path, key, value in walk(doc):
            if key == "secretRef" and value.get("name") != "sage-secrets":
                bad(f"{overlay}: {name_of(doc)} reads Secret {value.get('name')}, not sage-secrets")
            if key == "secretTargetRef":
                for ref in value:
                    if ref.get("name") != "sage-secrets" or ref.get("key") not in SECRET_KEYS:
                        bad(f"{overlay}: {name_of(doc)} reads {ref} outside the sage-secrets keys")

    scaled = by_kind["ScaledObject"].get("sage-worker", {})
    queues = [t.get("metadata", {}).get("queueName") for t in scaled.get("spec", {}).get("triggers", [])]
    want_queue = f"{config.get('QUEUE_PREFIX', 'sage')}.jobs"
    if queues == [want_queue]:
        ok(f"{overlay}: KEDA scales sage-worker on {want_queue} (QUEUE_PREFIX.jobs)")
    else:
        bad(f"{overlay}: KEDA watches {queues}, the ConfigMap's queue is {want_queue}")

    def port_of(doc, container, port_name):
        for _, c in containers(pod_spec(doc)):
            if c["name"] == container:
                for p in c.get("ports", []):
                    if p.get("name") == port_name:
                        return p["containerPort"]
        return None

    for setting, doc, container, port_name in (
        ("API_BIND", api, "api", "http"),
        ("API_METRICS_BIND", api, "api", "metrics"),
        ("WORKER_METRICS_BIND", worker, "worker", "metrics"),
    ):
        bind = config.get(setting, "")
        port = port_of(doc, container, port_name)
        if bind.startswith("0.0.0.0:") and bind.rsplit(":", 1)[1] == str(port):
            ok(f"{overlay}: {setting}={bind} matches the {container} container's {port_name} port")
        else:
            bad(f"{overlay}: {setting}={bind!r} vs the {container} container's {port_name} port {port}")

    # Each ServiceMonitor selects a Service that has its port.
    for monitor in by_kind["ServiceMonitor"].values():
        wanted = monitor["spec"]["selector"]["matchLabels"]
        ports = {e["port"] for e in monitor["spec"]["endpoints"]}
        services = [
            s for s in by_kind["Service"].values()
            if wanted.items() <= (s["metadata"].get("labels") or {}).items()
            and ports <= {p.get("name") for p in s["spec"]["ports"]}
        ]
        if services:
            ok(f"{overlay}: {name_of(monitor)} scrapes Service/{services[0]['metadata']['name']} port {sorted(ports)}")
        else:
            bad(f"{overlay}: {name_of(monitor)} selects no Service with port {sorted(ports)}")

open(counts_file, "w").write(f"{passed} {failed}\n")
PY
read -r py_passed py_failed <"$tmp/counts"
passed=$((passed + py_passed))
failed=$((failed + py_failed))

# --- compose images ------------------------------------------------------------------
# The images dev/images.sh builds, one per process, and no build of their own: the
# Dockerfile's targets take binaries compiled on the host.
for pair in api=sage-api:latest worker=sage-worker:latest; do
  service=${pair%%=*}
  image=${pair#*=}
  got=$("$venv/bin/python" -c '
import sys, yaml
services = (yaml.safe_load(open("docker-compose.yml")) or {}).get("services") or {}
print((services.get(sys.argv[1]) or {}).get("image", ""))' "$service" 2>/dev/null || true)
  if [ "$got" = "$image" ]; then
    ok "docker-compose.yml: service $service runs image $image"
  else
    bad "docker-compose.yml: service $service has image '$got', expected $image"
  fi
done

echo "check-deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
