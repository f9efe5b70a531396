"""The stack's alerts as the ops commands show and test them (scripts/alerts.py), against moto: make status's
Alerts section, make alert-test, and make deploy's warning when a deployment alarm is already in ALARM.

moto's ECS leaves deploymentConfiguration.alarms out of DescribeServices, and its SNS confirms an e-mail
subscription at once: those two answers are given the way AWS gives them, through botocore's documented event
hooks (after-call) on moto's own client, or a Stubber."""
from __future__ import annotations

import pytest

from scripts import __main__ as cli
from scripts import alerts, deploy, ops
from scripts.errors import NoAlerts, ServiceNotReady, UnknownAlarm
from tests.ops.conftest import create_deployment, make_target, stubbed, use_clients
from tests.ops.fake_tools import FakeTools
from tests.ops.test_deploy import ONLY_AWS_CHECKS


def put_alarm(session, name: str, topic: str | None, state: str = "OK") -> None:
    cloudwatch = session.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="AWS/ApiGateway", MetricName="5xx", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[topic] if topic else [], OKActions=[topic] if topic else [])
    if state != "OK":
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def watching(session, t, alarms_of: dict[str, list[str]], rollout: str | None = None):
    """moto's ECS client, its DescribeServices answering each service's deployment alarms as ECS does
    (deploymentConfiguration.alarms: alarmNames, enable, rollback), through botocore's after-call event;
    `rollout`: its primary deployment's rolloutState (moto gives none)."""
    ecs = session.client("ecs")

    def add_alarms(parsed, **_):
        for service in parsed.get("services", []):
            if service["serviceName"] in alarms_of:
                service.setdefault("deploymentConfiguration", {})["alarms"] = {
                    "alarmNames": alarms_of[service["serviceName"]], "enable": True, "rollback": True}
            for deployment in service.get("deployments", [])[:1] if rollout else []:
                deployment["rolloutState"] = rollout
    ecs.meta.events.register("after-call.ecs.DescribeServices", add_alarms)
    return ecs


@pytest.fixture
def alerting(aws):
    """A deployed stack with its alert topic, an e-mail subscription, two alarms that notify the topic (the
    service's error alarm in ALARM) and one of another stack that does not."""
    outputs = create_deployment(aws, alerts=True)
    topic = outputs.alert_topic_arn
    aws.client("sns").subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    put_alarm(aws, "stack-NotesService-ApiLatencyAlarm", topic)
    put_alarm(aws, "stack-NotesService-ErrorRateAlarm", topic, "ALARM")
    put_alarm(aws, "another-stacks-alarm", None, "ALARM")
    return make_target(aws), outputs


def test_status_shows_the_topic_who_gets_alerts_and_every_alarm_of_the_stack_worst_first(alerting, monkeypatch, capsys):
    t, outputs = alerting
    use_clients(monkeypatch, t, ecs=watching(t.session, t, {"api": ["stack-NotesService-ErrorRateAlarm"]}))
    result = ops.status(t)
    out = capsys.readouterr().out
    assert f"alerts     topic {outputs.alert_topic_arn}" in out
    assert "alerts     e-mail ops@example.com: confirmed" in out
    alarm_lines = [line for line in result["alerts"] if line.startswith("alarm ")]
    assert len(alarm_lines) == 2, "only the alarms that notify the stack's topic"
    assert alarm_lines[0].startswith("alarm      ALARM             stack-NotesService-ErrorRateAlarm "
                                     "(deployment alarm of api) since 20")
    assert alarm_lines[1].startswith("alarm      OK                stack-NotesService-ApiLatencyAlarm since 20")
    assert "service    api (notes, /api)" in out, "the rest of status is there too"


def test_status_says_a_subscription_waits_for_its_confirmation_and_that_no_subscription_reaches_no_one(alerting,
                                                                                                       monkeypatch):
    t, outputs = alerting
    sns, stub = stubbed("sns")
    stub.add_response("list_subscriptions_by_topic", {"Subscriptions": [
        {"SubscriptionArn": "PendingConfirmation", "Protocol": "email", "Endpoint": "ops@example.com",
         "TopicArn": outputs.alert_topic_arn, "Owner": "123456789012"},
        {"SubscriptionArn": f"{outputs.alert_topic_arn}:1a2b", "Protocol": "https",
         "Endpoint": "https://global.sns-api.chatbot.amazonaws.com", "TopicArn": outputs.alert_topic_arn,
         "Owner": "123456789012"}]})
    use_clients(monkeypatch, t, sns=sns)
    lines = ops.status(t)["alerts"]
    (pending,) = [line for line in lines if "ops@example.com" in line]
    assert pending.startswith("alerts     e-mail ops@example.com: pending: click the link in the mail AWS sent")
    assert "alerts     AWS Chatbot (a Slack or Teams channel): confirmed" in lines

    real = t.session.client("sns")
    for s in real.list_subscriptions_by_topic(TopicArn=outputs.alert_topic_arn)["Subscriptions"]:
        real.unsubscribe(SubscriptionArn=s["SubscriptionArn"])
    use_clients(monkeypatch, t, sns=real)
    lines = ops.status(t)["alerts"]
    assert any(line.startswith("alerts     no AlertEmail: alerts go nowhere until you subscribe") for line in lines)


def test_status_of_a_stack_deployed_before_alerts_says_so_in_one_line(deployed, capsys):
    t, _ = deployed
    result = ops.status(t)
    assert result["alerts"] == ["alerts     none: this stack predates alerts (no AlertTopicArn output); "
                                "make deploy adds them"]
    assert "service    api (notes, /api): desired 0" in capsys.readouterr().out


def test_alert_test_sets_the_named_alarm_off_and_says_what_arrives_and_when_it_resets(alerting, capsys):
    t, outputs = alerting
    result = alerts.alert_test(t, outputs, "stack-NotesService-ApiLatencyAlarm")
    (alarm,) = t.client("cloudwatch").describe_alarms(AlarmNames=["stack-NotesService-ApiLatencyAlarm"])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM" and result["confirmed"] == 1
    out = capsys.readouterr().out
    assert "alarm stack-NotesService-ApiLatencyAlarm is now in ALARM" in out
    assert "a message should reach ops@example.com (e-mail, or the Chatbot channel) within a minute" in out
    assert "CloudWatch puts it back at its next evaluation (its period is 60 s)" in out


def test_alert_test_defaults_to_the_first_services_deployment_alarm(alerting, monkeypatch):
    t, outputs = alerting
    use_clients(monkeypatch, t, ecs=watching(t.session, t, {"api": ["stack-NotesService-ApiLatencyAlarm"]}))
    assert alerts.alert_test(t, outputs)["alarm"] == "stack-NotesService-ApiLatencyAlarm"


def test_alert_test_will_not_roll_a_running_deploy_back(alerting, monkeypatch):
    """A deployment alarm in ALARM fails the deployment in progress and rolls it back
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html)."""
    t, outputs = alerting
    alarm = "stack-NotesService-ApiLatencyAlarm"
    use_clients(monkeypatch, t, ecs=watching(t.session, t, {"api": [alarm]}, rollout="IN_PROGRESS"))
    with pytest.raises(ServiceNotReady, match=f"^api is deploying and {alarm} is its deployment alarm"):
        alerts.alert_test(t, outputs)
    assert alerts.alert_test(t, outputs, "stack-NotesService-ErrorRateAlarm")["alarm"].endswith("ErrorRateAlarm")
    (state,) = t.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    assert state["StateValue"] == "OK"


def test_alert_test_refuses_an_alarm_of_another_stack_a_service_without_one_and_a_stack_without_alerts(alerting,
                                                                                                        aws):
    t, outputs = alerting
    with pytest.raises(UnknownAlarm, match="^no alarm another-stacks-alarm notifies this stack's topic: use ALARM= "
                                           "with one of stack-NotesService-ErrorRateAlarm, stack-NotesService-ApiLatency"):
        alerts.alert_test(t, outputs, "another-stacks-alarm")
    with pytest.raises(UnknownAlarm, match="^service notes has no deployment alarm: name one with ALARM="):
        alerts.alert_test(t, outputs)  # moto's ECS: no deploymentConfiguration.alarms
    old = create_deployment(aws, stack="older-stack")
    with pytest.raises(NoAlerts, match="^stack older-stack predates alerts"):
        alerts.alert_test(make_target(aws, "older-stack"), old, "stack-NotesService-ApiLatencyAlarm")


def test_make_alert_test_with_a_wrong_name_is_one_line_and_exit_1(alerting, monkeypatch, capsys):
    t, _ = alerting
    monkeypatch.setattr(cli, "_target", lambda args: t)
    monkeypatch.setenv("ALARM", "typo")
    with pytest.raises(SystemExit) as exit_:
        cli.run_cli(lambda: cli.main(["alert-test"]))
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 1 and err[-1].startswith("error: no alarm typo notifies this stack's topic")


def test_deploy_warns_before_the_change_set_when_a_deployment_alarm_is_already_in_alarm(alerting, monkeypatch,
                                                                                      capsys):
    """https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html: "If an alarm is in
    the ALARM state at the beginning of a deployment, Amazon ECS will not monitor alarms for the duration of that
    deployment". Only AWS shows the deploy unwatched; this pins that make deploy says so before sam deploy runs."""
    t, _ = alerting
    use_clients(monkeypatch, t, ecs=watching(t.session, t, {"api": ["stack-NotesService-ErrorRateAlarm"]}))
    tools = FakeTools(t.session)
    deploy.deploy(t, run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0, interactive=False)
    out = capsys.readouterr().out
    warning = ("warning: api's deployment alarm stack-NotesService-ErrorRateAlarm is in ALARM: ECS does not watch "
               "deployment alarms during a deploy that starts in ALARM, so this deploy will not roll back on errors "
               "(the circuit breaker still applies)")
    assert warning in out and out.index(warning) < out.index("sam deploy ")
    assert len(tools.named("sam", "deploy")) == 1, "a warning, not a stop: a deploy is often the fix"

    t.client("cloudwatch").set_alarm_state(AlarmName="stack-NotesService-ErrorRateAlarm", StateValue="OK",
                                           StateReason="test")
    assert deploy.warn_unwatched_deploys(t) == []


def test_deploy_goes_on_when_the_alarms_cannot_be_read(alerting, monkeypatch):
    t, _ = alerting
    cloudwatch, stub = stubbed("cloudwatch")
    stub.add_client_error("describe_alarms", "AccessDenied", "not allowed")
    use_clients(monkeypatch, t, ecs=watching(t.session, t, {"api": ["stack-NotesService-ErrorRateAlarm"]}),
                cloudwatch=cloudwatch)
    (line,) = deploy.warn_unwatched_deploys(t)
    assert line.startswith("note: could not read the deployment alarms' states (DescribeAlarms failed: AccessDenied")
