"""Template tier: the linters on the source templates and on every rendered
parameter combination, the project's own rules, and the contract with app/."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from checks.render import CHILD_TEMPLATES, ROOT, render_all, write_two_service_parent

RENDERED = ROOT / "build" / "rendered"
CHILDREN = list(CHILD_TEMPLATES)
SOURCES = ["parent.yml", *CHILDREN]


def venv_tool(venv: str, name: str) -> str:
    path = ROOT / venv / "bin" / name
    if not path.exists():
        pytest.fail(f"{path} is missing: `make test` creates {venv} from requirements/")
    return str(path)


def dev_tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def run(args: list[str], timeout: int = 600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def rendered() -> Path:
    shutil.rmtree(RENDERED, ignore_errors=True)
    render_all(RENDERED)
    return RENDERED


@pytest.fixture(scope="session")
def two_service_parent_file() -> Path:
    """parent.yml with its second-service example uncommented, as a file the linters can read."""
    return write_two_service_parent(ROOT / "build" / "two-services")
