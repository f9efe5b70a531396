"""The custom resources' handlers as Lambda runs them, and a stand-in for CloudFormation's response URL.

Lambda puts the function's code root (functions/) on sys.path, so the handlers import each other as
flat modules (`import custom_resource`); the tests do the same.

CloudFormation reads a custom resource's answer from the presigned S3 URL it gave in the request:
`responses` is a local HTTP server on 127.0.0.1 that keeps every PUT (path, headers, body) so a test
reads exactly what the handler sent, and can check that nothing was sent. A path ending in
/status/<code> answers with that HTTP status, as S3 does for an expired URL (403) or a fault (5xx).
"""
from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))


@dataclass
class Response:
    path: str
    headers: dict  # names in lower case
    raw: bytes

    @property
    def body(self) -> dict:
        return json.loads(self.raw)


@dataclass
class ResponseServer:
    url: str
    received: list[Response] = field(default_factory=list)

    def only(self) -> Response:
        """The one response sent since the test began (fails when there were none or several)."""
        assert len(self.received) == 1, f"expected one response, got {len(self.received)}"
        return self.received[0]


@pytest.fixture(scope="session")
def response_server():
    received: list[Response] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self):  # noqa: N802 (http.server's name)
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(Response(self.path, {k.lower(): v for k, v in self.headers.items()}, raw))
            status = self.path.rsplit("/status/", 1)[1] if "/status/" in self.path else "200"
            self.send_response(int(status))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield ResponseServer(f"http://127.0.0.1:{server.server_address[1]}", received)
    server.shutdown()
    server.server_close()


@pytest.fixture
def responses(response_server):
    """The response server, emptied for this test."""
    response_server.received.clear()
    yield response_server
    response_server.received.clear()
