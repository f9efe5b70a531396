"""The ceiling for the health check in `make bench`: a bare WSGI function that
returns the same JSON as the service's health check (no Flask, no logging),
run by the same gunicorn config."""
import json
import time

STARTED = time.monotonic()


def app(environ, start_response):
    if environ.get("PATH_INFO", "") != "/api/health-check":
        start_response("404 Not Found", [("Content-Type", "application/json"), ("Content-Length", "2")])
        return [b"{}"]
    body = json.dumps({"status": "ok", "version": "bench",
                       "uptimeSeconds": round(time.monotonic() - STARTED, 3)}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
