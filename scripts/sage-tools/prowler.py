"""Sage Runner's driver of Prowler: turns the tool module's arguments into Prowler's
command line and writes its outputs (OCSF JSON, CSV, compliance CSVs) to /work/out.
The run's credentials are already in the environment: an assumed AWS role's keys, an
Azure service principal (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET), a GCP
service account's key file (GOOGLE_APPLICATION_CREDENTIALS) or a kubeconfig
(KUBECONFIG). The worker checked the key file and the kubeconfig as data and wrote
them as JSON from the checked fields; they are checked again here, as are the names of
checks, services and frameworks, against what this image's Prowler holds."""
import argparse
import glob
import json
import os
import subprocess
import sys
import threading

PROWLER = "/opt/tools/prowler/bin/prowler"
PACKAGE = "/opt/tools/prowler/lib/python3*/site-packages/prowler"
OUT = "/work/out"
PROG = "prowler"

# Each driver is staged into its sandbox alone (a module runs one script file), so the
# few helpers below are repeated in each rather than imported.


class Refused(Exception):
    """Why the run cannot start, for its log."""


def split(text):
    items = [item for item in (text or "").split(",") if item]
    # Each item becomes an argv element of its own: one starting with '-' would be read
    # as an option of the tool, not as a value.
    if any(item.startswith("-") for item in items):
        raise Refused(f"a list item may not start with '-': {text}")
    return items


def need(env, *names):
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise Refused(f"no credentials for this cloud: give {', '.join(missing)}")


def load_json(path, what):
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError):
        raise Refused(f"the {what} is not the checked copy the worker writes") from None


def only(mapping, allowed, at):
    """Refuses a mapping with a key outside `allowed`."""
    if not isinstance(mapping, dict):
        raise Refused(f"{at} must be a mapping")
    foreign = sorted(set(mapping) - set(allowed))
    if foreign:
        raise Refused(f"{at}.{foreign[0]} is not accepted")


def check_kubeconfig(path):
    """One cluster over https, one user with a token or a client certificate, one
    context: a kubeconfig's exec and auth-provider entries run programs."""
    config = load_json(path, "kubeconfig")
    only(config, {"apiVersion", "kind", "clusters", "users", "contexts", "current-context"}, "kubeconfig")
    for key, inner, allowed in (("clusters", "cluster", {"server", "certificate-authority-data", "tls-server-name"}),
                                ("users", "user", {"token", "client-certificate-data", "client-key-data"}),
                                ("contexts", "context", {"cluster", "user", "namespace"})):
        entries = config.get(key)
        if not isinstance(entries, list) or len(entries) != 1:
            raise Refused(f"the kubeconfig must hold exactly one entry in {key}")
        only(entries[0], {"name", inner}, f"{key}[0]")
        only(entries[0].get(inner), allowed, f"{key}[0].{inner}")
    if not str(config["clusters"][0]["cluster"].get("server", "")).startswith("https://"):
        raise Refused("the kubeconfig's server must be an https URL")


GCP_KEY_FIELDS = {"type", "project_id", "private_key_id", "private_key", "client_email", "client_id", "token_uri"}


def check_gcp_key(path):
    """A service account key only: other credential types read files and call URLs."""
    key = load_json(path, "GCP key file")
    only(key, GCP_KEY_FIELDS, "the GCP key")
    if key.get("type") != "service_account" or key.get("token_uri") != "https://oauth2.googleapis.com/token":
        raise Refused("the GCP credential must be a service account key with Google's token endpoint")


def installed(provider):
    """The frameworks, services and checks this image's Prowler holds for `provider`."""
    roots = glob.glob(PACKAGE)
    if not roots:
        raise Refused("Prowler's package is not where the scanner image puts it")
    root = roots[0]
    frameworks = {os.path.basename(path)[:-len(".json")]
                  for path in glob.glob(f"{root}/compliance/{provider}/*.json")}
    metadata = glob.glob(f"{root}/providers/{provider}/services/*/*/*.metadata.json")
    checks = {os.path.basename(path)[:-len(".metadata.json")] for path in metadata}
    services = {path.split(os.sep)[-3] for path in metadata}
    return {"compliance": frameworks, "services": services, "checks": checks}


def check_names(args, catalog):
    """Every framework, service and check named is one the image's Prowler holds: a name
    is not a path, nor anything else Prowler could be led to read."""
    for option in ("compliance", "services", "checks"):
        unknown = [name for name in split(getattr(args, option)) if name not in catalog[option]]
        if unknown:
            raise Refused(f"{option}: {', '.join(sorted(unknown)[:5])} not in this image's Prowler "
                          f"for {args.provider}")


def check_inputs(args, env, catalog):
    """The run's inputs, checked again inside the sandbox before Prowler reads them."""
    check_names(args, catalog)
    if args.provider == "kubernetes":
        check_kubeconfig(env["KUBECONFIG"])
    elif args.provider == "gcp":
        check_gcp_key(env["GOOGLE_APPLICATION_CREDENTIALS"])


def parse(argv):
    parser = argparse.ArgumentParser(prog="prowler-driver")
    parser.add_argument("--provider", required=True)
    for option in ("--region", "--services", "--checks", "--severities", "--compliance",
                   "--subscriptions", "--projects"):
        parser.add_argument(option)
    return parser.parse_args(argv)


def command(args, env):
    """Prowler's argv for these arguments and this environment; Refused if it cannot run."""
    if args.compliance and (args.services or args.checks):
        raise Refused("a compliance run takes every check of its framework: leave services and checks out")
    argv = [PROWLER, args.provider]
    if args.provider == "aws":
        if "AWS_ACCESS_KEY_ID" not in env:
            raise Refused("no AWS credentials: give iam_role_arn, the role the worker assumes for this run")
        if split(args.region):
            argv += ["--region", *split(args.region)]
    elif args.provider == "azure":
        need(env, "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
        argv += ["--sp-env-auth"]
        if split(args.subscriptions):
            argv += ["--subscription-id", *split(args.subscriptions)]
    elif args.provider == "gcp":
        need(env, "GOOGLE_APPLICATION_CREDENTIALS")
        argv += ["--credentials-file", env["GOOGLE_APPLICATION_CREDENTIALS"]]
        if split(args.projects):
            argv += ["--project-id", *split(args.projects)]
    elif args.provider == "kubernetes":
        need(env, "KUBECONFIG")
        argv += ["--kubeconfig-file", env["KUBECONFIG"]]
    else:
        raise Refused(f"provider {args.provider} is not one Prowler scans here")
    argv += ["--no-banner", "--no-color", "--output-formats", "json-ocsf", "csv",
             "--output-directory", OUT, "--output-filename", "prowler"]
    for flag, values in (("--service", split(args.services)), ("--check", split(args.checks)),
                         ("--severity", split(args.severities)),
                         ("--compliance", split(args.compliance))):
        if values:
            argv += [flag, *values]
    return argv


# EX_TEMPFAIL: the tool failed after the cloud's API throttled it. A scan runs the
# account again after a pause; the words below are those the clouds' SDKs print.
THROTTLED = 75
THROTTLE_WORDS = ("Throttling", "RequestLimitExceeded", "TooManyRequests", "Rate exceeded",
                  "SlowDown", "RequestThrottled")


def run_watching_throttles(argv):
    """Runs the tool with its output passed on line by line (stdout to stdout, stderr to
    stderr); when it fails after a throttling error, says so and returns THROTTLED."""
    seen = []
    tool = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, errors="replace", bufsize=1)

    def forward(source, sink):
        for line in source:
            sink.write(line)
            sink.flush()
            if not seen and any(word in line for word in THROTTLE_WORDS):
                seen.append(line.strip()[:200])

    streams = [threading.Thread(target=forward, args=(tool.stdout, sys.stdout)),
               threading.Thread(target=forward, args=(tool.stderr, sys.stderr))]
    for stream in streams:
        stream.start()
    code = tool.wait()
    for stream in streams:
        stream.join()
    if code != 0 and seen:
        print(f"sage-tools: the cloud's API throttled the tool ({seen[0]}); exiting {THROTTLED} "
              "so that a scan runs this account again later", file=sys.stderr, flush=True)
        return THROTTLED
    return code


def main():
    args = parse(sys.argv[1:])
    if args.provider == "aws":
        # The SDK needs a region even for global services and the caller's identity.
        os.environ.setdefault("AWS_DEFAULT_REGION", (split(args.region) or ["us-east-1"])[0])
    try:
        argv = command(args, os.environ)
        check_inputs(args, os.environ, installed(args.provider))
    except Refused as why:
        sys.exit(f"{PROG}: {why}")
    print(f"prowler: scanning {args.provider} {args.region or args.subscriptions or args.projects or ''}".rstrip(),
          flush=True)
    code = run_watching_throttles(argv)
    # Prowler exits 3 when a check failed: the scan itself succeeded.
    if code == 3:
        print("prowler: scan complete; some checks failed (see the findings)", flush=True)
        return 0
    if code == 0:
        print("prowler: scan complete; every check passed", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
