"""`make destroy`: remove the deployment.

Deletes the stack and waits until it is gone. The stack removes what it made: its image repositories
with their images (EmptyOnDelete), the site's files (the site custom resource empties the bucket, every
version, before CloudFormation deletes it), the build project and the log groups. The notes table is
retained by the template; it is deleted only when asked (DELETE_TABLE=1), after it leaves UPDATING
(DynamoDB refuses to delete a table that is not ACTIVE) and with deletion protection turned off. A kept
table can be adopted by the next deploy: `make deploy PARAMS="ExistingTableName=<table>"` (or in
samconfig.toml).
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteTable.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecr-repository.html (EmptyOnDelete)

A stack deployed with CloudFrontPlan=Free cannot be deleted at once: deleting the plan's subscription
only schedules its cancellation for the end of the billing period, and CloudFront refuses to delete a
distribution that is still subscribed
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-pricingplanmanager-subscription.html,
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HowToDeleteDistribution.html: "You
can't delete this distribution while it's subscribed to a pricing plan"). CloudFormation deletes a resource
only after everything that depends on it, so the distribution's DELETE_FAILED keeps the frontend stack and
every stack it depends on (services, ingress, network) until then. Whether the distribution is still on a
plan, and until when, is asked of AWS (scripts/free_plan.py's live_subscription: a plan cancelled earlier
locks though the stack says PayAsYouGo, an ended one no longer does though it says Free); without an answer
the deployed CloudFrontPlan decides. The command says so before it asks, with what keeps billing meanwhile,
scales every service to zero first (scripts/scale.py's stop) and suspends its scheduled and dynamic scaling,
so that no StartSchedule or alarm brings tasks back while the stacks wait
(https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-suspend-resume-scaling.html),
and explains the DELETE_FAILED it ends with. CloudFront deletes only a disabled distribution ("Before you can
delete a distribution, you must disable it", HowToDeleteDistribution.html), so expect the site to stop
serving at the first run, not the second.
"""
from __future__ import annotations

import time
from datetime import UTC, date, datetime

from scripts import outputs as stack_outputs
from scripts import scale
from scripts.common import ENVIRONMENTS, Target, aws_errors, log, stack_parameters, wait
from scripts.errors import NotConfirmed, WaitFailed
from scripts.free_plan import billing_notice, billing_period_end, live_subscription

# Application Auto Scaling's three switches: scheduled actions (StartSchedule/StopSchedule) and the
# target-tracking policy's scale-out and scale-in all stop acting on the target.
SUSPENDED = {"DynamicScalingInSuspended": True, "DynamicScalingOutSuspended": True, "ScheduledScalingSuspended": True}


def confirm(t: Target, yes: bool, ask=input) -> None:
    if yes:
        return
    try:
        answer = ask(f"Delete stack {t.stack_name} in {t.region}, its site and its images? Type the stack name: ")
    except EOFError:
        raise NotConfirmed("no terminal to confirm on: run with YES=1 to delete without asking") from None
    if answer.strip() != t.stack_name:
        raise NotConfirmed("not confirmed; nothing was deleted")


def deployed_stack(cfn, stack: str) -> dict:
    with aws_errors():
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]


def plan_ends(t: Target, stack: dict, now: datetime) -> date | None:
    """When the distribution's flat-rate plan ends, if it is still on one (None: the delete can finish)."""
    live = live_subscription(t, stack)
    if live is None:  # AWS cannot say (no permission): the deployed parameters decide
        return billing_period_end(now) if stack_parameters(stack).get("CloudFrontPlan") == "Free" else None
    return (live.ends or billing_period_end(now)) if live.arn else None


def free_plan_notice(t: Target, end: date) -> str:
    return (f"{t.stack_name}'s distribution is on CloudFront's Free plan: deleting the stack cancels the plan only "
            f"at the end of the billing period ({end:%Y-%m-%d} UTC), and CloudFront keeps the distribution until "
            f"then, so this delete stops at DELETE_FAILED with the frontend and every stack it depends on left in "
            f"place; CloudFront disables a distribution before it deletes it, so the site stops serving now; every "
            f"service is scaled to zero first, its scheduled and dynamic scaling suspended; run make destroy again "
            f"on or after {end:%Y-%m-%d} to finish")


def hold_at_zero(t: Target, outputs) -> None:
    """Suspend every Fargate service's scaling at 0 tasks: StartSchedule would otherwise restore MinTasks each
    day (a Lambda service has no scaling: stop's reserved concurrency 0 holds it)."""
    on_fargate = [s for s in outputs.services.values() if not s.on_lambda]
    aas = t.client("application-autoscaling") if on_fargate else None
    with aws_errors():
        for svc in on_fargate:
            aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=svc.scalable_target,
                                         ScalableDimension=scale.DIMENSION, MinCapacity=0, MaxCapacity=0,
                                         SuspendedState=SUSPENDED)


def remove_table(dynamodb, table: str, timeout: float = 600, delay: float = 10, sleep=time.sleep) -> None:
    """Delete a table that may be UPDATING (e.g. just after the stack released it): wait until ACTIVE
    (the table_exists waiter's rule), turn deletion protection off, wait again, delete, wait until gone."""
    def state():
        with aws_errors():
            return dynamodb.describe_table(TableName=table)["Table"]["TableStatus"]

    def until_active():
        wait("table_exists", dynamodb, what=f"table {table}", describe=state, timeout=timeout, delay=delay,
             sleep=sleep, TableName=table)
    until_active()
    with aws_errors():
        protected = dynamodb.describe_table(TableName=table)["Table"].get("DeletionProtectionEnabled")
        if protected:  # tables made by earlier versions of service.yml had it on
            dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)
    if protected:
        until_active()
    with aws_errors():
        dynamodb.delete_table(TableName=table)
    wait("table_not_exists", dynamodb, what=f"deleting table {table}", describe=state, timeout=timeout,
         delay=delay, sleep=sleep, TableName=table)


def destroy(t: Target, yes: bool = False, delete_table: bool = False, ask=input,
            timeout: float = 3600, delay: float = 15, now=lambda: datetime.now(UTC)) -> dict:
    outputs = stack_outputs.read(t)  # fails with one line when the stack does not exist
    cfn = t.client("cloudformation")
    stack = deployed_stack(cfn, t.stack_name)
    end = plan_ends(t, stack, now())
    if end:
        log(free_plan_notice(t, end))
        log(billing_notice(stack_parameters(stack), t.region, end))
    confirm(t, yes, ask)
    if end:  # the services stay until the distribution can go: no tasks meanwhile
        scale.stop(t, delay=delay, outputs=outputs)
        hold_at_zero(t, outputs)
    with aws_errors():
        cfn.delete_stack(StackName=t.stack_name)

    def state():
        with aws_errors():
            stacks = cfn.describe_stacks(StackName=t.stack_name)["Stacks"]
        return stacks[0]["StackStatus"]

    try:
        wait("stack_delete_complete", cfn, what=f"deleting stack {t.stack_name}", describe=state, timeout=timeout,
             delay=delay, StackName=t.stack_name)
    except WaitFailed as exc:
        if not end:
            raise
        raise WaitFailed(f"{exc}. Expected with the Free plan: the distribution stays subscribed until "
                         f"{end:%Y-%m-%d} UTC and CloudFront refuses to delete it before; what does not depend on it "
                         f"is gone. Run make destroy again on or after {end:%Y-%m-%d}") from None
    log(f"deleted stack {t.stack_name}, with its site, image repositories and log groups")
    table = outputs.table_name
    if table and delete_table:
        remove_table(t.client("dynamodb"), table, delay=delay)
        log(f"deleted table {table}")
    elif table:
        log(f"kept table {table} (retained with its data; DELETE_TABLE=1 removes it)")
        log(f"to use it again: make deploy PARAMS=\"ExistingTableName={table}\" (or add ExistingTableName=\"{table}\" "
            f"to parameter_overrides in samconfig.toml [{ENVIRONMENTS[t.env]}])")
    return {"table_deleted": bool(table and delete_table)}
