"""Alarms that can fire (issue 19): every CloudWatch alarm of every rendered variant (both ingresses,
dev and prod, custom domains and an adopted table, the second service) watches a metric its resource
publishes, under a dimension set it is published under, each dimension's value from the right
attribute of the right resource, with a statistic that means something for it (checks/alarm_metrics.py).
A typo there makes an alarm that never fires, which nothing else catches: the mutations below prove the
check sees each kind. The alarms' configuration (actions, missing data, the deployment alarm) is pinned
here too; only a deploy proves that AWS publishes and ECS reads what the documentation says."""
from __future__ import annotations

import copy
import re

import pytest

from checks.alarm_metrics import alarms, deployment, problems
from checks.render import PARENT, TWO_SERVICES, renderings, template
from tests.templates.conftest import nested, service
from tests.unit.conftest import log_lines  # noqa: F401 (a fixture)

VARIANTS = renderings()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_alarm_watches_a_metric_its_resource_publishes(variant):
    parent, values = VARIANTS[variant]
    assert alarms(parent, values), "no alarm at all"
    assert problems(parent, values) == []


def test_outside_us_east_1_the_site_alarm_is_absent_and_the_rest_still_check():
    """CloudFront publishes its metrics only in us-east-1, and an alarm reads only its own region's
    (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/programming-cloudwatch-metrics.html)."""
    found = alarms(template(PARENT), {}, "eu-west-1")
    assert not any(name.endswith("SiteErrorAlarm") for name in found) and found
    assert problems(template(PARENT), {}, "eu-west-1") == []


def per_service(found: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for key in found:
        stack, alarm = key.split()
        out.setdefault(stack, set()).add(alarm)
    return out


@pytest.mark.parametrize("variant", ["HttpApi-PublicSubnets-dev", "LoadBalancer-PublicSubnets-prod",
                                     f"{TWO_SERVICES}-LoadBalancer", *(v for v in VARIANTS if "lambda" in v.lower())])
def test_each_service_and_the_site_have_their_alarms_and_all_notify_the_topic(variant):
    """Error rate and p99 latency for every service; below-minimum only where MinTasks >= 2 on Fargate (with
    one task, zero tasks publish nothing and missing data is not an alarm; a function has no tasks); the
    function's errors and throttles on Lambda; 5xx for the site. Each notifies the topic on ALARM and on OK,
    treats missing data as fine (a stopped service stays quiet) and has no fixed name (two stacks coexist)."""
    parent, values = VARIANTS[variant]
    found = alarms(parent, values)
    stacks = per_service(found)
    services = {name: stack for name, stack in deployment(parent, values, "us-east-1", template).children.items()
                if stack.body is template("service.yml")}
    assert len(services) == (2 if variant.startswith(TWO_SERVICES) else 1)
    on_lambda = {name: stack.condition("UseLambda") for name, stack in services.items()}
    for name, stack in services.items():
        several = int(stack.evaluator.params["MinTasks"]) >= 2 and not on_lambda[name]
        assert stacks[name] == {"ErrorRateAlarm", "LatencyAlarm"} | ({"BelowMinimumAlarm"} if several else set()) \
            | ({"FunctionAlarm"} if on_lambda[name] else set())
    assert "BelowMinimumAlarm" in stacks["NotesService"] if values["Profile"] == "prod" \
        and not on_lambda["NotesService"] else True
    assert stacks["FrontendStack"] == {"SiteErrorAlarm"}  # the table's: tests/templates/notes/
    for name, properties in found.items():
        assert properties["AlarmActions"] == properties["OKActions"] == [{"Ref": "AlertTopicArn"}], name
        assert properties["TreatMissingData"] == "notBreaching", name
        assert "AlarmName" not in properties, name
        assert "docs/operate.md#" in str(properties["AlarmDescription"]), name


def test_a_deploy_that_errors_rolls_back_on_the_error_alarm_beside_the_circuit_breaker():
    """DeploymentConfiguration.Alarms with Rollback: ECS fails and rolls back a deployment when the alarm
    goes to ALARM during it or its bake time, which ECS derives from the alarm's configuration; an alarm
    already in ALARM when the deploy starts is not watched for it
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html; the bake
    time is the longest Period x EvaluationPeriods, aws/copilot-cli#4294). A short window keeps the bake
    time, and so every deploy, about 3 minutes longer, and lets the alarm return to OK soon after errors stop."""
    for ingress in ("HttpApi", "LoadBalancer"):
        resources = service(Ingress=ingress)
        deployment = resources["Service"]["Properties"]["DeploymentConfiguration"]
        assert deployment["Alarms"] == {"AlarmNames": [{"Ref": "ErrorRateAlarm"}], "Enable": True, "Rollback": True}
        assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
        alarm = resources["ErrorRateAlarm"]["Properties"]
        periods = {q["MetricStat"]["Period"] for q in alarm["Metrics"] if "MetricStat" in q}
        assert periods == {60} and alarm["EvaluationPeriods"] * 60 <= 180
        # A ratio with a minimum request count: one error on a quiet service is not an outage.
        (expression,) = [q["Expression"] for q in alarm["Metrics"] if "Expression" in q]
        assert expression.startswith("IF(requests >= 10,")


def test_each_service_saves_its_logs_insights_queries_over_its_own_log_group():
    """Errors by code, slowest requests, one request by id, task stops: named after the service's stack
    (no fixed name: two stacks coexist), over the service's log group, on fields the app writes."""
    for parent in (PARENT, TWO_SERVICES):
        for stack, (location, rendered) in nested(parent, Ingress="HttpApi").items():
            if location != "service.yml":
                continue
            queries = {k: v["Properties"] for k, v in rendered["Resources"].items()
                       if v["Type"] == "AWS::Logs::QueryDefinition"}
            assert {q["Name"]["Fn::Sub"].split("/", 1)[1] for q in queries.values()} == {
                "errors-by-code", "slowest-requests", "request-by-id", "task-stops"}, stack
            for query in queries.values():
                assert query["Name"]["Fn::Sub"].startswith("${AWS::StackName}/")
                assert query["LogGroupNames"] == [{"Ref": "LogGroup"}]


def test_the_saved_queries_read_fields_the_app_writes(log_lines):  # noqa: F811 (the fixture)
    """A query filtering on a field the app never writes finds nothing at 3 a.m.: each field a query names
    is in the lines the app writes for a request that fails (its access line and its ERROR line)."""
    from tests.unit.conftest import PROBE, make_app
    make_app().test_client().get(f"{PROBE}/boom")
    lines = log_lines()
    written = set().union(*lines)
    assert {line["logger"] for line in lines} >= {"api.access"} and any(line["level"] == "ERROR" for line in lines)
    for name, resource in template("service.yml")["Resources"].items():
        if resource["Type"] != "AWS::Logs::QueryDefinition":
            continue
        query = resource["Properties"]["QueryString"]  # one text, or one per Compute (Fn::If)
        for branch in (query["Fn::If"][1:] if isinstance(query, dict) else [query]):
            text = re.sub(r'"[^"]*"|/[^/]*/', "", branch)  # strings and patterns out
            named = set(re.findall(r"^fields (.+)$", text, re.M)[0].replace(" ", "").split(","))
            named |= set(re.findall(r"(?<!@)\b(\w+)\s*(?:=|>=|<=|>|<|\bin\b|\blike\b)", text))
            named |= set(re.findall(r"\b(?:sort|by)\s+(\w+)", text))
            named = {n for n in named if not n.startswith("@") and n not in {"count", "last_request_id"}}
            assert named <= written, (name, named - written)


# ---------------------------------------------------------------- the check fails on each kind of mistake
def altered(location: str, change) -> dict:
    body = copy.deepcopy(template(location))
    change(body)
    return body


def metric(body: dict, alarm: str, query: str, branch: int) -> dict:
    """The Metric of MetricStat `query` of a math alarm, in the Fn::If branch `branch` (1 HttpApi, 2 ALB)."""
    (stat,) = [q for q in body["Resources"][alarm]["Properties"]["Metrics"] if q["Id"] == query]
    return stat["MetricStat"]["Metric"]["Fn::If"][branch]


def set_value(node: dict, name: str, value) -> None:
    (dimension,) = [d for d in node["Dimensions"] if d["Name"] == name]
    dimension["Value"] = value


MUTATIONS = {
    # A target group's Ref is its ARN; CloudWatch keys its metrics by TargetGroupFullName.
    "target group ARN": ("service.yml", "LoadBalancer-PublicSubnets-dev",
                         lambda b: set_value(metric(b, "ErrorRateAlarm", "errors", 2), "TargetGroup",
                                             {"Ref": "TargetGroup"}),
                         "dimension TargetGroup comes from AWS::ElasticLoadBalancingV2::TargetGroup.Ref"),
    "dimension name typo": ("service.yml", "HttpApi-PublicSubnets-dev",
                            lambda b: b["Resources"]["LatencyAlarm"]["Properties"]["Dimensions"]["Fn::If"][1][0]
                            .update(Name="ApiID"),
                            "dimensions ['ApiID', 'Stage'] are not a set it is published under"),
    "REST API metric name": ("service.yml", "HttpApi-PublicSubnets-dev",
                             lambda b: metric(b, "ErrorRateAlarm", "errors", 1).update(MetricName="5XXError"),
                             "AWS/ApiGateway publishes no metric '5XXError'"),
    "average of a count": ("service.yml", "LoadBalancer-PublicSubnets-dev",
                           lambda b: [q for q in b["Resources"]["ErrorRateAlarm"]["Properties"]["Metrics"]
                                      if q["Id"] == "requests"][0]["MetricStat"].update(Stat="Average"),
                           "RequestCount: statistic 'Average'"),
    "a dimension set not published": ("service.yml", "LoadBalancer-PublicSubnets-prod",
                                      lambda b: b["Resources"]["BelowMinimumAlarm"]["Properties"]["Dimensions"]
                                      .pop(0), "dimensions ['ServiceName'] are not a set"),
    "service ARN": ("service.yml", "HttpApi-PublicSubnets-prod",
                    lambda b: set_value(b["Resources"]["BelowMinimumAlarm"]["Properties"], "ServiceName",
                                        {"Ref": "Service"}),
                    "dimension ServiceName comes from AWS::ECS::Service.Ref"),
    # Through the parent: the service's LoadBalancerFullName is the ingress stack's output.
    "load balancer ARN in another stack's output": (
        "ingress.yml", "LoadBalancer-PublicSubnets-dev",
        lambda b: b["Outputs"]["LoadBalancerFullName"].update(
            Value={"Fn::If": ["UseLoadBalancer", {"Ref": "LoadBalancer"}, ""]}),
        "dimension LoadBalancer comes from AWS::ElasticLoadBalancingV2::LoadBalancer.Ref"),
    "an unfilled 5xx count": ("service.yml", "LoadBalancer-PublicSubnets-dev",
                              lambda b: [q for q in b["Resources"]["ErrorRateAlarm"]["Properties"]["Metrics"]
                                         if q["Id"] == "rate"][0].update(
                                  Expression="IF(requests >= 10, 100 * errors / requests, 0)"),
                              "ErrorRateAlarm/Metrics/errors: AWS/ApplicationELB HTTPCode_Target_5XX_Count"),
    "a percentile that ignores quiet periods": ("service.yml", "HttpApi-PublicSubnets-dev",
                                                lambda b: b["Resources"]["LatencyAlarm"]["Properties"].update(
                                                    EvaluateLowSampleCountPercentile="ignore"),
                                                "LatencyAlarm: EvaluateLowSampleCountPercentile ignore"),
    "CloudFront region": ("frontend.yml", "HttpApi-PublicSubnets-dev",
                          lambda b: set_value(b["Resources"]["SiteErrorAlarm"]["Properties"], "Region", "us-east-1"),
                          "dimension Region comes from literal 'us-east-1'"),
    "a high-resolution period": ("service.yml", "HttpApi-PublicSubnets-dev",
                                 lambda b: [q for q in b["Resources"]["ErrorRateAlarm"]["Properties"]["Metrics"]
                                            if q["Id"] == "requests"][0]["MetricStat"].update(Period=30),
                                 "period 30 is not a whole number of minutes"),
    "a joined value": ("frontend.yml", "HttpApi-PublicSubnets-dev",
                       lambda b: set_value(b["Resources"]["SiteErrorAlarm"]["Properties"], "DistributionId",
                                           {"Fn::Sub": "${Distribution}-x"}),
                       "dimension DistributionId comes from expression"),
}


def assert_caught(location: str, variant: str, change, expected: str) -> None:
    """The check, run on `variant` with `location` changed by `change`, reports `expected`."""
    parent, values = VARIANTS[variant]
    changed = altered(location, change)
    found = problems(parent, values, load=lambda name: changed if name == location else template(name))
    assert any(expected in problem for problem in found), found


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_the_check_fails_on_each_kind_of_mistake(mutation):
    assert_caught(*MUTATIONS[mutation])


def test_the_check_follows_the_parent_wiring_and_the_region():
    """The parent passing the wrong output (the listener's ARN as the load balancer's name) fails, and so
    does CloudFront's alarm in a stack outside us-east-1, where it would read nothing."""
    parent, values = VARIANTS["LoadBalancer-PublicSubnets-dev"]
    wrong = copy.deepcopy(parent)
    wrong["Resources"]["NotesService"]["Properties"]["Parameters"]["LoadBalancerFullName"] = {
        "Fn::GetAtt": ["IngressStack", "Outputs.ListenerArn"]}
    assert any("dimension LoadBalancer comes from AWS::ElasticLoadBalancingV2::Listener.Ref" in p
               for p in problems(wrong, values))
    everywhere = altered("frontend.yml", lambda b: b["Resources"]["SiteErrorAlarm"].pop("Condition"))
    found = problems(template(PARENT), {}, "eu-west-1",
                     load=lambda name: everywhere if name == "frontend.yml" else template(name))
    assert any("AWS/CloudFront publishes only in us-east-1" in p for p in found), found


# ---------------------------------------------------------------- Compute=Lambda: the function's alarm
# service.yml's FunctionAlarm as it is, in a fixture stack beside a function and what it refers to, so the
# check runs on the alarm before the rendered variants include Compute=Lambda (once they do, the first test
# of this file checks it in every Lambda variant too).
LAMBDA_PARENT = {"Resources": {
    "Topic": {"Type": "AWS::SNS::Topic"},
    "ReportsService": {"Type": "AWS::Serverless::Application",
                       "Properties": {"Location": "lambda-fixture.yml", "Parameters": {"AlertTopicArn": {"Ref": "Topic"}}}}}}


def lambda_stack(change=None) -> dict:
    body = {"Parameters": {"AlertTopicArn": {"Type": "String"}, "Compute": {"Type": "String", "Default": "Lambda"}},
            "Conditions": {"UseLambda": {"Fn::Equals": [{"Ref": "Compute"}, "Lambda"]}},
            "Resources": {"LogGroup": {"Type": "AWS::Logs::LogGroup"},
                          "Function": {"Type": "AWS::Lambda::Function", "Properties": {"PackageType": "Image"}},
                          "FunctionAlarm": copy.deepcopy(template("service.yml")["Resources"]["FunctionAlarm"])}}
    if change:
        change(body)
    return body


def lambda_problems(change=None) -> list[str]:
    body = lambda_stack(change)
    return problems(LAMBDA_PARENT, {}, load=lambda name: body if name == "lambda-fixture.yml" else template(name))


def function_metric(body: dict, query: str) -> dict:
    (stat,) = [q for q in body["Resources"]["FunctionAlarm"]["Properties"]["Metrics"] if q["Id"] == query]
    return stat["MetricStat"]["Metric"]


def test_the_function_alarm_watches_its_functions_errors_and_throttles_filled():
    """Errors + Throttles of the service's own function (FunctionName = Ref Function, the function's name),
    each FILLed (Lambda sends them only for minutes with invocations), notifying the topic on ALARM and OK,
    quiet on missing data, no fixed name, a runbook anchor; only with Compute=Lambda, and BelowMinimumAlarm
    (ECS tasks) only without it (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html)."""
    assert lambda_problems() == []
    found = alarms(LAMBDA_PARENT, {}, load=lambda name: lambda_stack() if name == "lambda-fixture.yml" else
                   template(name))
    properties = found["ReportsService FunctionAlarm"]
    body = lambda_stack()
    assert {function_metric(body, q)["MetricName"] for q in ("errors", "throttles")} == {"Errors", "Throttles"}
    assert properties["AlarmActions"] == properties["OKActions"] == [{"Ref": "AlertTopicArn"}]
    assert properties["TreatMissingData"] == "notBreaching" and "AlarmName" not in properties
    assert "docs/operate.md#function-failing" in str(properties["AlarmDescription"])
    resources = template("service.yml")["Resources"]
    assert resources["FunctionAlarm"]["Condition"] == "UseLambda"
    conditions = template("service.yml")["Conditions"]
    assert {"Condition": "UseFargate"} in conditions[resources["BelowMinimumAlarm"]["Condition"]]["Fn::And"]


LAMBDA_MUTATIONS = {
    "the function's ARN, not its name": (
        lambda b: function_metric(b, "errors")["Dimensions"][0].update(Value={"Fn::GetAtt": ["Function", "Arn"]}),
        "dimension FunctionName comes from AWS::Lambda::Function.Arn"),
    "a dimension Lambda does not publish under": (
        lambda b: function_metric(b, "throttles")["Dimensions"][0].update(Name="Function"),
        "dimensions ['Function'] are not a set it is published under"),
    "the log group's name as the function's": (
        lambda b: function_metric(b, "errors")["Dimensions"][0].update(Value={"Ref": "LogGroup"}),
        "dimension FunctionName comes from AWS::Logs::LogGroup.Ref"),
    "an unfilled throttle count": (
        lambda b: [q for q in b["Resources"]["FunctionAlarm"]["Properties"]["Metrics"] if q["Id"] == "failed"][0]
        .update(Expression="FILL(errors, 0) + throttles"),
        "Metrics/throttles: AWS/Lambda Throttles is published only in periods with an event"),
    "a metric Lambda does not publish": (
        lambda b: function_metric(b, "errors").update(MetricName="FunctionErrors"),
        "AWS/Lambda publishes no metric 'FunctionErrors'"),
}


@pytest.mark.parametrize("mutation", list(LAMBDA_MUTATIONS))
def test_the_check_fails_on_each_kind_of_mistake_in_a_function_alarm(mutation):
    change, expected = LAMBDA_MUTATIONS[mutation]
    found = lambda_problems(change)
    assert any(expected in problem for problem in found), found


def test_every_alarms_runbook_anchor_is_a_heading_of_operate_md():
    """An alarm's message ends with docs/operate.md#<section>: at 3 a.m. that link must land on the section,
    so each anchor any template's alarm names is the GitHub slug of one of operate.md's headings."""
    from checks.render import CHILD_TEMPLATES, ROOT
    headings = re.findall(r"^#+ (.+)$", (ROOT / "docs" / "operate.md").read_text(), re.M)
    slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}
    named = set()
    for location in CHILD_TEMPLATES:
        for resource in template(location)["Resources"].values():
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                named |= set(re.findall(r"docs/operate\.md#([\w-]+)", str(resource["Properties"]["AlarmDescription"])))
    assert "function-failing" in named and named <= slugs, named - slugs
