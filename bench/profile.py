"""Where a notes request's CPU goes: `make bench ARGS=--profile`.

The full app (create_app, as gunicorn serves it, access log included, written
to /dev/null) handles each notes endpoint in this process against the DynamoDB
stand-in, under cProfile on the process's CPU clock (waits for the stand-in do
not count). cProfile's own cost per call, measured on this machine first, is
taken out of each function's time: otherwise botocore's many small calls would
look dearer than they are. Each function's own time goes to a part of the
stack by the file it lives in; time in built-ins and the standard library's
helpers (re, uuid, datetime...) goes to whoever called them. The shares then
split the CPU per request measured without the profiler. The bare boto3
baseline (bench/baseline_app.py, boto3 as it comes) and the same baseline with
the service's tuned client run the same requests unprofiled, for comparison.
"""
from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from collections import defaultdict

# (part, substrings of a code file's path), first match wins.
PARTS = [
    ("routing and Flask", ("/flask/", "/werkzeug/", "/blinker/", "/itsdangerous/", "/markupsafe/")),
    ("validation (pydantic)", ("/pydantic/", "/pydantic_core/")),
    ("boto3: signing", ("/botocore/auth.py", "/botocore/signers.py", "/hmac.py", "/hashlib.py")),
    ("boto3: request building, parsing", ("/botocore/", "/boto3/")),
    ("HTTP client (urllib3, sockets)", ("/urllib3/", "/http/client.py", "/socket.py", "/email/", "/selectors.py")),
    ("JSON", ("/json/",)),
    ("logging", ("/logging/", "/api/logs.py")),
    ("our code", ("/api/", "/bench/baseline_app.py")),
]
OTHER = "other"


def part_of(filename: str) -> str | None:
    for part, needles in PARTS:
        if any(n in filename for n in needles):
            return part
    return None


def split(stats: dict, per_call: float = 0.0) -> dict[str, float]:
    """Own time by part, less `per_call` for each call; unplaced functions' time follows their callers."""
    memo: dict = {}

    def shares(func, seen=frozenset()) -> dict[str, float]:
        if func in memo:
            return memo[func]
        part = part_of(func[0]) if func[0] != "~" else None
        if part:
            return {part: 1.0}
        callers = stats.get(func, (0, 0, 0, 0, {}))[4]
        if not callers or func in seen or len(seen) > 30:
            return {OTHER: 1.0}
        weights = {c: v[2] + v[0] * 1e-9 for c, v in callers.items()}  # the time spent for each caller
        total = sum(weights.values())
        out: dict[str, float] = defaultdict(float)
        for caller, weight in weights.items():
            for p, s in shares(caller, seen | {func}).items():
                out[p] += s * weight / total
        memo[func] = dict(out)
        return memo[func]

    totals: dict[str, float] = defaultdict(float)
    for func, (_cc, nc, tt, _ct, _callers) in stats.items():
        own = max(0.0, tt - nc * per_call)
        for p, s in shares(func).items():
            totals[p] += own * s
    return dict(totals)


def _environs(method: str, path: str, count: int, body: bytes | None = None) -> list[dict]:
    from werkzeug.test import EnvironBuilder
    headers = {"Content-Type": "application/json"} if body else {}
    return [EnvironBuilder(path=path.split("?")[0], query_string=path.partition("?")[2], method=method,
                           data=body, headers=headers, base_url="http://127.0.0.1:8000").get_environ()
            for _ in range(count)]


def _drive(app, environs: list[dict]) -> None:
    def start_response(status, headers, exc_info=None):
        if status[0] not in "23":
            raise RuntimeError(f"the profiled app answered {status}")
    for environ in environs:
        for _ in app(environ, start_response):
            pass


def _cpu_us(app, method: str, path: str, data: bytes | None, requests: int) -> float:
    environs = _environs(method, path, requests, data)
    started = time.process_time()
    _drive(app, environs)
    return (time.process_time() - started) / requests * 1e6


def profile(endpoint_url: str, requests: int = 1000, timed: int = 500, rounds: int = 3) -> dict:
    """{endpoint: {cpu_us, baseline_cpu_us, tuned_baseline_cpu_us, parts: {part: share}}}, notes endpoints.

    `requests` run under cProfile; `timed` run unprofiled, `rounds` times, for the CPU per request."""
    from statistics import median

    from local.stack import APP_DIR, FAKE_CREDENTIALS
    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.update({"AWS_ENDPOINT_URL_DYNAMODB": endpoint_url, "AWS_REGION": "us-east-1", "NOTES_TABLE": "notes"})
    stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # the access log's handler keeps this stream
    try:
        from api import create_app
        from api.config import Settings
        from api.dynamodb import new_client

        from bench import baseline_app
        app = create_app(Settings(notes_table="notes", aws_region="us-east-1", dynamodb_endpoint_url=endpoint_url,
                                  log_level="INFO"))
        body = b'{"text": "a note written by make bench"}'
        _drive(app, _environs("POST", "/api/notes", 25, body))  # warm up: the client, the table's notes
        note_id = app.test_client().post("/api/notes", json={"text": "profiled"}).get_json()["id"]
        requests_for = {"POST /api/notes": ("POST", "/api/notes", body),
                        "GET /api/notes/<id>": ("GET", f"/api/notes/{note_id}", None),
                        "GET /api/notes?limit=20": ("GET", "/api/notes?limit=20", None)}
        out = {}
        for endpoint, (method, path, data) in requests_for.items():
            cpu: dict[str, list[float]] = {"service": [], "baseline": [], "tuned": []}
            for _ in range(rounds):  # alternating, like the wrk runs
                for name in cpu:
                    if name == "tuned":
                        baseline_app._client = new_client("us-east-1", endpoint_url)
                    elif name == "baseline":
                        baseline_app._client = baseline_app.stock_client("us-east-1", endpoint_url)  # boto3 as it comes
                    target = app if name == "service" else baseline_app.app
                    _drive(target, _environs(method, path, 20, data))
                    cpu[name].append(_cpu_us(target, method, path, data, timed))
            environs = _environs(method, path, requests, data)
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            _drive(app, environs)
            profiler.disable()
            stats = pstats.Stats(profiler, stream=io.StringIO()).stats
            # The profiler's own cost, spread evenly over the calls it timed: what the profiled run took
            # beyond the unprofiled one.
            calls = sum(v[1] for v in stats.values())
            per_call = max(0.0, (sum(v[2] for v in stats.values()) - median(cpu["service"]) * requests / 1e6) / calls)
            parts = split(stats, per_call)
            total = sum(parts.values()) or 1
            out[endpoint] = {"cpu_us": round(median(cpu["service"])), "baseline_cpu_us": round(median(cpu["baseline"])),
                             "tuned_baseline_cpu_us": round(median(cpu["tuned"])),
                             "calls": round(calls / requests), "cprofile_us_per_call": round(per_call * 1e6, 2),
                             "parts": {p: round(v / total, 3) for p, v in sorted(parts.items(), key=lambda kv: -kv[1])}}
        baseline_app._client = None
        return {"requests": requests, "endpoints": out}
    finally:
        sys.stdout.close()
        sys.stdout = stdout


def format_profile(result: dict) -> str:
    names = [p for p, _ in PARTS] + [OTHER]
    endpoints = result["endpoints"]
    lines = [f"where a notes request's CPU goes in the service (in-process, outside gunicorn; cProfile over "
             f"{result['requests']} requests each, its own cost taken out per call; us of CPU per request measured "
             "without it):",
             f"  {'part':<34}" + "".join(f"{e:>26}" for e in endpoints)]
    for name in names:
        if any(endpoints[e]["parts"].get(name) for e in endpoints):
            lines.append(f"  {name:<34}" + "".join(
                f"{e['parts'].get(name, 0.0) * e['cpu_us']:>17.0f} us {e['parts'].get(name, 0.0):>5.0%}"
                for e in endpoints.values()))
    for label, key in (("total, service", "cpu_us"), ("total, baseline, boto3 as it comes", "baseline_cpu_us"),
                       ("total, baseline (service's client)", "tuned_baseline_cpu_us")):
        lines.append(f"  {label:<34}" + "".join(f"{e[key]:>20.0f} us  " for e in endpoints.values()))
    lines.append(f"  {'profiled calls per request':<34}" + "".join(
        f"{e['calls']:>15} ({e['cprofile_us_per_call']:.2f} us)" for e in endpoints.values()))
    return "\n".join(lines)
