"""Hostile requests against the real server: always a 4xx JSON error, never a
500, never a hang, and nothing stored from a rejected request."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import requests

from tests.server.support import assert_json_error, exchange, read_one_response, read_until_closed

pytestmark = pytest.mark.server
JSON = "application/json"


def note_count(stack) -> int:
    return len(requests.get(f"{stack.api_url}/api/notes", params={"limit": 100}, headers=stack.origin_headers,
                            timeout=5).json()["items"])


def post(stack, body: bytes, content_type: str = JSON, **headers):
    return requests.post(f"{stack.api_url}/api/notes", data=body,
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
    "only whitespace": json.dumps({"text": " \t\n "}).encode(),
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_bodies_are_rejected_as_json_and_store_nothing(stack, name):
    before = note_count(stack)
    r = post(stack, HOSTILE_BODIES[name])
    assert_json_error(r, range(400, 500))
    assert note_count(stack) == before


@pytest.mark.parametrize("size", [16 * 1024 + 1, 10 * 1024 * 1024])
def test_huge_bodies_are_413(stack, size):
    before = note_count(stack)
    r = post(stack, b'{"text": "' + b"x" * size + b'"}')
    assert_json_error(r, 413, "payload_too_large")
    assert note_count(stack) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x",
                                          "application/json-patch+json", "application/x-www-form-urlencoded"])
def test_wrong_content_types_are_415(stack, content_type):
    r = post(stack, b'{"text": "x"}', content_type=content_type)
    assert_json_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize("path", ["/api/notes/../../../etc/passwd", "/api/notes/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                                  "/api/notes/..%5c..%5cwindows", "/api/%00", "/api/notes/%00",
                                  "/api/notes/" + "9" * 5000, "/api/notes/<script>alert(1)</script>",
                                  # Werkzeug would merge the slashes with a 308 text/html redirect to the
                                  # Host it was given: behind CloudFront, the origin's own name.
                                  "/api//health-check", "/api/notes//x"])
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
    (b"POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
    (b"POST /api/notes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400),
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
    body = json.dumps({"text": "sent in pieces"}).encode()
    with socket.create_connection((stack.host, stack.api_port), timeout=5) as sock:
        sock.sendall(b"POST /api/notes HTTP/1.1\r\nHost: x\r\n" + origin(stack) + b"Content-Type: application/json\r\n"
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
                        b"POST /api/notes HTTP/1.1\r\nHost: x\r\n" + origin(stack) + b"Content-Type: application/json\r\n"
                        b"Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    assert reply.startswith(b"HTTP/1.1 201"), reply[:200]


def test_expect_100_continue_is_answered(stack):
    """curl and others wait for "100 Continue" before sending a body."""
    body = json.dumps({"text": "after continue"}).encode()
    with socket.create_connection((stack.host, stack.api_port), timeout=2) as sock:
        sock.sendall(b"POST /api/notes HTTP/1.1\r\nHost: x\r\n" + origin(stack) + b"Content-Type: application/json\r\n"
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
        sock.sendall(b"POST /api/notes HTTP/1.1\r\nHost: x\r\n" + origin(stack) + b"Content-Type: application/json\r\n"
                     b"Content-Length: 1000000\r\n\r\n{\"te")
        reply = read_one_response(sock)
    assert_json_error(reply, 413, "payload_too_large")
    assert time.monotonic() - started < 2


# --- Bounded responses and the origin check (app hardening) ---------------------------------------
# Kept apart from the slow-client cases above: these attack what the API sends back and who may call it.
EMOJI_NOTE = "\U0001F600" * 1000  # the longest note in bytes: 4,000 of UTF-8


class TestBoundedResponses:
    @pytest.mark.parametrize("text", ["bell\u0007", "a\u0001b", "esc\u001b]0;title\u0007", "cr\rlf", "del\u007f",
                                      "csi\u009b2J", "nul\u0000"])
    def test_control_characters_in_a_note_are_refused(self, stack, text):
        before = note_count(stack)
        r = post(stack, json.dumps({"text": text}).encode())
        error = assert_json_error(r, 400, "validation_error")
        assert error["field"] == "text"
        assert note_count(stack) == before

    def test_a_body_of_unknown_keys_gets_a_small_error(self, stack):
        body = json.dumps({f"key{i:05d}-" + "k" * 90: 1 for i in range(140)}).encode()
        r = post(stack, body)
        error = assert_json_error(r, 400, "validation_error")
        assert len(r.content) < 4096 and len(error["details"]) <= 5

    def test_notes_come_back_as_utf_8_and_pages_stop_at_the_byte_budget(self, stack):
        ids = []
        try:
            for i in range(80):
                r = post(stack, json.dumps({"text": f"{i:02d}" + EMOJI_NOTE[2:]}).encode())
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
            assert r.headers["Content-Type"] == "application/json; charset=utf-8"
            assert len(r.content) < 4200 and b"\\u" not in r.content
            pages, cursor = [], None
            while True:
                params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                r = requests.get(f"{stack.url}/api/notes", params=params, timeout=10)  # as a browser would
                assert r.status_code == 200 and len(r.content) <= 257 * 1024, len(r.content)
                pages.append([n["id"] for n in r.json()["items"]])
                cursor = r.json()["nextCursor"]
                if not cursor:
                    break
            seen = [i for page in pages for i in page]
            assert len(seen) == len(set(seen)), "a note came back twice"
            assert [i for i in seen if i in ids] == sorted(ids, reverse=True), "a note was lost"
            assert len(pages[0]) < 80, "the first page was not cut by the byte budget"
        finally:
            for note_id in ids:
                requests.delete(f"{stack.api_url}/api/notes/{note_id}", headers=stack.origin_headers, timeout=5)

    @pytest.mark.parametrize("path", ["/api/notes", "/api/notes/" + "0" * 28, "/api/health-check"])
    def test_options_is_204_without_a_body_or_html(self, stack, path):
        r = requests.options(f"{stack.url}{path}", timeout=5)
        assert r.status_code == 204 and r.content == b""
        assert "html" not in r.headers.get("Content-Type", "") and "GET" in r.headers["Allow"]


class TestOnlyTheEdgeReachesTheApi:
    """What a stranger who found the load balancer's or API Gateway's address gets: 403, in JSON."""

    @pytest.mark.parametrize("method,path", [("GET", "/api/notes"), ("POST", "/api/notes"), ("GET", "/api/ready"),
                                             ("GET", "/api/openapi.json"), ("OPTIONS", "/api/notes"),
                                             ("GET", "/api/nope"), ("DELETE", "/api/notes/" + "0" * 28)])
    @pytest.mark.parametrize("secret", [None, "wrong", "guess-" + "x" * 40])
    def test_the_origin_refuses_requests_without_the_secret(self, stack, method, path, secret):
        headers = {"X-Origin-Verify": secret} if secret else {}
        before = note_count(stack)
        r = requests.request(method, f"{stack.api_url}{path}", json={"text": "bypass"}, headers=headers, timeout=5)
        assert_json_error(r, 403, "origin_forbidden")
        assert stack.origin_secret not in r.text
        assert note_count(stack) == before

    def test_the_health_check_answers_without_it(self, stack):
        assert requests.get(f"{stack.api_url}/api/health-check", timeout=5).status_code == 200

    def test_through_the_edge_a_viewers_own_header_is_replaced(self, stack):
        r = requests.get(f"{stack.url}/api/notes", headers={"X-Origin-Verify": "forged"}, timeout=5)
        assert r.status_code == 200

    def test_the_secret_is_in_no_log_line(self, stack):
        requests.get(f"{stack.api_url}/api/notes", headers={"X-Origin-Verify": "wrong"}, timeout=5)
        requests.get(f"{stack.url}/api/notes", timeout=5)
        log = Path(stack.log.name).read_text()
        assert '"status": 403' in log and stack.origin_secret not in log

    def test_a_forged_trace_id_does_not_become_the_request_id(self, stack):
        r = requests.get(f"{stack.url}/api/notes", headers={"X-Amzn-Trace-Id": "Root=1-forged-by-client",
                                                             "X-Amzn-RequestId": "forged"}, timeout=5)
        assert r.status_code == 200 and "forged" not in r.headers["X-Request-Id"]
