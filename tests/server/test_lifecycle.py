"""What happens to the real server when ECS stops it or the datastore goes away. Requests are held in
flight on the datastore: the tests' probe blueprint makes one DynamoDB call with the platform's client
(tests/support/probe.py) and tests/support/slow_proxy.py holds each call in front of the DynamoDB stand-in."""
from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from local.stack import ROOT
from tests.server.conftest import start_stack
from tests.server.support import assert_json_error, read_one_response
from tests.support.probe import PROBE
from tests.support.slow_proxy import SlowProxy

pytestmark = pytest.mark.server
IN_FLIGHT = 6       # requests in flight when SIGTERM comes
DB_DELAY = 1.5      # seconds each datastore call is held


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def call_in_flight(stack, count: int) -> tuple[list[threading.Thread], list]:
    """`count` requests that each make a DynamoDB call (the probe's), in threads, started; each appends its
    status (or the exception) to the list."""
    results: list = []

    def call(i):
        try:
            r = requests.get(f"{stack.api_url}{PROBE}/datastore", headers=stack.origin_headers, timeout=15)
            results.append(r.status_code)
        except requests.RequestException as exc:
            results.append(repr(exc))

    threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    return threads, results


def test_sigterm_drains_in_flight_requests(new_stack):
    stack = new_stack()
    with SlowProxy(stack.db_url, DB_DELAY) as proxy:
        stack.api_env = {"AWS_ENDPOINT_URL_DYNAMODB": proxy.url}
        with stack:
            threads, results = call_in_flight(stack, IN_FLIGHT)
            wait_for(lambda: proxy.in_flight == IN_FLIGHT, 10, "requests to be in flight")

            master = stack.api
            sent = time.monotonic()
            master.send_signal(signal.SIGTERM)
            # The listener closes at once: new connections are refused while old ones finish.
            wait_for(lambda: _refused(stack.api_url), 5, "the listener to close")
            assert proxy.in_flight > 0, "requests finished before the listener closed: raise DB_DELAY"

            for t in threads:
                t.join(15)
            master.wait(25)
            elapsed = time.monotonic() - sent

    assert results == [200] * IN_FLIGHT, results
    assert master.returncode == 0
    assert elapsed < 20, f"took {elapsed:.1f}s, over graceful_timeout"


DRAIN_DELAY = 3
GRACEFUL = 3  # shorter than the delay plus the late request: the master must wait for both
MARGIN = 2  # what the templates add: stopTimeout >= DRAIN_DELAY + GRACEFUL_TIMEOUT + margin


def test_drain_delay_keeps_serving_new_connections_then_drains(new_stack):
    """HTTP API ingress: API Gateway keeps routing to a task for a while after ECS removes it
    from Cloud Map and sends SIGTERM (https://github.com/aws/containers-roadmap/issues/1639).
    For DRAIN_DELAY seconds new connections are still served (entrypoint.py holds the signal back), then
    they are refused, the requests in flight finish, and the process exits within stopTimeout."""
    stack = new_stack(api_env={"DRAIN_DELAY": str(DRAIN_DELAY), "GRACEFUL_TIMEOUT": str(GRACEFUL)})
    # Each DynamoDB call takes 2.5 s: the late request (sent in the delay's last second) is still running
    # when the listener closes, even on a loaded machine (refused at most 1.5 s after the delay: below).
    with SlowProxy(stack.db_url, 2.5) as proxy:
        stack.api_env["AWS_ENDPOINT_URL_DYNAMODB"] = proxy.url
        with stack:
            threads, results = call_in_flight(stack, 3)
            wait_for(lambda: proxy.in_flight == 3, 10, "requests to be in flight")

            master = stack.api
            sent = time.monotonic()
            master.send_signal(signal.SIGTERM)
            served, refused_at, late, in_flight_then = [], None, None, None
            time.sleep(0.3)  # the master forwards the signal to the worker
            while refused_at is None and time.monotonic() - sent < DRAIN_DELAY + 3:
                try:
                    r = requests.get(f"{stack.api_url}/api/health-check", timeout=2)  # a new connection each time
                    served.append((time.monotonic() - sent, r.status_code, r.headers.get("Connection")))
                except requests.ConnectionError:
                    refused_at, in_flight_then = time.monotonic() - sent, proxy.in_flight
                if late is None and time.monotonic() - sent > DRAIN_DELAY - 1:
                    # accepted in the last second of the delay, still running when the listener closes
                    late = call_in_flight(stack, 1)
                time.sleep(0.2)
            assert refused_at is not None, "the listener never closed"
            assert refused_at >= DRAIN_DELAY, f"new connections refused {refused_at:.1f}s after SIGTERM"
            assert in_flight_then, "nothing was in flight when the listener closed"

            for t in [*threads, *late[0]]:
                t.join(15)
            master.wait(DRAIN_DELAY + GRACEFUL + MARGIN + 5)
            elapsed = time.monotonic() - sent

    assert all(status == 200 for _, status, _ in served), served
    assert max(at for at, _, _ in served) > DRAIN_DELAY - 0.5, served  # served until the end of the delay
    assert refused_at < DRAIN_DELAY + 1.5, refused_at                  # then refused
    assert results + late[1] == [200] * 4, results + late[1]            # nothing in flight was dropped
    assert master.returncode == 0
    # The worker finished its requests and exited by itself, before GRACEFUL_TIMEOUT would have cut them off
    # (gunicorn logs this warning when it does); the master is gone within the container's stopTimeout. Not
    # `elapsed < DRAIN_DELAY + GRACEFUL`: the gevent worker looks for finished requests once a second and the
    # master reaps it up to a second later, so on a loaded machine a worker that drained in time can still be
    # reported after that sum (measured: 6.0-6.5 s with a load average of 6).
    assert "Worker graceful timeout" not in Path(stack.log.name).read_text()
    assert elapsed < DRAIN_DELAY + GRACEFUL + MARGIN, f"took {elapsed:.1f}s, over the stopTimeout the templates set"


def test_a_hung_request_cannot_hold_the_stop_past_delay_plus_graceful(new_stack):
    """Whatever hangs, the process is gone DRAIN_DELAY + GRACEFUL_TIMEOUT after SIGTERM, inside the
    container's stopTimeout, so ECS never has to SIGKILL it."""
    delay, graceful = 1, 2
    stack = new_stack(api_env={"DRAIN_DELAY": str(delay), "GRACEFUL_TIMEOUT": str(graceful)})
    with SlowProxy(stack.db_url, 30) as proxy:
        stack.api_env["AWS_ENDPOINT_URL_DYNAMODB"] = proxy.url
        with stack:
            call_in_flight(stack, 1)
            wait_for(lambda: proxy.in_flight == 1, 10, "the request to be in flight")
            master = stack.api
            sent = time.monotonic()
            master.send_signal(signal.SIGTERM)
            master.wait(delay + graceful + MARGIN + 5)
            elapsed = time.monotonic() - sent
    assert master.returncode == 0
    assert delay + graceful - 0.5 < elapsed < delay + graceful + MARGIN, f"exited after {elapsed:.1f}s"


def test_a_request_on_a_kept_alive_connection_during_the_drain_is_answered(new_stack):
    """The proxy in front may send one more request on a connection it holds after the listener closed:
    the worker answers it (with Connection: close) instead of dropping it."""
    stack = new_stack(api_env={"GRACEFUL_TIMEOUT": "4"})
    with stack:
        with socket.create_connection((stack.host, stack.api_port), timeout=5) as sock:
            request = b"GET /api/health-check HTTP/1.1\r\nHost: x\r\n\r\n"
            sock.sendall(request)
            assert read_one_response(sock).startswith(b"HTTP/1.1 200")
            master = stack.api
            sent = time.monotonic()
            master.send_signal(signal.SIGTERM)
            wait_for(lambda: _refused(stack.api_url), 5, "the listener to close")
            sock.sendall(request)
            reply = read_one_response(sock)
        master.wait(10)
        elapsed = time.monotonic() - sent
    assert reply.startswith(b"HTTP/1.1 200") and b"\r\nConnection: close\r\n" in reply, reply[:300]
    assert master.returncode == 0 and elapsed < 4 + MARGIN


def _refused(url: str) -> bool:
    try:
        requests.get(f"{url}/api/health-check", timeout=1)
    except requests.ConnectionError:
        return True
    return False


def test_datastore_outage_is_503_and_recovers_by_itself(tmp_path):
    with start_stack(tmp_path) as stack:
        base = stack.url
        assert requests.get(f"{base}{PROBE}/datastore", timeout=5).status_code == 200

        stack.stop_db()
        for path in (f"{PROBE}/datastore", "/api/ready"):
            r = requests.get(base + path, timeout=15)
            assert_json_error(r, 503, "datastore_unavailable")
            assert int(r.headers["Retry-After"]) > 0
        assert requests.get(f"{base}/api/health-check", timeout=5).status_code == 200  # liveness unaffected

        stack.start_db()  # same port: the API is not restarted
        wait_for(lambda: requests.get(f"{base}/api/ready", timeout=15).status_code == 200, 30, "recovery")
        assert requests.get(f"{base}{PROBE}/datastore", timeout=5).status_code == 200
        assert stack.api.poll() is None


def test_the_server_writes_nothing_under_home_or_the_app(tmp_path, new_stack):
    """What a read-only root filesystem needs: no control socket in $HOME, no byte-code beside the
    code (the image compiles it at build time), heartbeats on /dev/shm."""
    home = tmp_path / "home"
    home.mkdir()
    app_before = {p: p.stat().st_mtime for p in (ROOT / "app").rglob("*")}
    with new_stack(api_env={"HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}) as stack:
        assert requests.get(f"{stack.url}{PROBE}/datastore", timeout=5).status_code == 200  # boto3 loaded too
    assert list(home.iterdir()) == []
    new = [p for p in (ROOT / "app").rglob("*") if p not in app_before]
    assert new == [], f"the server wrote {new}"
