"""The app's recipes, followed in a copy of the repository: add an endpoint, remove the sample.

Adding an endpoint: the steps are the code blocks of docs/api.md's "Adding an endpoint" (the README points there): a new
blueprint module with its pydantic models and view, its lines in create_app, and its test. In the copy,
the new test and the OpenAPI tests pass, and the real server (gunicorn with app/gunicorn.conf.py)
answers the endpoint and lists it in /api/openapi.json with its schemas, every $ref resolving.
Removing the sample: the commands of docs/services.md's "Remove the sample", run as written in a copy; the
rest renders, lints, starts, answers its health checks, prices itself and passes the platform's tiers."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from local.stack import ROOT, free_port, wait_http
from tests.support.copies import pytest_in, ran_clean, repository_copy

pytestmark = pytest.mark.server


def recipe() -> tuple[dict[str, str], str]:
    """The files the recipe writes ({path: content}, from blocks starting `# path`), and the lines it
    adds to create_app (the block without a path)."""
    text = (ROOT / "docs" / "api.md").read_text()
    section = text.split("## Adding an endpoint\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    files = {}
    lines = None
    for block in blocks:
        first, _, rest = block.partition("\n")
        if first.startswith("# ") and "/" in first:
            files[first[2:].strip()] = rest
        else:
            lines = block
    assert files and lines, "docs/api.md's recipe lost its code blocks"
    return files, lines


def follow(copy: Path) -> None:
    files, lines = recipe()
    for path, content in files.items():
        target = copy / path
        assert not target.exists(), f"the recipe's {path} already exists"
        target.write_text(content)
    factory = copy / "app" / "api" / "__init__.py"
    source = factory.read_text()
    sample = "    # <<< the sample\n"  # "below the sample's block"
    assert source.count(sample) == 1
    factory.write_text(source.replace(sample, sample + lines))


def refs(node) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for value in node.values() for r in refs(value)]
    return [r for value in node for r in refs(value)] if isinstance(node, list) else []


def serve(app_dir: Path, env: dict, health: str = "/api/health-check"):
    """The real server (gunicorn with the copy's gunicorn.conf.py) on a free port, once `health` answers;
    yields its URL."""
    port = free_port()
    server_env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "ORIGIN_VERIFY_SECRET": "",
                  "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION": "us-east-1"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"], cwd=app_dir,
                              env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}{health}", 30, server)
        yield base
    finally:
        server.terminate()
        server.wait(30)


def test_adding_an_endpoint_as_the_readme_says(tmp_path):
    assert "docs/api.md#adding-an-endpoint" in (ROOT / "README.md").read_text()
    copy = repository_copy(tmp_path / "repo")
    follow(copy)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}

    # Its test and the OpenAPI document's tests, in the copy.
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_greetings.py",
                          "tests/unit/test_openapi.py"], cwd=copy, env=env, capture_output=True, text=True,
                         timeout=180)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]

    # The real server.
    for base in serve(copy / "app", env):
        answered = requests.post(f"{base}/api/greetings", json={"name": "Ada"}, timeout=5)
        assert answered.status_code == 200 and answered.json() == {"message": "Hello, Ada!"}
        refused = requests.post(f"{base}/api/greetings", json={"name": ""}, timeout=5)
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "name"
        doc = requests.get(f"{base}/api/openapi.json", timeout=5).json()

    operation = doc["paths"]["/api/greetings"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/GreetingIn"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Greeting"}
    schemas = doc["components"]["schemas"]
    assert schemas["GreetingIn"]["properties"]["name"]["minLength"] == 1
    assert {"message"} == set(schemas["Greeting"]["properties"])
    dangling = [r for r in refs(doc) if r.removeprefix("#/components/schemas/") not in schemas]
    assert dangling == []


def removal() -> str:
    """The shell commands of docs/services.md's "Remove the sample", as written there."""
    text = (ROOT / "docs" / "services.md").read_text()
    section = text.split("## Remove the sample\n", 1)[1].split("\n## ", 1)[0]
    (commands,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    return commands


# The tiers that are the platform's: the unit, real-server, templates and cost tiers (the browser tier tests the
# sample's page and goes with it, as its tests in the tiers' notes/ folders do). The server tier's platform tests
# call the tests' probe blueprint (tests/support/probe.py), so they run against the copy's app as they do here.
PLATFORM_TIERS = ["tests/unit", "tests/server", "tests/templates", "tests/cost"]
# Not run in the copy (node ids or their prefixes): this module (the copy would copy itself); the scaffolder's
# test, which writes a new service into a copy of its own and runs the template, cost and real-server checks
# there (~2 min): the scaffolder reads no file of the sample (the starter it writes is checked without it), and
# its other inputs, the parent's service blocks and the checks, are the ones this copy's templates and cost tiers
# pass. And what the sample's removal cannot reach, each a file the removal leaves as it is: the server's own
# endurance tests, load, a killed worker, fuzzing and slow clients (~2 min), its drain after SIGTERM and the
# datastore client's pool (~25 s), which hold gunicorn's settings, the entrypoint and app/api/dynamodb.py to
# account; the project's cfn-lint rules on their own fixture templates (~10 s); and what `sam package` uploads
# (tests/templates/test_packaging.py, two SAM CLI runs, ~12 s: the removal deletes files inside app/ and edits
# parent.yml's blocks, but leaves every layer and function path, which test_build.py checks here); whether each
# checkov suppression still suppresses something (a second checkov run, ~12 s: the suppressions live in the child
# templates the removal leaves as they are, and the one template it deletes takes its own with it). The copy's gunicorn.conf.py,
# entrypoint and app start and answer in the tests that do run here (every request shape and error, a datastore
# outage), and its templates pass every rule. Their place in make test's 15 minutes is worth more than a second
# run. And any test marked own_copy, which makes a copy of its own to run tests this copy runs itself.
NOT_IN_THE_COPY = ["tests/server/test_app_recipes.py::", "tests/server/test_new_service.py::",
                   "tests/server/test_robustness.py::", "tests/server/test_slow_clients.py::",
                   "tests/server/test_datastore_pool.py::",
                   *(f"tests/server/test_lifecycle.py::{name}" for name in (
                       "test_sigterm_drains", "test_drain_delay", "test_a_hung_request", "test_a_request_on_a_kept_alive")),
                   "tests/templates/test_project_rules.py::test_rule_fires_on_its_bad_fixture",
                   "tests/templates/test_project_rules.py::test_rules_are_quiet_on_good_fixtures",
                   "tests/templates/test_packaging.py::",
                   "tests/templates/test_linters.py::test_checkov_suppressions_are_reasoned_and_needed"]


@pytest.mark.timeout(600)  # four tiers in the copy: ~3 min alone, more on a busy machine
def test_without_the_sample_the_rest_renders_lints_starts_and_passes_its_tests(tmp_path):
    """docs/services.md's "Remove the sample", its commands run as written in a copy of the repository:
    the platform renders and lints, starts on the real server and answers its health checks and a valid
    OpenAPI document, `make cost`'s model answers, and the platform's tiers pass (every test still collects)."""
    from openapi_spec_validator import validate as validate_spec
    copy = repository_copy(tmp_path / "repo")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", removal()], cwd=copy, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert not (copy / "app" / "api" / "notes").exists() and not (copy / "notes-data.yml").exists()
    for name in ("app/api/__init__.py", "parent.yml", "compose.yaml"):
        text = (copy / name).read_text()
        assert "the sample" not in text.replace("Remove the sample", ""), name
    # Nothing outside the sample names it: its table, its settings, its blueprint.
    for name in ("parent.yml", "app/api/__init__.py", "app/api/health.py", "app/api/config.py", "app/gunicorn.conf.py"):
        text = (copy / name).read_text()
        assert not re.search(r"NotesDataStack|NOTES_TABLE|ExistingTableName|api\.notes|from \. import notes", text), name
    compose = __import__("yaml").safe_load((copy / "compose.yaml").read_text())
    assert "depends_on" not in compose["services"]["api"] and "table" not in compose["services"]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}

    # make cost's model, offline.
    cost = subprocess.run([sys.executable, "-m", "scripts", "cost"], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=120)
    assert cost.returncode == 0, cost.stdout[-2000:] + cost.stderr[-2000:]
    assert "ceiling" in cost.stdout and "DynamoDB" not in cost.stdout  # no table, no table line

    # The real server from the copy's app/.
    for base in serve(copy / "app", env):
        health = requests.get(f"{base}/api/health-check", timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ready = requests.get(f"{base}/api/ready", timeout=5)
        assert ready.status_code == 200 and ready.json() == {"status": "ready", "checks": {}}
        assert requests.get(f"{base}/api/notes", timeout=5).status_code == 404
        doc = requests.get(f"{base}/api/openapi.json", timeout=5).json()
    validate_spec(doc)
    assert set(doc["paths"]) == {"/api/health-check", "/api/ready", "/api/openapi.json"}

    # Every test left collects (one run: the rest is deselected, not ignored); the platform's tiers pass (the
    # templates tier: cfn-lint, sam validate --lint, checkov and cfn-guard on the copy's parent.yml and its
    # renderings).
    tiers = pytest_in(copy, PLATFORM_TIERS, "-x", "-m", "not own_copy",
                      *(f"--deselect={node}" for node in NOT_IN_THE_COPY), env=env, timeout=580)
    assert ran_clean(tiers), tiers.stdout[-4000:] + tiers.stderr[-2000:]
