"""`make bench`: the service as shipped against the ceiling of its stack.

The real gunicorn with app/gunicorn.conf.py and the full Flask app (request
ids, JSON logs, error handling) runs beside reference apps under the same
gunicorn settings, and Debian's wrk loads each in turn on loopback, alternating
round by round, so a busy machine shifts all of them alike:

- the health check against a bare WSGI function (the stack's ceiling, a figure)
  and a minimal Flask app with a request-id hook (the framework's floor: the
  verdicts);
- the notes API (POST /api/notes, GET /api/notes/<id>, GET /api/notes?limit=20)
  against bench/baseline_app.py: the same DynamoDB calls with boto3 as it comes,
  without Flask, pydantic or our logging (the verdicts); beside it, as figures, the
  same baseline with the service's tuned client (the ceiling) and the minimal Flask
  app making those calls with that client (Flask's floor on this work).

DynamoDB is bench/dynamodb.py, an in-memory stand-in pinned to the load
generator's core; its CPU use during the notes runs is reported as a verdict
(headroom), so a figure is never the stand-in's limit. Reported: throughput,
p50/p99 latency, peak resident memory (master + workers), time from start to
the first 200, on a whole core and under a cgroup quota of 0.25 vCPU (the
smallest Fargate task), the notes rate one task sustains at CpuTarget, and
where a notes request's CPU goes (bench/profile.py). Table on stdout, JSON in
reports/bench.json; `--publish` writes docs/performance.md's figures from that JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from statistics import median

from local.stack import APP_DIR, FAKE_CREDENTIALS, child_pids, free_port
from scripts.common import ROOT, OpsError, run_cli

CGROUP = Path("/sys/fs/cgroup/cpu")
# With two or more cores the servers get one, and wrk and the DynamoDB stand-in the other, so the
# load generator never steals the measured server's CPU.
SERVER_CPUS = {1} if (os.cpu_count() or 1) >= 2 else None
LOAD_CPUS = {0} if (os.cpu_count() or 1) >= 2 else None
# notes vs the baseline: issue 12; notes vs the minimal Flask app making the same calls: issue 16 (the
# idiomatic sample keeps at least 0.85x of Flask's floor); the rest: issues 6 and 12.
TARGETS = {"notes_throughput_vs_baseline": 0.8, "notes_throughput_vs_flask": 0.85, "health_throughput_vs_flask": 0.95,
           "health_p99_vs_flask": 1.3, "memory_under_load_mb": 150, "ready_seconds": 2.0, "standin_cpu_share_max": 0.1}
TABLE = "notes"
REGION = "us-east-1"
# The notes endpoints and their request mix for the capacity figure: scripts/prices.toml assumes
# 90% reads; they are split evenly between one note and a page of 20.
NOTES = {"create": ("POST /api/notes", 0.1), "read": ("GET /api/notes/<id>", 0.45),
         "list": ("GET /api/notes?limit=20", 0.45)}
ENDPOINTS = {"health": ("GET /api/health-check", ("bare", "flask", "service")),
             **{key: (label, ("baseline", "ceiling", "flask", "service")) for key, (label, _) in NOTES.items()}}
# The servers: (WSGI app, extra environment); None is the service. The ceiling and the minimal Flask app
# make the baseline's calls with the service's tuned client.
SERVERS = {"service": (None, {}), "bare": ("bench.bare_app:app", {}),
           "flask": ("bench.minimal_flask_app:app", {"BASELINE_CLIENT": "tuned"}),
           "baseline": ("bench.baseline_app:app", {}),
           "ceiling": ("bench.baseline_app:app", {"BASELINE_CLIENT": "tuned"})}
POST_SCRIPT = """wrk.method = "POST"
wrk.body = '{"text": "a note written by make bench"}'
wrk.headers["Content-Type"] = "application/json"
"""
_LAT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(root_pid: int) -> float:
    """Resident memory of a process and its children (gunicorn's master and workers)."""
    total = 0
    for pid in (root_pid, *child_pids(root_pid)):
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return total / 2 ** 20


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def tree_cpu_seconds(root_pid: int) -> float:
    total = 0.0
    for pid in (root_pid, *child_pids(root_pid)):
        try:
            total += cpu_seconds(pid)
        except (OSError, ValueError, IndexError):
            continue
    return total


@contextmanager
def cpu_quota(cpus: float | None):
    """A cgroup v1 CPU quota standing in for a Fargate task's vCPUs; None when not allowed here."""
    if not cpus:
        yield None
        return
    group = CGROUP / f"bench-{os.getpid()}"
    try:
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text(str(int(cpus * 100000)))
    except OSError:
        yield None
        return
    try:
        yield group
    finally:
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise OpsError(f"{what} exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise OpsError(f"{what} did not listen within {timeout:g} s")


class StandIn:
    """bench/dynamodb.py in its own process, on the load generator's core."""

    def __init__(self):
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StandIn:
        args = [sys.executable, "-m", "bench.dynamodb", "--port", str(self.port), "--table", TABLE]
        if LOAD_CPUS:
            args += ["--cpu", str(min(LOAD_CPUS))]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc, "the DynamoDB stand-in")
        return self

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def server_env(standin: StandIn) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, **FAKE_CREDENTIALS, "NOTES_TABLE": TABLE, "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_DYNAMODB": standin.url, "APP_VERSION": "bench"}


class Server:
    """gunicorn with the shipped config, serving `app` (the service, or a reference app)."""

    def __init__(self, name: str, env: dict, app: str | None = None, group: Path | None = None,
                 extra_args: tuple[str, ...] = ()):
        self.name, self.port = name, free_port()
        self.env = {**env, "PORT": str(self.port), "HOST": "127.0.0.1", "PYTHONPATH": str(ROOT)}
        self.args = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", *extra_args]
        if app:
            self.args.append(app)
        self.group = group
        self.proc: subprocess.Popen | None = None
        self.ready_seconds = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        group = self.group

        def join_group():
            if SERVER_CPUS:
                os.sched_setaffinity(0, SERVER_CPUS)
            if group is not None:
                (group / "cgroup.procs").write_text(str(os.getpid()))
        started = time.monotonic()
        self.proc = subprocess.Popen(self.args, cwd=APP_DIR, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=join_group)
        deadline = started + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/api/health-check", timeout=1) as r:
                    if r.status == 200:
                        self.ready_seconds = time.monotonic() - started
                        return self
            except OSError:
                time.sleep(0.005)
        raise OpsError(f"{self.name} did not answer within 30 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)


def wrk(url: str, seconds: float, connections: int, threads: int, pid: int, script: Path | None = None,
        standin: StandIn | None = None) -> dict:
    """One wrk run; the server's peak memory and, when given, the stand-in's share of its core."""
    peak = [0.0]
    done = threading.Event()

    def sample():
        while not done.wait(0.1):
            peak[0] = max(peak[0], rss_mb(pid))
    sampler = threading.Thread(target=sample)
    sampler.start()
    cpu_before, started = (standin.cpu() if standin else 0.0), time.monotonic()
    server_cpu_before = tree_cpu_seconds(pid)
    try:
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--latency",
                              *(["-s", str(script)] if script else []), url],
                             capture_output=True, text=True, timeout=seconds + 60,
                             preexec_fn=(lambda: os.sched_setaffinity(0, LOAD_CPUS)) if LOAD_CPUS else None).stdout
    finally:
        done.set()
        sampler.join()
    elapsed = time.monotonic() - started
    server_cpu = tree_cpu_seconds(pid) - server_cpu_before
    requests = re.search(r"(\d+) requests in", out)
    latency = {f"p{m.group(1)}_ms": float(m.group(2)) * _UNITS[m.group(3)] for m in _LAT.finditer(out)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    result = {"rps": float(_RPS.search(out).group(1)), **latency, "peak_rss_mb": round(peak[0], 1),
              "non_2xx": int(errors.group(1)) if errors else 0,
              "socket_errors": socket_errors.group(1) if socket_errors else ""}
    if requests and int(requests.group(1)):
        # CPU the server used per request: what throughput would be with the core to itself.
        result["cpu_us_per_request"] = round(server_cpu / int(requests.group(1)) * 1e6)
    if standin:
        result["standin_cpu_share"] = round((standin.cpu() - cpu_before) / elapsed, 3)
    return result


def _socket_errors(text: str) -> int:
    """wrk's "Socket errors: connect 0, read 3, write 0, timeout 1" as a count."""
    return sum(int(n) for n in re.findall(r"\d+", text))


def _summary(runs: list[dict]) -> dict:
    out = {"rps": median(r["rps"] for r in runs), "p50_ms": median(r["p50_ms"] for r in runs),
           "p99_ms": median(r["p99_ms"] for r in runs), "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
           # wrk counts socket errors apart from non-2xx answers: both are requests that did not succeed.
           "non_2xx": sum(r["non_2xx"] + _socket_errors(r.get("socket_errors", "")) for r in runs)}
    if all("cpu_us_per_request" in r for r in runs):
        out["cpu_us_per_request"] = median(r["cpu_us_per_request"] for r in runs)
    if "standin_cpu_share" in runs[0]:
        out["standin_cpu_share"] = max(r["standin_cpu_share"] for r in runs)
    return out


def seed(base_url: str, count: int = 25) -> str:
    """Notes for the reads to find; returns one id."""
    note_id = ""
    for i in range(count):
        req = urllib.request.Request(base_url + "/api/notes", method="POST",
                                     data=json.dumps({"text": f"bench note {i}"}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            note_id = json.loads(r.read())["id"]
    return note_id


def measure(standin: StandIn, note_id: str, post_script: Path, seconds: float, rounds: int, connections: int,
            threads: int, cpus: float | None) -> dict:
    env = server_env(standin)
    paths = {"health": "/api/health-check", "create": "/api/notes", "read": f"/api/notes/{note_id}",
             "list": "/api/notes?limit=20"}
    with cpu_quota(cpus) as group:
        if cpus and group is None:
            return {"skipped": "this machine does not let us create a CPU cgroup"}
        servers = {}
        try:
            # The service starts first, on a quiet machine: its start-up time is a target.
            for name, (app, extra) in SERVERS.items():
                servers[name] = Server(name, {**env, **extra}, app, group).start()
            result = {"ready_seconds": {n: round(s.ready_seconds, 3) for n, s in servers.items()},
                      "idle_rss_mb": {n: round(rss_mb(s.proc.pid), 1) for n, s in servers.items()}}
            runs = {key: {name: [] for name in names} for key, (_, names) in ENDPOINTS.items()}
            for round_ in range(rounds):  # alternate, so all see the same machine; every other round
                for key, (_, names) in ENDPOINTS.items():  # backwards, so neither always goes first
                    for name in (names if round_ % 2 == 0 else names[::-1]):
                        server = servers[name]
                        runs[key][name].append(wrk(
                            server.url + paths[key], seconds, connections, threads, server.proc.pid,
                            post_script if key == "create" else None, standin if key in NOTES else None))
            for key, by_name in runs.items():
                result[key] = {name: _summary(rs) for name, rs in by_name.items()}
                s = result[key]["service"]
                ref = result[key]["flask" if key == "health" else "baseline"]
                result[key]["ratios"] = {"throughput": round(s["rps"] / ref["rps"], 3),
                                         "p50": round(s["p50_ms"] / ref["p50_ms"], 2),
                                         "p99": round(s["p99_ms"] / ref["p99_ms"], 2)}
                if key == "health":
                    result[key]["ratios"]["service_vs_bare"] = round(s["rps"] / result[key]["bare"]["rps"], 3)
                    result[key]["ratios"]["flask_vs_bare"] = round(
                        result[key]["flask"]["rps"] / result[key]["bare"]["rps"], 3)
                else:  # figures beside the verdict: against the same calls with the service's client
                    ceiling = result[key]["ceiling"]["rps"]
                    result[key]["ratios"]["service_vs_ceiling"] = round(s["rps"] / ceiling, 3)
                    result[key]["ratios"]["flask_vs_ceiling"] = round(result[key]["flask"]["rps"] / ceiling, 3)
                    result[key]["ratios"]["service_vs_flask"] = round(s["rps"] / result[key]["flask"]["rps"], 3)
            return result
        finally:
            for server in servers.values():
                server.stop()


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"cpu": cpu, "cores": os.cpu_count(), "arch": platform.machine(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d"), "load_at_start": load}


def cpu_target() -> int:
    """CpuTarget's default in service.yml (what a block that sets none gets): the CPU share autoscaling keeps a task at."""
    from blueprint.templates import load
    return int(load(ROOT / "service.yml")["Parameters"]["CpuTarget"]["Default"])


def capacity(quota: dict, target: int) -> dict:
    """Notes requests/s one 0.25 vCPU task serves: flat out, and at CpuTarget (the NOTES mix)."""
    if "skipped" in quota:
        return {}
    per_request = sum(share / quota[key]["service"]["rps"] for key, (_, share) in NOTES.items())
    full = 1 / per_request
    return {"mix": {NOTES[k][0]: share for k, (_, share) in NOTES.items()}, "cpu_target": target,
            "rps_at_full_quota": round(full, 1), "rps_at_cpu_target": round(full * target / 100, 1)}


def verdict(report: dict) -> list[tuple[str, str, bool]]:
    """Each target, judged on a whole core and (when it ran) under the 0.25 vCPU quota."""
    out, standin = [], []
    for label, full in (("whole core", report["full"]), ("0.25 vCPU", report["quota"])):
        if "skipped" in full:
            continue
        for key, (endpoint, _) in NOTES.items():
            ratio = full[key]["ratios"]["throughput"]
            # A fast error is not throughput: any non-2xx answer (or socket error) fails the verdict, from any
            # server of the endpoint (the ceiling's and Flask's figures stand beside it).
            failed = {name: r["non_2xx"] for name, r in full[key].items() if name != "ratios" and r["non_2xx"]}
            out.append((f"{label}: notes {endpoint} throughput vs bare boto3 baseline (boto3 as it comes) >= 0.8",
                        f"{ratio:.2f}" + (f" ({failed} non-2xx)" if failed else ""),
                        ratio >= TARGETS["notes_throughput_vs_baseline"] and not failed))
            vs_flask = full[key]["ratios"]["service_vs_flask"]
            out.append((f"{label}: notes {endpoint} throughput vs minimal Flask app making the same calls >= 0.85",
                        f"{vs_flask:.2f}", vs_flask >= TARGETS["notes_throughput_vs_flask"] and not failed))
            standin += [r["standin_cpu_share"] for r in full[key].values() if "standin_cpu_share" in r]
        health = full["health"]["ratios"]
        memory = max(full[key]["service"]["peak_rss_mb"] for key in ENDPOINTS)
        ready = full["ready_seconds"]["service"]
        out += [
            (f"{label}: health check vs minimal Flask app, throughput >= 0.95x", f"{health['throughput']:.2f}x",
             health["throughput"] >= TARGETS["health_throughput_vs_flask"]),
            (f"{label}: health check vs minimal Flask app, p99 <= 1.3x", f"{health['p99']:.2f}x",
             health["p99"] <= TARGETS["health_p99_vs_flask"]),
            (f"{label}: memory under load <= 150 MB", f"{memory:.0f} MB", memory <= TARGETS["memory_under_load_mb"]),
            (f"{label}: start to first 200 < 2 s", f"{ready:.2f} s", ready < TARGETS["ready_seconds"]),
        ]
    if standin:
        busiest = max(standin)
        out.append(("stand-in: busiest share of its core in any notes run <= 10% (headroom >= 10x)",
                    f"{busiest:.0%} ({1 / max(busiest, 0.001):.0f}x)", busiest <= TARGETS["standin_cpu_share_max"]))
    return out


def _rows(report: dict):
    for label, full in (("whole core", report["full"]), ("0.25 vCPU quota", report["quota"])):
        if "skipped" in full:
            continue
        for key, (endpoint, names) in ENDPOINTS.items():
            for name in names:
                yield label, endpoint, name, full[key][name]


def table(report: dict) -> str:
    m, st = report["machine"], report["settings"]
    lines = [f"make bench on {m['cpu']} ({m['cores']} cores, load {m['load_at_start']}), {st['seconds']:g} s x "
             f"{st['rounds']} rounds, {st['connections']} connections"]
    for label, full in (("whole core", report["full"]), ("0.25 vCPU quota", report["quota"])):
        if "skipped" in full:
            lines += ["", f"{label}: skipped ({full['skipped']})"]
            continue
        lines += ["", f"{label}:", f"  {'endpoint':<26}{'server':<9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
                  f"{'peak MB':>9}{'non-2xx':>9}{'CPU us':>8}{'stand-in':>10}"]
        for key, (endpoint, names) in ENDPOINTS.items():
            for name in names:
                r = full[key][name]
                share = f"{r['standin_cpu_share']:.0%}" if "standin_cpu_share" in r else ""
                lines.append(f"  {endpoint:<26}{name:<9}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                             f"{r['peak_rss_mb']:>9.1f}{r['non_2xx']:>9}{r.get('cpu_us_per_request', 0):>8.0f}{share:>10}")
            ratio = full[key]["ratios"]
            ref = "minimal Flask" if key == "health" else "baseline"
            lines.append(f"  {'':<26}{'ratio':<9}{ratio['throughput']:>9.2f}{ratio['p50']:>9.2f}{ratio['p99']:>9.2f}"
                         f"   (service / {ref})")
            if key == "health":
                lines.append(f"  {'':<26}service / bare {ratio['service_vs_bare']:.2f}, "
                             f"minimal Flask / bare {ratio['flask_vs_bare']:.2f}")
            else:
                lines.append(f"  {'':<26}service / ceiling {ratio['service_vs_ceiling']:.2f}, "
                             f"minimal Flask / ceiling {ratio['flask_vs_ceiling']:.2f}")
        lines.append("  idle memory: " + ", ".join(f"{n} {v} MB" for n, v in full["idle_rss_mb"].items())
                     + "; start to first 200: " + ", ".join(f"{n} {v:.2f} s" for n, v in full["ready_seconds"].items()))
    cap = report.get("capacity")
    if cap:
        lines += ["", f"one 0.25 vCPU task, notes mix ({', '.join(f'{v:.0%} {k}' for k, v in cap['mix'].items())}): "
                      f"{cap['rps_at_full_quota']:,.0f} req/s flat out, {cap['rps_at_cpu_target']:,.0f} req/s at "
                      f"CpuTarget={cap['cpu_target']}%"]
    if report.get("servers"):
        from bench.servers import format_servers
        lines += ["", format_servers(report["servers"])]
    if report.get("profile"):
        from bench.profile import format_profile
        lines += ["", format_profile(report["profile"])]
    if report.get("lambda_start"):
        from bench.lambda_start import format_lambda_start
        lines += ["", format_lambda_start(report["lambda_start"])]
    lines += ["", "targets:"]
    for name, value, ok in report["verdict"]:
        lines.append(f"  {'met ' if ok else 'MISS'} {name}: {value}")
    return "\n".join(lines)


def run(args) -> dict:
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        raise OpsError("wrk is missing: `make bench` installs it (python scripts/system_deps.py wrk)")
    settings = {"seconds": args.seconds, "rounds": args.rounds, "connections": args.connections,
                "wrk_threads": args.threads}
    report = {"machine": machine(), "settings": settings, "targets": TARGETS}
    standin = StandIn().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            post_script = Path(tmp) / "post.lua"
            post_script.write_text(POST_SCRIPT)
            seeder = Server("seed", server_env(standin)).start()
            try:
                note_id = seed(seeder.url)
            finally:
                seeder.stop()
            common = (standin, note_id, post_script, args.seconds, args.rounds, args.connections, args.threads)
            report["full"] = measure(*common, None)
            report["quota"] = measure(*common, args.quota) if args.quota else {"skipped": "--quota 0"}
            if args.servers:
                from bench.servers import compare
                report["servers"] = compare(server_env(standin), note_id, args.seconds, args.connections,
                                            args.quota or 0.25, cpu_quota, wrk, rss_mb, free_port, SERVER_CPUS)
        from bench.profile import profile
        report["profile"] = profile(standin.url, args.profile_requests)
        if args.lambda_starts:
            from bench.lambda_start import measure as lambda_start
            report["lambda_start"] = lambda_start(server_env(standin), args.lambda_starts, args.lambda_memory, cpu_quota)
    finally:
        standin.stop()
    report["capacity"] = capacity(report["quota"], cpu_target())
    report["verdict"] = verdict(report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "6")))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads (on their own core)")
    parser.add_argument("--quota", type=float, default=0.25, help="CPUs for the quota run; 0 skips it")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench.json")
    parser.add_argument("--no-servers", dest="servers", action="store_false",
                        help="skip the side-by-side servers and slow clients (bench/servers.py)")
    parser.add_argument("--profile", action="store_true", help="only where a notes request's CPU goes")
    parser.add_argument("--profile-requests", type=int, default=1000, help="requests per endpoint profiled")
    parser.add_argument("--lambda-starts", type=int, default=5,
                        help="starts timed for our share of a Lambda cold start (bench/lambda_start.py); 0 skips")
    parser.add_argument("--lambda-memory", type=int, default=512, help="the function's memory (MB): its CPU share")
    parser.add_argument("--lambda", dest="lambda_only", action="store_true",
                        help="only our share of a Lambda cold start")
    parser.add_argument("--publish", type=Path, metavar="REPORT",
                        help="write docs/performance.md's figures (and bench/published.json) from a report")
    args = parser.parse_args(argv)
    if args.publish:
        from bench.publish import publish
        publish(args.publish)
        return 0
    if args.lambda_only:
        from bench.lambda_start import format_lambda_start, measure
        standin = StandIn().start()
        try:
            print(format_lambda_start(measure(server_env(standin), args.lambda_starts or 5, args.lambda_memory,
                                              cpu_quota)))
        finally:
            standin.stop()
        return 0
    if args.profile:
        from bench.profile import format_profile, profile
        standin = StandIn().start()
        try:
            print(format_profile(profile(standin.url, args.profile_requests)))
        finally:
            standin.stop()
        return 0
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(table(report))
    print(f"\nJSON: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
