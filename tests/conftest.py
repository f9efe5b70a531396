"""Fixtures shared by every tier."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Bytecode outside the source tree, as the Makefile does for make's commands: `sam deploy` uploads app/,
# frontend/ and functions/ as they are, named by a hash of every file, so the app/api/__pycache__ a plain
# `pytest` would write changes the hash and rebuilds the image for nothing (docs/deploy.md). Set before any
# test imports the app; the variable carries it to the subprocesses (gunicorn, copies of the repository).
PYCACHE = Path(__file__).resolve().parent.parent / ".cache" / "pycache"
if not os.environ.get("PYTHONPYCACHEPREFIX"):
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
if sys.pycache_prefix is None:
    sys.pycache_prefix = os.environ["PYTHONPYCACHEPREFIX"]

# No test may reach real AWS: fake credentials and a fixed region for boto3.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
}.items():
    os.environ[_name] = _value
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
