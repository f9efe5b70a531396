import datetime
import json
import logging
import sys

import pytest
from api import logs
from api.config import ACCESS_LOG_MAX_BYTES, Settings
from pydantic import ValidationError


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("LOG_HEALTH_CHECKS", "true")
    s = Settings()
    assert (s.port, s.log_health_checks) == (9001, True)


@pytest.mark.parametrize("name,value", [("PORT", "0"), ("PORT", "http"), ("LOG_LEVEL", "LOUD"),
                                        ("MAX_BODY_BYTES", "10"), ("GRACEFUL_TIMEOUT", "500")])
def test_invalid_settings_fail_at_start_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings()


def test_access_log_is_json_with_request_id_and_skips_health_checks(log_lines):
    from tests.unit.conftest import PROBE, make_app
    client = make_app().test_client()
    client.get("/api/health-check")
    client.get(PROBE, headers={"X-Request-Id": "req-1"})
    access = [line for line in log_lines() if line["logger"] == "api.access"]
    assert len(access) == 1
    (line,) = access
    assert line["path"] == PROBE and line["status"] == 200 and line["request_id"] == "req-1"
    assert {"time", "level", "method", "duration_ms"} <= set(line)


def test_health_checks_are_logged_when_asked(log_lines):
    from tests.unit.conftest import make_app
    client = make_app(log_health_checks=True).test_client()
    client.get("/api/health-check")
    assert [line["path"] for line in log_lines() if line["logger"] == "api.access"] == ["/api/health-check"]


@pytest.mark.parametrize("hops,chain,viewer", [
    # CloudFront appends the viewer's address to what the client sent; API Gateway or the ALB appends
    # CloudFront's. With 2 trusted hops the viewer is second from the right, whatever a client forged.
    (2, "6.6.6.6, 203.0.113.7, 130.176.0.1", "203.0.113.7"),
    (2, "203.0.113.7, 130.176.0.1", "203.0.113.7"),
    (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),
    (0, "6.6.6.6", "10.0.0.5"),
])
def test_the_logged_client_address_is_the_viewers(log_lines, hops, chain, viewer):
    from tests.unit.conftest import PROBE, make_app
    client = make_app(trusted_proxy_hops=hops).test_client()
    client.get(PROBE, headers={"X-Forwarded-For": chain}, environ_base={"REMOTE_ADDR": "10.0.0.5"})
    (line,) = [line for line in log_lines() if line["logger"] == "api.access"]
    assert line["remote_addr"] == viewer


@pytest.mark.parametrize("env,name", [({"DRAIN_DELAY": "61"}, "drain_delay"), ({"DRAIN_DELAY": "-1"}, "drain_delay"),
                                      ({"DRAIN_DELAY": "60", "GRACEFUL_TIMEOUT": "60"}, "drain_delay \\+ graceful")])
def test_shutdown_timeouts_are_bounded(monkeypatch, env, name):
    """DRAIN_DELAY + GRACEFUL_TIMEOUT must fit in ECS's stopTimeout (at most 120 s)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=name):
        Settings()


def test_shutdown_defaults(monkeypatch):
    for key in ("DRAIN_DELAY", "GRACEFUL_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    s = Settings()
    assert (s.drain_delay, s.graceful_timeout) == (0, 20)
    monkeypatch.setenv("DRAIN_DELAY", "30")
    assert Settings().drain_delay == 30


@pytest.mark.parametrize("char,agent_char,forwarded_char", [
    ("9", "u", "f"),
    ("\U0001F600", "\u00e9", '"'),  # 12 bytes escaped; 6 bytes (a header is latin-1); 2 bytes
    ('"', "\\", "\\"),
    ("\x01", "\x7f", "\u00ff"),
])
def test_the_longest_access_log_line_is_what_the_cost_ceiling_prices(capsys, log_lines, char, agent_char,
                                                                     forwarded_char):
    """A stranger chooses the path, the user agent and (calling the origin directly) X-Forwarded-For:
    each is cut, in bytes as written (JSON escapes included), so no request's line is longer than
    ACCESS_LOG_MAX_BYTES, which `make cost` uses for the ceiling's CloudWatch Logs line (an 8,000-character
    path used to log 8.4 KB; 256 emoji in a path would have logged 3 KB)."""
    from tests.unit.conftest import PROBE, make_app
    longest = ACCESS_LOG_MAX_BYTES
    client = make_app(trusted_proxy_hops=1).test_client()
    client.get(f"{PROBE}/" + char * 8000, headers={"User-Agent": agent_char * 8000, "X-Request-Id": "r" * 200,
                                                     "X-Forwarded-For": forwarded_char * 8000})
    (line,) = [line for line in capsys.readouterr().out.splitlines() if '"api.access"' in line]
    assert len(line.encode()) <= longest, len(line.encode())
    assert len(line.encode()) > longest - 300, "the bound is loose: the fields are cut shorter than they need"
    assert json.loads(line)["path"].startswith(f"{PROBE}/" + char)


def test_make_cost_prices_the_bound_the_access_log_holds():
    """One setting: the ceiling's CloudWatch Logs line is ACCESS_LOG_MAX_BYTES, read from app/api/config.py."""
    from scripts import cost
    assert cost.access_log_max_bytes() == ACCESS_LOG_MAX_BYTES


def test_the_access_log_follows_its_bound_when_it_changes(tmp_path):
    """Lowered in config.py (a copy of the app), every client-chosen field shrinks to fit the new bound."""
    import shutil
    import subprocess

    from local.stack import ROOT
    app_dir = tmp_path / "app"
    shutil.copytree(ROOT / "app" / "api", app_dir / "api", ignore=shutil.ignore_patterns("__pycache__"))
    config = app_dir / "api" / "config.py"
    config.write_text(config.read_text().replace(f"ACCESS_LOG_MAX_BYTES = {ACCESS_LOG_MAX_BYTES}\n",
                                                 "ACCESS_LOG_MAX_BYTES = 760\n"))
    code = (
        "from api import create_app, logs\n"
        "assert logs.ACCESS_LOG_MAX_BYTES == 760\n"
        "client = create_app().test_client()\n"
        "client.get('/api/nope/' + chr(0x1F600) * 8000,"
        " headers={'User-Agent': chr(92) * 8000, 'X-Request-Id': 'r' * 200})\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=app_dir, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    (line,) = [line for line in out.stdout.splitlines() if '"api.access"' in line]
    assert 560 < len(line.encode()) <= 760, len(line.encode())


@pytest.mark.parametrize("text", ["", "plain", "a" * 300, "é" * 300, "\U0001F600" * 100, '"\\' * 200,
                                  "\x00\x1f" * 100, "ab\U0001F600" * 90])
@pytest.mark.parametrize("limit", [0, 1, 5, 6, 12, 13, 64, 256])
def test_a_logged_field_is_the_longest_start_that_fits_its_bytes(text, limit):
    cut = logs.clipped(text, limit)
    size = len(json.dumps(cut)) - 2
    assert text.startswith(cut) and size <= limit
    if cut != text:
        assert len(json.dumps(text[:len(cut) + 1])) - 2 > limit  # one more character would not fit


def test_worker_connections_come_from_the_environment_and_are_bounded(monkeypatch):
    """Above gunicorn's 1000, which a stranger's idle connections could fill (tests/server/test_slow_clients.py);
    the memory bound in docs/performance.md is derived from the default."""
    monkeypatch.delenv("WORKER_CONNECTIONS", raising=False)
    assert Settings().worker_connections == 2048
    monkeypatch.setenv("WORKER_CONNECTIONS", "8192")
    assert Settings().worker_connections == 8192
    for bad in ("0", "70000", "many"):
        monkeypatch.setenv("WORKER_CONNECTIONS", bad)
        with pytest.raises(ValidationError, match="worker_connections"):
            Settings()


def test_every_log_line_is_one_ascii_json_object_with_its_extras_and_traceback():
    """The JSON formatter: what any logger in the process writes (gunicorn's, botocore's, ours)."""
    formatter = logs.json_formatter()
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("api.test").makeRecord(
            "api.test", logging.ERROR, __file__, 1, "failed for %s", ("café",), sys.exc_info(),
            extra={"table": "notes", "when": datetime.date(2026, 1, 2), "_private": 1})
    line = formatter.format(record)
    assert line.isascii() and "\n" not in line
    data = json.loads(line)
    assert (data["level"], data["logger"], data["message"]) == ("ERROR", "api.test", "failed for café")
    assert data["table"] == "notes" and data["when"] == "2026-01-02" and "_private" not in data
    assert "ValueError: boom" in data["exc_info"] and "Traceback" in data["exc_info"]
    assert data["time"].endswith("+00:00") and list(data)[:3] == ["level", "logger", "message"]
    assert not {"funcName", "lineno", "pathname", "thread", "process", "msg", "args"} & set(data)


def test_a_record_logged_inside_a_request_carries_its_request_id(log_lines):
    """RequestIdFilter: the id the before_request hook gave the request is on every line logged while it runs,
    here the warning of a 503 (a dependency not answering) and the access line after it."""
    from tests.unit.conftest import PROBE, make_app
    r = make_app().test_client().get(f"{PROBE}/unavailable")
    assert r.status_code == 503
    lines = log_lines()
    warning = next(line for line in lines if line["message"] == "datastore unavailable")
    access = next(line for line in lines if line["logger"] == "api.access")
    assert warning["request_id"] == access["request_id"] == r.headers["X-Request-Id"]
    assert access["status"] == 503 and warning["reason"] == "probe"


def test_an_unexpected_exception_is_access_logged_as_a_500_with_its_request_id(log_lines):
    from tests.unit.conftest import PROBE, make_app
    response = make_app().test_client().get(f"{PROBE}/boom", headers={"X-Request-Id": "req-9"})
    assert (response.status_code, response.headers["X-Request-Id"]) == (500, "req-9")
    lines = log_lines()
    (line,) = [line for line in lines if line["logger"] == "api.access"]
    assert (line["status"], line["request_id"]) == (500, "req-9")
    (error,) = [line for line in lines if line["message"] == "unhandled error"]
    assert error["request_id"] == "req-9" and "RuntimeError: secret internals" in error["exc_info"]


@pytest.mark.parametrize("value", [{("a", 1): "tuple key"}, float("nan")])
def test_an_extra_json_cannot_hold_is_written_as_its_repr(value):
    record = logging.makeLogRecord({"name": "api.test", "levelname": "INFO", "msg": "odd", "odd": value})
    data = json.loads(logs.json_formatter().format(record))  # json.dumps would have written NaN, not JSON
    assert data["odd"] == repr(value) and data["message"] == "odd"


def test_stack_info_is_written():
    logger = logging.getLogger("api.test.stack")
    captured = []
    handler = logging.Handler()
    handler.emit = lambda r: captured.append(logs.json_formatter().format(r))
    logger.addHandler(handler)
    try:
        logger.warning("where am I", stack_info=True)
    finally:
        logger.removeHandler(handler)
    assert "test_stack_info_is_written" in json.loads(captured[0])["stack_info"]
