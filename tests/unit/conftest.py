"""Unit tier: the Flask app through its test client.

The platform's tests (errors, logs, origin, health, OpenAPI, config) need no blueprint of the app's: they
add `probe`, a tiny blueprint defined here, for what they need (a body to validate, a 404 of its own, a
204, a 500, a 503). The app is still the one create_app builds, whatever blueprints it registers; the
sample's own tests and fixtures (DynamoDB from moto) are in tests/unit/notes/ and go with it.
"""
from __future__ import annotations

import pytest
from api import create_app, health
from api.apidoc import UNAVAILABLE, documented
from api.config import API_PREFIX, Settings
from api.errors import ApiError, DatastoreUnavailable
from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel, Field

PROBE = f"{API_PREFIX}/probe"


class ProbeIn(BaseModel):
    text: str = Field(min_length=1, max_length=10)


class Probe(BaseModel):
    text: str


probe = Blueprint("probe", __name__, url_prefix=PROBE)


@probe.post("")
@documented("Echo a body.", {201: Probe})
def echo(body: ProbeIn):
    current_app.extensions["probe_calls"].append(body.text)
    return jsonify(text=body.text), 201


@probe.get("")
@documented("Answer 200.", {200: Probe})
def answer():
    return jsonify(text="ok")


@probe.get("/<item_id>")
@documented("A 404 of the blueprint's own for any id but `known`.", {200: Probe, 404: "No such item."})
def item(item_id: str):
    if item_id != "known":
        raise ApiError(404, "probe_not_found", "No such item.", field="id")
    return jsonify(text=item_id)


@probe.delete("/<item_id>")
@documented("Answer 204.", {204: None})
def forget(item_id: str):
    return "", 204


@probe.get("/boom")
@documented("Fail as code with a bug does.", {200: Probe})
def boom():
    raise RuntimeError("secret internals")


@probe.get("/unavailable")
@documented("A dependency that does not answer.", {503: UNAVAILABLE})
def unavailable():
    raise DatastoreUnavailable(retry_after=7, reason="probe")


def make_settings(**overrides) -> Settings:
    return Settings(**{"app_version": "1.2.3-test", **overrides})


def make_app(**overrides):
    """create_app with the platform's settings (each overridable), plus the probe blueprint. /api/ready runs
    only the checks a test adds (`ready_with`): the app's own blueprints' dependencies are their tests'."""
    app = create_app(make_settings(**overrides))
    app.extensions["probe_calls"] = []
    app.register_blueprint(probe)
    return app


def ready_with(app, **checks) -> None:
    """/api/ready runs exactly these checks (health.add_readiness_check), not the ones the app's blueprints
    registered."""
    app.extensions.get(health.READINESS_CHECKS, {}).clear()
    for name, check in checks.items():
        health.add_readiness_check(app, name, check)


@pytest.fixture
def app():
    app = make_app()
    ready_with(app)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def assert_error(response, status: int, code: str) -> dict:
    """Every error: the status, JSON, and the one shape {"error": {"code", "message"}}."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]


@pytest.fixture
def log_lines(capsys):
    """What the app's JSON handler writes to stdout (a fresh handler, bound to pytest's capture)."""
    import json
    import logging

    from api import logs
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = [h for h in root.handlers if not isinstance(h, logs.JsonStdoutHandler)]
    yield lambda: [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    root.handlers, root.level = saved[0], saved[1]
