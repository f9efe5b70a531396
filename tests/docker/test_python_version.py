"""One Python version for CI, local and the image: .python-version (major.minor).

GitHub's setup-python reads it (python-version-file), the Makefile makes the venvs with
python<that version> (else python3, saying which version that is), and app/Dockerfile's
FROM names the same major.minor. Dependabot may move the image's patch release, never
its minor alone: a new minor is one commit that changes .python-version too.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from local.stack import ROOT

VERSION_FILE = ROOT / ".python-version"
HERE = "{}.{}".format(*sys.version_info[:2])


def pinned() -> str:
    return VERSION_FILE.read_text().strip()


def test_the_version_file_names_one_minor_release():
    assert re.fullmatch(r"3\.\d+", pinned()), "major.minor only: CI, pyenv and the Makefile take the latest patch"


def test_the_images_python_is_that_version(dockerfile):
    image = dockerfile.base_image
    tag = re.search(r"/python:(\d+\.\d+)\.\d+-", image)
    assert tag and tag.group(1) == pinned(), f"{image} is not Python {pinned()} (.python-version)"


def test_every_workflow_sets_up_python_from_the_version_file():
    steps = []
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            steps += [(path.name, s) for s in job.get("steps", []) if s.get("uses", "").startswith("actions/setup-python@")]
    assert steps, "no workflow sets up Python"
    for name, step in steps:
        assert step.get("with") == {"python-version-file": ".python-version"}, f"{name}: {step}"


def fake_interpreter(directory: Path, name: str, script: str | None = None) -> Path:
    """An executable that is this Python (so it reports this version), or runs `script`."""
    path = directory / name
    body = script or f'exec {sys.executable} "$@"'
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def run_make(tmp_path: Path, version: str | None, *args: str, env: dict | None = None):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    if version is not None:
        (tmp_path / ".python-version").write_text(version + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake_interpreter(bin_dir, "python3")
    fake_interpreter(bin_dir, f"python{HERE}")
    result = subprocess.run(["make", "--no-print-directory", "-s", *args], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, env={"PATH": f"{bin_dir}:/usr/bin:/bin", **(env or {})})
    return result, bin_dir


def test_make_uses_the_interpreter_the_version_file_names(tmp_path):
    result, bin_dir = run_make(tmp_path, HERE, "python")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"{bin_dir}/python{HERE} is Python {HERE}"


def test_make_falls_back_to_python3_and_says_the_versions_differ(tmp_path):
    result, bin_dir = run_make(tmp_path, "3.99", "python")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == (f"python3 is Python {HERE}, but .python-version says 3.99 (CI and the image "
                                     "run 3.99): install python3.99, or set PYTHON=")


def test_make_without_a_version_file_uses_python3_and_an_explicit_python_wins(tmp_path):
    result, _ = run_make(tmp_path, None, "python")
    assert result.returncode == 0 and result.stderr.strip() == f"python3 is Python {HERE}"
    result, _ = run_make(tmp_path, HERE, "python", f"PYTHON={sys.executable}")
    assert result.stderr.strip() == f"{sys.executable} is Python {HERE}"


def test_make_refuses_a_python_older_than_3_11(tmp_path):
    old = fake_interpreter(tmp_path, "old", f"exec {sys.executable} -c \"import sys; "
                           "sys.version_info = (3, 9, 0, 'final', 0); exec(sys.argv[2])\" \"$@\"")  # -c CODE
    result, _ = run_make(tmp_path, "3.99", "python", f"PYTHON={old}")
    assert result.returncode != 0 and "3.11+ is needed, install python3.99" in result.stderr


def test_a_venv_made_by_another_python_is_made_anew_and_a_shared_one_is_left_alone(tmp_path):
    """A new .python-version must not leave venvs of the old version in place; `.venv` may be a symlink
    to a venv shared between work trees: that one is unlinked, never emptied."""
    shared = tmp_path / "shared-venv"
    (shared / "bin").mkdir(parents=True)
    fake_interpreter(shared / "bin", "python", "echo 2.7")
    os.symlink(shared, tmp_path / "venv")
    result, _ = run_make(tmp_path, HERE, "--eval", "probe: ; $(call fresh_venv,venv)", "probe",
                         f"PYTHON={sys.executable}")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "venv").is_symlink() and (shared / "bin" / "python").read_text().endswith("echo 2.7\n")
    remade = subprocess.run([str(tmp_path / "venv" / "bin" / "python"), "-c", "import sys; print(sys.version_info[:2])"],
                            capture_output=True, text=True, timeout=30)
    assert remade.stdout.strip() == str(tuple(sys.version_info[:2]))
    before = (tmp_path / "venv" / "pyvenv.cfg").stat().st_mtime_ns
    result, _ = run_make(tmp_path, HERE, "--eval", "probe: ; $(call fresh_venv,venv)", "probe",
                         f"PYTHON={sys.executable}")
    assert result.returncode == 0 and (tmp_path / "venv" / "pyvenv.cfg").stat().st_mtime_ns == before  # kept
