"""Our share of a Lambda cold start (service.yml, Compute=Lambda), measured here; the rest only a deploy shows.

On a cold start Lambda fetches the image, starts the execution environment and the Lambda Web Adapter
(an extension, app/Dockerfile), runs the image's command, and the adapter sends its readiness check, a GET
of AWS_LWA_READINESS_CHECK_PATH every 10 ms (aws-lambda-web-adapter src/lib.rs, `is_web_ready`), until a
2xx; only then does the first request reach the app. What this module measures is the part that is ours:
the image's command (`python entrypoint.py`, as the image runs it, with the function's DRAIN_DELAY=0 and
WEB_CONCURRENCY=1) started, to the first 2xx of the health path, polled every 10 ms on a new connection each
time, like the adapter. On a whole core, and under the CPU share Lambda gives the function's memory ("At
1,769 MB, a function has the equivalent of one vCPU": https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html),
a cgroup quota where this machine allows one.

Not measured, and said so in the table: the platform's share (image fetch, environment and extension start:
CloudWatch's REPORT line gives the whole as Init Duration) and the adapter's per-request overhead (an event
turned into an HTTP request and back): the adapter's binary is in no registry this machine reaches.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from statistics import median

from local.stack import APP_DIR, free_port

if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))
from api.health import HEALTH_PATH, READY_PATH  # noqa: E402

POLL_SECONDS = 0.010  # the adapter's readiness interval
MEMORY_PER_VCPU = 1769  # MB of function memory per vCPU (the Lambda page above)
INIT_LIMIT_SECONDS = 10  # Lambda's init phase; past it the environment is restarted (the adapter's async-init.md)
# What the function's Environment sets for the server (service.yml's Function): one request per environment,
# no hold on SIGTERM (Lambda sends SIGKILL 300 ms after it), no worker watchdog across its freezes.
FUNCTION_SERVER_ENV = {"DRAIN_DELAY": "0", "WEB_CONCURRENCY": "1", "WORKER_TIMEOUT": "0"}
NOT_MEASURED = ("not measured here, only a deploy shows them: the platform's share of a cold start (image fetch, "
                "execution environment and adapter start; CloudWatch's REPORT line has the whole as Init Duration) "
                "and the adapter's per-request overhead (no adapter binary is reachable from this machine)")


def first_2xx(url: str, proc: subprocess.Popen, started: float, timeout: float) -> float:
    """Seconds from `started` to the first 2xx of `url`, asked every POLL_SECONDS as the adapter does."""
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before it was ready")
        asked = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if 200 <= reply.status < 300:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(max(0.0, POLL_SECONDS - (time.monotonic() - asked)))
    raise RuntimeError(f"no 2xx from {url} within {timeout:g} s")


def timed_get(url: str) -> float:
    """Seconds one GET of `url` took (a 2xx, or an error)."""
    asked = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as reply:
        reply.read()
        if not 200 <= reply.status < 300:
            raise RuntimeError(f"{url} answered {reply.status}")
    return time.monotonic() - asked


def start_once(env: dict, group=None, timeout: float = 30) -> tuple[float, float, float, float]:
    """(seconds to the first 2xx, the first request after it, the second, seconds from SIGTERM to exit) of one
    start of the image's command. The requests are the readiness endpoint (every readiness check, DynamoDB's
    included): the first is the one the cold start's caller waits for, its clients made on first use."""
    port = free_port()
    run_env = {**env, **FUNCTION_SERVER_ENV, "PORT": str(port), "HOST": "127.0.0.1"}

    def join_group():
        if group is not None:
            (group / "cgroup.procs").write_text(str(os.getpid()))
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "entrypoint.py"], cwd=APP_DIR, env=run_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=join_group)
    try:
        ready = first_2xx(f"http://127.0.0.1:{port}{HEALTH_PATH}", proc, started, timeout)
        first, second = (timed_get(f"http://127.0.0.1:{port}{READY_PATH}") for _ in range(2))
    finally:
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return ready, first, second, time.monotonic() - stopping


def measure(env: dict, runs: int, memory_mb: int, cpu_quota) -> dict:
    """{"whole core": {...}, "<memory> MB (<vCPU> vCPU)": {...} or {"skipped": why}}, each with the median and
    the worst of `runs` starts, and the stop time (SIGTERM to exit)."""
    out = {"memory_mb": memory_mb, "runs": runs, "poll_ms": POLL_SECONDS * 1000}
    vcpus = round(memory_mb / MEMORY_PER_VCPU, 3)
    for label, cpus in (("whole core", None), (f"{memory_mb} MB ({vcpus} vCPU)", vcpus)):
        with cpu_quota(cpus) as group:
            if cpus and group is None:
                out[label] = {"skipped": "this machine does not let us create a CPU cgroup"}
                continue
            starts = [start_once(env, group) for _ in range(runs)]
        ready, first, second, stops = zip(*starts, strict=True)
        out[label] = {"ready_median_s": round(median(ready), 3), "ready_max_s": round(max(ready), 3),
                      "first_request_median_ms": round(median(first) * 1000, 1),
                      "second_request_median_ms": round(median(second) * 1000, 1),
                      "stop_median_s": round(median(stops), 3)}
    return out


def format_lambda_start(result: dict) -> str:
    lines = [f"Lambda cold start, our share: `python entrypoint.py` started to the first 2xx of {HEALTH_PATH}, "
             f"polled every {result['poll_ms']:g} ms like the adapter's readiness check ({result['runs']} starts):"]
    for label, row in result.items():
        if not isinstance(row, dict):
            continue
        if "skipped" in row:
            lines.append(f"  {label:<24} skipped ({row['skipped']})")
            continue
        lines.append(f"  {label:<24} median {row['ready_median_s']:.2f} s, worst {row['ready_max_s']:.2f} s "
                     f"(Lambda's init limit: {INIT_LIMIT_SECONDS} s); then the first {READY_PATH} "
                     f"{row['first_request_median_ms']:.0f} ms, the second {row['second_request_median_ms']:.0f} ms; "
                     f"SIGTERM to exit {row['stop_median_s']:.2f} s (Lambda sends SIGKILL after 300 ms, to an idle "
                     "environment: nothing in flight is lost)")
    lines.append(f"  {NOT_MEASURED}")
    return "\n".join(lines)
