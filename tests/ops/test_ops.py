import time

import pytest

from scripts import ops
from scripts.errors import ServiceNotChosen, ServiceNotReady, UnknownService
from tests.ops.conftest import stubbed, use_clients


def test_status_shows_the_urls_and_the_service(deployed, capsys):
    t, out = deployed
    result = ops.status(t)
    text = capsys.readouterr().out
    assert out.frontend_url in text and "service    api (notes, /api): desired 0, running 0" in text
    assert result["services"]["NotesService"]["serviceName"] == "api"


def test_status_shows_every_service_or_the_one_named(two_services, capsys):
    t, out = two_services
    assert list(ops.status(t)["services"]) == ["NotesService", "ReportsService"]
    assert "service    reports (reports, /reports): desired 0" in capsys.readouterr().out
    t.service = "REPORTS"
    assert list(ops.status(t)["services"]) == ["ReportsService"]
    t.service = "billing"
    with pytest.raises(UnknownService, match="^no service billing in this stack: use SERVICE= with one of notes, "
                                             "reports$"):
        ops.status(t)


def put_logs(t, group: str, *events):
    logs = t.client("logs")
    logs.create_log_stream(logGroupName=group, logStreamName="api/api/1")
    logs.put_log_events(logGroupName=group, logStreamName="api/api/1", logEvents=[
        {"timestamp": stamp, "message": message} for stamp, message in events])


def test_logs_prints_recent_lines_once_each(deployed, capsys):
    t, out = deployed
    now = int(time.time() * 1000)
    put_logs(t, out.services["NotesService"].log_group, (now - 3_600_000, "an hour ago"),
             (now - 1000, '{"message": "request"}'))
    lines = ops.logs(t, minutes=10, follow=True, poll=0, rounds=2, sleep=lambda s: None)
    assert len(lines) == 1 and lines[0].endswith(' {"message": "request"}') and " notes " not in lines[0]


def test_logs_of_several_services_are_merged_in_time_and_named(two_services):
    t, out = two_services
    now = int(time.time() * 1000)
    put_logs(t, out.services["NotesService"].log_group, (now - 3000, "first"), (now - 1000, "third"))
    put_logs(t, out.services["ReportsService"].log_group, (now - 2000, "second"))
    lines = ops.logs(t, minutes=10)
    assert [line.split(" ", 1)[1] for line in lines] == ["notes first", "reports second", "notes third"]


def test_exec_explains_that_ecs_exec_is_off(deployed):
    t, _ = deployed
    with pytest.raises(ServiceNotReady, match="ECS Exec is off: set EnableExecuteCommand: \"true\" in the service.s block in parent.yml"):
        ops.exec_shell(t)


def test_exec_needs_a_running_task(deployed):
    t, _ = deployed
    t.client("ecs").update_service(cluster="cluster", service="api", enableExecuteCommand=True)
    with pytest.raises(ServiceNotReady, match="no running task in api"):
        ops.exec_shell(t)


def test_exec_with_several_services_asks_which_or_refuses_in_one_line(two_services):
    t, _ = two_services
    with pytest.raises(ServiceNotChosen, match=r"^this stack has 2 services: pick one with SERVICE= \(notes, "
                                               r"reports\)$"):
        ops.exec_shell(t)  # no terminal
    questions = []

    def answer(question):
        questions.append(question)
        return "reports"
    with pytest.raises(ServiceNotReady, match="ECS Exec is off"):  # it went on with reports
        ops.exec_shell(t, ask=answer)
    assert questions == ["Which service? (notes, reports) "]
    t.service = "notes"
    with pytest.raises(ServiceNotReady, match="ECS Exec is off"):
        ops.exec_shell(t, ask=lambda _q: pytest.fail("SERVICE= named one: nothing to ask"))


def test_status_warns_when_the_vpc_link_is_not_available(deployed, monkeypatch, capsys):
    """An HTTP API VPC link idle for 60 days goes INACTIVE and requests fail while it comes back:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-vpc-links.html
    The link is found in the nested service stack's resources (two levels of list_stack_resources)."""
    t, _ = deployed
    nested = "arn:aws:cloudformation:us-east-1:123456789012:stack/fargate-blueprint-test-ServiceStack-1AB/uuid"
    cfn, cfn_stub = stubbed("cloudformation")
    described = t.client("cloudformation").describe_stacks(StackName=t.stack_name)  # moto's, replayed
    cfn_stub.add_response("describe_stacks", {"Stacks": described["Stacks"]}, {"StackName": t.stack_name})
    now = "2026-11-24T10:00:00Z"
    cfn_stub.add_response("list_stack_resources", {"StackResourceSummaries": [
        {"LogicalResourceId": "ServiceStack", "PhysicalResourceId": nested, "ResourceType": "AWS::CloudFormation::Stack",
         "LastUpdatedTimestamp": now, "ResourceStatus": "CREATE_COMPLETE"},
        {"LogicalResourceId": "Topic", "PhysicalResourceId": "arn:aws:sns:us-east-1:1:t", "ResourceType": "AWS::SNS::Topic",
         "LastUpdatedTimestamp": now, "ResourceStatus": "CREATE_COMPLETE"}]}, {"StackName": t.stack_name})
    cfn_stub.add_response("list_stack_resources", {"StackResourceSummaries": [
        {"LogicalResourceId": "VpcLink", "PhysicalResourceId": "ab12cd", "ResourceType": "AWS::ApiGatewayV2::VpcLink",
         "LastUpdatedTimestamp": now, "ResourceStatus": "CREATE_COMPLETE"}]}, {"StackName": nested})
    api, api_stub = stubbed("apigatewayv2")
    api_stub.add_response("get_vpc_link", {"VpcLinkId": "ab12cd", "Name": "link", "VpcLinkStatus": "INACTIVE",
                                           "VpcLinkStatusMessage": "VPC link is inactive"}, {"VpcLinkId": "ab12cd"})
    use_clients(monkeypatch, t, cloudformation=cfn, apigatewayv2=api)
    result = ops.status(t)
    assert result["warnings"] == ["warning: VPC link ab12cd is INACTIVE (VPC link is inactive): API requests fail "
                                  "until it is AVAILABLE again (an INACTIVE link, idle for 60 days, comes back "
                                  "minutes after the next requests)"]
    assert result["warnings"][0] in capsys.readouterr().out


def test_exec_says_when_the_running_tasks_predate_the_flag(deployed, monkeypatch):
    """Turning ECS Exec on does not restart running tasks (moto does not model the flag on tasks):
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html"""
    t, _ = deployed
    ecs, stub = stubbed("ecs")
    task = "arn:aws:ecs:us-east-1:123456789012:task/cluster/0123456789abcdef"
    stub.add_response("describe_services", {"services": [{"serviceName": "api", "enableExecuteCommand": True}]},
                      {"cluster": "cluster", "services": ["api"]})
    stub.add_response("list_tasks", {"taskArns": [task]},
                      {"cluster": "cluster", "serviceName": "api", "desiredStatus": "RUNNING"})
    stub.add_response("describe_tasks", {"tasks": [{"taskArn": task, "lastStatus": "RUNNING",
                                                    "enableExecuteCommand": False}]},
                      {"cluster": "cluster", "tasks": [task]})
    use_clients(monkeypatch, t, ecs=ecs)
    with pytest.raises(ServiceNotReady, match=r"^ECS Exec is on for api, but its running tasks started before it was: force "
                                       r"a new deployment \(aws ecs update-service --cluster cluster --service api "
                                       r"--force-new-deployment\)"):
        ops.exec_shell(t)
