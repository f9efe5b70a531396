"""The scaffolder's choices that the copy test (tests/server/test_new_service.py) cannot vary: listener
rule priorities among nested prefixes, a parent without any service, and ImageUri's pairs."""
from __future__ import annotations

import pytest

from blueprint import services
from blueprint.templates import PARENT
from checks.evaluate import Evaluator


def parent_with(*blocks: tuple[str, str, int]) -> str:
    """parent.yml with these (name, prefix, priority) services added by the generator."""
    text = PARENT.read_text()
    for name, prefix, priority in blocks:
        text = services.add_to_parent(text, name, prefix, priority=priority)
    return text


@pytest.mark.parametrize("existing, prefix, low, high", [
    ([], "/api/reports", 1, 49999),  # under the sample's /api (50000)
    ([("admin", "/api/reports/admin", 49900)], "/api/reports", 49901, 49999),  # above what it holds
    ([("reports", "/api/reports", 49900)], "/api/reports/admin", 1, 49899),  # below what holds it
    ([("reports", "/api/reports", 49900)], "/api/billing", 1, 49999),  # a sibling: any free one
])
def test_the_priority_is_free_and_orders_nested_prefixes(existing, prefix, low, high):
    parent = services.decode(parent_with(*existing))
    priority = services.priority_for(prefix, parent)
    assert low <= priority <= high
    assert priority not in {s.priority for s in services.existing_services(parent)}


def test_a_parent_without_services_gets_a_depends_on_and_the_block_renders():
    text = PARENT.read_text()
    without = "\n".join(line for line in text.splitlines() if line != "      - NotesService").replace(
        "    DependsOn:\n", "")
    added = services.decode(services.add_to_parent(without, "reports", "/api/reports"))
    assert added["Resources"]["FrontendStack"]["DependsOn"] == ["ReportsService"]
    assert added["Outputs"]["ReportsService"]["Description"].startswith("Service:")


def test_each_block_takes_its_own_image_and_none_is_an_empty_image():
    parent = services.decode(parent_with(("reports", "/api/reports", 100)))
    images = services.image_value({"app": "a@sha256:1", "services/reports": "r@sha256:2"})

    def image(values: dict, key: str):
        evaluator = Evaluator(parent, values, "us-east-1")
        value = evaluator.ev(parent["Resources"][key]["Properties"]["Parameters"]["ImageUri"], key)
        assert evaluator.problems == []
        return value
    assert image({"ImageUri": images}, "ReportsService") == "r@sha256:2"
    assert image({"ImageUri": images}, "NotesService") == "a@sha256:1"
    assert image({"ImageUri": "app=a@sha256:1"}, "ReportsService") == ""
    assert image({}, "ReportsService") == image({}, "NotesService") == ""
    with pytest.raises(ValueError):
        services.image_value({"app": "a,b"})


def test_make_image_builds_a_new_services_context_locally(monkeypatch):
    """The optional local build covers every Context parent.yml names (compose.yaml builds app/ alone): one
    `docker build` for this machine's CPU, tagged <context>:local, pushing nothing; with several contexts and
    no CONTEXT=, one line naming them."""
    import subprocess

    from scripts import image
    from scripts.common import ROOT
    from scripts.errors import UsageError
    monkeypatch.setattr(image, "builds", lambda params=None: [
        image.Build("app", ("ImageUri",), ("NotesService",)),
        image.Build("services/reports", ("ImageUri",), ("ReportsService",))])
    monkeypatch.setattr(image.shutil, "which", lambda name, **kw: f"/usr/bin/{name}")
    ran = []
    tag = image.build_locally("services/reports/", run=lambda args, **kw: ran.append(args) or
                              subprocess.CompletedProcess(args, 0))
    assert tag == "services-reports:local"
    assert ran == [["docker", "info", "--format", "{{.ServerVersion}}"],
                   ["docker", "build", "--build-arg", "APP_VERSION=local", "--tag", "services-reports:local",
                    str(ROOT / "services/reports")]]
    with pytest.raises(UsageError, match=r"^parent.yml names 2 build contexts: pick one with CONTEXT= "
                                         r"\(app, services/reports\)$"):
        image.build_locally(None, run=lambda args, **kw: ran.append(args))
    assert len(ran) == 2
    from scripts.errors import BuildFailed, ToolMissing
    with pytest.raises(BuildFailed, match=r"^docker build of app/ failed \(exit 1\); see its output above$"):
        image.build_locally("app", run=lambda args, **kw: subprocess.CompletedProcess(args, int(args[1] == "build")))
    # Docker installed but its engine not running: one line, before docker build prints its own half-dozen.
    with pytest.raises(ToolMissing, match=r"^the Docker engine is not running or not reachable: make image needs it \(make deploy "
                                          r"and sam deploy do not\)$"):
        image.build_locally("app", run=lambda args, **kw: subprocess.CompletedProcess(args, 1))


def test_make_run_names_each_added_service_it_does_not_serve_and_how_to_run_it():
    """After `make service NAME=reports`, `make run` answered /api/reports/hello with a 404 and no word: it serves
    app/ alone. Its start-up lines name each other service's prefix and the command that runs it on its own: the
    one `make run` starts app/ with (LocalStack.start_api: entrypoint.py in the build context, as the image does;
    tests/server/test_new_service.py serves a new context's starter the same way, with gunicorn.conf.py)."""
    from local.stack import not_served
    assert not_served(services.decode(PARENT.read_text())) == [], "the sample alone: everything is served"
    (line,) = not_served(services.decode(parent_with(("reports", "/api/reports", 49900))))
    assert line.startswith("  /api/reports/* is not served here: run it alone with `cd services/reports && HOST=127.0.0.1 PORT=8081 ")
    assert line.endswith(" entrypoint.py` (http://127.0.0.1:8081/api/reports/...; docs/services.md)")
