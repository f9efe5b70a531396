"""Hostile requests against the real server: always a 4xx JSON error, never a
500, never a hang, and no view reached by a rejected request. They call the tests' probe blueprint
(tests/support/probe.py): the bodies, bounds and errors are the platform's; the sample's own cases (what
its model refuses, its pages) are in tests/server/notes/."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import requests

from tests.server.support import assert_json_error, exchange, probe_calls, read_one_response, read_until_closed
from tests.support.probe import PROBE

pytestmark = pytest.mark.server
JSON = "application/json"


def post(stack, body: bytes, content_type: str = JSON, **headers):
    return requests.post(f"{stack.api_url}{PROBE}", data=body,
                         headers={"Content-Type": content_type, **stack.origin_headers, **headers}, timeout=10)


HOSTILE_BODIES = {
    "truncated": b'{"text": "a',
    "trailing garbage": b'{"text": "a"} {"text": "b"}',
    "deeply nested": b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nested objects": b'{"text": "x", "a": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}",
    "invalid utf-8": b'{"text": "\xff\xfe\xc0\xaf"}',
    "lone surrogate": b'{"text": "\\ud800"}',
    "NUL in JSON": b'{"text": "a\x00b"}',
    "not an object": b'"just a string"',
    "number": b"1e999999",
    "duplicate huge key": b'{"' + b"k" * 15000 + b'": 1}',
    "wrong type": b'{"text": {"$ne": null}}',
    "prototype pollution": b'{"text": "x", "__proto__": {"admin": true}}',
    "too long": json.dumps({"text": "x" * 1001}).encode(),
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_bodies_are_rejected_as_json_and_reach_no_view(stack, name):
    before = probe_calls(stack)
    r = post(stack, HOSTILE_BODIES[name])
    assert_json_error(r, range(400, 500))
    assert probe_calls(stack) == before


@pytest.mark.parametrize("size", [16 * 1024 + 1, 10 * 1024 * 1024])
def test_huge_bodies_are_413(stack, size):
    before = probe_calls(stack)
    r = post(stack, b'{"text": "' + b"x" * size + b'"}')
    assert_json_error(r, 413, "payload_too_large")
    assert probe_calls(stack) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x",
                                          "application/json-patch+json", "application/x-www-form-urlencoded"])
def test_wrong_content_types_are_415(stack, content_type):
    r = post(stack, b'{"text": "x"}', content_type=content_type)
    assert_json_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize("path", [f"{PROBE}/../../../etc/passwd", f"{PROBE}/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                                  f"{PROBE}/..%5c..%5cwindows", "/api/%00", f"{PROBE}/%00",
                                  f"{PROBE}/" + "9" * 5000, f"{PROBE}/<script>alert(1)</script>",
                                  # Werkzeug would merge the slashes with a 308 text/html redirect to the
                                  # Host it was given: behind CloudFront, the origin's own name.
                                  "/api//health-check", f"{PROBE}//x"])
def test_path_tricks_are_json_404(stack, path):
    """With the origin header, so the router answers rather than the origin check."""
    reply, _ = exchange(stack.host, stack.api_port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
                        + origin(stack) + b"\r\n")
    assert_json_error(reply, range(400, 500))


# Requests gunicorn refuses before Flask sees them keep gunicorn's own small error page (docs/api.md,
# "Errors"): JSON there would need gunicorn's private internals. A 4xx, the connection closed, no traceback.
@pytest.mark.parametrize("request_bytes,status", [
    (b"GET /api/health-check HTTP/1.1\r\nHost: x\r\nX-Evil: a\r\nb: c\rd\r\n\r\n", 400),       # bare CR
    (b"GET /api/health-check HTTP/1.1\r\nHost: x\r\nX-Bad\x00Name: y\r\n\r\n", 400),            # NUL in a name
    (b"GET /api/" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),                        # long URL
    (b"GET /api/health-check HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),  # long header
    (b"GET /api/health-check HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 200 + b"\r\n", 431),   # many headers
    (b"POST /api/probe HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
    (b"POST /api/probe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400),
    (b"GET /api/health-check HTTP/9.9\r\nHost: x\r\n\r\n", 400),
])
def test_malformed_http_gets_a_4xx_from_gunicorn_itself(stack, request_bytes, status):
    reply, _ = exchange(stack.host, stack.api_port, request_bytes)
    assert reply.startswith(b"HTTP/1.1 %d " % status), reply[:200]
    assert b"Traceback" not in reply and b"File \"" not in reply


def test_an_unknown_method_reaches_flask_and_gets_json(stack):
    reply, _ = exchange(stack.host, stack.api_port, b"BREW /api/health-check HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert_json_error(reply, 405)


def test_header_injection_through_the_request_id_is_not_echoed(stack):
    r = requests.get(f"{stack.api_url}/api/health-check", headers={"X-Request-Id": "abc\tSet-Cookie: x=1"}, timeout=5)
    assert r.status_code == 200 and "Set-Cookie" not in r.headers and "\t" not in r.headers["X-Request-Id"]


def origin(stack) -> bytes:
    """The header the edge adds (the API refuses /api/ requests without it), as raw request lines."""
    return b"".join(f"{name}: {value}\r\n".encode() for name, value in stack.origin_headers.items())


def test_a_body_sent_in_pieces_is_served(stack):
    body = json.dumps({"text": "in pieces"}).encode()
    with socket.create_connection((stack.host, stack.api_port), timeout=5) as sock:
        sock.sendall(b"POST /api/probe HTTP/1.1\r\nHost: x\r\n" + origin(stack) + b"Content-Type: application/json\r\n"
                     b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        for i in range(0, len(body), 4):
            time.sleep(0.1)
            sock.sendall(body[i:i + 4])
        reply, _ = read_until_closed(sock, 5)
    assert reply.startswith(b"HTTP/1.1 201"), reply[:200]


def test_a_chunked_body_is_served(stack):
    body = json.dumps({"text": "chunked"}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:5], body[5:])) + b"0\r\n\r\n"
    reply, _ = exchange(stack.host, stack.api_port,
                        b"POST /api/probe HTTP/1.1\r\nHost: x\r\n" + origin(stack) + b"Content-Type: application/json\r\n"
                        b"Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    assert reply.startswith(b"HTTP/1.1 201"), reply[:200]


def test_expect_100_continue_is_answered(stack):
    """curl and others wait for "100 Continue" before sending a body."""
    body = json.dumps({"text": "continued"}).encode()
    with socket.create_connection((stack.host, stack.api_port), timeout=2) as sock:
        sock.sendall(b"POST /api/probe HTTP/1.1\r\nHost: x\r\n" + origin(stack) + b"Content-Type: application/json\r\n"
                     b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        reply, _ = read_until_closed(sock, 5)
    assert reply.startswith(b"HTTP/1.1 201"), reply[:200]
    assert b"100 Continue" not in reply


def test_pipelined_requests_are_all_answered(stack):
    one = b"GET /api/health-check HTTP/1.1\r\nHost: x\r\n\r\n"
    reply, _ = exchange(stack.host, stack.api_port, one * 2 + one.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    assert reply.count(b"HTTP/1.1 200") == 3, reply[:300]


def test_a_body_announced_over_the_limit_is_413_without_waiting_for_it(stack):
    with socket.create_connection((stack.host, stack.api_port), timeout=2) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /api/probe HTTP/1.1\r\nHost: x\r\n" + origin(stack) + b"Content-Type: application/json\r\n"
                     b"Content-Length: 1000000\r\n\r\n{\"te")
        reply = read_one_response(sock)
    assert_json_error(reply, 413, "payload_too_large")
    assert time.monotonic() - started < 2


# --- Bounded errors and the origin check (app hardening) ---------------------------------------
# Kept apart from the slow-client cases above: these attack what the API sends back and who may call it.
class TestBoundedResponses:
    def test_a_body_of_unknown_keys_gets_a_small_error(self, stack):
        body = json.dumps({f"key{i:05d}-" + "k" * 90: 1 for i in range(140)}).encode()
        r = post(stack, body)
        error = assert_json_error(r, 400, "validation_error")
        assert len(r.content) < 4096 and len(error["details"]) <= 5

    def test_json_comes_back_as_utf_8_not_escapes(self, stack):
        r = post(stack, json.dumps({"text": "\U0001F600" * 10}).encode())
        assert r.status_code == 201 and r.headers["Content-Type"] == "application/json; charset=utf-8"
        assert r.json() == {"text": "\U0001F600" * 10}
        assert b"\\u" not in r.content and len(r.content) <= len(b'{"text":""}\n') + 40  # 4 bytes an emoji, not 12

    @pytest.mark.parametrize("path", [PROBE, f"{PROBE}/known", "/api/health-check"])
    def test_options_is_204_without_a_body_or_html(self, stack, path):
        r = requests.options(f"{stack.url}{path}", timeout=5)
        assert r.status_code == 204 and r.content == b""
        assert "html" not in r.headers.get("Content-Type", "") and "GET" in r.headers["Allow"]


class TestOnlyTheEdgeReachesTheApi:
    """What a stranger who found the load balancer's or API Gateway's address gets: 403, in JSON."""

    @pytest.mark.parametrize("method,path", [("GET", PROBE), ("POST", PROBE), ("GET", "/api/ready"),
                                             ("GET", "/api/openapi.json"), ("OPTIONS", PROBE),
                                             ("GET", "/api/nope"), ("DELETE", f"{PROBE}/known")])
    @pytest.mark.parametrize("secret", [None, "wrong", "guess-" + "x" * 40])
    def test_the_origin_refuses_requests_without_the_secret(self, stack, method, path, secret):
        headers = {"X-Origin-Verify": secret} if secret else {}
        before = probe_calls(stack)
        r = requests.request(method, f"{stack.api_url}{path}", json={"text": "bypass"}, headers=headers, timeout=5)
        assert_json_error(r, 403, "origin_forbidden")
        assert stack.origin_secret not in r.text
        assert probe_calls(stack) == before

    def test_the_health_check_answers_without_it(self, stack):
        assert requests.get(f"{stack.api_url}/api/health-check", timeout=5).status_code == 200

    def test_through_the_edge_a_viewers_own_header_is_replaced(self, stack):
        r = requests.get(f"{stack.url}{PROBE}", headers={"X-Origin-Verify": "forged"}, timeout=5)
        assert r.status_code == 200

    def test_the_secret_is_in_no_log_line(self, stack):
        requests.get(f"{stack.api_url}{PROBE}", headers={"X-Origin-Verify": "wrong"}, timeout=5)
        requests.get(f"{stack.url}{PROBE}", timeout=5)
        log = Path(stack.log.name).read_text()
        assert '"status": 403' in log and stack.origin_secret not in log

    def test_a_forged_trace_id_does_not_become_the_request_id(self, stack):
        r = requests.get(f"{stack.url}{PROBE}", headers={"X-Amzn-Trace-Id": "Root=1-forged-by-client",
                                                         "X-Amzn-RequestId": "forged"}, timeout=5)
        assert r.status_code == 200 and "forged" not in r.headers["X-Request-Id"]
