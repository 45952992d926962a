"""Sage Runner's driver of Powerpipe benchmarks over Steampipe: runs one benchmark of
the aws_compliance mod and exports its JSON and CSV to /work/out. The run's AWS
credentials, if any, are already in the environment."""
import argparse
import os
import shutil
import subprocess
import sys

OUT = "/work/out"
MOD = "/opt/tools/steampipe/mod"


def main():
    parser = argparse.ArgumentParser(prog="steampipe-driver")
    parser.add_argument("--provider", required=True)
    parser.add_argument("--region")
    parser.add_argument("--benchmark", required=True)
    args = parser.parse_args()
    steampipe, powerpipe = shutil.which("steampipe"), shutil.which("powerpipe")
    if not (steampipe and powerpipe):
        sys.exit("steampipe: Steampipe and Powerpipe are not installed in this scanner image")
    if "AWS_ACCESS_KEY_ID" not in os.environ:
        sys.exit("steampipe: no AWS credentials: give iam_role_arn, the role the worker assumes for this run")
    if args.region:
        os.environ["AWS_REGION"] = args.region.split(",")[0]
    print("steampipe: starting the Steampipe service", flush=True)
    if subprocess.call([steampipe, "service", "start"]) != 0:
        return 1
    try:
        print(f"steampipe: running {args.benchmark}", flush=True)
        code = subprocess.call([powerpipe, "benchmark", "run", args.benchmark, "--mod-location", MOD,
                                "--export", f"{OUT}/powerpipe.json", "--export", f"{OUT}/powerpipe.csv",
                                "--progress=false"])
    finally:
        subprocess.call([steampipe, "service", "stop"])
    # Powerpipe exits non-zero when controls alarm: the benchmark itself ran.
    return 0 if code in (0, 1, 2) and os.path.exists(f"{OUT}/powerpipe.json") else code


sys.exit(main())
