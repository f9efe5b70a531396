"""The real server under load, losing a worker, and fuzzed from its own OpenAPI document.
Loopback only, bounded in count and time. The load calls the tests' probe blueprint (tests/support/probe.py);
the fuzz covers every operation of the app's own document (the sample's, while it is there), not the probe's."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from local.stack import ROOT, child_pids
from tests.support.probe import PROBE

pytestmark = pytest.mark.server
REQUESTS = 3000
CONCURRENCY = 16


def _worker(base: str, n: int, seed: int) -> list:
    """n requests on one keep-alive session: 70 % health checks, 20 % DynamoDB calls, 10 % bodies."""
    outcomes = []
    with requests.Session() as s:
        for i in range(n):
            kind = (seed + i) % 10
            try:
                if kind < 7:
                    r = s.get(f"{base}/api/health-check", timeout=10)
                    outcomes.append(r.status_code == 200)
                elif kind < 9:
                    r = s.get(f"{base}{PROBE}/datastore", timeout=10)
                    outcomes.append(r.status_code == 200)
                else:
                    r = s.post(f"{base}{PROBE}", json={"text": f"load {seed % 10}"}, timeout=10)
                    outcomes.append(r.status_code == 201)
            except requests.RequestException:
                outcomes.append(False)
    return outcomes


def test_a_few_thousand_requests_at_moderate_concurrency_without_an_error(stack):
    started = time.monotonic()
    per = REQUESTS // CONCURRENCY
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = [ok for batch in pool.map(lambda i: _worker(stack.url, per, i), range(CONCURRENCY)) for ok in batch]
    elapsed = time.monotonic() - started
    assert len(results) == per * CONCURRENCY
    assert results.count(False) == 0, f"{results.count(False)} of {len(results)} failed"
    print(f"\n{len(results)} requests through the edge in {elapsed:.1f} s, 0 errors")


def test_a_worker_killed_mid_load_is_replaced_and_only_its_requests_fail(new_stack):
    with new_stack() as stack:
        (master,) = child_pids(stack.api.pid)  # entrypoint.py -> gunicorn's master -> the worker
        (victim,) = child_pids(master)
        stop = threading.Event()
        outcomes: list[bool] = []
        lock = threading.Lock()

        def load():
            with requests.Session() as s:
                while not stop.is_set():
                    try:
                        ok = s.get(f"{stack.api_url}{PROBE}/datastore", headers=stack.origin_headers,
                                   timeout=10).status_code == 200
                    except requests.RequestException:
                        ok = False
                    with lock:
                        outcomes.append(ok)

        threads = [threading.Thread(target=load) for _ in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(outcomes) < 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(victim, signal.SIGKILL)
        killed_at = len(outcomes)
        deadline = time.monotonic() + 10
        while len(outcomes) < killed_at + 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        for t in threads:
            t.join(15)
        failures = outcomes.count(False)
        replacement = child_pids(master)
        print(f"\nworker {victim} killed after {killed_at} requests; {failures} of {len(outcomes)} failed; "
              f"replaced by {replacement}")
        assert replacement and victim not in replacement
        assert len(outcomes) >= killed_at + 300, "the service stopped answering after the kill"
        assert failures <= 8, "only requests in flight on the killed worker (8 clients) may fail"
        assert requests.get(f"{stack.api_url}/api/health-check", timeout=5).status_code == 200


def test_fuzzing_from_the_openapi_document_finds_nothing(stack, tmp_path):
    """schemathesis: every documented operation, valid and invalid inputs, all checks
    (no 5xx, documented status codes, content types and schemas; schemathesis.toml explains the one exception).
    Not the probe's: it is the tests' instrument, with a deliberate 500 and 503 (the unit tier checks its
    operations against the document)."""
    st = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [str(st), "run", f"{stack.api_url}/api/openapi.json", "--max-examples", "15", "--max-time", "30",
         "--header", f"X-Origin-Verify: {stack.origin_secret}",  # as CloudFront; the check is fuzzed too
         "--exclude-path-regex", f"^{PROBE}",
         "--request-timeout", "10", "--generation-deterministic", "--report", "junit",
         "--report-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-4000:]
    doc = requests.get(f"{stack.api_url}/api/openapi.json", headers=stack.origin_headers, timeout=10).json()
    operations = sum(method != "parameters" for path, item in doc["paths"].items() for method in item
                     if not path.startswith(PROBE))
    assert f"Tested: {operations}" in result.stdout  # every operation the document lists, whatever their number
