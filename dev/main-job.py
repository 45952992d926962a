#!/usr/bin/env python3
"""The main job, as `just up` ends: the analyst runs the sample module `backup-db` once
with a freshly generated key, and this prints its live log as it arrives, how it ended
and the download link of its `backup.log`. Standard library only.

Usage: dev/main-job.py [API_URL]   (default http://$API_BIND, else 127.0.0.1:8080)
"""
import json
import secrets
import sys
import time
import urllib.error

from sageclient import ANALYST, base_url, call, follow, get_json, items, print_line

MODULE = "backup-db"


def main():
    base = base_url(sys.argv)
    module = next((m for m in items(get_json(base, "/api/v1/modules", ANALYST))
                   if m.get("name") == MODULE), None)
    if module is None:
        print("main job: %s sees no module %s (run `target/debug/sage-api seed`)" % (ANALYST, MODULE),
              file=sys.stderr)
        return 1
    params = {"db_name": "orders", "retention_days": 7, "notify_email": "ops@example.com",
              "backup_key": secrets.token_urlsafe(24)}
    started = time.monotonic()
    with call(base, "POST", "/api/v1/modules/%s/executions" % module["id"], ANALYST,
              {"params": params}) as r:
        execution = json.load(r)
    print("main job: %s runs %s (execution %s, %s)" % (ANALYST, MODULE, execution["id"],
                                                     execution["status"]), flush=True)
    end, _ = follow(base, execution["id"], ANALYST, print_line)
    if end is None:
        print("main job: the log stream closed before the run ended", file=sys.stderr)
        return 1
    took = time.monotonic() - started
    print("main job: %s (exit code %s) %.1f s after submission"
          % (end.get("status"), end.get("exit_code"), took), flush=True)
    artifacts = items(get_json(base, "/api/v1/executions/%s/artifacts" % execution["id"], ANALYST))
    for artifact in artifacts:
        print("main job: artifact %s (%s bytes), download until %s:\n  %s"
              % (artifact["name"], artifact["size"], artifact["expires_at"], artifact["url"]))
    if end.get("status") != "succeeded":
        return 1
    if not any(a["name"] == "backup.log" for a in artifacts):
        print("main job: backup.log is missing from the artifacts", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except urllib.error.HTTPError as error:
        print("main job: %s %s: %s" % (error.code, error.reason, error.read().decode()[:500]),
              file=sys.stderr)
        sys.exit(1)
    except urllib.error.URLError as error:
        print("main job: the api does not answer: %s" % error.reason, file=sys.stderr)
        sys.exit(1)
