"""`python -m bench.framing`: what framing a trickled request costs the worker's event loop.

The loop (app/api/server.py) reads each request before a thread takes it, and while it works out
whether a request is complete it can accept and dispatch nothing else. This prints the CPU time
for one connection, in-process, for the slow-client shapes the review measured: RequestScanner
(each byte looked at once, as the worker does now) against scanning the whole buffer again after
every recv (how the loop worked before). CPU seconds on this machine; a 0.25 vCPU task takes ~4x.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))

from api.server import RequestScanner, request_buffered  # noqa: E402

MAX_BODY = 16 * 1024
HEAD = b"POST /api/notes HTTP/1.1\r\nHost: x\r\n"


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


CASES = {
    "80 KB of 1-byte chunks, 60 B per recv": pieces(
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"1\r\nx\r\n" * 13_000 + b"0\r\n\r\n", 60),
    "60 KB head (100 fields), 15 KB body, 30 B per recv": pieces(
        HEAD + (b"X-Field: " + b"v" * 590 + b"\r\n") * 98 + b"Content-Length: 15000\r\n\r\n", 1000)
        + pieces(b"x" * 15_000, 30),
}


def loop_cpu(recvs: list[bytes], rescan: bool) -> float:
    scanner, buffer = RequestScanner(MAX_BODY), bytearray()
    started = time.process_time()
    for piece in recvs:
        buffer += piece
        verdict = request_buffered(buffer, MAX_BODY) if rescan else scanner.feed(buffer)
        if verdict is not None:
            break
    assert verdict is True, verdict
    return time.process_time() - started


def main() -> None:
    print(f"{'request (one connection)':55} {'recvs':>6} {'rescan':>9} {'scanner':>9}")
    for name, recvs in CASES.items():
        print(f"{name:55} {len(recvs):6} {loop_cpu(recvs, True):8.3f}s {loop_cpu(recvs, False):8.4f}s")


if __name__ == "__main__":
    main()
