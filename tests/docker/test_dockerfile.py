"""The image, checked without a Docker engine: hadolint, and the Dockerfile's
user, port, command and health check against gunicorn.conf.py and the app."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from api.config import Settings
from api.health import HEALTH_PATH
from dockerfile_parse import DockerfileParser

from local.stack import APP_DIR, ROOT

DOCKERFILE = APP_DIR / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


@pytest.fixture(scope="module")
def parsed() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE))


def base_image(parsed: DockerfileParser) -> str:
    """The one FROM that names a registry image; the other stages build FROM it."""
    (value,) = [ins["value"].split()[0] for ins in parsed.structure
                if ins["instruction"] == "FROM" and "/" in ins["value"].split()[0]]
    return value


def final_stage(parsed: DockerfileParser) -> list[dict]:
    instructions = parsed.structure
    last_from = max(i for i, ins in enumerate(instructions) if ins["instruction"] == "FROM")
    return instructions[last_from:]


def one(stage: list[dict], instruction: str) -> str:
    values = [ins["value"] for ins in stage if ins["instruction"] == instruction]
    assert len(values) == 1, f"expected one {instruction} in the final stage, found {values}"
    return values[0]


def test_hadolint_is_clean():
    result = subprocess.run([str(HADOLINT), "--failure-threshold", "info", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_slim_python_from_ecr_public_pinned_by_tag_and_digest(parsed):
    """A literal FROM (Dependabot cannot follow an ARG into FROM: dependabot-core#2057) with
    the patch release and the digest; every other stage starts FROM that stage."""
    image = base_image(parsed)
    assert re.fullmatch(r"public\.ecr\.aws/docker/library/python:3\.\d+\.\d+-slim-\w+@sha256:[0-9a-f]{64}", image)
    froms = [ins["value"].split() for ins in parsed.structure if ins["instruction"] == "FROM"]
    assert froms[0] == [image, "AS", "base"]
    assert all(f[0] == "base" for f in froms[1:]) and len(froms) >= 3
    assert "ARG" not in [ins["instruction"] for ins in parsed.structure]


def test_every_image_the_build_pulls_is_pinned_by_digest(parsed):
    """The base (above) and any Dockerfile frontend: a `# syntax=` line makes BuildKit pull that image."""
    first = DOCKERFILE.read_text().splitlines()[0]
    syntax = re.match(r"#\s*syntax\s*=\s*(\S+)", first)
    assert not syntax or re.search(r"@sha256:[0-9a-f]{64}$", syntax.group(1)), f"unpinned frontend: {first}"
    pulled = [ins["value"].split()[0] for ins in parsed.structure if ins["instruction"] == "FROM"]
    copied = re.findall(r"--from=(\S+)", " ".join(ins["value"] for ins in parsed.structure if ins["instruction"] == "COPY"))
    stages = {ins["value"].split()[-1] for ins in parsed.structure if ins["instruction"] == "FROM" and " AS " in ins["value"]}
    for image in [*pulled, *copied]:
        assert image in stages or re.search(r"@sha256:[0-9a-f]{64}$", image), f"{image} is not pinned by digest"


def test_multi_stage_and_the_runtime_copies_only_the_venv_and_code(parsed):
    froms = [ins["value"] for ins in parsed.structure if ins["instruction"] == "FROM"]
    assert len(froms) >= 3  # base, build, runtime
    stage = final_stage(parsed)
    copies = [ins["value"] for ins in stage if ins["instruction"] == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv", "gunicorn.conf.py healthcheck.py ./", "api ./api"]
    runs = " ".join(ins["value"] for ins in stage if ins["instruction"] == "RUN")
    for tool in ("apt-get", "curl", "wget", "gcc", "pip install"):
        assert tool not in runs, f"{tool} in the runtime stage"


def test_runs_as_a_fixed_non_root_user(parsed):
    user = one(final_stage(parsed), "USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 10000, "numeric non-root UID (ECS can then verify it is not root)"


def test_port_agrees_with_the_app(parsed):
    stage = final_stage(parsed)
    assert one(stage, "EXPOSE") == str(Settings.model_fields["port"].default)
    assert parsed.envs["PORT"] == str(Settings.model_fields["port"].default)


def test_command_runs_gunicorn_with_the_shipped_config(parsed):
    cmd = json.loads(one(final_stage(parsed), "CMD"))  # exec form: JSON array
    assert cmd == ["gunicorn", "--config", "gunicorn.conf.py"]
    assert (APP_DIR / "gunicorn.conf.py").is_file()
    assert "STOPSIGNAL" not in [ins["instruction"] for ins in parsed.structure], "SIGTERM is gunicorn's graceful stop"


def test_health_check_is_python_and_probes_the_health_path(parsed):
    value = one(final_stage(parsed), "HEALTHCHECK")
    cmd = json.loads(value.split("CMD", 1)[1])
    assert cmd == ["python", "/srv/healthcheck.py"]
    source = (APP_DIR / "healthcheck.py").read_text()
    assert f'PATH = "{HEALTH_PATH}"' in source
    assert "curl" not in value


def test_every_copied_file_is_in_the_build_context():
    ignore = (APP_DIR / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for name in ("requirements.txt", "gunicorn.conf.py", "healthcheck.py", "api"):
        assert name in allowed and (APP_DIR / name).exists()


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_every_runtime_dependency_has_a_wheel_for_both_architectures(arch, parsed):
    """The build stage installs wheels only (no compiler), for linux/amd64 and linux/arm64."""
    python = re.search(r"python:(3\.\d+)", base_image(parsed)).group(1)
    cache = ROOT / ".cache" / "wheels" / arch
    cache.mkdir(parents=True, exist_ok=True)
    platforms = [f"--platform=manylinux_2_{v}_{arch}" for v in (17, 28, 34)] + [f"--platform=manylinux2014_{arch}"]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         f"--python-version={python}", "--implementation=cp", *platforms, "-d", str(cache),
         "-r", str(APP_DIR / "requirements.txt")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    pinned = [line.split("==")[0].lower().replace("-", "_") for line in
              (APP_DIR / "requirements.txt").read_text().splitlines() if "==" in line]
    wheels = {p.name.split("-")[0].lower() for p in cache.glob("*.whl")}
    assert set(pinned) <= wheels


def test_compose_file_is_valid_and_runs_the_image_read_only():
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.compose-spec", str(ROOT / "compose.yaml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    import yaml
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    api = compose["services"]["api"]
    assert api["build"] == "./app" and api["read_only"] is True
    assert shutil.which("python3")  # the edge service runs local/edge.py, standard library only


def test_compose_publishes_ports_on_loopback_only():
    """Docker binds a published port on 0.0.0.0 unless told otherwise (and its iptables rules
    bypass host firewalls): every published port names 127.0.0.1."""
    import yaml
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    published = [(name, port) for name, service in compose["services"].items() for port in service.get("ports", [])]
    assert published, "the edge service publishes the site"
    for name, port in published:
        host_ip = port.get("host_ip") if isinstance(port, dict) else (str(port).split(":")[0] if str(port).count(":") == 2 else None)
        assert host_ip == "127.0.0.1", f"{name} publishes {port} on every interface"



def test_compose_runs_python_from_the_dockerfiles_base_by_digest():
    """compose.yaml's plain-Python services use the image's base, pinned the same way, so a
    Dependabot bump of one cannot leave the other on an unpinned or older Python."""
    import yaml
    base = re.search(r"^FROM (\S+) AS base$", (ROOT / "app" / "Dockerfile").read_text(), re.M).group(1)
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    pythons = {s["image"] for s in compose["services"].values() if "python" in s.get("image", "")}
    assert pythons == {base} and "@sha256:" in base
