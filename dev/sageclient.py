"""A small HTTP client of the Sage Runner API for the project's scripts (the main job,
the demo): standard library only, demo-header sign-in, SSE followed line by line."""
import json
import os
import urllib.error
import urllib.request

ADMIN = "admin@example.com"
ANALYST = "analyst@example.com"


def base_url(argv):
    """The api's URL: the first argument, else http://$API_BIND."""
    url = argv[1] if len(argv) > 1 else "http://" + os.environ.get("API_BIND", "127.0.0.1:8080")
    return url.rstrip("/")


class Answer:
    """An HTTP answer of any status: the client looks at refusals as closely as at successes."""

    def __init__(self, status, body):
        self.status = status
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def fields(self):
        """The field names of an error answer."""
        error = (self.json() or {}).get("error") or {}
        return [f.get("field", "") for f in error.get("fields") or []]


def call(base, method, path, user, body=None, accept="application/json", timeout=30):
    """Opens a request; the caller reads (and closes) the response."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("X-Demo-User", user)
    request.add_header("Accept", accept)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    return urllib.request.urlopen(request, timeout=timeout)


def send(base, method, path, user, body=None):
    """One request, its answer whatever its status."""
    try:
        with call(base, method, path, user, body) as response:
            return Answer(response.status, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read())


def get_json(base, path, user):
    with call(base, "GET", path, user) as response:
        return json.load(response)


def items(listing):
    return listing.get("items", []) if isinstance(listing, dict) else listing


def follow(base, execution_id, user, on_line=None):
    """Follows a run's log stream until its `end` event; calls on_line with each log
    event's data as the server sends it. Returns (the end event's data or None, the raw
    text of the stream)."""
    path = "/api/v1/executions/%s/logs" % execution_id
    raw = []
    with call(base, "GET", path, user, accept="text/event-stream", timeout=120) as response:
        event, data = None, []
        for chunk in response:
            line = chunk.decode("utf-8", "replace").rstrip("\n")
            raw.append(line)
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and data:
                payload = json.loads("\n".join(data))
                if event == "end":
                    return payload, "\n".join(raw)
                if on_line is not None:
                    on_line(payload)
                event, data = None, []
    return None, "\n".join(raw)


def print_line(payload):
    """A log line as the main job and the demo print it: stderr and the worker's own
    notices marked."""
    marker = {"stderr": "ERR", "sage": "SYS"}.get(payload.get("stream"), "   ")
    print("  %s | %s" % (marker, payload.get("line", "")), flush=True)
