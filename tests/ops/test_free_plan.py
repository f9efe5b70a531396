"""CloudFrontPlan=Free's one-way doors (scripts/free_plan.py): `make plan`, `make preflight` and so `make
deploy` refuse, before anything changes, an update CloudFront would refuse while the distribution is on a
flat-rate plan, and `make destroy` stops the services and says what keeps billing.

Only AWS can prove the refusals themselves; these tests pin the transitions and cite the documentation:
a subscribed distribution's web ACL cannot be removed or replaced, and the distribution cannot be deleted,
until the plan ends with its billing period, even once cancelled
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-pricingplanmanager-subscription.html,
https://docs.aws.amazon.com/pricingplanmanager/latest/APIReference/API_DisassociateResourcesFromSubscription.html,
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HowToDeleteDistribution.html).
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from checks.cfnlint.project_rules import dependencies
from checks.render import render_file
from scripts import deploy, destroy, free_plan, preflight
from scripts import plan as plan_command
from scripts.common import parse_overrides
from scripts.errors import OneWayDoor, PreflightFailed
from tests.ops.conftest import REGION, STACK, create_deployment, create_stack, make_target, stubbed, use_clients
from tests.ops.fake_tools import FakeTools

DEC_7 = datetime(2026, 12, 7, 12, tzinfo=UTC)
ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/mine/1"
OTHER_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/other/2"
FREE = {"CloudFrontPlan": "Free"}


def refused(before: dict, change: dict, region: str = "us-east-1") -> str:
    found = free_plan.refusals(before, {**before, **change}, region, now=lambda: DEC_7)
    return found[0] if found else ""


# ---------------------------------------------------------------- the transitions, offline
@pytest.mark.parametrize("before, change, region, says", [
    # us-east-1, dev: the Free plan is what makes the stack create its web ACL; PayAsYouGo drops it
    (FREE, {"CloudFrontPlan": "PayAsYouGo"}, "us-east-1", "removes the web ACL of FrontendStack/Distribution"),
    # the stack's own web ACL swapped for WebAclArn, plan kept
    (FREE, {"WebAclArn": ACL}, "us-east-1", "replaces the web ACL of FrontendStack/Distribution"),
    # outside us-east-1 the plan runs on WebAclArn: another one, or none
    ({**FREE, "WebAclArn": ACL}, {"WebAclArn": OTHER_ACL}, "eu-west-1", f"({ACL} -> {OTHER_ACL})"),
    ({**FREE, "WebAclArn": ACL}, {"CloudFrontPlan": "PayAsYouGo", "WebAclArn": ""}, "eu-west-1", f"({ACL} -> none)"),
    # prod keeps a web ACL on PayAsYouGo, but not back on dev
    ({**FREE, "Profile": "prod"}, {"CloudFrontPlan": "PayAsYouGo", "Profile": "dev"}, "us-east-1",
     "removes the web ACL"),
])
def test_a_change_that_moves_a_subscribed_distributions_web_acl_is_refused(before, change, region, says):
    message = refused(before, change, region)
    assert says in message
    assert "until the plan ends with its billing period (2027-01-01 UTC at the earliest)" in message, message
    assert "the update would fail and roll back" in message


def test_the_subscription_cannot_lose_its_web_acl_either():
    """DisassociateResourcesFromSubscription: a CloudFront plan always has exactly one distribution and one
    web ACL, which cannot be removed from it."""
    assert "changes ResourceArns of the subscription FrontendStack/PricingPlan" in refused(FREE, {"WebAclArn": ACL})


@pytest.mark.parametrize("before, change, first, then", [
    ({**FREE, "WebAclArn": ACL}, {"CloudFrontPlan": "PayAsYouGo", "WebAclArn": ""}, "CloudFrontPlan=PayAsYouGo",
     "WebAclArn="),
    ({**FREE, "Profile": "prod"}, {"CloudFrontPlan": "PayAsYouGo", "Profile": "dev"}, "CloudFrontPlan=PayAsYouGo",
     "Profile=dev"),
])
def test_the_refusal_names_the_first_step_that_cancels_the_plan_and_keeps_the_web_acl(before, change, first, then):
    region = "eu-west-1" if "WebAclArn" in before else "us-east-1"
    message = refused(before, change, region)
    assert f'first deploy only PARAMS="{first}" (it cancels the plan and keeps the web ACL), then on or after ' \
           f'2027-01-01 deploy PARAMS="{then}"' in message


def test_without_a_first_step_the_refusal_says_how_to_cancel_the_plan_alone():
    """The PricingPlanManager API cancels a plan (CancelSubscription), which then runs to the end of its
    billing period: https://docs.aws.amazon.com/pricingplanmanager/latest/APIReference/API_CancelSubscription.html"""
    message = refused(FREE, {"CloudFrontPlan": "PayAsYouGo"})
    assert "first cancel the plan and change nothing else (`aws pricing-plan-manager cancel-subscription" in message
    assert "or keep CloudFrontPlan=Free, it costs $0), then on or after 2027-01-01" in message


@pytest.mark.parametrize("before, change, region", [
    (FREE, {"Ingress": "LoadBalancer", "NetworkMode": "PrivateSubnets"}, "us-east-1"),  # Free -> Free, other changes
    (FREE, {"Profile": "prod"}, "us-east-1"),
    ({**FREE, "Profile": "prod"}, {"Profile": "dev"}, "us-east-1"),        # the plan keeps the web ACL
    ({**FREE, "Profile": "prod"}, {"CloudFrontPlan": "PayAsYouGo"}, "us-east-1"),  # prod keeps it: cancels only
    ({**FREE, "WebAclArn": ACL}, {"CloudFrontPlan": "PayAsYouGo"}, "eu-west-1"),   # WebAclArn kept: cancels only
    ({}, {"Profile": "prod"}, "us-east-1"),                                # PayAsYouGo: a web ACL comes
    ({"Profile": "prod"}, {"Profile": "dev"}, "us-east-1"),                # and goes, no plan to mind
    ({}, FREE, "us-east-1"),                                               # subscribing, alone
    ({"AlertEmail": "me@example.com"}, FREE, "us-east-1"),               # beside a budget that stays as it is
    ({"WebAclArn": ACL}, {"WebAclArn": ""}, "eu-west-1"),
])
def test_changes_that_leave_a_subscribed_distributions_web_acl_alone_pass(before, change, region):
    assert refused(before, change, region) == ""


# ---------------------------------------------------------------- turning the plan on
def test_the_subscription_is_the_last_resource_of_its_stack():
    """Nothing of the frontend stack can fail once the plan has started: every other resource, the conditional
    DNS records too, is created before the subscription (DependsOn cannot name a conditional resource; the
    Refs in its Metadata order it; AWS documents only that Ref may be used there,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-metadata.html, the
    ordering is community-verified: https://cloudonaut.io/optional-dependson-with-cloudformation-metadata-to-the-rescue,
    https://github.com/aws/serverless-application-model/pull/653). FrontendStack is the last of the parent: no
    stack waits for it (BudgetStack runs beside it, so turning Free on is refused beside any other change). A
    rollback after it would have to delete the subscribed
    distribution or put its web ACL back, which CloudFront refuses (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HowToDeleteDistribution.html)."""
    domain = {"DomainName": "www.example.com", "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/1"}
    stacks = free_plan.renderings({**FREE, "AlertEmail": "me@example.com"}, "us-east-1")
    parent = stacks["parent"]["Resources"]  # and its stack the last of the parent: nothing waits for it
    assert not [n for n in parent if "FrontendStack" in dependencies(parent, n)]
    variants = [stacks["FrontendStack"],
                render_file(Path("frontend.yml"), {**FREE, **domain, "WafRateLimit": "1000", "HostedZoneId": "Z1",
                                                   "ApiOriginDomain": "api.example.com"})]
    for rendering in variants:
        resources = rendering["Resources"]
        assert "PricingPlan" in resources
        for name in (n for n, r in resources.items() if r["Type"] == free_plan.SUBSCRIPTION):
            assert dependencies(resources, name) == set(resources) - {name}
    assert "SiteDnsRecord" in variants[1]["Resources"]


@pytest.mark.parametrize("before, change, region, moved", [
    ({}, {**FREE, "DomainName": "www.example.com",
          "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/1"}, "us-east-1", "Distribution"),
    ({}, {**FREE, "WebAclArn": ACL}, "eu-west-1", "Distribution"),  # the web ACL has to come first, then Free
])
def test_turning_the_plan_on_with_another_change_of_its_stack_is_refused(before, change, region, moved):
    """The refusal gives the two deploys that get there, and following it works: its first step starts no plan,
    and its second, from there, starts the plan alone (the Rules pass on both: outside us-east-1 the Free plan
    needs the WebAclArn the first step brings)."""
    message = refused(before, change, region)
    assert message.startswith("this change starts the Free plan in FrontendStack together with other changes there")
    assert moved in message
    first, second = re.findall(r'make deploy PARAMS="([^"]*)"', message)
    step1, step2 = parse_overrides(first, "PARAMS"), parse_overrides(second, "PARAMS")
    assert step2 == {**step1, "CloudFrontPlan": "Free"} and "CloudFrontPlan" not in step1
    assert free_plan.starts_alone(before, {**before, **step1}, region) == ""
    assert free_plan.starts_alone({**before, **step1}, {**before, **step2}, region) == ""
    for values in ({**before, **step1}, {**before, **step2}):
        plan_command.check_rules(values, region, "the values", "the test")


@pytest.mark.parametrize("before, change, besides", [
    ({}, {**FREE, "AlertEmail": "me@example.com"}, "AlertEmail"),     # BudgetStack runs beside FrontendStack
    ({}, {**FREE, "ExistingTableName": "notes", "NetworkMode": "PrivateSubnets"}, "ExistingTableName, NetworkMode"),
])
def test_turning_the_plan_on_with_a_change_of_another_stack_is_refused(before, change, besides):
    """In us-east-1 the Free plan brings the stack's own web ACL to the distribution; a BudgetStack failure after
    the subscription exists rolls that back on a subscribed distribution, which CloudFront refuses
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-pricingplanmanager-subscription.html)."""
    message = refused(before, change)
    assert message.startswith(f"this change starts the Free plan together with {besides}: "), message
    first, second = re.findall(r'make deploy PARAMS="([^"]*)"', message)
    assert parse_overrides(second, "PARAMS") == {**parse_overrides(first, "PARAMS"), "CloudFrontPlan": "Free"}
    assert set(parse_overrides(first, "PARAMS")) == set(besides.split(", "))


def test_a_first_create_on_the_free_plan_is_refused_in_preflight(aws):
    """A failed first create rolls back by deleting the distribution, which CloudFront refuses while it is
    subscribed: the stack would stay ROLLBACK_FAILED until the month ends."""
    t = make_target(aws)
    with pytest.raises(OneWayDoor) as caught:
        free_plan.check(t, FREE)
    assert str(caught.value).startswith("a first create with CloudFrontPlan=Free starts the plan (FrontendStack/")
    assert str(caught.value).endswith("deploy with CloudFrontPlan=PayAsYouGo first, then run the same deploy with "
                                      "CloudFrontPlan=Free")
    assert free_plan.check(t, {"CloudFrontPlan": "PayAsYouGo"}) == "no deployed stack to compare with"


# ---------------------------------------------------------------- against a deployed stack (moto + AWS's answer)
def free_stack(aws, parameters: dict | None = None):
    """A deployed parent stack as these checks read it: its parameters and its DistributionId output."""
    create_stack(aws, STACK, [{"OutputKey": "DistributionId", "OutputValue": "E2QWRUHAPOMQZL", "Description": ""}],
                 parameters or {**FREE, "Profile": "dev"})
    account = aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackId"].split(":")[4]
    return make_target(aws), f"arn:aws:cloudfront::{account}:distribution/E2QWRUHAPOMQZL"


def plans(*summaries):
    """A pricing-plan-manager client whose ListSubscriptions answers these subscriptions (moto has no such
    service; the Stubber checks the call and the answer against the API)."""
    client, stub = stubbed("pricing-plan-manager", activate=False)
    stub.add_response("list_subscriptions", {"subscriptionSummaries": list(summaries)}, {})
    stub.activate()
    return client, stub


def subscription(distribution: str, cancels: datetime | None = None, status: str = "ACTIVE") -> dict:
    found = {"arn": "arn:aws:pricingplanmanager::123456789012:subscription/sub-1", "planFamily": "CloudFront",
             "planTier": "FREE", "status": status, "resourceArns": [distribution, ACL], "eTag": "1",
             "createdAt": datetime(2026, 12, 1, tzinfo=UTC), "updatedAt": datetime(2026, 12, 1, tzinfo=UTC)}
    if cancels:
        found["scheduledChange"] = {"changeType": "CANCELLATION", "effectiveDate": cancels}
    return found


def test_preflight_refuses_the_change_in_one_line_naming_the_subscription(aws, monkeypatch, capsys):
    t, distribution = free_stack(aws)
    client, stub = plans(subscription(distribution))
    use_clients(monkeypatch, t, pricing_plan_manager=client)
    with pytest.raises(PreflightFailed):
        preflight.preflight(t, {"CloudFrontPlan": "PayAsYouGo"}, checks={"flat-rate plan": free_plan.check})
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("FAIL flat-rate plan: this change removes the web ACL of FrontendStack/Distribution")
    assert "--arn arn:aws:pricingplanmanager::123456789012:subscription/sub-1" in line
    stub.assert_no_pending_responses()


def test_a_plan_that_has_ended_lets_the_change_through_though_the_stack_still_says_free(aws, monkeypatch):
    """Step two of the refusal's path: cancelled with the API, and the billing period over."""
    t, _ = free_stack(aws)
    client, stub = plans()
    use_clients(monkeypatch, t, pricing_plan_manager=client)
    assert free_plan.check(t, {"CloudFrontPlan": "PayAsYouGo"}).startswith("CloudFrontPlan=PayAsYouGo: nothing")
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("status, locks", [
    ("ACTIVE", True), ("SYNC_IN_PROGRESS", True), ("PENDING_APPROVAL", False), ("FAILED", False)])
def test_only_an_active_subscription_locks(aws, monkeypatch, status, locks):
    """The API's Status enum (botocore's pricing-plan-manager service-2.json): PENDING_APPROVAL (a paid tier
    never approved, deleted at once on cancel) and FAILED (never provisioned) hold nothing."""
    t, distribution = free_stack(aws)
    client, _ = plans(subscription(distribution, status=status))
    use_clients(monkeypatch, t, pricing_plan_manager=client)
    if locks:
        with pytest.raises(OneWayDoor):
            free_plan.check(t, {"CloudFrontPlan": "PayAsYouGo"})
    else:
        assert free_plan.check(t, {"CloudFrontPlan": "PayAsYouGo"}).startswith("CloudFrontPlan=PayAsYouGo: nothing")


def test_a_plan_cancelled_by_an_earlier_update_still_locks_the_web_acl_until_it_ends(aws, monkeypatch):
    """CloudFrontPlan=PayAsYouGo with prod (the web ACL kept) cancelled the plan; dropping the web ACL
    before the cancellation takes effect fails all the same."""
    t, distribution = free_stack(aws, {"CloudFrontPlan": "PayAsYouGo", "Profile": "prod"})
    client, _ = plans(subscription(distribution, cancels=datetime(2027, 1, 1, tzinfo=UTC)))
    use_clients(monkeypatch, t, pricing_plan_manager=client)
    with pytest.raises(OneWayDoor) as caught:
        free_plan.check(t, {"Profile": "dev"})
    assert "The plan is already cancelled: make this change on or after 2027-01-01" in str(caught.value)


def test_without_permission_to_list_plans_the_deployed_parameters_decide(aws, monkeypatch):
    t, _ = free_stack(aws)
    client, stub = stubbed("pricing-plan-manager", activate=False)
    stub.add_client_error("list_subscriptions", "AccessDeniedException", "not allowed")
    stub.activate()
    use_clients(monkeypatch, t, pricing_plan_manager=client)
    with pytest.raises(OneWayDoor):
        free_plan.check(t, {"CloudFrontPlan": "PayAsYouGo"})


def test_a_change_that_moves_nothing_locked_asks_aws_nothing(aws, monkeypatch):
    t, _ = free_stack(aws)
    use_clients(monkeypatch, t, pricing_plan_manager=object())  # any call would raise AttributeError
    assert free_plan.check(t, {"Ingress": "LoadBalancer"}).startswith("CloudFrontPlan=Free: nothing")


def test_make_plan_with_a_deployed_stack_refuses_it_and_exits_non_zero(aws, monkeypatch):
    t, distribution = free_stack(aws)
    client, _ = plans(subscription(distribution))
    real = type(t).client
    monkeypatch.setattr(type(t), "client", lambda self, service, region=None:
                        client if service == "pricing-plan-manager" else real(self, service, region))
    said: list[str] = []
    assert plan_command.run("dev", STACK, REGION, "CloudFrontPlan=PayAsYouGo", session=aws, out=said.append) == 1
    (line,) = [s for s in said if s.startswith("REFUSED: ")]
    assert "removes the web ACL of FrontendStack/Distribution" in line


def test_make_deploy_refuses_it_in_preflight_before_building_or_deploying(aws, monkeypatch):
    assert preflight.CHECKS["flat-rate plan"] is free_plan.check  # make deploy runs every check
    t, distribution = free_stack(aws)
    client, _ = plans(subscription(distribution))
    use_clients(monkeypatch, t, pricing_plan_manager=client)
    tools = FakeTools(aws)
    with pytest.raises(PreflightFailed):
        deploy.deploy(t, {"CloudFrontPlan": "PayAsYouGo"}, run=tools, checks={"flat-rate plan": free_plan.check},
                      skip_smoke=True, delay=0, interactive=False)
    assert tools.commands == []  # no image built, no sam deploy


# ---------------------------------------------------------------- make destroy
def test_what_a_delete_cannot_remove_while_the_distribution_stays():
    """CloudFormation deletes a resource only after everything that depends on it ("Resource A is deleted
    before resource B": https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html), and
    CloudFront refuses to delete a subscribed distribution ("You can't delete this distribution while it's
    subscribed to a pricing plan": https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HowToDeleteDistribution.html):
    the distribution, what it uses, and every stack the frontend depends on stay; the subscription (its delete
    schedules the cancellation), the budget and the bucket policy go."""
    left = free_plan.kept(free_plan.renderings({**FREE, "AlertEmail": "me@example.com"}, "us-east-1"))
    assert {"FrontendStack", "NotesService", "IngressStack", "ClusterStack", "VpcStack"} <= set(left)
    assert "BudgetStack" not in left
    assert {"Distribution", "WebAcl", "Bucket"} <= set(left["FrontendStack"])
    assert not {"PricingPlan", "BucketPolicy"} & set(left["FrontendStack"])


def test_destroy_of_a_free_plan_stack_stops_every_service_first_and_says_what_keeps_billing(aws, capsys):
    """The delete of a subscribed distribution fails ("You can't delete this distribution while it's subscribed
    to a pricing plan": https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HowToDeleteDistribution.html)
    and keeps every stack the frontend depends on, its services included: they are stopped before the delete,
    and what keeps billing until the next month is named from the deployed parameters (an ALB, a NAT gateway)."""
    outputs = create_deployment(aws, desired=0, parameters={**FREE, "Ingress": "LoadBalancer",
                                                             "NetworkMode": "PrivateSubnets"})
    t = make_target(aws)
    destroy.destroy(t, yes=True, delay=0, now=lambda: DEC_7)
    said = capsys.readouterr().out
    (notice,) = [line for line in said.splitlines() if "what keeps billing" in line]
    assert notice.startswith("until 2027-01-01 the delete cannot remove FrontendStack")
    assert "the load balancer (IngressStack/LoadBalancer" in notice and "a NAT gateway (VpcStack/" in notice
    assert said.index("what keeps billing") < said.index("stopping api") < said.index("deleted stack")
    svc = aws.client("ecs").describe_services(cluster=outputs.cluster_name, services=["api"])["services"][0]
    target = aws.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[outputs.services["NotesService"].scalable_target])["ScalableTargets"][0]
    assert (svc["desiredCount"], target["MinCapacity"], target["MaxCapacity"]) == (0, 0, 0)
    # StartSchedule would restore MinTasks each day: scheduled and dynamic scaling are suspended
    # (https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-suspend-resume-scaling.html)
    assert target["SuspendedState"] == destroy.SUSPENDED
    assert "CloudFront disables a distribution before it deletes it, so the site stops serving now" in said


def deployment_on_a_plan(aws, monkeypatch, parameters: dict, *summaries):
    """A deployed stack (moto) and AWS's answer about its distribution's plan (the Stubber)."""
    outputs = create_deployment(aws, desired=0, parameters=parameters)
    t = make_target(aws)
    account = aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackId"].split(":")[4]
    distribution = f"arn:aws:cloudfront::{account}:distribution/{outputs.distribution_id}"
    client, _ = plans(*[subscription(distribution, **s) for s in summaries])
    use_clients(monkeypatch, t, pricing_plan_manager=client)
    return t


def test_destroy_after_the_plan_ended_deletes_at_once_though_the_stack_still_says_free(aws, monkeypatch, capsys):
    t = deployment_on_a_plan(aws, monkeypatch, FREE)
    destroy.destroy(t, yes=True, delay=0, now=lambda: DEC_7)
    said = capsys.readouterr().out
    assert "Free plan" not in said and "stopping" not in said


def test_destroy_of_a_stack_whose_cancelled_plan_still_runs_waits_for_its_date(aws, monkeypatch, capsys):
    """CloudFrontPlan=PayAsYouGo cancelled the plan; it ends on the date AWS gives, not the parameters'."""
    t = deployment_on_a_plan(aws, monkeypatch, {"CloudFrontPlan": "PayAsYouGo", "Profile": "prod"},
                             {"cancels": datetime(2027, 2, 1, tzinfo=UTC)})
    destroy.destroy(t, yes=True, delay=0, now=lambda: DEC_7)
    said = capsys.readouterr().out
    assert "run make destroy again on or after 2027-02-01" in said and "stopping api" in said


def test_a_default_free_stack_names_only_what_it_has():
    notice = free_plan.billing_notice(FREE, "us-east-1", date(2027, 1, 1))
    assert "the origin secret" in notice and "NAT gateway" not in notice and "load balancer" not in notice


@pytest.mark.parametrize("value", ["o'brien@example.com", "cost$5@example.com", 'a"b`c\\d@example.com'])
def test_the_refusals_commands_carry_any_value_through_the_shell_and_make(value, tmp_path):
    """The two deploys are written for a shell and for make (which expands a $ once more, and exports PARAMS as
    the Makefile does): run as printed, each reaches the command with exactly the values planned."""
    import subprocess
    message = refused({}, {**FREE, "AlertEmail": value})
    (tmp_path / "Makefile").write_text("export PARAMS\ndeploy:\n\t@printf '%s\\n' \"$$PARAMS\"\n")
    commands = re.findall(r'make deploy PARAMS="(?:[^"\\]|\\.)*"', message)
    assert len(commands) == 2, message
    received = [subprocess.run(["bash", "-c", command.replace("make ", "make -s ", 1)], cwd=tmp_path,
                               capture_output=True, text=True, check=True, timeout=30).stdout.strip()
                for command in commands]
    assert [parse_overrides(r, "PARAMS") for r in received] == [
        {"AlertEmail": value}, {"AlertEmail": value, "CloudFrontPlan": "Free"}]
