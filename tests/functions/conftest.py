"""The custom resources' handlers as Lambda runs them: functions/ on sys.path (their modules import each
other flat, as in the function's package), and a local HTTP server standing in for CloudFormation's
presigned ResponseURL, keeping every PUT it receives (and serving GET bodies the test sets)."""
from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
if str(FUNCTIONS) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict


@dataclass
class Endpoint:
    url: str
    received: list[Received] = field(default_factory=list)
    served: dict[str, bytes] = field(default_factory=dict)  # path -> body a GET returns

    def answers(self) -> list[dict]:
        return [r.body for r in self.received]


@pytest.fixture(scope="session")
def _server():
    endpoint = Endpoint("")

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self):  # noqa: N802 (http.server's name)
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            endpoint.received.append(Received(self.path, dict(self.headers.items()), json.loads(raw)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):  # noqa: N802
            body = endpoint.served.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield endpoint
    server.shutdown()
    server.server_close()


@pytest.fixture
def cloudformation(_server) -> Endpoint:
    """The stand-in for CloudFormation's response URL, emptied for each test."""
    _server.received.clear()
    _server.served.clear()
    return _server


@pytest.fixture
def event(cloudformation):
    """A custom resource request as CloudFormation sends it: event(RequestType, properties, physical id)."""
    def make(kind: str, properties: dict, physical: str | None = None, logical: str = "Site") -> dict:
        out = {"RequestType": kind, "ResponseURL": f"{cloudformation.url}/response?signed=1",
               "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s-FrontendStack-X/guid",
               "RequestId": f"req-{len(cloudformation.received)}-{kind}", "LogicalResourceId": logical,
               "ResourceType": "Custom::Test", "ResourceProperties": {"ServiceToken": "arn:fn", **properties}}
        if physical is not None:
            out["PhysicalResourceId"] = physical
        return out
    return make
