"""Helpers for the real-server tier: raw HTTP over a socket."""
from __future__ import annotations

import socket
import time


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
