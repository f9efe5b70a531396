"""scripts/ is the user's operations and nothing else; the dev stack (local/) and the operations do
not stand on the test tooling (checks/, tests/): what they share is blueprint/templates.py."""
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
    allowed = {"scripts/plan.py": {"checks.plan"}}  # `make plan` is the plan engine's front end
    for path in sorted((ROOT / package).glob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tooling = {m for m in imported(path) if m.split(".")[0] in ("checks", "tests")}
        assert tooling <= allowed.get(rel, set()), f"{rel} imports {sorted(tooling)}"


def test_the_test_bootstrap_lives_with_the_tests():
    assert not (ROOT / "scripts" / "system_deps.py").exists()
    assert "tests/system_deps.py" in (ROOT / "Makefile").read_text()


def test_the_local_table_is_read_from_whichever_template_defines_it(tmp_path):
    """The dev stack's table follows the template that holds NotesTable (service.yml, or a data stack)."""
    from local.dynamodb_table import table_definition, table_template
    (tmp_path / "vpc.yml").write_text("Resources:\n  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n")
    (tmp_path / "data.yml").write_text(
        "Resources:\n  NotesTable:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: PAY_PER_REQUEST\n"
        "      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n"
        "      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n")
    assert table_template(root=tmp_path) == tmp_path / "data.yml"
    assert table_definition(tmp_path / "data.yml")["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    with pytest.raises(ValueError, match="defines NoSuchTable"):
        table_template("NoSuchTable", root=tmp_path)
    assert table_definition()["BillingMode"] == "PAY_PER_REQUEST", "the repository's own templates"
