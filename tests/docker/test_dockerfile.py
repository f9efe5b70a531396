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
from tests.support.dockerfile import DOCKERFILE, Dockerfile

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
    built = [f for f in froms[1:] if f[-1] != "lambda-adapter"]  # the adapter's stage only supplies a file
    assert all(f[0] == "base" for f in built) and len(built) >= 2
    assert not any("$" in part for f in froms for part in f), "no ARG in a FROM line"


def project_dockerfiles() -> list[Path]:
    """Every Dockerfile the repository holds: the sample's (app/) and any a fork adds (services/<name>/, ...)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--", ":(glob)**/Dockerfile", ":(glob)**/*.Dockerfile",
                             ":(glob)**/Containerfile"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30)
    return sorted({ROOT / name for name in listed.stdout.split("\0") if name} | {DOCKERFILE})


@pytest.mark.parametrize("path", project_dockerfiles(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_image_a_build_pulls_is_pinned_by_digest(path):
    """Every image a build pulls, in every Dockerfile of the project: each FROM, each COPY --from that names
    an image rather than a stage (the Lambda Web Adapter's, say), and a `# syntax=` frontend. A tag can be
    re-pushed; a digest names the very same bytes."""
    parsed = Dockerfile(path)
    frontend = parsed.frontend
    assert not frontend or re.search(r"@sha256:[0-9a-f]{64}$", frontend), f"unpinned frontend: {frontend}"
    pulled = [stage.base for stage in parsed.stages]
    copied = re.findall(r"--from=(\S+)", " ".join(parsed.values("COPY")))
    stages = {stage.name for stage in parsed.stages if stage.name}
    assert pulled
    for image in [*pulled, *copied]:
        assert image in stages or re.search(r"@sha256:[0-9a-f]{64}$", image), f"{path}: {image} is not pinned by digest"


def test_the_lambda_web_adapter_is_pinned_and_copied_into_the_extensions_directory(dockerfile):
    """What lets the same image run on Lambda (service.yml, Compute=Lambda): the adapter's binary in
    /opt/extensions, where Lambda starts every executable as an extension
    (https://github.com/aws/aws-lambda-web-adapter#quick-start), from the release whose AWS_LWA_* names the
    function's Environment uses (0.9.1: AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS), by tag and digest, in
    a FROM line of its own, the only place Dependabot reads an image reference (dependabot-core#5103). No
    AWS_LWA_* in the image: those are each service's, set on its function."""
    adapter = dockerfile.stage("lambda-adapter")
    assert re.fullmatch(r"public\.ecr\.aws/awsguru/aws-lambda-adapter:0\.9\.1@sha256:[0-9a-f]{64}", adapter.base)
    assert [i for i in adapter.instructions if i["instruction"] != "COMMENT"] == [], "the stage only supplies the binary"
    copies = [value for value in dockerfile.values("COPY") if "lambda-adapter" in value]
    assert copies == ["--from=lambda-adapter /lambda-adapter /opt/extensions/lambda-adapter"]
    assert copies[0] in dockerfile.values("COPY", dockerfile.final)
    assert "docker buildx imagetools inspect public.ecr.aws/awsguru/aws-lambda-adapter:0.9.1" in DOCKERFILE.read_text()
    assert not [name for name in dockerfile.envs if name.startswith(("AWS_LWA_", "READINESS_CHECK_"))]


def test_the_image_is_usable_by_lambdas_own_user_on_a_read_only_filesystem(dockerfile):
    """Lambda runs an image as a least-privileged user of its own, whatever USER says, on a read-only
    filesystem with /tmp writable, and the adapter's app may not listen below 1024 nor on 3000 or 9001
    (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html; the adapter's README, "Inside Lambda
    execution environment ... not allowed to listen on ports lower than 1024"). So: nothing in the final
    stage takes read access from others (a --chown or --chmod on a COPY, a chmod go-r / 0700, a umask), the
    only path the image declares writable is /tmp, and the port qualifies."""
    stage = dockerfile.final
    for value in dockerfile.values("COPY", stage):
        assert "--chown" not in value and "--chmod" not in value, value
    for command in dockerfile.runs(stage):
        assert "umask" not in command, command
        for mode in re.findall(r"chmod\s+(?:-\S+\s+)*(\S+)", command):
            takes_read = (int(mode[-1]) & 4 == 0 if mode.isdigit()
                          else re.fullmatch(r"[ugoa]*[-=][rwxXst]*", mode) and ("r" in mode.split("-")[-1] or "=" in mode)
                          and not re.match(r"[ug]+[-=]", mode))
            assert not takes_read, f"`{command}` takes read access from other users"
    assert dockerfile.volumes == {"/tmp"}
    port = int(dockerfile.envs["PORT"])
    assert port >= 1024 and port not in (3000, 9001)


def test_multi_stage_and_the_runtime_copies_only_the_venv_and_code(dockerfile):
    assert len(dockerfile.values("FROM")) >= 3  # base, build, runtime
    stage = dockerfile.final
    copies = dockerfile.values("COPY", stage)
    assert [c for c in copies if "lambda-adapter" not in c] == [
        "--from=build /opt/venv /opt/venv", "gunicorn.conf.py entrypoint.py healthcheck.py ./", "api ./api"]
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


@pytest.mark.parametrize("writable", [True, False])
def test_gunicorn_keeps_its_heartbeats_where_the_runtime_lets_it_write(writable, monkeypatch):
    """Fargate and Docker give the container a tmpfs on /dev/shm; Lambda's environment has none
    (https://github.com/lambci/docker-lambda/issues/26) and a read-only filesystem but /tmp
    (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html). gunicorn.conf.py puts the workers'
    heartbeat files on /dev/shm only when it may write there, else gunicorn's default (the system's
    temporary directory, /tmp), so the one image boots on both."""
    import os
    import runpy
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: writable if path == "/dev/shm" else real_access(path, mode))
    conf = runpy.run_path(str(APP_DIR / "gunicorn.conf.py"))
    assert conf["worker_tmp_dir"] == ("/dev/shm" if writable else None)
