"""`make smoke`, and the last step of `make deploy`: the smoke suite (tests/smoke) against a deployed
stack or any URL. The one place that runs it; tests/smoke/conftest.py reads the target from these
environment variables (SMOKE_STACK and AWS_REGION, or SMOKE_URL; SMOKE_VERSION; SMOKE_SERVICE)."""
from __future__ import annotations

import os
import subprocess
import sys

from scripts.common import ROOT, Target
from scripts.errors import SmokeFailed

SUITE = "tests/smoke"


def command() -> list[str]:
    return [sys.executable, "-m", "pytest", SUITE, "-p", "no:cacheprovider", "-q"]


def smoke(t: Target | None = None, url: str | None = None, version: str | None = None,
          run=subprocess.run) -> None:
    """Against `url` when given, else against the stack `t` names (every service's health check, or
    t.service's only). Raises SmokeFailed, with the report already printed above."""
    env = dict(os.environ)
    if url:
        env["SMOKE_URL"] = url
    elif t is not None:
        env.update(SMOKE_STACK=t.stack_name, AWS_REGION=t.region)
        if t.service:
            env["SMOKE_SERVICE"] = t.service
    if version:
        env["SMOKE_VERSION"] = version
    result = run(command(), cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        where = url or (f"stack {t.stack_name}" if t else "the local stack")
        raise SmokeFailed(f"smoke tests failed against {where}; their report is above")
