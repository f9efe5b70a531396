"""scripts/smoke.py: the one runner of the smoke suite, for `make smoke` and the end of `make deploy`."""
from __future__ import annotations

import subprocess

import pytest

from scripts import smoke
from scripts.common import ROOT, Target
from scripts.errors import SmokeFailed


class Recorder:
    def __init__(self, code: int = 0):
        self.code, self.calls = code, []

    def __call__(self, args, **kwargs):
        self.calls.append((args, kwargs))
        return subprocess.CompletedProcess(args, self.code)


def test_against_a_stack_it_passes_the_stack_region_service_and_version(monkeypatch):
    monkeypatch.delenv("SMOKE_URL", raising=False)
    run = Recorder()
    smoke.smoke(Target("dev", "my-stack", "eu-west-1", service="reports"), version="abc", run=run)
    (args, kwargs), = run.calls
    assert args == smoke.command() and "tests/smoke" in args and kwargs["cwd"] == ROOT
    env = kwargs["env"]
    assert (env["SMOKE_STACK"], env["AWS_REGION"], env["SMOKE_SERVICE"], env["SMOKE_VERSION"]) == (
        "my-stack", "eu-west-1", "reports", "abc")
    assert "SMOKE_URL" not in env


def test_against_a_url_it_needs_no_stack():
    run = Recorder()
    smoke.smoke(url="https://example.com", run=run)
    env = run.calls[0][1]["env"]
    assert env["SMOKE_URL"] == "https://example.com" and "SMOKE_STACK" not in env


def test_a_failed_suite_is_one_line_with_a_code():
    with pytest.raises(SmokeFailed, match="^smoke tests failed against stack s; their report is above$") as info:
        smoke.smoke(Target("dev", "s", "us-east-1"), run=Recorder(1))
    assert info.value.code == "smoke_failed"


def test_only_the_runner_runs_the_suite():
    """One smoke runner: no other script starts pytest on tests/smoke."""
    others = [p.name for p in (ROOT / "scripts").glob("*.py") if p.name != "smoke.py" and "tests/smoke" in p.read_text()]
    assert others == []


def test_the_suite_checks_each_services_health_path_through_the_sites_domain():
    from tests.ops.conftest import sample_outputs
    from tests.smoke.conftest import from_stack
    stack = {"StackName": "s", "Outputs": sample_outputs(frontend="https://d1.cloudfront.net/",
                                                         services=("Notes", "Reports")).as_outputs()}
    assert from_stack(stack).health_checks == {"notes": "https://d1.cloudfront.net/api/health-check",
                                               "reports": "https://d1.cloudfront.net/reports/health-check"}
    assert list(from_stack(stack, service="reports").health_checks) == ["reports"]


def test_the_suite_refuses_a_health_check_another_service_would_answer():
    """The old example's mistake: /api/health-check under the prefix /api/reports reaches the notes service."""
    import dataclasses

    from tests.ops.conftest import sample_outputs
    from tests.smoke.conftest import from_stack
    out = sample_outputs(services=("Notes", "Reports"))
    reports = dataclasses.replace(out.services["ReportsService"], path_prefix="/api/reports",
                                  health_check_path="/api/health-check")
    assert not reports.health_check_is_its_own and out.services["NotesService"].health_check_is_its_own
    out = dataclasses.replace(out, services={**out.services, "ReportsService": reports})
    stack = {"StackName": "s", "Outputs": out.as_outputs()}
    with pytest.raises(ValueError, match=r"ReportsService \(/api/health-check outside /api/reports\)"):
        from_stack(stack)
    assert list(from_stack(stack, service="notes").health_checks) == ["notes"], "the others still run alone"
