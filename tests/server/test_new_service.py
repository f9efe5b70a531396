"""`new-service` as the README says, in a copy of the repository (its files as git lists them): the copy's
parent with three services (the sample, the generated second of the template checks, the new one) passes
the template checks (cfn-lint, sam validate --lint, checkov, cfn-guard, the project rules) and the cost
tests; the new Dockerfile passes hadolint; the starter passes its own tests and, on the real server from
services/NAME/, answers its health check, its example and its OpenAPI document under its prefix. A bad
name or prefix is one line on stderr, a non-zero exit, and nothing written."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from local.stack import ROOT
from tests.server.test_app_recipes import serve
from tests.support.copies import repository_copy

pytestmark = pytest.mark.server


def readme_command() -> list[str]:
    """The README's scaffolder command, run with this interpreter (the README's is the venv's)."""
    line = re.search(r"^\s*(\.venv/bin/python -m scripts new-service .*)$", (ROOT / "README.md").read_text(), re.M)
    assert line, "the README shows the new-service command"
    args = shlex.split(line.group(1))
    return [sys.executable, *args[1:]]


def git(copy: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=copy, capture_output=True, text=True, check=True, timeout=60).stdout


def new_service(copy: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scripts", "new-service", *args], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=120)


REFUSED = [
    (["Reports"], "lowercase letters and digits"),
    (["9lives"], "starting with a letter"),
    (["a" * 25], "at most 24"),
    (["notes"], "already has NotesService"),
    (["billing", "--prefix", "/billing"], "use /api/"),
    (["billing", "--prefix", "/api/billing/"], "no trailing slash"),
    (["billing", "--prefix", "/api/bil ling"], "use /api/"),
    (["billing", "--prefix", "/api"], "is NotesService's"),
]


# Left out in the copy: what a new service cannot change, as new-service writes parent.yml's block and a context
# and no child template. The project's cfn-lint rules on their own fixture templates; the two-service parent's
# lint and `sam validate` (here it is the copy's three services plus the generated one: the same generator, whose
# block the copy's own parent.yml already carries through cfn-lint, sam validate and checkov); whether each
# checkov suppression still suppresses something (they live in the child templates, unchanged); and make cost's
# refusals of bad flags. Each runs in the repository's own tiers. (~30 s of make test's 15 minutes.)
CANNOT_CHANGE = ["tests/templates/test_project_rules.py::test_rule_fires_on_its_bad_fixture",
                 "tests/templates/test_project_rules.py::test_rules_are_quiet_on_good_fixtures",
                 "tests/templates/test_linters.py::test_cfn_lint_the_two_service_parent",
                 "tests/templates/test_linters.py::test_sam_validate_lint[two-services]",
                 "tests/templates/test_linters.py::test_checkov_suppressions_are_reasoned_and_needed",
                 "tests/cost/test_cost.py::test_cli_errors_are_one_line"]


@pytest.mark.timeout(480)  # the copy's template and cost tests take most of it (~2 minutes alone)
def test_new_service_in_a_copy_passes_every_check(tmp_path):
    copy = repository_copy(tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}

    for args, says in REFUSED:
        refused = new_service(copy, env, *args)
        assert refused.returncode != 0 and says in refused.stderr, (args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert git(copy, "status", "--porcelain") == "", f"{args} wrote something"

    command = readme_command()
    made = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stdout + made.stderr
    name, prefix = command[command.index("new-service") + 1], command[command.index("--prefix") + 1]
    context = copy / "services" / name
    assert (context / "Dockerfile").is_file() and (context / "api" / "notes").exists() is False
    assert subprocess.run(["git", "check-ignore", "-q", f"services/{name}/Dockerfile"], cwd=copy).returncode == 1
    changed = {line[3:] for line in git(copy, "status", "--porcelain").splitlines()}
    assert changed == {"parent.yml", "docs/cost.md", "services/"}, changed
    for args, says in ([name], "already has"), (["other", "--prefix", prefix], "Service's"):
        again = new_service(copy, env, *args)
        assert again.returncode != 0 and says in again.stderr, again.stderr

    # Every check the repository's own tests run, on the copy's three-service parent, and the service's
    # own tests (tests/unit/test_service_contexts.py runs each services/ context's).
    checks = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/templates/test_linters.py",
         "tests/templates/test_project_rules.py", "tests/templates/test_services.py", "tests/cost",
         "tests/unit/test_service_contexts.py", "tests/ops/test_layout.py",
         *(f"--deselect={node}" for node in CANNOT_CHANGE)],
        cwd=copy, env=env, capture_output=True, text=True, timeout=600)
    assert checks.returncode == 0, checks.stdout[-4000:] + checks.stderr[-2000:]
    assert " passed" in checks.stdout and "skipped" not in checks.stdout, checks.stdout[-500:]

    hadolint = subprocess.run([str(Path(sys.executable).parent / "hadolint"), "--failure-threshold", "info",
                               str(context / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert hadolint.returncode == 0, hadolint.stdout + hadolint.stderr

    for base in serve(context, env, health=f"{prefix}/health-check"):
        health = requests.get(f"{base}{prefix}/health-check", timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        hello = requests.get(f"{base}{prefix}/hello", timeout=5)
        assert hello.status_code == 200 and hello.json() == {"message": "Hello!"}
        missing = requests.get(f"{base}{prefix}/nowhere", timeout=5)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        doc = requests.get(f"{base}{prefix}/openapi.json", timeout=5).json()
    assert set(doc["paths"]) >= {f"{prefix}/hello", f"{prefix}/health-check"}
    assert not [p for p in doc["paths"] if not p.startswith(prefix + "/")], doc["paths"]
