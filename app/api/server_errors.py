"""JSON bodies for the errors gunicorn answers itself.

Requests that never reach Flask (a request line over the limit, an invalid
header, a bad chunked body) are answered by gunicorn with a small HTML page.
The API promises JSON for every response, so gunicorn.conf.py installs this
writer in place of gunicorn.util.write_error, the one function gunicorn uses
for those replies. Status codes and logging stay gunicorn's.
"""
from __future__ import annotations

import json

from gunicorn import util

from .errors import HTTP_CODES


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


def install() -> None:
    util.write_error = write_json_error
