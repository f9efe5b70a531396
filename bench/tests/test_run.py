"""The parts of `make bench` that can be checked without running it: reading wrk's
report and measuring a process tree's memory."""
import os

import pytest

from bench import run as bench

WRK_OUTPUT = """Running 8s test @ http://127.0.0.1:40000/api/health-check
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.80ms    2.10ms  40.11ms   90.00%
    Req/Sec     4.03k   200.00     4.50k    70.00%
  Latency Distribution
     50%    3.61ms
     75%    4.00ms
     90%    4.90ms
     99%  850.00us
  32240 requests in 8.00s, 6.12MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   4030.12
Transfer/sec:    765.43KB
"""


def test_wrk_report_is_read_with_units(monkeypatch):
    class Done:
        stdout = WRK_OUTPUT
    monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k: Done)
    result = bench.wrk("http://x", 1, 16, 1, os.getpid())
    assert result["rps"] == pytest.approx(4030.12)
    assert result["p50_ms"] == pytest.approx(3.61) and result["p99_ms"] == pytest.approx(0.85)
    assert result["non_2xx"] == 3 and result["peak_rss_mb"] >= 0


def test_rss_counts_this_process():
    assert 10 < bench.rss_mb(os.getpid()) < 2000


def test_targets_are_the_issue_s():
    t = bench.TARGETS
    assert t["notes_throughput_vs_baseline"] == 0.8 and t["notes_throughput_vs_flask"] == 0.85 and t["memory_under_load_mb"] == 150
    assert t["health_throughput_vs_flask"] == 0.95 and t["health_p99_vs_flask"] == 1.3
    assert t["ready_seconds"] == 2.0 and t["standin_cpu_share_max"] == 0.1
