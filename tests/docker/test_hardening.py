"""What the running container can do if the app is compromised, checked without a Docker engine:
the Dockerfile's final stage (no setuid/setgid files, no pip) and the task definition's Linux
capabilities (none). Only a real build proves the commands succeed; hadolint and these tests
prove they are there, in the right stage and the right order."""
from __future__ import annotations

import re
import subprocess
import sys
import zipfile

import pytest

from checks.render import render_file
from local.stack import ROOT

SERVICE = ROOT / "service.yml"
STRIP_SETUID = "find / -xdev -perm /6000 -type f -exec chmod a-s {} +"


def test_the_final_stage_strips_every_setuid_and_setgid_bit_after_everything_else_is_installed(dockerfile):
    stage = dockerfile.final
    commands = dockerfile.runs(stage)
    assert any(STRIP_SETUID in c for c in commands), f"no `{STRIP_SETUID}` in the final stage"
    # After the last step that adds files, and while still root (before USER).
    instructions = [ins["instruction"] for ins in stage.instructions]
    strip_at = max(i for i, ins in enumerate(stage.instructions) if ins["instruction"] == "RUN" and STRIP_SETUID in
                   re.sub(r"\s+", " ", ins["value"]))
    assert all(i < strip_at for i, name in enumerate(instructions) if name in ("COPY", "ADD", "RUN") and i != strip_at)
    assert instructions.index("USER") > strip_at


def test_the_venv_is_made_without_pip_and_the_final_stage_removes_the_base_images_installers(dockerfile):
    build = dockerfile.runs(dockerfile.stage("build"))
    assert any(re.search(r"python -m venv --without-pip /opt/venv\b", c) for c in build)
    assert any("--python /opt/venv/bin/python install" in c for c in build), \
        "the base image's pip installs into the venv"
    removal = " ".join(dockerfile.runs(dockerfile.final))
    uninstall = re.search(r"pip uninstall --yes [^&]*", removal)
    assert uninstall and {"pip", "setuptools", "wheel"} <= set(uninstall.group(0).split())
    assert "ensurepip/_bundled" in removal, "ensurepip's bundled pip wheel would reinstall pip"
    assert "/usr/local/bin/pip" in removal, "the base image's pip symlink would dangle"


def test_the_runtime_stage_copies_only_the_venv_from_the_build_stage(dockerfile):
    copies = [value for value in dockerfile.values("COPY", dockerfile.final) if "--from=build" in value]
    assert copies == ["--from=build /opt/venv /opt/venv"]


@pytest.mark.parametrize("exec_enabled", ["false", "true"])
def test_the_container_drops_every_linux_capability_unless_ecs_exec_is_on(exec_enabled):
    """https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_KernelCapabilities.html ;
    ECS Exec's agent needs are undocumented (https://github.com/aws/containers-roadmap/issues/1360)."""
    template = render_file(SERVICE, {"EnableExecuteCommand": exec_enabled,
                                     "ImageUri": "app=123456789012.dkr.ecr.eu-west-1.amazonaws.com/n@sha256:" + "0" * 64})
    (task,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    for container in task["Properties"]["ContainerDefinitions"]:
        linux = container["LinuxParameters"]
        assert linux["InitProcessEnabled"] is True
        assert "Add" not in linux.get("Capabilities", {}), "no capability is ever added"
        if exec_enabled == "false":
            assert linux["Capabilities"] == {"Drop": ["ALL"]}
        assert container["Privileged"] is False and container["User"] == "10001:10001"


def tiny_wheel(directory) -> str:
    """A one-module wheel, made by hand (no build backend, no network)."""
    path = directory / "probe-1.0-py3-none-any.whl"
    files = {"probe.py": "VALUE = 42\n",
             "probe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: probe\nVersion: 1.0\n",
             "probe-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{name},,\n" for name in files) + "probe-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as whl:
        for name, text in {**files, "probe-1.0.dist-info/RECORD": record}.items():
            whl.writestr(name, text)
    return str(path)


def test_the_build_stage_commands_give_a_venv_without_pip_and_the_uninstall_tolerates_absent_tools(tmp_path):
    """The Dockerfile's two pip steps, run for real with this machine's Python: a `--without-pip` venv filled
    by another interpreter's pip (`--python`), and `pip uninstall pip setuptools wheel` that succeeds when
    some of them are not installed (exit 0, so the RUN does not fail on a base without setuptools)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-index",
                    "--disable-pip-version-check", tiny_wheel(tmp_path)], check=True, timeout=120)
    probe = subprocess.run([str(python), "-c", "import probe, importlib.util as u; print(probe.VALUE, u.find_spec('pip'))"],
                           capture_output=True, text=True, check=True, timeout=60)
    assert probe.stdout.split() == ["42", "None"], "the venv has the package and no pip"
    base = tmp_path / "base"  # stands in for the base image's Python: it has pip
    subprocess.run([sys.executable, "-m", "venv", str(base)], check=True, timeout=120)
    removal = subprocess.run([str(base / "bin" / "python"), "-m", "pip", "uninstall", "--yes",
                              "--disable-pip-version-check", "pip", "setuptools", "wheel"],
                             capture_output=True, text=True, timeout=120)
    assert removal.returncode == 0, removal.stderr
    gone = subprocess.run([str(base / "bin" / "python"), "-c", "import pip"], capture_output=True, timeout=60)
    assert gone.returncode != 0
