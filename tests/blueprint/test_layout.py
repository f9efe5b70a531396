"""scripts/ is the user's operations and nothing else; the dev stack (local/) and the operations do
not stand on the test tooling (checks/, tests/): what they share is blueprint/templates.py.
A failure here says: you changed a choice of the blueprint; change the test with it."""
from __future__ import annotations

import ast

import pytest

from scripts.common import ROOT


def imported(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", ["local", "scripts", "blueprint"])
def test_runtime_packages_do_not_import_the_test_tooling(package):
    allowed = {"scripts/plan.py": {"checks.plan",  # `make plan` is the plan engine's front end; which parameters
                                   "checks.render", "checks.cfnlint.project_rules"},  # a parent Rule reads
               # the Free plan's one-way doors (make plan, preflight, destroy): both parameter sets rendered
               # by the plan engine, and the resources a delete leaves (the cfn-lint rules' reference walk)
               "scripts/free_plan.py": {"checks.plan", "checks.render", "checks.cfnlint.project_rules"},
               # the origin secret's two-step upgrade: the templates' policies, read as the plan engine reads them
               "scripts/origin_secret.py": {"checks.evaluate", "checks.render", "checks.cfnlint.project_rules"}}
    for path in sorted((ROOT / package).glob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tooling = {m for m in imported(path) if m.split(".")[0] in ("checks", "tests")}
        assert tooling <= allowed.get(rel, set()), f"{rel} imports {sorted(tooling)}"


def test_the_test_bootstrap_lives_with_the_tests():
    assert not (ROOT / "scripts" / "system_deps.py").exists()
    assert "tests/system_deps.py" in (ROOT / "Makefile").read_text()
