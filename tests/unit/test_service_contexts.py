"""Each service `new-service` wrote (a build context under services/) passes its own tests, in its own
process: its package is `api` too, so it cannot share this session's import path with app/.
tests/server/test_new_service.py runs this in a copy with a new service."""
from __future__ import annotations

import os
import subprocess
import sys

from blueprint.services import SERVICES_DIR
from blueprint.templates import PARENT, load, service_resources
from scripts.common import ROOT


def service_contexts() -> list[str]:
    contexts = (str((r.get("Metadata") or {}).get("Build", {}).get("Context", ""))
                for r in service_resources(load(PARENT)).values())
    return [c for c in dict.fromkeys(contexts) if c.startswith(f"{SERVICES_DIR}/") and (ROOT / c / "tests").is_dir()]


def test_every_service_context_passes_its_own_tests():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    for context in service_contexts():
        run = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=ROOT / context, env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, f"{context}: " + run.stdout[-3000:] + run.stderr[-1000:]
