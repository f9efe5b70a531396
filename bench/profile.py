"""Where a notes request's CPU goes: `make bench ARGS=--profile`.

The full app (create_app, as gunicorn serves it, access log included and written
to /dev/null) handles each notes endpoint in this process, against the DynamoDB
stand-in, under cProfile on the process's CPU clock (waits for the stand-in do
not count). Each function's own time goes to a part of the stack by the file it
lives in; time in built-ins and in the standard library's helpers (re, uuid,
datetime...) goes to whoever called them. The baseline app (bench/baseline_app.py)
runs the same requests unprofiled, for comparison.
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
    ("logging", ("/logging/", "/pythonjsonlogger/", "/api/logs.py")),
    ("our code", ("/api/",)),
]
OTHER = "other"
ENDPOINTS = ("POST /api/notes", "GET /api/notes/<id>", "GET /api/notes?limit=20")


def part_of(filename: str) -> str | None:
    for part, needles in PARTS:
        if any(n in filename for n in needles):
            return part
    return None


def split(stats: dict) -> dict[str, float]:
    """Self time by part; unplaced functions' time follows their callers (in proportion)."""
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
        weights = {c: (v[2] or 0) + (v[0] or 0) * 1e-9 for c, v in callers.items()}  # the time spent for each
        total = sum(weights.values()) or 1
        out: dict[str, float] = defaultdict(float)
        for caller, weight in weights.items():
            for p, s in shares(caller, seen | {func}).items():
                out[p] += s * weight / total
        memo[func] = dict(out)
        return memo[func]

    totals: dict[str, float] = defaultdict(float)
    for func, (_cc, _nc, tt, _ct, _callers) in stats.items():
        for p, s in shares(func).items():
            totals[p] += tt * s
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


def profile(endpoint_url: str, requests: int = 1000) -> dict:
    """{endpoint: {cpu_us, baseline_cpu_us, parts: {part: share}}} for the notes endpoints."""
    from local.stack import APP_DIR, FAKE_CREDENTIALS
    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.update({"AWS_ENDPOINT_URL_DYNAMODB": endpoint_url, "AWS_REGION": "us-east-1", "NOTES_TABLE": "notes"})
    stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # the access log's handler keeps this stream
    try:
        from api import create_app
        from api.config import Settings

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
            cpu = {}
            for name, target in (("service", app), ("baseline", baseline_app.app)):
                _drive(target, _environs(method, path, 50, data))
                environs = _environs(method, path, requests, data)
                started = time.process_time()
                _drive(target, environs)
                cpu[name] = (time.process_time() - started) / requests * 1e6
            profiler = cProfile.Profile(time.process_time)
            environs = _environs(method, path, requests, data)
            profiler.enable()
            _drive(app, environs)
            profiler.disable()
            parts = split(pstats.Stats(profiler, stream=io.StringIO()).stats)
            total = sum(parts.values()) or 1
            out[endpoint] = {"cpu_us": round(cpu["service"]), "baseline_cpu_us": round(cpu["baseline"]),
                             "parts": {p: round(v / total, 3) for p, v in sorted(parts.items(), key=lambda kv: -kv[1])}}
        return {"requests": requests, "endpoints": out}
    finally:
        sys.stdout.close()
        sys.stdout = stdout


def format_profile(result: dict) -> str:
    names = [p for p, _ in PARTS] + [OTHER]
    endpoints = result["endpoints"]
    lines = [f"where a notes request's CPU goes (cProfile, {result['requests']} requests each; us of CPU per request, "
             "unprofiled, split by the profile's shares):",
             f"  {'part':<34}" + "".join(f"{e:>26}" for e in endpoints)]
    for name in names:
        cells = []
        for e in endpoints.values():
            share = e["parts"].get(name, 0.0)
            cells.append(f"{share * e['cpu_us']:>17.0f} us {share:>5.0%}")
        if any(endpoints[e]["parts"].get(name) for e in endpoints):
            lines.append(f"  {name:<34}" + "".join(cells))
    lines.append(f"  {'total, service':<34}" + "".join(f"{e['cpu_us']:>20.0f} us  " for e in endpoints.values()))
    lines.append(f"  {'total, boto3 baseline':<34}" + "".join(f"{e['baseline_cpu_us']:>20.0f} us  "
                                                               for e in endpoints.values()))
    return "\n".join(lines)
