"""A stack whose origin secret predates its Name upgrades in two deploys (docs/operate.md, "Upgrading a stack
created before 2026-11-24").

Until 2026-11-24 cluster.yml's OriginVerifySecret had no Name, so CloudFormation generated one
(`OriginVerifySecret-<random>`); today's names it `<cluster stack>-origin-verify-<version>`, which replaces it,
and every policy that grants it grants only that name's prefix. If such an update fails after the services
were updated, their rollback starts tasks of the previous task definition, which read the OLD secret, with
roles that no longer grant it: they cannot start, the circuit breaker reverts and the stack ends
UPDATE_ROLLBACK_FAILED (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html).
checks/plan.py flags that class offline, but an offline rendering cannot see a generated name: only the
deployed resource's physical id (DescribeStackResource on the nested stack, found through the parent's
nested stack resource) says which name the stack's secret has.

`make plan STACK=` warns (and exits 1), `make preflight` and so `make deploy` refuse, unless what is being
deployed is the first step. How that is told: the templates in this checkout ARE that step when every policy
statement that grants the secret (in the template that holds it: by its logical id or its Name's prefix; in
the others: through the parameters parent.yml fills with the holder's outputs that name it) also grants the
deployed name by a pattern, and no permissions boundary (deploy/permissions-boundary-policy.json: the
stack's own `STACK-*` secrets) stops the roles reading it. After the first step the deployed secret has the
new name and nothing here fires, so the second step (the grant removed again) passes.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from checks.cfnlint.project_rules import references
from checks.evaluate import nested_stacks
from checks.render import PARENT, template
from scripts.common import ROOT, Target, aws_errors, stack_missing, stack_parameters
from scripts.errors import AwsCallFailed, TwoStepUpgrade
from scripts.stack_failures import stack_or_none

SECRET = "AWS::SecretsManager::Secret"
BOUNDARY = ROOT / "deploy" / "permissions-boundary-policy.json"
DOCS = 'docs/operate.md, "Upgrading a stack created before 2026-11-24"'


@dataclass
class Named:
    """A secret a nested template gives a Name, and who grants it."""

    stack: str      # the nested stack's logical id in the parent (ClusterStack)
    location: str   # its template file
    resource: str   # the secret's logical id (OriginVerifySecret)
    name: str       # its Name's text, ${...} kept


def _text(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0] if isinstance(sub, list) and sub else None
    return None


def named_secrets(parent_file: str = PARENT) -> list[Named]:
    """Every secret a nested template of the parent names (a Name with text)."""
    base = Path(parent_file).parent
    found = []
    for stack, location in nested_stacks(template(parent_file)).items():
        for name, resource in template(str(base / location)).get("Resources", {}).items():
            text = _text(resource.get("Properties", {}).get("Name")) if resource.get("Type") == SECRET else None
            if text:
                found.append(Named(stack, str(base / location), name, text))
    return found


def _literal(name: str) -> str:
    """A Name's text up to its first placeholder other than ${AWS::StackName}: what every copy's name starts with."""
    return re.split(r"\$\{(?!AWS::StackName\})", name, maxsplit=1)[0]


def _statements(node):
    """Every IAM policy statement (a dict with Action and Resource), inside Fn::If branches too."""
    if isinstance(node, dict):
        if "Resource" in node and ("Action" in node or "NotAction" in node):
            yield node
            return
        for value in node.values():
            yield from _statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from _statements(value)


def _texts(node) -> list[str]:
    """The text of each item of a statement's Resource (literals and !Sub), in every Fn::If branch."""
    text = _text(node)
    if text is not None:
        return [text]
    if isinstance(node, dict) and "Fn::If" in node:
        return [t for branch in node["Fn::If"][1:] for t in _texts(branch)]
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    return []


def _names_it(text: str, literal: str) -> bool:
    return ":secret:" in text and text.split(":secret:", 1)[1].startswith(literal)


def grants(secret: Named, parent_file: str = PARENT) -> list[tuple[str, dict]]:
    """(template file, statement) of every policy statement that grants the secret: in its own template by
    its logical id or a pattern of its Name's prefix; in the other nested templates through a parameter the
    parent fills with an output of the holder that names it (the cluster's OriginVerifySecretArnPattern)."""
    literal = _literal(secret.name)
    holder = template(secret.location)
    outputs = {o for o, v in holder.get("Outputs", {}).items()
               if secret.resource in references(v.get("Value")) or any(_names_it(t, literal) for t in _texts(v.get("Value")))}
    wanted = {f"{secret.stack}.Outputs.{o}" for o in outputs}
    parent = template(parent_file)
    base = Path(parent_file).parent
    found = []
    for stack, location in nested_stacks(parent).items():
        path = str(base / location)
        if stack == secret.stack:
            carriers = {secret.resource}
        else:
            given = parent["Resources"][stack].get("Properties", {}).get("Parameters", {})
            carriers = {p for p, v in given.items() if isinstance(v, dict) and _getatt(v.get("Fn::GetAtt")) in wanted}
        for statement in _statements(template(path).get("Resources", {})):
            resource = statement["Resource"]
            if references(resource) & carriers or (stack == secret.stack and any(_names_it(t, literal) for t in _texts(resource))):
                found.append((path, statement))
    return found


def _getatt(value) -> str:
    return ".".join(value) if isinstance(value, list) else str(value or "")


def covers(statement: dict, deployed: str, stack_name: str) -> bool:
    """Whether a pattern in the statement's Resource matches the deployed secret's name (the part of its ARN
    after `secret:`, with Secrets Manager's -XXXXXX), ${AWS::StackName} as the holder's stack name and any
    other placeholder as anything."""
    for text in _texts(statement["Resource"]):
        if ":secret:" not in text:
            continue
        pattern = text.split(":secret:", 1)[1].replace("${AWS::StackName}", stack_name)
        if fnmatchcase(deployed, re.sub(r"\$\{[^}]*\}", "*", pattern)):
            return True
    return False


def boundary_pattern(stack: str) -> str | None:
    """The secret names deploy/permissions-boundary-policy.json lets a bounded role read (STACK as `stack`)."""
    for statement in json.loads(BOUNDARY.read_text())["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if "secretsmanager:GetSecretValue" in actions:
            return statement["Resource"].split(":secret:", 1)[1].replace("STACK", stack)
    return None


def deployed_secret(t: Target, secret: Named) -> tuple[str, str] | None:
    """(the nested stack's name, the deployed secret's name) from the physical ids: the parent's nested stack
    resource gives the nested stack's ARN, its secret resource the secret's ARN. None when either is not there
    (no stack yet, one in REVIEW_IN_PROGRESS, a nested stack being created)."""
    cfn = t.client("cloudformation")
    try:
        with aws_errors():
            nested = cfn.describe_stack_resource(StackName=t.stack_name, LogicalResourceId=secret.stack)
            arn = nested["StackResourceDetail"].get("PhysicalResourceId", "")
            if ":stack/" not in arn:
                return None
            found = cfn.describe_stack_resource(StackName=arn, LogicalResourceId=secret.resource)
    except AwsCallFailed as exc:
        if exc.aws_code == "ValidationError" and ("does not exist" in exc.aws_message or stack_missing(exc)):
            return None
        raise
    physical = found["StackResourceDetail"].get("PhysicalResourceId", "")
    if ":secret:" not in physical:
        return None
    return arn.split(":stack/", 1)[1].split("/", 1)[0], physical.split(":secret:", 1)[1]


def problems(t: Target, boundary: str, parent_file: str = PARENT) -> list[str]:
    """One line per secret whose deployed name predates its Name and that the templates being deployed do not
    upgrade safely. `boundary`: the PermissionsBoundaryArn the update leaves the stack with."""
    lines = []
    for secret in named_secrets(parent_file):
        deployed = deployed_secret(t, secret)
        if deployed is None:
            continue
        stack_name, name = deployed
        if name.startswith(_literal(secret.name).replace("${AWS::StackName}", stack_name)):
            continue  # already named: the update keeps it, or rotates it with the grants that cover both
        what = (f"{secret.stack}/{secret.resource} is {name}, created before it had a Name: this update replaces it "
                "and a rollback's tasks could not read the old one (UPDATE_ROLLBACK_FAILED)")
        missing = sorted({Path(path).name for path, statement in grants(secret, parent_file)
                          if not covers(statement, name, stack_name)})
        if missing:
            lines.append(f"{what}; upgrade in two deploys: first grant the old name too "
                         f"(arn:...:secret:{name.rsplit('-', 2)[0]}-* beside the secret's pattern in "
                         f"{', '.join(missing)}), deploy without a permissions boundary, then remove that grant and "
                         f"deploy again ({DOCS})")
            continue
        allowed = boundary_pattern(t.stack_name)
        if boundary and allowed and not fnmatchcase(name, allowed):
            lines.append(f"{what}; this is the first of the two deploys, but the permissions boundary "
                         f"({boundary}) lets the roles read only {allowed} secrets: deploy this step without it "
                         f"(unset PERMISSIONS_BOUNDARY_ARN; a stack that has one: PermissionsBoundaryArn=\"\" with an "
                         f"administrator's role as CLOUDFORMATION_ROLE_ARN, since a stack keeps the last role it was "
                         f"given and the service role may not remove a boundary), then set it again with the second "
                         f"({DOCS})")
    return lines


def check(t: Target, params: dict) -> str:
    """Preflight (so `make deploy`): refuse an update that replaces a secret named before it had a Name,
    unless the templates are the first step of the two-step upgrade."""
    boundary = params.get("PermissionsBoundaryArn")
    if boundary is None:  # not sent: the stack keeps its own (SAM sends UsePreviousValue)
        boundary = _deployed_boundary(t)
    found = problems(t, boundary or "")
    if found:
        raise TwoStepUpgrade(found[0])
    return "no secret named before it had a Name, or this is the first step of its upgrade"


def _deployed_boundary(t: Target) -> str:
    stack = stack_or_none(t.client("cloudformation"), t.stack_name)
    return stack_parameters(stack).get("PermissionsBoundaryArn", "") if stack else ""
