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
#   - no drift: every name in each copy of the sage-config ConfigMap and every variable
#     a container sets is in .env.example; the copies hold the same settings; no secret
#     sits in the ConfigMap; the Secret's keys are in .env.example and
#     deploy/README.md; the KEDA queue is <QUEUE_PREFIX>.jobs; the bind addresses match
#     the container ports;
#   - `privileged: true` appears only in the privileged-engine overlay (and there only
#     on the engine); nothing mounts a host path or the node's Docker socket;
#   - namespaces: api and worker are in namespaces of their own; the api's enforces Pod
#     Security baseline in every overlay, the worker's baseline, or privileged in the
#     privileged-engine overlay, and holds nothing but the worker; every object is in
#     a namespace rendered here; what an object names (ConfigMap, Secret,
#     ServiceAccount, KEDA's TriggerAuthentication, a scale target) is in its own
#     namespace, rendered or made by hand there as deploy/README.md says (`kubectl -n
#     <namespace> create ...`); Services, PodDisruptionBudgets, NetworkPolicies and
#     ServiceMonitors select something in their own namespace; each namespace denies
#     all traffic but DNS, then allows by rule; the objects Argo CD must create first
#     are in wave -2.
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
    "APPROVAL_WEBHOOK_URL", "APPROVAL_WEBHOOK_SECRET", "EVIDENCE_SIGNING_KEY",
]
PRIVILEGED_OVERLAY = "privileged-engine"

# Documented settings: `NAME=` lines of .env.example, commented-out ones too.
documented = set(re.findall(r"^[ \t]*#?[ \t]*([A-Z][A-Z0-9_]+)=", open(".env.example").read(), re.M))
readme = open("deploy/README.md").read()
# What deploy/README.md has the deployer make by hand, and in which namespace:
# (namespace, kind, name) of each `kubectl -n <namespace> create secret|configmap`.
HAND_MADE = {
    (ns, "ConfigMap" if what == "configmap" else "Secret", name)
    for ns, what, name in re.findall(
        r"kubectl -n (\S+) create (configmap|secret (?:generic|docker-registry|tls)) ([a-z0-9.-]+)", readme
    )
}
# The objects Argo CD must create before the migration job (wave -1) and the
# workloads (wave 0), as deploy/README.md says.
EARLY_KINDS = ("Namespace", "ConfigMap", "ServiceAccount", "NetworkPolicy")


def ns_of(doc):
    return (doc.get("metadata") or {}).get("namespace")


def name_of(doc):
    ns = ns_of(doc)
    return f"{doc['kind']}/{doc['metadata']['name']}" + (f" in {ns}" if ns else "")


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


def selects(selector, labels):
    """Whether a LabelSelector (matchLabels, matchExpressions) selects these labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, values = e["key"], e.get("values", [])
        matched = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[e["operator"]]
        if not matched:
            return False
    return True


def references(doc):
    """(kind, name, where) of the objects doc names, each to be found in doc's namespace."""
    refs = []
    spec = pod_spec(doc)
    if spec:
        if spec.get("serviceAccountName"):
            refs.append(("ServiceAccount", spec["serviceAccountName"], "serviceAccountName"))
        refs += [("Secret", s["name"], "imagePullSecrets") for s in spec.get("imagePullSecrets", [])]
        for _, c in containers(spec):
            for e in c.get("envFrom", []):
                if "configMapRef" in e:
                    refs.append(("ConfigMap", e["configMapRef"]["name"], f"{c['name']} envFrom"))
                if "secretRef" in e:
                    refs.append(("Secret", e["secretRef"]["name"], f"{c['name']} envFrom"))
            for e in c.get("env", []):
                source = e.get("valueFrom") or {}
                if "configMapKeyRef" in source:
                    refs.append(("ConfigMap", source["configMapKeyRef"]["name"], f"{c['name']} env {e['name']}"))
                if "secretKeyRef" in source:
                    refs.append(("Secret", source["secretKeyRef"]["name"], f"{c['name']} env {e['name']}"))
        for v in spec.get("volumes", []):
            if "configMap" in v:
                refs.append(("ConfigMap", v["configMap"]["name"], f"volume {v['name']}"))
            if "secret" in v:
                refs.append(("Secret", v["secret"]["secretName"], f"volume {v['name']}"))
            for source in (v.get("projected") or {}).get("sources", []):
                if "configMap" in source:
                    refs.append(("ConfigMap", source["configMap"]["name"], f"volume {v['name']}"))
                if "secret" in source:
                    refs.append(("Secret", source["secret"]["name"], f"volume {v['name']}"))
    kind, spec = doc["kind"], doc.get("spec") or {}
    if kind == "TriggerAuthentication":
        refs += [("Secret", r["name"], "secretTargetRef") for r in spec.get("secretTargetRef", [])]
    if kind in ("ScaledObject", "HorizontalPodAutoscaler"):
        target = spec["scaleTargetRef"]
        refs.append((target.get("kind", "Deployment"), target["name"], "scaleTargetRef"))
    if kind == "ScaledObject":
        for t in spec.get("triggers", []):
            auth = t.get("authenticationRef")
            # A ClusterTriggerAuthentication has no namespace: not checked here.
            if auth and auth.get("kind", "TriggerAuthentication") == "TriggerAuthentication":
                refs.append(("TriggerAuthentication", auth["name"], "authenticationRef"))
    return refs


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

    by_kind = defaultdict(list)
    for doc in docs:
        by_kind[doc["kind"]].append(doc)

    def find(kind, name, ns=None):
        """The one object of this kind and name (in ns, when given), or None."""
        found = [d for d in by_kind[kind] if d["metadata"]["name"] == name and (ns is None or ns_of(d) == ns)]
        return found[0] if len(found) == 1 else None

    # Privileged containers, host paths, the node's socket.
    privileged = [
        (doc, ".".join(str(p) for p in path))
        for doc in docs
        for path, key, value in walk(doc)
        if key == "privileged" and value is True
    ]
    shown = [f"{name_of(doc)} {path}" for doc, path in privileged]
    if overlay == PRIVILEGED_OVERLAY:
        expected = [("Deployment", "sage-worker", "spec.template.spec.initContainers.0.securityContext.privileged")]
        if [(d["kind"], d["metadata"]["name"], path) for d, path in privileged] == expected:
            ok(f"{overlay}: privileged: true on the engine container only")
        else:
            bad(f"{overlay}: privileged: true expected on the engine only, found {shown}")
    elif privileged:
        bad(f"{overlay}: privileged: true outside {PRIVILEGED_OVERLAY}: {shown}")
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

    worker = find("Deployment", "sage-worker")
    api = find("Deployment", "sage-api")
    migrate = find("Job", "sage-migrate")
    if not worker or not api or not migrate:
        bad(f"{overlay}: one each of Deployments sage-api, sage-worker and Job sage-migrate expected")
        continue
    api_ns, worker_ns, migrate_ns = ns_of(api), ns_of(worker), ns_of(migrate)

    # Namespaces: every object in one rendered here.
    namespaces = {d["metadata"]["name"]: d for d in by_kind["Namespace"]}
    outside = [name_of(d) for d in docs if d["kind"] != "Namespace" and ns_of(d) not in namespaces]
    if outside:
        bad(f"{overlay}: objects in no namespace rendered here ({sorted(namespaces)}): {outside}")
    else:
        ok(f"{overlay}: every object is in a namespace rendered here ({', '.join(sorted(namespaces))})")

    def enforce_of(ns):
        labels = ((namespaces.get(ns) or {}).get("metadata") or {}).get("labels") or {}
        return labels.get("pod-security.kubernetes.io/enforce")

    # Pod Security is per namespace: the api's never lowered with the engine's.
    if api_ns != worker_ns:
        ok(f"{overlay}: api ({api_ns}) and worker ({worker_ns}) in namespaces of their own")
    else:
        bad(f"{overlay}: api and worker share the namespace {api_ns}: lowering Pod Security for the engine lowers it for the api")
    for what, ns in (("api", api_ns), ("migration job", migrate_ns)):
        if enforce_of(ns) == "baseline":
            ok(f"{overlay}: the {what}'s namespace {ns} enforces Pod Security baseline")
        else:
            bad(f"{overlay}: the {what}'s namespace {ns} enforces {enforce_of(ns)!r}, expected 'baseline'")
    want = "privileged" if overlay == PRIVILEGED_OVERLAY else "baseline"
    if enforce_of(worker_ns) == want:
        ok(f"{overlay}: the worker's namespace {worker_ns} enforces Pod Security {want}")
    else:
        bad(f"{overlay}: the worker's namespace {worker_ns} enforces {enforce_of(worker_ns)!r}, expected {want!r}")
    # A privileged container needs its namespace to allow it; no other is lowered.
    for ns in sorted(namespaces):
        want = "privileged" if any(ns_of(d) == ns for d, _ in privileged) else "baseline"
        if enforce_of(ns) != want:
            bad(f"{overlay}: namespace {ns} enforces {enforce_of(ns)!r}, expected {want!r}")
    pods_by_ns = defaultdict(list)
    for doc in docs:
        if pod_spec(doc):
            pods_by_ns[ns_of(doc)].append(doc)
    others = [name_of(d) for d in pods_by_ns[worker_ns] if d is not worker]
    if others:
        bad(f"{overlay}: the worker's namespace {worker_ns} (Pod Security {enforce_of(worker_ns)}) also runs {others}")
    else:
        ok(f"{overlay}: the worker's namespace {worker_ns} runs the worker alone")

    # What an object names is in its namespace: rendered, or made by hand there.
    failed_before = failed
    count = 0
    for doc in docs:
        for kind, name, where in references(doc):
            count += 1
            ns = ns_of(doc)
            if find(kind, name, ns) is None and (ns, kind, name) not in HAND_MADE:
                bad(f"{overlay}: {name_of(doc)} ({where}) names {kind}/{name}, neither rendered in {ns} nor made there by deploy/README.md")
    if failed == failed_before:
        made = sorted(f"{k}/{n} in {ns}" for ns, k, n in HAND_MADE)
        ok(f"{overlay}: the {count} references by name resolve in their own namespace, to rendered objects or to those made by hand ({', '.join(made)})")

    # Selectors find something in their own namespace; no value of an `In` selects nothing.
    failed_before = failed
    for doc in docs:
        ns, spec = ns_of(doc), doc.get("spec") or {}
        if doc["kind"] == "Service" and spec.get("selector"):
            selector = {"matchLabels": spec["selector"]}
        elif doc["kind"] == "PodDisruptionBudget":
            selector = spec.get("selector") or {}
        elif doc["kind"] == "NetworkPolicy" and spec.get("podSelector"):
            selector = spec["podSelector"]
        else:
            continue
        pods = [(pod_spec(p) and p["spec"]["template"]["metadata"].get("labels")) or {} for p in pods_by_ns[ns]]
        if not any(selects(selector, labels) for labels in pods):
            bad(f"{overlay}: {name_of(doc)} selects no pod in {ns}")
        for e in selector.get("matchExpressions") or []:
            if e["operator"] == "In":
                idle = [v for v in e["values"] if not any(labels.get(e["key"]) == v for labels in pods)]
                if idle:
                    bad(f"{overlay}: {name_of(doc)} selects {e['key']} in {idle}, which no pod in {ns} has")
    if failed == failed_before:
        ok(f"{overlay}: Services, PodDisruptionBudgets and NetworkPolicies select pods of their own namespace")

    # NetworkPolicies: each namespace with pods denies everything, then allows DNS.
    for ns in sorted(pods_by_ns):
        policies = [d["spec"] for d in by_kind["NetworkPolicy"] if ns_of(d) == ns]
        deny = any(
            p.get("podSelector") == {} and sorted(p.get("policyTypes", [])) == ["Egress", "Ingress"]
            and not p.get("ingress") and not p.get("egress")
            for p in policies
        )
        dns = any(
            p.get("podSelector") == {}
            and {53} <= {port.get("port") for rule in p.get("egress", []) for port in rule.get("ports", [])}
            for p in policies
        )
        if deny and dns:
            ok(f"{overlay}: namespace {ns} denies all traffic to and from its pods but DNS, then allows by rule")
        else:
            bad(f"{overlay}: namespace {ns}: default-deny {'found' if deny else 'missing'}, DNS egress {'found' if dns else 'missing'}")

    # Argo CD waves.
    late = [
        name_of(d) for d in docs if d["kind"] in EARLY_KINDS
        and (d["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-wave") != "-2"
    ]
    if late:
        bad(f"{overlay}: not in Argo CD's wave -2: {late}")
    else:
        ok(f"{overlay}: namespaces, ConfigMaps, ServiceAccounts and NetworkPolicies are in Argo CD's wave -2")

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

    # Configuration drift, in each copy of sage-config (a pod reads its own namespace's).
    configs = {
        ns_of(d): d.get("data") or {} for d in by_kind["ConfigMap"] if d["metadata"]["name"] == "sage-config"
    }
    copies = list(configs.values())
    if copies and all(c == copies[0] for c in copies):
        ok(f"{overlay}: the sage-config copies in {', '.join(sorted(configs))} hold the same {len(copies[0])} settings")
    else:
        differ = sorted({k for c in copies for k in c if any(o.get(k) != c[k] for o in copies)})
        bad(f"{overlay}: the sage-config copies in {sorted(configs)} differ: {differ or 'none rendered'}")
    for ns, config in sorted(configs.items()):
        undocumented = sorted(set(config) - documented)
        if undocumented:
            bad(f"{overlay}: sage-config in {ns}: names not in .env.example: {undocumented}")
        else:
            ok(f"{overlay}: sage-config in {ns}: the {len(config)} names are all in .env.example")
        leaked = sorted(set(config) & set(SECRET_KEYS))
        if leaked:
            bad(f"{overlay}: sage-config in {ns}: secrets in the ConfigMap: {leaked}")
        else:
            ok(f"{overlay}: sage-config in {ns}: no Secret key in the ConfigMap")
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

    scaled = find("ScaledObject", "sage-worker") or {}
    config = configs.get(ns_of(scaled), {}) if scaled else {}
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
        # The copy of the pod's own namespace.
        bind = configs.get(ns_of(doc), {}).get(setting, "")
        port = port_of(doc, container, port_name)
        if bind.startswith("0.0.0.0:") and bind.rsplit(":", 1)[1] == str(port):
            ok(f"{overlay}: {setting}={bind} matches the {container} container's {port_name} port")
        else:
            bad(f"{overlay}: {setting}={bind!r} vs the {container} container's {port_name} port {port}")

    # Each ServiceMonitor selects a Service of its own namespace that has its port.
    for monitor in by_kind["ServiceMonitor"]:
        wanted = monitor["spec"]["selector"]["matchLabels"]
        ports = {e["port"] for e in monitor["spec"]["endpoints"]}
        services = [
            s for s in by_kind["Service"]
            if ns_of(s) == ns_of(monitor)
            and wanted.items() <= (s["metadata"].get("labels") or {}).items()
            and ports <= {p.get("name") for p in s["spec"]["ports"]}
        ]
        if services and not monitor["spec"].get("namespaceSelector"):
            ok(f"{overlay}: {name_of(monitor)} scrapes {name_of(services[0])} port {sorted(ports)}")
        else:
            bad(f"{overlay}: {name_of(monitor)} selects no Service of {ns_of(monitor)} with port {sorted(ports)}")

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
