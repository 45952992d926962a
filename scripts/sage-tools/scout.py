"""Sage Runner's driver of Scout Suite: turns the tool module's arguments into Scout's
command line and writes its results (JSON results, HTML report) to /work/out. The run's
AWS credentials, if any, are already in the environment."""
import argparse
import os
import subprocess
import sys

SCOUT = "/opt/tools/scout/bin/scout"
OUT = "/work/out"
PROG = "scout"


def split(text):
    items = [item for item in (text or "").split(",") if item]
    # Each item becomes an argv element of its own: one starting with '-' would be read
    # as an option of the tool, not as a value.
    if any(item.startswith("-") for item in items):
        sys.exit(f"{PROG}: a list item may not start with '-': {text}")
    return items


def main():
    parser = argparse.ArgumentParser(prog="scout-driver")
    parser.add_argument("--provider", required=True)
    parser.add_argument("--region")
    parser.add_argument("--services")
    args = parser.parse_args()
    if args.provider != "aws":
        sys.exit(f"scout: provider {args.provider} needs credentials that Sage Runner does not pass yet; only aws runs")
    # The SDK needs a region even for global services and the caller's identity.
    os.environ.setdefault("AWS_DEFAULT_REGION", (split(args.region) or ["us-east-1"])[0])
    if "AWS_ACCESS_KEY_ID" not in os.environ:
        sys.exit("scout: no AWS credentials: give iam_role_arn, the role the worker assumes for this run")
    command = [SCOUT, "aws", "--no-browser", "--report-dir", OUT,
               "--result-format", "json", "--max-workers", "2"]
    if split(args.region):
        command += ["--regions", *split(args.region)]
    if split(args.services):
        command += ["--services", *split(args.services)]
    print(f"scout: scanning {args.services or 'every service'}", flush=True)
    code = subprocess.call(command)
    # 200: some API calls failed and Scout carried on; its errors file says which.
    if code == 200:
        print("scout: scan complete; some API calls failed (see scoutsuite-results/*errors*)", flush=True)
        return 0
    if code == 101:
        print("scout: authentication or connection failed", flush=True)
    return code


sys.exit(main())
