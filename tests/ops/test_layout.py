"""The dev stack reads the table from the templates; `make help` reads right."""
from __future__ import annotations

import pytest

from scripts.common import ROOT


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


def test_make_help_prints_values_not_make_variables():
    import subprocess
    out = subprocess.run(["make", "--no-print-directory", "help", "PORT=8123"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30, check=True).stdout
    assert "$(" not in out, out
    assert "http://127.0.0.1:8123/" in out


def test_a_services_code_is_never_told_to_go_where_output_goes():
    """reports/ is the output folder (tests, `make bench`): git ignores it and `make clean` deletes it. Every
    build context the README and docs/ tell a user to write (`Context: ...`) is neither."""
    import re
    import subprocess

    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT, timeout=30).returncode == 0

    clean = next(line for line in (ROOT / "Makefile").read_text().split("\nclean:", 1)[1].splitlines()[1:]
                 if line.startswith("\trm "))
    cleaned = {word.rstrip("/") for word in clean.split()[2:]}
    assert ignored("reports/bench.json") and "reports" in cleaned, "reports/ is the output folder"
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    contexts = {c.rstrip("/") for page in pages for c in re.findall(r"Context: ([\w./<>-]+)", page.read_text())}
    assert contexts, "the docs name where a service's code goes"
    for context in contexts:
        assert not ignored(f"{context}/Dockerfile"), f"{context}/ is ignored by git"
        assert context.split("/")[0] not in cleaned, f"`make clean` deletes {context}/"


def test_the_app_venvs_two_lock_files_agree_on_every_package_they_share():
    """`make run` and `make test` install app/requirements.txt and requirements/dev.txt into one venv with
    one pip command: a package pinned to two versions (packaging 26.4 against 26.3 once) stops a fresh
    clone at pip's resolver. dev.in takes the runtime pins as constraints; `make lock` re-pins both."""
    import re

    def pins(path):
        found = {}
        for line in (ROOT / path).read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", line)
            if match:
                found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
        return found

    runtime, dev = pins("app/requirements.txt"), pins("requirements/dev.txt")
    assert runtime and dev
    assert {name: (runtime[name], dev[name]) for name in runtime.keys() & dev.keys() if runtime[name] != dev[name]} == {}
