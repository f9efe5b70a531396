"""Liveness and readiness.

/api/health-check is what the container health check, the load balancer and the
smoke tests call: it answers from memory and touches no dependency, so a slow
datastore never gets healthy tasks killed. /api/ready runs the readiness checks the
blueprints contribute (the sample's: its DynamoDB table answers):

    health.add_readiness_check(app, "datastore", store.ping)   # raises ApiError when not ready
"""
from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel

from .apidoc import UNAVAILABLE, documented
from .config import API_PREFIX

bp = Blueprint("health", __name__, url_prefix=API_PREFIX)
HEALTH_ROUTE, READY_ROUTE = "/health-check", "/ready"
HEALTH_PATH = API_PREFIX + HEALTH_ROUTE  # also app/healthcheck.py's and service.yml's (tests hold them to it)
READY_PATH = API_PREFIX + READY_ROUTE
READINESS_CHECKS = "readiness_checks"  # the app.extensions key of the checks


class Health(BaseModel):
    status: str
    version: str
    uptimeSeconds: float


class Ready(BaseModel):
    status: str
    checks: dict[str, str]


def add_readiness_check(app: Flask, name: str, check: Callable[[], object]) -> None:
    """/api/ready calls `check()` on each request; it raises an ApiError (e.g. DatastoreUnavailable,
    a 503 with Retry-After) when its dependency does not answer."""
    app.extensions.setdefault(READINESS_CHECKS, {})[name] = check


@bp.get(HEALTH_ROUTE)
@documented("Liveness: answers without touching dependencies.", {200: Health})
def health_check():
    return jsonify(
        status="ok",
        version=current_app.config["APP_VERSION"],
        uptimeSeconds=round(time.monotonic() - current_app.config["STARTED_AT"], 3),
    )


@bp.get(READY_ROUTE)
@documented("Readiness: every dependency a blueprint declared answers.", {200: Ready, 503: UNAVAILABLE})
def ready():
    checks = current_app.extensions.get(READINESS_CHECKS, {})
    for check in checks.values():
        check()  # raises -> the error's own response (a 503)
    return jsonify(status="ready", checks=dict.fromkeys(checks, "ok"))
