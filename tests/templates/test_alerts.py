"""The alert channel (alerts.yml): its event rules against the sample events AWS documents, run through
moto's EventBridge (the pattern matcher and input transformer of a real put_events), and the topic policy.

The samples keep the documented shape of each event (the field names and nesting the rules read):
- ECS Task State Change: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html,
  its stop codes and reasons https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html
- ECS Deployment State Change: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html
- ECS Service Action: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_events.html
Only AWS proves the delivery to SNS; this pins what each rule matches and the sentence it sends. A reason that
holds quotes (`exec: "gunicorn": executable file not found`) goes into the string template as it is; moto's
transformer parses its output as JSON and fails on it, so no sample here has one (docs/checks.md).
"""
from __future__ import annotations

import copy
import json

import boto3
import pytest
from moto import mock_aws

from checks.render import Renderer, template

REGION, ACCOUNT, CLUSTER = "us-east-1", "123456789012", "notes-dev-ClusterStack-1-Cluster-AbC"
CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"
SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/notes-dev-NotesService-1-Service-XyZ"
TASK_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/c13b4cb40f1f4fe4a2971f76ae5a47ad"
GROUP = "service:notes-dev-NotesService-1-Service-XyZ"
RULES = ("DeploymentFailed", "TaskStopped", "SpotInterrupted", "CannotPlace")


def rendered() -> dict:
    renderer = Renderer(template("alerts.yml"), {"ClusterName": CLUSTER}, REGION, substitute=True)
    renderer.values.update({"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT})  # what CloudFormation gives
    return renderer.render()["Resources"]


def task_event(last="STOPPED", desired="STOPPED", stop_code=None, reason=None, container=None, cluster=CLUSTER_ARN,
               group=GROUP) -> dict:
    """An ECS Task State Change of a Fargate service task, as the documented example has it."""
    detail = {
        "attachments": [{"id": "1789bcae-ddfb-4d10-8ebe-8ac87ddba5b8", "type": "eni", "status": "DELETED"}],
        "availabilityZone": "us-east-1a", "capacityProviderName": "FARGATE_SPOT", "clusterArn": cluster,
        "containers": [{"containerArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:container/{CLUSTER}/c13b/app",
                        "lastStatus": last, "name": "app", "taskArn": TASK_ARN, "cpu": "0",
                        **(container or {})}],
        "cpu": "256", "createdAt": "2026-12-07T20:10:48.000Z", "desiredStatus": desired, "group": group,
        "launchType": "FARGATE", "lastStatus": last, "memory": "512", "platformVersion": "1.4.0",
        "startedBy": "ecs-svc/9223370564340620236", "taskArn": TASK_ARN,
        "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/notes:7", "version": 5,
        **({"stopCode": stop_code} if stop_code else {}), **({"stoppedReason": reason} if reason else {}),
    }
    return {"detail-type": "ECS Task State Change", "resources": [TASK_ARN], "detail": detail}


def service_event(detail_type: str, event_name: str, event_type: str, service=SERVICE_ARN, **extra) -> dict:
    detail = {"eventType": event_type, "eventName": event_name, "createdAt": "2026-12-07T20:10:48.000Z", **extra}
    return {"detail-type": detail_type, "resources": [service], "detail": detail}


OOM = task_event(stop_code="EssentialContainerExited", reason="Essential container in task exited",
                 container={"exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"})
SPOT = task_event(stop_code="SpotInterruption", reason="Your Spot Task was interrupted.")
DEPLOY_STOP = task_event(stop_code="ServiceSchedulerInitiated",
                         reason="Scaling activity initiated by (deployment ecs-svc/4966419163549512473)",
                         container={"exitCode": 0})
FAILED_DEPLOYMENT = service_event("ECS Deployment State Change", "SERVICE_DEPLOYMENT_FAILED", "ERROR",
                                  deploymentId="ecs-svc/123", reason="ECS deployment circuit breaker: task failed to start.")
PLACEMENT = service_event("ECS Service Action", "SERVICE_TASK_PLACEMENT_FAILURE", "ERROR", clusterArn=CLUSTER_ARN,
                          capacityProviderArns=[f"arn:aws:ecs:{REGION}:{ACCOUNT}:capacity-provider/FARGATE_SPOT"],
                          reasons=["RESOURCE:FARGATE"])
OTHER_CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/another-stack-Cluster-Q"

# (event, the rules it must reach: every other rule must let it pass)
CASES = {
    "out of memory": (OOM, {"TaskStopped"}),
    "crash, exit code 1": (task_event(stop_code="EssentialContainerExited", reason="Essential container in task exited",
                                      container={"exitCode": 1}), {"TaskStopped"}),
    "failed the load balancer's health check": (task_event(
        stop_code="ServiceSchedulerInitiated", reason="Task failed ELB health checks in (target-group "
        f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/notes/a6d71c9b9c18b389)"), {"TaskStopped"}),
    "failed its container health check": (task_event(stop_code="ServiceSchedulerInitiated",
                                                     reason="Task failed container health checks"), {"TaskStopped"}),
    # (moto 5.2 fails on a transformed message containing the word "time", so not CannotPullContainerError's
    # "retried 5 time(s)" here)
    "never started": (task_event(stop_code="TaskFailedToStart", reason="ResourceInitializationError: unable to pull "
                                 "secrets or registry auth: execution resource retrieval failed"), {"TaskStopped"}),
    "stopped by a deploy": (DEPLOY_STOP, set()),
    "stopped by a scale-in": (task_event(stop_code="ServiceSchedulerInitiated", reason="Scaling activity initiated by "
                                         "(deployment ecs-svc/4966419163549512473)"), set()),
    "stopped by a user": (task_event(stop_code="UserInitiated", reason="Task stopped by user"), set()),
    "Spot reclaimed it": (SPOT, {"SpotInterrupted"}),
    "Spot's two-minute warning": (task_event(last="RUNNING", stop_code="SpotInterruption",
                                             reason="Your Spot Task was interrupted."), set()),
    "still running": (task_event(last="RUNNING", desired="RUNNING"), set()),
    "a crash in another cluster": (task_event(stop_code="EssentialContainerExited", cluster=OTHER_CLUSTER,
                                              reason="Essential container in task exited"), set()),
    "a standalone task's crash": (task_event(stop_code="EssentialContainerExited", group="family:migrate",
                                             reason="Essential container in task exited"), set()),
    "a failed deployment": (FAILED_DEPLOYMENT, {"DeploymentFailed"}),
    "a deployment in progress": (service_event("ECS Deployment State Change", "SERVICE_DEPLOYMENT_IN_PROGRESS", "INFO",
                                               deploymentId="ecs-svc/123", reason="ECS deployment ecs-svc/123 in progress."),
                                 set()),
    "another cluster's failed deployment": (service_event(
        "ECS Deployment State Change", "SERVICE_DEPLOYMENT_FAILED", "ERROR",
        service="arn:aws:ecs:us-east-1:123456789012:service/another-stack-Cluster-Q/x", deploymentId="ecs-svc/9",
        reason="ECS deployment circuit breaker: task failed to start."), set()),
    "no capacity to place a task": (PLACEMENT, {"CannotPlace"}),
    "tasks keep failing to start": (service_event("ECS Service Action", "SERVICE_TASK_START_IMPAIRED", "WARN",
                                                  clusterArn=CLUSTER_ARN), {"CannotPlace"}),
    "a steady state": (service_event("ECS Service Action", "SERVICE_STEADY_STATE", "INFO", clusterArn=CLUSTER_ARN), set()),
    "another cluster cannot place": (service_event("ECS Service Action", "SERVICE_TASK_PLACEMENT_FAILURE", "ERROR",
                                                   clusterArn=OTHER_CLUSTER, reasons=["RESOURCE:FARGATE"]), set()),
}

# The sentence each rule sends, for samples carrying every field it reads. (For a path the event lacks, AWS
# writes an empty string, as localstack's AWS-validated snapshot of a string template shows; moto leaves the
# placeholder, so those samples are only matched above.)
SENTENCES = {
    "out of memory": (
        f"Task {TASK_ARN} of {GROUP} stopped | stop code: EssentialContainerExited | reason: Essential container in "
        "task exited | first container: exit code 137 OutOfMemoryError: Container killed due to memory usage | ECS "
        "starts a replacement; exit code 137 with OutOfMemoryError: give it more Memory in parent.yml; `make logs` "
        "shows its last lines (docs/operate.md#task-stopped)"),
    "Spot reclaimed it": (
        f"Fargate Spot reclaimed task {TASK_ARN} of {GROUP} | reason: Your Spot Task was interrupted. | ECS starts a "
        "replacement when Spot has capacity; Profile=prod keeps the first task on demand "
        "(docs/operate.md#spot-interruption)"),
    "a failed deployment": (
        f"Deployment ecs-svc/123 of {SERVICE_ARN} failed | ECS: ECS deployment circuit breaker: task failed to start. "
        "| ECS rolls back to the last deployment that worked; `make logs` shows why the new tasks failed "
        "(docs/operate.md#deployment-failed)"),
    "no capacity to place a task": (
        f"{SERVICE_ARN} cannot run its desired tasks (SERVICE_TASK_PLACEMENT_FAILURE) | it stays below its desired "
        "count until ECS can place them; `make status` shows its tasks (docs/operate.md#cannot-place-tasks)"),
}


@pytest.fixture(scope="module")
def delivered() -> dict[str, dict[str, list[str]]]:
    """{case: {rule: the messages it delivered}}: each rule of alerts.yml, its pattern and input transformer as
    rendered, on moto's default bus with an SQS queue in the topic's place; every sample put once."""
    resources = rendered()
    out = {}
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        events, sqs = session.client("events"), session.client("sqs")
        queues = {}
        for name in RULES:
            rule = resources[name]["Properties"]
            target = rule["Targets"][0]
            assert target["Arn"] == {"Ref": "Topic"}
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name=name, EventPattern=json.dumps(rule["EventPattern"]))
            events.put_targets(Rule=name, Targets=[{"Id": target["Id"], "Arn": arn,
                                                    "InputTransformer": target["InputTransformer"]}])
            queues[name] = url
        for case, (event, _) in CASES.items():
            entry = {"Source": "aws.ecs", "DetailType": event["detail-type"], "Resources": event["resources"],
                     "Detail": json.dumps(event["detail"])}
            assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
            out[case] = {}
            for name, url in queues.items():
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                for m in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                if messages:
                    out[case][name] = [json.loads(m["Body"]) for m in messages]
    return out


@pytest.mark.parametrize("case", CASES)
def test_each_event_reaches_exactly_its_rule_once(case, delivered):
    """A crash, an OOM, a failed health check or start alerts; a deploy's or scale-in's stop, a user's stop,
    Spot's warning and other clusters' events do not; a Spot reclaim alerts as one, not as a crash."""
    expected = CASES[case][1]
    assert set(delivered[case]) == expected
    assert all(len(messages) == 1 for messages in delivered[case].values())


@pytest.mark.parametrize("case", SENTENCES)
def test_each_alert_is_one_readable_line(case, delivered):
    (messages,) = delivered[case].values()
    assert messages == [SENTENCES[case]]


def test_the_rules_cover_every_documented_way_a_task_stops_on_its_own():
    """The stop codes ECS documents: the rules take the three a service's own failure sets and leave the ones
    a person or the scheduler's own scaling sets (stopped-task-error-codes.html)."""
    pattern = rendered()["TaskStopped"]["Properties"]["EventPattern"]["detail"]
    assert pattern["$or"][0]["stopCode"] == ["EssentialContainerExited", "TaskFailedToStart"]
    assert pattern["$or"][1] == {"stoppedReason": [{"prefix": "Task failed"}]}


def test_the_topic_policy_lets_exactly_this_accounts_alarms_and_this_stacks_rules_publish():
    """A topic policy replaces the default one: only the two services, each held to this account (the rules by
    their ARNs), may publish, and nothing else is allowed
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions)."""
    resources = rendered()
    policy = resources["TopicPolicy"]["Properties"]
    assert policy["Topics"] == [{"Ref": "Topic"}]
    statements = {s["Principal"]["Service"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert set(statements) == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
    for statement in statements.values():
        assert statement["Effect"] == "Allow" and statement["Action"] == "sns:Publish"
        assert statement["Resource"] == {"Ref": "Topic"}
    rules = statements["events.amazonaws.com"]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert rules == [{"Fn::GetAtt": [name, "Arn"]} for name in RULES]
    assert statements["cloudwatch.amazonaws.com"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT}}
    # every rule of the stack sends to the topic, so the policy names each one
    assert sorted(n for n, r in resources.items() if r["Type"] == "AWS::Events::Rule") == sorted(RULES)


def test_the_email_is_subscribed_only_when_given():
    plain = Renderer(template("alerts.yml"), {"ClusterName": CLUSTER}).render()["Resources"]
    given = Renderer(template("alerts.yml"), {"ClusterName": CLUSTER, "AlertEmail": "ops@example.com"}).render()
    assert "Subscription" not in plain and {"Topic", "TopicPolicy", *RULES} <= set(plain)
    assert given["Resources"]["Subscription"]["Properties"] == {
        "TopicArn": {"Ref": "Topic"}, "Protocol": "email", "Endpoint": "ops@example.com"}


def test_the_parent_wires_the_topic_into_every_stack_with_alarms():
    parent = template("parent.yml")["Resources"]
    topic = {"Fn::GetAtt": ["AlertsStack", "Outputs.TopicArn"]}
    wired = {name for name, r in parent.items() if r["Type"] == "AWS::Serverless::Application"
             and copy.deepcopy(r["Properties"].get("Parameters", {})).get("AlertTopicArn") == topic}
    services = {name for name, r in parent.items()
                if str(r.get("Properties", {}).get("Location", "")).endswith("service.yml")}
    # Every nested stack whose template takes the topic gets it (the services, the frontend, a data stack).
    takes = {name for name, r in parent.items() if r["Type"] == "AWS::Serverless::Application"
             and "AlertTopicArn" in template(str(r["Properties"]["Location"])).get("Parameters", {})}
    assert services and services | {"FrontendStack"} <= takes and wired == takes
    assert template("parent.yml")["Outputs"]["AlertTopicArn"]["Value"] == topic
