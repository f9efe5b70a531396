"""bench/ (`make bench`) is optional: a fork deletes the folder and the Makefile's `bench:` target, and the
rest works. Nothing outside bench/ names it (its path, as a string or a path part, an import, `-m bench`),
so no code can reach it; then, in a copy of the tracked files without it, every test still collects and
the tiers that once stood on it pass: the cost model (its capacity figure came from bench/), the CLI, the
generated doc blocks, the blueprint's layout and the docs. Running the rest of the ops tier again in the
copy would prove nothing the first test does not, and cost ~90 s of make test's 15 minutes."""
from __future__ import annotations

import re

import pytest

from scripts.common import ROOT
from tests.support.copies import listed, pytest_in, ran_clean, repository_copy

# Using bench/ (Markdown may still describe it): its path, importing it, running it.
USES_BENCH = re.compile(r"\bbench/|[\"']bench[\"']|^\s*(from|import) bench\b|-m bench\b", re.M)


def without_bench_target(makefile: str) -> str:
    """The Makefile with its `bench:` rule (the rule line and its recipe) removed, nothing else."""
    return re.sub(r"^bench:.*\n(?:\t.*\n)*", "", makefile, flags=re.M)


def test_nothing_outside_bench_uses_it():
    makefile = (ROOT / "Makefile").read_text()
    assert without_bench_target(makefile) != makefile, "the Makefile has no bench: rule to remove"
    users = []
    for path in listed():
        if path.startswith("bench/") or path.endswith(".md") or path == "tests/ops/test_without_bench.py":
            continue
        text = (ROOT / path).read_text(errors="replace")
        if path == "Makefile":
            text = without_bench_target(text)
        if USES_BENCH.search(text):
            users.append(path)
    assert users == [], f"these use bench/: {users}"


@pytest.mark.timeout(240)
def test_a_copy_without_bench_collects_and_passes_the_tiers_that_stood_on_it(tmp_path):
    copy = repository_copy(tmp_path / "repo", leave_out=lambda path: path.startswith("bench/"))
    (copy / "Makefile").write_text(without_bench_target((ROOT / "Makefile").read_text()))
    # Every test collects (one run: the rest is deselected, not ignored); the tiers that stood on bench/ pass.
    tiers = pytest_in(copy, ["tests/cost", "tests/blueprint", "tests/ops/test_cli.py", "tests/ops/test_generated.py",
                             "tests/unit/test_docs.py"], "-x", timeout=200)
    assert ran_clean(tiers), tiers.stdout[-3000:] + tiers.stderr[-2000:]
