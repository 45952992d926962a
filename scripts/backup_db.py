#!/usr/bin/env python3
"""Sample script of the acceptance scenario: "back up" one database.

Parameters arrive as argv elements (never through a shell); the encryption key arrives in
the BACKUP_KEY environment variable and is never printed. The backup log is left in
/work/out/backup.log, which the worker collects as an artifact.
"""
import argparse
import hashlib
import os
import sys
import time
from datetime import datetime, timezone

OUT_DIR = os.environ.get("SAGE_OUT_DIR", "/work/out")


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Back up one database")
    parser.add_argument("--db", required=True, help="database to back up")
    parser.add_argument("--retention-days", type=int, default=7, help="days to keep the backup")
    parser.add_argument("--notify", default="", help="address told when the backup is done")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    key = os.environ.get("BACKUP_KEY", "")
    if not key:
        print("error: BACKUP_KEY is not set", file=sys.stderr, flush=True)
        return 2
    os.makedirs(OUT_DIR, exist_ok=True)
    # Only a fingerprint of the key is ever written, so logs prove which key was used
    # without revealing it.
    fingerprint = hashlib.sha256(("sage-backup:" + key).encode()).hexdigest()[:12]
    started = datetime.now(timezone.utc).isoformat()
    lines = [
        "backup of %s started at %s" % (args.db, started),
        "retention: %d days" % args.retention_days,
        "key fingerprint: %s" % fingerprint,
    ]
    for line in lines:
        print(line, flush=True)
    for step, table in enumerate(["schema", "data", "indexes", "verify"], start=1):
        print("step %d/4: %s of %s done" % (step, table, args.db), flush=True)
        lines.append("step %d/4: %s" % (step, table))
        time.sleep(0.1)
    if args.notify:
        print("would notify %s" % args.notify, flush=True)
        lines.append("notified: %s" % args.notify)
    lines.append("finished at %s" % datetime.now(timezone.utc).isoformat())
    with open(os.path.join(OUT_DIR, "backup.log"), "w") as log:
        log.write("\n".join(lines) + "\n")
    print("backup of %s complete" % args.db, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
