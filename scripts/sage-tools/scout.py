"""Sage Runner's driver of Scout Suite: turns the tool module's arguments into Scout's
command line and writes its results (JSON results, HTML report) to /work/out. The run's
credentials are already in the environment: an assumed AWS role's keys, an Azure
service principal (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET) or a GCP
service account's key file (GOOGLE_APPLICATION_CREDENTIALS), which the worker checked as
data and wrote as JSON from the checked fields; it is checked again here."""
import argparse
import json
import os
import subprocess
import sys
import threading

SCOUT = "/opt/tools/scout/bin/scout"
OUT = "/work/out"
# Scout reads a service principal from a file: the secret stays off its command line.
# In /work, not /work/out: it is no artifact.
AZURE_AUTH = "/work/azure-auth.json"
PROG = "scout"

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


GCP_KEY_FIELDS = {"type", "project_id", "private_key_id", "private_key", "client_email", "client_id", "token_uri"}


def check_gcp_key(path):
    """A service account key only: other credential types read files and call URLs."""
    try:
        with open(path, encoding="utf-8") as file:
            key = json.load(file)
    except (OSError, ValueError):
        raise Refused("the GCP key file is not the checked copy the worker writes") from None
    if not isinstance(key, dict) or set(key) - GCP_KEY_FIELDS or key.get("type") != "service_account" \
            or key.get("token_uri") != "https://oauth2.googleapis.com/token":
        raise Refused("the GCP credential must be a service account key with Google's token endpoint")


def parse(argv):
    parser = argparse.ArgumentParser(prog="scout-driver")
    parser.add_argument("--provider", required=True)
    for option in ("--region", "--services", "--subscriptions", "--projects"):
        parser.add_argument(option)
    return parser.parse_args(argv)


def command(args, env):
    """Scout's argv for these arguments and this environment; Refused if it cannot run."""
    argv = [SCOUT, args.provider]
    if args.provider == "aws":
        if "AWS_ACCESS_KEY_ID" not in env:
            raise Refused("no AWS credentials: give iam_role_arn, the role the worker assumes for this run")
        if split(args.region):
            argv += ["--regions", *split(args.region)]
    elif args.provider == "azure":
        need(env, "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
        argv += ["--file-auth", AZURE_AUTH]
        subscriptions = split(args.subscriptions)
        argv += ["--subscriptions", *subscriptions] if subscriptions else ["--all-subscriptions"]
    elif args.provider == "gcp":
        need(env, "GOOGLE_APPLICATION_CREDENTIALS")
        argv += ["--service-account", env["GOOGLE_APPLICATION_CREDENTIALS"]]
        projects = split(args.projects)
        if len(projects) > 1:
            raise Refused("Scout Suite scans one GCP project, or every one: name one or none")
        argv += ["--project-id", projects[0]] if projects else ["--all-projects"]
    else:
        raise Refused(f"provider {args.provider} is not one Scout Suite scans here")
    argv += ["--no-browser", "--report-dir", OUT, "--result-format", "json", "--max-workers", "2"]
    if split(args.services):
        argv += ["--services", *split(args.services)]
    return argv


def write_azure_auth(env):
    auth = {"tenantId": env["AZURE_TENANT_ID"], "clientId": env["AZURE_CLIENT_ID"],
            "clientSecret": env["AZURE_CLIENT_SECRET"]}
    descriptor = os.open(AZURE_AUTH, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(auth, file)


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
        if args.provider == "gcp":
            check_gcp_key(os.environ["GOOGLE_APPLICATION_CREDENTIALS"])
    except Refused as why:
        sys.exit(f"{PROG}: {why}")
    if args.provider == "azure":
        write_azure_auth(os.environ)
    print(f"scout: scanning {args.provider}: {args.services or 'every service'}", flush=True)
    code = run_watching_throttles(argv)
    # 200: some API calls failed and Scout carried on; its errors file says which.
    if code == 200:
        print("scout: scan complete; some API calls failed (see scoutsuite-results/*errors*)", flush=True)
        return 0
    if code == 101:
        print("scout: authentication or connection failed", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
