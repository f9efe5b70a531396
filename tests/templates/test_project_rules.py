"""The project's cfn-lint rules (checks/cfnlint) fire on their bad fixtures and stay
quiet on the good ones, like cfn-lint's own test/fixtures/templates/{good,bad}."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.templates.conftest import dev_tool, run

FIXTURES = Path(__file__).parent / "fixtures"
BAD = {
    "bad/nested/parent.yml": "E9101",
    "bad/open_ingress.yml": "E9102",
    "bad/all_protocols.yml": "E9103",
    "bad/log_retention.yml": "E9104",
    "bad/desired_count.yml": "E9105",
    "bad/spa_fallback.yml": "E9106",
    "bad/listener_race.yml": "E9107",
    "bad/custom_resource_timeout.yml": "E9108",
    "bad/ecr_repository.yml": "E9109",
    "bad/function_log_group.yml": "E9110",
}


def project_findings(path: Path) -> list[str]:
    result = run([dev_tool("cfn-lint"), "-a", "checks/cfnlint", "--format", "json", "--", str(path)])
    found = [m["Rule"]["Id"] for m in json.loads(result.stdout or "[]")]
    # A fixture cfn-lint cannot parse (E0000) would make every rule look quiet.
    assert "E0000" not in found, f"{path} does not parse"
    return sorted(i for i in found if i.startswith("E91"))


@pytest.mark.parametrize("fixture,rule", sorted(BAD.items()))
def test_rule_fires_on_its_bad_fixture(fixture, rule):
    assert set(project_findings(FIXTURES / fixture)) == {rule}


@pytest.mark.parametrize("fixture", ["good/nested/parent.yml", "good/compliant.yml"])
def test_rules_are_quiet_on_good_fixtures(fixture):
    assert project_findings(FIXTURES / fixture) == []
