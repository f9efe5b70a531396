"""Read the blueprint's CloudFormation templates as plain Python data.

One reader for everyone who needs a template's content rather than its deployment: the dev stack
creates the local table from the template's definition (local/), `make preflight` and `make cost`
read parent.yml's parameters and rules (scripts/), the template checks render and judge them
(checks/). It uses cfn-lint's decoder, which understands the short intrinsic tags (`!Ref`,
`!GetAtt`, `!Sub`) a YAML loader refuses, and it is in every venv that runs these tools
(requirements/dev.txt and requirements/deploy.txt).
"""
from __future__ import annotations

import os
from functools import cache, lru_cache
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent
PARENT = ROOT / "parent.yml"


class TemplateError(ValueError):
    """A template that cannot be read; the message names the file and the first problem."""


def plain(value):
    """cfn-lint's decoder returns str/dict/list subclasses that remember their line; plain ones out."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def load(path: Path) -> dict:
    """The template at `path`, intrinsic functions in their long form ({"Ref": ...}, {"Fn::Sub": ...})."""
    template, errors = decode(str(path))
    if errors:
        raise TemplateError(f"{path}: {errors[0].message}")
    return template


@lru_cache(maxsize=1)
def parent() -> dict:
    """parent.yml, read once per process: the ops commands only read it (defaults, rules, services)."""
    return load(PARENT)


def service_resources(template: dict) -> dict[str, dict]:
    """The parent's services: its nested applications whose Location is service.yml."""
    return {name: r for name, r in template.get("Resources", {}).items()
            if r.get("Type") == "AWS::Serverless::Application"
            and str(r.get("Properties", {}).get("Location", "")).endswith("service.yml")}


# ---------------------------------------------------------------- what the parent passes
# The ops commands need the values a deployment would get (a service's size from its block, the
# profile's settings) without the deep checks (checks/): this is the small part of CloudFormation's
# evaluation they need. A value only a deployment knows (Fn::GetAtt, another stack's output) is None.
def condition(template: dict, name: str, values: dict) -> bool | None:
    """A condition of `template` for `values` (parameters, and AWS::Region when known); None if unknown."""
    def truth(expr):
        (fn, args), = expr.items()
        if fn == "Condition":
            return truth(template["Conditions"][args])
        if fn == "Fn::Not":
            inner = truth(args[0])
            return None if inner is None else not inner
        if fn in ("Fn::And", "Fn::Or"):
            found = [truth(a) for a in args]
            if fn == "Fn::And":
                return False if False in found else None if None in found else True
            return True if True in found else None if None in found else False
        if fn == "Fn::Equals":
            a, b = (resolve(x, values, template) for x in args)
            return None if a is None or b is None else str(a) == str(b)
        return None
    return truth(template["Conditions"][name])


def resolve(node, values: dict, template: dict):
    """`node` as CloudFormation would resolve it for `values`: literals, Ref, Fn::FindInMap, Fn::If and
    Fn::Join of known values; None for anything a deployment decides."""
    if isinstance(node, (str, int, float, bool)):
        return str(node).lower() if isinstance(node, bool) else str(node)
    if isinstance(node, list):
        items = [resolve(n, values, template) for n in node]
        return None if None in items else items
    if not isinstance(node, dict) or len(node) != 1:
        return None
    (fn, args), = node.items()
    if fn == "Ref":
        value = values.get(args, template.get("Parameters", {}).get(args, {}).get("Default"))
        return None if value is None else str(value)
    if fn == "Fn::FindInMap":
        keys = [resolve(k, values, template) for k in args[:3]]
        if None in keys:
            return None
        return resolve(template["Mappings"][keys[0]][keys[1]][keys[2]], values, template)
    if fn == "Fn::If":
        taken = condition(template, args[0], values)
        return None if taken is None else resolve(args[1] if taken else args[2], values, template)
    if fn == "Fn::Join":
        items = resolve(args[1], values, template)
        return None if items is None else args[0].join(items)
    return None


def child(location: str) -> dict:
    """A child template by its Location in parent.yml, read once per process (callers only read it). The
    Location may be cfn-lint's str subclass (it carries its line); the cache is keyed on the plain string, and
    unbounded: a bounded one smaller than the templates x both kinds of key read every template again on
    each call of a loop over the stacks (make cost's break-even ran 11,000 reads, two minutes)."""
    return _child(str(location))


@cache
def _child(location: str) -> dict:
    return load(ROOT / location)


def nested_parameters(template: dict, stack: str, values: dict) -> dict[str, str | None]:
    """The parameters the nested stack `stack` gets: what its block passes (resolved for `values`) over its
    own template's defaults (a parameter the block leaves out)."""
    resource = template["Resources"][stack]
    spec_of = child(str(resource["Properties"]["Location"])).get("Parameters", {})
    out = {name: None if spec.get("Default") is None else str(spec["Default"]) for name, spec in spec_of.items()}
    for name, expr in resource["Properties"].get("Parameters", {}).items():
        out[name] = resolve(expr, values, template)
    return out


# ---------------------------------------------------------------- what `sam deploy` uploads
# The properties `sam package` (and so `sam deploy`) zips from a local folder and uploads, by resource type
# (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-cli-command-reference-sam-package.html).
# It follows symbolic links (samcli/lib/package/utils.py walks with followlinks=True) and stores the target's
# content: a link in one of these folders would upload a file from outside it, which the local builders
# (functions/site_files.py, docker build) never see. Their checks: tests/templates/test_packaged_folders.py
# (tracked files) and `make preflight` (the folder as it is on disk, untracked files too).
PACKAGED = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri",
            "AWS::Lambda::Function": "Code", "AWS::Lambda::LayerVersion": "Content"}
NESTED = ("AWS::Serverless::Application", "AWS::CloudFormation::Stack")


def packaged_folders(root: Path = ROOT) -> list[Path]:
    """Every local folder `sam deploy` uploads for `root`/parent.yml: each PACKAGED property that is a path
    (not an S3 location) in the parent and in every template it nests (a path relative to its template), and
    each service's Metadata.Build Context (its image's build context, which the stack packages as a layer).
    Sorted, each once."""
    found: set[Path] = set()
    pending, seen = [root / "parent.yml"], set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for resource in load(path).get("Resources", {}).values():
            props = resource.get("Properties") or {}
            local = props.get(PACKAGED.get(resource.get("Type"), ""))
            if isinstance(local, str) and local and "://" not in local:
                found.add(path.parent / local)
            context = ((resource.get("Metadata") or {}).get("Build") or {}).get("Context")
            if isinstance(context, str) and context:
                found.add(path.parent / context)
            location = props.get("Location", props.get("TemplateURL")) if resource.get("Type") in NESTED else None
            if isinstance(location, str) and "://" not in location:
                pending.append(path.parent / location)
    return sorted(Path(os.path.normpath(p)) for p in found)


def links_in(folder: Path, root: Path = ROOT) -> list[str]:
    """What `sam package` would take from outside `folder`: the folder itself lying outside `root` or being a
    link, and every symbolic link in it (file or folder, wherever it points), as paths relative to `root`."""
    folder = Path(os.path.normpath(folder))
    where = os.path.relpath(folder, root)
    if not folder.resolve().is_relative_to(root.resolve()):
        return [f"{where} (outside the repository)"]
    out = [where] if folder.is_symlink() else []
    for parent, dirs, files in os.walk(folder):  # followlinks=False: a linked folder is listed, not entered
        out += [os.path.relpath(os.path.join(parent, n), root) for n in sorted(dirs + files)
                if os.path.islink(os.path.join(parent, n))]
    return out
