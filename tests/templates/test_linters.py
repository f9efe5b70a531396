"""cfn-lint, sam validate, checkov and cfn-guard: zero findings, on the sources
and on every Ingress x NetworkMode x Profile combination (plus custom
domains and options), with every suppression inline, reasoned and needed."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from checks import guard
from checks.evaluate import nested_stacks
from checks.render import template
from tests.templates.conftest import ROOT, SOURCES, all_renderings, dev_tool, run, venv_tool

CHECKOV_ARGS = ["--framework", "cloudformation", "--skip-download", "--external-checks-dir", "checks/checkov",
                "--output", "json"]
OUR_CHECKOV_CHECKS = {f"CKV_BP_{i}" for i in range(1, 7)}


def test_every_distinct_rendering_of_every_nested_stack_is_written_once(rendered):
    """Each variant's nested stacks (both parents), a rendering identical to one already written skipped."""
    distinct = {(location, json.dumps(template, indent=1))
                for stacks in all_renderings().values() for location, template in stacks.values()}
    files = list(rendered.glob("*/*.json"))
    assert len(files) == len(distinct)
    assert {p.stem for p in files} >= {*nested_stacks(template("parent.yml")), "SecondService"}


def test_cfn_lint_sources_with_project_and_serverless_rules():
    result = run([dev_tool("cfn-lint")])  # .cfnlintrc.yaml: the templates and the rules
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_cfn_lint_the_two_service_parent(two_service_parent_file):
    result = run([dev_tool("cfn-lint"), "--", str(two_service_parent_file)])
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_cfn_lint_every_rendered_combination(rendered):
    # E9105 is about updates of the source template; a rendered one is fixed by construction.
    files = sorted(str(p) for p in rendered.glob("*/*.json"))
    result = run([dev_tool("cfn-lint"), "-a", "checks/cfnlint", "-a", "cfn_lint_serverless.rules",
                  "--ignore-checks", "E9105", "--", *files])
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


@pytest.mark.parametrize("parent", ["parent.yml", "two-services"])
def test_sam_validate_lint(parent, two_service_parent_file):
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    path = "parent.yml" if parent == "parent.yml" else str(two_service_parent_file)
    result = run([venv_tool(".venv-sam", "sam"), "validate", "--lint", "--template", path,
                  "--region", "us-east-1"], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def checkov(*target: str) -> dict:
    """One checkov process over every target (`--directory D` or `--file F` pairs): its start (~4 s) is paid once.
    checkov prints one JSON report per directory given, one after the other (and with a directory ignores every
    `--file`: give either)."""
    result = run([venv_tool(".venv-checkov", "checkov"), *target, *CHECKOV_ARGS])
    decoder, text, reports, at = json.JSONDecoder(), result.stdout, [], 0
    while rest := text[at:].lstrip():
        report, at = decoder.raw_decode(text, len(text) - len(rest))
        reports += _list(report)
    assert reports, result.stdout[-2000:] + result.stderr[-2000:]
    return {kind: [c for r in reports for c in r["results"][f"{kind}_checks"]] for kind in ("passed", "failed", "skipped")}


def _list(reports):
    return reports if isinstance(reports, list) else [reports]


def _brief(checks):
    return sorted({(c["check_id"], c["resource"], c["file_path"]) for c in checks})


@pytest.fixture(scope="module")
def checkov_report(rendered, two_service_parent_file):
    """The renderings and the sources (both parents, every child template) in one run, split by where each
    result's file lies: {"rendered": {...}, "sources": {...}}."""
    files = [*sorted(str(p) for p in rendered.glob("*/*.json")), *SOURCES, str(two_service_parent_file)]
    report = checkov(*[arg for f in files for arg in ("--file", f)])
    inside = str(rendered.resolve()) + os.sep
    return {where: {kind: [c for c in checks if c["file_abs_path"].startswith(inside) == (where == "rendered")]
                    for kind, checks in report.items()} for where in ("rendered", "sources")}


@pytest.fixture(scope="module")
def checkov_rendered(checkov_report):
    return checkov_report["rendered"]


def test_checkov_rendered_has_no_failures(checkov_rendered):
    assert _brief(checkov_rendered["failed"]) == []
    ran = {c["check_id"] for c in checkov_rendered["passed"]}
    assert OUR_CHECKOV_CHECKS <= ran, "the project's ECS checks did not run"
    assert len(checkov_rendered["passed"]) > 300  # distinct renderings only (render_all)


def test_checkov_sources_have_no_failures(checkov_report):
    sources = checkov_report["sources"]
    assert _brief(sources["failed"]) == []
    read = {Path(c["file_abs_path"]).name for kind in ("passed", "skipped") for c in sources[kind]}
    assert {"service.yml", "frontend.yml"} <= read, "checkov did not read the sources"  # the parents: no check applies


def test_checkov_suppressions_are_reasoned_and_needed(rendered, checkov_rendered, tmp_path):
    skipped = {(c["check_id"], c["resource"].split(".")[-1]) for c in checkov_rendered["skipped"]}
    assert skipped, "no suppressions found: did checkov read the Metadata?"
    # Same templates without the suppressions: each suppressed check must fail somewhere.
    bare = tmp_path / "bare"
    shutil.copytree(rendered, bare)
    for path in bare.glob("*/*.json"):
        template = json.loads(path.read_text())
        for resource in template.get("Resources", {}).values():
            for skip in resource.get("Metadata", {}).pop("checkov", {}).get("skip", []):
                assert skip.get("comment", "").strip(), f"{path}: {skip['id']} has no reason"
        path.write_text(json.dumps(template))
    failing = {(c["check_id"], c["resource"].split(".")[-1]) for c in checkov("--directory", str(bare))["failed"]}
    assert skipped - failing == set(), "suppressions that no longer suppress anything"


def test_cfn_guard_control_tower_rules(rendered):
    report = guard.run(rendered)
    assert len(report) == len(list(rendered.glob("*/*.json")))
    standing, covered = guard.unsuppressed(report)
    assert [(f.control, f.resource, f.file) for f in standing] == []
    # Every suppression is reasoned and still covers a real failure.
    used = {(f.resource, f.control) for f in covered}
    for path in rendered.glob("*/*.json"):
        for key, reason in guard.suppressions(json.loads(path.read_text())).items():
            assert reason.strip(), f"{path}: {key} has no reason"
            assert key in used, f"{key} suppresses nothing any more"


def test_cfn_guard_runs_the_rules_of_every_service_the_templates_use():
    """A resource type added to a template brings its Control Tower rules into the run (checks/guard.py's SERVICES)."""
    types = {r["Type"] for stacks in all_renderings().values() for _, t in stacks.values()
             for r in t.get("Resources", {}).values()}
    assert guard.rule_dirs_for(types) <= set(guard.SERVICES)
    assert {"ecr", "codebuild", "lambda"} <= guard.rule_dirs_for(types)  # build.yml's and service.yml's


def test_cfn_guard_catches_a_violation(rendered, tmp_path):
    """The harness is live: an unencrypted bucket with no suppression fails."""
    template = json.loads((rendered / "HttpApi-PublicSubnets-dev" / "FrontendStack.json").read_text())
    bucket = template["Resources"]["Bucket"]
    bucket["Metadata"] = {}
    del bucket["Properties"]["PublicAccessBlockConfiguration"]
    (tmp_path / "t.json").write_text(json.dumps(template))
    standing, _ = guard.unsuppressed(guard.run(tmp_path))
    assert {"CT.S3.PR.1", "CT.S3.PR.2"} <= {f.control for f in standing}


def test_readme_lists_every_suppression(rendered):
    """The exceptions table lives in the README or a page of docs/ (wherever the docs put it)."""
    readme = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    ids = set()
    for path in rendered.glob("*/*.json"):
        template = json.loads(path.read_text())
        for resource in template.get("Resources", {}).values():
            meta = resource.get("Metadata", {})
            ids |= {s["id"] for s in meta.get("checkov", {}).get("skip", [])}
            ids |= {s["id"] for s in meta.get("cfn-guard", {}).get("skip", [])}
    missing = sorted(i for i in ids if i not in readme)
    assert missing == [], f"README's exceptions table lacks {missing}"
