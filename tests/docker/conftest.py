"""Image tier: the one parse of app/Dockerfile every test here reads (tests/support/dockerfile.py)."""
from __future__ import annotations

import pytest

from tests.support.dockerfile import Dockerfile, dockerfile


@pytest.fixture(scope="session", name="dockerfile")
def parsed_dockerfile() -> Dockerfile:
    return dockerfile()
