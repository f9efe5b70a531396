"""bench/lambda_start.py without a full `make bench`: the readiness poll against a server that becomes ready
after a while, and what the table says it did not measure."""
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import lambda_start


@pytest.fixture
def late_server():
    """A server whose health path answers 503 for its first 0.2 s, then 200; it counts the requests."""
    asked, opened = [], time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(time.monotonic())
            self.send_response(200 if time.monotonic() - opened > 0.2 else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/health-check", asked, opened
    server.shutdown()
    server.server_close()


def test_readiness_is_the_first_2xx_asked_for_every_10_ms_like_the_adapters_check(late_server):
    url, asked, opened = late_server
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        ready = lambda_start.first_2xx(url, proc, opened, timeout=5)
    finally:
        proc.kill()
        proc.wait()
    assert 0.2 <= ready < 1.0
    gaps = [b - a for a, b in zip(asked, asked[1:], strict=False)]
    assert len(asked) >= 8, "asked about every 10 ms, not once a second"
    assert sorted(gaps)[len(gaps) // 2] < 0.05, gaps


def test_a_server_that_exits_before_it_is_ready_is_reported(late_server):
    url, _, opened = late_server
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    with pytest.raises(RuntimeError, match="exited with status 3"):
        lambda_start.first_2xx(url, proc, opened, timeout=5)


def test_the_table_says_what_only_a_deploy_shows():
    result = {"memory_mb": 512, "runs": 5, "poll_ms": 10.0,
              "whole core": {"ready_median_s": 1.3, "ready_max_s": 1.4, "first_request_median_ms": 40.0,
                             "second_request_median_ms": 3.0, "stop_median_s": 1.5},
              "512 MB (0.289 vCPU)": {"skipped": "this machine does not let us create a CPU cgroup"}}
    text = lambda_start.format_lambda_start(result)
    assert "our share" in text and "median 1.30 s, worst 1.40 s" in text and "skipped" in text
    assert "the first /api/ready 40 ms, the second 3 ms" in text
    assert "only a deploy shows" in text and "platform's share" in text and "per-request overhead" in text
    assert lambda_start.FUNCTION_SERVER_ENV == {"DRAIN_DELAY": "0", "WEB_CONCURRENCY": "1", "WORKER_TIMEOUT": "0"}
    assert round(512 / lambda_start.MEMORY_PER_VCPU, 3) == 0.289
