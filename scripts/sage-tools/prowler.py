"""Sage Runner's driver of Prowler: turns the tool module's arguments into Prowler's
command line and writes its outputs (OCSF JSON, CSV, compliance CSVs) to /work/out.
The run's AWS credentials, if any, are already in the environment."""
import argparse
import os
import subprocess
import sys

PROWLER = "/opt/tools/prowler/bin/prowler"
OUT = "/work/out"
PROG = "prowler"


def split(text):
    items = [item for item in (text or "").split(",") if item]
    # Each item becomes an argv element of its own: one starting with '-' would be read
    # as an option of the tool, not as a value.
    if any(item.startswith("-") for item in items):
        sys.exit(f"{PROG}: a list item may not start with '-': {text}")
    return items


def main():
    parser = argparse.ArgumentParser(prog="prowler-driver")
    parser.add_argument("--provider", required=True)
    parser.add_argument("--region")
    parser.add_argument("--services")
    parser.add_argument("--checks")
    parser.add_argument("--severities")
    parser.add_argument("--compliance")
    args = parser.parse_args()
    if args.provider != "aws":
        sys.exit(f"prowler: provider {args.provider} needs credentials that Sage Runner does not pass yet; only aws runs")
    # The SDK needs a region even for global services and the caller's identity.
    os.environ.setdefault("AWS_DEFAULT_REGION", (split(args.region) or ["us-east-1"])[0])
    if "AWS_ACCESS_KEY_ID" not in os.environ:
        sys.exit("prowler: no AWS credentials: give iam_role_arn, the role the worker assumes for this run")
    if args.compliance and (args.services or args.checks):
        sys.exit("prowler: a compliance run takes every check of its framework: leave services and checks out")
    command = [PROWLER, "aws", "--no-banner", "--no-color",
               "--output-formats", "json-ocsf", "csv",
               "--output-directory", OUT, "--output-filename", "prowler"]
    for flag, values in (("--region", split(args.region)), ("--service", split(args.services)),
                         ("--check", split(args.checks)), ("--severity", split(args.severities)),
                         ("--compliance", split(args.compliance))):
        if values:
            command += [flag, *values]
    print(f"prowler: scanning {args.region or 'every enabled region'}", flush=True)
    code = subprocess.call(command)
    # Prowler exits 3 when a check failed: the scan itself succeeded.
    if code == 3:
        print("prowler: scan complete; some checks failed (see the findings)", flush=True)
        return 0
    if code == 0:
        print("prowler: scan complete; every check passed", flush=True)
    return code


sys.exit(main())
