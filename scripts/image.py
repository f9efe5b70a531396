"""The image pipeline SAM does not have: an ECR repository (created on first
use), a build for the stack's architecture with docker buildx, a push tagged
with the git commit and the architecture (`<commit>-arm64`), and the digest the
stack is deployed with. A commit already in the repository for that
architecture is not built again.

What to build comes from parent.yml: each service (an AWS::Serverless::Application with
`Location: service.yml`) names its recipe in its Metadata,

    Metadata:
      Build:
        Context: app              # the directory with the Dockerfile
        ImageParameter: ImageUri  # the parent parameter set to the pushed image, by digest

and each distinct Context is built once, for the Architecture its services' blocks set, into one
repository of its own (the `app` Context into the repository named like the stack, as before
services were many), whatever number of services and parameters share it. The build gets
`--build-arg APP_VERSION=<the source version>`: an image that declares the ARG reports it.

Why the architecture is in the tag: tags are immutable, so a tag naming only
the commit would make `Architecture=X86_64` reuse the ARM64 image, and every
task would die with "exec format error". An image's platform is fixed at build
time: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-arm64.html
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from blueprint.templates import PARENT, load, resolve, service_resources
from scripts.common import ROOT, Target, aws_errors, log
from scripts.errors import AwsCallFailed, BuildFailed, UsageError

KEEP_IMAGES = 10
PLATFORMS = {"ARM64": "linux/arm64", "X86_64": "linux/amd64"}


SAMPLE_CONTEXT = "app"


@dataclass(frozen=True)
class Build:
    """One image to build: a Context directory, the parent parameters that take it, the services using it,
    and the CPU architecture their blocks run it on."""

    context: str
    parameters: tuple[str, ...]
    services: tuple[str, ...]
    architecture: str = "ARM64"


def service_architecture(template: dict, key: str, params: dict | None = None) -> str:
    """The Architecture a service's block passes (code in parent.yml; service.yml's default without one)."""
    given = template["Resources"][key]["Properties"].get("Parameters", {}).get("Architecture", "ARM64")
    value = resolve(given, params or {}, template)
    if value not in PLATFORMS:
        raise UsageError(f"parent.yml: service {key} has Architecture {value}: use ARM64 or X86_64")
    return value


def builds(template: dict | None = None, root: Path = ROOT, params: dict | None = None) -> list[Build]:
    """parent.yml's build recipes, one per distinct Context (a directory under `root`), in the parent's order."""
    template = template if template is not None else load(PARENT)  # tests point PARENT elsewhere
    found: dict[str, tuple[list[str], list[str], set[str]]] = {}
    for key, resource in service_resources(template).items():
        recipe = (resource.get("Metadata") or {}).get("Build") or {}
        if not recipe.get("Context") or not recipe.get("ImageParameter"):
            raise UsageError(f"parent.yml: service {key} has no Metadata.Build with Context and ImageParameter")
        if not (root / recipe["Context"] / "Dockerfile").is_file():
            raise UsageError(f"parent.yml: service {key} builds {recipe['Context']}/, which has no Dockerfile")
        parameters, services, architectures = found.setdefault(str(recipe["Context"]), ([], [], set()))
        if recipe["ImageParameter"] not in parameters:
            parameters.append(str(recipe["ImageParameter"]))
        services.append(str(key))
        architectures.add(service_architecture(template, key, params))
    if not found:
        raise UsageError("parent.yml has no service (an AWS::Serverless::Application with Location: service.yml)")
    for context, (_, services, architectures) in found.items():
        if len(architectures) > 1:
            raise UsageError(f"parent.yml: {', '.join(services)} build {context}/ but set different Architectures "
                             f"({', '.join(sorted(architectures))}): one image has one architecture")
    return [Build(context, tuple(p), tuple(s), next(iter(a))) for context, (p, s, a) in found.items()]


def image_tag(version: str, architecture: str) -> str:
    """The tag of one build: the source version and the CPU it runs on, e.g. 3f2a9c1b0d4e-arm64."""
    if architecture not in PLATFORMS:
        raise UsageError(f"unknown Architecture {architecture}: use ARM64 or X86_64")
    return f"{version}-{PLATFORMS[architecture].split('/')[1]}"


def repository_name(t: Target, context: str = SAMPLE_CONTEXT) -> str:
    """One repository per Context; the sample's keeps the stack's name (older deployments have it)."""
    if context == SAMPLE_CONTEXT:
        return t.stack_name.lower()
    return f"{t.stack_name}-{re.sub(r'[^a-z0-9]+', '-', context.lower()).strip('-')}".lower()


def lifecycle_policy(keep: int = KEEP_IMAGES) -> str:
    return json.dumps({"rules": [{
        "rulePriority": 1, "description": f"keep the last {keep} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
        "action": {"type": "expire"},
    }]})


def ensure_repository(t: Target, context: str = SAMPLE_CONTEXT) -> str:
    """The repository's URI; created with scan on push, immutable tags and a lifecycle policy."""
    ecr, name = t.client("ecr"), repository_name(t, context)
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


def source_tag(run=subprocess.run, context: str = SAMPLE_CONTEXT) -> str:
    """The git commit; changes to the Context not committed add a hash of them (tags are immutable)."""
    def git(*args):
        return run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    sha = git("rev-parse", "--short=12", "HEAD")
    if not sha:
        raise UsageError("not a git checkout: the image tag is the commit")
    diff = git("status", "--porcelain", "--", context)
    if diff:
        changes = git("diff", "HEAD", "--", context) + diff
        return f"{sha}-dirty-{hashlib.sha256(changes.encode()).hexdigest()[:8]}"
    return sha


def image_digest(t: Target, tag: str, context: str = SAMPLE_CONTEXT) -> str | None:
    ecr = t.client("ecr")
    with aws_errors():
        try:
            details = ecr.describe_images(repositoryName=repository_name(t, context), imageIds=[{"imageTag": tag}])
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
        raise BuildFailed(f"docker login to {registry} failed: {result.stderr.strip().splitlines()[-1:]}")


def build_and_push(t: Target, architecture: str, run=subprocess.run,
                   context: str = SAMPLE_CONTEXT) -> tuple[str, str]:
    """(the image reference by digest, repo@sha256:..., and the source version it was built from),
    built from the Context directory and pushed unless that version is already there for this architecture."""
    version = source_tag(run, context)
    tag = image_tag(version, architecture)
    uri = ensure_repository(t, context)
    digest = image_digest(t, tag, context)
    if digest:
        log(f"image {tag} is already in {uri}: not rebuilding")
        return f"{uri}@{digest}", version
    docker_login(t, uri.split("/", 1)[0], run)
    log(f"building {uri}:{tag} for {PLATFORMS[architecture]}")
    # The version goes into the image (an image that declares `ARG APP_VERSION` reports it; app/ does),
    # so the task reports what it runs without a stack parameter.
    result = run(["docker", "buildx", "build", "--platform", PLATFORMS[architecture], "--provenance=false",
                  "--build-arg", f"APP_VERSION={version}",
                  "--tag", f"{uri}:{tag}", "--push", str(ROOT / context)], check=False)
    if result.returncode != 0:
        raise BuildFailed(f"docker buildx build of {context}/ failed (exit {result.returncode}); see its output above")
    digest = image_digest(t, tag, context)
    if not digest:
        raise BuildFailed(f"pushed {uri}:{tag} but ECR does not list it")
    return f"{uri}@{digest}", version


def delete_repository(t: Target, context: str = SAMPLE_CONTEXT) -> str | None:
    """Delete a Context's repository with its images; its name, or None when there was none."""
    ecr, name = t.client("ecr"), repository_name(t, context)
    try:
        with aws_errors():
            ecr.delete_repository(repositoryName=name, force=True)
    except AwsCallFailed as exc:
        if exc.aws_code == "RepositoryNotFoundException":
            return None
        raise
    return name
