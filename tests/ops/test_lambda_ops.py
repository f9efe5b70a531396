"""The ops commands on a service that runs on Lambda (Compute=Lambda, issue 20), against moto: its image
function (moto keeps PackageType Image and the image URI; it cannot invoke one without Docker, so nothing
here invokes it), its reserved concurrency (Get/Put/DeleteFunctionConcurrency), its log group, its alarms.
Each test runs a stack with a Fargate service (NotesService, ECS service api) beside the Lambda one
(ReportsService), so the Fargate side is held to what it did before in the same run."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from scripts import __main__ as cli
from scripts import alerts, common, deploy, destroy, lambda_service, ops, scale, smoke, stack_failures
from scripts import outputs as stack_outputs
from scripts.common import run_cli
from scripts.errors import NotABlueprintStack, ServiceNotActive, ServiceNotReady, UnknownAlarm
from scripts.outputs import ParentOutputs
from tests.ops.conftest import STACK, create_deployment, make_target, stubbed, use_clients


@pytest.fixture
def mixed(aws):
    """NotesService on Fargate, ReportsService on Lambda with no reservation; the alert topic."""
    outputs = create_deployment(aws, lambdas=("Reports",), alerts=True)
    return make_target(aws), outputs


def reports(outputs: ParentOutputs):
    return outputs.services["ReportsService"]


def concurrency(t, svc) -> int | None:
    return t.client("lambda").get_function_concurrency(FunctionName=svc.function).get("ReservedConcurrentExecutions")


# ---------------------------------------------------------------- the descriptor

def test_a_lambda_descriptor_round_trips_and_an_older_one_is_fargate(mixed):
    t, typed = mixed
    read = stack_outputs.read(t)
    assert read == typed
    assert reports(read).on_lambda and not read.services["NotesService"].on_lambda
    old = json.loads(typed.services["NotesService"].descriptor())
    for key in ("compute", "function", "reservedConcurrency"):
        old.pop(key)  # a stack deployed before Lambda mode
    assert stack_outputs.parse_service("NotesService", json.dumps(old)).compute == "fargate"


@pytest.mark.parametrize("change, says", [({"function": ""}, "lacks function"),
                                          ({"compute": "ec2"}, "says compute 'ec2'")])
def test_a_lambda_descriptor_without_its_function_or_an_unknown_compute_is_one_line(mixed, change, says):
    _, typed = mixed
    descriptor = {**json.loads(reports(typed).descriptor()), **change}
    with pytest.raises(NotABlueprintStack, match=says):
        stack_outputs.parse_service("ReportsService", json.dumps(descriptor))


# ---------------------------------------------------------------- status, logs, exec

def test_status_shows_the_function_its_concurrency_and_asks_ecs_only_about_fargate(mixed, capsys, monkeypatch):
    t, out = mixed
    asked: list[list[str]] = []
    real = t.client

    def client(service, region=None):
        made = real(service, region)
        if service == "ecs":
            describe = made.describe_services
            monkeypatch.setattr(made, "describe_services", lambda **kw: asked.append(kw["services"]) or describe(**kw))
        return made
    monkeypatch.setattr(t, "client", client)
    ops.status(t, out)
    text = capsys.readouterr().out
    fn = reports(out).function
    assert f"service    {fn} (reports, /reports): Lambda function, state Active" in text
    assert "no reserved concurrency (the account's unreserved pool)" in text
    assert "512 MiB, arm64, timeout 29 s" in text
    assert f"logs       {reports(out).log_group}" in text
    assert "service    api (notes, /api): desired 0, running 0" in text  # Fargate as before
    assert asked == [["api"]]
    scale.stop(make_target(t.session, service="reports"), delay=0)
    ops.status(make_target(t.session, service="reports"), out)
    assert "reserved concurrency 0: stopped (make start)" in capsys.readouterr().out
    assert asked == [["api"]], "a Lambda service alone asks ECS nothing (it refuses an empty list)"


def test_logs_read_the_functions_log_group_like_a_tasks(mixed, capsys):
    t, out = mixed
    svc = reports(out)
    logs = t.client("logs")
    logs.create_log_stream(logGroupName=svc.log_group, logStreamName="2026/12/08/[$LATEST]abc")
    now = int(datetime.now(UTC).timestamp() * 1000)
    logs.put_log_events(logGroupName=svc.log_group, logStreamName="2026/12/08/[$LATEST]abc",
                        logEvents=[{"timestamp": now, "message": '{"level": "INFO", "message": "hello"}'}])
    printed = ops.logs(make_target(t.session, service="reports"), outputs=out)
    assert len(printed) == 1 and printed[0].endswith('{"level": "INFO", "message": "hello"}')


def cli_run(t, monkeypatch, capsys, *args) -> tuple[int, list[str]]:
    """python -m scripts ARGS in-process against the moto stack: (exit code, stderr lines)."""
    monkeypatch.setattr(common, "session_for", lambda session=None: session or t.session)
    with pytest.raises(SystemExit) as exited:
        run_cli(lambda: cli.main([*args, "--stack", STACK, "--region", "us-east-1"]))
    return exited.value.code, capsys.readouterr().err.splitlines()


def test_exec_on_a_lambda_service_is_one_line_and_a_non_zero_exit(mixed, monkeypatch, capsys):
    t, _ = mixed
    code, lines = cli_run(t, monkeypatch, capsys, "exec", "--service", "reports")
    assert code == 1 and lines[0].startswith("region: us-east-1") and len(lines) == 2, lines
    assert lines[1].startswith("error: service reports runs on Lambda (function ") and "no task to open a shell" \
        in lines[1], lines


def test_make_stop_and_start_of_a_lambda_service_through_the_cli(mixed, monkeypatch, capsys):
    t, out = mixed
    assert cli_run(t, monkeypatch, capsys, "stop", "--service", "reports")[0] == 0
    assert concurrency(t, reports(out)) == 0
    assert cli_run(t, monkeypatch, capsys, "start", "--service", "reports")[0] == 0
    assert concurrency(t, reports(out)) is None


# ---------------------------------------------------------------- stop and start

def test_stop_sets_reserved_concurrency_0_and_start_removes_it_beside_a_fargate_stop(mixed, capsys):
    t, out = mixed
    fn = reports(out)
    assert concurrency(t, fn) is None
    recorded = scale.stop(t, delay=0)
    assert concurrency(t, fn) == 0
    assert recorded["ReportsService"] == {"reserved": 0}
    assert recorded["NotesService"] == {"min": 1, "max": 3, "desired": 0}  # the Fargate record, as before
    assert "answer API Gateway's own 500 until make start" in capsys.readouterr().out
    scale.stop(t, delay=0)
    assert f"{fn.function} is already stopped" in capsys.readouterr().out
    assert [r.split(" (")[0] for r in scale.stopped_reasons(t, out)] == ["service api is stopped", "service reports"]
    scale.start(t, delay=0)
    assert concurrency(t, fn) is None, "no reservation in the block: DeleteFunctionConcurrency"
    assert scale.stopped_reasons(t, out) == []
    scale.start(t, delay=0)
    assert "was not stopped (its reserved concurrency is not 0); nothing to restore" in capsys.readouterr().out


def test_start_puts_back_the_blocks_reservation(aws):
    out = create_deployment(aws, lambdas=("Reports",), reserved="5")
    t = make_target(aws, service="reports")
    scale.stop(t, delay=0)
    assert concurrency(t, reports(out)) == 0
    scale.start(t, delay=0)
    assert concurrency(t, reports(out)) == 5


def test_start_on_an_account_without_room_removes_the_stop_and_says_so_in_one_line(aws, monkeypatch, capsys):
    """A new account (a quota of 10: moto enforces Lambda's minimum unreserved with MOTO_LAMBDA_CONCURRENCY_QUOTA)
    refuses the block's 10 (https://docs.aws.amazon.com/lambda/latest/dg/API_PutFunctionConcurrency.html): start
    does what the deploy's ConcurrencyCap did, no reservation, instead of leaving the service stopped."""
    out = create_deployment(aws, lambdas=("Reports",), reserved="10")  # the block's 10 (moto has no quota yet)
    t = make_target(aws, service="reports")
    scale.stop(t, delay=0)
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", "10")
    capsys.readouterr()
    lambda_service.start_one(t.client("lambda"), reports(out))
    assert concurrency(t, reports(out)) is None
    (line,) = capsys.readouterr().out.splitlines()
    assert "reserved concurrency 10 not applied: the account's quota leaves no room (aws lambda " \
           "get-account-settings); the stop's reservation is removed instead" in line


def test_start_fails_in_one_line_for_any_other_refusal(aws, monkeypatch):
    out = create_deployment(aws, lambdas=("Reports",), reserved="5")
    t = make_target(aws, service="reports")
    scale.stop(t, delay=0)
    lam = t.client("lambda")

    def refused(**kw):
        from botocore.exceptions import ClientError
        raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}},
                          "PutFunctionConcurrency")
    monkeypatch.setattr(lam, "put_function_concurrency", refused)
    with pytest.raises(common.AwsCallFailed, match="PutFunctionConcurrency failed: TooManyRequestsException"):
        lambda_service.start_one(lam, reports(out))
    assert concurrency(t, reports(out)) == 0, "still stopped: nothing removed"


def test_status_says_when_the_blocks_cap_is_not_applied(aws, capsys):
    """The block sets 10, the function has none and is not stopped: the deploy's ConcurrencyCap was refused."""
    out = create_deployment(aws, lambdas=("Reports",), reserved="10")
    t = make_target(aws)
    t.client("lambda").delete_function_concurrency(FunctionName=reports(out).function)  # as ConcurrencyCap left it
    ops.status(t, out)
    assert ("no reserved concurrency (the account's unreserved pool); ReservedConcurrency 10 not applied: the "
            "account's quota leaves no room (aws lambda get-account-settings)") in capsys.readouterr().out
    t.client("lambda").put_function_concurrency(FunctionName=reports(out).function, ReservedConcurrentExecutions=0)
    ops.status(t, out)
    assert "not applied" not in capsys.readouterr().out, "stopped is not 'not applied'"
    t.client("lambda").put_function_concurrency(FunctionName=reports(out).function, ReservedConcurrentExecutions=10)
    ops.status(t, out)
    text = capsys.readouterr().out
    assert "reserved concurrency 10" in text and "not applied" not in text


def test_a_stopped_lambda_service_is_said_and_skips_the_smoke_tests_on_deploy(mixed):
    t, out = mixed
    scale.stop(make_target(t.session, service="reports"), delay=0)
    (reason,) = scale.stopped_reasons(t, out)
    assert reason.startswith("service reports (function ") and reason.endswith("smoke tests skipped")


def test_deploy_waits_for_ecs_on_fargate_and_for_the_function_on_lambda(mixed, capsys):
    t, out = mixed
    deploy.wait_for_services(t, out, timeout=5, delay=0)
    text = capsys.readouterr().out
    assert "ECS service api: done" in text and f"Lambda function {reports(out).function}: done" in text
    assert "ECS service api, " not in text, "the function is not waited for as an ECS service"


def test_destroy_holds_only_fargate_services_at_zero(mixed):
    t, out = mixed
    destroy.hold_at_zero(t, out)  # a Lambda service has no scalable target: asking for "" would be refused
    target = t.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert [(x["ResourceId"], x["MaxCapacity"]) for x in target] == [("service/cluster/api", 0)]


# ---------------------------------------------------------------- smoke

def test_smoke_refuses_a_stopped_lambda_service_in_one_line_before_waiting(mixed):
    t, out = mixed
    scale.stop(make_target(t.session, service="reports"), delay=0)
    waited: list[str] = []
    with pytest.raises(ServiceNotReady, match="service reports is stopped .* make start first"):
        smoke.smoke(t, outputs=out, wait=lambda url, seconds: waited.append(url), run=lambda *a, **k: None)
    assert waited == []
    ran: list = []
    notes = make_target(t.session, service="notes")  # the Fargate one alone is still smoke-tested
    smoke.smoke(notes, outputs=out, wait=lambda url, seconds: waited.append(url),
                run=lambda *a, **k: ran.append(a) or type("R", (), {"returncode": 0})())
    assert waited == [out.frontend_url + "/api/health-check"] and ran


def test_a_wait_ending_on_api_gateways_own_500_says_it_is_not_the_app():
    class Answer:
        status_code = 500

        def json(self):
            return {"message": "Internal Server Error"}
    clock = iter([0, 0, 100, 100])
    with pytest.raises(Exception, match="HTTP 500 from API Gateway itself, not the app"):
        smoke.wait_healthy("https://x/reports/health-check", 10, get=lambda url, timeout: Answer(),
                           clock=lambda: next(clock), sleep=lambda s: None)


# ---------------------------------------------------------------- alerts

def put_alarm(t, name: str, topic: str, function: str | None = None) -> None:
    """An alarm notifying the topic; with `function`, FunctionAlarm's shape (Errors + Throttles, FILLed)."""
    cloudwatch = t.client("cloudwatch")
    common = dict(AlarmName=name, AlarmActions=[topic], OKActions=[topic], EvaluationPeriods=1, Threshold=0,
                  ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    if function is None:
        cloudwatch.put_metric_alarm(**common, Namespace="AWS/ApiGateway", MetricName="5xx", Statistic="Sum",
                                    Period=60, Dimensions=[{"Name": "ApiId", "Value": "a1"}])
        return
    def stat(i, metric):
        return {"Id": i, "ReturnData": False, "MetricStat": {"Stat": "Sum", "Period": 60, "Metric": {
            "Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": [{"Name": "FunctionName", "Value": function}]}}}
    cloudwatch.put_metric_alarm(**common, Metrics=[stat("errors", "Errors"), stat("throttles", "Throttles"), {
        "Id": "failed", "Expression": "FILL(errors, 0) + FILL(throttles, 0)", "ReturnData": True}])


def nested_resources(stub, alarm: str | None) -> None:
    """CloudFormation's answers: ReportsService's nested stack, then its ErrorRateAlarm (or none)."""
    nested = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}-ReportsService-X/1"
    detail = {"LastUpdatedTimestamp": datetime(2026, 12, 8, tzinfo=UTC), "ResourceStatus": "CREATE_COMPLETE"}
    stub.add_response("describe_stack_resource", {"StackResourceDetail": {
        **detail, "LogicalResourceId": "ReportsService", "ResourceType": "AWS::CloudFormation::Stack",
        "PhysicalResourceId": nested}}, {"StackName": STACK, "LogicalResourceId": "ReportsService"})
    if alarm:
        stub.add_response("describe_stack_resource", {"StackResourceDetail": {
            **detail, "LogicalResourceId": "ErrorRateAlarm", "ResourceType": "AWS::CloudWatch::Alarm",
            "PhysicalResourceId": alarm}}, {"StackName": nested, "LogicalResourceId": "ErrorRateAlarm"})
    else:
        stub.add_client_error("describe_stack_resource", "ValidationError",
                              f"Resource ErrorRateAlarm does not exist for stack {nested}", 400)


def test_alert_test_on_a_lambda_service_sets_off_its_stacks_error_rate_alarm(mixed, monkeypatch, capsys):
    t, out = mixed
    alarm = f"{STACK}-ReportsService-X-ErrorRateAlarm-1A2B"
    put_alarm(t, alarm, out.alert_topic_arn)
    cfn, stub = stubbed("cloudformation")
    nested_resources(stub, alarm)
    t = make_target(t.session, service="reports")
    use_clients(monkeypatch, t, cloudformation=cfn)
    assert alerts.alert_test(t, out)["alarm"] == alarm
    stub.assert_no_pending_responses()
    state = t.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
    assert state == "ALARM"


def test_alert_test_on_a_lambda_service_without_that_alarm_is_one_line(mixed, monkeypatch):
    t, out = mixed
    cfn, stub = stubbed("cloudformation")
    nested_resources(stub, None)
    t = make_target(t.session, service="reports")
    use_clients(monkeypatch, t, cloudformation=cfn)
    with pytest.raises(UnknownAlarm, match="service reports \\(Lambda\\) has no ErrorRateAlarm .* ALARM="):
        alerts.alert_test(t, out)


def test_status_names_the_function_an_alarm_watches(mixed):
    t, out = mixed
    put_alarm(t, "fn-alarm", out.alert_topic_arn, reports(out).function)
    put_alarm(t, "api-alarm", out.alert_topic_arn)
    lines = alerts.status_lines(t, out, [])
    assert any(" fn-alarm (function alarm of reports) since " in line for line in lines), lines
    assert any(" api-alarm since " in line for line in lines), lines


# ---------------------------------------------------------------- deploy's root cause

@pytest.mark.parametrize("reason, says", [
    ("Resource handler returned message: \"Specified ReservedConcurrentExecutions for function decreases account's "
     "UnreservedConcurrentExecution below its minimum value of [10]. (Service: Lambda, Status Code: 400)\" "
     "(HandlerErrorCode: InvalidRequest)", "remove it from that function and let a service's block set "
     "ReservedConcurrency (service.yml's ConcurrencyCap applies it only where the account allows it)"),
    ("Resource handler returned message: \"The image manifest, config or layer media type for the source image "
     "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:abc is not supported.\"", "--provenance=false"),
    ("Resource handler returned message: \"Lambda does not have permission to access the ECR image. Check the ECR "
     "permissions. (Service: Lambda, Status Code: 403)\" (HandlerErrorCode: AccessDenied)",
     "its repository's policy must let lambda.amazonaws.com pull"),
    ("Resource handler returned message: \"Source image 123456789012.dkr.ecr.us-east-1.amazonaws.com/app does not "
     "exist. Provide a valid source image. (Service: Lambda, Status Code: 400)\"", "repository@sha256:<digest>"),
])
def test_a_functions_create_failed_gets_its_own_explanation(reason, says):
    assert says in stack_failures.hint(reason)


def test_a_function_that_is_gone_is_one_line_and_status_goes_on(mixed, capsys):
    t, out = mixed
    t.client("lambda").delete_function(FunctionName=reports(out).function)
    with pytest.raises(ServiceNotActive, match="is not there: make deploy creates it again"):
        scale.stop(make_target(t.session, service="reports"), delay=0)
    ops.status(t, out)
    text = capsys.readouterr().out
    assert "(reports, /reports): function " in text and "is not there" in text
    assert "service    api (notes, /api): desired 0" in text


def test_a_stack_whose_only_service_is_on_lambda_asks_ecs_nothing(aws, monkeypatch, capsys):
    """status, stop, start, deploy's wait and its alarm warning, alert-test's default and destroy's hold: ECS
    refuses DescribeServices with no service, and a Lambda service has none to ask about."""
    out = create_deployment(aws, services=(), lambdas=("Reports",), alerts=True)
    t = make_target(aws)
    real = t.client

    def client(service, region=None):
        assert service not in ("ecs", "application-autoscaling"), f"asked {service}"
        return real(service, region)
    monkeypatch.setattr(t, "client", client)
    ops.status(t, out)
    scale.stop(t, delay=0)
    assert scale.stopped_reasons(t, out) and concurrency(t, reports(out)) == 0
    scale.start(t, delay=0)
    deploy.wait_for_services(t, out, timeout=5, delay=0)
    assert alerts.deploy_warnings(t, out) == []
    destroy.hold_at_zero(t, out)
    assert "Lambda function" in capsys.readouterr().out


def test_a_function_update_that_failed_fails_the_deploys_wait_and_status_says_why(mixed, monkeypatch):
    """Lambda's LastUpdateStatus Failed (an image it could not pull or optimise): the deploy's wait ends in one
    line naming the function, and status shows the reason (moto never fails an update: a Stubber answers)."""
    from scripts.errors import WaitFailed
    t, out = mixed
    fn = reports(out).function
    failed = {"FunctionName": fn, "State": "Active", "LastUpdateStatus": "Failed",
              "LastUpdateStatusReason": "Lambda does not have permission to access the ECR image.",
              "MemorySize": 512, "Timeout": 29, "Architectures": ["arm64"]}
    lam, stub = stubbed("lambda")
    stub.add_response("get_function_configuration", failed, {"FunctionName": fn})  # not Inactive: wait
    stub.add_response("get_function", {"Configuration": failed}, {"FunctionName": fn})  # function_active_v2
    stub.add_response("get_function", {"Configuration": failed}, {"FunctionName": fn})  # function_updated_v2
    use_clients(monkeypatch, t, **{"lambda": lam})
    with pytest.raises(WaitFailed, match=f"Lambda function {fn}: .*FunctionUpdatedV2"):
        lambda_service.wait_ready(t, [reports(out)], timeout=5, delay=0)
    stub.add_response("get_function_configuration", failed, {"FunctionName": fn})
    stub.add_response("get_function_concurrency", {}, {"FunctionName": fn})
    (line, _) = lambda_service.status_lines(lam, reports(out))
    assert "state Active, last update Failed (Lambda does not have permission to access the ECR image.)" in line


def test_a_function_gone_inactive_after_idling_does_not_hold_the_deploys_wait(mixed, monkeypatch, capsys):
    """A function idle for long goes Inactive (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html):
    no waiter state ends on it, so a deploy that did not touch the function would wait its whole timeout. The
    wait says so in one line and goes on (moto never deactivates a function: a Stubber answers)."""
    t, out = mixed
    fn = reports(out).function
    idle = {"FunctionName": fn, "State": "Inactive", "StateReasonCode": "Idle", "LastUpdateStatus": "Successful",
            "MemorySize": 512, "Timeout": 29, "Architectures": ["arm64"]}
    lam, stub = stubbed("lambda")
    stub.add_response("get_function_configuration", idle, {"FunctionName": fn})
    use_clients(monkeypatch, t, **{"lambda": lam})
    lambda_service.wait_ready(t, [reports(out)], timeout=5, delay=0)
    stub.assert_no_pending_responses()
    assert f"Lambda function {fn}: inactive after idling" in capsys.readouterr().out
