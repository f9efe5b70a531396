"""What the running container can do if the app is compromised, checked without a Docker engine:
the Dockerfile's final stage (no setuid/setgid files, no pip) and the task definition's Linux
capabilities (none). Only a real build proves the commands succeed; hadolint and these tests
prove they are there, in the right stage and the right order."""
from __future__ import annotations

import re

import pytest
from dockerfile_parse import DockerfileParser

from checks.render import render_file
from local.stack import APP_DIR, ROOT

SERVICE = ROOT / "service.yml"
STRIP_SETUID = "find / -xdev -perm /6000 -type f -exec chmod a-s {} +"


@pytest.fixture(scope="module")
def stages() -> dict[str, list[dict]]:
    """Each stage's instructions after its FROM, by stage name (the last one is the image)."""
    out: dict[str, list[dict]] = {}
    current = None
    for ins in DockerfileParser(path=str(APP_DIR / "Dockerfile")).structure:
        if ins["instruction"] == "FROM":
            current = ins["value"].split()[-1] if " AS " in ins["value"].upper() else f"stage{len(out)}"
            out[current] = []
        elif current is not None:
            out[current].append(ins)
    return out


def final(stages: dict[str, list[dict]]) -> list[dict]:
    return list(stages.values())[-1]


def runs(stage: list[dict]) -> list[str]:
    return [re.sub(r"\s+", " ", ins["value"]) for ins in stage if ins["instruction"] == "RUN"]


def test_the_final_stage_strips_every_setuid_and_setgid_bit_after_everything_else_is_installed(stages):
    stage = final(stages)
    commands = runs(stage)
    assert any(STRIP_SETUID in c for c in commands), f"no `{STRIP_SETUID}` in the final stage"
    # After the last step that adds files, and while still root (before USER).
    instructions = [ins["instruction"] for ins in stage]
    strip_at = max(i for i, ins in enumerate(stage) if ins["instruction"] == "RUN" and STRIP_SETUID in
                   re.sub(r"\s+", " ", ins["value"]))
    assert all(i < strip_at for i, name in enumerate(instructions) if name in ("COPY", "ADD", "RUN") and i != strip_at)
    assert instructions.index("USER") > strip_at


def test_the_venv_is_made_without_pip_and_the_final_stage_removes_the_base_images_installers(stages):
    build = stages["build"]
    assert any(re.search(r"python -m venv --without-pip /opt/venv\b", c) for c in runs(build))
    assert any("--python /opt/venv/bin/python install" in c for c in runs(build)), \
        "the base image's pip installs into the venv"
    removal = " ".join(runs(final(stages)))
    uninstall = re.search(r"pip uninstall --yes [^&]*", removal)
    assert uninstall and {"pip", "setuptools", "wheel"} <= set(uninstall.group(0).split())
    assert "ensurepip/_bundled" in removal, "ensurepip's bundled pip wheel would reinstall pip"
    assert "/usr/local/bin/pip" in removal, "the base image's pip symlink would dangle"


def test_the_runtime_stage_copies_only_the_venv_from_the_build_stage(stages):
    copies = [ins["value"] for ins in final(stages) if ins["instruction"] == "COPY" and "--from=" in ins["value"]]
    assert copies == ["--from=build /opt/venv /opt/venv"]


@pytest.mark.parametrize("exec_enabled", ["false", "true"])
def test_the_container_drops_every_linux_capability_unless_ecs_exec_is_on(exec_enabled):
    """https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_KernelCapabilities.html ;
    ECS Exec's agent needs are undocumented (https://github.com/aws/containers-roadmap/issues/1360)."""
    template = render_file(SERVICE, {"EnableExecuteCommand": exec_enabled,
                                     "ImageUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/n@sha256:" + "0" * 64})
    (task,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    for container in task["Properties"]["ContainerDefinitions"]:
        linux = container["LinuxParameters"]
        assert linux["InitProcessEnabled"] is True
        assert "Add" not in linux.get("Capabilities", {}), "no capability is ever added"
        if exec_enabled == "false":
            assert linux["Capabilities"] == {"Drop": ["ALL"]}
        assert container["Privileged"] is False and container["User"] == "10001:10001"
