"""The image, checked without a Docker engine: hadolint, and the Dockerfile's
user, port, command and health check against gunicorn.conf.py and the app."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from api.config import Settings
from api.health import HEALTH_PATH

from local.stack import APP_DIR, ROOT
from tests.support.dockerfile import DOCKERFILE

HADOLINT = Path(sys.executable).parent / "hadolint"


def test_hadolint_is_clean():
    result = subprocess.run([str(HADOLINT), "--failure-threshold", "info", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_slim_python_from_ecr_public_pinned_by_tag_and_digest(dockerfile):
    """A literal FROM (Dependabot cannot follow an ARG into FROM: dependabot-core#2057) with
    the patch release and the digest; every other stage starts FROM that stage."""
    image = dockerfile.base_image
    assert re.fullmatch(r"public\.ecr\.aws/docker/library/python:3\.\d+\.\d+-slim-\w+@sha256:[0-9a-f]{64}", image)
    froms = [value.split() for value in dockerfile.values("FROM")]
    assert froms[0] == [image, "AS", "base"]
    assert all(f[0] == "base" for f in froms[1:]) and len(froms) >= 3
    assert not any("$" in part for f in froms for part in f), "no ARG in a FROM line"


def test_every_image_the_build_pulls_is_pinned_by_digest(dockerfile):
    """The base (above) and any Dockerfile frontend: a `# syntax=` line makes BuildKit pull that image."""
    frontend = dockerfile.frontend
    assert not frontend or re.search(r"@sha256:[0-9a-f]{64}$", frontend), f"unpinned frontend: {frontend}"
    pulled = [stage.base for stage in dockerfile.stages]
    copied = re.findall(r"--from=(\S+)", " ".join(dockerfile.values("COPY")))
    stages = {stage.name for stage in dockerfile.stages if stage.name}
    for image in [*pulled, *copied]:
        assert image in stages or re.search(r"@sha256:[0-9a-f]{64}$", image), f"{image} is not pinned by digest"


def test_multi_stage_and_the_runtime_copies_only_the_venv_and_code(dockerfile):
    assert len(dockerfile.values("FROM")) >= 3  # base, build, runtime
    stage = dockerfile.final
    copies = dockerfile.values("COPY", stage)
    assert copies == ["--from=build /opt/venv /opt/venv", "gunicorn.conf.py entrypoint.py healthcheck.py ./", "api ./api"]
    runs = " ".join(dockerfile.values("RUN", stage))
    for tool in ("apt-get", "curl", "wget", "gcc", "pip install"):
        assert tool not in runs, f"{tool} in the runtime stage"


def test_runs_as_a_fixed_non_root_user(dockerfile):
    user = dockerfile.one("USER", dockerfile.final)
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 10000, "numeric non-root UID (ECS can then verify it is not root)"


def test_port_agrees_with_the_app(dockerfile):
    assert dockerfile.one("EXPOSE", dockerfile.final) == str(Settings.model_fields["port"].default)
    assert dockerfile.envs["PORT"] == str(Settings.model_fields["port"].default)


def test_command_runs_gunicorn_with_the_shipped_config(dockerfile):
    cmd = dockerfile.exec_form("CMD", dockerfile.final)  # exec form: JSON array
    assert cmd == ["python", "entrypoint.py"]  # which starts gunicorn with gunicorn.conf.py
    assert (APP_DIR / "gunicorn.conf.py").is_file()
    assert dockerfile.values("STOPSIGNAL") == [], "SIGTERM is gunicorn's graceful stop"


def test_health_check_is_python_and_probes_the_health_path(dockerfile):
    value = dockerfile.one("HEALTHCHECK", dockerfile.final)
    cmd = dockerfile.exec_form("HEALTHCHECK", dockerfile.final)
    assert cmd == ["python", "/srv/healthcheck.py"]
    source = (APP_DIR / "healthcheck.py").read_text()
    assert f'PATH = "{HEALTH_PATH}"' in source
    assert "curl" not in value


def test_every_copied_file_is_in_the_build_context():
    ignore = (APP_DIR / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for name in ("requirements.txt", "gunicorn.conf.py", "entrypoint.py", "healthcheck.py", "api"):
        assert name in allowed and (APP_DIR / name).exists()


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_every_runtime_dependency_has_a_wheel_for_both_architectures(arch, dockerfile):
    """The build stage installs wheels only (no compiler), for linux/amd64 and linux/arm64."""
    python = re.search(r"python:(3\.\d+)", dockerfile.base_image).group(1)
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



def test_compose_runs_python_from_the_dockerfiles_base_by_digest(dockerfile):
    """compose.yaml's plain-Python services use the image's base, pinned the same way, so a
    Dependabot bump of one cannot leave the other on an unpinned or older Python."""
    import yaml
    base = dockerfile.stage("base").base
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    pythons = {s["image"] for s in compose["services"].values() if "python" in s.get("image", "")}
    assert pythons == {base} and "@sha256:" in base
