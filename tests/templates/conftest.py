"""Template tier: the linters on the source templates and on every rendered
parameter combination, the project's own rules, and the contract with app/."""
from __future__ import annotations

import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from checks.render import (
    CHILD_TEMPLATES,
    PARENT,
    ROOT,
    Renderer,
    nested_renderings,
    render_all,
    renderings,
    template,
    write_two_service_parent,
)

RENDERED = ROOT / "build" / "rendered"
CHILDREN = list(CHILD_TEMPLATES)
SOURCES = ["parent.yml", *CHILDREN]
IMAGE = "app=x@sha256:" + "0" * 64  # an ImageUri with app/'s image: the services built from it run tasks

# Renderings, each made once per session (templates are read once by checks.render.template). Tests only
# read what these return: a test that changed it would change it for every other.


@cache
def render(name: str, **values: str) -> dict:
    """The source template `name` on its own, rendered for `values` (its defaults for the rest)."""
    return Renderer(template(name), values).render()


@cache
def nested(parent: str = PARENT, **values: str) -> dict[str, tuple[str, dict]]:
    """{logical id: (template file, rendering)} of the stacks `parent` (PARENT or TWO_SERVICES) creates
    for `values`: checks.render.nested_renderings."""
    return nested_renderings(template(parent), values)


def stack(name: str, parent: str = PARENT, **values: str) -> dict:
    """The nested stack `name` of `parent`, as the parent renders it for `values`."""
    return nested(parent, **values)[name][1]


def service(name: str = "NotesService", parent: str = PARENT, **values: str) -> dict:
    """A service.yml stack's resources, as the parent renders them for `values`."""
    return stack(name, parent, **values)["Resources"]


def task_definition(resources: dict) -> dict:
    """The properties of a service's task definition (resources: service() or a rendering's)."""
    return resources["TaskDefinition"]["Properties"]


def container(resources: dict) -> dict:
    """A service's one container definition."""
    (definition,) = task_definition(resources)["ContainerDefinitions"]
    return definition


def environment(resources: dict) -> dict:
    """A service's container environment, {name: value}."""
    return {e["Name"]: e["Value"] for e in container(resources)["Environment"]}


@cache
def all_renderings() -> dict[str, dict[str, tuple[str, dict]]]:
    """{variant: {logical id: (template file, rendering)}} for every variant of checks.render.renderings()."""
    return {variant: nested_renderings(parent, values) for variant, (parent, values) in renderings().items()}


def venv_tool(venv: str, name: str) -> str:
    path = ROOT / venv / "bin" / name
    if not path.exists():
        pytest.fail(f"{path} is missing: `make test` creates {venv} from requirements/")
    return str(path)


def dev_tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def run(args: list[str], timeout: int = 600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def rendered() -> Path:
    shutil.rmtree(RENDERED, ignore_errors=True)
    render_all(RENDERED)
    return RENDERED


@pytest.fixture(scope="session")
def two_service_parent_file() -> Path:
    """parent.yml with its second-service example uncommented, as a file the linters can read."""
    return write_two_service_parent(ROOT / "build" / "two-services")
