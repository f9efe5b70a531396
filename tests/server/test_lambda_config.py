"""The app's contract under the Lambda function's configuration (service.yml, Compute=Lambda), on the real server.

One server, started as the image starts it (entrypoint.py, gunicorn.conf.py) with the environment the function
sets (tests/support/lambda_adapter.py: DRAIN_DELAY=0, WEB_CONCURRENCY=1, the AWS_LWA_* variables, Lambda's own
runtime variables), on the session's DynamoDB stand-in. Each request is sent twice: as API Gateway's HTTP proxy
sends it to a Fargate task, to the session's server, and as the Lambda Web Adapter forwards an HTTP API payload
2.0 event to the function's server; the answers must be the same. What only a deploy proves (the adapter itself,
API Gateway's headers on a Lambda integration, cold starts) is listed in docs; `make bench` measures the start.
"""
from __future__ import annotations

import json
import os
import signal
import time

import pytest
import requests
from api.config import Settings
from api.health import HEALTH_PATH

from local.stack import child_pids, free_port
from tests.server.conftest import start_stack
from tests.server.test_http import BAD_POSTS
from tests.support.lambda_adapter import FUNCTION_ENVIRONMENT, LAMBDA_RUNTIME_ENVIRONMENT, adapter_request, http_api_event, send
from tests.support.probe import PROBE

pytestmark = pytest.mark.server

VIEWER = "203.0.113.9"  # the viewer's address, which CloudFront puts in X-Forwarded-For


@pytest.fixture(scope="module")
def function(stack, tmp_path_factory):
    """The server as the function runs it: its Environment, Lambda's runtime variables, one port for both the
    traffic and the readiness check (AWS_LWA_PORT = PORT), an origin secret of its own (ORIGIN_VERIFY_SECRET)."""
    port = free_port()
    env = {**FUNCTION_ENVIRONMENT, **LAMBDA_RUNTIME_ENVIRONMENT, "PORT": str(port), "AWS_LWA_PORT": str(port)}
    with start_stack(tmp_path_factory.mktemp("lambda"), api_port=port, db_port=stack.db_port, shared_db=True,
                     api_env=env) as running:
        yield running


def test_the_function_environment_names_only_settings_the_server_reads():
    """Every variable of the function's Environment but the adapter's is a setting of the app's server
    (api/config.py, read by gunicorn.conf.py and entrypoint.py), valid as given; the adapter's point at the
    app's port and health path. A misspelt name (WORKERS for WEB_CONCURRENCY) would be silently ignored."""
    ours = {name for name in FUNCTION_ENVIRONMENT if not name.startswith("AWS_LWA_")}
    assert ours <= {name.upper() for name in Settings.model_fields}, ours - {n.upper() for n in Settings.model_fields}
    settings = Settings(**{name.lower(): value for name, value in FUNCTION_ENVIRONMENT.items() if name in ours})
    assert settings.drain_delay == 0 and settings.web_concurrency == 1 and settings.worker_timeout == 0
    assert FUNCTION_ENVIRONMENT["AWS_LWA_PORT"] == FUNCTION_ENVIRONMENT["PORT"]
    assert int(FUNCTION_ENVIRONMENT["PORT"]) >= 1024 and FUNCTION_ENVIRONMENT["PORT"] not in ("3000", "9001")
    assert FUNCTION_ENVIRONMENT["AWS_LWA_READINESS_CHECK_PATH"] == HEALTH_PATH


def test_gunicorn_keeps_no_worker_watchdog_on_lambda_and_keeps_it_elsewhere(monkeypatch):
    """gunicorn's master kills a worker whose heartbeat is older than `timeout` (gunicorn's arbiter.murder_workers;
    https://gunicorn.org/reference/settings/#timeout, "Setting it to 0 ... disabling timeouts for all workers").
    Lambda freezes an idle environment between requests; a process stopped longer than `timeout` (SIGSTOP here,
    30 s of idle there) finds its worker killed and replaced on the thaw ("WORKER TIMEOUT ... was sent SIGKILL"),
    the thawing request waiting for a new worker's boot or lost with the old one. So the function sets
    WORKER_TIMEOUT=0 (its own Timeout bounds every request); a task keeps gunicorn's 30 s."""
    import runpy

    from local.stack import APP_DIR
    for name, value in FUNCTION_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    assert runpy.run_path(str(APP_DIR / "gunicorn.conf.py"))["timeout"] == 0
    monkeypatch.delenv("WORKER_TIMEOUT")
    assert runpy.run_path(str(APP_DIR / "gunicorn.conf.py"))["timeout"] == 30


def test_one_worker_serves_and_the_readiness_check_is_ready_without_the_origin_header(function):
    """The adapter's readiness check: a plain GET of AWS_LWA_READINESS_CHECK_PATH on AWS_LWA_PORT, no
    X-Origin-Verify, ready only on a 2xx (both versions' variables say so)."""
    env = function.api_env
    url = f"http://127.0.0.1:{env.get('AWS_LWA_READINESS_CHECK_PORT', env['AWS_LWA_PORT'])}{env['AWS_LWA_READINESS_CHECK_PATH']}"
    status = requests.get(url, timeout=5).status_code
    low, high = (int(n) for n in env["AWS_LWA_READINESS_CHECK_HEALTHY_STATUS"].split("-"))
    assert low <= status <= high and status < int(env["AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS"])
    (master,) = child_pids(function.api.pid)  # entrypoint.py -> gunicorn's master -> its workers
    assert len(child_pids(master)) == 1, "WEB_CONCURRENCY=1: one worker"


def body_of(kwargs: dict) -> tuple[dict[str, str], bytes | None]:
    """BAD_POSTS' requests keyword arguments as headers and bytes."""
    if "json" in kwargs:
        return {"Content-Type": "application/json"}, json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data")
    return dict(kwargs.get("headers", {})), data.encode() if isinstance(data, str) else data


CASES = [
    ("GET", HEALTH_PATH, {}, None, False),
    ("GET", PROBE, {}, None, True),
    ("GET", PROBE, {}, None, False),  # no origin secret: 403
    ("GET", f"{PROBE}/known?x=1&y=%20", {"Cookie": "a=1; b=2", "Accept": "application/json"}, None, True),
    ("GET", f"{PROBE}/missing", {}, None, True),
    ("GET", "/api/nowhere", {}, None, True),
    ("GET", f"{PROBE}/boom", {}, None, True),
    ("GET", f"{PROBE}/unavailable", {}, None, True),
    ("DELETE", f"{PROBE}/known", {}, None, True),
    ("POST", PROBE, {"Content-Type": "application/json"}, b'{"text": "caf\xc3\xa9"}', True),
    *(("POST", PROBE, *body_of(kwargs), True) for kwargs, _, _ in BAD_POSTS),
]


def fargate_request(stack, method, path, headers, body, with_secret, request_id):
    """As API Gateway's HTTP proxy integration sends it to a task: the client's headers, CloudFront's
    X-Forwarded-For and origin header, X-Request-Id overwritten with the API's request id."""
    headers = {**headers, "X-Forwarded-For": VIEWER, "X-Request-Id": request_id, "User-Agent": "test-client/1",
               "Content-Length": str(len(body or b""))}
    if with_secret:
        headers.update(stack.origin_headers)
    host, port = stack.api_url.removeprefix("http://").split(":")
    return send(host, int(port), method, path, headers, body or b"")


def lambda_request(function, method, path, headers, body, with_secret, request_id):
    """The same request through CloudFront and API Gateway to the function: the payload 2.0 event, then the
    adapter's HTTP request to the app."""
    headers = {**headers, "X-Forwarded-For": VIEWER, "User-Agent": "test-client/1",
               "X-Request-Id": "a-client-chose-this"}  # API Gateway's mapping overwrites it
    if with_secret:
        headers.update(function.origin_headers)
    event = http_api_event(method, path, headers, body, request_id=request_id)
    return send("127.0.0.1", function.api_port, *adapter_request(event))


def comparable(reply: tuple[int, dict[str, str], bytes]) -> tuple:
    status, headers, body = reply
    kept = {k: v for k, v in headers.items() if k not in ("date", "x-request-id", "content-length", "connection")}
    document = json.loads(body) if body else None
    if isinstance(document, dict):
        document.pop("uptimeSeconds", None)  # the health check's: each server's own
    return status, kept, document


@pytest.mark.parametrize("method,path,headers,body,with_secret", CASES,
                         ids=[f"{c[0]} {c[1].split('?')[0]}{'' if c[4] else ' no-secret'} #{i}" for i, c in enumerate(CASES)])
def test_a_request_the_adapter_forwards_is_answered_as_on_fargate(stack, function, method, path, headers, body,
                                                                   with_secret):
    """Status, headers (bar Date and the id) and JSON body are the same; the id is API Gateway's in both."""
    on_fargate = fargate_request(stack, method, path, headers, body, with_secret, "Fargate1Request")
    on_lambda = lambda_request(function, method, path, headers, body, with_secret, "Lambda11Request")
    assert comparable(on_lambda) == comparable(on_fargate)
    assert (on_fargate[1]["x-request-id"], on_lambda[1]["x-request-id"]) == ("Fargate1Request", "Lambda11Request")
    assert b"Traceback" not in on_lambda[2] and b"secret internals" not in on_lambda[2]


def access_line(stack, request_id: str) -> dict:
    """The access-log line the server wrote for `request_id` (its stdout: the stack's log file)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(stack.log.name) as log:
            for line in log:
                if request_id in line and line.startswith("{"):
                    record = json.loads(line)
                    if record.get("request_id") == request_id:
                        return record
        time.sleep(0.05)
    raise AssertionError(f"no access-log line for {request_id}")


def test_the_access_log_line_carries_api_gateways_request_id_and_the_viewers_address(stack, function):
    """The JSON line the function writes to its log group: API Gateway's request id (not the one the client
    sent, nor the adapter's x-amzn-request-context: the app reads none of Lambda's headers), the viewer's
    address from X-Forwarded-For (TRUSTED_PROXY_HOPS=1, as on Fargate: the adapter adds no hop), the same
    fields as a task's line."""
    fargate_request(stack, "GET", f"{PROBE}/missing", {}, None, True, "FargateLogLine1")
    lambda_request(function, "GET", f"{PROBE}/missing", {}, None, True, "LambdaLogLine11")
    on_fargate, on_lambda = access_line(stack, "FargateLogLine1"), access_line(function, "LambdaLogLine11")
    assert set(on_lambda) == set(on_fargate)
    for field in ("method", "path", "status", "remote_addr", "user_agent", "level"):
        assert on_lambda.get(field) == on_fargate.get(field), field
    assert (on_lambda["path"], on_lambda["status"], on_lambda["remote_addr"]) == (f"{PROBE}/missing", 404, VIEWER)


def test_a_body_over_the_bound_is_refused_before_the_app_reads_it(stack, function):
    """MAX_BODY_BYTES holds on Lambda too (API Gateway's own cap there is 6 MB, the adapter's request carries
    a Content-Length): a 413 in our JSON, the probe's count unchanged."""
    body = json.dumps({"text": "x" * (Settings().max_body_bytes + 1)}).encode()
    status, headers, reply = lambda_request(function, "POST", PROBE, {"Content-Type": "application/json"}, body,
                                            True, "LambdaTooLarge1")
    assert status == 413 and json.loads(reply)["error"]["code"] == "payload_too_large"
    assert headers["content-type"].startswith("application/json")


def test_sigterm_stops_the_function_at_once(function):
    """DRAIN_DELAY=0: Lambda sends SIGTERM when it shuts an idle environment down and SIGKILL 300 ms later
    for a function with an external extension (https://github.com/aws-samples/graceful-shutdown-with-aws-lambda);
    entrypoint.py passes the signal straight on and gunicorn, with nothing in flight, exits. Last in this
    module: it stops the module's server."""
    started = time.monotonic()
    os.kill(function.api.pid, signal.SIGTERM)
    code = function.api.wait(10)
    took = time.monotonic() - started
    assert code == 0, code
    assert took < 3, f"{took:.2f} s: the drain delay was not skipped"
