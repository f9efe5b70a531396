"""`make plan PARAMS="Ingress=LoadBalancer"`: what a parameter change would add, remove, update
or replace, per nested stack, before any change set exists (checks/plan.py does the work).

"Before" is the samconfig.toml environment's parameter set (ENV=), offline; with STACK= it is
that deployed stack's parameters, read with your credentials. "After" is before plus PARAMS.
The region (REGION=, AWS_REGION or samconfig's) picks the default AZs and the parent's Rules; offline
it falls back to us-east-1. The Rules are asked of both sides before anything renders (sides()).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from blueprint.templates import parent
from checks.cfnlint.project_rules import references
from checks.plan import Unrenderable, describe, plan, rule_refusals
from checks.render import PARENT, template
from scripts import cost, free_plan, origin_secret, zones
from scripts.common import (
    ENVIRONMENTS,
    check_parameters,
    describe_stack,
    load_samconfig,
    not_created,
    parse_overrides,
    stack_parameters,
    target,
)
from scripts.errors import UsageError
from scripts.upgrade import RENAMED, carried, carried_lines, dropped

DEFAULT_REGION = "us-east-1"


def samconfig_values(env: str) -> dict[str, str]:
    """samconfig.toml's parameter_overrides for ENV=: what every deploy of it sends in full."""
    return parse_overrides(load_samconfig(env).get("parameter_overrides", ""))


def parse_change(params: str) -> dict[str, str]:
    """PARAMS as the change to plan; empty, or not what parent.yml takes, is one line."""
    change = parse_overrides(params, "PARAMS")
    if not change:
        raise UsageError('nothing to plan: make plan previews a change of parameters, e.g. make plan PARAMS="Ingress='
                         'LoadBalancer"; a template edit (a new service block, say) shows in the change set make deploy '
                         'prints (ENV=prod asks before applying it)')
    check_parameters(change, "PARAMS")
    return change


def refused_by(failures: list[str]) -> str:
    """The first of checks.plan.rule_refusals' answers with its AssertDescription, the others by name."""
    more = [f.split(":", 1)[0] for f in failures[1:]]
    return failures[0] + (f" (also refused by {', '.join(more)})" if more else "")


def rule_inputs(failure: str) -> set[str]:
    """The parameters a refusal of rule_refusals reads: its Rule's (pseudo parameters aside), or for a value
    outside its bounds that parameter alone."""
    name = failure.split(":", 1)[0]
    rules = template(PARENT).get("Rules", {})
    if name in rules:
        return {r for r in references(rules[name]) if not r.startswith("AWS::")}
    stack = name.split(".", 1)[0]
    resources = template(PARENT).get("Resources", {})
    if "." in name and stack in resources:  # a nested stack's refusal: the parent's parameters its block passes
        return references(resources[stack].get("Properties", {}).get("Parameters", {})) & set(parent()["Parameters"])
    return {name}


def check_rules(values: dict, region: str, what: str, source: str = "", settled: set[str] | None = None) -> None:
    """parent.yml's Rules on a parameter set in a region, as CloudFormation checks them before it changes
    anything (checks/plan.py evaluates them offline): a refusal is one line with the Rule's AssertDescription.
    `make plan` asks it of the new values, `make cost` of the configuration it would price. `settled`: the
    parameters whose values are final; a refusal reading another one is left for later (make deploy, before
    credentials: an update keeps the deployed value of every parameter it does not send)."""
    failures = [f for f in rule_refusals(values, region) if settled is None or rule_inputs(f) <= settled]
    if failures:  # a value outside its parameter's constraints is the parameter's refusal, not a Rule's
        first = failures[0].split(":", 1)[0]
        who = "parent.yml refuses" if first in parent()["Parameters"] else \
            f"the {first.split('.', 1)[0]} stack's template refuses" if "." in first else "parent.yml's Rules refuse"
        raise UsageError(f"{who} {what} in {region}{f' (from {source})' if source else ''}: {refused_by(failures)}")
    if settled is None or "AvailabilityZoneIds" in settled:  # what only the subnets would refuse
        zones.check_zone_ids(values.get("AvailabilityZoneIds", ""), region)


@dataclass
class Sides:
    """The two parameter sets of a plan, once the parent's Rules have been asked of them."""

    source: str  # "stack X" or "samconfig.toml [default]"
    region: str
    before: dict[str, str]
    change: dict[str, str]
    unborn: list[str]  # why the parent's Rules refuse `before` here (samconfig's values: the plan of a first deploy)
    target: object = None  # the deployed stack's Target, with STACK=
    status: str = ""  # STACK= names a stack the next deploy creates (common.not_created): its status

    @property
    def values(self) -> str:
        return f"{self.source}'s deployed values" if self.target and not self.status else f"{self.source}'s values"


def sides(env: str, stack: str | None, region: str | None, params: str, session=None, region_source: str = "") -> Sides:
    """Before and after, and the parent's Rules on each first (CloudFormation's own first check): a side they
    refuse cannot be rendered for this region (a lookup with no entry), and the refusal is the one line worth
    saying. The new values refused, or a deployed stack's, is that line; samconfig's, a first deploy."""
    change = parse_change(params)
    t, status = None, ""
    config = load_samconfig(env)
    before = parse_overrides(config.get("parameter_overrides", ""))
    source = f"samconfig.toml [{ENVIRONMENTS[env]}]"
    if stack:
        t = target(env, stack, region, session)
        deployed, source, region = describe_stack(t), f"stack {stack}", t.region
        if not_created(deployed):  # nothing deployed: the deploy creates it from samconfig's values and PARAMS
            status = deployed["StackStatus"]
        else:
            # What make deploy sends on top of the deployed values: samconfig's parameter_overrides in full (a
            # value set once with PARAMS and not in samconfig would go back), then PARAMS.
            deployed_values = stack_parameters(deployed)
            change = {**{k: v for k, v in before.items() if deployed_values.get(k) != v}, **change}
            change = {**carried(deployed_values, change), **change}  # as make deploy carries them
            before = deployed_values
    else:
        region = region or config.get("region") or os.environ.get("AWS_REGION") or DEFAULT_REGION
    check_rules({**before, **change}, region, f"the new values ({source} with PARAMS)", region_source)
    cost.validate({**cost.template_defaults(), **before, **change})  # what `make cost` refuses: a block's Fargate size, ...
    found = Sides(source, region, before, change, rule_refusals(before, region), t, status)
    if found.unborn and t and not status:
        raise UsageError(f"parent.yml's Rules refuse {found.values} in {region} ({refused_by(found.unborn)}): this "
                         "parent.yml cannot render what the stack runs, so there is nothing to compare with (the update "
                         "is checked against the new values only, and they pass)")
    return found


def run(env: str, stack: str | None, region: str | None, params: str, session=None, out=print,
        checked: Sides | None = None) -> int:
    """`checked`: the sides `make plan` has already checked (before it said its region)."""
    s = checked or sides(env, stack, region, params, session)
    before, change, region, t = s.before, s.change, s.region, s.target
    after = {**before, **change}
    out(f"plan: {s.source} -> {' '.join(f'{k}={v}' for k, v in change.items())} ({region}, offline preview, "
        "not a change set)")
    if s.unborn:  # samconfig's values: no stack can run them here, so the change is a first deploy
        out(f"note: {s.values} cannot deploy in {region} (refused by {', '.join(f.split(':', 1)[0] for f in s.unborn)}),"
            " so no stack has them there: this is the plan of a first deploy of the new values (STACK= compares with "
            "a deployed stack)")
    if s.status:
        why = "its first change set never ran" if s.status == "REVIEW_IN_PROGRESS" else \
            "its first create failed and make deploy deletes it first"
        out(f"note: {s.source} is {s.status}, not created yet ({why}): the next deploy creates it, so this is the plan "
            "of a first deploy of samconfig's values with PARAMS")
    given = parse_change(params) if params else {}
    moved = {new: change[new] for old, new in RENAMED.items() if t and not s.status and new in change
             and new not in given and new not in before and change[new] == before.get(old)}
    for line in carried_lines(moved):  # what sides() carried, as make deploy says it
        out(line)
    first = bool(s.unborn or s.status)
    # A deployed parameter parent.yml no longer declares is not in the plan (it renders this parent): say
    # which of their values the update would lose, as `make deploy` refuses them (scripts/upgrade.py).
    # The values an update would send: the deployed ones, samconfig's (make deploy sends them all), PARAMS.
    declared = set(parent()["Parameters"])
    sent = {**{k: v for k, v in before.items() if k in declared},
            **samconfig_values(env), **change, "AWS::Region": region}
    lost = dropped(before, sent) if t and not s.status else []
    for line in lost:
        out(line)
    if t and not first:  # the trap: a value set once with PARAMS goes back to samconfig's at the next deploy
        given = parse_overrides(params) if params else {}
        back = {k: v for k, v in samconfig_values(env).items()
                if k not in given and before.get(k) != v}
        if back:
            out(f"note: make deploy also sends samconfig.toml [{ENVIRONMENTS[env]}]'s "
                f"{' '.join(f'{k}={v}' for k, v in back.items())} (the stack has "
                f"{' '.join(f'{k}={before.get(k, chr(34) * 2)}' for k in back)}): planned here too; to keep the "
                "deployed value, put it in samconfig.toml or PARAMS")
    try:
        result = plan(None if first else before, after, region, sides=(s.values, "the new values"))
    except Unrenderable as exc:
        raise UsageError(f"plan in {region}: {exc}") from None
    describe(result, out=out)
    # What a CloudFront flat-rate plan locks; nothing, when nothing can be deployed yet; a first create on it.
    doors = [] if s.unborn else [free_plan.starts_alone(None, after, region)] if s.status else \
        free_plan.refusals(before, after, region, t)
    doors = [line for line in doors if line]
    for line in doors:
        out(f"REFUSED: {line}")
    # A secret the deployed stack got before it had a Name: only its physical id tells (scripts/origin_secret.py).
    upgrade = origin_secret.problems(t, after.get("PermissionsBoundaryArn", "")) if t and not s.status else []
    for line in upgrade:
        out(f"WARNING: {line}")
    return 1 if result.refused or result.failures() or lost or doors or upgrade else 0
