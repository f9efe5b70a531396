"""Real-server tier: gunicorn with app/gunicorn.conf.py, the moto server and the
edge, on free loopback ports, started by the same code as `make run`."""
from __future__ import annotations

import pytest

from local.stack import LocalStack, free_port

pytestmark = pytest.mark.server


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    with LocalStack(port=free_port(), log=tmp_path_factory.mktemp("logs") / "stack.log") as running:
        yield running


def start_stack(tmp_path, **kwargs) -> LocalStack:
    """A private stack for a test that stops or signals part of it."""
    return LocalStack(port=free_port(), log=tmp_path / "stack.log", **kwargs)
