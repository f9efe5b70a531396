"""bench/ (`make bench`) is optional: a fork deletes the folder and the Makefile's `bench:` target, and the
rest works. Nothing outside bench/ names it (its path, as a string or a path part, an import, `-m bench`),
so no code can reach it; then, in a copy of the tracked files without it, every test still collects and
the tiers that once stood on it pass: the cost model (its capacity figure came from bench/), the CLI, the
generated doc blocks, the blueprint's layout and the docs. Running the rest of the ops tier again in the
copy would prove nothing the first test does not, and cost ~90 s of make test's 15 minutes."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from scripts.common import ROOT

# Using bench/ (Markdown may still describe it): its path, importing it, running it.
USES_BENCH = re.compile(r"\bbench/|[\"']bench[\"']|^\s*(from|import) bench\b|-m bench\b", re.M)


def tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [path for path in out.split("\0") if path and (ROOT / path).is_file()]


def without_bench_target(makefile: str) -> str:
    """The Makefile with its `bench:` rule (the rule line and its recipe) removed, nothing else."""
    return re.sub(r"^bench:.*\n(?:\t.*\n)*", "", makefile, flags=re.M)


def test_nothing_outside_bench_uses_it():
    makefile = (ROOT / "Makefile").read_text()
    assert without_bench_target(makefile) != makefile, "the Makefile has no bench: rule to remove"
    users = []
    for path in tracked():
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
    copy = tmp_path / "repo"
    for path in tracked():
        if path.startswith("bench/"):
            continue
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, copy / path)
    for made in (".venv", ".venv-sam", ".venv-checkov", ".cache"):  # what `make venv` made, as in a fork's clone
        if (ROOT / made).exists():
            (copy / made).symlink_to((ROOT / made).resolve())
    (copy / "Makefile").write_text(without_bench_target((ROOT / "Makefile").read_text()))
    # A repository with one commit, as a fork's clone is: tests list tracked files and tag images by commit.
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    subprocess.run(["git", "add", "-A"], cwd=copy, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "without bench"], cwd=copy, check=True)

    def pytest_in_copy(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=copy,
                              capture_output=True, text=True, timeout=200)

    collected = pytest_in_copy("--collect-only", "-q")
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-2000:]
    assert not re.search(r"^bench/", collected.stdout, re.M), "tests of bench/ were collected from a copy without it"
    tiers = pytest_in_copy("-q", "-x", "tests/cost", "tests/blueprint", "tests/ops/test_cli.py",
                           "tests/ops/test_generated.py", "tests/unit/test_docs.py")
    assert tiers.returncode == 0, tiers.stdout[-3000:] + tiers.stderr[-2000:]
