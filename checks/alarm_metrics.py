"""Every CloudWatch alarm watches a metric that arrives.

An alarm on a metric nobody publishes is accepted by CloudWatch and never fires: a typo in a metric or
dimension name, a dimension set the service does not publish under, or a dimension value taken from the
wrong attribute (a target group's ARN where CloudWatch keys it by its TargetGroupFullName) all make an
alarm that stays quiet through every outage. CloudFormation, cfn-lint and CloudWatch itself accept
each of them. This check holds every AWS::CloudWatch::Alarm of every template a parent nests, for one
parameter set and region, to PUBLISHED, the metrics each namespace publishes (from AWS's metrics page of
each service, linked there):

- each metric the alarm reads (the alarm's own, or each MetricStat of a metric-math alarm) is one its
  namespace publishes, with a statistic that means something for it;
- its dimension names are exactly one of the sets the metric is published under;
- each dimension's value comes from the attribute CloudWatch keys the metric by, of a resource of the
  right type: followed through Fn::If (the conditions of that deployment), Ref and Fn::GetAtt, a nested
  stack's parameter to what the parent passes it, and another stack's output to its value there;
- its period is a whole number of minutes (AWS's metrics are per minute);
- a count published only in periods with an event is FILLed wherever a metric-math expression uses it;
- a percentile alarm is evaluated however few samples a period has;
- a namespace published in one region only (CloudFront's, us-east-1) has no alarm elsewhere.

A value it cannot follow (a Join, a Select, a Sub of more than one value) fails too: a dimension value
should be one attribute. Used by tests/templates/test_alarm_metrics.py for every rendered variant.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from checks.evaluate import Evaluator
from checks.render import PARENT, nested_parameters, template

# Statistics that mean something for a count (the number of events in the period), a duration (a
# distribution: percentiles too), a level sampled per period (utilisation), a rate (an average).
COUNT = frozenset({"Sum"})
DURATION = frozenset({"Average", "Minimum", "Maximum", "p"})  # "p": any percentile, p50 ... p99.9
LEVEL = frozenset({"Average", "Minimum", "Maximum", "SampleCount"})
RATE = frozenset({"Average"})


@dataclass(frozen=True)
class Namespace:
    url: str                                     # AWS's page listing the namespace's metrics
    metrics: dict[str, frozenset[str]]           # metric -> the statistics that make sense for it
    dimension_sets: tuple[frozenset[str], ...]   # the sets its metrics are published under
    regions: frozenset[str] = frozenset()        # only these regions (empty: every region)


def dims(*sets: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(s) for s in sets)


PUBLISHED = {
    # HTTP APIs (a REST API's metrics are 5XXError, 4XXError and ApiName dimensions: not ours). Per-route
    # metrics (the Route dimension) are published only with detailed metrics turned on (paid).
    "AWS/ApiGateway": Namespace(
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html",
        {"4xx": COUNT | RATE, "5xx": COUNT | RATE, "Count": COUNT | {"SampleCount"}, "DataProcessed": COUNT,
         "Latency": DURATION, "IntegrationLatency": DURATION},
        dims(("ApiId",), ("ApiId", "Stage"), ("ApiId", "Stage", "Route"))),
    "AWS/ApplicationELB": Namespace(
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html",
        {"RequestCount": COUNT, "HTTPCode_Target_5XX_Count": COUNT, "HTTPCode_Target_4XX_Count": COUNT,
         "HTTPCode_ELB_5XX_Count": COUNT, "TargetResponseTime": DURATION,
         "HealthyHostCount": LEVEL, "UnHealthyHostCount": LEVEL},
        dims(("LoadBalancer",), ("TargetGroup", "LoadBalancer"), ("AvailabilityZone", "LoadBalancer"),
             ("AvailabilityZone", "TargetGroup", "LoadBalancer"))),
    # Service-level metrics of a Fargate service; CPUUtilization's SampleCount is the number of its
    # RUNNING tasks (service_utilization.html, "Service RUNNING task count").
    "AWS/ECS": Namespace(
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html",
        {"CPUUtilization": LEVEL, "MemoryUtilization": LEVEL},
        dims(("ClusterName", "ServiceName"))),
    "AWS/DynamoDB": Namespace(
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html",
        {"ReadThrottleEvents": COUNT | {"SampleCount"}, "WriteThrottleEvents": COUNT | {"SampleCount"},
         "ThrottledRequests": COUNT, "SystemErrors": COUNT, "UserErrors": COUNT,
         "ConsumedReadCapacityUnits": COUNT, "ConsumedWriteCapacityUnits": COUNT},
        dims(("TableName",), ("TableName", "GlobalSecondaryIndexName"), ("TableName", "Operation"))),
    # A function's metrics, per function (FunctionName: Ref of the function); Resource (a version or alias)
    # and ExecutedVersion (an alias's invocations) narrow it: the sets aws-cdk-lib's generated
    # aws-lambda/lib/lambda-canned-metrics names (its account-wide set of none is not a service's).
    "AWS/Lambda": Namespace(
        "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html",
        {"Invocations": COUNT, "Errors": COUNT, "Throttles": COUNT, "DeadLetterErrors": COUNT,
         "Duration": DURATION, "PostRuntimeExtensionsDuration": DURATION, "ConcurrentExecutions": LEVEL,
         "ProvisionedConcurrencySpilloverInvocations": COUNT},
        dims(("FunctionName",), ("FunctionName", "Resource"), ("FunctionName", "Resource", "ExecutedVersion"))),
    # Published only in us-east-1, under Region=Global (an alarm reads only its own region's metrics).
    "AWS/CloudFront": Namespace(
        "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/programming-cloudwatch-metrics.html",
        {"Requests": COUNT, "5xxErrorRate": RATE, "4xxErrorRate": RATE, "TotalErrorRate": RATE,
         "BytesDownloaded": COUNT, "BytesUploaded": COUNT},
        dims(("DistributionId", "Region")), frozenset({"us-east-1"})),
}


@dataclass(frozen=True)
class Source:
    """Where a value comes from: (resource type, attribute) for a resource's Ref ("Ref") or GetAtt, or
    ("literal", text), ("parameter", the parent's parameter), ("expression", what could not be followed)."""
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.detail}" if self.kind.startswith("AWS::") else f"{self.kind} {self.detail!r}"


# Counts AWS publishes only for a period in which the event happened (none at all in a quiet one): in a
# metric-math expression such a series must be filled (FILL(id, 0)), because arithmetic on series yields a
# value only where every operand has one, so `reads + writes` says nothing in a minute with throttled writes
# and no throttled reads (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html).
# Every load balancer HTTPCode_* count is such a count. RequestCount is too, but it is exempt: used as a
# divisor or a minimum, a missing one makes the result missing, which the alarm takes as not breaching; do not
# add two of them.
SPARSE = frozenset({
    ("AWS/ApplicationELB", "RejectedConnectionCount"), ("AWS/ApplicationELB", "TargetConnectionErrorCount"),
    ("AWS/DynamoDB", "ReadThrottleEvents"), ("AWS/DynamoDB", "WriteThrottleEvents"),
    ("AWS/DynamoDB", "ThrottledRequests"), ("AWS/DynamoDB", "SystemErrors"), ("AWS/DynamoDB", "UserErrors"),
    ("AWS/DynamoDB", "ConditionalCheckFailedRequests"), ("AWS/DynamoDB", "TransactionConflict"),
    ("AWS/DynamoDB", "OnlineIndexThrottleEvents"),
    # Lambda sends a function's counts only for minutes with invocations (nonzero values).
    ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"), ("AWS/Lambda", "DeadLetterErrors"),
})


def sparse(namespace: str, name: str) -> bool:
    return (namespace, name) in SPARSE or (namespace == "AWS/ApplicationELB" and str(name).startswith("HTTPCode_"))

# Dimension -> where its value may come from: the attribute CloudWatch keys the metric by.
SOURCES: dict[str, frozenset[Source]] = {
    "ApiId": frozenset({Source("AWS::ApiGatewayV2::Api", "Ref")}),                   # Ref: the API id
    "Stage": frozenset({Source("AWS::ApiGatewayV2::Stage", "Ref"), Source("literal", "$default")}),
    "TargetGroup": frozenset({Source("AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupFullName")}),
    "LoadBalancer": frozenset({Source("AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerFullName")}),
    "ClusterName": frozenset({Source("AWS::ECS::Cluster", "Ref")}),                  # Ref: the cluster's name
    "ServiceName": frozenset({Source("AWS::ECS::Service", "Name")}),
    # The created table, or one a deployment adopts by name (parent.yml's ExistingTableName).
    "TableName": frozenset({Source("AWS::DynamoDB::Table", "Ref"), Source("parameter", "ExistingTableName")}),
    "DistributionId": frozenset({Source("AWS::CloudFront::Distribution", "Ref")}),  # Ref: the distribution id
    "FunctionName": frozenset({Source("AWS::Lambda::Function", "Ref")}),             # Ref: the function's name
    "Region": frozenset({Source("literal", "Global")}),
}
ALARM = "AWS::CloudWatch::Alarm"


class Stack:
    """One template of a deployment: its conditions for the values it gets, and where they come from."""

    def __init__(self, body: dict, evaluator: Evaluator, parent: Stack | None = None, logical_id: str = ""):
        self.body, self.evaluator, self.parent, self.logical_id = body, evaluator, parent, logical_id
        self.children: dict[str, Stack] = {}

    def condition(self, name: str) -> bool:
        """A condition of this stack for this deployment; one the values cannot decide is an error, never
        a silently skipped alarm."""
        taken = self.evaluator.condition(name)
        if taken is None:
            raise ValueError(f"{self.logical_id or PARENT}: condition {name} cannot be decided for these values")
        return taken

    def shaped(self, node):
        """`node` with each Fn::If replaced by the branch this deployment takes (AWS::NoValue dropped)."""
        if isinstance(node, list):
            return [v for v in (self.shaped(n) for n in node) if v != {"Ref": "AWS::NoValue"}]
        if isinstance(node, dict):
            if len(node) == 1 and "Fn::If" in node:
                name, if_true, if_false = node["Fn::If"]
                return self.shaped(if_true if self.condition(name) else if_false)
            return {k: v for k, v in ((k, self.shaped(v)) for k, v in node.items()) if v != {"Ref": "AWS::NoValue"}}
        return node

    def trace(self, node) -> Source:
        node = self.shaped(node)
        if isinstance(node, (str, int, float)):
            return Source("literal", str(node))
        if isinstance(node, dict) and len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Fn::Sub" and isinstance(arg, str) and re.fullmatch(r"\$\{[^}]+\}", arg):
                name = arg[2:-1]
                return self.trace({"Fn::GetAtt": name.split(".", 1)} if "." in name else {"Ref": name})
            if fn == "Ref":
                return self._ref(arg)
            if fn == "Fn::GetAtt":
                resource, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                return self._get_att(resource, attribute)
        return Source("expression", repr(node))

    def _ref(self, name: str) -> Source:
        resources = self.body.get("Resources", {})
        if name in resources:
            return Source(resources[name]["Type"], "Ref")
        if name in self.body.get("Parameters", {}):
            if self.parent is None:
                return Source("parameter", name)
            given = self.parent.body["Resources"][self.logical_id]["Properties"].get("Parameters", {})
            if name in given:
                return self.parent.trace(given[name])
            return Source("literal", str(self.body["Parameters"][name].get("Default", "")))
        return Source("expression", f"Ref {name}")

    def _get_att(self, resource: str, attribute: str) -> Source:
        child = self.children.get(resource)
        if child is not None and attribute.startswith("Outputs."):
            output = child.body.get("Outputs", {}).get(attribute.split(".", 1)[1])
            if output is None:
                return Source("expression", f"GetAtt {resource}.{attribute}: no such output")
            return child.trace(output["Value"])
        kind = self.body.get("Resources", {}).get(resource, {}).get("Type")
        return Source(kind, attribute) if kind else Source("expression", f"GetAtt {resource}.{attribute}")

    def exists(self, resource: dict) -> bool:
        return "Condition" not in resource or self.condition(resource["Condition"])


def deployment(parent: dict, values: dict, region: str, load: Callable[[str], dict]) -> Stack:
    """The parent and each nested stack it creates for `values` in `region`."""
    evaluator = Evaluator(parent, values, region, PARENT)
    root = Stack(parent, evaluator)
    for stack, location, given in nested_parameters(evaluator):
        if given is not None:
            body = load(str(location))  # a plain str: template() caches by it
            root.children[stack] = Stack(body, Evaluator(body, given, region, str(location)), root, stack)
    return root


def read_metrics(properties: dict) -> list[tuple[str, dict, str, object]]:
    """(where, the metric {Namespace, MetricName, Dimensions}, its statistic, its period) of each metric an
    alarm reads."""
    if "Metrics" in properties:
        return [(f"Metrics/{q.get('Id')}", q["MetricStat"]["Metric"], q["MetricStat"].get("Stat", ""),
                 q["MetricStat"].get("Period")) for q in properties["Metrics"] if "MetricStat" in q]
    return [("", {k: properties.get(k) for k in ("Namespace", "MetricName", "Dimensions")},
             properties.get("ExtendedStatistic") or properties.get("Statistic", ""), properties.get("Period"))]


def statistic_fits(statistic: str, allowed: frozenset[str]) -> bool:
    return statistic in allowed or ("p" in allowed and re.fullmatch(r"p\d{1,2}(\.\d+)?", statistic) is not None)


def metric_problems(stack: Stack, metric: dict, statistic: str, period, region: str) -> list[str]:
    namespace, name = metric.get("Namespace"), metric.get("MetricName")
    published = PUBLISHED.get(namespace)
    if published is None:
        return [f"namespace {namespace!r} is not in checks/alarm_metrics.py's PUBLISHED"]
    if published.regions and region not in published.regions:
        return [f"{namespace} publishes only in {', '.join(sorted(published.regions))}, and an alarm in {region} "
                "reads only its own region's metrics: it would never fire"]
    if name not in published.metrics:
        return [f"{namespace} publishes no metric {name!r} ({published.url})"]
    problems = []
    # AWS's metrics are per minute: a 10 or 30 s period makes a high-resolution alarm (three times the
    # price, https://aws.amazon.com/cloudwatch/pricing/) that finds no data in most of its periods.
    if not str(period).isdigit() or int(period) % 60:
        problems.append(f"{namespace} {name}: period {period!r} is not a whole number of minutes")
    if not statistic_fits(statistic, published.metrics[name]):
        problems.append(f"{namespace} {name}: statistic {statistic!r} is not one of "
                        f"{sorted(published.metrics[name])} ('p': a percentile)")
    dimensions = metric.get("Dimensions") or []
    names = [d.get("Name") for d in dimensions]
    if len(set(names)) != len(names) or frozenset(names) not in published.dimension_sets:
        problems.append(f"{namespace} {name}: dimensions {names} are not a set it is published under "
                        f"({[sorted(s) for s in published.dimension_sets]}; {published.url})")
    for dimension in dimensions:
        source = stack.trace(dimension.get("Value"))
        accepted = SOURCES.get(dimension.get("Name"), frozenset())
        if source not in accepted:
            problems.append(f"{namespace} {name}: dimension {dimension.get('Name')} comes from {source}, not from "
                            f"{' or '.join(sorted(map(str, accepted))) or 'a source SOURCES knows'}")
    return problems


def unfilled(properties: dict) -> list[str]:
    """The ids of SPARSE metrics a metric-math alarm's expressions use outside FILL(id, ...)."""
    queries = properties.get("Metrics") or []
    expressions = " ".join(str(q["Expression"]) for q in queries if "Expression" in q)
    out = []
    for q in queries:
        metric = q.get("MetricStat", {}).get("Metric", {})
        if sparse(metric.get("Namespace"), metric.get("MetricName")):
            uses = len(re.findall(rf"\b{re.escape(q['Id'])}\b", expressions))
            if uses > len(re.findall(rf"FILL\(\s*{re.escape(q['Id'])}\b", expressions)):
                out.append(f"Metrics/{q['Id']}: {metric['Namespace']} {metric['MetricName']} is published only "
                           "in periods with an event: use it as FILL(" + q["Id"] + ", 0) in the expression")
    return out


def problems(parent: dict, values: dict, region: str = "us-east-1",
             load: Callable[[str], dict] = template) -> list[str]:
    """What is wrong with the metrics of every alarm the parent's stacks create for `values` in `region`
    (`load`: a child template by its Location; the tests pass altered copies)."""
    root = deployment(parent, values, region, load)
    found = []
    for stack in (root, *root.children.values()):
        where = stack.logical_id or PARENT
        for name, resource in stack.body.get("Resources", {}).items():
            if resource.get("Type") != ALARM or not stack.exists(resource):
                continue
            properties = stack.shaped(resource.get("Properties", {}))
            found += [f"{where} {name}/{p}" for p in unfilled(properties)]
            # With `ignore`, a percentile alarm keeps its state through every period with fewer than
            # 10 / (1 - p) samples (1,000 for p99): at a small service's traffic it could neither fire nor
            # return to OK (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/percentiles-with-low-samples.html).
            if properties.get("EvaluateLowSampleCountPercentile") == "ignore":
                found.append(f"{where} {name}: EvaluateLowSampleCountPercentile ignore leaves a percentile alarm "
                             "unchanged below 10 / (1 - p) samples a period: use evaluate")
            for place, metric, statistic, period in read_metrics(properties):
                found += [f"{where} {name}{'/' + place if place else ''}: {p}"
                          for p in metric_problems(stack, metric, statistic, period, region)]
    return found


def alarms(parent: dict, values: dict, region: str = "us-east-1", load: Callable[[str], dict] = template
           ) -> dict[str, dict]:
    """{"<stack> <alarm>": its properties as this deployment creates them} (Fn::If resolved)."""
    root = deployment(parent, values, region, load)
    return {f"{stack.logical_id or PARENT} {name}": stack.shaped(resource.get("Properties", {}))
            for stack in (root, *root.children.values())
            for name, resource in stack.body.get("Resources", {}).items()
            if resource.get("Type") == ALARM and stack.exists(resource)}

