#!/usr/bin/env bash
# Builds the scanner image once and reuses it while its inputs are unchanged: this
# folder, the runner image it starts from, and the Steampipe/Powerpipe release URLs.
#
# Python packages come from requirements/*.txt (every file pinned by sha256), fetched
# here with the host's pip (the build itself has no network) into a cached build
# context; sdists among them are turned into wheels here. The image's labels say which
# tools it holds and their versions, which the worker reports to the api.
#
# STEAMPIPE_RELEASE_URL and POWERPIPE_RELEASE_URL (linux amd64 tarballs) add Steampipe
# and Powerpipe where their release downloads are reachable. The tool stays reported
# unavailable, with the reason, until the image also holds the AWS plugin and the
# aws_compliance mod, which this offline build cannot install.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${SCANNER_IMAGE:-sage-scanner:latest}
runner=${RUNNER_IMAGE:-sage-runner:latest}
context=${SCANNER_BUILD_CONTEXT:-/var/cache/sage-runner/scanner-context}
tools=(custodian scout prowler)

say() { echo "scanner-image: $*"; }
die() { echo "scanner-image: ERROR: $*" >&2; exit 1; }

# One build at a time: `just up` builds in the background while `just test` may start.
mkdir -p "$context"
exec 9>"$context/.lock"
flock 9

docker image inspect "$runner" >/dev/null 2>&1 || die "the runner image $runner is missing (run runner-image/build.sh first)"
runner_id=$(docker image inspect --format '{{.Id}}' "$runner")
digest=$( (cd "$here" && cat Dockerfile build.sh requirements/*.txt; echo "$runner_id";
           echo "${STEAMPIPE_RELEASE_URL:-}"; echo "${POWERPIPE_RELEASE_URL:-}") | sha256sum | cut -c1-12)
if docker image inspect "sage-scanner:$digest" >/dev/null 2>&1; then
  docker tag "sage-scanner:$digest" "$image"
  say "up to date (sage-scanner:$digest)"
  exit 0
fi

mkdir -p "$context/pip" "$context/bin"
cp "$here/Dockerfile" "$context/Dockerfile"
# The sdists stay in the cache beside the wheels built from them; the image takes wheels.
printf '%s\n' '**/*.tar.gz' '**/*.zip' '**/.built' '.lock' >"$context/.dockerignore"
pin_of() { sed -n "s/^$1==\([^ ]*\) .*/\1/p" "$here/requirements/$2.txt"; }

fetch() {
  local tool=$1 dir="$context/wheels/$1"
  mkdir -p "$dir"
  say "fetching $tool's packages (checked against requirements/$tool.txt)"
  python3 -m pip download -q --no-deps --require-hashes -r "$here/requirements/$tool.txt" -d "$dir" \
    || die "pip download of $tool failed"
  # The image installs offline without build tools: sdists become wheels here, once.
  local sdist built="$dir/.built"
  mkdir -p "$built"
  for sdist in "$dir"/*.tar.gz "$dir"/*.zip; do
    [[ -e "$sdist" ]] || continue
    [[ -e "$built/$(basename "$sdist")" ]] && continue
    python3 -m pip wheel -q --no-deps -w "$dir" "$sdist" >/dev/null || die "cannot build a wheel of $(basename "$sdist")"
    touch "$built/$(basename "$sdist")"
  done
  sed -n 's/^\([^ #][^ ]*\) .*/\1/p' "$here/requirements/$tool.txt" >"$dir/pins.txt"
}
# The three fetches wait on the network more than on the CPU: side by side.
pids=()
for tool in "${tools[@]}"; do fetch "$tool" & pids+=($!); done
for pid in "${pids[@]}"; do wait "$pid" || die "fetching the packages failed"; done
python3 -m pip download -q --no-deps --require-hashes -r "$here/requirements/pip.txt" -d "$context/pip" \
  || die "pip download of pip failed"
rm -rf "$context/pip/pip.whl"
mv "$context"/pip/pip-*.whl "$context/pip/pip.whl"

labels=(--label "sage.tool.custodian.version=$(pin_of c7n custodian)"
        --label "sage.tool.scout.version=$(pin_of scoutsuite scout)"
        --label "sage.tool.prowler.version=$(pin_of prowler prowler)")
# The frameworks, services and checks Prowler holds for each cloud the drivers scan,
# read from its wheel: a run may name only these (the api checks at submission, the
# driver again inside the sandbox).
prowler_names=$(python3 - "$context/wheels/prowler" <<'PY'
import glob, json, sys, zipfile
(wheel,) = glob.glob(f"{sys.argv[1]}/prowler-*.whl")
names = {provider: {"compliance": set(), "services": set(), "checks": set()}
         for provider in ("aws", "azure", "gcp", "kubernetes")}
for path in zipfile.ZipFile(wheel).namelist():
    parts = path.split("/")
    if parts[0] != "prowler" or len(parts) < 4 or parts[2] not in names:
        continue
    entry = names[parts[2]]
    if len(parts) == 4 and parts[1] == "compliance" and parts[3].endswith(".json"):
        entry["compliance"].add(parts[3][:-len(".json")])
    elif len(parts) == 7 and parts[1:4:2] == ["providers", "services"] and parts[6] == f"{parts[5]}.metadata.json":
        entry["services"].add(parts[4])
        entry["checks"].add(parts[5])
print(json.dumps({p: {k: sorted(v) for k, v in e.items()} for p, e in names.items()}, separators=(",", ":")))
PY
) || die "cannot list the names Prowler's wheel holds"
labels+=(--label "sage.tool.prowler.names=$prowler_names")
# The CIS and KISA ISMS-P frameworks Prowler holds for those clouds, each requirement
# with the checks that assess it: the findings' controls and the evidence's requirements
# come from here. Too large for a label (one argument holds at most 128 KiB), so the
# image holds the file and its labels say where and its digest.
python3 - "$context/wheels/prowler" "$(pin_of prowler prowler)" >"$context/controls.json" <<'PY' \
  || die "cannot read the compliance frameworks Prowler's wheel holds"
import glob, json, re, sys, zipfile
(wheel,) = glob.glob(f"{sys.argv[1]}/prowler-*.whl")
version = sys.argv[2]
frameworks = {}
archive = zipfile.ZipFile(wheel)
for path in sorted(archive.namelist()):
    match = re.fullmatch(r"prowler/compliance/(aws|azure|gcp|kubernetes)/((cis|kisa_isms_p)_[^/]*)\.json", path)
    if not match:
        continue
    provider, name = match[1], match[2]
    data = json.loads(archive.read(path))
    requirements = []
    for requirement in data["Requirements"]:
        attributes = (requirement.get("Attributes") or [{}])[0]
        checks = requirement.get("Checks") or []
        status = attributes.get("AssessmentStatus") or ("Automated" if checks else "Manual")
        # CIS names a requirement by its description; ISMS-P has a name and a text.
        named = bool(requirement.get("Name"))
        requirements.append({
            "id": requirement["Id"],
            "title": requirement["Name"] if named else requirement["Description"],
            "description": requirement["Description"] if named else "",
            "domain": attributes.get("Domain") or "",
            "section": attributes.get("Subdomain") or attributes.get("Section") or "",
            "automated": status.lower() == "automated",
            "checks": checks,
        })
    frameworks[name] = {
        "framework": data["Framework"], "title": data["Name"], "version": data["Version"],
        "provider": provider, "source": f"prowler {version}, {path}",
        "requirements": requirements,
    }
json.dump({"tool": "prowler", "version": version, "frameworks": frameworks},
          sys.stdout, ensure_ascii=False, separators=(",", ":"))
PY
labels+=(--label "sage.tool.prowler.controls=/opt/tools/prowler/controls.json"
         --label "sage.tool.prowler.controls.sha256=$(sha256sum "$context/controls.json" | cut -c1-64)")
rm -f "$context"/bin/*
if [[ -n "${STEAMPIPE_RELEASE_URL:-}" && -n "${POWERPIPE_RELEASE_URL:-}" ]]; then
  say "fetching Steampipe and Powerpipe"
  for url in "$STEAMPIPE_RELEASE_URL" "$POWERPIPE_RELEASE_URL"; do
    curl -fsSL "$url" | tar -xz -C "$context/bin" || die "cannot fetch $url"
  done
  # The binaries alone cannot run a benchmark: the AWS plugin and the aws_compliance
  # mod install only with network, which this build does not have. Until an image
  # holds them (under /opt/tools/steampipe/install and /opt/tools/steampipe/mod), the
  # tool says so instead of failing every run.
  labels+=(--label "sage.tool.steampipe.unavailable=Steampipe $("$context/bin/steampipe" --version | head -n1) and Powerpipe are in this image, but not the AWS plugin and the aws_compliance mod, which install only with network")
else
  labels+=(--label "sage.tool.steampipe.unavailable=Steampipe and Powerpipe are not in this image: their release downloads were out of reach when it was built (STEAMPIPE_RELEASE_URL and POWERPIPE_RELEASE_URL unset)")
fi

say "building sage-scanner:$digest from $runner (the tools install offline; minutes once)"
started=$(date +%s)
docker build -q --build-arg "RUNNER=$runner" "${labels[@]}" \
  -t "sage-scanner:$digest" "$context" >/tmp/sage-scanner-build.log 2>&1 || die "docker build failed, see /tmp/sage-scanner-build.log"
docker tag "sage-scanner:$digest" "$image"
say "ready: $image ($(( $(date +%s) - started )) s)"
