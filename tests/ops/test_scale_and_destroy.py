import pytest

from scripts import destroy, scale
from scripts.errors import NotConfirmed, StackNotFound
from tests.ops.conftest import service_arn, stubbed

NOTES = "NotesService"


def autoscaling(t, out, key=NOTES):
    return t.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[out.services[key].scalable_target])["ScalableTargets"][0]


def service(t, name="api"):
    return t.client("ecs").describe_services(cluster="cluster", services=[name])["services"][0]


def test_stop_then_start_restores_what_was_there(deployed):
    t, out = deployed
    t.client("ecs").update_service(cluster="cluster", service="api", desiredCount=2)
    saved = scale.stop(t, delay=0)
    assert saved == {NOTES: {"min": 1, "max": 3, "desired": 2}}
    target = autoscaling(t, out)
    assert (target["MinCapacity"], target["MaxCapacity"], service(t)["desiredCount"]) == (0, 0, 0)
    assert scale.stop(t, delay=0)[NOTES]["blueprint:stopped-desired"] == "2"  # stopping twice keeps the first record

    restored = scale.start(t, delay=0)
    target = autoscaling(t, out)
    assert (target["MinCapacity"], target["MaxCapacity"], service(t)["desiredCount"]) == (1, 3, 2)
    assert restored[NOTES]["desired"] == 2
    tags = t.client("ecs").list_tags_for_resource(resourceArn=service_arn(t.session, out))["tags"]
    assert not [x for x in tags if x["key"].startswith("blueprint:")]


def test_start_after_an_interrupted_free_plan_destroy_resumes_scaling(deployed):
    """make destroy on a Free-plan stack stops every service and suspends its scaling (hold_at_zero) before the
    delete; interrupted there, make start restored min/max but left scheduled and dynamic scaling suspended,
    since RegisterScalableTarget keeps what it is not given
    (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html)."""
    t, out = deployed
    scale.stop(t, delay=0)
    destroy.hold_at_zero(t, out)
    assert autoscaling(t, out)["SuspendedState"] == destroy.SUSPENDED
    scale.start(t, delay=0)
    target = autoscaling(t, out)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    assert target["SuspendedState"] == {switch: False for switch in destroy.SUSPENDED}


def test_start_respects_the_autoscaling_minimum(deployed):
    t, out = deployed  # desired 0 with autoscaling 1-3
    scale.stop(t, delay=0)
    assert scale.start(t, delay=0)[NOTES]["desired"] == 1


def test_start_without_stop_changes_nothing(deployed):
    t, _ = deployed
    assert scale.start(t, delay=0) == {NOTES: {}}


def test_stop_and_start_act_on_every_service_each_with_its_own_record(two_services):
    t, out = two_services
    t.client("ecs").update_service(cluster="cluster", service="reports", desiredCount=3)
    assert scale.stop(t, delay=0) == {NOTES: {"min": 1, "max": 3, "desired": 0},
                                      "ReportsService": {"min": 1, "max": 3, "desired": 3}}
    for key, name in ((NOTES, "api"), ("ReportsService", "reports")):
        target = autoscaling(t, out, key)
        assert (target["MinCapacity"], target["MaxCapacity"], service(t, name)["desiredCount"]) == (0, 0, 0)
    assert scale.start(t, delay=0)["ReportsService"]["desired"] == 3
    assert service(t, "reports")["desiredCount"] == 3 and service(t, "api")["desiredCount"] == 1


def test_service_picks_one_service_case_insensitively(two_services):
    t, out = two_services
    t.service = "Reports"
    assert list(scale.stop(t, delay=0)) == ["ReportsService"]
    assert autoscaling(t, out, NOTES)["MaxCapacity"] == 3, "the other service is left alone"
    assert autoscaling(t, out, "ReportsService")["MaxCapacity"] == 0


def test_destroy_asks_and_refuses_without_a_terminal(deployed):
    t, out = deployed

    def no_terminal(_prompt):
        raise EOFError
    with pytest.raises(NotConfirmed, match="run with YES=1"):
        destroy.destroy(t, ask=no_terminal, delay=0)
    with pytest.raises(NotConfirmed, match="not confirmed"):
        destroy.destroy(t, ask=lambda _p: "no", delay=0)
    assert t.client("cloudformation").describe_stacks(StackName=t.stack_name)["Stacks"]


def test_destroy_deletes_the_stack_and_leaves_its_bucket_and_repositories_to_it(deployed, capsys):
    """The stack empties its bucket (the site custom resource) and deletes its repositories (EmptyOnDelete):
    destroy only deletes the stack. Here the bucket is not the fake stack's, so what it held stays."""
    t, out = deployed
    s3 = t.client("s3")
    s3.put_object(Bucket=out.bucket_name, Key="index.html", Body=b"v1")
    result = destroy.destroy(t, ask=lambda _p: t.stack_name, delay=0)
    assert result == {"table_deleted": False}
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=out.bucket_name)["Contents"]] == ["index.html"]
    with pytest.raises(Exception, match="does not exist"):
        t.client("cloudformation").describe_stacks(StackName=t.stack_name)
    assert out.table_name in t.client("dynamodb").list_tables()["TableNames"]
    printed = capsys.readouterr().out
    assert f"kept table {out.table_name} (retained with its data; DELETE_TABLE=1 removes it)" in printed
    assert "emptied bucket" not in printed and "deleted image repository" not in printed


def test_destroy_deletes_the_table_only_when_asked(deployed):
    t, out = deployed
    destroy.destroy(t, yes=True, delete_table=True, delay=0)
    assert out.table_name not in t.client("dynamodb").list_tables()["TableNames"]


def test_destroy_of_a_missing_stack_is_one_line(aws):
    from tests.ops.conftest import make_target
    with pytest.raises(StackNotFound, match="stack gone not found"):
        destroy.destroy(make_target(aws, "gone"), yes=True)


def test_destroy_that_keeps_the_table_says_how_to_adopt_it(deployed, capsys):
    t, out = deployed
    destroy.destroy(t, yes=True, delay=0)
    assert (f'to use it again: make deploy PARAMS="ExistingTableName={out.table_name}" (or add '
            f'ExistingTableName="{out.table_name}" to parameter_overrides in samconfig.toml [default])'
            in capsys.readouterr().out)


def test_delete_table_waits_for_updating_to_end_before_deleting(capsys):
    """DeleteTable refuses a table that is not ACTIVE (ResourceInUseException); a table the stack just
    released can still be UPDATING. The stubs run in order: a delete before ACTIVE fails the test.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteTable.html"""
    dynamodb, stub = stubbed("dynamodb", activate=False)
    table = "fargate-blueprint-test-NotesTable-1ABC"

    def status(state, protected=None):
        description = {"TableName": table, "TableStatus": state}
        if protected is not None:
            description["DeletionProtectionEnabled"] = protected
        stub.add_response("describe_table", {"Table": description}, {"TableName": table})
    status("UPDATING")  # waiter attempt
    status("UPDATING")  # progress line
    status("ACTIVE")
    status("ACTIVE", protected=True)  # a table made by an earlier service.yml
    stub.add_response("update_table", {}, {"TableName": table, "DeletionProtectionEnabled": False})
    status("ACTIVE")
    stub.add_response("delete_table", {}, {"TableName": table})
    stub.add_client_error("describe_table", "ResourceNotFoundException", "Requested resource not found", 400)
    sleeps = []
    with stub:
        destroy.remove_table(dynamodb, table, delay=5, sleep=sleeps.append)
    stub.assert_no_pending_responses()
    assert sleeps == [5]
    assert f"table {table}: UPDATING" in capsys.readouterr().out


def test_delete_table_leaves_deletion_protection_alone_when_it_is_off():
    """Tables from this service.yml have no deletion protection: no UpdateTable before the delete."""
    dynamodb, stub = stubbed("dynamodb", activate=False)
    table = "fargate-blueprint-test-NotesTable-1ABC"
    for _ in range(2):
        stub.add_response("describe_table", {"Table": {"TableName": table, "TableStatus": "ACTIVE",
                                                       "DeletionProtectionEnabled": False}}, {"TableName": table})
    stub.add_response("delete_table", {}, {"TableName": table})
    stub.add_client_error("describe_table", "ResourceNotFoundException", "Requested resource not found", 400)
    with stub:
        destroy.remove_table(dynamodb, table, delay=0, sleep=lambda _s: None)
    stub.assert_no_pending_responses()


NOV_24 = "2026-11-24T05:00:00+00:00"


def free_plan_deployment(aws):
    from tests.ops.conftest import create_deployment, make_target
    create_deployment(aws, parameters={"CloudFrontPlan": "Free", "WafRateLimit": "1000"})
    return make_target(aws)


def test_destroy_of_a_free_plan_stack_says_what_will_happen_before_it_asks(aws, capsys):
    """Deleting an active Free plan only schedules its cancellation for the end of the billing period, and a
    subscribed distribution cannot be deleted until then
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-pricingplanmanager-subscription.html,
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HowToDeleteDistribution.html)."""
    from datetime import datetime
    t = free_plan_deployment(aws)
    seen = []

    def ask(prompt):
        seen.append(capsys.readouterr().out)
        return "no"
    with pytest.raises(NotConfirmed):
        destroy.destroy(t, ask=ask, delay=0, now=lambda: datetime.fromisoformat(NOV_24))
    (notice,) = [line for line in seen[0].splitlines() if "CloudFront's Free plan" in line]
    assert "end of the billing period (2026-12-01 UTC)" in notice and "DELETE_FAILED" in notice
    assert "make destroy again on or after 2026-12-01" in notice


def test_destroy_of_a_pay_as_you_go_stack_says_nothing_about_plans(deployed, capsys):
    t, _ = deployed
    destroy.destroy(t, yes=True, delay=0)
    said = capsys.readouterr().out
    assert "Free plan" not in said and "stopping" not in said  # the delete removes the services itself


def test_the_billing_period_ends_with_the_calendar_month():
    from datetime import UTC, date, datetime
    assert destroy.billing_period_end(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == date(2027, 1, 1)
    assert destroy.billing_period_end(datetime(2026, 2, 1, tzinfo=UTC)) == date(2026, 3, 1)


def test_a_free_plan_delete_that_stops_at_delete_failed_says_why_and_when(aws, monkeypatch):
    """CloudFormation's answer, stubbed (moto deletes any distribution): the stack is DELETE_FAILED."""
    from datetime import datetime

    from scripts.errors import WaitFailed
    t = free_plan_deployment(aws)
    real = t.client("cloudformation")
    stack = real.describe_stacks(StackName=t.stack_name)["Stacks"][0]
    cfn, stubber = stubbed("cloudformation", activate=False)
    stubber.add_response("describe_stacks", {"Stacks": [stack]})  # the outputs
    stubber.add_response("describe_stacks", {"Stacks": [stack]})  # the parameters
    stubber.add_response("delete_stack", {})
    failed = {**stack, "StackStatus": "DELETE_FAILED",
              "StackStatusReason": "The following resource(s) failed to delete: [FrontendStack]."}
    stubber.add_response("describe_stacks", {"Stacks": [failed]})  # the waiter's attempt
    stubber.activate()
    monkeypatch.setattr(type(t), "client", lambda self, service, region=None:
                        cfn if service == "cloudformation" else aws.client(service, region_name=self.region))
    with pytest.raises(WaitFailed) as caught:
        destroy.destroy(t, yes=True, delay=0, now=lambda: datetime.fromisoformat(NOV_24))
    message = str(caught.value)
    assert "Expected with the Free plan" in message and "until 2026-12-01 UTC" in message
    assert "make destroy again on or after 2026-12-01" in message
    stubber.assert_no_pending_responses()
