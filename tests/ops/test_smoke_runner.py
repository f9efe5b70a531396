"""scripts/smoke.py: the one runner of the smoke suite, for `make smoke` and the end of `make deploy`."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from scripts import smoke
from scripts.common import ROOT, Target
from scripts.errors import SmokeFailed, UsageError, WaitTimedOut


class Recorder:
    def __init__(self, code: int = 0):
        self.code, self.calls = code, []

    def __call__(self, args, **kwargs):
        self.calls.append((args, kwargs))
        return subprocess.CompletedProcess(args, self.code)


def test_against_a_stack_it_passes_the_stack_region_and_service(monkeypatch):
    monkeypatch.delenv("SMOKE_URL", raising=False)
    monkeypatch.delenv("SMOKE_VERSION", raising=False)
    run = Recorder()
    from tests.ops.conftest import sample_outputs
    waited = []
    smoke.smoke(Target("dev", "my-stack", "eu-west-1", service="reports"), run=run,
                outputs=sample_outputs(frontend="https://d1.cloudfront.net/", services=("Notes", "Reports")),
                wait=lambda url, timeout: waited.append(url))
    assert waited == ["https://d1.cloudfront.net/reports/health-check"], "the runner waits for the ones it checks"
    (args, kwargs), = run.calls
    assert args == smoke.command() and "tests/smoke" in args and kwargs["cwd"] == ROOT
    env = kwargs["env"]
    assert (env["SMOKE_STACK"], env["AWS_REGION"], env["SMOKE_SERVICE"]) == ("my-stack", "eu-west-1", "reports")
    assert "SMOKE_URL" not in env and "SMOKE_VERSION" not in env, "the versions come from the stack's descriptors"


def test_against_a_url_it_needs_no_stack():
    run = Recorder()
    smoke.smoke(url="https://example.com", run=run, wait=lambda url, timeout: None)
    env = run.calls[0][1]["env"]
    assert env["SMOKE_URL"] == "https://example.com" and "SMOKE_STACK" not in env


def test_a_failed_suite_is_one_line_with_a_code():
    with pytest.raises(SmokeFailed, match="^smoke tests failed against stack s; their report is above$") as info:
        smoke.smoke(Target("dev", "s", "us-east-1"), run=Recorder(1), outputs=_outputs(), wait=lambda url, timeout: None)
    assert info.value.code == "smoke_failed"


def _outputs():
    from tests.ops.conftest import sample_outputs
    return sample_outputs()


def test_no_answer_shows_progress_as_it_waits_then_ends_in_one_line():
    """`make smoke` against a URL that never answers (a closed local port): a progress line per attempt
    while it waits (SMOKE_WAIT bounds it), then one line and exit 1, with no pytest report and no suite run."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: every connection is refused
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        env = {**os.environ, "SMOKE_WAIT": "2"}
        env.pop("SERVICE", None)
        result = subprocess.run([sys.executable, "-m", "scripts", "smoke", "--url", url], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    progress = [line for line in result.stdout.splitlines() if "waiting for" in line]
    assert progress and all(f"waiting for {url}/api/health-check: ConnectionError" in p for p in progress)
    assert result.stderr.splitlines() == [
        f"error: no answer from {url}/api/health-check within 2 s (last: ConnectionError)"]
    assert "pytest" not in result.stdout + result.stderr and "fixture" not in result.stdout


def test_the_wait_is_bounded_and_prints_each_attempt(capsys):
    now = [0.0]
    with pytest.raises(WaitTimedOut, match=r"^no answer from u within 3 s \(last: HTTP 503\)$"):
        smoke.wait_healthy("u", 3, get=lambda url, timeout: Answer(503),
                           clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert capsys.readouterr().out.count("waiting for u: HTTP 503") == 3


class Answer:
    def __init__(self, status_code: int):
        self.status_code = status_code


def test_a_service_with_a_url_is_refused_not_ignored():
    with pytest.raises(UsageError, match="^SERVICE=nope picks a service of a stack, but URL=https://x is a single"):
        smoke.refuse_service_with_url("nope", "https://x")
    smoke.refuse_service_with_url(None, "https://x")


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


def test_the_suite_expects_the_version_each_services_descriptor_names():
    """The stack built NotesService's image (its descriptor has a version); ReportsService runs an ImageUri given
    to it ("": nothing to compare); a descriptor from before the stack built images has no version at all."""
    import json

    from tests.ops.conftest import sample_outputs
    from tests.smoke.conftest import Deployment, from_stack
    out = sample_outputs(frontend="https://d1.cloudfront.net/", services=("Notes", "Reports"))
    assert out.services["NotesService"].version and not out.services["ReportsService"].version
    stack = {"StackName": "s", "Outputs": out.as_outputs()}
    assert from_stack(stack).expected_versions == {
        "https://d1.cloudfront.net/api/health-check": out.services["NotesService"].version}
    assert from_stack(stack, service="reports").expected_versions == {}
    older = [dict(o, OutputValue=json.dumps({k: v for k, v in json.loads(o["OutputValue"]).items() if k != "version"}))
             if o["OutputKey"].endswith("Service") else o for o in stack["Outputs"]]
    assert from_stack({"StackName": "s", "Outputs": older}).expected_versions == {}
    url = Deployment("http://127.0.0.1:8080", version="abc")  # SMOKE_VERSION against a URL: the sample's
    assert url.expected_versions == {"http://127.0.0.1:8080/api/health-check": "abc"}


def test_the_version_check_fails_when_a_health_check_reports_another():
    """What the smoke test asserts, against answers that say another version: the deploy's tasks still run
    the previous image."""
    from tests.smoke.conftest import Deployment, wrong_versions

    class Answer:
        def __init__(self, version):
            self.version = version

        def json(self):
            return {"status": "ok", "version": self.version}
    deployment = Deployment("https://d1.cloudfront.net", health_paths={"notes": "/api/health-check"},
                            versions={"notes": "3f2a9c1b0d4e"})
    assert wrong_versions(deployment, lambda url: Answer("3f2a9c1b0d4e")) == []
    assert wrong_versions(deployment, lambda url: Answer("0123456789ab")) == [
        "GET https://d1.cloudfront.net/api/health-check: version 0123456789ab, the stack built 3f2a9c1b0d4e"]


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


def test_the_docs_name_every_check_reported_not_applicable_against_a_plain_http_url():
    """docs/operate.md said three checks are not applicable against a plain-HTTP URL; `make smoke` listed four.
    The docs name each test marked aws_only (tests/smoke/conftest.py deselects exactly those), and count them."""
    import ast
    import re

    marked = set()
    for path in (ROOT / "tests" / "smoke").glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(
                    "aws_only" in ast.unparse(d) for d in node.decorator_list):
                marked.add(node.name)
    section = (ROOT / "docs" / "operate.md").read_text().split("## The smoke tests", 1)[1].split("\n## ", 1)[0]
    paragraph = section[:section.index("not applicable")]
    assert marked and set(re.findall(r"`(test_\w+)`", paragraph)) == marked
    words = {2: "those two", 3: "those three", 4: "those four", 5: "those five", 6: "those six"}
    assert f"{words[len(marked)]} are reported as not applicable" in " ".join(section.split())
