"""`make plan PARAMS="Ingress=LoadBalancer"`: what a parameter change would add, remove, update
or replace, per nested stack, before any change set exists (checks/plan.py does the work).

"Before" is the samconfig.toml environment's parameter set (ENV=), offline; with STACK= it is
that deployed stack's parameters, read with your credentials. "After" is before plus PARAMS.
The region (REGION=, AWS_REGION or samconfig's) only picks the default AZs; offline it falls
back to us-east-1.
"""
from __future__ import annotations

import os

from blueprint.templates import parent
from checks.plan import describe, plan
from scripts import cost, free_plan
from scripts.common import ENVIRONMENTS, check_parameters, describe_stack, load_samconfig, parse_overrides, stack_parameters, target
from scripts.errors import UsageError
from scripts.upgrade import dropped

DEFAULT_REGION = "us-east-1"


def deployed_parameters(t) -> dict[str, str]:
    return stack_parameters(describe_stack(t))


def parse_change(params: str) -> dict[str, str]:
    """PARAMS as the change to plan; empty, or not what parent.yml takes, is one line."""
    change = parse_overrides(params, "PARAMS")
    if not change:
        raise UsageError('nothing to plan: give the change, e.g. make plan PARAMS="Ingress=LoadBalancer"')
    check_parameters(change, "PARAMS")
    return change


def run(env: str, stack: str | None, region: str | None, params: str, session=None, out=print) -> int:
    change = parse_change(params)
    config = load_samconfig(env)
    t = None
    if stack:
        t = target(env, stack, region, session)
        before, source, region = deployed_parameters(t), f"stack {stack}", t.region
    else:
        before = parse_overrides(config.get("parameter_overrides", ""))
        source = f"samconfig.toml [{ENVIRONMENTS[env]}]"
        region = region or config.get("region") or os.environ.get("AWS_REGION") or DEFAULT_REGION
    after = {**before, **change}
    cost.validate({**cost.template_defaults(), **after})  # what `make cost` refuses: a block's Fargate size, ...
    out(f"plan: {source} -> {' '.join(f'{k}={v}' for k, v in change.items())} ({region}, offline preview, "
        "not a change set)")
    # A deployed parameter parent.yml no longer declares is not in the plan (it renders this parent): say
    # which of their values the update would lose, as `make deploy` refuses them (scripts/upgrade.py).
    # The values an update would send: the deployed ones, samconfig's (make deploy sends them all), PARAMS.
    declared = set(parent()["Parameters"])
    sent = {**{k: v for k, v in before.items() if k in declared},
            **parse_overrides(config.get("parameter_overrides", "")), **change, "AWS::Region": region}
    lost = dropped(before, sent) if stack else []
    for line in lost:
        out(line)
    result = plan(before, after, region)
    describe(result, out=out)
    doors = free_plan.refusals(before, after, region, t)  # what a CloudFront flat-rate plan locks
    for line in doors:
        out(f"REFUSED: {line}")
    return 1 if result.refused or result.failures() or lost or doors else 0
