"""The server, chosen by measurement: the notes service under each candidate WSGI server, side by side.

- gevent: gunicorn's gevent worker, as shipped (app/gunicorn.conf.py);
- gthread: gunicorn's gthread worker, 1 x 8 threads, the same file otherwise (GUNICORN_CMD_ARGS);
- waitress: waitress-serve, 8 threads, its connection limit and head limit set like the shipped ones.

For each: health-check and GET /api/notes/<id> throughput and p99 with wrk (whole core and under the
0.25 vCPU quota), then slow and stalled clients of every kind, one kind per fresh server under the quota
(the task's size): the health check's worst latency while they hold on (a probe like app/healthcheck.py:
a new connection, 2 s timeout; a miss is a probe that failed) and the server's peak resident memory.
Everything on 127.0.0.1, bounded in count (a few thousand sockets) and time (seconds per kind).
"""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request

from local.stack import APP_DIR

if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))
from api.config import Settings  # noqa: E402

SETTINGS = Settings()  # the shipped defaults (app/api/config.py)

HEAD = b"GET /api/health-check HTTP/1.1\r\nHost: x\r\n"
POST = b"POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
# (what an attacker sends before it stalls, how many attackers). tests/server/test_slow_clients.py holds
# the shipped server to the same kinds.
ATTACKS = {
    "slow head (64)": (HEAD + b"X-Slow: a", 64),
    "slow body (64)": (POST + b"Content-Length: 1000\r\n\r\n{\"text\": \"", 64),
    "byte of next request (64)": (HEAD + b"\r\n", 64),
    "chunk line > 1 KiB (64)": (POST + b"Transfer-Encoding: chunked\r\n\r\n" + b"0" * 2048, 64),
    "chunked over limit (64)": (POST + b"Transfer-Encoding: chunked\r\n\r\n100000\r\n{\"text\": \"", 64),
    "trailers (64)": (POST + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer: a", 64),
    "idle + half-closed (2000)": (b"", 2000),
    "135 KB heads (3000)": (HEAD + b"".join(b"X-H%03d: %s\r\n" % (i, b"a" * 1000) for i in range(135)), 3000),
    # The largest head the shipped limits let through (the longest request line, as many fields as
    # LIMIT_REQUEST_FIELDS allows with Host one of them, each as long as LIMIT_REQUEST_FIELD_SIZE allows),
    # held by 2,000 connections, just under WORKER_CONNECTIONS: the memory bound of docs/performance.md,
    # measured. The same head as tests/server/test_slow_clients.py's.
    "largest heads held (2000)": (b"GET /api/health-check?" + b"a" * (SETTINGS.limit_request_line - 40)
                                  + b" HTTP/1.1\r\nHost: x\r\n"
                                  + b"".join(b"X-H%03d: %s\r\n" % (i, b"a" * (SETTINGS.limit_request_field_size - 8))
                                             for i in range(SETTINGS.limit_request_fields - 1)), 2000),
}
PROBES = 5


def candidates(port: int) -> dict[str, tuple[list[str], dict]]:
    """{name: (command, extra environment)}, each run in app/ as the image runs it."""
    gunicorn = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
    return {
        "gevent (shipped)": (gunicorn, {}),
        "gthread 1 x 8": (gunicorn, {"GUNICORN_CMD_ARGS": "--worker-class gthread --threads 8"}),
        "waitress 8 threads": ([sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=8",
                                "--connection-limit=2048", "--max-request-header-size=41000", "api.wsgi:app"], {}),
    }


def probe(url: str) -> float | None:
    """Seconds a health check took on a new connection, None if it failed within its 2 s."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            r.read()
            return time.monotonic() - started if r.status == 200 else None
    except OSError:
        return None


def attack(host: str, port: int, payload: bytes, count: int, kind: str) -> list[socket.socket]:
    socks = []
    for i in range(count):
        try:
            sock = socket.create_connection((host, port), timeout=2)
        except OSError:
            break  # the server stopped accepting: the probes say what that costs
        socks.append(sock)
        try:
            if kind.startswith("idle"):
                if i % 2:
                    sock.sendall(b"GET /api/heal")
                    sock.shutdown(socket.SHUT_WR)
            else:
                sock.sendall(payload)
                if kind.startswith("byte of next"):
                    sock.recv(65536)
                    sock.sendall(b"G")
        except OSError:
            pass  # refused (431, 400) and closed: that is the defence working
    return socks


def measure_attacks(start, rss_mb) -> dict:
    """{kind: {worst_ms, misses, peak_rss_mb}}; start() gives a started server (url, pid, stop)."""
    out = {}
    for kind, (payload, count) in ATTACKS.items():
        url, pid, stop = start()
        peak, done = [rss_mb(pid)], threading.Event()

        def sample(peak=peak, done=done, pid=pid):
            while not done.wait(0.1):
                peak[0] = max(peak[0], rss_mb(pid))
        sampler = threading.Thread(target=sample)
        sampler.start()
        socks = []
        try:
            host, port = url.split("//")[1].split(":")
            socks = attack(host, int(port), payload, count, kind)
            time.sleep(0.5)
            results = [probe(url + "/api/health-check") for _ in range(PROBES)]
        finally:
            for sock in socks:
                sock.close()
            done.set()
            sampler.join()
            stop()
        ok = [r for r in results if r is not None]
        out[kind] = {"worst_ms": round(max(ok) * 1000, 1) if ok else None, "misses": len(results) - len(ok),
                     "probes": len(results), "peak_rss_mb": round(peak[0], 1)}
    return out


def format_servers(rows: dict) -> str:
    lines = ["servers (the notes service under each), req/s and p99 ms:",
             f"  {'server':<20}{'cpu':<12}{'health req/s':>13}{'p99':>8}{'notes req/s':>13}{'p99':>8}{'peak MB':>9}"]
    for name, by_cpu in rows.items():
        for cpu, r in by_cpu["load"].items():
            lines.append(f"  {name:<20}{cpu:<12}{r['health']['rps']:>13.0f}{r['health']['p99_ms']:>8.1f}"
                         f"{r['read']['rps']:>13.0f}{r['read']['p99_ms']:>8.1f}"
                         f"{max(r['health']['peak_rss_mb'], r['read']['peak_rss_mb']):>9.0f}")
    lines += ["", "slow clients, 0.25 vCPU: health check worst ms (misses of probes), peak MB:"]
    kinds = list(ATTACKS)
    for name, by_cpu in rows.items():
        lines.append(f"  {name}:")
        for kind in kinds:
            a = by_cpu["attacks"][kind]
            worst = "-" if a["worst_ms"] is None else f"{a['worst_ms']:.0f}"
            lines.append(f"    {kind:<28}{worst:>7} ms  ({a['misses']}/{a['probes']} missed)  {a['peak_rss_mb']:>6.0f} MB")
    return "\n".join(lines)


def start_server(name: str, env: dict, group, server_cpus, free_port) -> tuple[str, int, object]:
    """One candidate started in app/ (in the cgroup when given); (url, pid, stop)."""
    import os
    port = free_port()
    command, extra = candidates(port)[name]
    run_env = {**env, **extra, "PORT": str(port), "HOST": "127.0.0.1"}

    def join():
        if server_cpus:
            os.sched_setaffinity(0, server_cpus)
        if group is not None:
            (group / "cgroup.procs").write_text(str(os.getpid()))
    proc = subprocess.Popen(command, cwd=APP_DIR, env=run_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=join)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while probe(url + "/api/health-check") is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.05)

    def stop():
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return url, proc.pid, stop


def compare(env: dict, note_id: str, seconds: float, connections: int, quota: float, cpu_quota, wrk, rss_mb,
            free_port, server_cpus) -> dict:
    """Side by side: throughput (whole core, quota) and the attacks (quota), per candidate server."""
    from functools import partial
    rows: dict = {}
    for name in candidates(0):
        rows[name] = {"load": {}, "attacks": {}}
        for label, cpus in (("whole core", None), (f"{quota:g} vCPU", quota)):
            with cpu_quota(cpus) as group:
                if cpus and group is None:
                    continue
                start = partial(start_server, name, env, group, server_cpus, free_port)
                url, pid, stop = start()
                try:
                    rows[name]["load"][label] = {
                        "health": wrk(url + "/api/health-check", seconds, connections, 1, pid),
                        "read": wrk(f"{url}/api/notes/{note_id}", seconds, connections, 1, pid)}
                finally:
                    stop()
                if cpus:  # the attacks at the task's size
                    rows[name]["attacks"] = measure_attacks(start, rss_mb)
    return rows
