"""Real-server tier: gunicorn with app/gunicorn.conf.py, the moto server and the
edge, on free loopback ports, started by the same code as `make run`.

The server runs the app create_app() builds plus the tests' `probe` blueprint (tests/support/probe_wsgi.py):
the platform's tests here call only the probe and the platform's own routes, so they pass with or without
the sample; the sample's own real-server tests are in tests/server/notes/ and go with it."""
from __future__ import annotations

import pytest
import requests

from local.stack import LocalStack, free_port

pytestmark = pytest.mark.server
PROBE_APP = "tests.support.probe_wsgi:app"


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    with LocalStack(port=free_port(), log=tmp_path_factory.mktemp("logs") / "stack.log",
                    wsgi_app=PROBE_APP) as running:
        yield running


@pytest.fixture(params=["api", "edge"])
def base(request, stack):
    """The session stack: each case runs against gunicorn directly and through the edge."""
    return stack.api_url if request.param == "api" else stack.url


@pytest.fixture
def http(stack):
    """A client with the origin secret, as CloudFront sends it (the edge replaces it with its own)."""
    with requests.Session() as session:
        session.headers.update(stack.origin_headers)
        yield session


def start_stack(tmp_path, **kwargs) -> LocalStack:
    """A private stack for a test that stops or signals part of it (its DynamoDB stand-in too)."""
    return LocalStack(port=free_port(), log=tmp_path / "stack.log", wsgi_app=PROBE_APP, **kwargs)


@pytest.fixture
def new_stack(stack, tmp_path):
    """Makes a private stack for a test that stops or signals its server: gunicorn and the edge of its own, on
    the session's DynamoDB stand-in (moto takes a second or two to start; only the outage tests stop it)."""
    return lambda **kwargs: start_stack(tmp_path, db_port=stack.db_port, shared_db=True, **kwargs)
