"""A new service: its block in parent.yml and its build context, as `python -m scripts new-service` writes them.

One generator for both users: the scaffolder (scripts/new_service.py) writes what these functions return,
and the template checks (checks/render.py's two-service parent) render a parent made by `add_to_parent`,
so what `make test` lints, renders and prices is exactly what `new-service` writes.

The block is text inserted next to the existing ones, so parent.yml keeps its comments and layout: the
resource before the frontend's section, its line in FrontendStack's DependsOn, its output at the end.
The starter is app/ copied without the sample (the steps docs/services.md's removal takes), its API
prefix set to the service's, plus the files in blueprint/starter/ (one example endpoint and its test).

Images: the stack builds every service's image from its build context, which the block's own source
layer (`<Name>Source`, an AWS::Serverless::LayerVersion `sam deploy` packages) holds; service.yml's
Custom::ImageBuild builds it with the build stack (build.yml). The one ImageUri parameter,
`context=image,context=image`, may name a prebuilt image instead: a block picks its own entry with
Fn::Split and Fn::Select on a string that always holds the key, so every index exists whatever ImageUri
holds (an out-of-range Fn::Select fails a stack even in an untaken branch). A missing entry is "": the
stack builds that service's image.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parent.parent
STARTER = Path(__file__).resolve().parent / "starter"
SAMPLE_CONTEXT = "app"
SERVICES_DIR = "services"
IMAGE_PARAMETER = "ImageUri"
# A prefix CloudFront sends to the ingress (/api/*) that a route key and the descriptor's JSON can carry.
PATH_PREFIX = re.compile(r"^/api(/[A-Za-z0-9._~-]+)*$")
# Lowercase letters and digits, starting with a letter: the directory, the source layer
# (<stack>-source-services-<name>, at most 140) and, capitalized, the logical ids <Name>Service and
# <Name>Source. 24 characters keep the nested stack's name (<stack>-<Name>Service-<13 random>, at most 128)
# and the layer's name within bounds for a stack name up to 80.
NAME = re.compile(r"^[a-z][a-z0-9]*$")
MAX_NAME = 24
TOP_PRIORITY = 50000  # service.yml's ListenerRulePriority maximum: the catch-all /api service's
STEP = 100  # room between two generated priorities for a service added later between them


class ServiceError(ValueError):
    """A name, prefix or parent.yml the scaffolder refuses; the message is one line."""


@dataclass(frozen=True)
class Existing:
    key: str
    prefix: str
    priority: int
    context: str


def key_of(name: str) -> str:
    return name[0].upper() + name[1:] + "Service"


def existing_services(parent: dict) -> list[Existing]:
    out = []
    for key, resource in parent.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Application" \
                or not str(resource.get("Properties", {}).get("Location", "")).endswith("service.yml"):
            continue
        params = resource["Properties"].get("Parameters", {})
        build = (resource.get("Metadata") or {}).get("Build") or {}
        out.append(Existing(key, str(params.get("PathPrefix", "/api")), int(params.get("ListenerRulePriority", TOP_PRIORITY)),
                            str(build.get("Context", ""))))
    return out


def check_name(name: str, parent: dict, root: Path) -> None:
    if not NAME.fullmatch(name):
        raise ServiceError(f"service name {name!r}: use lowercase letters and digits, starting with a letter")
    if len(name) > MAX_NAME:
        raise ServiceError(f"service name {name!r} is {len(name)} characters: at most {MAX_NAME} "
                           "(it names the nested stack and the source layer)")
    for key in (key_of(name), source_key(name)):
        if key in parent.get("Resources", {}) or key in parent.get("Outputs", {}):
            raise ServiceError(f"parent.yml already has {key}: pick another name")
    if (root / SERVICES_DIR / name).exists():
        raise ServiceError(f"{SERVICES_DIR}/{name}/ already exists: pick another name")


def check_prefix(prefix: str, parent: dict) -> None:
    if not PATH_PREFIX.fullmatch(prefix):
        raise ServiceError(f"prefix {prefix!r}: use /api/ followed by path segments (letters, digits, . _ ~ -), "
                           "no trailing slash")
    for service in existing_services(parent):
        if service.prefix == prefix:
            raise ServiceError(f"prefix {prefix} is {service.key}'s: pick another")


def priority_for(prefix: str, parent: dict) -> int:
    """A listener rule priority no service has, below every service whose prefix contains this one (/api
    holds /api/reports) and above every service inside it: the ALB evaluates the lowest number first."""
    services = existing_services(parent)
    taken = {s.priority for s in services}
    above = min([s.priority for s in services if prefix.startswith(s.prefix + "/")], default=TOP_PRIORITY + 1)
    below = max([s.priority for s in services if s.prefix.startswith(prefix + "/")], default=0)
    stepped = [p for p in range(above - STEP, below, -STEP) if p not in taken and p <= TOP_PRIORITY]
    free = stepped or [p for p in range(min(above - 1, TOP_PRIORITY), below, -1) if p not in taken]
    if not free:
        raise ServiceError(f"no listener rule priority is free between {below} and {above} for {prefix}")
    return free[0]


def image_entry(context: str, image: str) -> str:
    return f"{context}={image}"


def image_value(images: dict[str, str]) -> str:
    """ImageUri's value: {context: image by digest} as `context=image,...` (what each block selects from)."""
    for context, image in images.items():
        if "," in image or "=" in image or "," in context or "=" in context:
            raise ValueError(f"an image reference or context holds ',' or '=': {context}={image}")
    return ",".join(image_entry(c, i) for c, i in images.items())


def source_key(name: str) -> str:
    """The logical id of a service's source layer (its build context, packaged by `sam deploy`)."""
    return name[0].upper() + name[1:] + "Source"


def layer_suffix(context: str) -> str:
    """The part of the layer name after "<stack>-source-": the context with "/" as "-" (a layer name holds
    letters, digits, "-" and "_"); build.yml's grants match "<stack>-source-*"."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", context)


def source_block(name: str, context: str) -> str:
    """The service's source layer: its build context, which `sam deploy` zips and uploads (an unchanged
    context is the same layer version, so nothing is rebuilt)."""
    return "\n".join([
        f"  # The {name} service's build context ({context}/), packaged by `sam deploy`; its image is built from it.",
        f"  {source_key(name)}:",
        "    Type: AWS::Serverless::LayerVersion",
        "    Properties:",
        f'      LayerName: !Sub "${{AWS::StackName}}-source-{layer_suffix(context)}"',
        f"      ContentUri: {context}",
        "      RetentionPolicy: Delete",
    ]) + "\n"


def image_expression(context: str) -> str:
    """The block's ImageUri: its Context's entry of the parent's ImageUri, "" when there is none."""
    key = f",{context}="
    return (f'!Select [0, !Split [",", !Select [1, !Split ["{key}", '
            f'!Join ["", [",", !Ref {IMAGE_PARAMETER}, "{key}"]]]]]]')


def scalar(value) -> str:
    """A YAML scalar for a block's line: numbers and plain words (a path, ARM64) as they are, other text
    JSON-quoted (valid YAML), "true"/"false" quoted as service.yml's String parameters want them."""
    if isinstance(value, int) or (re.fullmatch(r"[A-Za-z/][A-Za-z0-9/._~-]*", str(value))
                                  and str(value).lower() not in ("true", "false", "yes", "no", "on", "off", "null")):
        return str(value)
    return json.dumps(str(value))


def block(name: str, prefix: str, priority: int, context: str, settings: dict | None = None) -> str:
    """The resource's text (two-space indented, as in parent.yml). `settings` adds or replaces service.yml
    properties among the service's own (the template checks turn every option on this way)."""
    own = {
        "PathPrefix": prefix, "ListenerRulePriority": priority, "HealthCheckPath": f"{prefix}/health-check",
        "ContainerPort": 8000,
    }
    sized = {"Architecture": "ARM64", "Cpu": 256, "Memory": 512, "CpuTarget": 60}
    env = {"EnvironmentNames": "", "EnvironmentValues": "", "SecretNames": "", "SecretArns": ""}
    # The profile's values (parent.yml's Profile mapping), as the sample's block passes them.
    profiled = {k: f"!FindInMap [Profile, !Ref Profile, {k}]"
                for k in ("MinTasks", "MaxTasks", "OnDemandBase", "ReservedConcurrency", "LogRetentionDays")}
    settings = dict(settings or {})
    # Fargate or Lambda: the parent's Compute, as the sample's block passes it; a setting pins a literal.
    compute = scalar(settings.pop("Compute")) if "Compute" in settings else COMPUTE
    for group in (own, sized, env):
        for k in list(group):
            if k in settings:
                group[k] = settings.pop(k)
    for k in list(profiled):
        if k in settings:
            profiled[k] = scalar(settings.pop(k))
    comments = {"Architecture": "  # ARM64 (Graviton, 20 % less) or X86_64; the stack builds its image for it",
                "Cpu": "  # 0.25 vCPU; with Memory, a Fargate pair (service.yml's Rules)", "Memory": "  # MiB",
                "CpuTarget": "  # average CPU % target tracking keeps"}
    lines = [
        source_block(name, context),
        f"  # The {name} service ({context}/) under {prefix}, written by `python -m scripts new-service`.",
        "  # Its size, scaling, environment and secrets below are code you own (docs/services.md lists every",
        "  # property service.yml takes). Its listener rule priority is below that of any service whose",
        "  # prefix contains its own, so the ALB tries its longer prefix first.",
        f"  {key_of(name)}:",
        "    Type: AWS::Serverless::Application",
        "    Metadata:",
        "      Build:",
        f"        Context: {context}",
        f"        ImageParameter: {IMAGE_PARAMETER}",
        "    Properties:",
        "      Location: service.yml",
        "      Parameters:",
        *(f"        {k}: {scalar(v)}" for k, v in own.items()),
        f"        Compute: {compute}  # Fargate or Lambda (the parent's parameter); a literal pins this service to one",
        f"        # Its image: the {context}= entry of {IMAGE_PARAMETER} when a pipeline gives one; else the stack builds "
        f"{source_key(name)}.",
        f"        ImageUri: {image_expression(context)}",
        *(f"        {k}: {scalar(v)}{comments.get(k, '')}" for k, v in sized.items()),
        *(f"        {k}: {v}" for k, v in profiled.items()),
        *(f"        {k}: {scalar(v)}" for k, v in settings.items()),
        "        # Its environment and secrets: names and values in the same order, comma-separated (empty: none).",
        *(f"        {k}: {scalar(v)}" for k, v in env.items()),
        "        # wiring: the same for every service (but its own source layer)",
        f"        SourceLayerArn: !Ref {source_key(name)}",
        *(f"        {line}" for line in WIRING),
    ]
    return "\n".join(lines) + "\n"


COMPUTE = "!Ref Compute"


# What every service's block passes from the environment's stacks (tests/templates/test_services.py holds
# the sample's block to the same lines).
WIRING = (
    "ImageBuilderArn: !GetAtt BuildStack.Outputs.ImageBuilderArn",
    "BuildRoleArn: !GetAtt BuildStack.Outputs.BuildRoleArn",
    "PermissionsBoundaryArn: !Ref PermissionsBoundaryArn",
    "VpcId: !GetAtt VpcStack.Outputs.VpcId",
    "TaskSubnetIds: !GetAtt VpcStack.Outputs.TaskSubnetIds",
    "NetworkMode: !Ref NetworkMode",
    "ClusterName: !GetAtt ClusterStack.Outputs.ClusterName",
    "TaskExecutionRoleArn: !GetAtt ClusterStack.Outputs.TaskExecutionRoleArn",
    "NamespaceId: !GetAtt ClusterStack.Outputs.NamespaceId",
    "OriginVerifySecretArn: !GetAtt ClusterStack.Outputs.OriginVerifySecretArn",
    "OriginVerifySecretKey: !GetAtt ClusterStack.Outputs.OriginVerifySecretKey",
    "OriginVerifySecretArnPattern: !GetAtt ClusterStack.Outputs.OriginVerifySecretArnPattern",
    "Ingress: !Ref Ingress",
    "IngressSecurityGroupId: !GetAtt IngressStack.Outputs.IngressSecurityGroupId",
    "ApiId: !GetAtt IngressStack.Outputs.ApiId",
    "VpcLinkId: !GetAtt IngressStack.Outputs.VpcLinkId",
    "ListenerArn: !GetAtt IngressStack.Outputs.ListenerArn",
    "LoadBalancerFullName: !GetAtt IngressStack.Outputs.LoadBalancerFullName",
    "AlertTopicArn: !GetAtt AlertsStack.Outputs.TopicArn",
)


def output(name: str, context: str) -> str:
    key = key_of(name)
    return (f"  {key}:\n"
            f"    Description: \"Service: {name} ({context}/; name, container, log group, scalable target, path prefix; JSON).\"\n"
            f"    Value: !GetAtt {key}.Outputs.Descriptor\n")


def decode(text: str) -> dict:
    template, errors = decode_str(text)
    if errors:
        raise ServiceError(f"parent.yml does not parse: {errors[0].message}")
    return template


def add_to_parent(text: str, name: str, prefix: str, context: str | None = None, priority: int | None = None,
                  settings: dict | None = None) -> str:
    """parent.yml's text with the service added: its resource before the frontend's section, its line in
    FrontendStack's DependsOn, its output at the end of Outputs. Raises ServiceError for a name or prefix
    the parent cannot take."""
    parent = decode(text)
    context = context or f"{SERVICES_DIR}/{name}"
    for key in (key_of(name), source_key(name)):
        if key in parent.get("Resources", {}):
            raise ServiceError(f"parent.yml already has {key}: pick another name")
    check_prefix(prefix, parent)
    priority = priority if priority is not None else priority_for(prefix, parent)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    frontend = index_of(lines, "  FrontendStack:\n")
    # The block goes above the comments that introduce the frontend (its section rule included).
    start = frontend
    while start > 0 and lines[start - 1].startswith("  #"):
        start -= 1
    # FrontendStack's DependsOn: append to the list, or start one.
    end_of_frontend = next((i for i in range(frontend + 1, len(lines)) if lines[i].strip()
                            and not lines[i].startswith("    ")), len(lines))
    depends = next((i for i in range(frontend + 1, end_of_frontend) if lines[i] == "    DependsOn:\n"), None)
    if depends is None:
        type_line = next(i for i in range(frontend + 1, end_of_frontend) if lines[i].startswith("    Type:"))
        edits = [(type_line + 1, f"    DependsOn:\n      - {key_of(name)}\n")]
    else:
        last = depends
        while last + 1 < end_of_frontend and lines[last + 1].startswith("      - "):
            last += 1
        edits = [(last + 1, f"      - {key_of(name)}\n")]
    edits.append((start, block(name, prefix, priority, context, settings) + "\n"))
    for at, new in sorted(edits, reverse=True):
        lines.insert(at, new)
    result = "".join(lines)
    outputs = result.find("\nOutputs:\n")
    if outputs < 0:
        raise ServiceError("parent.yml has no Outputs section: a service needs its output there")
    # The end of the Outputs section: the next top-level key, or the end of the file.
    following = re.search(r"^\S", result[outputs + len("\nOutputs:\n"):], re.M)
    at = len(result) if following is None else outputs + len("\nOutputs:\n") + following.start()
    result = result[:at].rstrip("\n") + "\n" + output(name, context) + ("\n" if following else "") + result[at:]
    added = decode(result)
    assert key_of(name) in added["Resources"] and key_of(name) in added["Outputs"]
    return result


def index_of(lines: list[str], wanted: str) -> int:
    try:
        return lines.index(wanted)
    except ValueError:
        raise ServiceError(f"parent.yml has no line {wanted.strip()!r}: the scaffolder inserts the block before "
                           "it") from None


# ---------------------------------------------------------------- the build context
SAMPLE_DIR = "notes"  # app/api/notes/: the sample, left out of every starter
SAMPLE_LINES = ("from . import notes", "app.register_blueprint(notes.bp)")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", SAMPLE_DIR)


def replace_once(path: Path, pattern: str, new: str) -> None:
    text = path.read_text()
    found = re.findall(pattern, text, re.M)
    if len(found) != 1:
        raise ServiceError(f"{path.name}: expected one line matching {pattern!r} to set the prefix, found {len(found)}")
    path.write_text(re.sub(pattern, new, text, flags=re.M))


def write_starter(root: Path, name: str, prefix: str) -> Path:
    """services/<name>/: app/ copied without the sample, its API prefix `prefix`, plus blueprint/starter/'s
    example endpoint, its registration and its test."""
    target = root / SERVICES_DIR / name
    shutil.copytree(root / SAMPLE_CONTEXT, target, ignore=IGNORED)
    factory = target / "api" / "__init__.py"
    kept = "".join(line for line in factory.read_text().splitlines(keepends=True)
                   if line.strip() not in SAMPLE_LINES and not (line.strip().startswith("#") and "app/api/notes" in line))
    if kept.count("    return app\n") != 1:  # create_app ends with `return app`: the example goes before it
        raise ServiceError("app/api/__init__.py: expected create_app to end with one `return app`")
    example = ("    # The blueprints. The starter's example: replace it with your own (docs/api.md, \"Adding an endpoint\").\n"
               "    from . import hello\n"
               "    app.register_blueprint(hello.bp)\n")
    factory.write_text(kept.replace("    return app\n", example + "    return app\n"))
    replace_once(target / "api" / "config.py", r'^API_PREFIX = "/api"$', f'API_PREFIX = "{prefix}"')
    replace_once(target / "healthcheck.py", r'^PATH = "/api/health-check"$', f'PATH = "{prefix}/health-check"')
    for source in STARTER.rglob("*"):
        if source.is_file() and "__pycache__" not in source.parts:
            destination = target / source.relative_to(STARTER)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(source.read_text())
    return target
