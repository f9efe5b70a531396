"""What CloudFormation's resource handlers call, against what the CloudFormation service role grants.

CI deploys through a service role (deploy/cloudformation-service-role-policy.json): every AWS call a
resource's create, read, update or delete handler makes runs with that role's permissions, and one missing
fails the deploy half-way, or its rollback. The calls each handler makes are CloudFormation's own
registry data: `handlers.create/read/update/delete.permissions` of the resource schemas cfn-lint ships
(read through `cfnlint.schema.PROVIDER_SCHEMA_MANAGER`, the schema manager cfn-lint's rules use).

Whether a statement grants a permission follows IAM's rules for resource-level permissions, from the
Service Authorization Reference as policy_sentry bundles it (`policy_sentry.querying.actions.get_action_data`,
`policy_sentry.querying.arns.get_arn_types_for_service`): an action that takes no resource ARN is granted only
by `Resource: "*"`; a statement scoped to ARNs grants a type's handler an action only where one of those ARNs
is of the IAM resource type the HANDLER works on (`works_on`), not merely of some type the action takes: a
`distribution/*` ARN does not let the function's handler tag the function, a `role/...` ARN does not let a
managed policy's handler read a role. The IAM resource type of a CloudFormation type is matched by name
(AWS::CloudFront::Function -> cloudfront `function`, AWS::Logs::LogGroup -> logs `log-group`), among the
services the type's handlers call; the few whose names differ, and the calls a handler makes on another
type's resource (a task definition passes its roles), are the reviewed tables OWN_TYPES and ACTS_ON. Two
conditions the role relies on are followed too:

- `iam:PassedToService`: a role passed to ECS tasks is not a role passed to CloudFormation. The service a
  type's handler passes a role to is PASSED_TO; any other type's `iam:PassRole` is not granted by a
  statement with that condition.
- A resource that exists before the stack, named by a placeholder (HOSTED_ZONE_ID: the user's zone,
  DISTRIBUTION_ID: the stack's distribution once it exists, ...), is what the types in PINNED act on;
  a grant on it is no grant for another type (Cloud Map's private namespace reads the hosted zone *it*
  creates, not the user's).

Other conditions (a tag, a service-linked role's service name) are taken as met: they narrow a grant to
the stack's own resources, which is what the handlers act on.

Why policy_sentry and not parliament (which the policy lint already uses): parliament's bundled copy of the
reference was last refreshed in its 1.6.4 release (April 2025) and lacks services and actions the templates
use (pricingplanmanager, ec2:CreateVpcEncryptionControl, ...); policy_sentry (MIT, Salesforce) refreshes its
copy with each release and documents its querying functions as its library API.
"""
from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from blueprint.templates import PACKAGED as UPLOADED_PATHS
from blueprint.templates import ROOT

CFN_ROLE = ROOT / "deploy" / "cloudformation-service-role-policy.json"
NOT_NEEDED = ROOT / "deploy" / "cloudformation-service-role-not-needed.yml"
# read too: CloudFormation reads a resource back for drift detection and some stack operations
HANDLERS = ("create", "read", "update", "delete")
# cfn-lint's copies for its 46 regions differ in which types exist (issue 17, part 2), not in a type's handler
# permissions: the same lists in every region for the stack's types (checked when this was written).
SCHEMA_REGION = "us-east-1"

# The service each type's handler passes a role to (iam:PassedToService), where the templates make it pass one:
# a task definition passes its task and execution roles to ECS tasks
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html); creating or updating a
# nested stack passes the parent's service role to CloudFormation, which runs the nested stack as that role
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html).
PASSED_TO = {
    "AWS::ECS::TaskDefinition": "ecs-tasks.amazonaws.com",
    "AWS::CloudFormation::Stack": "cloudformation.amazonaws.com",
    # a function's execution role, a build project's service role
    "AWS::Lambda::Function": "lambda.amazonaws.com",
    "AWS::CodeBuild::Project": "codebuild.amazonaws.com",
}

# Placeholders that name one resource existing before the stack operation, and the types that act on it.
PINNED = {
    "HOSTED_ZONE_ID": {"AWS::Route53::RecordSet"},  # the custom domain's alias records
    "DISTRIBUTION_ID": {"AWS::CloudFront::Distribution"},  # the stack's distribution, after the first deploy
    "CLOUDFORMATION_ROLE": {"AWS::CloudFormation::Stack"},  # the role itself, passed on to the nested stacks
    # the nested templates, the functions' code and the build contexts' layers `sam deploy` uploaded
    "SAM_BUCKET": {"AWS::CloudFormation::Stack", "AWS::Lambda::Function", "AWS::Lambda::LayerVersion"},
}

# The calls of types whose registry schema lists no handler permissions (legacy resource providers), from
# their service's API reference, reviewed like ACTS_ON. AWS::CodeBuild::Project: CreateProject,
# UpdateProject, DeleteProject, BatchGetProjects, and passing its service role
# (https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-permissions-reference.html).
# A custom resource (Custom::*, AWS::CloudFormation::CustomResource): CloudFormation invokes its ServiceToken
# function with the stack's credentials, the service role when one is used
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html).
# tests/templates/test_handler_permissions.py fails on a type that has neither schema data nor an entry here.
REVIEWED_HANDLERS = {
    "AWS::CodeBuild::Project": {"codebuild:CreateProject", "codebuild:UpdateProject", "codebuild:DeleteProject",
                                "codebuild:BatchGetProjects", "iam:PassRole"},
    "Custom::*": {"lambda:InvokeFunction"},
    "AWS::CloudFormation::CustomResource": {"lambda:InvokeFunction"},
    "AWS::CloudFormation::WaitConditionHandle": set(),  # CloudFormation's own presigned URL: no AWS call
}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def statements(doc: dict) -> list[dict]:
    return as_list(doc["Statement"])


def read_policy(path: Path = CFN_ROLE) -> dict:
    """The policy as it is in deploy/, placeholders and all."""
    return json.loads(path.read_text())


# The IAM resource types ("service:type" as the Service Authorization Reference names them) of the
# CloudFormation types whose name differs from their IAM resource type's, so the match by name misses them.
OWN_TYPES = {
    "AWS::IAM::ManagedPolicy": {"iam:policy"},
    "AWS::IAM::RolePolicy": {"iam:role"},  # an inline policy is its role's own configuration (PutRolePolicy on the role)
    "AWS::S3::Bucket": {"s3:bucket", "s3:object"},  # its handlers also list calls on its objects (s3:DeleteObject)
    "AWS::S3::BucketPolicy": {"s3:bucket"},  # a bucket policy is the bucket's own configuration
    "AWS::ServiceDiscovery::PrivateDnsNamespace": {"servicediscovery:namespace"},
    "AWS::Events::Rule": {"events:rule-on-default-event-bus"},  # build.yml's rule is on the default bus
    "AWS::Lambda::LayerVersion": {"lambda:layer", "lambda:layerVersion"},  # published to a layer, as a version
    "AWS::SNS::TopicPolicy": {"sns:topic"},  # a topic policy is the topic's own attribute (SetTopicAttributes)
}

# Calls a type's handler makes on a resource of ANOTHER type, and that type: a statement scoped to that type's
# ARNs grants the call for this type too. Reviewed like a suppression: an entry says what the handler acts on.
# "*": every type (a service creates its service-linked role the first time an account uses it; the
# statement's iam:AWSServiceName condition says which services may).
ACTS_ON = {
    "*": {"iam:CreateServiceLinkedRole": "iam:role"},
    # the alias records live in the user's zone; a change is waited for until it is INSYNC
    "AWS::Route53::RecordSet": {"route53:ChangeResourceRecordSets": "route53:hostedzone",
                                "route53:GetHostedZone": "route53:hostedzone",
                                "route53:ListResourceRecordSets": "route53:hostedzone",
                                "route53:GetChange": "route53:change"},
    # the private hosted zone Cloud Map creates for the namespace, read back once created
    "AWS::ServiceDiscovery::PrivateDnsNamespace": {"route53:GetHostedZone": "route53:hostedzone"},
    # the task and execution roles the task definition passes to ECS tasks
    "AWS::ECS::TaskDefinition": {"iam:PassRole": "iam:role", "iam:GetRole": "iam:role"},
    # the policy is attached to (and detached from) the stack's roles; it reads none of them
    "AWS::IAM::ManagedPolicy": {"iam:AttachRolePolicy": "iam:role", "iam:DetachRolePolicy": "iam:role"},
    # the service role, passed on to the nested stacks
    "AWS::CloudFormation::Stack": {"iam:PassRole": "iam:role"},
    # the code `sam deploy` uploaded; the execution role passed to Lambda
    "AWS::Lambda::Function": {"s3:GetObject": "s3:object", "s3:GetObjectVersion": "s3:object",
                              "iam:PassRole": "iam:role"},
    "AWS::Lambda::LayerVersion": {"s3:GetObject": "s3:object", "s3:GetObjectVersion": "s3:object"},
    # a permission is part of the function's resource policy
    "AWS::Lambda::Permission": {"lambda:AddPermission": "lambda:function", "lambda:RemovePermission": "lambda:function",
                                "lambda:GetPolicy": "lambda:function"},
    # the service role passed to CodeBuild
    "AWS::CodeBuild::Project": {"iam:PassRole": "iam:role"},
    # a subscription is made on its topic (Subscribe takes the topic's ARN)
    "AWS::SNS::Subscription": {"sns:Subscribe": "sns:topic"},
    # a custom resource invokes its provider function (ServiceToken)
    "Custom::*": {"lambda:InvokeFunction": "lambda:function"},
    "AWS::CloudFormation::CustomResource": {"lambda:InvokeFunction": "lambda:function"},
}


def reviewed(table: dict, resource_type: str) -> list:
    """The entries of `table` (REVIEWED_HANDLERS, ACTS_ON) for `resource_type`: its own and a pattern's (Custom::*)."""
    return [value for key, value in table.items() if fnmatch.fnmatchcase(resource_type, key)]


# ---------------------------------------------------------------- the Service Authorization Reference

@cache
def arn_formats(action: str) -> frozenset[str] | None:
    """The ARN formats of the resource types `action` can be scoped to; empty when it takes only
    `Resource: "*"`; None when the reference does not know the action."""
    from policy_sentry.querying.actions import get_action_data
    service, name = action.split(":", 1)
    entries = get_action_data(service, name).get(service)
    if not entries:
        return None
    return frozenset(e["resource_arn_format"] for e in entries if e["resource_arn_format"] != "*")


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@cache
def resource_arn_formats(service: str) -> dict[str, str]:
    """IAM resource type name -> its ARN format, for one service prefix (empty when the reference lacks it)."""
    from policy_sentry.querying.arns import get_arn_types_for_service
    try:
        return dict(get_arn_types_for_service(service) or {})
    except KeyError:  # a prefix the reference does not know (policy_sentry finds no "resources" for it)
        return {}


def _formats(names: set[str]) -> set[str]:
    out = set()
    for name in names:
        service, kind = name.split(":", 1)
        out.add(resource_arn_formats(service)[kind])
    return out


@cache
def own_resource_types(resource_type: str) -> frozenset[str]:
    """The IAM resource type(s) ("service:type") a CloudFormation type IS: OWN_TYPES, or the resource type of
    the same name (case, '-' and '_' aside) in a service its handlers call."""
    if resource_type in OWN_TYPES:
        return frozenset(OWN_TYPES[resource_type])
    name = _normal(resource_type.rsplit("::", 1)[-1])
    services = {p.split(":", 1)[0].lower() for p in handler_permissions(resource_type)}
    return frozenset(f"{service}:{kind}" for service in services for kind in resource_arn_formats(service)
                     if _normal(kind) == name)


def own_arn_formats(resource_type: str) -> frozenset[str]:
    return frozenset(_formats(own_resource_types(resource_type)))


def works_on(resource_type: str, action: str) -> frozenset[str]:
    """The ARN formats of the resources the handler of `resource_type` calls `action` on: the type's own,
    and the other type ACTS_ON names for that call."""
    other = {names[a] for names in (ACTS_ON.get("*", {}), *reviewed(ACTS_ON, resource_type))
             for a in names if a.lower() == action.lower()}
    return own_arn_formats(resource_type) | frozenset(_formats(other))


def arn_of_type(resource: str, arn_format: str) -> bool:
    """Whether the policy's `resource` (an ARN pattern, placeholders in it) names resources of the type
    `arn_format` describes (arn:${Partition}:route53:::hostedzone/${Id}): its service and its resource-type
    part (`hostedzone/`, `distribution/`, `log-group:`) agree."""
    pattern = "^" + ".*".join(re.escape(part) for part in re.split(r"\$\{[^}]+\}", arn_format)) + "$"
    return re.match(pattern, resource.replace("*", "x").replace("?", "x")) is not None


# ---------------------------------------------------------------- the policy

def _acts(statement: dict, action: str) -> bool:
    if "NotAction" in statement or "NotResource" in statement:
        raise ValueError(f"{statement.get('Sid')}: NotAction/NotResource are not evaluated here")
    return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in as_list(statement["Action"]))


def _passes_to(statement: dict, resource_type: str) -> bool:
    """False when the statement limits iam:PassedToService to services other than the one `resource_type`
    passes its role to."""
    for keys in statement.get("Condition", {}).values():
        for key, values in keys.items():
            if key.lower() == "iam:passedtoservice":
                service = PASSED_TO.get(resource_type)
                if service is None or not any(fnmatch.fnmatchcase(service, v) for v in as_list(values)):
                    return False
    return True


def _serves(resource: str, resource_type: str) -> bool:
    return all(resource_type in types for name, types in PINNED.items() if name in resource)


def refusal(doc: dict, resource_type: str, action: str) -> str | None:
    """None when `doc` lets the handler of `resource_type` call `action`; otherwise why not, in a few words."""
    allows = [s for s in statements(doc) if s["Effect"] == "Allow" and _acts(s, action)]
    if not allows:
        return "no statement allows it"
    passing = [s for s in allows if _passes_to(s, resource_type)]
    if not passing:
        return f"iam:PassedToService allows other services than {PASSED_TO.get(resource_type, 'this type passes to')}"
    resources = [r for s in passing for r in as_list(s["Resource"]) if _serves(r, resource_type)]
    if not resources:
        return "allowed only on a resource another type acts on (PINNED)"
    denied = [s for s in statements(doc) if s["Effect"] == "Deny" and "Condition" not in s and _acts(s, action)]
    resources = [r for r in resources
                 if not any(fnmatch.fnmatchcase(r, d) for s in denied for d in as_list(s["Resource"]))]
    if not resources:
        return "denied"
    if "*" in resources:
        return None
    formats = arn_formats(action)
    if formats is None:
        return "unknown to the Service Authorization Reference: only Resource \"*\" would grant it"
    if not formats:
        return "takes no resource ARN: needs Resource \"*\""
    if not any(arn_of_type(r, f) for r in resources for f in formats):
        return f"allowed only on {sorted(set(resources))}, which are not of the types it takes {sorted(formats)}"
    target = formats & works_on(resource_type, action)
    if not target:
        return (f"scoped to ARNs, but the reference names none of the resource types {resource_type}'s handler "
                f"works on among those {action} takes: grant it on \"*\", or say in OWN_TYPES/ACTS_ON what it acts on")
    if any(arn_of_type(r, f) for r in resources for f in target):
        return None
    return f"allowed only on {sorted(set(resources))}, another resource type than {resource_type}'s {sorted(target)}"


# ---------------------------------------------------------------- what the handlers call

def schema_permissions(resource_type: str) -> set[str]:
    """The permissions the type's registry schema lists for its create, read, update and delete handlers."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, resource_type).schema
    handlers = schema.get("handlers", {})
    return {p for h in HANDLERS for p in handlers.get(h, {}).get("permissions", [])}


def unknown_types(types: set[str]) -> list[str]:
    """Types whose calls the check cannot know: no handler permissions in their schema, no REVIEWED_HANDLERS entry."""
    return sorted(t for t in types if not schema_permissions(t) and not reviewed(REVIEWED_HANDLERS, t))


def handler_permissions(resource_type: str) -> set[str]:
    """Every permission the type's create, read, update and delete handlers list (REVIEWED_HANDLERS for a type
    whose schema lists none)."""
    return schema_permissions(resource_type) or {p for entry in reviewed(REVIEWED_HANDLERS, resource_type) for p in entry}


def gaps(types: set[str], doc: dict) -> dict[tuple[str, str], str]:
    """(type, permission) -> why the policy does not grant it, for every type in `types`."""
    out = {}
    for resource_type in sorted(types):
        for permission in sorted(handler_permissions(resource_type)):
            why = refusal(doc, resource_type, permission)
            if why is not None:
                out[(resource_type, permission)] = why
    return out


# ---------------------------------------------------------------- the reviewed list of permissions not needed

@dataclass(frozen=True)
class NotNeeded:
    permissions: tuple[str, ...]  # IAM actions, or patterns (kms:*)
    reason: str
    types: tuple[str, ...] = ()  # only for these types; empty: for every type

    def covers(self, resource_type: str, permission: str) -> bool:
        return (any(fnmatch.fnmatchcase(permission.lower(), p.lower()) for p in self.permissions)
                and (not self.types or resource_type in self.types))


def not_needed(path: Path = NOT_NEEDED) -> list[NotNeeded]:
    """The reviewed list (deploy/cloudformation-service-role-not-needed.yml), in file order."""
    import yaml
    return [NotNeeded(tuple(as_list(e["permission"])), str(e.get("reason") or "").strip(), tuple(e.get("types", ())))
            for e in yaml.safe_load(path.read_text())]


# ---------------------------------------------------------------- the types a deploy creates

SAM_TRANSFORM = """
import json, sys
from samtranslator.translator.transform import transform

class NoManagedPolicies:  # only a Serverless::Function naming a managed policy would need IAM's list
    def load(self):
        return {}

print(json.dumps([sorted({r["Type"] for r in transform(t, {}, NoManagedPolicies())["Resources"].values()})
                  for t in json.load(sys.stdin)]))
"""


# The SAM properties `sam deploy` (sam package) uploads from a local path and replaces with an S3 URI, which is
# all the translator accepts: the SAM types of blueprint/templates.py's table of uploaded paths (the plain
# CloudFormation ones the translator leaves alone).
PACKAGED = {kind: prop for kind, prop in UPLOADED_PATHS.items() if kind.startswith("AWS::Serverless::")}


def as_packaged(template: dict) -> dict:
    """`template` as `sam package` leaves it: each local path of a PACKAGED property an S3 URI."""
    out = json.loads(json.dumps(template))
    for resource in out.get("Resources", {}).values():
        prop = PACKAGED.get(resource.get("Type"))
        value = resource.get("Properties", {}).get(prop) if prop else None
        if isinstance(value, str) and not value.startswith("s3://"):
            resource["Properties"][prop] = f"s3://SAM_BUCKET/{value.strip('/')}.zip"
    return out


def transformed_types(templates: list[dict], python: Path | str = ROOT / ".venv-sam" / "bin" / "python") -> set[str]:
    """The resource types CloudFormation creates for SAM templates (AWS::Serverless::Application becomes
    AWS::CloudFormation::Stack), by the SAM translator itself (in .venv-sam, with the SAM CLI), on the
    templates as `sam package` leaves them (as_packaged)."""
    import os
    import subprocess
    templates = [as_packaged(t) for t in templates]
    result = subprocess.run([str(python), "-c", SAM_TRANSFORM], input=json.dumps(templates), capture_output=True,
                            text=True, timeout=120, check=False, env={**os.environ, "AWS_DEFAULT_REGION": SCHEMA_REGION})
    if result.returncode != 0:
        raise RuntimeError(f"the SAM translator failed: {result.stderr.strip().splitlines()[-1:]}")
    return {t for found in json.loads(result.stdout) for t in found}
