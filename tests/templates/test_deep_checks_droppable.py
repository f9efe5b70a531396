"""The deep template checks are an extra a fork can drop (docs/checks.md, "Dropping the deep checks"):
in a copy of the repository's tracked files without them, every test module still imports, the
template tests that share their engine (checks/evaluate.py, checks/plan.py) still pass, and no other
tracked file names them. This file goes with them."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from checks.render import ROOT

pytestmark = pytest.mark.own_copy

# What dropping the deep checks deletes (the command in docs/checks.md).
DEEP_CHECKS = ("checks/all_branches.py", "tests/templates/test_branches.py", "tests/templates/fixtures/branches",
               "tests/templates/test_rehearsal.py", "tests/templates/test_deep_checks_droppable.py")
# How other files would name them; docs/checks.md's section on dropping them is the one place that may.
NAMES = ("all_branches", "test_branches", "fixtures/branches", "test_rehearsal", "test_deep_checks_droppable")
DESCRIBED_IN = "docs/checks.md"
# The template tests that import what the deep checks stand on: they must not need the deep checks.
SHARING_THE_ENGINE = ("test_render.py", "test_plan.py", "test_regions.py", "test_parameters.py",
                      "test_permissions_boundary.py", "test_abuse_bounds.py", "test_lifecycle.py")


def dropped(path: str) -> bool:
    return any(path == deep or path.startswith(deep + "/") for deep in DEEP_CHECKS)


def tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30).stdout
    return [p for p in out.decode().split("\0") if p and (ROOT / p).is_file()]


@pytest.fixture(scope="module")
def copy_without_them(tmp_path_factory) -> Path:
    """The working tree's tracked files (as they are now, edits included), minus the deep checks."""
    copy = tmp_path_factory.mktemp("fork")
    for path in tracked():
        if not dropped(path):
            (copy / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, copy / path)
    return copy


def pytest_in(copy: Path, *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=copy,
                          capture_output=True, text=True, timeout=timeout)


def test_the_list_names_what_exists():
    for path in DEEP_CHECKS:
        assert (ROOT / path).exists(), path


def test_every_test_module_still_imports_without_them(copy_without_them):
    assert not (copy_without_them / "checks" / "all_branches.py").exists()
    result = pytest_in(copy_without_them, "--collect-only", timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "error" not in result.stdout.splitlines()[-1].lower(), result.stdout[-2000:]


@pytest.mark.timeout(180)
def test_the_template_tests_sharing_their_engine_pass_without_them(copy_without_them):
    result = pytest_in(copy_without_them, "-x", *(f"tests/templates/{name}" for name in SHARING_THE_ENGINE),
                       "tests/ops/test_plan.py", timeout=150)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_no_other_tracked_file_names_them():
    naming = []
    for path in tracked():
        if dropped(path) or path == DESCRIBED_IN:
            continue
        try:
            text = (ROOT / path).read_text()
        except UnicodeDecodeError:
            continue
        naming += [f"{path}: {name}" for name in NAMES if name in text]
    assert naming == [], naming
