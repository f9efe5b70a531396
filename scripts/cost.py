"""`make cost`: the monthly bill of the configuration you are about to deploy.

    make cost                                   # dev's configuration, 1 M requests a month
    make cost ENV=prod REQUESTS=20000000
    make cost PARAMS="Ingress=LoadBalancer NetworkMode=PrivateSubnets" TASKS=2
    make cost PARAMS="Compute=Lambda"           # the services as functions (docs/compute.md)
    python -m scripts cost --json ...        (also python -m scripts.cost)

The configuration is parent.yml's parameter defaults, overridden by the
samconfig.toml environment, overridden by PARAMS; what those parameters do not
decide is read from parent.yml as code: each service's block (its size and
scaling, every service the parent declares), the Profile mapping, the data
stacks' table ceilings. Prices come from
scripts/prices.toml (one dated file, with sources); traffic assumptions too.
Fixed costs (what you pay at zero traffic) and per-request costs are shown
apart, then the same traffic on the other ingress and network mode, and the
request volumes at which switching ingress pays off and at which Fargate becomes
cheaper than Lambda (Compute: a service on Lambda bills requests and GB-seconds
for an assumed duration, prices.toml [assumptions]; with Compute=Lambda the idle
total is printed without the alarms, and the alarms apart). Then what a deploy that
builds the images costs (`deploy` in --json): the stack builds them in
CodeBuild, driven by custom resources, and keeps the last ones in its
repositories; nothing of it runs at rest, so the monthly estimate (the idle total)
is the same as before the stack built its images, and the images kept bill
storage (ECR, per GB-month), shown beside it. Last, the ceiling: the most
the configuration can cost in a month with every throttle saturated (`ceiling`
in --json).
"""
from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import math
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cache, lru_cache
from pathlib import Path

from blueprint.templates import NESTED, child, condition, load, nested_parameters, parent, resolve, service_resources
from scripts import generated
from scripts.common import (
    DEFAULT_REGION,
    ROOT,
    OpsError,
    Parser,
    check_allowed,
    check_parameters,
    check_task_range,
    load_samconfig,
    parse_overrides,
    resolve_region,
    run_cli,
    say_region,
)
from scripts.errors import NoCredentials, UsageError

PRICES = Path(__file__).with_name("prices.toml")
GIB = 2 ** 30
README = ROOT / "docs" / "cost.md"  # where the generated block lives (--readme takes another path)
BLOCK = "cost"  # <!-- cost:start --> ... <!-- cost:end -->, written by scripts/generated.py
INGRESS_LINES = ("ALB", "ALB LCUs", "Public IPv4 (ALB)", "API Gateway requests", "Cloud Map")


@dataclass
class Line:
    item: str
    fixed: float = 0.0
    variable: float = 0.0
    detail: str = ""

    @property
    def total(self) -> float:
        return self.fixed + self.variable


@dataclass
class Estimate:
    config: dict
    requests: float
    tasks: float
    region: str
    price_date: str
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tasks_needed: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def fixed(self) -> float:
        return sum(line.fixed for line in self.lines)

    @property
    def variable(self) -> float:
        return sum(line.variable for line in self.lines)

    @property
    def total(self) -> float:
        return self.fixed + self.variable

    def subtotal(self, items) -> float:
        return sum(line.total for line in self.lines if line.item in items)


@dataclass
class DeployCost:
    """What one deploy that builds every service's image costs, beside the monthly estimate: build minutes and
    the custom resources' invocations per deploy, before the free tiers (nothing of them runs at rest); and
    the storage of the images the repositories keep, a month, at most (the one part that bills at rest)."""

    lines: list[Line]  # per deploy: Line.variable
    storage: Line  # the images kept: Line.fixed, a month
    builds: int  # images built per deploy
    free_deploys: int  # such deploys a month within CodeBuild's free minutes
    minutes: float  # one build's, estimated (prices.toml [assumptions])

    @property
    def per_deploy(self) -> float:
        return sum(line.variable for line in self.lines)


# ----------------------------------------------------------------- inputs
@lru_cache(maxsize=8)
def _read_toml(path: Path, mtime: float) -> dict:
    return tomllib.loads(path.read_text())


def price_file(path: Path = PRICES) -> dict:
    """prices.toml, parsed once per version of the file (break_even calls estimate hundreds of times)."""
    return _read_toml(path, path.stat().st_mtime)


@lru_cache(maxsize=1)
def access_log_max_bytes() -> int:
    """The longest access-log line the app writes: the one bound app/api/config.py sets and app/api/logs.py
    holds, read from that file (it imports no Flask), so the ceiling prices what the app enforces."""
    spec = importlib.util.spec_from_file_location("app_api_config", ROOT / "app" / "api" / "config.py")
    config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(config)
    return config.ACCESS_LOG_MAX_BYTES


parent_template = parent  # parent.yml, read once: its defaults, allowed values and Fargate-size rule


@lru_cache(maxsize=1)
def service_template() -> dict:
    return load(ROOT / "service.yml")


def services(parent: dict | None = None) -> list[str]:
    """The parent's services: its nested applications whose Location is service.yml (each runs its own
    tasks, and with Ingress=HttpApi adds its own routes)."""
    return list(service_resources(parent if parent is not None else parent_template()))


def routes(parent: dict | None = None) -> int:
    """HTTP API routes the parent's services add: the stage's throttle applies to each route on its own
    (DefaultRouteSettings are every route's defaults, one token bucket per route:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html), so the API
    accepts ApiRateLimit x this many requests a second."""
    per_service = sum(1 for r in service_template()["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Route")
    return len(services(parent)) * per_service


def load_prices(region: str, path: Path = PRICES) -> tuple[dict, dict, str, list[str]]:
    data = price_file(path)
    notes = []
    if region not in data["regions"]:
        notes.append(f"no prices for {region} in {path.name}: priced as us-east-1")
        region = "us-east-1"
    return data["regions"][region], data["assumptions"], data["date"], notes


def template_defaults() -> dict[str, str]:
    return {name: str(spec.get("Default", "")) for name, spec in parent_template()["Parameters"].items()}


def configuration(env: str | None = "dev", params: str = "") -> dict[str, str]:
    """parent.yml's parameters: defaults, then samconfig.toml's environment, then PARAMS (only what is a
    parameter; what a block sets as code is read by settings())."""
    config = template_defaults()
    if env:
        config.update(parse_overrides(load_samconfig(env).get("parameter_overrides", "")))
    overrides = parse_overrides(params, "PARAMS")
    check_parameters(overrides, "PARAMS")
    config.update(overrides)
    validate(config)
    return config


# What a service's block decides (service.yml's parameters): a config carrying one of these keys overrides
# it for every service (tests and what-ifs of code).
SERVICE_KEYS = ("Architecture", "Cpu", "Memory", "MinTasks", "MaxTasks", "CpuTarget", "SpotWeight", "OnDemandBase",
                "OnDemandWeight", "DesiredCount", "StopSchedule", "StartSchedule")
# What the environment's blocks decide (the Profile mapping, code), by the stack and parameter that get it.
ENVIRONMENT_KEYS = {"LogRetentionDays": ("IngressStack", "LogRetentionDays"),
                    "NatGateways": ("VpcStack", "NatGateways"),
                    "ContainerInsights": ("ClusterStack", "ContainerInsights"),
                    "ApiRateLimit": ("IngressStack", "ApiRateLimit"),
                    "HostedZoneId": ("IngressStack", "HostedZoneId"),
                    "WafRateLimit": ("FrontendStack", "WafRateLimit")}


def settings(config: dict, region: str = "us-east-1", parent: dict | None = None) -> tuple[dict, dict[str, dict]]:
    """(the environment's settings, {service: its settings}) for the parameters in `config`, as the parent's
    blocks pass them; a key of `config` that is not a parent parameter overrides what the blocks say."""
    parent = parent if parent is not None else parent_template()
    values = {**{k: v for k, v in config.items() if k in parent["Parameters"]}, "AWS::Region": region}
    env = {key: nested_parameters(parent, stack, values).get(name) for key, (stack, name) in ENVIRONMENT_KEYS.items()
           if stack in parent["Resources"]}
    env.update(data_bounds(parent, values))
    env.update({k: v for k, v in config.items() if k not in parent["Parameters"] and k not in SERVICE_KEYS
                and k != "services"})
    overrides = {k: str(config[k]) for k in SERVICE_KEYS if k in config}
    per_service = {name: {**nested_parameters(parent, name, values), **overrides} for name in services(parent)}
    return env, per_service


# Compute=Lambda (docs/compute.md). A service's Compute comes from its block (`Compute: !Ref Compute`, resolved
# for the configuration, or a literal a fork writes); a block without one runs on Fargate (service.yml's default).
FUNCTION_TIMEOUT = 29  # seconds: service.yml's Function, one under API Gateway's 30 s integration timeout
LAMBDA_MEMORY = (128, 10240)  # MB Lambda accepts (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html)


def on_lambda(service: dict) -> bool:
    """Whether a service's settings (settings()'s) run it as a function."""
    return (service.get("Compute") or "Fargate") == "Lambda"


def function_timeout() -> int:
    """The function's Timeout in service.yml (what a request bills at most), FUNCTION_TIMEOUT before it has one."""
    props = service_template()["Resources"].get("Function", {}).get("Properties", {})
    timeout = props.get("Timeout", FUNCTION_TIMEOUT)
    return int(timeout) if isinstance(timeout, (int, str)) and str(timeout).isdigit() else FUNCTION_TIMEOUT


def has_tables(config: dict) -> bool:
    """Whether the configuration has a table to price: a data stack with on-demand ceilings (data_bounds)."""
    return float(config.get("TableMaxReadUnits", "1")) + float(config.get("TableMaxWriteUnits", "1")) > 0


def data_bounds(parent: dict, values: dict) -> dict[str, str]:
    """The on-demand tables' ceilings, summed over every nested stack that has one (the sample's
    notes-data.yml), and the shortest item lifetime they declare (an output named ...TtlDays)."""
    reads = writes = 0
    ttl = None
    for stack, resource in parent["Resources"].items():
        location = str(resource.get("Properties", {}).get("Location", ""))
        if resource.get("Type") != "AWS::Serverless::Application" or location.endswith("service.yml"):
            continue
        data = child(location)
        given = {**{k: v for k, v in nested_parameters(parent, stack, values).items() if v is not None},
                 "AWS::Region": values.get("AWS::Region")}
        for r in data.get("Resources", {}).values():
            limits = r.get("Properties", {}).get("OnDemandThroughput") if r.get("Type") == "AWS::DynamoDB::Table" else None
            if limits:
                reads += int(resolve(limits["MaxReadRequestUnits"], given, data))
                writes += int(resolve(limits["MaxWriteRequestUnits"], given, data))
        for name, output in data.get("Outputs", {}).items():
            if name.endswith("TtlDays"):
                days = int(resolve(output["Value"], given, data))
                ttl = days if ttl is None else min(ttl, days)
    return {"TableMaxReadUnits": str(reads), "TableMaxWriteUnits": str(writes), "ItemTtlDays": str(ttl or 0)}


@dataclass(frozen=True)
class Alarm:
    """One AWS::CloudWatch::Alarm a configuration creates, as CloudWatch bills it."""

    stack: str  # the nested stack's logical id in the parent ("" for the parent's own)
    name: str  # its logical id
    metrics: int  # alarm metrics it is billed for: 1, or each MetricStat of a metric math alarm
    high_resolution: bool  # a period under 60 s


def _alarm(stack: str, name: str, props: dict, values: dict, template: dict) -> Alarm:
    def taken(node):
        """The branch of an Fn::If this configuration takes (the first when only a deployment knows)."""
        while isinstance(node, dict) and list(node) == ["Fn::If"]:
            name, yes, no = node["Fn::If"]
            node = no if condition(template, name, values) is False else yes
        return node

    def short(period) -> bool:
        seconds = resolve(period, values, template) if period is not None else None
        return seconds is not None and int(seconds) < 60
    metrics = taken(props.get("Metrics"))
    if isinstance(metrics, list):  # metric math: every MetricStat it reads is billed, the expressions are not
        stats = [m["MetricStat"] for m in map(taken, metrics) if isinstance(m, dict) and "MetricStat" in m]
        return Alarm(stack, name, len(stats), any(short(stat.get("Period")) for stat in stats))
    return Alarm(stack, name, 1, short(props.get("Period")))


def alarms(config: dict, region: str = "us-east-1", parent: dict | None = None,
           per_service: dict[str, dict] | None = None) -> list[Alarm]:
    """Every AWS::CloudWatch::Alarm this configuration creates: the parent's own and each nested stack's, each
    counted where its Condition (and its stack's, in the parent) is not false for the values the parent passes
    that stack (a service's: its block, with what-if overrides; see settings()). A condition only a deployment
    can decide counts the alarm: an estimate that errs, errs high. `per_service`: settings()'s, if read."""
    parent = parent if parent is not None else parent_template()
    values = {**{k: v for k, v in config.items() if k in parent["Parameters"]}, "AWS::Region": region}
    per_service = per_service if per_service is not None else settings(config, region, parent)[1]
    found = []

    def created(template: dict, resource: dict, given: dict) -> bool:
        return "Condition" not in resource or condition(template, resource["Condition"], given) is not False

    for stack, resource in parent["Resources"].items():
        if resource.get("Type") == "AWS::CloudWatch::Alarm" and created(parent, resource, values):
            found.append(_alarm("", stack, resource.get("Properties", {}), values, parent))
        location = resource.get("Properties", {}).get("Location")
        if resource.get("Type") not in NESTED or not isinstance(location, str) or not created(parent, resource, values):
            continue
        template, declared = child(location), alarms_in(location)
        if not declared:  # what the parent passes is read only for a stack that has alarms (estimate runs often)
            continue
        given = {**(per_service.get(stack) or nested_parameters(parent, stack, values)), "AWS::Region": region}
        for name in declared:
            r = template["Resources"][name]
            if created(template, r, given):
                found.append(_alarm(stack, name, r.get("Properties", {}), given, template))
    return found


def alarms_in(location: str) -> tuple[str, ...]:
    """The logical ids of a child template's alarms (child() reads each template once a process); keyed on the
    plain string, as child() is (a Location may be cfn-lint's str subclass)."""
    return _alarms_in(str(location))


@cache
def _alarms_in(location: str) -> tuple[str, ...]:
    return tuple(name for name, r in child(location).get("Resources", {}).items()
                 if r.get("Type") == "AWS::CloudWatch::Alarm")


def alarm_line(found: list[Alarm], p: dict) -> Line:
    """What the alarms cost a month: per alarm metric, standard or high resolution; the free tier only noted."""
    standard = sum(a.metrics for a in found if not a.high_resolution)
    high = sum(a.metrics for a in found if a.high_resolution)
    by_stack: dict[str, list[str]] = {}
    for a in found:
        by_stack.setdefault(a.stack or "parent", []).append(f"{a.name} ({a.metrics})")
    listed = "; ".join(f"{stack} {', '.join(names)}" for stack, names in by_stack.items())
    price = f"{standard} x ${p['cloudwatch_alarm_metric_month']:.2f}" + (
        f" + {high} high-resolution x ${p['cloudwatch_alarm_metric_high_resolution_month']:.2f}" if high else "")
    return Line("CloudWatch alarms", standard * p["cloudwatch_alarm_metric_month"]
                + high * p["cloudwatch_alarm_metric_high_resolution_month"],
                detail=f"{len(found)} alarms reading {standard + high} alarm metrics: {price} ({listed}); the "
                       f"account's first {p['cloudwatch_free_alarm_metrics']} alarm metrics a month are free "
                       "(not subtracted: other stacks use them too)")


def list_items(expr) -> int | None:
    """How many items a block passes a CommaDelimitedList: a literal's, or a `!Join [",", [...]]`'s; None
    when only a deployment knows."""
    if isinstance(expr, (str, int)):
        return 0 if str(expr) == "" else len(str(expr).split(","))
    if isinstance(expr, dict) and "Fn::Join" in expr and expr["Fn::Join"][0] == "," \
            and isinstance(expr["Fn::Join"][1], list):
        return len(expr["Fn::Join"][1])
    return None


SSM_PARAMETER_ARN = re.compile(r"^arn:aws[-a-z]*:ssm:[^:]+:\d{12}:parameter/(.+)$")
SECRET_ARN = re.compile(r"^arn:aws[-a-z]*:secretsmanager:[^:]+:\d{12}:secret:([^:]+-[A-Za-z0-9]{6})$")
SECRET_ARN_ANY = re.compile(r"^arn:aws[-a-z]*:secretsmanager:[^:]+:\d{12}:secret:([^:]+)(:.*)?$")
PASS = ("pass arn:aws:ssm:REGION:ACCOUNT:parameter/NAME, or the secret's full ARN "
        "arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf (`aws secretsmanager describe-secret --secret-id "
        "NAME --query ARN`)")


def check_secret(service: str, arn: str, boundary_stack: str | None = None) -> None:
    """One SecretArns item: service.yml scopes the execution role with `Resource: !Ref SecretArns`, so the item
    must be an ARN IAM matches exactly (https://docs.aws.amazon.com/secretsmanager/latest/userguide/
    troubleshoot.html#ARN_secretnamehyphen); with a permissions boundary, also a name it lets roles read."""
    where = f"{service}: SecretArns item {arn!r}"
    parameter, secret, partial = SSM_PARAMETER_ARN.match(arn), SECRET_ARN.match(arn), SECRET_ARN_ANY.match(arn)
    if not (parameter or secret):
        if partial and partial.group(2):
            raise UsageError(f"{where} names a JSON key or version after the secret (...:KEY::), which the execution "
                             "role's policy would match nothing for: pass the secret's own full ARN and read the key "
                             "from its JSON value in the app, or keep the value in a secret of its own")
        if partial:
            raise UsageError(f"{where} lacks the 6-character suffix Secrets Manager adds to a secret's ARN, so IAM "
                             f"would not match the real ARN and the task would fail to start: {PASS}")
        if not arn.startswith("arn:"):
            raise UsageError(f"{where} is not an ARN, and IAM refuses a policy whose Resource is not one "
                             f"(MalformedPolicyDocument, mid-deploy): {PASS}")
        raise UsageError(f"{where} is neither an SSM parameter's nor a Secrets Manager secret's full ARN: {PASS}")
    if boundary_stack is None:
        return
    if parameter and not parameter.group(1).startswith(f"{boundary_stack}/"):
        raise UsageError(f"{where} is outside /{boundary_stack}/, and the permissions boundary (PermissionsBoundaryArn)"
                         f" lets a role read only parameter/{boundary_stack}/* (deploy/permissions-boundary-policy.json)"
                         f": name the parameter /{boundary_stack}/..., or widen the boundary")
    if secret and not secret.group(1).startswith(f"{boundary_stack}-"):
        raise UsageError(f"{where} is outside {boundary_stack}-*, and the permissions boundary (PermissionsBoundaryArn)"
                         f" lets a role read only secret:{boundary_stack}-* (deploy/permissions-boundary-policy.json)"
                         f": name the secret {boundary_stack}-..., or widen the boundary")


def check_lists(parent: dict, boundary_stack: str | None = None) -> None:
    """Each block's environment and secrets fit service.yml's slots, names and values paired: a name past the
    last slot would be dropped without a word, a missing value would be empty (docs/services.md). Each secret
    a block writes out is an ARN the execution role's policy can name (check_secret); with `boundary_stack`
    (a deploy under a permissions boundary, for that stack), one the boundary lets it read."""
    spec = service_template()
    slots = {kind: sum(1 for c in spec["Conditions"] if re.fullmatch(f"Has{kind}[0-9]+", c)) for kind in ("Env", "Secret")}
    for name, resource in service_resources(parent).items():
        given = resource["Properties"].get("Parameters", {})
        for kind, names, values in (("Env", "EnvironmentNames", "EnvironmentValues"), ("Secret", "SecretNames", "SecretArns")):
            count, paired = list_items(given.get(names, "")), list_items(given.get(values, ""))
            if count is None:
                continue
            if count > slots[kind]:
                raise UsageError(f"{name}: {count} {names}, more than service.yml's {slots[kind]} slots")
            if paired is not None and paired != count:
                raise UsageError(f"{name}: {count} {names} but {paired} {values}: give one value per name")
        arns = given.get("SecretArns", "")
        if isinstance(arns, str):
            items = arns.split(",") if arns else []
        elif list_items(arns) is not None:
            items = arns["Fn::Join"][1]
        else:
            items = []  # a value only the deployment knows
        for arn in items:
            if isinstance(arn, str):  # a !GetAtt or !Sub only the deployment resolves
                check_secret(name, arn.strip(), boundary_stack)


def fargate_sizes() -> dict[str, set[str]]:
    """Valid Cpu -> Memory pairs, read from service.yml's ValidFargateSize rule (one source of truth)."""
    assertion = service_template()["Rules"]["ValidFargateSize"]["Assertions"][0]["Assert"]
    sizes = {}
    for branch in assertion["Fn::Or"]:
        cpu_equals, memory_contains = branch["Fn::And"]
        sizes[str(cpu_equals["Fn::Equals"][1])] = {str(m) for m in memory_contains["Fn::Contains"][0]}
    return sizes


def validate(config: dict, parent: dict | None = None, stack: str | None = None) -> None:
    """The parameters against parent.yml's allowed values, and every service's block (its code) against
    what CloudFormation refuses only once the deploy reaches that nested stack. `stack`: the stack a deploy
    targets (preflight), whose name a permissions boundary's secrets must start with."""
    check_allowed(config, (parent if parent is not None else parent_template())["Parameters"])
    boundary = stack if stack and str(config.get("PermissionsBoundaryArn", "")).strip() else None
    check_lists(parent if parent is not None else parent_template(), boundary)
    sizes = fargate_sizes()
    for name, s in settings(config, parent=parent)[1].items():
        if on_lambda(s):
            low, high = LAMBDA_MEMORY
            if not low <= int(s["Memory"]) <= high:
                raise UsageError(f"{name}: Memory={s['Memory']} is not a Lambda function's memory ({low} to {high} MB)")
            continue
        if s["Memory"] not in sizes.get(s["Cpu"], set()):
            raise UsageError(f"{name}: Cpu={s['Cpu']} with Memory={s['Memory']} is not a Fargate size "
                             f"(with {s['Cpu']}: {', '.join(sorted(sizes.get(s['Cpu'], []), key=int))})")
        check_task_range(s, name)


def running_tasks(config: dict, tasks: float | None = None) -> float:
    if tasks is not None:
        return float(tasks)
    if config.get("DesiredCount"):
        return float(max(int(config["DesiredCount"]), int(config["MinTasks"])))
    return float(config["MinTasks"])


def aws_cron_to_unix(expression: str) -> str:
    """cron(M H DOM MON DOW YEAR) as Application Auto Scaling writes it -> a 5-field cron."""
    fields = expression.strip()[len("cron("):-1].split()
    if len(fields) != 6:
        raise UsageError(f"{expression}: expected cron(minutes hours day-of-month month day-of-week year)")
    minute, hour, dom, month, dow, _year = fields
    return " ".join(f.replace("?", "*") for f in (minute, hour, dom, month, dow))


def running_share(config: dict, weeks: int = 4) -> float:
    """Share of the month the service runs given StopSchedule/StartSchedule (1.0 without them)."""
    if not (config.get("StopSchedule") and config.get("StartSchedule")):
        return 1.0
    from datetime import datetime, timedelta

    from croniter import croniter
    begin = datetime(2026, 1, 5)  # a Monday; time zones shift both schedules alike
    end = begin + timedelta(weeks=weeks)
    events = []
    for kind, key in (("stop", "StopSchedule"), ("start", "StartSchedule")):
        it = croniter(aws_cron_to_unix(config[key]), begin - timedelta(days=7))
        while (moment := it.get_next(datetime)) < end:
            events.append((moment, kind))
    events.sort()
    running, last_time, state = 0.0, begin, True
    for moment, kind in events:
        if moment <= begin:
            state = kind == "start"
            continue
        if state:
            running += (moment - last_time).total_seconds()
        last_time, state = moment, kind == "start"
    if state:
        running += (end - last_time).total_seconds()
    return running / (end - begin).total_seconds()


def capacity_split(n: float, base: int, on_demand_weight: int, spot_weight: int) -> tuple[float, float]:
    """(on-demand, Spot) tasks as ECS places them: the base first, the rest by weight."""
    on_demand = min(n, base)
    rest = n - on_demand
    weights = on_demand_weight + spot_weight
    on_demand += rest * on_demand_weight / weights if weights else rest
    return on_demand, n - on_demand


def task_capacity(config: dict, path: Path | None = None) -> float | None:
    """Notes requests/s one task serves at CpuTarget: prices.toml's [capacity] figure for 0.25 vCPU (notes
    mix, CPU-bound, measured; its provenance is beside it), scaled by Cpu up to one vCPU (one gunicorn
    worker uses one core at most). None when the file has no such figure."""
    try:
        full = float(price_file(path or PRICES)["capacity"]["notes_rps_per_quarter_vcpu"])
    except (KeyError, TypeError, ValueError):
        return None
    return full * min(int(config["Cpu"]), 1024) / 256 * int(config["CpuTarget"]) / 100


def tasks_needed(config: dict, requests: float, peak_to_average: float, hours: float,
                 path: Path | None = None) -> tuple[int, float, float] | None:
    """(tasks, peak requests/s, requests/s per task) for a month's requests, or None without a bench figure."""
    per_task = task_capacity(config, path)
    if not per_task or requests <= 0:
        return None
    peak = requests / (hours * 3600) * peak_to_average
    return max(1, math.ceil(peak / per_task)), peak, per_task


# ----------------------------------------------------------------- the model
def estimate(config: dict, requests: float, region: str = "us-east-1", tasks: float | dict | None = None,
             prices_path: Path = PRICES, longest_logs: bool = False, parent: dict | None = None,
             lambda_free: bool = True) -> Estimate:
    """`longest_logs`: price every request's log lines at the longest a client can cause, and every function's
    request at its timeout (the ceiling; Lambda's free tier not applied). `lambda_free`: apply Lambda's
    always-free tier (per account: False prices an account whose other functions use it up).
    `tasks` is the total running, shared evenly by the services, or {service: tasks}; without it each of the
    parent's services runs its own MinTasks/DesiredCount, as its block says (`parent`: parent.yml, or another parent
    template such as the two-service one)."""
    p, a, price_date, notes = load_prices(region, prices_path)
    hours = price_file(prices_path)["hours_per_month"]
    env, per_service = settings(config, region, parent)
    config = {**config, **env}
    count = len(per_service)
    functions = {name: s for name, s in per_service.items() if on_lambda(s)}
    fargate_count = count - len(functions)
    if count > 1 and tasks is None:
        notes.append(f"{count} services, each running its MinTasks/DesiredCount" if not functions else
                     f"{count} services, each on Fargate running its MinTasks/DesiredCount, each function taking an "
                     "equal share of the requests")
    running = {}
    for name, s in per_service.items():
        if name in functions:  # no task: the function runs only while a request does
            running[name] = 0.0
            continue
        share = running_share(s) if tasks is None else 1.0
        given = tasks.get(name, 0) if isinstance(tasks, dict) else None if tasks is None else tasks / fargate_count
        running[name] = (running_tasks(s) if given is None else float(given)) * share
        if share < 1:
            notes.append(f"{name} StopSchedule/StartSchedule: tasks run {share:.0%} of the month")
    n = sum(running.values())
    est = Estimate(config, requests, n, region, price_date, notes=notes)
    for name, s in per_service.items():
        need = None if name in functions else tasks_needed(s, requests, a["peak_to_average"], hours, prices_path)
        if not need:
            continue
        needed, peak, per_task = need
        est.tasks_needed = max(est.tasks_needed or 0, needed)
        label = f"{name}: " if count > 1 else ""
        notes.append(f"{label}capacity: {peak:.1f} req/s at peak ({a['peak_to_average']:g}x the month's average) "
                     f"needs {needed} task(s) at {per_task:,.0f} req/s each (prices.toml [capacity], CpuTarget={s['CpuTarget']}%)")
        if needed > int(s["MaxTasks"]):
            est.warnings.append(f"{label}{needed} tasks needed at peak, above MaxTasks={s['MaxTasks']}: autoscaling "
                                f"stops there and requests queue (raise MaxTasks in its block in parent.yml)")
    add = est.lines.append
    http_api = config["Ingress"] == "HttpApi"
    public = config["NetworkMode"] == "PublicSubnets"
    millions = requests / 1e6

    # Fargate: vCPU and memory per hour, on-demand and Spot, by architecture, service by service.
    fargate, details = 0.0, []
    for name, s in per_service.items():
        if name in functions:
            continue
        vcpu, gb = int(s["Cpu"]) / 1024, int(s["Memory"]) / 1024
        arch = "arm" if s["Architecture"] == "ARM64" else "x86"
        on_demand, spot = capacity_split(running[name], int(s["OnDemandBase"]), int(s["OnDemandWeight"]),
                                         int(s["SpotWeight"]))
        per_task = (vcpu * p[f"fargate_{arch}_vcpu_hour"] + gb * p[f"fargate_{arch}_gb_hour"]) * hours
        per_spot = (vcpu * p[f"fargate_spot_{arch}_vcpu_hour"] + gb * p[f"fargate_spot_{arch}_gb_hour"]) * hours
        fargate += on_demand * per_task + spot * per_spot
        details.append(f"{name if count > 1 else ''}{' ' if count > 1 else ''}{running[name]:.3g} x {vcpu:g} vCPU / "
                       f"{gb:g} GB {s['Architecture']}: {on_demand:.3g} on-demand (${per_task:.2f}), {spot:.3g} Spot "
                       f"(${per_spot:.2f})")
    if fargate_count:
        add(Line("Fargate tasks", fargate, detail="; ".join(details)))
    if functions:
        add(lambda_line(functions, requests / count, p, a, worst=longest_logs, free=lambda_free and not longest_logs,
                        month=hours * 3600))
    ipv4 = p["public_ipv4_hour"] * hours
    if public and n:
        add(Line("Public IPv4 (tasks)", n * ipv4, detail=f"{n:g} x ${ipv4:.2f}"))

    # Ingress.
    if http_api:
        first = min(millions, 300)
        add(Line("API Gateway requests", variable=first * p["apigw_http_per_million"]
                 + max(millions - 300, 0) * p["apigw_http_per_million_over_300m"],
                 detail=f"{millions:g} M x ${p['apigw_http_per_million']:.2f}"))
        if fargate_count:  # cluster.yml creates the namespace only for a service on Fargate
            add(Line("Cloud Map", p["route53_zone_month"] + n * p["cloudmap_instance_month"],
                     detail=f"private DNS zone ${p['route53_zone_month']:.2f} + {n:g} instances"))
    else:
        # The namespace stays with the ALB (cluster.yml: switching back must not recreate it); nothing registers.
        if fargate_count:
            add(Line("Cloud Map", p["route53_zone_month"],
                     detail=f"private DNS zone ${p['route53_zone_month']:.2f}, kept for a switch back; no instances"))
        add(Line("ALB", p["alb_hour"] * hours, detail=f"{hours} h x ${p['alb_hour']}"))
        add(Line("Public IPv4 (ALB)", 2 * ipv4, detail="internet-facing, one per AZ"))
        per_second = requests * a["connections_per_request"] / (hours * 3600)
        bytes_per_hour = requests * (a["request_kb"] + a["response_kb"]) * 1024 / hours
        lcus = max(per_second / 25, bytes_per_hour / GIB)
        add(Line("ALB LCUs", variable=lcus * p["alb_lcu_hour"] * hours,
                 detail=f"{lcus:.3f} LCU (new connections {per_second:.2f}/s, 25/s per LCU)"))

    # Logs: the app's access log, plus the HTTP API's access log.
    app_line, stage_line = ((access_log_max_bytes(), a["apigw_log_bytes_max"]) if longest_logs
                            else (a["app_log_bytes_per_request"], a["apigw_log_bytes_per_request"]))
    platform_line = a["lambda_platform_log_bytes_per_request"] * len(functions) / count  # START, END, REPORT
    log_bytes = requests * (app_line + (stage_line if http_api else 0) + platform_line)
    log_gb = log_bytes / GIB
    retention = int(config["LogRetentionDays"])
    add(Line("CloudWatch Logs",
             variable=max(log_gb - p["logs_free_ingest_gb"], 0) * p["logs_ingest_gb"]
             + log_gb * min(retention, 365) / 30 * p["logs_storage_gb_month"],
             detail=f"{log_gb:.2f} GB ingested ({p['logs_free_ingest_gb']} GB free), kept {retention} days"))

    # NAT for PrivateSubnets: hours, its Elastic IPs, and what crosses it (API calls, logs).
    if not public:
        nats = int(config["NatGateways"])
        add(Line("NAT gateways", nats * (p["nat_hour"] * hours + ipv4),
                 detail=f"{nats} x (${p['nat_hour'] * hours:.2f} + Elastic IP ${ipv4:.2f})"))
        add(Line("NAT data", a["nat_baseline_gb"] * p["nat_gb"], (log_bytes / GIB) * p["nat_gb"],
                 detail=f"{a['nat_baseline_gb']} GB of API calls + the logs, ${p['nat_gb']}/GB"))

    # Frontend and the /api/* requests through CloudFront (always-free allowances applied), and the
    # web ACL in front of it; the flat-rate Free plan replaces both with $0 and a throttle.
    data_gb = requests * a["response_kb"] * 1024 / GIB
    free_plan = config.get("CloudFrontPlan") == "Free" and web_acl(config) != "none"
    if free_plan:
        add(Line("CloudFront (Free plan)", p["cloudfront_free_plan_month"],
                 detail=f"{millions:g} M requests, {data_gb:.1f} GB: no charge; beyond "
                        f"{p['cloudfront_free_plan_requests'] / 1e6:g} M / {p['cloudfront_free_plan_gb']} GB "
                        "a month CloudFront throttles"))
        if requests > p["cloudfront_free_plan_requests"] or data_gb > p["cloudfront_free_plan_gb"]:
            notes.append("CloudFrontPlan=Free: this traffic is past the plan's allowance; CloudFront throttles it")
    else:
        add(Line("CloudFront", variable=max(requests - p["cloudfront_free_requests"], 0) / 1e4
                 * p["cloudfront_per_10k_https"] + max(data_gb - p["cloudfront_free_gb"], 0) * p["cloudfront_gb"],
                 detail=f"{millions:g} M requests, {data_gb:.1f} GB out (10 M and 1 TB free)"))
        if web_acl(config) == "created":
            add(Line("AWS WAF", p["waf_web_acl_month"] + p["waf_rule_month"], millions * p["waf_per_million"],
                     detail=f"web ACL ${p['waf_web_acl_month']:.2f} + 1 rule ${p['waf_rule_month']:.2f} + "
                            f"{millions:g} M x ${p['waf_per_million']:.2f}"))
    if web_acl(config) == "existing":
        notes.append("WebAclArn: that web ACL is billed in the account and region that own it")
    add(Line("Secrets Manager", p["secretsmanager_secret_month"], detail="the X-Origin-Verify secret"))
    add(Line("S3 (frontend)", a["site_gb"] * p["s3_gb_month"], detail="a few files"))

    # The data: DynamoDB on demand, when the parent nests a table (the sample's notes-data.yml; a fork
    # without it has none, and no line).
    if has_tables(config):
        reads, writes = requests * a["read_share"], requests * (1 - a["read_share"])
        add(Line("DynamoDB", variable=reads / 1e6 * p["dynamodb_read_per_million"]
                 + writes / 1e6 * p["dynamodb_write_per_million"],
                 detail=f"{reads / 1e6:g} M reads, {writes / 1e6:g} M writes, on demand"))

    found = alarms(config, region, parent, per_service)
    if found:
        add(alarm_line(found, p))

    if config.get("ContainerInsights", "disabled") != "disabled":
        add(Line("Container Insights", p["container_insights_month"], detail="estimate; custom metrics"))
    zones = int(bool(config.get("HostedZoneId")))
    if zones:
        add(Line("Route 53 hosted zone", zones * p["route53_zone_month"], detail="your domain's zone"))
    return est


def lambda_line(functions: dict[str, dict], invocations: float, p: dict, a: dict, worst: bool = False,
                free: bool = True, month: float = 730 * 3600) -> Line:
    """What the services on Lambda bill: requests, and GB-seconds at each one's Memory and Architecture. Each
    function takes `invocations` a month. A request bills its duration (prices.toml's assumed mean; `worst`: the
    function's timeout, every request), a cold start its INIT phase (the assumed init seconds on the assumed share
    of requests; none in the worst case, where environments stay busy). `free`: Lambda's always-free 1 M requests
    and 400,000 GB-s a month, which belong to the account and are shared by every function in it."""
    seconds = function_timeout() if worst else a["lambda_duration_ms"] / 1000
    cold = 0 if worst else a["lambda_cold_start_share"]
    requests = invocations * len(functions)
    gb_seconds, cost, sizes = 0.0, 0.0, []
    for s in functions.values():
        gb = int(s["Memory"]) / 1024
        used = invocations * gb * (seconds + cold * a["lambda_init_seconds"])
        reserved = str(s.get("ReservedConcurrency") or "")
        capped = worst and reserved.isdigit() and int(reserved) * gb * month < used
        if capped:  # a reservation is also a maximum: that many requests at once, all month
            used = int(reserved) * gb * month
        price = p["lambda_arm_gb_second" if s["Architecture"] == "ARM64" else "lambda_x86_gb_second"]
        gb_seconds, cost = gb_seconds + used, cost + used * price
        sizes.append(f"{s['Memory']} MB {s['Architecture']}" + (f", {reserved} at once all month" if capped else ""))
    billed_requests, billed_share = requests, 1.0
    if free:
        billed_requests = max(requests - p["lambda_free_requests"], 0)
        billed_share = max(gb_seconds - p["lambda_free_gb_seconds"], 0) / gb_seconds if gb_seconds else 0.0
    duration = (f"{seconds:g} s (the timeout) a request, the worst case" if worst else
                f"{seconds * 1000:g} ms mean a request + {a['lambda_init_seconds']:g} s init on "
                f"{cold:.0%} of requests (cold starts), assumed: prices.toml [assumptions]")
    allowance = (f"; always-free {p['lambda_free_requests'] / 1e6:g} M requests and {p['lambda_free_gb_seconds']:,} "
                 "GB-s a month applied (per account, shared by every function in it)" if free else
                 "; no free tier counted")
    return Line("Lambda", variable=billed_requests / 1e6 * p["lambda_per_million"] + cost * billed_share,
                detail=f"{requests / 1e6:g} M requests x ${p['lambda_per_million']:.2f}/M + {gb_seconds:,.0f} GB-s "
                       f"({', '.join(sizes)}; {duration}){allowance}")


def built_services(config: dict, parent: dict) -> list[str]:
    """The services whose image the stack builds: every one, unless ImageUri gives an image for its Context
    (a pipeline that builds its own; blueprint/services.py)."""
    from blueprint.services import existing_services
    given = {pair.split("=", 1)[0] for pair in str(config.get("ImageUri") or "").split(",") if "=" in pair}
    contexts = {s.key: s.context for s in existing_services(parent)}
    return [name for name in services(parent) if contexts.get(name) not in given]


def function_memory(location: str, module: str) -> int:
    """MemorySize (MB) of the function in a child template whose Handler is in `module` (what Lambda bills
    GB-seconds by)."""
    for resource in child(location)["Resources"].values():
        props = resource.get("Properties") or {}
        if str(props.get("Handler", "")).startswith(module + "."):
            return int(props["MemorySize"])
    raise KeyError(f"{location}: no function with a handler in {module}")


def deploy_cost(config: dict, region: str = "us-east-1", prices_path: Path = PRICES,
                parent: dict | None = None) -> DeployCost:
    """A deploy that changes every build context: one CodeBuild build per service on its Architecture's small
    fleet (arm1.small or general1.small), the image-build function twice per build (the request, the build's
    completion event) and the site publisher once; the repositories keep `images_kept` images each."""
    p, a, _, _ = load_prices(region, prices_path)
    parent = parent if parent is not None else parent_template()
    _, per_service = settings(config, region, parent)
    built = built_services(config, parent)
    minutes = a["build_minutes"]
    build_cost, details = 0.0, []
    for name in built:
        arm = per_service[name]["Architecture"] == "ARM64"
        price = p["codebuild_arm_small_minute" if arm else "codebuild_x86_small_minute"]
        build_cost += minutes * price
        details.append(f"{name} {minutes:g} min x ${price:g} ({'arm1' if arm else 'general1'}.small"
                       + (", price to verify: not found on aws.amazon.com/codebuild/pricing)" if arm else ")"))
    per_deploy_minutes = minutes * len(built)
    free = int(p["codebuild_free_minutes"] // per_deploy_minutes) if built else 0
    invocations = 2 * len(built) + 1
    builder_mb, publisher_mb = function_memory("build.yml", "image_build"), function_memory("frontend.yml", "site_publish")
    gb_seconds = (2 * len(built) * builder_mb + publisher_mb) / 1024 * a["custom_resource_seconds"]
    lines = [
        Line("CodeBuild", variable=build_cost,
             detail=("; ".join(details) + f"; the first {p['codebuild_free_minutes']} build minutes a month are free "
                     f"({free} such deploys)") if built else "ImageUri gives every image: nothing is built"),
        Line("Lambda (custom resources)", variable=invocations / 1e6 * p["lambda_per_million"]
             + gb_seconds * p["lambda_arm_gb_second"],
             detail=f"{invocations} invocations ({builder_mb} MB builder, {publisher_mb} MB publisher), "
                    f"{gb_seconds:g} GB-s: within the always-free "
                    f"{p['lambda_free_requests'] / 1e6:g} M requests and {p['lambda_free_gb_seconds']:,} GB-s a month"),
    ]
    gb = len(built) * a["images_kept"] * a["image_mb"] / 1024
    storage = Line("ECR (images kept)", fixed=gb * p["ecr_gb_month"],
                   detail=f"a month, at most: {len(built)} x {a['images_kept']} images x ~{a['image_mb']} MB "
                          f"at ${p['ecr_gb_month']:.2f}/GB-month (one repository per service)")
    return DeployCost(lines, storage, len(built), free, minutes)


def web_acl(config: dict) -> str:
    """none, created (WafRateLimit in this stack: parent.yml's CreatesWebAcl, prod or the Free plan in
    us-east-1) or existing (WebAclArn), as frontend.yml decides."""
    if config.get("WebAclArn"):
        return "existing"
    return "created" if str(config.get("WafRateLimit", "0")) != "0" else "none"


# ----------------------------------------------------------------- the ceiling
@dataclass
class Ceiling:
    """The most a month can cost with every throttle saturated: the stage at ApiRateLimit all month,
    the table at its maximum units, MaxTasks running, and the logs and CloudFront that traffic makes."""
    estimate: Estimate
    rate: float  # ApiRateLimit, per route
    routes: int  # HTTP API routes, each with its own bucket: the API accepts rate x routes a second
    reads: float
    writes: float
    without_waf: float  # on CloudFrontPlan=Free: both compare the same throttles on PayAsYouGo (free_plan)
    with_waf: float
    notes: list[str] = field(default_factory=list)
    free_plan: bool = False

    @property
    def total(self) -> float:
        return self.estimate.total


def ceiling(config: dict, region: str = "us-east-1", prices_path: Path = PRICES, _compare: bool = True,
            parent: dict | None = None) -> Ceiling:
    p = load_prices(region, prices_path)[0]
    seconds = price_file(prices_path)["hours_per_month"] * 3600
    env, per_service = settings(config, region, parent)
    bounds = {**env, **{k: v for k, v in config.items() if k not in env}}
    rate, count = float(bounds["ApiRateLimit"]), routes(parent)
    requests = rate * count * seconds
    est = estimate(config, requests, region, tasks={name: int(s["MaxTasks"]) for name, s in per_service.items()},
                   prices_path=prices_path, longest_logs=True, parent=parent)
    config = est.config
    # DynamoDB: not what this traffic would read, but the most the table lets anyone read and write.
    reads, writes = float(config["TableMaxReadUnits"]) * seconds, float(config["TableMaxWriteUnits"]) * seconds
    ttl_days = int(config.get("ItemTtlDays", "0"))
    for table in [line for line in est.lines if line.item == "DynamoDB"]:  # none when the parent nests no table
        table.variable = reads / 1e6 * p["dynamodb_read_per_million"] + writes / 1e6 * p["dynamodb_write_per_million"]
        table.detail = (f"max {config['TableMaxReadUnits']} reads + {config['TableMaxWriteUnits']} writes a second, "
                        f"{reads / 1e6:g} M + {writes / 1e6:g} M units")
        # What those writes keep: a write unit stores at most 1 KB, kept the items' lifetime (the data stack's
        # ...TtlDays output, + the up to 2 days DynamoDB takes to delete an expired item) and backed up by
        # point-in-time recovery.
        kept_days = ttl_days + 2 if ttl_days else seconds / 86400  # never expire: one month of growth
        stored_gb = float(config["TableMaxWriteUnits"]) * 1024 * kept_days * 86400 / GIB
        est.lines.insert(est.lines.index(table) + 1, Line(
            "DynamoDB storage", variable=stored_gb * (p["dynamodb_storage_gb_month"] + p["dynamodb_pitr_gb_month"]),
            detail=f"{stored_gb:.1f} GB: {config['TableMaxWriteUnits']} KB/s kept {kept_days:g} days, with PITR"))
    notes = [f"{rate:g} requests/s on each of {count} routes ({len(services(parent))} service(s) x 2) all month = "
             f"{requests / 1e6:g} M requests reach the API (each route has its own throttle)"]
    if has_tables(config) and not ttl_days:
        notes.append("items never expire (TtlDays 0), so storage grows by this line's GB every month")
    functions = {name: s for name, s in per_service.items() if on_lambda(s)}
    if functions:
        each = requests / len(per_service)
        sizes = " + ".join(f"{each / 1e6:g} M x {int(s['Memory']) / 1024:g} GB x {function_timeout()} s"
                           for s in functions.values())
        reserved = [f"{n} ReservedConcurrency={s['ReservedConcurrency']}" for n, s in functions.items()
                    if str(s.get("ReservedConcurrency") or "").isdigit()]
        notes.append(f"Lambda is bounded by the stage throttle, the function's Timeout and its Memory: every request "
                     f"the routes accept billed at the {function_timeout()} s timeout ({sizes} GB-s) plus the requests"
                     + (f"; capped by {', '.join(reserved)} (the Profile mapping's, by default), where the account "
                        "allows the reservation (service.yml's ConcurrencyCap); where it does not, the account's own "
                        "concurrency quota caps it instead (10 on a new account), shared with its other functions"
                        if reserved else
                        "; no reserved concurrency (the block's ReservedConcurrency is empty), so only the account's "
                        "concurrency quota caps it lower, not counted here (ReservedConcurrency=10 in a block caps its "
                        f"function at ${money(10 * reservation_cap(functions, p, seconds))}: 10 requests at once "
                        "all month)"))
    if config["Ingress"] == "LoadBalancer":
        notes.append("Ingress=LoadBalancer has no stage throttle: this is the rate the HTTP API's routes would "
                     "accept, for comparison; an ALB takes whatever arrives (the WAF limits each IP, not the total)")
    free = config.get("CloudFrontPlan") == "Free"
    if free:  # the plan chosen: nothing to suggest, say what it does with this traffic
        notes.append("CloudFrontPlan=Free bills no CloudFront request and no WAF request, the throttles' refusals "
                     "included: beyond its monthly allowance CloudFront throttles instead")
    else:
        notes.append("CloudFront bills every request it receives, including the ones the throttles refuse: "
                     f"${p['cloudfront_per_10k_https'] * 100:.2f} per extra million"
                     + (f" (+ ${p['waf_per_million']:.2f} with the WAF)" if web_acl(config) == "created" else "")
                     + "; only CloudFrontPlan=Free caps it (throttled, never billed)")
    if any(s.get("StopSchedule") and s.get("StartSchedule") for s in per_service.values()):
        notes.append("the schedule would stop tasks outside working hours; the ceiling assumes MaxTasks all month")
    without_waf = with_waf = est.total
    if _compare:
        toggled = {**config, "WebAclArn": "", "CloudFrontPlan": "PayAsYouGo"}
        if free:  # the Free plan includes its WAF: the comparison is pay-as-you-go's, with and without one
            without_waf = ceiling({**toggled, "WafRateLimit": "0"}, region, prices_path, False, parent).total
            with_waf = ceiling({**toggled, "WafRateLimit": "1000"}, region, prices_path, False, parent).total
        elif web_acl(config) == "created":
            without_waf = ceiling({**toggled, "WafRateLimit": "0"}, region, prices_path, False, parent).total
        else:
            with_waf = ceiling({**toggled, "WafRateLimit": "1000"}, region, prices_path, False, parent).total
    return Ceiling(est, rate, count, reads, writes, without_waf, with_waf, notes, free)


def alternatives(config: dict, requests: float, **kwargs) -> list[tuple[str, Estimate]]:
    out = []
    for ingress, network in itertools.product(("HttpApi", "LoadBalancer"), ("PublicSubnets", "PrivateSubnets")):
        alt, label = {**config, "Ingress": ingress, "NetworkMode": network}, f"{ingress} + {network}"
        if ingress == "LoadBalancer" and config.get("Compute") == "Lambda":  # parent.yml's Rule: Lambda needs HttpApi
            alt["Compute"], label = "Fargate", label + " (Fargate)"
        out.append((label, estimate(alt, requests, **kwargs)))
    return out


def break_even(config: dict, items=None, limit: float = 5e9, switch: dict | None = None, **kwargs) -> float | None:
    """Requests a month at which the other ingress (or the configuration changed by `switch`) costs the same
    (None: never below `limit`)."""
    other = {**config, **(switch or {"Ingress": "LoadBalancer" if config["Ingress"] == "HttpApi" else "HttpApi"})}

    def diff(r):
        a, b = estimate(config, r, **kwargs), estimate(other, r, **kwargs)
        return (a.subtotal(items) - b.subtotal(items)) if items else (a.total - b.total)
    low, high = 0.0, limit
    if math.copysign(1, diff(low)) == math.copysign(1, diff(high)):
        return None
    while high - low > 1:  # to the request: ~33 halvings of 5,000 M
        mid = (low + high) / 2
        if math.copysign(1, diff(mid)) == math.copysign(1, diff(low)):
            low = mid
        else:
            high = mid
    return (low + high) / 2


def reservation_cap(functions: dict[str, dict], p: dict, month: float) -> float:
    """What one concurrent execution of the largest function bills in a month, running without pause."""
    def price(s):
        return p["lambda_arm_gb_second" if s["Architecture"] == "ARM64" else "lambda_x86_gb_second"]
    return max(int(s["Memory"]) / 1024 * month * price(s) for s in functions.values())


def compute_switch(config: dict) -> dict | None:
    """The parameters that move the blocks of `!Ref Compute` to the other compute (Lambda needs HttpApi), or
    None for a parent without the Compute parameter."""
    if "Compute" not in config:
        return None
    return {"Compute": "Fargate"} if config["Compute"] == "Lambda" else {"Compute": "Lambda", "Ingress": "HttpApi"}


@dataclass
class ComputeBreakEven:
    """The monthly requests above which Fargate is the cheaper choice: both models priced whole for the same
    traffic (the Fargate side at its blocks' MinTasks), Lambda at the assumed mean duration and cold starts
    (prices.toml), with Lambda's free tier and without it (an account whose other functions use it up)."""
    switch: dict
    requests: float | None
    without_free: float | None
    duration_ms: float


def compute_break_even(config: dict, **kwargs) -> ComputeBreakEven | None:
    switch = compute_switch(config)
    if switch is None:
        return None
    a = load_prices(kwargs.get("region", "us-east-1"), kwargs.get("prices_path", PRICES))[1]
    return ComputeBreakEven(switch, break_even(config, switch=switch, **kwargs),
                            break_even(config, switch=switch, lambda_free=False, **kwargs), a["lambda_duration_ms"])


def compute_text(even: ComputeBreakEven) -> str:
    """One line: where Fargate becomes the cheaper choice, and what it assumes."""
    to = even.switch["Compute"]
    where = "above" if to == "Fargate" else "below"
    found = (f"Switching to Compute={to} pays off {where} {even.requests / 1e6:.1f} M requests/month"
             if even.requests else f"Switching to Compute={to} pays off at no volume below 5,000 M requests/month")
    without = f"{even.without_free / 1e6:.1f} M" if even.without_free else "none"
    return (f"{found} (all costs, the same traffic: Fargate is the cheaper choice above it; Lambda at each block's "
            f"Memory, {even.duration_ms:g} ms mean a request and cold starts as prices.toml [assumptions] says, its "
            f"free tier applied: {without} without it; Fargate at its blocks' MinTasks)")


def idle(config: dict, deploy: DeployCost, **kwargs) -> dict:
    """What the configuration costs a month with no request, the alarms apart: every line of the estimate at 0
    requests and the images the repositories keep (ECR, at most)."""
    est = estimate(config, 0, **kwargs)
    alarms_total = sum(line.total for line in est.lines if line.item == "CloudWatch alarms")
    parts = {line.item: line.total for line in est.lines if line.item != "CloudWatch alarms" and line.total}
    parts[deploy.storage.item] = deploy.storage.fixed
    metrics = sum(a.metrics for a in alarms(est.config, est.region, kwargs.get("parent")))
    return {"withoutAlarms": sum(parts.values()), "parts": parts, "alarms": alarms_total, "alarmMetrics": metrics}


def idle_text(i: dict, free_metrics: int) -> str:
    parts = ", ".join(f"{item} ${money(value)}" for item, value in i["parts"].items())
    billed = max(0, i["alarmMetrics"] - free_metrics) * 0.10 if i["alarmMetrics"] else 0.0
    return (f"Idle (no requests): ${money(i['withoutAlarms'] + i['alarms'])} a month at list price: "
            f"${money(i['withoutAlarms'])} without the alarms ({parts}) and the alarms ${money(i['alarms'])} "
            f"({i['alarmMetrics']} alarm metrics); ${money(i['withoutAlarms'] + billed)} while the account's first "
            f"{free_metrics} alarm metrics a month, free, are not used elsewhere")


# ----------------------------------------------------------------- output
def money(x: float) -> str:
    return f"{x:,.2f}"


def deploy_table(d: DeployCost) -> list[str]:
    lines = ["", "Each deploy that builds the images (not in the total above: builds and invocations bill per "
             "deploy; the images kept bill storage, the last line)"]
    for line in d.lines:
        lines.append(f"  {line.item:<26}{money(line.variable):>8}  {line.detail}")
    lines.append(f"  {'= a deploy':<26}{money(d.per_deploy):>8}  before the free tiers")
    lines.append(f"  {d.storage.item:<26}{money(d.storage.fixed):>8}  {d.storage.detail}")
    return lines


def table(est: Estimate, alts, even: float | None, even_ingress: float | None,
          deploy: DeployCost | None = None, compute: ComputeBreakEven | None = None, idle_cost: dict | None = None) -> str:
    c = est.config
    lines = [f"Monthly estimate, {est.region}, prices of {est.price_date} (730 h; USD)",
             f"Profile={c['Profile']} Ingress={c['Ingress']} NetworkMode={c['NetworkMode']} tasks={est.tasks:g} "
             f"requests={est.requests / 1e6:g} M/month (each service's size: its block in parent.yml)",
             "", f"{'item':<24}{'fixed':>10}{'per-request':>13}  detail", "-" * 96]
    for line in est.lines:
        lines.append(f"{line.item:<24}{money(line.fixed):>10}{money(line.variable):>13}  {line.detail}")
    lines += ["-" * 96, f"{'total':<24}{money(est.fixed):>10}{money(est.variable):>13}  = {money(est.total)} a month"]
    lines += deploy_table(deploy) if deploy else []
    if idle_cost is not None:
        p = load_prices(est.region)[0]
        lines += ["", idle_text(idle_cost, p["cloudwatch_free_alarm_metrics"])]
    lines += ["", "Same traffic, other choices:"]
    width = max([32] + [len(label) + 1 for label, _ in alts])
    for label, alt in alts:
        lines.append(f"  {label:<{width}}{money(alt.total):>10}  (fixed {money(alt.fixed)})")
    other = "LoadBalancer" if c["Ingress"] == "HttpApi" else "HttpApi"
    if compute:
        lines.append(compute_text(compute))
    if c.get("Compute") == "Lambda":  # parent.yml's Rule: an ALB with Lambda is refused
        lines.append("Ingress=LoadBalancer needs Compute=Fargate (the ALB alone costs more than the task Lambda "
                     "replaces, and caps a function's bodies at 1 MB): the lines above price it so")
    for text, value in (() if c.get("Compute") == "Lambda" else (("all costs", even), ("ingress prices alone", even_ingress))):
        lines.append(f"Switching to Ingress={other} pays off " + (
            f"{'above' if c['Ingress'] == 'HttpApi' else 'below'} {value / 1e6:.1f} M requests/month ({text})"
            if value else f"at no volume below 5,000 M requests/month ({text})"))
    lines += [f"note: {n}" for n in est.notes]
    lines += [f"WARNING: {w}" for w in est.warnings]
    return "\n".join(lines)


def ceiling_table(c: Ceiling) -> str:
    lines = ["Ceiling: the most this configuration can cost in a month, every throttle saturated (USD)",
             f"ApiRateLimit={c.rate:g}/s x {c.routes} routes TableMaxReadUnits={c.estimate.config['TableMaxReadUnits']} "
             f"TableMaxWriteUnits={c.estimate.config['TableMaxWriteUnits']} MaxTasks summed over the services "
             f"= {c.estimate.tasks:g}",
             "", f"{'item':<24}{'monthly':>12}  detail", "-" * 96]
    for line in c.estimate.lines:
        lines.append(f"{line.item:<24}{money(line.total):>12}  {line.detail}")
    compared = f"without a WAF {money(c.without_waf)}, with the WAF rate rule {money(c.with_waf)}"
    if c.free_plan:
        compared = (f"on CloudFrontPlan=PayAsYouGo instead: {compared} (the Free plan's {money(c.total)} includes "
                    "its WAF and bills no CloudFront request)")
    lines += ["-" * 96, f"{'ceiling':<24}{money(c.total):>12}", compared]
    lines += [f"note: {n}" for n in c.notes]
    return "\n".join(lines)


def ceiling_json(c: Ceiling) -> dict:
    return {"requestsPerSecond": c.rate * c.routes, "ratePerRoute": c.rate, "routes": c.routes,
            "requestsPerMonth": c.estimate.requests, "tasks": c.estimate.tasks,
            "readUnitsPerMonth": c.reads, "writeUnitsPerMonth": c.writes,
            "lines": [{"item": line.item, "total": round(line.total, 4), "detail": line.detail}
                      for line in c.estimate.lines],
            "total": round(c.total, 4), "withoutWaf": round(c.without_waf, 4), "withWaf": round(c.with_waf, 4),
            "wafComparedOn": "PayAsYouGo" if c.free_plan else "this plan",
            "notes": c.notes + c.estimate.notes}


def deploy_json(d: DeployCost) -> dict:
    return {"builds": d.builds, "perDeploy": round(d.per_deploy, 4), "freeDeploysPerMonth": d.free_deploys,
            "lines": [{"item": line.item, "perDeploy": round(line.variable, 6), "detail": line.detail} for line in d.lines],
            "storagePerMonth": round(d.storage.fixed, 4), "storageDetail": d.storage.detail}


def as_json(est: Estimate, alts, even, even_ingress, top: Ceiling | None = None,
            deploy: DeployCost | None = None, compute: ComputeBreakEven | None = None,
            idle_cost: dict | None = None) -> dict:
    return {"ceiling": ceiling_json(top) if top else None,
            "computeBreakEven": {"switch": compute.switch, "requests": compute.requests,
                                 "requestsWithoutFreeTier": compute.without_free, "durationMs": compute.duration_ms}
            if compute else None,
            "idle": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in idle_cost.items()
                     if k != "parts"} | {"parts": {k: round(v, 4) for k, v in idle_cost["parts"].items()}}
            if idle_cost else None,
            "deploy": deploy_json(deploy) if deploy else None, "region": est.region, "priceDate": est.price_date,
            "configuration": est.config,
            "requestsPerMonth": est.requests, "tasks": est.tasks,
            "lines": [asdict(line) | {"total": round(line.total, 4)} for line in est.lines],
            "fixed": round(est.fixed, 4), "perRequest": round(est.variable, 4), "total": round(est.total, 4),
            "alternatives": {label: round(alt.total, 4) for label, alt in alts},
            "breakEvenRequests": even, "breakEvenRequestsIngressOnly": even_ingress, "notes": est.notes,
            "tasksNeeded": est.tasks_needed, "warnings": est.warnings}


def readme_section() -> str:
    """docs/cost.md's cost block, generated (tests compare it with the file through scripts/generated.py)."""
    base = configuration(None, "")
    rows = []

    def row(label, config, requests, tasks=None):
        e = estimate(config, requests, tasks=tasks)
        rows.append(f"| {label} | {requests / 1e6:g} M | {money(e.fixed)} | {money(e.variable)} | **{money(e.total)}** |")
        return e
    for requests in (0, 1e6, 100e6):
        row("Default: HTTP API, public subnets, 1 ARM64 Spot task", base, requests)
    alb = {**base, "Ingress": "LoadBalancer"}
    for requests in (0, 1e6, 100e6):
        row("ALB instead of the HTTP API", alb, requests)
    reference = {**base, "Ingress": "LoadBalancer", "NetworkMode": "PrivateSubnets", "Architecture": "X86_64",
                 "SpotWeight": "0", "OnDemandWeight": "1"}  # the service's block, as the reference sizes it
    row("The usual reference: ALB, private subnets + 1 NAT, x86 on demand", reference, 1e6)
    row("Default, scaled to zero (`make stop`)", base, 0, tasks=0)
    prod = configuration("prod", "")
    row("Profile=prod: 2 tasks, first on demand, a year of logs, the WAF rate rule", prod, 1e6)
    functions = configuration(None, "Compute=Lambda")
    for requests in (0, 1e6, 10e6, 100e6):
        row("`Compute=Lambda`: the same image as a 512 MB ARM64 function", functions, requests)
    even, even_ingress = break_even(base), break_even(base, INGRESS_LINES)
    compute = compute_break_even(base)
    idle_cost = idle(functions, deploy_cost(functions))
    p, a, price_date, _ = load_prices("us-east-1")
    return "\n".join([
        f"Generated by `python -m scripts cost --readme` from `scripts/prices.toml` (us-east-1 list prices of "
        f"{price_date}; 730 h a month; GB = GiB; always-free allowances of CloudFront and CloudWatch Logs "
        "applied). Fixed is what you pay with no traffic; per-request grows with it.",
        "",
        "| configuration | requests/month | fixed | per-request | total |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"- The HTTP API is cheaper than the ALB below **{even_ingress / 1e6:.1f} M requests/month** on ingress "
        f"prices alone (API Gateway's ${p['apigw_http_per_million']:.2f} per million against the ALB's hours, "
        f"LCUs and two IPv4 addresses), and below **{even / 1e6:.1f} M** counting everything (the HTTP API's "
        "access log adds CloudWatch Logs ingestion).",
        "- At high volume the per-request parts dominate: API Gateway, CloudFront beyond its free 10 M "
        "requests, CloudWatch Logs beyond 5 GB, and DynamoDB. Run `make cost REQUESTS=...` for yours.",
        f"- **`Compute=Lambda` idles at ${money(idle_cost['withoutAlarms'])} a month without the alarms**: the origin "
        f"secret ${money(idle_cost['parts']['Secrets Manager'])} and the images kept in ECR "
        f"${money(idle_cost['parts']['ECR (images kept)'])} at most; no task, no public IPv4, no Cloud Map zone. The "
        f"alarms add ${money(idle_cost['alarms'])} ({idle_cost['alarmMetrics']} alarm metrics at list price; an "
        f"account's first {p['cloudwatch_free_alarm_metrics']} alarm metrics a month are free, not subtracted). A "
        f"request bills ${p['lambda_per_million']:.2f} per million and GB-seconds at the block's `Memory` "
        f"(ARM64 ${p['lambda_arm_gb_second']:.10f}, X86_64 ${p['lambda_x86_gb_second']:.10f} per GB-s) for an assumed "
        f"{a['lambda_duration_ms']:g} ms mean, plus {a['lambda_init_seconds']:g} s of billed init on "
        f"{a['lambda_cold_start_share']:.0%} of requests (cold starts), after Lambda's always-free "
        f"{p['lambda_free_requests'] / 1e6:g} M requests and {p['lambda_free_gb_seconds']:,} GB-s a month (per "
        "account, shared by all its functions).",
        f"- **Fargate becomes the cheaper choice above {compute.requests / 1e6:.1f} M requests/month** (both models "
        f"whole, the same traffic; {compute.without_free / 1e6:.1f} M in an account whose other functions use up "
        "Lambda's free tier); below it `Compute=Lambda` costs less. The figure moves with the assumed duration: "
        "`make cost` prints yours, docs/compute.md compares the rest.",
        deploy_bullet(deploy_cost(base)),
        "",
        *ceiling_rows(),
    ])


def deploy_bullet(d: DeployCost) -> str:
    invoke = d.lines[1]
    return (f"- **Building the images** (the stack does it, in CodeBuild) is not in the table: builds and "
            f"invocations bill per deploy and nothing of them runs at rest, so the totals above are the same as when "
            f"`make deploy` built them with Docker. A deploy that "
            f"changes the build context costs **${money(d.per_deploy)}**: {d.builds} build(s) of ~{d.minutes:g} min on "
            f"the service's architecture (the first build minutes of each month are free: {d.free_deploys} such "
            f"deploys), and its custom resources' invocations ${money(invoke.variable)} (within Lambda's always-free "
            f"tier); an unchanged context builds nothing. The repositories keep the last images, the one part "
            f"billed at rest: "
            f"**${money(d.storage.fixed)} a month** at most ({d.storage.detail.split(': ', 1)[1]}).")


def ceiling_rows() -> list[str]:
    """docs/cost.md's ceiling table: dev and prod as samconfig.toml configures them, item by item."""
    tops = {env: ceiling(configuration(env, "")) for env in ("dev", "prod")}
    tops["lambda"] = ceiling(configuration("dev", "Compute=Lambda"))
    items = list(dict.fromkeys(line.item for top in tops.values() for line in top.estimate.lines))

    def cell(top, item):
        found = [line.total for line in top.estimate.lines if line.item == item]
        return money(found[0]) if found else "-"

    def row(label, value):
        return f"| {label} | " + " | ".join(value(top) for top in tops.values()) + " |"
    return [
        "**The ceiling**: the most a month can cost with every throttle saturated (the HTTP API stage at "
        "the profile's `ApiRateLimit` on each of its routes all month, two routes per service, each with its own "
        "throttle; the sample's table at its ceilings (notes-data.yml), each service's `MaxTasks` running, "
        "and the logs and CloudFront that traffic makes). `make cost` prints it for your configuration. With "
        f"`Compute=Lambda` every request the routes accept is billed at the function's {function_timeout()} s timeout "
        "and its `Memory`, the worst case, as many at once as the block's `ReservedConcurrency` (the Profile "
        "mapping's: dev 10, prod 50) allows: the cap holds where the account allows the reservation, and "
        "elsewhere the account's own concurrency quota (10 on a new account) caps the function instead "
        "(docs/compute.md). Fargate's tasks bill by the hour whatever they serve, `MaxTasks` of them.",
        "",
        "| item | dev | prod | dev, `Compute=Lambda` |",
        "|---|---:|---:|---:|",
        row("requests/s the stage accepts (`ApiRateLimit` x routes)", lambda top: f"{top.rate:g} x {top.routes}"),
        *[row(item, lambda top, item=item: cell(top, item)) for item in items],
        row("**ceiling**", lambda top: f"**{money(top.total)}**"),
        row("with the WAF rate rule", lambda top: money(top.with_waf)),
        row("without it", lambda top: money(top.without_waf)),
    ]


def write_readme(path: Path = README) -> None:
    generated.replace_block(path, BLOCK, readme_section())


# ----------------------------------------------------------------- refresh from the Price List API
FARGATE_USAGE = {  # Price List usagetype suffix -> prices.toml key
    "Fargate-vCPU-Hours:perCPU": "fargate_x86_vcpu_hour", "Fargate-GB-Hours": "fargate_x86_gb_hour",
    "Fargate-ARM-vCPU-Hours:perCPU": "fargate_arm_vcpu_hour", "Fargate-ARM-GB-Hours": "fargate_arm_gb_hour",
}


def on_demand_price(product_json: str) -> tuple[str, float]:
    """(usagetype, USD per unit) from one Price List product document."""
    product = json.loads(product_json)
    usage = product["product"]["attributes"]["usagetype"]
    (term,) = product["terms"]["OnDemand"].values()
    (dimension,) = term["priceDimensions"].values()
    return usage, float(dimension["pricePerUnit"]["USD"])


def refresh(region: str, session=None, path: Path = PRICES) -> dict[str, float]:
    """Current Fargate prices from the AWS Price List API into prices.toml (other rows kept); a refresh that
    cannot happen (no credentials, no network, no prices for the region) is an OpsError, the file untouched."""
    import boto3
    from botocore.exceptions import NoCredentialsError

    from scripts.common import aws_errors
    session = session or boto3.session.Session()
    client = session.client("pricing", region_name="us-east-1")
    found = {}
    try:
        with aws_errors():
            pages = client.get_paginator("get_products").paginate(ServiceCode="AmazonECS", Filters=[
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}])
            for page in pages:
                for item in page["PriceList"]:
                    usage, price = on_demand_price(item)
                    for suffix, key in FARGATE_USAGE.items():
                        if usage.endswith("-" + suffix) or usage == suffix:
                            found[key] = price
    except NoCredentialsError as exc:  # asked for and not done: one line and a non-zero exit, no estimate
        raise NoCredentials(f"--refresh kept {path.name}: {exc} (the Price List API needs AWS credentials)") from None
    except OpsError as exc:
        raise type(exc)(f"--refresh kept {path.name}: {exc}") from None
    if not found:
        raise OpsError(f"--refresh kept {path.name}: the Price List API has no Fargate prices for {region}")
    path.write_text(update_prices(path.read_text(), region, found))
    return found


def update_prices(text: str, region: str, prices: dict[str, float]) -> str:
    """prices.toml with new values for `region`'s keys (comments kept) and today's date."""
    header = f"[regions.{region}]"
    if header not in text:
        raise UsageError(f"prices.toml has no {header} table to refresh: copy [regions.us-east-1] first")
    start = text.index(header)
    following = re.search(r"^\[", text[start + len(header):], re.M)
    end = start + len(header) + following.start() if following else len(text)
    section = text[start:end]
    for key, price in prices.items():
        section = re.sub(rf"^({re.escape(key)}\s*=\s*)[0-9.eE_+-]+", rf"\g<1>{price}", section, flags=re.M)
    text = text[:start] + section + text[end:]
    return re.sub(r'^date = ".*"$', f'date = "{date.today().isoformat()}"', text, count=1, flags=re.M)


def amount(name: str):
    """An argparse type for REQUESTS= / TASKS=: a number, zero or more, else one line."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value >= 0 or math.isinf(value):  # also refuses nan
            raise argparse.ArgumentTypeError(f"{name}={text} is not a number of zero or more")
        return value
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`make cost`'s flags (for `python -m scripts cost` and `python -m scripts.cost`); the Makefile's
    ENV, PARAMS, REQUESTS, TASKS and REGION are their defaults (read as flags are: a bad one is one line)."""
    parser.add_argument("--env", default=os.environ.get("ENV") or "dev", help="samconfig.toml environment (ENV=)")
    parser.add_argument("--params", default=os.environ.get("PARAMS", ""), help='"Key=Value ..." (PARAMS=)')
    parser.add_argument("--requests", type=amount("REQUESTS"), default=os.environ.get("REQUESTS") or "1e6",
                        help="requests a month (REQUESTS=, default 1000000)")
    parser.add_argument("--tasks", type=amount("TASKS"), default=os.environ.get("TASKS") or None,
                        help="running tasks, all services together (TASKS=; default: each block's MinTasks/DesiredCount)")
    parser.add_argument("--region", default=os.environ.get("REGION"),
                        help="price region (REGION=; else samconfig's, AWS_REGION, the AWS profile's, us-east-1)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--refresh", action="store_true", help="update prices.toml from the Price List API")
    parser.add_argument("--readme", nargs="?", type=Path, const=README, metavar="FILE",
                        help="regenerate the cost block in FILE (default docs/cost.md)")


def run(args: argparse.Namespace) -> int:
    if args.readme:
        write_readme(args.readme)
        return 0
    config = configuration(args.env, args.params)
    region, source = resolve_region(args.region, load_samconfig(args.env), default=DEFAULT_REGION)
    from scripts.plan import check_rules  # the parent's Rules, asked as make plan asks them (plan imports cost)
    check_rules(config, region, "this configuration", source)  # a configuration no deploy can create: no price
    say_region(region, source)
    if args.refresh:
        refresh(region)
    kwargs = {"region": region, "tasks": args.tasks}
    est = estimate(config, args.requests, **kwargs)
    alts = alternatives(config, args.requests, **kwargs)
    lambda_mode = config.get("Compute") == "Lambda"  # no ingress to switch to: an ALB needs Fargate
    even = None if lambda_mode else break_even(config, region=region, tasks=args.tasks)
    even_ingress = None if lambda_mode else break_even(config, INGRESS_LINES, region=region, tasks=args.tasks)
    compute = compute_break_even(config, region=region, tasks=args.tasks)
    top = ceiling(config, region=region)
    deploy = deploy_cost(config, region=region)
    functions = any(on_lambda(s) for s in settings(config, region)[1].values())
    idle_cost = idle(config, deploy, region=region, tasks=args.tasks)
    if args.json:
        print(json.dumps(as_json(est, alts, even, even_ingress, top, deploy, compute, idle_cost), indent=2))
    else:
        print(table(est, alts, even, even_ingress, deploy, compute, idle_cost if functions else None) + "\n\n"
              + ceiling_table(top))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="make cost", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    run_cli(main)
