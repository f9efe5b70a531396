"""Read the blueprint's CloudFormation templates as plain Python data.

One reader for everyone who needs a template's content rather than its deployment: the dev stack
creates the local table from the template's definition (local/), `make preflight` and `make cost`
read parent.yml's parameters and rules (scripts/), the template checks render and judge them
(checks/). It uses cfn-lint's decoder, which understands the short intrinsic tags (`!Ref`,
`!GetAtt`, `!Sub`) a YAML loader refuses, and it is in every venv that runs these tools
(requirements/dev.txt and requirements/deploy.txt).
"""
from __future__ import annotations

from functools import lru_cache
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
