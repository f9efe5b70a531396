"""The app's recipes, followed in a copy of the repository: add an endpoint, remove the sample.

Adding an endpoint: the steps are the code blocks of docs/api.md's "Adding an endpoint" (the README points there): a new
blueprint module with its pydantic models and view, its lines in create_app, and its test. In the copy,
the new test and the OpenAPI tests pass, and the real server (gunicorn with app/gunicorn.conf.py)
answers the endpoint and lists it in /api/openapi.json with its schemas, every $ref resolving.
Removing the sample (its folder and its two lines in create_app): the platform still starts, answers its
health and readiness checks and serves a valid OpenAPI document."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from local.stack import ROOT, free_port, wait_http

pytestmark = pytest.mark.server

IGNORED = shutil.ignore_patterns(".git", ".venv*", ".cache", ".hypothesis", ".pytest_cache", ".schemathesis",
                                 "__pycache__", "reports", "build", "node_modules")


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


def serve(app_dir: Path, env: dict):
    """The real server (gunicorn with the copy's gunicorn.conf.py) on a free port; yields its URL."""
    port = free_port()
    server_env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "ORIGIN_VERIFY_SECRET": "",
                  "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION": "us-east-1"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"], cwd=app_dir,
                              env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/api/health-check", 30, server)
        yield base
    finally:
        server.terminate()
        server.wait(30)


def test_adding_an_endpoint_as_the_readme_says(tmp_path):
    assert "docs/api.md#adding-an-endpoint" in (ROOT / "README.md").read_text()
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=IGNORED)
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


def test_without_the_sample_the_platform_starts_and_answers(tmp_path):
    """docs/services.md's removal, the app's half: app/api/notes/ and its two lines in create_app go."""
    from openapi_spec_validator import validate as validate_spec
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "app", copy / "app", ignore=IGNORED)
    shutil.rmtree(copy / "app" / "api" / "notes")
    factory = copy / "app" / "api" / "__init__.py"
    lines = [line for line in factory.read_text().splitlines(keepends=True)
             if line.strip() not in ("from . import notes", "app.register_blueprint(notes.bp)")]
    factory.write_text("".join(lines))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    for base in serve(copy / "app", env):
        health = requests.get(f"{base}/api/health-check", timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ready = requests.get(f"{base}/api/ready", timeout=5)
        assert ready.status_code == 200 and ready.json() == {"status": "ready", "checks": {}}
        assert requests.get(f"{base}/api/notes", timeout=5).status_code == 404
        doc = requests.get(f"{base}/api/openapi.json", timeout=5).json()
    validate_spec(doc)
    assert set(doc["paths"]) == {"/api/health-check", "/api/ready", "/api/openapi.json"}
