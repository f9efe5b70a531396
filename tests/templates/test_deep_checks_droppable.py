"""The deep template checks are an extra a fork can drop (docs/checks.md, "Dropping the deep checks"):
in a copy of the repository's tracked files without them, every test module still imports, the
template tests that share their engine (checks/evaluate.py, checks/plan.py) still pass, and no other
tracked file names them. This file goes with them."""
from __future__ import annotations

import pytest

from checks.render import ROOT
from tests.support.copies import listed, pytest_in, ran_clean, repository_copy

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


def test_the_list_names_what_exists():
    for path in DEEP_CHECKS:
        assert (ROOT / path).exists(), path


@pytest.mark.timeout(180)
def test_without_them_every_test_collects_and_the_tests_sharing_their_engine_pass(tmp_path):
    copy = repository_copy(tmp_path / "fork", leave_out=dropped)
    assert not (copy / "checks" / "all_branches.py").exists()
    # One run: every test is collected (the rest deselected, not ignored), these run.
    result = pytest_in(copy, [*(f"tests/templates/{name}" for name in SHARING_THE_ENGINE), "tests/ops/test_plan.py"],
                       "-x", timeout=170)
    assert ran_clean(result), result.stdout[-3000:] + result.stderr[-2000:]


def test_no_other_tracked_file_names_them():
    naming = []
    for path in listed():
        if dropped(path) or path == DESCRIBED_IN:
            continue
        try:
            text = (ROOT / path).read_text()
        except UnicodeDecodeError:
            continue
        naming += [f"{path}: {name}" for name in NAMES if name in text]
    assert naming == [], naming
