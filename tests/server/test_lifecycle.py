"""What happens to the real server when ECS stops it or the datastore goes away."""
from __future__ import annotations

import signal
import threading
import time

import pytest
import requests

from local.stack import ROOT
from tests.server.conftest import start_stack
from tests.support.slow_proxy import SlowProxy

pytestmark = pytest.mark.server
IN_FLIGHT = 6       # below the 8 threads of the single gthread worker
DB_DELAY = 1.5      # seconds each datastore call is held


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_sigterm_drains_in_flight_requests(tmp_path):
    stack = start_stack(tmp_path)
    with SlowProxy(stack.db_url, DB_DELAY) as proxy:
        stack.api_env = {"AWS_ENDPOINT_URL_DYNAMODB": proxy.url}
        with stack:
            results: list = []

            def post(i):
                try:
                    r = requests.post(f"{stack.api_url}/api/notes", json={"text": f"in flight {i}"},
                                      headers=stack.origin_headers, timeout=15)
                    results.append(r.status_code)
                except requests.RequestException as exc:
                    results.append(repr(exc))

            threads = [threading.Thread(target=post, args=(i,)) for i in range(IN_FLIGHT)]
            for t in threads:
                t.start()
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

    assert results == [201] * IN_FLIGHT, results
    assert master.returncode == 0
    assert elapsed < 20, f"took {elapsed:.1f}s, over graceful_timeout"


def _refused(url: str) -> bool:
    try:
        requests.get(f"{url}/api/health-check", timeout=1)
    except requests.ConnectionError:
        return True
    return False


def test_datastore_outage_is_503_and_recovers_by_itself(tmp_path):
    with start_stack(tmp_path) as stack:
        base = stack.url
        assert requests.post(f"{base}/api/notes", json={"text": "before"}, timeout=5).status_code == 201

        stack.stop_db()
        for method, path in (("GET", "/api/notes"), ("POST", "/api/notes"), ("GET", "/api/ready")):
            r = requests.request(method, base + path, json={"text": "during"}, timeout=15)
            assert r.status_code == 503, (path, r.text)
            assert r.json()["error"]["code"] == "datastore_unavailable"
            assert int(r.headers["Retry-After"]) > 0
        assert requests.get(f"{base}/api/health-check", timeout=5).status_code == 200  # liveness unaffected

        stack.start_db()  # same port: the API is not restarted
        wait_for(lambda: requests.get(f"{base}/api/ready", timeout=15).status_code == 200, 30, "recovery")
        assert requests.post(f"{base}/api/notes", json={"text": "after"}, timeout=5).status_code == 201
        assert stack.api.poll() is None


def test_the_server_writes_nothing_under_home_or_the_app(tmp_path):
    """What a read-only root filesystem needs: no control socket in $HOME, no byte-code beside the
    code (the image compiles it at build time), heartbeats on /dev/shm."""
    home = tmp_path / "home"
    home.mkdir()
    app_before = {p: p.stat().st_mtime for p in (ROOT / "app").rglob("*")}
    with start_stack(tmp_path, api_env={"HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}) as stack:
        assert requests.get(f"{stack.url}/api/notes", timeout=5).status_code == 200
    assert list(home.iterdir()) == []
    new = [p for p in (ROOT / "app").rglob("*") if p not in app_before]
    assert new == [], f"the server wrote {new}"
