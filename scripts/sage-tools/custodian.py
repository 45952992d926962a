"""Sage Runner's driver of Cloud Custodian: validates the policy first, then runs its
filters with --dryrun unless the module version passes --allow-actions. Writes the
output folder (one folder per policy: resources.json, metadata.json, the run log) to
/work/out. The run's AWS credentials, if any, are already in the environment."""
import argparse
import os
import subprocess
import sys

CUSTODIAN = "/opt/tools/custodian/bin/custodian"
OUT = "/work/out"
POLICY = "/work/policy.yml"


def main():
    parser = argparse.ArgumentParser(prog="custodian-driver")
    parser.add_argument("--provider", required=True)
    parser.add_argument("--region")
    parser.add_argument("--allow-actions", action="store_true")
    args = parser.parse_args()
    if args.provider != "aws":
        sys.exit(f"custodian: provider {args.provider} is not installed; only aws runs")
    policy = os.environ.get("CUSTODIAN_POLICY", "")
    with open(POLICY, "w", encoding="utf-8") as file:
        file.write(policy)
    print("custodian: validating the policy", flush=True)
    if subprocess.call([CUSTODIAN, "validate", POLICY]) != 0:
        print("custodian: the policy is not valid; nothing ran", flush=True)
        return 2
    if "AWS_ACCESS_KEY_ID" not in os.environ:
        sys.exit("custodian: no AWS credentials: give iam_role_arn, the role the worker assumes for this run")
    regions = [r for r in (args.region or "us-east-1").split(",") if r]
    if any(region.startswith("-") for region in regions):
        sys.exit(f"custodian: a region may not start with '-': {args.region}")
    command = [CUSTODIAN, "run", "-s", OUT, "--cache-period", "0"]
    for region in regions:
        command += ["-r", region]
    if not args.allow_actions:
        command.append("--dryrun")
    mode = "with actions" if args.allow_actions else "filters only (--dryrun)"
    print(f"custodian: running in {', '.join(regions)}, {mode}", flush=True)
    return subprocess.call(command + [POLICY])


sys.exit(main())
