"""`make status`, `make logs` and `make exec`: every service of the stack, or the one SERVICE= names
(exec acts on one: it asks which at a terminal, or refuses with the list)."""
from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime

from scripts import alerts, lambda_service
from scripts import outputs as stack_outputs
from scripts.common import Target, aws_errors, log
from scripts.errors import ServiceNotActive, ServiceNotReady, ToolMissing
from scripts.outputs import ParentOutputs


def nested_resources(cfn, stack: str, resource_type: str, depth: int = 0) -> list[str]:
    """Physical IDs of every `resource_type` in the stack and its nested stacks."""
    found = []
    with aws_errors():
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
            for r in page["StackResourceSummaries"]:
                physical = r.get("PhysicalResourceId")
                if not physical:
                    continue
                if r["ResourceType"] == resource_type:
                    found.append(physical)
                elif r["ResourceType"] == "AWS::CloudFormation::Stack" and depth < 5:
                    found += nested_resources(cfn, physical, resource_type, depth + 1)
    return found


def vpc_link_warnings(t: Target) -> list[str]:
    """A warning for each HTTP API VPC link that is not AVAILABLE. A link with no traffic for 60 days goes
    INACTIVE: API Gateway deletes its network interfaces, requests through it fail, and the next requests
    bring it back within minutes.
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-vpc-links.html"""
    api = t.client("apigatewayv2")
    warnings = []
    for link_id in nested_resources(t.client("cloudformation"), t.stack_name, "AWS::ApiGatewayV2::VpcLink"):
        with aws_errors():
            link = api.get_vpc_link(VpcLinkId=link_id)
        state = link.get("VpcLinkStatus", "?")
        if state != "AVAILABLE":
            detail = f" ({link['VpcLinkStatusMessage']})" if link.get("VpcLinkStatusMessage") else ""
            warnings.append(f"warning: VPC link {link_id} is {state}{detail}: API requests fail until it is "
                            f"AVAILABLE again (an INACTIVE link, idle for 60 days, comes back minutes after "
                            f"the next requests)")
    return warnings


def status(t: Target, outputs: ParentOutputs | None = None) -> dict:
    outputs = outputs or stack_outputs.read(t)
    selected = outputs.select(t.service)
    on_fargate = [s.name for s in selected if not s.on_lambda]
    described = []
    if on_fargate:  # ECS refuses an empty list
        with aws_errors():
            described = t.client("ecs").describe_services(cluster=outputs.cluster_name, services=on_fargate)["services"]
    log(f"stack      {t.stack_name} ({t.region})")
    for label, value in (("FrontendUrl", outputs.frontend_url), ("ApiUrl", outputs.api_url),
                         ("Ingress", outputs.ingress), ("Profile", outputs.profile),
                         ("TableName", outputs.table_name)):
        if value:
            log(f"{label:<10} {value}" if len(label) <= 10 else f"{label} {value}")
    by_name = {s["serviceName"]: s for s in described}
    services = {}
    lam = t.client("lambda") if any(s.on_lambda for s in selected) else None
    for svc in selected:
        if svc.on_lambda:
            try:
                lines = lambda_service.status_lines(lam, svc)
            except ServiceNotActive as exc:  # status goes on to the other services, as for a missing ECS one
                lines = [f"service    {svc.function} ({svc.short}, {svc.path_prefix}): {exc}"]
            services[svc.key] = {"lines": lines}
            for line in [*lines, f"logs       {svc.log_group}"]:
                log(line)
            continue
        service = by_name.get(svc.name, {"desiredCount": "?", "runningCount": "?", "pendingCount": "?"})
        services[svc.key] = service
        log(f"service    {svc.name} ({svc.short}, {svc.path_prefix}): desired {service['desiredCount']}, "
            f"running {service['runningCount']}, pending {service['pendingCount']}")
        log(f"logs       {svc.log_group}")
        for d in service.get("deployments", []):
            log(f"deployment {d.get('status')} {d.get('rolloutState', '')} "
                f"{d.get('taskDefinition', '').rsplit('/', 1)[-1]} running {d.get('runningCount')}")
        for event in service.get("events", [])[:5]:
            log(f"event      {event['createdAt']:%Y-%m-%d %H:%M} {event['message']}")
    warnings = vpc_link_warnings(t) if outputs.ingress == "HttpApi" else []
    for warning in warnings:
        log(warning)
    alert_lines = alerts.status_lines(t, outputs, described)
    for line in alert_lines:
        log(line)
    return {"outputs": outputs, "services": services, "warnings": warnings, "alerts": alert_lines}


def logs(t: Target, minutes: int = 10, follow: bool = False, poll: float = 5, clock=time.time,
         sleep=time.sleep, rounds: int | None = None, outputs: ParentOutputs | None = None) -> list[str]:
    """Print the services' log lines from the last `minutes` (each line names its service when there are
    several), oldest first; with follow, keep polling."""
    selected = (outputs or stack_outputs.read(t)).select(t.service)
    client = t.client("logs")
    since = {svc.key: int((clock() - minutes * 60) * 1000) for svc in selected}
    seen: set[str] = set()
    printed: list[str] = []
    done = 0
    while True:
        batch = []
        for svc in selected:
            kwargs = {"logGroupName": svc.log_group, "startTime": since[svc.key], "interleaved": True}
            with aws_errors():
                for page in client.get_paginator("filter_log_events").paginate(**kwargs):
                    for event in page.get("events", []):
                        if (svc.key, event["eventId"]) in seen:
                            continue
                        seen.add((svc.key, event["eventId"]))
                        since[svc.key] = max(since[svc.key], event["timestamp"])
                        batch.append((event["timestamp"], svc.short, event["message"].rstrip()))
        for stamp, name, message in sorted(batch):
            when = datetime.fromtimestamp(stamp / 1000, UTC)
            line = f"{when:%H:%M:%S} {name + ' ' if len(selected) > 1 else ''}{message}"
            printed.append(line)
            log(line)
        done += 1
        if not follow or (rounds is not None and done >= rounds):
            return printed
        sleep(poll)


def exec_shell(t: Target, command: str = "/bin/sh", outputs: ParentOutputs | None = None, ask=None) -> list[str]:
    """Open a shell in a running task of one service (needs EnableExecuteCommand "true" in its block, the AWS CLI and
    the Session Manager plugin). `ask`: a terminal to pick a service on when several and none named.
    Returns the command it runs, after replacing this process."""
    outputs = outputs or stack_outputs.read(t)
    svc = outputs.one(t.service, ask)
    if svc.on_lambda:
        raise ServiceNotReady(f"service {svc.short} runs on Lambda (function {svc.function}): there is no task to open "
                              f"a shell in; make logs SERVICE={svc.short} shows what it does")
    cluster, service_name = outputs.cluster_name, svc.name
    ecs = t.client("ecs")
    with aws_errors():
        service = ecs.describe_services(cluster=cluster, services=[service_name])["services"][0]
        tasks = ecs.list_tasks(cluster=cluster, serviceName=service_name, desiredStatus="RUNNING")["taskArns"]
    if not service.get("enableExecuteCommand"):
        raise ServiceNotReady("ECS Exec is off: set EnableExecuteCommand: \"true\" in the service's block in "
                              "parent.yml and make deploy")
    if not tasks:
        raise ServiceNotReady(f"no running task in {service_name}: `make start` first")
    # Turning ECS Exec on does not restart running tasks; only tasks started afterwards have the agent
    # (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html).
    with aws_errors():
        described = ecs.describe_tasks(cluster=cluster, tasks=tasks)["tasks"]
    ready = [x["taskArn"] for x in described if x.get("enableExecuteCommand")]
    if not ready:
        raise ServiceNotReady(f"ECS Exec is on for {service_name}, but its running tasks started before it was: "
                              f"force a new deployment (aws ecs update-service --cluster {cluster} --service "
                              f"{service_name} --force-new-deployment) or make deploy a new version, then make exec "
                              f"again")
    tasks = ready
    for tool in ("aws", "session-manager-plugin"):
        if shutil.which(tool) is None:
            raise ToolMissing(f"`{tool}` is not on PATH: ECS Exec needs the AWS CLI and the Session Manager plugin")
    argv = ["aws", "ecs", "execute-command", "--region", t.region, "--cluster", cluster, "--task", tasks[0],
            "--container", svc.container, "--interactive", "--command", command]
    os.execvp(argv[0], argv)
    return argv
