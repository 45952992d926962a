"""Sage Runner's driver of Cloud Custodian: runs a policy's filters, read-only, and writes
the output folder (one folder per policy: resources.json, metadata.json, the run log) to
/work/out. The worker checked the policy as data (mode pull, no actions, nothing that
reads a file or URL, aws.* resources) and hands it over as JSON; it is checked again
here, then by Custodian's own validate, and runs with --dryrun whatever it says. The
run's AWS credentials, if any, are already in the environment."""
import argparse
import json
import os
import subprocess
import sys
import threading

CUSTODIAN = "/opt/tools/custodian/bin/custodian"
OUT = "/work/out"
# .json: Custodian reads the file by its extension, and the worker's copy is JSON.
POLICY = "/work/policy.json"
POLICY_KEYS = {"name", "resource", "description", "comment", "comments", "tags", "metadata", "filters", "mode"}
MAX_POLICIES = 100


class Refused(Exception):
    """Why the policy cannot run, for its log."""


def reaches(text):
    """Whether a {…} field of `text` reaches into an object: Custodian fills fields with
    Python's str.format, where '.', '[' or '!' walk to the environment."""
    return any(any(c in field.split("}")[0] for c in ".[]!") for field in text.split("{")[1:])


def fetches(value, at):
    """Where a value names something to fetch (`value_from`, any `*_from`, `url`), or
    acts (`actions`); None when it names nothing."""
    if isinstance(value, str):
        return at if reaches(value) else None
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "url" or key.endswith("_from") or key == "actions" or reaches(key):
                return f"{at}.{key}"
            found = fetches(inner, f"{at}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found = fetches(inner, f"{at}[{i}]")
            if found:
                return found
    return None


def check_policy(text):
    """The policy as the worker wrote it, or Refused: it only reads."""
    try:
        document = json.loads(text)
    except ValueError:
        raise Refused("the policy is not the checked copy the worker writes") from None
    if not isinstance(document, dict) or set(document) != {"policies"}:
        raise Refused("the policy file holds only policies")
    policies = document["policies"]
    if not isinstance(policies, list) or not 1 <= len(policies) <= MAX_POLICIES:
        raise Refused(f"the policy file holds 1 to {MAX_POLICIES} policies")
    for i, policy in enumerate(policies):
        at = f"policies[{i}]"
        if not isinstance(policy, dict) or set(policy) - POLICY_KEYS:
            raise Refused(f"{at} holds keys a read-only policy does not have")
        if not str(policy.get("resource", "")).startswith("aws."):
            raise Refused(f"{at}.resource must be an AWS resource type")
        if policy.get("mode", {"type": "pull"}) != {"type": "pull"}:
            raise Refused(f"{at}.mode must be pull")
        found = fetches(policy, at)
        if found:
            raise Refused(f"{found} is not accepted: filters only compare what the scan read, "
                          "and {…} fields name values only")
    return document


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
    parser = argparse.ArgumentParser(prog="custodian-driver")
    parser.add_argument("--provider", required=True)
    parser.add_argument("--region")
    args = parser.parse_args()
    if args.provider != "aws":
        sys.exit(f"custodian: provider {args.provider} is not installed; only aws runs")
    try:
        check_policy(os.environ.get("CUSTODIAN_POLICY", ""))
    except Refused as why:
        sys.exit(f"custodian: {why}; nothing ran")
    with open(POLICY, "w", encoding="utf-8") as file:
        file.write(os.environ["CUSTODIAN_POLICY"])
    print("custodian: validating the policy", flush=True)
    if subprocess.call([CUSTODIAN, "validate", POLICY]) != 0:
        print("custodian: the policy is not valid; nothing ran", flush=True)
        return 2
    if "AWS_ACCESS_KEY_ID" not in os.environ:
        sys.exit("custodian: no AWS credentials: give iam_role_arn, the role the worker assumes for this run")
    regions = [r for r in (args.region or "us-east-1").split(",") if r]
    if any(region.startswith("-") for region in regions):
        sys.exit(f"custodian: a region may not start with '-': {args.region}")
    command = [CUSTODIAN, "run", "-s", OUT, "--cache-period", "0", "--dryrun"]
    for region in regions:
        command += ["-r", region]
    print(f"custodian: running in {', '.join(regions)}, filters only (--dryrun)", flush=True)
    return run_watching_throttles(command + [POLICY])


if __name__ == "__main__":
    sys.exit(main())
