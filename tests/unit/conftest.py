"""Unit tier: the Flask app through its test client.

The platform's tests (errors, logs, origin, health, OpenAPI, config) need no blueprint of the app's: they
add `probe`, the tests' own tiny blueprint (tests/support/probe.py, shared with the real-server tier), for
what they need (a body to validate, a 404 of its own, a 204, a 500, a 503). The app is still the one
create_app builds, whatever blueprints it registers; the sample's own tests and fixtures (DynamoDB from
moto) are in tests/unit/notes/ and go with it.
"""
from __future__ import annotations

import pytest
from api import create_app, health
from api.config import Settings

from tests.support.probe import PROBE, register

__all__ = ["PROBE"]  # the unit tests import it from here


def make_settings(**overrides) -> Settings:
    return Settings(**{"app_version": "1.2.3-test", **overrides})


def make_app(**overrides):
    """create_app with the platform's settings (each overridable), plus the probe blueprint. /api/ready runs
    only the checks a test adds (`ready_with`): the app's own blueprints' dependencies are their tests'."""
    return register(create_app(make_settings(**overrides)))


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
