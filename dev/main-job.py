#!/usr/bin/env python3
"""The main job, as `just up` ends: the analyst runs the sample module `backup-db` once
with a freshly generated key, and this prints its live log as it arrives, how it ended
and the download link of its `backup.log`. Standard library only.

Usage: dev/main-job.py [API_URL]   (default http://$API_BIND, else 127.0.0.1:8080)
"""
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request

ANALYST = "analyst@example.com"
MODULE = "backup-db"


def call(base, method, path, body=None, accept="application/json"):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("X-Demo-User", ANALYST)
    request.add_header("Accept", accept)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    return urllib.request.urlopen(request, timeout=30)


def get_json(base, path):
    with call(base, "GET", path) as response:
        return json.load(response)


def follow(base, execution_id):
    """Prints each log line as the server sends it; returns the `end` event's data."""
    path = "/api/v1/executions/%s/logs" % execution_id
    with call(base, "GET", path, accept="text/event-stream") as response:
        event, data = None, []
        for raw in response:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and data:
                payload = json.loads("\n".join(data))
                if event == "end":
                    return payload
                marker = {"stderr": "ERR", "sage": "SYS"}.get(payload.get("stream"), "   ")
                print("  %s | %s" % (marker, payload.get("line", "")), flush=True)
                event, data = None, []
    return None


def main():
    base = (sys.argv[1] if len(sys.argv) > 1 else
            "http://" + os.environ.get("API_BIND", "127.0.0.1:8080")).rstrip("/")
    modules = get_json(base, "/api/v1/modules")
    items = modules.get("items", modules) if isinstance(modules, dict) else modules
    module = next((m for m in items if m.get("name") == MODULE), None)
    if module is None:
        print("main job: %s sees no module %s (run `target/debug/sage-api seed`)" % (ANALYST, MODULE),
              file=sys.stderr)
        return 1
    params = {"db_name": "orders", "retention_days": 7, "notify_email": "ops@example.com",
              "backup_key": secrets.token_urlsafe(24)}
    started = time.monotonic()
    with call(base, "POST", "/api/v1/modules/%s/executions" % module["id"], {"params": params}) as r:
        execution = json.load(r)
    print("main job: %s runs %s (execution %s, %s)" % (ANALYST, MODULE, execution["id"],
                                                     execution["status"]), flush=True)
    end = follow(base, execution["id"])
    if end is None:
        print("main job: the log stream closed before the run ended", file=sys.stderr)
        return 1
    took = time.monotonic() - started
    print("main job: %s (exit code %s) %.1f s after submission"
          % (end.get("status"), end.get("exit_code"), took), flush=True)
    artifacts = get_json(base, "/api/v1/executions/%s/artifacts" % execution["id"])
    for artifact in artifacts.get("items", []):
        print("main job: artifact %s (%s bytes), download until %s:\n  %s"
              % (artifact["name"], artifact["size"], artifact["expires_at"], artifact["url"]))
    if end.get("status") != "succeeded":
        return 1
    if not any(a["name"] == "backup.log" for a in artifacts.get("items", [])):
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
