"""The ceiling for `make bench`: a bare WSGI app that returns the same JSON as
the service (no Flask, no logging, no datastore), run by the same gunicorn
config. BARE_NOTES_FILE holds the /api/notes body to serve."""
import json
import os
import time

STARTED = time.monotonic()
with open(os.environ["BARE_NOTES_FILE"], "rb") as f:
    NOTES = f.read()


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/api/health-check":
        body = json.dumps({"status": "ok", "version": "bench",
                           "uptimeSeconds": round(time.monotonic() - STARTED, 3)}).encode()
    elif path == "/api/notes":
        body = NOTES
    else:
        start_response("404 Not Found", [("Content-Type", "application/json"), ("Content-Length", "2")])
        return [b"{}"]
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
