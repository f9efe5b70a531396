"""Helpers for the real-server tier: raw HTTP over a socket, the check for our JSON errors, and the probe's count."""
from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass

import requests
from requests.structures import CaseInsensitiveDict

from tests.support.probe import PROBE


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and when it closed (monotonic)."""
    sock.settimeout(timeout)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks), time.monotonic()


def exchange(host: str, port: int, data: bytes, timeout: float = 5) -> tuple[bytes, float]:
    """Send `data` on a new connection; everything answered until the server closes, and the seconds that took."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        started = time.monotonic()
        sock.sendall(data)
        reply, closed = read_until_closed(sock, timeout)
    return reply, closed - started


def read_one_response(sock: socket.socket) -> bytes:
    """One whole response on a kept-alive connection: the head, then Content-Length bytes of body
    (recv may return the head and the body separately)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


@dataclass
class RawReply:
    """A raw HTTP/1.1 reply, parsed into the parts of a requests.Response that assert_json_error reads."""

    status_code: int
    headers: CaseInsensitiveDict
    text: str

    @classmethod
    def parse(cls, reply: bytes) -> RawReply:
        """Split the status line, the header fields and the body of one raw reply."""
        head, _, body = reply.partition(b"\r\n\r\n")
        status_line, *fields = head.decode("latin-1").split("\r\n")
        assert status_line.startswith("HTTP/1.1 "), reply[:200]
        headers = CaseInsensitiveDict({name: value.strip() for name, value in (f.split(":", 1) for f in fields)})
        return cls(int(status_line.split(" ", 2)[1]), headers, body.decode("utf-8", "replace"))

    def json(self):
        return json.loads(self.text)


def assert_json_error(response: requests.Response | bytes, status: int | range, code: str | None = None,
                      closes: bool = False) -> dict:
    """Our JSON error {"error": {"code", "message"}} with this status (or one in the range) and code (or any);
    with `closes`, also Connection: close. Takes a requests.Response or a raw reply; returns the error."""
    if isinstance(response, bytes):
        response = RawReply.parse(response)
    assert response.status_code in (status if isinstance(status, range) else (status,)), (
        response.status_code, response.text[:200])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    assert "<html" not in response.text.lower() and "Traceback" not in response.text
    if closes:
        assert response.headers["Connection"] == "close", response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code if code else error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    return error


def probe_calls(stack) -> int:
    """How many bodies the probe's views accepted (tests/support/probe.py): a refused request adds none."""
    return requests.get(f"{stack.api_url}{PROBE}/calls", headers=stack.origin_headers, timeout=5).json()["count"]
