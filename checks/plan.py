"""Update-path rehearsal: what a parameter change would add, remove, update in place or
replace, per nested stack, before any change set exists.

Both parameter sets are rendered the way CloudFormation will see them (checks/render.py),
the parent first, then each nested stack with the values the parent passes it (parent.yml's
`Parameters:` of each nested application). A nested stack's output only a deployment knows
is a token; when the resources behind it are replaced or its expression changes, the token
changes too, so a replacement in the VPC stack shows up as a change in the service stack.

Each resource present in both is compared property by property. An unresolved intrinsic
(`Ref`, `GetAtt`, a token) counts as changed when its text changes or when it refers to a
resource that is replaced. A change to a property in the type's `createOnlyProperties` (the
CloudFormation resource schemas cfn-lint ships, cfnlint/data/schemas/providers) replaces the
resource (so does one in `conditionalCreateOnlyProperties`, which "may" replace it: the plan errs on
the side of the data); any other change is an update in place
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html).

These hazards are reported:

* a data-bearing resource (DATA_BEARING) replaced, or removed without DeletionPolicy
  Retain/Snapshot: its data would be gone from the stack;
* a list property switched off by leaving it out (AWS::NoValue) where only an empty list
  clears it (CLEAR_WITH_EMPTY): CloudFormation leaves the live value as it was;
* a replacement that keeps a value only one resource may hold (CONFLICT_ON_REPLACE): the new
  resource is created before the old one is deleted, so the update fails;
* the same for a resource added in one place (a stack, a logical id) while one with the same unique
  name is removed from another (UNIQUE_NAME): removals happen in the update's cleanup phase, after
  every create, so the add fails (e.g. an API custom domain moved from one nested stack to another).
* a policy updated in place that names (by Ref, GetAtt or Sub, directly or through another nested
  stack's output) a resource the change replaces: the previous copy lives until the cleanup phase, but
  the policy grants only the new one, so tasks from the previous definition lose access during a
  rollback (ROLLBACK_ACCESS); and a policy that named such a resource BEFORE the change and now grants a
  pattern its previous copy's name does not match (or a generated name: a secret made before it was named).

    python -m checks.plan Ingress=LoadBalancer        # from the template defaults
"""
from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from checks.cfnlint.project_rules import references  # one reader of Ref, GetAtt and Sub
from checks.evaluate import NESTED, Evaluator, Opaque, nested_stacks
from checks.render import PARENT, Renderer, RenderError, nested_parameters, render_nested, template

SCHEMA_REGION = "us-east-1"

# Resources whose loss loses data the stack cannot recreate. Log groups count: their history is
# the record of what the service did (CloudWatch keeps it for LogRetentionDays). A resource of
# these types that belongs to an optional feature (it has a Condition) may be removed when the
# feature is switched off; plan still warns.
DATA_BEARING = {
    "AWS::DynamoDB::Table": "its items",
    "AWS::DynamoDB::GlobalTable": "its items",
    "AWS::S3::Bucket": "its objects",
    "AWS::Logs::LogGroup": "its log history",
    "AWS::RDS::DBInstance": "its database",
    "AWS::RDS::DBCluster": "its database",
    "AWS::EFS::FileSystem": "its files",
}

# Retained resources a stack can take back, and how: removing one from the stack (not by switching
# its feature off) leaves it in the account, and a new stack would create an empty one beside it.
ADOPTABLE = {"AWS::DynamoDB::Table": "pass its name as ExistingTableName to use it again (docs/services.md)"}

# List properties that an absent value (AWS::NoValue) does not clear: CloudFormation keeps the
# live value, so a switch must pass [] instead. The documentation of each says so, as does its
# resource schema's description ("To remove this property ... specify an empty array"); a test
# checks this table covers every array property whose schema says so.
CLEAR_WITH_EMPTY = {
    ("AWS::ECS::Service", "LoadBalancers"):
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html"
        " (and UpdateService: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html)",
    ("AWS::ECS::Service", "ServiceRegistries"):
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html"
        " (https://github.com/aws/containers-roadmap/issues/1746)",
    ("AWS::ECS::Service", "CapacityProviderStrategy"):
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html",
    ("AWS::ECS::Service", "PlacementConstraints"):
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html",
    ("AWS::ECS::Service", "PlacementStrategies"):
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html",
    ("AWS::ECS::Service", "VolumeConfigurations"):
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html",
}


# Properties that must be unique while both copies exist: CloudFormation creates the replacement
# before it deletes the old resource, so a replacement that keeps this value fails
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html;
# "The CIDR ... conflicts with another subnet": https://github.com/aws/aws-cdk/issues/6683).
CONFLICT_ON_REPLACE = {
    ("AWS::EC2::Subnet", "CidrBlock"): "two subnets of a VPC cannot share a CIDR block: keep the AZs the stack was "
                                       "created with, or deploy a second stack in the new ones (docs/deploy.md)",
    ("AWS::EC2::NatGateway", "AllocationId"): "an Elastic IP address serves one NAT gateway at a time",
}


# Names only one resource may hold at a time, by the properties that make up the name. An update
# creates every added resource before it deletes any removed one (removals are the cleanup phase:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacks.html#stack-resource-update-cleanup),
# so adding one in one stack while the old one leaves another fails the update.
UNIQUE_NAME = {
    "AWS::ApiGatewayV2::DomainName": (("DomainName",), "API Gateway refuses a custom domain name that exists"),
    "AWS::ApiGateway::DomainName": (("DomainName",), "API Gateway refuses a custom domain name that exists"),
    "AWS::Route53::RecordSet": (("HostedZoneId", "HostedZoneName", "Name", "Type", "SetIdentifier"),
                                "Route 53: the record already exists"),
    "AWS::ServiceDiscovery::PrivateDnsNamespace": (("Name", "Vpc"), "a namespace name is unique per VPC"),
    "AWS::ServiceDiscovery::HttpNamespace": (("Name",), "a namespace name is unique per account and region"),
}


# Data stores whose add or retained removal moves the app onto other data: worth a line in the plan
# (e.g. setting or clearing ExistingTableName). Log groups are left out: a new one is harmless.
STARTS_EMPTY = {"AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable", "AWS::S3::Bucket"}


# A rollback runs in reverse: the services (the later stacks) roll back first, and a task of their previous
# task definition starts with the policies as the update left them. A policy that names a resource by Ref,
# GetAtt or Sub follows it to the copy a replacement creates, while the previous copy lives until the
# update's cleanup phase: those tasks lose access to it. An execution role that can no longer read the old
# secret stops them starting, the circuit breaker reverts and the stack ends UPDATE_ROLLBACK_FAILED
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html). Granting what
# every copy matches (a name prefix, as cluster.yml does for the origin secret) keeps the rollback possible.
ROLLBACK_ACCESS = "tasks from the previous definition lose access during a rollback"
CHANGED_OUTPUT = re.compile(r"<([A-Za-z0-9]+\.Outputs\.[A-Za-z0-9]+) \(new\)>")  # _token's mark
OUTPUT_TOKEN = re.compile(r"<([A-Za-z0-9]+\.Outputs\.[A-Za-z0-9]+)(?: \(new\))?>")  # either side's token


@dataclass
class Change:
    stack: str
    resource: str
    type: str
    action: str                  # add | remove | update | replace
    properties: list[str] = field(default_factory=list)
    hazard: str = ""             # why this change loses data or leaves a live value behind


WOULD_FAIL = "would FAIL"  # how a hazard that fails the update begins


@dataclass
class Plan:
    refused: list[str]
    changes: list[Change]

    def hazards(self) -> list[Change]:
        return [c for c in self.changes if c.hazard]

    def failures(self) -> list[Change]:
        """The changes CloudFormation is predicted to fail (and roll back): `make plan` exits 1 for them,
        as for a refusal, so a CI gate stops there; the other hazards are warnings."""
        return [c for c in self.hazards() if c.hazard.startswith(WOULD_FAIL)]


@cache
def create_only(resource_type: str) -> tuple[tuple[str, ...], ...]:
    """The type's createOnlyProperties as paths below Properties, e.g. ("AvailabilityZoneId",), with its
    conditionalCreateOnlyProperties (those "may" replace, e.g. a table's KeySchema: counted as replacing)."""
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, resource_type).schema
    except Exception:  # SAM types and others without a provider schema: updated in place
        return ()
    paths = schema.get("createOnlyProperties", []) + schema.get("conditionalCreateOnlyProperties", [])
    return tuple(tuple(p.split("/")[2:]) for p in paths)


def _at(value, path: tuple[str, ...]):
    """The part of a property at a schema path ("*" walks a list)."""
    for i, key in enumerate(path):
        if key == "*" and isinstance(value, list):
            return [_at(v, path[i + 1:]) for v in value]
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def children(parent_file: str) -> dict[str, str]:
    """Logical id -> template file (relative to the repository) of each nested stack of a parent."""
    base = Path(parent_file).parent
    return {stack: str(base / location) for stack, location in nested_stacks(template(parent_file)).items()}


# --- rendering both sides ---------------------------------------------------------------
def _token(value: Opaque, changed: set[str]) -> str:
    """A value only a deployment knows, as text; marked (new) when it, or any it is made of (the parent's
    !Join of another stack's outputs, say), is an output that changes, so the stack that takes it changes too."""
    origin = value.origin.removeprefix("GetAtt ")
    new = any(o.removeprefix("GetAtt ") in changed for o in value.inputs or (value.origin,))
    return f"<{origin}{' (new)' if new else ''}>"


def render_stacks(values: dict, region: str, changed_outputs: set[str] | None = None,
                  parent_file: str = PARENT) -> tuple[list[str], dict[str, dict]]:
    """The parent's refusals and {stack: rendered template}; "parent" is the parent itself. A nested
    stack whose Condition is false renders empty, so switching it on adds all it holds."""
    refused, parent, stacks = rendered_stacks(values, region, set() if changed_outputs is None else changed_outputs,
                                              parent_file)
    return refused, {"parent": parent, **{stack: rendering for stack, _, rendering in stacks}}


def rendered_stacks(values: dict, region: str, changed_outputs: set[str], parent_file: str = PARENT):
    """The parent's refusals, its rendering, and (stack, template file, rendering) of each nested stack in
    order, rendered only when the caller reaches it: another stack's output is a token marked (new) once the
    caller has put it in `changed_outputs` (plan adds a stack's changed outputs before it takes the next)."""
    parent = Evaluator(template(parent_file), values, region, parent_file)
    locations = children(parent_file)

    def stacks():
        for stack, _, given in nested_parameters(parent):
            yield stack, locations[stack], {"Resources": {}, "Outputs": {}} if given is None else render_nested(
                locations[stack], given, lambda value: _token(value, changed_outputs), region, substitute=True)
    return parent.rule_failures(), Renderer(template(parent_file), values, region, substitute=True).render(), stacks()


# --- comparing -------------------------------------------------------------------------
def diff_stack(stack: str, before: dict, after: dict, source: dict) -> tuple[list[Change], set[str]]:
    """The changes in one stack, and the names of its outputs whose value changes."""
    old, new = before.get("Resources", {}), after.get("Resources", {})
    changes = [Change(stack, n, new[n]["Type"], "add") for n in new if n not in old]
    changes += [Change(stack, n, old[n]["Type"], "remove") for n in old if n not in new]
    common = [n for n in old if n in new]
    replaced: set[str] = {n for n in common if old[n]["Type"] != new[n]["Type"]}
    updated: dict[str, list[str]] = {}
    while True:  # a replacement changes every Ref/GetAtt to it: repeat until nothing new is replaced
        grew = False
        for name in common:
            if name in replaced:
                continue
            props_old, props_new = old[name].get("Properties", {}), new[name].get("Properties", {})
            changed = sorted(p for p in set(props_old) | set(props_new)
                             if props_old.get(p) != props_new.get(p) or references(props_new.get(p)) & replaced)
            updated[name] = changed
            for path in create_only(old[name]["Type"]):
                if path[0] in changed and (len(path) == 1 or _at(props_old, path) != _at(props_new, path)
                                           or references(_at(props_new, path)) & replaced):
                    replaced.add(name)
                    grew = True
                    break
        if not grew:
            break
    for name in common:
        if name in replaced:
            changes.append(Change(stack, name, new[name]["Type"], "replace", updated.get(name, ["Type"])))
        elif updated.get(name):
            changes.append(Change(stack, name, new[name]["Type"], "update", updated[name]))
    for change in changes:
        change.hazard = hazard(change, old.get(change.resource) or new.get(change.resource),
                               source["Resources"].get(change.resource, {}), new.get(change.resource),
                               replaced)
    moved = replaced | {c.resource for c in changes if c.action in ("add", "remove")}
    outputs_old, outputs_new = before.get("Outputs", {}), after.get("Outputs", {})
    changed_outputs = {o for o in set(outputs_old) | set(outputs_new)
                       if outputs_old.get(o) != outputs_new.get(o) or references(outputs_new.get(o)) & moved}
    return sorted(changes, key=lambda c: ("add remove replace update".split().index(c.action), c.resource)), \
        changed_outputs


def hazard(change: Change, resource: dict, source: dict, after: dict | None, replaced: set[str]) -> str:
    kind = DATA_BEARING.get(change.type)
    if change.action == "replace" and after is not None:
        for (kind_, prop), why in CONFLICT_ON_REPLACE.items():
            value = after.get("Properties", {}).get(prop)
            if kind_ == change.type and value == resource.get("Properties", {}).get(prop) \
                    and not references(value) & replaced:
                return f"{WOULD_FAIL} to be replaced: the new one is created first with the same {prop} ({why})"
    if kind and change.action == "replace":
        return f"would be REPLACED: a new, empty one takes its place and {kind} stay behind in the old one " \
               f"(or are deleted with it), changed: {', '.join(change.properties)}"
    if kind and change.action == "remove" and resource.get("DeletionPolicy") not in ("Retain", "Snapshot",
                                                                                      "RetainExceptOnCreate"):
        return f"would be DELETED with {kind}"
    if change.type in ADOPTABLE and change.action == "remove":
        return f"leaves the stack: it is RETAINED with {DATA_BEARING[change.type]}, no longer managed; " \
               f"{ADOPTABLE[change.type]}"
    if change.type in STARTS_EMPTY and change.action == "add":
        return f"is created EMPTY: {kind} from anything used before are not moved into it"
    if change.action == "update" and after is not None:
        cleared = [p for p in change.properties if (change.type, p) in CLEAR_WITH_EMPTY
                   and p not in after.get("Properties", {})]
        if cleared:
            return f"{', '.join(cleared)} left out: CloudFormation keeps the live value; switch it off with [] " \
                   f"({CLEAR_WITH_EMPTY[(change.type, cleared[0])]})"
    return ""


def _unique_name(resource: dict) -> tuple | None:
    """The values that make up the resource's unique name, or None while any is unresolved (an
    intrinsic such as ${AWS::StackId} differs between stacks; a parent output's token does not)."""
    props = resource.get("Properties", {})
    name = tuple(props.get(p) for p in UNIQUE_NAME[resource["Type"]][0])
    text = json.dumps(name, default=str)
    return None if '"Ref"' in text or '"Fn::' in text else name


def name_clashes(changes: list[Change], old: dict[str, dict], new: dict[str, dict]) -> None:
    """Flag each added resource whose unique name a removed one still holds (UNIQUE_NAME)."""
    removed = {}
    for c in changes:
        if c.action == "remove" and c.type in UNIQUE_NAME:
            key = _unique_name(old[c.stack]["Resources"][c.resource])
            if key is not None:
                removed[(c.type, key)] = c
    for c in changes:
        if c.action != "add" or c.type not in UNIQUE_NAME:
            continue
        holder = removed.get((c.type, _unique_name(new[c.stack]["Resources"][c.resource])))
        if holder is not None:
            props, why = UNIQUE_NAME[c.type]
            given = new[c.stack]["Resources"][c.resource].get("Properties", {})
            c.hazard = (f"{WOULD_FAIL}: created before the old one is deleted: {holder.stack}/{holder.resource} holds "
                        f"the same {'+'.join(p for p in props if p in given)} until the update's cleanup ({why}); "
                        "remove it in an update of its own first")


def policy_resources(node, name: str = "") -> Iterator[tuple[str, object]]:
    """(policy name, Resource) of each identity-policy statement in a resource's properties, whatever its
    type: an IAM role's, user's or group's Policies, an IAM Policy or ManagedPolicy, any inline PolicyDocument.
    A statement with a Principal belongs to a resource policy, which names the resource it is attached to and
    moves with it: left out."""
    if isinstance(node, dict):
        name = str(node.get("PolicyName") or node.get("ManagedPolicyName") or name)
        statements = node.get("Statement")
        if statements is not None:
            for statement in statements if isinstance(statements, list) else [statements]:
                if isinstance(statement, dict) and "Resource" in statement \
                        and not {"Principal", "NotPrincipal"} & set(statement):
                    yield name, statement["Resource"]
            return
        for value in node.values():
            yield from policy_resources(value, name)
    elif isinstance(node, list):
        for value in node:
            yield from policy_resources(value, name)


def replaced_behind(stack: str, rendering: dict, changes: list[Change], outputs: set[str],
                    behind: dict[str, str]) -> None:
    """Add to `behind` ("Stack.Outputs.Name" -> "Stack/Resource") each changed output of `stack` that names a
    resource the change replaces, itself or through an earlier stack's output."""
    replaced = {c.resource for c in changes if c.action == "replace"}
    for output in sorted(outputs):
        value = rendering.get("Outputs", {}).get(output, {}).get("Value")
        named = [f"{stack}/{r}" for r in sorted(references(value) & replaced)]
        named += [behind[t] for t in CHANGED_OUTPUT.findall(json.dumps(value, default=str)) if t in behind]
        if named:
            behind[f"{stack}.Outputs.{output}"] = named[0]


def rollback_access(stack: str, rendering: dict, changes: list[Change], behind: dict[str, str], cause: str,
                    old: dict[str, dict] | None = None) -> None:
    """Flag each policy updated in place whose Resource names a replaced resource (ROLLBACK_ACCESS). A policy
    replaced with it is not: the previous one stays with the previous role until the cleanup phase. With `old`
    (every stack's rendering before the change), also each policy that named a replaced resource BEFORE and no
    longer covers its previous copy: granted by a pattern now (a name prefix) that the previous copy's name does
    not match, or whose name is generated (unknown until deployed), e.g. a secret created before it was named."""
    replaced = {c.resource for c in changes if c.action == "replace"}
    for change in changes:
        if change.action != "update":
            continue
        found, dropped = [], []
        after = list(policy_resources(rendering["Resources"][change.resource].get("Properties", {})))
        for policy, resource in after:
            named = [f"{stack}/{r}" for r in sorted(references(resource) & replaced)]
            named += [behind[t] for t in CHANGED_OUTPUT.findall(json.dumps(resource, default=str)) if t in behind]
            found += [f"policy {policy or change.resource} names {target}, which {cause} replaces"
                      for target in dict.fromkeys(named)]
        before = (old or {}).get(stack, {}).get("Resources", {}).get(change.resource, {})
        for policy, resource in policy_resources(before.get("Properties", {})):
            named = [f"{stack}/{r}" for r in sorted(references(resource) & replaced)]
            named += [behind[t] for t in OUTPUT_TOKEN.findall(json.dumps(resource, default=str)) if t in behind]
            dropped += [f"policy {policy or change.resource} named {target} before, which {cause} replaces, and no "
                        "longer covers its previous copy" for target in dict.fromkeys(named)
                        if not any(target in f for f in found) and not _covers([r for _, r in after], old, target)]
        hazards = [*filter(None, [change.hazard])]
        if found:
            hazards.append("; ".join(dict.fromkeys(found)) + f": {ROLLBACK_ACCESS} (grant every copy by a name prefix instead)")
        if dropped:
            hazards.append("; ".join(dict.fromkeys(dropped)) + f": {ROLLBACK_ACCESS} (first deploy a policy that "
                           "grants the previous copy too, then this change)")
        change.hazard = "; ".join(hazards)


def _covers(resources: list, old: dict[str, dict] | None, target: str) -> bool:
    """Whether one of `resources` (a policy's, after the change) is a name pattern (`...:secret:PREFIX*`) that the
    previous copy of `target` ("Stack/Resource"), by its Name property before the change, matches. A copy without
    one has the name CloudFormation generated: the logical id, or the stack name and the logical id, then
    "-<random>" (a secret made before it was named: OriginVerifySecret-AbCdEf), so only a pattern that keeps
    that much covers it."""
    stack, resource = target.split("/", 1)
    properties = (old or {}).get(stack, {}).get("Resources", {}).get(resource, {}).get("Properties", {})
    names = [_text(v) for k, v in properties.items() if k.endswith("Name") and _text(v)] \
        or [f"{resource}-", f"${{AWS::StackName}}-{resource}-"]
    flat = [r for item in resources for r in (item if isinstance(item, list) else [item])]
    for pattern in filter(None, map(_text, flat)):
        if not pattern.endswith("*"):
            continue
        kept = re.sub(r"\$\{[^}]*\}", lambda m: m.group(0).replace(":", "\x01").replace("/", "\x02"), pattern[:-1])
        prefix = re.split(r"[:/]", kept)[-1].replace("\x01", ":").replace("\x02", "/")
        if any(name.startswith(prefix) for name in names):  # an empty prefix (`secret:*`): any name
            return True
    return False


def _text(value) -> str | None:
    """A literal, or the text of a !Sub: what a name or an ARN pattern reads as, placeholders kept."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return value["Fn::Sub"]
    return None


def _cause(before: dict, after: dict, edited: bool) -> str:
    """The change in words: the parameters it sets, and the template edit (`before_parent`)."""
    names = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    parts = [" ".join(f"{k}={after.get(k, '')}" for k in names)] if names else []
    return " and ".join(parts + (["the template edit"] if edited or not parts else []))


def rule_refusals(values: dict, region: str, parent_file: str = PARENT) -> list[str]:
    """Why CloudFormation would refuse parameter set `values` in `region` before changing anything, as
    "Rule: its AssertDescription" (or a value outside its parameter's bounds), with what `make deploy` passes
    itself filled in. A Rule without a RuleCondition (one no parameter satisfies, e.g. the region's) comes
    first: the one to fix before the others matter. `make plan` asks it of each side, `make cost` of its one."""
    parent = template(parent_file)
    failures = Evaluator(parent, values, region, parent_file).rule_failures()
    always = {name for name, rule in parent.get("Rules", {}).items() if "RuleCondition" not in rule}
    if not failures:  # a nested stack is created only with values its parent accepts
        failures = nested_refusals(values, region, parent_file)
    return sorted(failures, key=lambda failure: failure.split(":", 1)[0] not in always)


def nested_refusals(values: dict, region: str, parent_file: str = PARENT) -> list[str]:
    """Each nested stack's own refusals, with the values its block in the parent passes it: a value outside its
    parameter's AllowedValues or bounds, or one of its Rules (service.yml's hold what a block may set: a Fargate
    size, what a function cannot do). CloudFormation checks them when it creates or updates that nested stack,
    mid-deploy; here they come first, as "Stack.Rule: its AssertDescription". A value only a deployment knows
    (another stack's output) decides nothing. A stack whose values cannot be worked out offline is skipped."""
    parent = Evaluator(template(parent_file), values, region, parent_file)
    locations = children(parent_file)
    found, known = [], {}  # "GetAtt Stack.Outputs.Name" -> an earlier stack's output that needs no deployment
    for stack, _, given in nested_parameters(parent):
        if given is None:
            continue
        try:
            given = {name: known.get(value.origin, value) if isinstance(value, Opaque) else value
                     for name, value in given.items()}
            child = Evaluator(template(locations[stack]), given, region, locations[stack])
            found += [f"{stack}.{failure}" for failure in child.rule_failures()]
            for name, output in child.template.get("Outputs", {}).items():
                if "Condition" not in output or child.condition(output["Condition"]) is True:
                    value = child.ev(output["Value"], f"Outputs/{name}")
                    # Known offline: a plain value, not one made of the placeholder account or stack name
                    text = json.dumps(output["Value"])
                    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and not any(
                            pseudo in text for pseudo in ("AWS::AccountId", "AWS::StackName", "AWS::StackId")):
                        known[f"GetAtt {stack}.Outputs.{name}"] = str(value)
        except (RenderError, LookupError, TypeError, ValueError):
            continue  # this stack cannot be worked out offline; the others still can
    return found


class Unrenderable(Exception):
    """One side of a plan cannot be rendered (the message says which, and why, in one line)."""


@contextmanager
def rendering_of(side: str):
    """Render one side of a plan: a failure of the small evaluator (a lookup or index no deployment of these
    values could resolve either) becomes one line naming the side, not a traceback."""
    try:
        yield
    except (RenderError, LookupError, TypeError, ValueError) as exc:
        raise Unrenderable(f"{side} cannot be rendered: {type(exc).__name__}: {exc}") from exc


def plan(before: dict | None, after: dict, region: str = "us-east-1", parent: str = PARENT,
         before_parent: str | None = None, sides: tuple[str, str] = ("the before values", "the after values")) -> Plan:
    """Rehearse the update from parameter set `before` to `after` (parent parameter names) of the
    stack made from `parent` (parent.yml, or TWO_SERVICES). With `before_parent`, the stack was
    deployed from that other parent: an edit of the code in a block (a size, the origin secret's
    version, a new or removed service). A nested stack only it has is deleted, one only `parent` has
    is created, the others are compared resource by resource. `before` None: nothing is deployed, the
    plan of a first deploy. `sides` name the two in an Unrenderable's message."""
    before_parent = before_parent or parent
    cause = _cause(before or {}, after, before_parent != parent)
    empty = {"Resources": {}, "Outputs": {}}
    old = {"parent": empty}
    if before is not None:
        with rendering_of(sides[0]):
            _, old = render_stacks(before, region, parent_file=before_parent)
    changes: list[Change] = []
    changed_outputs: set[str] = set()
    behind: dict[str, str] = {}  # a changed output -> the replaced resource it names
    with rendering_of(sides[1]):
        refused, new_parent, stacks = rendered_stacks(after, region, changed_outputs, parent)
        new = {"parent": new_parent}
        for stack, location, rendering in stacks:  # in order: outputs flow forward
            new[stack] = rendering
            found, outputs = diff_stack(stack, old.get(stack, empty), rendering, template(location))
            rollback_access(stack, rendering, found, behind, cause, old)
            replaced_behind(stack, rendering, found, outputs, behind)
            changes += found
            changed_outputs |= {f"{stack}.Outputs.{o}" for o in outputs}
    for stack, location in children(before_parent).items():
        if stack not in new and stack in old:  # the whole nested stack is deleted
            changes += diff_stack(stack, old[stack], empty, template(location))[0]
    parent_changes, _ = diff_stack("parent", old["parent"], new["parent"], template(parent))
    changes += [c for c in parent_changes if c.type not in NESTED]
    name_clashes(changes, old, new)
    if before is None:  # a first deploy: nothing was used before, so nothing "starts empty"
        for c in changes:
            c.hazard = "" if c.type in STARTS_EMPTY and c.action == "add" else c.hazard
    return Plan(refused, changes)


def describe(result: Plan, out=print, parent: str = PARENT) -> None:
    """The plan as lines: one per change, grouped by nested stack, then one WARNING per hazard."""
    if result.refused:
        for reason in result.refused:
            out(f"REFUSED before any change: {reason}")
        return
    marks = {"add": "+", "remove": "-", "update": "~", "replace": "!"}
    stacks = {"parent": parent, **children(parent)}
    for stack, location in stacks.items():
        mine = [c for c in result.changes if c.stack == stack]
        if stack == "parent" and not mine:
            continue
        out(f"{stack} ({location}): {'no change' if not mine else f'{len(mine)} change(s)'}")
        for c in mine:
            detail = f" ({', '.join(c.properties)})" if c.properties else ""
            out(f"  {marks[c.action]} {c.action:<8} {c.resource:<30} {c.type}{detail}")
    for c in result.hazards():
        out(f"WARNING: {c.stack}/{c.resource} ({c.type}) {c.hazard}")


def main(argv: list[str]) -> int:
    """NAME=VALUE ... from the template defaults."""
    after = dict(a.split("=", 1) for a in argv)
    describe(plan({}, after))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
