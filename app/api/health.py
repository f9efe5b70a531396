"""Liveness and readiness.

/api/health-check is what the container health check, the load balancer and the
smoke tests call: it answers from memory and touches no dependency, so a slow
datastore never gets healthy tasks killed. /api/ready also proves DynamoDB answers.
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify

from .apidoc import documented, json_response, unavailable
from .config import API_PREFIX

bp = Blueprint("health", __name__, url_prefix=API_PREFIX)
HEALTH_ROUTE, READY_ROUTE = "/health-check", "/ready"
HEALTH_PATH = API_PREFIX + HEALTH_ROUTE  # also app/healthcheck.py's and service.yml's (tests hold them to it)
READY_PATH = API_PREFIX + READY_ROUTE


@bp.get(HEALTH_ROUTE)
@documented("healthCheck", "Liveness: answers without touching dependencies.",
            {"200": json_response("Health", "The process is up.")})
def health_check():
    started = current_app.config["STARTED_AT"]
    return jsonify(
        status="ok",
        version=current_app.config["APP_VERSION"],
        uptimeSeconds=round(time.monotonic() - started, 3),
    )


@bp.get(READY_ROUTE)
@documented("ready", "Readiness: the datastore answers.",
            {"200": json_response("Ready", "Ready to serve."), "503": unavailable()})
def ready():
    current_app.extensions["notes_store"].ping()  # raises DatastoreUnavailable -> 503
    return jsonify(status="ready", checks={"datastore": "ok"})
