"""The services' build recipes in parent.yml, and `make image`: a local build of one, for those with Docker.

The stack builds every image itself (build.yml: CodeBuild, for each service's Architecture, driven by a
custom resource), so neither `make deploy` nor `sam deploy --guided` needs Docker. What to build comes
from parent.yml: each service (an AWS::Serverless::Application with `Location: service.yml`) names its
recipe in its Metadata,

    Metadata:
      Build:
        Context: app              # the directory with the Dockerfile (packaged by sam deploy as a layer)
        ImageParameter: ImageUri  # the parent parameter that can carry an image built elsewhere instead

`builds()` reads them (preflight checks each Context has a Dockerfile before anything is created).

`make image CONTEXT=services/reports` builds one Context on this machine with `docker build`, for this
machine's CPU, tagged `<context>:local`: a quick check that a Dockerfile builds and a container to run,
before a deploy builds it in CodeBuild. compose.yaml builds app/ the same way for `docker compose up`;
this target covers every Context parent.yml names, a new service's too. It pushes nothing.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from blueprint.templates import PARENT, load, service_resources
from scripts.common import ROOT, log
from scripts.errors import BuildFailed, ToolMissing, UsageError

LOCAL_TAG = "local"


@dataclass(frozen=True)
class Build:
    """One build context: its directory, the parent parameters that can take its image, the services using it."""

    context: str
    parameters: tuple[str, ...]
    services: tuple[str, ...]


def builds(template: dict | None = None, root: Path = ROOT, params: dict | None = None) -> list[Build]:
    """parent.yml's build recipes, one per distinct Context (a directory under `root`), in the parent's order.
    `params` is accepted for callers that pass the deploy's parameters; the recipes do not depend on them."""
    template = template if template is not None else load(PARENT)  # tests point PARENT elsewhere
    found: dict[str, tuple[list[str], list[str]]] = {}
    for key, resource in service_resources(template).items():
        recipe = (resource.get("Metadata") or {}).get("Build") or {}
        if not recipe.get("Context") or not recipe.get("ImageParameter"):
            raise UsageError(f"parent.yml: service {key} has no Metadata.Build with Context and ImageParameter")
        if not (root / recipe["Context"] / "Dockerfile").is_file():
            raise UsageError(f"parent.yml: service {key} builds {recipe['Context']}/, which has no Dockerfile")
        parameters, services = found.setdefault(str(recipe["Context"]), ([], []))
        if recipe["ImageParameter"] not in parameters:
            parameters.append(str(recipe["ImageParameter"]))
        services.append(str(key))
    if not found:
        raise UsageError("parent.yml has no service (an AWS::Serverless::Application with Location: service.yml)")
    return [Build(context, tuple(p), tuple(s)) for context, (p, s) in found.items()]


def local_tag(context: str) -> str:
    """The local image's name: the Context as a Docker repository name (services/reports -> services-reports:local)."""
    return f"{re.sub(r'[^a-z0-9]+', '-', context.lower()).strip('-')}:{LOCAL_TAG}"


def build_locally(context: str | None, run=subprocess.run) -> str:
    """`docker build` of one Context parent.yml names (the only one when it names one), for this machine's CPU;
    the local tag it made. No Docker: one line saying the deploy does not need it."""
    contexts = [b.context for b in builds()]
    if not context:
        if len(contexts) > 1:
            raise UsageError(f"parent.yml names {len(contexts)} build contexts: pick one with CONTEXT= "
                             f"({', '.join(contexts)})")
        context = contexts[0]
    context = context.rstrip("/")
    if context not in contexts:
        raise UsageError(f"CONTEXT={context} is not a build Context in parent.yml (it names {', '.join(contexts)})")
    if shutil.which("docker") is None:
        raise ToolMissing("docker is not installed: make image is the optional local build (make deploy and "
                          "sam deploy build in CodeBuild, without Docker)")
    # One line when the engine is not running (docker build would print its own half-dozen, buildx hints included).
    if run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
           check=False).returncode != 0:
        raise ToolMissing("the Docker engine is not running or not reachable: make image needs it (make deploy and "
                          "sam deploy do not)")
    tag = local_tag(context)
    log(f"docker build {context}/ -> {tag}")
    result = run(["docker", "build", "--build-arg", f"APP_VERSION={LOCAL_TAG}", "--tag", tag, str(ROOT / context)],
                 check=False)
    if result.returncode != 0:
        raise BuildFailed(f"docker build of {context}/ failed (exit {result.returncode}); see its output above")
    log(f"built {tag} (docker compose up runs app/ with its local table and site)")
    return tag
