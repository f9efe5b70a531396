"""The image pipeline SAM does not have: an ECR repository (created on first
use), a build for the stack's architecture with docker buildx, a push tagged
with the git commit and the architecture (`<commit>-arm64`), and the digest the
stack is deployed with. A commit already in the repository for that
architecture is not built again.

Why the architecture is in the tag: tags are immutable, so a tag naming only
the commit would make `Architecture=X86_64` reuse the ARM64 image, and every
task would die with "exec format error". An image's platform is fixed at build
time: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-arm64.html
"""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess

from scripts.common import ROOT, OpsError, Target, aws_errors, log

KEEP_IMAGES = 10
PLATFORMS = {"ARM64": "linux/arm64", "X86_64": "linux/amd64"}


def image_tag(version: str, architecture: str) -> str:
    """The tag of one build: the source version and the CPU it runs on, e.g. 3f2a9c1b0d4e-arm64."""
    if architecture not in PLATFORMS:
        raise OpsError(f"unknown Architecture {architecture}: use ARM64 or X86_64")
    return f"{version}-{PLATFORMS[architecture].split('/')[1]}"


def repository_name(t: Target) -> str:
    return t.stack_name.lower()


def lifecycle_policy(keep: int = KEEP_IMAGES) -> str:
    return json.dumps({"rules": [{
        "rulePriority": 1, "description": f"keep the last {keep} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
        "action": {"type": "expire"},
    }]})


def ensure_repository(t: Target) -> str:
    """The repository's URI; created with scan on push, immutable tags and a lifecycle policy."""
    ecr, name = t.client("ecr"), repository_name(t)
    with aws_errors():
        try:
            repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        except ecr.exceptions.RepositoryNotFoundException:
            repo = ecr.create_repository(
                repositoryName=name, imageTagMutability="IMMUTABLE",
                imageScanningConfiguration={"scanOnPush": True},
                encryptionConfiguration={"encryptionType": "AES256"},
                tags=[{"Key": "project", "Value": "fargate-blueprint"}],
            )["repository"]
            log(f"created image repository {name}")
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=lifecycle_policy())
    return repo["repositoryUri"]


def source_tag(run=subprocess.run) -> str:
    """The git commit; a dirty work tree adds a hash of its changes (tags are immutable)."""
    def git(*args):
        return run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    sha = git("rev-parse", "--short=12", "HEAD")
    if not sha:
        raise OpsError("not a git checkout: the image tag is the commit")
    diff = git("status", "--porcelain", "--", "app")
    if diff:
        changes = git("diff", "HEAD", "--", "app") + diff
        return f"{sha}-dirty-{hashlib.sha256(changes.encode()).hexdigest()[:8]}"
    return sha


def image_digest(t: Target, tag: str) -> str | None:
    ecr = t.client("ecr")
    with aws_errors():
        try:
            details = ecr.describe_images(repositoryName=repository_name(t), imageIds=[{"imageTag": tag}])
        except ecr.exceptions.ImageNotFoundException:
            return None
    images = details.get("imageDetails", [])
    return images[0]["imageDigest"] if images else None


def docker_login(t: Target, registry: str, run=subprocess.run) -> None:
    with aws_errors():
        token = t.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, password = base64.b64decode(token).decode().split(":", 1)
    result = run(["docker", "login", "--username", user, "--password-stdin", registry], input=password,
                 capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise OpsError(f"docker login to {registry} failed: {result.stderr.strip().splitlines()[-1:]}")


def build_and_push(t: Target, architecture: str, run=subprocess.run) -> tuple[str, str]:
    """(the image reference by digest, repo@sha256:..., and the source version it was built from),
    built and pushed unless that version is already there for this architecture."""
    version = source_tag(run)
    tag = image_tag(version, architecture)
    uri = ensure_repository(t)
    digest = image_digest(t, tag)
    if digest:
        log(f"image {tag} is already in {uri}: not rebuilding")
        return f"{uri}@{digest}", version
    docker_login(t, uri.split("/", 1)[0], run)
    log(f"building {uri}:{tag} for {PLATFORMS[architecture]}")
    result = run(["docker", "buildx", "build", "--platform", PLATFORMS[architecture], "--provenance=false",
                  "--tag", f"{uri}:{tag}", "--push", str(ROOT / "app")], check=False)
    if result.returncode != 0:
        raise OpsError(f"docker buildx build failed (exit {result.returncode}); see its output above")
    digest = image_digest(t, tag)
    if not digest:
        raise OpsError(f"pushed {uri}:{tag} but ECR does not list it")
    return f"{uri}@{digest}", version
