"""Fixtures shared by every tier."""
from __future__ import annotations

import os
import sys

import pytest

# No bytecode written, as the Makefile does for make's commands: `sam deploy` uploads app/, frontend/ and
# functions/ as they are, named by a hash of every file, so the app/api/__pycache__ a plain `pytest` would
# write changes the hash and rebuilds the image for nothing (docs/deploy.md). Set before any test imports the
# app; the variable carries it to the subprocesses (gunicorn, the tools, copies of the repository). The venvs'
# own bytecode, which pip compiled, is still read (the Makefile says why not PYTHONPYCACHEPREFIX).
sys.dont_write_bytecode = True
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"

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
