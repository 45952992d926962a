"""Sage Runner's driver of Prowler: turns the tool module's arguments into Prowler's
command line and writes its outputs (OCSF JSON, CSV, compliance CSVs) to /work/out.
The run's credentials are already in the environment: an assumed AWS role's keys, an
Azure service principal (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET), a GCP
service account's key file (GOOGLE_APPLICATION_CREDENTIALS) or a kubeconfig
(KUBECONFIG)."""
import argparse
import os
import subprocess
import sys

PROWLER = "/opt/tools/prowler/bin/prowler"
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


def main():
    args = parse(sys.argv[1:])
    if args.provider == "aws":
        # The SDK needs a region even for global services and the caller's identity.
        os.environ.setdefault("AWS_DEFAULT_REGION", (split(args.region) or ["us-east-1"])[0])
    try:
        argv = command(args, os.environ)
    except Refused as why:
        sys.exit(f"{PROG}: {why}")
    print(f"prowler: scanning {args.provider} {args.region or args.subscriptions or args.projects or ''}".rstrip(),
          flush=True)
    code = subprocess.call(argv)
    # Prowler exits 3 when a check failed: the scan itself succeeded.
    if code == 3:
        print("prowler: scan complete; some checks failed (see the findings)", flush=True)
        return 0
    if code == 0:
        print("prowler: scan complete; every check passed", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
