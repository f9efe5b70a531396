"""`make smoke`, and the last step of `make deploy`: the smoke suite (tests/smoke) against a deployed
stack or any URL. The one place that runs it; tests/smoke/conftest.py reads the target from these
environment variables (SMOKE_STACK and AWS_REGION, or SMOKE_URL; SMOKE_SERVICE). Against a stack, the
version each health check must report comes from its service's descriptor output (the source the stack
built the image from); against a URL, from SMOKE_VERSION when the caller sets it.

Before the suite starts, the runner waits for every health check it will call (bounded by SMOKE_WAIT
seconds, default 300; 20 for a plain-HTTP URL), printing a progress line per attempt as it happens. No
answer in time is one line and a non-zero exit, not a pytest report of every test that needed it.

A service on Lambda that `make stop` stopped (reserved concurrency 0) cannot answer: its routes give API
Gateway's own 500 `{"message":"Internal Server Error"}`, not the app's JSON. Against a stack, such a service
is refused in one line before any wait; against a URL, a wait that ends on that answer says whose it is."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

import requests

from scripts.common import ROOT, Target, log
from scripts.errors import ServiceNotReady, SmokeFailed, UsageError, WaitTimedOut

SUITE = "tests/smoke"
SAMPLE_HEALTH = "/api/health-check"  # the sample service's: the one a bare URL is checked on
WAIT_AWS = 300.0  # the minutes after a deploy: tasks registering, DNS
WAIT_LOCAL = 20.0  # a plain-HTTP URL: the local stack, up in seconds
# An HTTP API's own answer when its Lambda integration fails (throttled, timed out, crashed), not the app's:
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html
API_GATEWAY_500 = {"message": "Internal Server Error"}


def command() -> list[str]:
    return [sys.executable, "-m", "pytest", SUITE, "-p", "no:cacheprovider", "-q"]


def wait_seconds(url: str | None = None) -> float:
    """SMOKE_WAIT when set (seconds, zero or more), else 20 s for a plain-HTTP URL and 300 s for a deployment."""
    text = os.environ.get("SMOKE_WAIT")
    if text:
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < math.inf:  # also refuses nan
            raise UsageError(f"SMOKE_WAIT={text} is not a number of seconds (zero or more)")
        return seconds
    return WAIT_LOCAL if url and url.startswith("http://") else WAIT_AWS


def check_input(url: str | None) -> None:
    """URL= and SMOKE_WAIT=, each a one-line refusal before anything is called. URL= is a base URL: the suite
    appends paths (/api/health-check), so a path is kept but a query string or a fragment is refused rather
    than probed as http://host/path?x=1/api/health-check."""
    if url:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (read for its check: a port that is not a number raises ValueError)
        except ValueError as exc:
            raise UsageError(f"URL={url} is not a URL ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"URL={url} is not an http:// or https:// URL")
        if parts.query or parts.fragment or url.endswith(("?", "#")):
            raise UsageError(f"URL={url} has a query string or fragment: give the base URL the paths are appended to, "
                             f"e.g. URL={parts.scheme}://{parts.netloc}{parts.path}")
    wait_seconds(url)


def wait_healthy(url: str, timeout: float, get=requests.get, clock=time.monotonic, sleep=time.sleep) -> None:
    """Bounded wait for a health check to answer 200, a progress line per attempt; the only retrying
    the smoke tests do. No answer in time: WaitTimedOut, in one line."""
    start, last = clock(), "no answer"
    while True:
        try:
            r = get(url, timeout=10)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}"
            if r.status_code == 500 and _json(r) == API_GATEWAY_500:
                last += (" from API Gateway itself, not the app: a Lambda function that is stopped (make status), "
                         "timed out or failed (make logs)")
        except requests.RequestException as exc:
            last = type(exc).__name__
        elapsed = clock() - start
        if elapsed >= timeout:
            raise WaitTimedOut(f"no answer from {url} within {timeout:.0f} s (last: {last})")
        log(f"  [{elapsed:4.0f}s] waiting for {url}: {last}")
        sleep(min(10.0, max(1.0, timeout / 30), max(0.0, timeout - elapsed)))


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


def refuse_stopped_functions(t: Target, outputs) -> None:
    """A Lambda service `make stop` stopped: one line, before a wait that could only time out."""
    from scripts import lambda_service
    chosen = [s for s in outputs.select(t.service) if s.on_lambda]
    lam = t.client("lambda") if chosen else None
    stopped = [s.short for s in chosen if lambda_service.reserved(lam, s) == lambda_service.STOPPED]
    if stopped:
        raise ServiceNotReady(f"service {', '.join(stopped)} is stopped (Lambda, reserved concurrency 0): its routes "
                              f"answer API Gateway's own 500; make start first (or smoke another with SERVICE=)")


def health_urls(t: Target | None, url: str | None, outputs=None) -> list[str]:
    """The health checks the suite will call: a URL's sample one, or every service's (t.service's only)
    through the stack's frontend (CloudFront)."""
    if url:
        return [url.rstrip("/") + SAMPLE_HEALTH]
    if outputs is None:
        from scripts import outputs as stack_outputs
        outputs = stack_outputs.read(t)
    base = outputs.frontend_url.rstrip("/")
    return [base + s.health_check_path for s in outputs.select(t.service)]


def smoke(t: Target | None = None, url: str | None = None, run=subprocess.run, outputs=None, wait=None) -> None:
    """Against `url` when given, else against the stack `t` names (every service's health check, or
    t.service's only): wait for the health checks, then run the suite. Raises WaitTimedOut (one line) or
    SmokeFailed, with the suite's report already printed above."""
    env = dict(os.environ)
    if url:
        env["SMOKE_URL"] = url
    elif t is not None:
        env.update(SMOKE_STACK=t.stack_name, AWS_REGION=t.region)
        if t.service:
            env["SMOKE_SERVICE"] = t.service
    if t is not None and not url:
        if outputs is None:
            from scripts import outputs as stack_outputs
            outputs = stack_outputs.read(t)
        refuse_stopped_functions(t, outputs)
    if url or t is not None:
        for health in health_urls(t, url, outputs):
            (wait or wait_healthy)(health, wait_seconds(url))
    result = run(command(), cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        where = url or (f"stack {t.stack_name}" if t else "the local stack")
        raise SmokeFailed(f"smoke tests failed against {where}; their report is above")


def refuse_service_with_url(service: str | None, url: str) -> None:
    """SERVICE= picks one of a stack's services; a URL has no services to pick from, so both is one line
    rather than SERVICE= silently ignored."""
    if service:
        raise UsageError(f"SERVICE={service} picks a service of a stack, but URL={url} is a single base URL: "
                         "unset SERVICE= (or URL=, to smoke-test the stack's services)")
