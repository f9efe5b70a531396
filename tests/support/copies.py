"""Copies of the repository, as a fork's clone would be, for the tests that change one and run tests in it
(the recipes, the scaffolder, dropping an extra): one way to make the copy, one way to run its tests."""
from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What `make venv` made: linked, not copied (the copy's tests call the same tools).
MADE_BY_MAKE = (".venv-sam", ".venv-checkov", ".cache")


def listed() -> list[str]:
    """The repository's files as git lists them: tracked, and new ones not ignored (a change being made)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, check=True, timeout=60).stdout.decode()
    return [name for name in out.split("\0") if name and (ROOT / name).is_file() and not (ROOT / name).is_symlink()]


def repository_copy(target: Path, leave_out: Callable[[str], bool] = lambda name: False) -> Path:
    """The repository's files (but those `leave_out` names) in `target`, a git repository of its own with one
    commit (tests list tracked files), the venvs linked: `.venv` is this interpreter's."""
    for name in listed():
        if not leave_out(name):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    for made in MADE_BY_MAKE:
        if (ROOT / made).exists():
            (target / made).symlink_to((ROOT / made).resolve())
    (target / ".venv").symlink_to(Path(sys.prefix))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "copy"]):
        subprocess.run([*git, *command], cwd=target, check=True, capture_output=True, timeout=60)
    return target


def _test_roots(copy: Path) -> list[Path]:
    """Where pytest looks for tests (pyproject's testpaths: tests/ and an optional part's */tests)."""
    return [copy / "tests", *sorted(p for p in copy.glob("*/tests") if p.is_dir())]


def _left_out(folder: Path, keep: set[Path]) -> Iterable[Path]:
    """The paths under `folder` that neither are in one of `keep` nor hold one."""
    for child in sorted(folder.iterdir()):
        if any(child.is_relative_to(path) for path in keep):
            continue  # runs
        if any(path.is_relative_to(child) for path in keep):
            yield from _left_out(child, keep)  # holds some that run: look inside
        else:
            yield child


def pytest_in(copy: Path, run: Iterable[str], *args: str, env: dict | None = None,
              timeout: float = 580) -> subprocess.CompletedProcess:
    """One pytest in `copy` that collects every test there (a module that no longer imports fails it) and runs
    only those under `run`: the rest is deselected by path, not ignored, so it is still collected."""
    keep = {(copy / path).resolve() for path in run}
    roots = _test_roots(copy.resolve())
    deselect = []
    for root in roots:
        for path in _left_out(root, keep) if any(p.is_relative_to(root) for p in keep) else [root]:
            relative = path.relative_to(copy.resolve()).as_posix()
            deselect.append(f"--deselect={relative}/" if path.is_dir() else f"--deselect={relative}::")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *deselect, *args]
    return subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)


def ran_clean(result: subprocess.CompletedProcess) -> bool:
    """pytest_in's run passed: exit 0, and its summary line counts passed tests and no error."""
    last = (result.stdout.strip().splitlines() or [""])[-1]
    return result.returncode == 0 and " passed" in last and "error" not in last
