"""Liveness and readiness.

/api/health-check is what the container health check, the load balancer and the
smoke tests call: it answers from memory and touches no dependency, so a slow
datastore never gets healthy tasks killed. /api/ready also proves DynamoDB answers.
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)
HEALTH_PATH = "/api/health-check"
READY_PATH = "/api/ready"


@bp.get(HEALTH_PATH)
def health_check():
    started = current_app.config["STARTED_AT"]
    return jsonify(
        status="ok",
        version=current_app.config["APP_VERSION"],
        uptimeSeconds=round(time.monotonic() - started, 3),
    )


@bp.get(READY_PATH)
def ready():
    current_app.extensions["notes_store"].ping()  # raises DatastoreUnavailable -> 503
    return jsonify(status="ready", checks={"datastore": "ok"})
