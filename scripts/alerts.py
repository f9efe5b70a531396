"""The stack's alerts, as `make status`, `make alert-test` and `make deploy` read them.

Everything starts from one parent output, AlertTopicArn (the stack's SNS topic), so nothing names an alarm:
  - the stack's alarms are the alarms that notify the topic (DescribeAlarms' ActionPrefix, then an exact match
    on AlarmActions): an alarm a fork adds that notifies the topic shows up too;
  - a service's deployment alarms are its deploymentConfiguration.alarms (DescribeServices);
  - a Lambda service has none (nothing rolls a function back on an alarm): its alarms are found by what they
    watch (a FunctionName dimension naming its function), and alert-test's default for it is its stack's
    ErrorRateAlarm, which CloudFormation names (DescribeStackResource on the service's nested stack);
  - who gets the alerts is the topic's subscriptions: an e-mail address AWS is still waiting on has the
    SubscriptionArn "PendingConfirmation" (https://docs.aws.amazon.com/sns/latest/api/API_Subscription.html).
A stack deployed before alerts has no AlertTopicArn output: status says so in one line, alert-test refuses.
"""
from __future__ import annotations

from datetime import datetime

from scripts.common import Target, aws_errors, log
from scripts.errors import AwsCallFailed, NoAlerts, ServiceNotReady, UnknownAlarm
from scripts.outputs import ParentOutputs

PENDING = "PendingConfirmation"
# DescribeAlarms' StateValue, worst first: what status lists first.
STATE_ORDER = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html, as the page says it:
# "If an alarm is in the ALARM state at the beginning of a deployment, Amazon ECS will not monitor alarms for the
# duration of that deployment (Amazon ECS ignores the alarm configuration). This behavior address the case where you
# want to start a new deployment to fix an initial deployment failure."
ECS_ALARM_RULE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html"


def stack_alarms(t: Target, topic: str) -> list[dict]:
    """Every metric and composite alarm whose AlarmActions include the topic, worst state first, then by name."""
    cloudwatch = t.client("cloudwatch")
    found = []
    with aws_errors():
        for page in cloudwatch.get_paginator("describe_alarms").paginate(
                ActionPrefix=topic, AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
            found += [a for a in page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
                      if topic in a.get("AlarmActions", [])]  # a prefix also matches a longer topic name
    return sorted(found, key=lambda a: (STATE_ORDER.get(a.get("StateValue"), 3), a["AlarmName"]))


def subscriptions(t: Target, topic: str) -> list[dict]:
    sns = t.client("sns")
    found = []
    with aws_errors():
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
            found += page.get("Subscriptions", [])
    return found


def deployment_alarms(t: Target, outputs: ParentOutputs, described: list[dict] | None = None) -> dict[str, list[str]]:
    """{ECS service name: its deployment alarms' names} for the selected services (those ECS watches during a
    deploy: deploymentConfiguration.alarms with enable true); `described`: DescribeServices' answer, if read."""
    if described is None:
        described = describe_fargate(t, outputs, outputs.select(t.service))
    out = {}
    for service in described:
        alarms = service.get("deploymentConfiguration", {}).get("alarms", {})
        if alarms.get("enable") and alarms.get("alarmNames"):
            out[service["serviceName"]] = list(alarms["alarmNames"])
    return out


def describe_fargate(t: Target, outputs: ParentOutputs, services) -> list[dict]:
    """DescribeServices for the Fargate ones of `services` (none: no call; ECS refuses an empty list)."""
    names = [s.name for s in services if not s.on_lambda]
    if not names:
        return []
    with aws_errors():
        return t.client("ecs").describe_services(cluster=outputs.cluster_name, services=names)["services"]


def watched_functions(alarm: dict) -> set[str]:
    """The Lambda functions an alarm watches: each FunctionName dimension of its metric, or of its metric-math
    alarm's metrics (DescribeAlarms returns both shapes)."""
    metrics = [alarm] + [q.get("MetricStat", {}).get("Metric", {}) for q in alarm.get("Metrics", [])]
    return {d["Value"] for m in metrics if m.get("Namespace") == "AWS/Lambda"
            for d in m.get("Dimensions", []) if d.get("Name") == "FunctionName"}


def service_alarm(t: Target, svc, logical_id: str = "ErrorRateAlarm") -> str | None:
    """The name of `logical_id` in the service's nested stack, as CloudFormation created it (None: not there)."""
    cfn = t.client("cloudformation")
    try:
        with aws_errors():
            nested = cfn.describe_stack_resource(StackName=t.stack_name, LogicalResourceId=svc.key)
            nested_id = nested["StackResourceDetail"]["PhysicalResourceId"]
            alarm = cfn.describe_stack_resource(StackName=nested_id, LogicalResourceId=logical_id)
    except AwsCallFailed as exc:
        if exc.aws_code == "ValidationError":  # "Resource ... does not exist for stack ..."
            return None
        raise
    return alarm["StackResourceDetail"].get("PhysicalResourceId") or None


def _since(alarm: dict) -> str:
    stamp = alarm.get("StateUpdatedTimestamp")
    return f"since {stamp:%Y-%m-%d %H:%M} UTC" if isinstance(stamp, datetime) else ""


def subscription_line(s: dict) -> str:
    endpoint, protocol = s.get("Endpoint", "?"), s.get("Protocol", "?")
    if protocol in ("email", "email-json"):
        what = f"e-mail {endpoint}"
    elif "chatbot.amazonaws.com" in endpoint:  # AWS Chatbot subscribes its own HTTPS endpoint for a channel
        what = "AWS Chatbot (a Slack or Teams channel)"
    else:
        what = f"{protocol} {endpoint}"
    if s.get("SubscriptionArn") == PENDING:
        # Also what an address that was confirmed turns back into when SNS suspends it (more than 10 messages a
        # second: https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html).
        return (f"alerts     {what}: pending: click the link in the mail AWS sent to it (\"AWS Notification - "
                f"Subscription Confirmation\"); nothing reaches it until then (if it was confirmed before, SNS "
                f"suspended it: docs/operate.md#task-stopped)")
    return f"alerts     {what}: confirmed"


def status_lines(t: Target, outputs: ParentOutputs, described: list[dict]) -> list[str]:
    """The Alerts section of make status: the topic, who gets alerts, every alarm of the stack with its state."""
    topic = outputs.alert_topic_arn
    if not topic:
        return ["alerts     none: this stack predates alerts (no AlertTopicArn output); make deploy adds them"]
    lines = [f"alerts     topic {topic}"]
    subs = subscriptions(t, topic)
    lines += [subscription_line(s) for s in subs]
    if not subs:
        lines.append("alerts     no AlertEmail: alerts go nowhere until you subscribe (AlertEmail in samconfig.toml "
                     "and make deploy, or a chat channel: docs/operate.md)")
    watched = {name: service for service, names in deployment_alarms(t, outputs, described).items() for name in names}
    functions = {s.function: s.short for s in outputs.services.values() if s.on_lambda}
    alarms = stack_alarms(t, topic)
    for alarm in alarms:
        role = f" (deployment alarm of {watched[alarm['AlarmName']]})" if alarm["AlarmName"] in watched else ""
        on = sorted(functions[f] for f in watched_functions(alarm) if f in functions)
        role += f" (function alarm of {', '.join(on)})" if on else ""
        lines.append(f"alarm      {alarm.get('StateValue', '?'):<17} {alarm['AlarmName']}{role} {_since(alarm)}".rstrip())
    if not alarms:
        lines.append("alarms     none notify the topic")
    return lines


def alert_test(t: Target, outputs: ParentOutputs, alarm: str | None = None) -> dict:
    """Put one alarm of the stack in ALARM (SetAlarmState): its actions notify the topic, as a real alarm would.
    `alarm`: its name; default the first (or SERVICE=) service's deployment alarm."""
    topic = outputs.alert_topic_arn
    if not topic:
        raise NoAlerts(f"stack {t.stack_name} predates alerts (no AlertTopicArn output): make deploy adds them")
    alarms = {a["AlarmName"]: a for a in stack_alarms(t, topic)}
    described = describe_fargate(t, outputs, outputs.services.values())
    watched = deployment_alarms(t, outputs, described)
    if alarm is None and outputs.select(t.service)[0].on_lambda:
        first = outputs.select(t.service)[0]  # no deployment alarm on Lambda: the stack's own error-rate alarm
        alarm = service_alarm(t, first)
        if alarm is None:
            raise UnknownAlarm(f"service {first.short} (Lambda) has no ErrorRateAlarm in its stack: name one with "
                               "ALARM= (make status lists the stack's alarms)")
    if alarm is None:
        first = outputs.select(t.service)[0]
        if not watched.get(first.name):
            raise UnknownAlarm(f"service {first.short} has no deployment alarm: name one with ALARM= "
                               f"(make status lists the stack's alarms)")
        alarm = watched[first.name][0]
    if alarm not in alarms:
        known = ", ".join(alarms) or "none"
        raise UnknownAlarm(f"no alarm {alarm} notifies this stack's topic: use ALARM= with one of {known}")
    # A deployment alarm set off during a deployment fails it, and rolls it back (ECS_ALARM_RULE): not for a test.
    for service in described:
        deploying = [d for d in service.get("deployments", []) if d.get("rolloutState") == "IN_PROGRESS"]
        if alarm in watched.get(service["serviceName"], []) and deploying:
            raise ServiceNotReady(f"{service['serviceName']} is deploying and {alarm} is its deployment alarm: set "
                                  "off now, it would roll that deploy back; wait until make status shows the "
                                  "deployment COMPLETED, or name another alarm with ALARM=")
    chosen = alarms[alarm]
    with aws_errors():
        t.client("cloudwatch").set_alarm_state(
            AlarmName=alarm, StateValue="ALARM",
            StateReason="make alert-test: set by hand to prove the alert channel end to end")
    subs = subscriptions(t, topic)
    confirmed = [s for s in subs if s.get("SubscriptionArn") != PENDING]
    period = chosen.get("Period") or min((m.get("MetricStat", {}).get("Period", 60) for m in chosen.get("Metrics", [])),
                                         default=60)
    log(f"alert-test: alarm {alarm} is now in ALARM")
    if confirmed:
        log(f"alert-test: a message should reach {', '.join(s.get('Endpoint', '?') for s in confirmed)} "
            f"(e-mail, or the Chatbot channel) within a minute")
    else:
        log("alert-test: nothing will arrive: the topic has no confirmed subscription (make status says why)")
    if described:
        log(f"alert-test: CloudWatch puts it back at its next evaluation (its period is {period} s); do not deploy "
            "until then: ECS ignores the deployment alarms of a deploy that starts while one is in ALARM")
    else:  # only Lambda services: no deployment alarms to ignore
        log(f"alert-test: CloudWatch puts it back at its next evaluation (its period is {period} s)")
    return {"alarm": alarm, "period": period, "confirmed": len(confirmed)}


def deploy_warnings(t: Target, outputs: ParentOutputs) -> list[str]:
    """One line for each service whose deployment alarm is in ALARM as a deploy starts. ECS then watches no
    alarm for that whole deployment (ECS_ALARM_RULE): the deploy cannot roll back on errors, only on the
    circuit breaker. Only a warning: a deploy is often the fix for what set the alarm off, and resetting the
    alarm to OK first would roll that fix back the minute the errors it is fixing are counted again."""
    watched = deployment_alarms(t, outputs)
    names = [n for ns in watched.values() for n in ns]
    if not names:
        return []
    with aws_errors():
        described = t.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    firing = {a["AlarmName"] for a in described if a.get("StateValue") == "ALARM"}
    return [f"warning: {service}'s deployment alarm {name} is in ALARM: ECS does not watch deployment alarms during "
            f"a deploy that starts in ALARM, so this deploy will not roll back on errors (the circuit breaker still "
            f"applies); if this deploy is not the fix, wait until make status shows it OK"
            for service, ns in watched.items() for name in ns if name in firing]
