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


GOOD = ["good/nested/parent.yml", "good/compliant.yml"]


def project_findings(*paths: Path) -> dict[Path, list[str]]:
    """{fixture: the project rules' ids it triggers}, from ONE cfn-lint run over every path (a run costs ~2 s)."""
    result = run([dev_tool("cfn-lint"), "-a", "checks/cfnlint", "--format", "json", "--", *map(str, paths)])
    found: dict[Path, list[str]] = {path: [] for path in paths}
    for match in json.loads(result.stdout or "[]"):
        found.setdefault(Path(match["Filename"]), []).append(match["Rule"]["Id"])
    for path, ids in found.items():
        # A fixture cfn-lint cannot parse (E0000) would make every rule look quiet.
        assert "E0000" not in ids, f"{path} does not parse"
    return {path: sorted(i for i in ids if i.startswith("E91")) for path, ids in found.items()}


@pytest.fixture(scope="module")
def findings() -> dict[Path, list[str]]:
    return project_findings(*(FIXTURES / f for f in [*BAD, *GOOD]))


@pytest.mark.parametrize("fixture,rule", sorted(BAD.items()))
def test_rule_fires_on_its_bad_fixture(fixture, rule, findings):
    assert set(findings[FIXTURES / fixture]) == {rule}


@pytest.mark.parametrize("fixture", GOOD)
def test_rules_are_quiet_on_good_fixtures(fixture, findings):
    assert findings[FIXTURES / fixture] == []
