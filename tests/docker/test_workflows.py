"""The GitHub Actions workflows users get, validated offline: the official
schema (check-jsonschema) and a security audit (zizmor, pedantic)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from local.stack import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent


def test_workflows_match_the_github_schema():
    result = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_even_when_pedantic():
    result = subprocess.run([str(BIN / "zizmor"), "--offline", "--persona", "pedantic", "--format", "json",
                             str(ROOT / ".github" / "workflows")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout[-3000:] + result.stderr[-1000:]


def test_actions_are_pinned_by_commit_with_a_version_comment_and_jobs_are_bounded():
    for path in WORKFLOWS:
        text = path.read_text()
        for uses in re.findall(r"uses: (\S+)(.*)", text):
            ref, rest = uses
            if ref.startswith("./"):
                continue
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"{path.name}: {ref} is not pinned by SHA"
            assert re.search(r"# v\d", rest), f"{path.name}: {ref} has no version comment"
        workflow = yaml.safe_load(text)
        assert workflow["permissions"] == {"contents": "read"}
        for name, job in workflow["jobs"].items():
            assert "uses" in job or job.get("timeout-minutes"), f"{path.name}: job {name} has no timeout"


def test_deploy_uses_oidc_not_stored_keys_and_runs_what_make_deploy_runs():
    """`make deploy` is `python -m scripts deploy` after installing every venv (the test tools and
    checkov too); CI runs the same command from the deploy tools alone (test_github_deploy.py)."""
    text = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    assert "secrets." not in text and "aws-access-key-id" not in text
    deploy = yaml.safe_load(text)["jobs"]["deploy"]
    assert deploy["permissions"]["id-token"] == "write" and deploy["needs"] == "test"
    assert any(step.get("run", "").endswith("python -m scripts deploy") for step in deploy["steps"])
    assert "$(OPS) deploy" in (ROOT / "Makefile").read_text()
