"""gunicorn integration: the worker class and JSON for gunicorn's own errors.

Both are set in gunicorn.conf.py:
- DrainingThreadWorker: gunicorn's gthread worker, plus one thing. On SIGTERM
  the stock worker stops accepting but keeps its listening socket open while
  it drains, so a connection made meanwhile waits in the kernel's backlog and
  is reset when the worker exits. This worker closes the listener as soon as it
  stops accepting: a late client is refused at once (and can retry elsewhere)
  while accepted requests finish.
- write_json_error: requests that never reach Flask (a request line over the
  limit, an invalid header, a bad chunked body) are answered by gunicorn with a
  small HTML page. The API promises JSON for every response, so this replaces
  gunicorn.util.write_error, the one function gunicorn uses for those replies.
  Status codes and logging stay gunicorn's.
"""
from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from .errors import HTTP_CODES


class DrainingThreadWorker(ThreadWorker):
    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:  # shutting down, not merely at worker_connections
            for listener in self.sockets:
                listener.close()


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    body = json.dumps(
        {"error": {"code": HTTP_CODES.get(status_int, "bad_request"), "message": reason}}
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


def install_json_errors() -> None:
    util.write_error = write_json_error
