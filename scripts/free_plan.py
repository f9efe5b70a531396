"""CloudFrontPlan=Free: the one-way doors of a flat-rate plan, refused before anything changes, and what a
delete leaves behind.

While a distribution is on a CloudFront flat-rate plan (the Free one here), CloudFront refuses to delete it
and to remove or replace its web ACL, and the subscription's distribution and web ACL cannot be taken out of
it (https://docs.aws.amazon.com/pricingplanmanager/latest/APIReference/API_DisassociateResourcesFromSubscription.html,
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HowToDeleteDistribution.html). Deleting the
`AWS::PricingPlanManager::Subscription` (CloudFrontPlan=PayAsYouGo, or a stack delete) does not end the plan:
it schedules the cancellation for the end of the billing period, and the plan, with those refusals, lasts
until then (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-pricingplanmanager-subscription.html).
A stack update that does one of them fails on the distribution and rolls back.

The check is general, not a list of parameter combinations: both parameter sets are rendered the way
CloudFormation sees them (checks/plan.py), and in each stack whose distribution is on a plan any removal or
replacement of the distribution, any change of the association LOCKED names (the distribution's web ACL,
whichever parameters move it), and any replacement or change of the subscription itself is a door. Whether
the deployed distribution is on a plan is asked of AWS (ListSubscriptions) when the change has a door, since
that outlives the stack's parameters both ways: a plan cancelled with CloudFrontPlan=PayAsYouGo runs to the
end of the month, and one cancelled with the API and ended lets the change through although the stack still
says Free. Without an answer (offline `make plan`, or no permission) the deployed parameters decide. Only
an ACTIVE or SYNC_IN_PROGRESS subscription locks (LOCKING).

Turning the plan on is a door of its own (starts_alone): a rollback after the subscription exists has to
undo the rest of the update on a subscribed distribution, so CloudFrontPlan=Free is refused on a first create
and together with any other parameter change, in any stack: PayAsYouGo first, then Free alone.
"""
from __future__ import annotations

import itertools
import shlex
from dataclasses import dataclass
from datetime import UTC, date, datetime

from blueprint.templates import parent
from checks.cfnlint.project_rules import dependencies, references
from checks.plan import children, diff_stack, render_stacks
from checks.render import PARENT, template
from scripts.common import Target, aws_errors, describe_stack, not_created, stack_parameters
from scripts.errors import AwsCallFailed, OneWayDoor
from scripts.stack_failures import stack_or_none

SUBSCRIPTION = "AWS::PricingPlanManager::Subscription"
# The association CloudFront locks while the resource is on a plan: the property path holding it.
LOCKED = {"AWS::CloudFront::Distribution": ("DistributionConfig", "WebACLId")}
# The subscription statuses that hold the distribution: ACTIVE, and SYNC_IN_PROGRESS (a change being applied
# to an active one). PENDING_APPROVAL (a paid tier not approved yet: a cancel deletes it at once) and FAILED
# (never provisioned) lock nothing. The API's Status enum: botocore/data/pricing-plan-manager/2025-08-05/
# service-2.json, shape Status = PENDING_APPROVAL | ACTIVE | SYNC_IN_PROGRESS | FAILED.
LOCKING = ("ACTIVE", "SYNC_IN_PROGRESS")
PLAN_REGION = "us-east-1"  # the PricingPlanManager API's only endpoint (its user guide, "Getting started")
EMPTY = {"Resources": {}, "Outputs": {}}


def billing_period_end(now: datetime) -> date:
    """When a cancelled plan ends: AWS bills by calendar month (UTC), so the first day of the next one."""
    return date(now.year + now.month // 12, now.month % 12 + 1, 1)


def renderings(values: dict, region: str) -> dict[str, dict]:
    """{stack: rendered template} for these parent parameter values (the ones parent.yml declares)."""
    declared = set(parent()["Parameters"])
    return render_stacks({k: v for k, v in values.items() if k in declared}, region)[1]


def _at(properties: dict, path: tuple[str, ...]):
    for key in path:
        properties = properties.get(key) if isinstance(properties, dict) else None
    return properties


def _web_acl(value) -> str:
    if value is None:
        return "none"
    named = references(value)
    return f"the stack's own {', '.join(sorted(named))}" if named else str(value)


def doors(before: dict, after: dict, region: str, subscribed: bool | None = None) -> list[str]:
    """What the update from parameter set `before` to `after` does that CloudFront refuses while the
    distribution is on a plan, one phrase each. `subscribed`: AWS's answer; None: a stack whose `before`
    rendering has a subscription is on a plan."""
    old, new = renderings(before, region), renderings(after, region)
    sources = {"parent": PARENT, **children(PARENT)}
    found = []
    for stack, rendering in old.items():
        resources = rendering.get("Resources", {})
        plans = [n for n, r in resources.items() if r["Type"] == SUBSCRIPTION]
        locked = [n for n, r in resources.items() if r["Type"] in LOCKED]
        if not locked or not (bool(plans) if subscribed is None else subscribed):
            continue
        later = new.get(stack, EMPTY)
        changes = {c.resource: c for c in diff_stack(stack, rendering, later, template(sources[stack]))[0]}
        gone = {n for n, c in changes.items() if c.action in ("remove", "replace")}
        for name in locked:
            if name in gone:
                found.append(f"{'deletes' if changes[name].action == 'remove' else 'replaces'} the distribution "
                             f"{stack}/{name}")
                continue
            path = LOCKED[resources[name]["Type"]]
            was = _at(resources[name].get("Properties", {}), path)
            now = _at(later["Resources"][name].get("Properties", {}), path)
            if was != now or references(now) & gone:
                found.append(f"{'removes' if now is None else 'replaces'} the web ACL of {stack}/{name} "
                             f"({_web_acl(was)} -> {_web_acl(now)}{' (new)' if references(now) & gone else ''})")
        for name in plans:
            change = changes.get(name)
            if change and change.action == "replace":
                found.append(f"replaces the subscription {stack}/{name}")
            elif change and change.action == "update":
                found.append(f"changes {', '.join(change.properties)} of the subscription {stack}/{name}")
    return found


def plans_in(rendered: dict[str, dict]) -> set[tuple[str, str]]:
    """(stack, logical id) of every subscription these renderings create."""
    return {(stack, name) for stack, rendering in rendered.items()
            for name, r in rendering.get("Resources", {}).items() if r["Type"] == SUBSCRIPTION}


def starts_alone(before: dict | None, after: dict, region: str) -> str:
    """"" when the update from `before` (None: a first create) to `after` starts no plan, or starts one with
    nothing else changing in its stack; else the refusal, one line. A plan's subscription is the last resource
    of its stack (frontend.yml orders it after every other), but a rollback of the same update still has to
    undo the rest of that stack, and CloudFront refuses to delete a subscribed distribution or to put its web
    ACL back ("You can't delete this distribution while it's subscribed to a pricing plan",
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HowToDeleteDistribution.html; the plan
    outlives the subscription's delete to the end of the billing period,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-pricingplanmanager-subscription.html):
    a failed first create ends ROLLBACK_FAILED, a failed update UPDATE_ROLLBACK_FAILED, until the month ends.
    A change in another stack is refused too: BudgetStack runs beside FrontendStack, and its failure after
    the subscription exists rolls back the frontend stack's whole update, the web ACL the Free plan brings to
    the distribution included (in us-east-1 the plan is what makes the stack create its own), on a subscribed
    distribution. So no other parameter may change in the same deploy."""
    new = renderings(after, region)
    started = plans_in(new) - (plans_in(renderings(before, region)) if before is not None else set())
    if not started:
        return ""
    plan = after.get("CloudFrontPlan")
    if before is None:
        return (f"a first create with CloudFrontPlan={plan} starts the plan "
                f"({', '.join(f'{s}/{n}' for s, n in sorted(started))}); if anything fails the rollback cannot "
                f"delete the subscribed distribution and the stack stays ROLLBACK_FAILED until the month ends: "
                f"deploy with CloudFrontPlan=PayAsYouGo first, then run the same deploy with CloudFrontPlan={plan}")
    declared = parent()["Parameters"]
    default = {k: str(p.get("Default", "")) for k, p in declared.items()}
    besides = sorted(k for k in after if k in declared and k != "CloudFrontPlan"
                     and after[k] != before.get(k, default[k]))
    how = _two_steps({k: after[k] for k in besides}, plan)
    alone = renderings({**before, "CloudFrontPlan": plan}, region)
    sources = {"parent": PARENT, **children(PARENT)}
    for stack in sorted({s for s, _ in started}):
        others = [c for c in diff_stack(stack, alone.get(stack, EMPTY), new[stack], template(sources[stack]))[0]
                  if (stack, c.resource) not in started]
        if others or not plans_in({stack: alone.get(stack, EMPTY)}):
            moved = ", ".join(sorted(c.resource for c in others)) or "its web ACL"
            return (f"this change starts the Free plan in {stack} together with other changes there ({moved}): "
                    f"if one fails the rollback cannot undo it on the subscribed distribution (UPDATE_ROLLBACK_FAILED "
                    f"until the month ends): {how}")
    if besides:
        return (f"this change starts the Free plan together with {', '.join(besides)}: if any stack's update fails "
                f"after the subscription exists (BudgetStack runs beside FrontendStack), the rollback cannot undo the "
                f"frontend stack's changes on the subscribed distribution (UPDATE_ROLLBACK_FAILED until the month ends): {how}")
    return ""


def _two_steps(others: dict[str, str], plan: str) -> str:
    """The two deploys that reach the same values with the plan turned on alone: the other changes first, then
    the same values and the plan (repeating them changes nothing, and keeps them whatever samconfig.toml says)."""
    if not others:
        return f'deploy the other changes first, then make deploy PARAMS="CloudFrontPlan={plan}" alone'
    given = " ".join(f"{k}={shlex.quote(v)}" for k, v in others.items())
    # In a shell's double quotes \ " ` $ are special, and make expands a $ once more: written so that PARAMS
    # reaches the command as given.
    given = given.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$\\$")
    return (f'first make deploy PARAMS="{given}", then make deploy PARAMS="{given} CloudFrontPlan={plan}" '
            "(with the same ENV=, STACK= and REGION=)")


def cancels(before: dict, after: dict, region: str) -> bool:
    """Whether the update deletes a subscription (schedules its cancellation)."""
    old, new = renderings(before, region), renderings(after, region)
    return any(r["Type"] == SUBSCRIPTION and name not in new.get(stack, EMPTY)["Resources"]
               for stack, rendering in old.items() for name, r in rendering.get("Resources", {}).items())


def first_step(before: dict, change: dict, region: str) -> dict | None:
    """The largest part of `change` that cancels the plan and opens no door, when there is one: deploy it
    first, the rest once the plan has ended."""
    keys = list(change)
    for size in range(len(keys) - 1, 0, -1):
        for part in itertools.combinations(keys, size):
            step = {k: change[k] for k in part}
            after = {**before, **step}
            if cancels(before, after, region) and not doors(before, after, region, subscribed=True):
                return step
    return None


@dataclass
class Live:
    """AWS's answer: the subscription the deployed distribution is in, or none (arn "")."""

    arn: str = ""
    ends: date | None = None  # the scheduled cancellation's date, when one is scheduled


def live_subscription(t: Target, stack: dict) -> Live | None:
    """The plan the stack's distribution is on (ListSubscriptions, us-east-1); None when that cannot be
    known: no DistributionId output, or the call refused (e.g. a role without pricingplanmanager:List*)."""
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if not outputs.get("DistributionId"):
        return None
    _, partition, _, _, account, _ = stack["StackId"].split(":", 5)
    distribution = f"arn:{partition}:cloudfront::{account}:distribution/{outputs['DistributionId']}"
    plan_manager = t.client("pricing-plan-manager", region=PLAN_REGION)
    try:
        with aws_errors():
            for page in plan_manager.get_paginator("list_subscriptions").paginate():
                for found in page.get("subscriptionSummaries", []):
                    if distribution in found.get("resourceArns", []) and found.get("status") in LOCKING:
                        change = found.get("scheduledChange") or {}
                        ends = change.get("effectiveDate") if change.get("changeType") == "CANCELLATION" else None
                        return Live(found["arn"], ends.date() if ends else None)
    except AwsCallFailed:
        return None
    return Live()


def refusal(found: list[str], before: dict, change: dict, region: str, live: Live | None, now: datetime) -> str:
    """One message: what the change does, why it would fail, and the two steps that get there."""
    ends = (live.ends if live and live.ends else None) or billing_period_end(now)
    said = "; ".join(found)
    head = (f"this change {said}: CloudFront refuses that while the distribution is on a flat-rate plan "
            f"(CloudFrontPlan=Free), cancelled or not, until the plan ends with its billing period ({ends:%Y-%m-%d} "
            "UTC at the earliest), so the update would fail and roll back.")
    if live and live.ends:
        return f"{head} The plan is already cancelled: make this change on or after {ends:%Y-%m-%d}."
    step = first_step(before, change, region)
    if step:
        rest = {k: v for k, v in change.items() if k not in step}
        return (f"{head} In two steps: first deploy only {_params(step)} (it cancels the plan and keeps the web "
                f"ACL), then on or after {ends:%Y-%m-%d} deploy {_params(rest)}.")
    arn = live.arn if live and live.arn else "<the FrontendStack's PricingPlan resource>"
    return (f"{head} In two steps: first cancel the plan and change nothing else (`aws pricing-plan-manager "
            f"cancel-subscription --region {PLAN_REGION} --arn {arn} --if-match <the eTag get-subscription "
            f"gives>`; or keep CloudFrontPlan=Free, it costs $0), then on or after {ends:%Y-%m-%d}, once the plan "
            "has ended, make this change.")


def _params(values: dict) -> str:
    return 'PARAMS="' + " ".join(f"{k}={v}" for k, v in values.items()) + '"'


def refusals(before: dict, after: dict, region: str, t: Target | None = None, stack: dict | None = None,
             now=lambda: datetime.now(UTC)) -> list[str]:
    """[the one message] when the update from the deployed (or samconfig's) `before` to `after` opens a door,
    else []. With the deployed stack `t` (its description `stack`, read when not given), AWS says whether the
    distribution is on a plan."""
    change = {k: v for k, v in after.items() if before.get(k) != v}
    starting = starts_alone(before, after, region) if change else ""
    if starting:
        return [starting]
    if not change or not doors(before, after, region, subscribed=True):
        return []  # nothing locked moves: no need to ask AWS
    if t is not None and stack is None:
        stack = describe_stack(t)
    live = live_subscription(t, stack) if t is not None else None
    found = doors(before, after, region, subscribed=None if live is None else bool(live.arn))
    return [refusal(found, before, change, region, live, now())] if found else []


def check(t: Target, params: dict) -> str:
    """Preflight (so `make deploy`): the deployed stack's parameters against the ones this deploy sends."""
    stack = stack_or_none(t.client("cloudformation"), t.stack_name)
    declared = set(parent()["Parameters"])
    if not_created(stack):  # the deploy creates the stack
        first = starts_alone(None, {k: v for k, v in params.items() if k in declared}, t.region)
        if first:
            raise OneWayDoor(first)
        return "no deployed stack to compare with"
    before = {k: v for k, v in stack_parameters(stack).items() if k in declared}
    after = {**before, **{k: v for k, v in params.items() if k in declared}}
    found = refusals(before, after, t.region, t, stack)
    if found:
        raise OneWayDoor(found[0])
    return f"CloudFrontPlan={after.get('CloudFrontPlan', 'PayAsYouGo')}: nothing CloudFront locks on a plan changes"


# ---------------------------------------------------------------- what a delete leaves behind
# What each kept resource type costs a month (prices.toml keys, times), said plainly by make destroy.
BILLS = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("the load balancer", (("alb_hour", 730), ("public_ipv4_hour", 1460))),
    "AWS::EC2::NatGateway": ("a NAT gateway", (("nat_hour", 730), ("public_ipv4_hour", 730))),
    "AWS::SecretsManager::Secret": ("the origin secret", (("secretsmanager_secret_month", 1),)),
    "AWS::WAFv2::WebACL": ("the web ACL, once the plan has ended", (("waf_web_acl_month", 1), ("waf_rule_month", 1))),
}


def kept(rendered: dict[str, dict]) -> dict[str, list[str]]:
    """{stack: its resources} a delete cannot remove while the distribution stays: the distribution and what
    it depends on in its stack, and that stack and every stack it depends on in the parent (CloudFormation
    deletes a resource only after everything that depends on it: "Resource A is deleted before resource B",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html)."""
    left: dict[str, list[str]] = {}
    for stack, rendering in rendered.items():
        resources = rendering.get("Resources", {})
        for name, resource in resources.items():
            if resource["Type"] in LOCKED:
                left[stack] = sorted({name} | dependencies(resources, name))
                for other in sorted(dependencies(rendered["parent"]["Resources"], stack)):
                    left[other] = sorted(rendered.get(other, EMPTY)["Resources"])
    return left


def billing_notice(values: dict, region: str, ends: date) -> str:
    """Which resources keep billing between this delete and the one on or after `ends`, with the deployed
    parameter values."""
    from scripts.cost import load_prices
    prices = load_prices(region)[0]
    rendered = renderings(values, region)
    left = kept(rendered)
    bills = []
    for stack, names in left.items():
        for name in names:
            kind = rendered[stack]["Resources"][name]["Type"]
            if kind in BILLS:
                what, terms = BILLS[kind]
                bills.append(f"{what} ({stack}/{name}, ${sum(prices[k] * n for k, n in terms):.2f}/month)")
    return (f"until {ends:%Y-%m-%d} the delete cannot remove {', '.join(left)}: their services are scaled to zero "
            f"(no tasks, $0), the distribution is on the Free plan ($0) and the bucket is empty; what keeps "
            f"billing: {'; '.join(bills) if bills else 'nothing with a monthly price'}, and the logs they keep "
            "($0.03/GB-month)")
