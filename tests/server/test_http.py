"""Every error case over real HTTP, against the real gunicorn process, through the tests' probe blueprint
(tests/support/probe.py); the sample's are in tests/server/notes/."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from local.stack import APP_DIR
from tests.server.support import assert_json_error, exchange
from tests.support.probe import PROBE

pytestmark = pytest.mark.server


def test_health_check(base):
    r = requests.get(f"{base}/api/health-check", timeout=5)  # no origin secret: ECS and the ALB call it
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert r.json()["version"].startswith("local")
    assert r.headers["X-Request-Id"]


def test_ready(http, base):
    """Every readiness check a blueprint added runs (the probe's: a DynamoDB call), and each says ok."""
    ready = http.get(f"{base}/api/ready", timeout=5).json()
    assert ready["status"] == "ready" and ready["checks"]["probe"] == "ok"
    assert set(ready["checks"].values()) == {"ok"}


def test_round_trip(http, base):
    created = http.post(f"{base}{PROBE}", json={"text": "round"}, timeout=5)
    assert created.status_code == 201 and created.json() == {"text": "round"}
    assert http.get(f"{base}{PROBE}/known", timeout=5).json() == {"text": "known"}
    assert http.get(f"{base}{PROBE}/datastore", timeout=5).status_code == 200
    deleted = http.delete(f"{base}{PROBE}/known", timeout=5)
    assert deleted.status_code == 204 and deleted.content == b"" and "Content-Type" not in deleted.headers


# Bodies every POST of a JSON body refuses, whatever its model (a `text` of 1 character or more): the
# sample's tests send them to its own endpoint too.
BAD_POSTS = [
    ({"data": b"{", "headers": {"Content-Type": "application/json"}}, 400, "malformed_json"),
    ({"data": b"\xff\xfe\xfd", "headers": {"Content-Type": "application/json"}}, 400, "malformed_json"),
    ({"json": {"text": ""}}, 400, "validation_error"),
    ({"json": {"nope": 1}}, 400, "validation_error"),
    ({"data": b"text=hi", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 415,
     "unsupported_media_type"),
    ({"data": json.dumps({"text": "x" * 20000}), "headers": {"Content-Type": "application/json"}}, 413,
     "payload_too_large"),
]


@pytest.mark.parametrize("kwargs,status,code", BAD_POSTS)
def test_bad_posts(http, base, kwargs, status, code):
    assert_json_error(http.post(f"{base}{PROBE}", timeout=5, **kwargs), status, code)


def test_chunked_body_over_the_limit_is_413(stack):
    def body():
        for _ in range(40):
            yield b"x" * 1024
    r = requests.post(f"{stack.api_url}{PROBE}", data=body(),
                      headers={"Content-Type": "application/json", **stack.origin_headers}, timeout=5)
    assert_json_error(r, 413, "payload_too_large")


def test_not_found_and_method_not_allowed(http, base):
    assert_json_error(http.get(f"{base}/api/does-not-exist", timeout=5), 404, "not_found")
    assert_json_error(http.get(f"{base}{PROBE}/missing", timeout=5), 404, "probe_not_found")
    r = http.patch(f"{base}{PROBE}", timeout=5)
    assert_json_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]


# gunicorn answers these itself, before Flask: its own small error page, not our JSON (docs/api.md, "Errors").
def test_a_request_line_over_gunicorns_limit_is_414(stack):
    r = requests.get(f"{stack.api_url}/api/{'a' * 9000}", timeout=5)
    assert r.status_code == 414 and "Traceback" not in r.text


def test_an_invalid_header_is_400(stack):
    reply, _ = exchange(stack.host, stack.api_port, b"GET /api/health-check HTTP/1.1\r\nHost: x\r\nBad Header\x00: y\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 ") and b"Traceback" not in reply


# What a browser's request carries by the time it reaches the task through CloudFront (its
# AllViewerExceptHostHeader policy forwards every viewer header) and API Gateway, as header fields.
BROWSER_VIA_PROXIES = [
    "Accept", "Accept-Encoding", "Accept-Language", "Cache-Control", "Pragma", "Cookie", "Origin", "Referer",
    "User-Agent", "Priority", "Content-Type", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform",
    "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Gpc", "Dnt", "Upgrade-Insecure-Requests",
    "Via", "X-Amz-Cf-Id", "X-Forwarded-For", "X-Origin-Verify-Stand-In", "X-Amzn-Trace-Id", "X-Forwarded-Port",
    "X-Forwarded-Proto", "Forwarded",
]


def test_a_browsers_request_through_the_proxies_has_room_to_spare(stack):
    """~28 fields arrive with a plain browser request; a fork adding a header or two, or a browser sending a
    few more hints, must not turn every call into a 431. Ten more than the list above still pass."""
    headers = {name: "v" * 200 for name in BROWSER_VIA_PROXIES} | {f"X-Extra-{i}": "v" for i in range(10)}
    headers |= stack.origin_headers
    r = requests.get(f"{stack.api_url}/api/health-check", headers=headers, timeout=5)
    assert r.status_code == 200, (r.status_code, r.text[:200])


def test_gunicorn_accepts_the_shipped_config():
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--check-config", "--config", "gunicorn.conf.py"],
                            cwd=APP_DIR, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_container_health_check_script(stack):
    env = {"PORT": str(stack.api_port), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([sys.executable, str(APP_DIR / "healthcheck.py")], env=env, timeout=10)
    assert ok.returncode == 0
    down = subprocess.run([sys.executable, str(APP_DIR / "healthcheck.py")], env={**env, "PORT": "9"},
                          capture_output=True, text=True, timeout=10)
    assert down.returncode == 1 and "health check failed" in down.stderr
