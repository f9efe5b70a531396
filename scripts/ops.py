"""`make status`, `make logs` and `make exec`."""
from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime

from scripts.common import OpsError, Target, aws_errors, log, require, stack_outputs


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


def status(t: Target) -> dict:
    outputs = stack_outputs(t)
    cluster, service_name = require(outputs, "ClusterName", "ServiceName")
    ecs = t.client("ecs")
    with aws_errors():
        service = ecs.describe_services(cluster=cluster, services=[service_name])["services"][0]
    log(f"stack      {t.stack_name} ({t.region})")
    for key in ("FrontendUrl", "ApiUrl", "Ingress", "Architecture", "TableName", "LogGroupName"):
        if key in outputs:
            log(f"{key:<10} {outputs[key]}" if len(key) <= 10 else f"{key} {outputs[key]}")
    log(f"service    {service_name}: desired {service['desiredCount']}, running {service['runningCount']}, "
        f"pending {service['pendingCount']}")
    for d in service.get("deployments", []):
        log(f"deployment {d.get('status')} {d.get('rolloutState', '')} "
            f"{d.get('taskDefinition', '').rsplit('/', 1)[-1]} running {d.get('runningCount')}")
    for event in service.get("events", [])[:5]:
        log(f"event      {event['createdAt']:%Y-%m-%d %H:%M} {event['message']}")
    warnings = vpc_link_warnings(t) if outputs.get("Ingress", "HttpApi") == "HttpApi" else []
    for warning in warnings:
        log(warning)
    return {"outputs": outputs, "service": service, "warnings": warnings}


def logs(t: Target, minutes: int = 10, follow: bool = False, poll: float = 5, clock=time.time,
         sleep=time.sleep, rounds: int | None = None) -> list[str]:
    """Print the service's log lines from the last `minutes`; with follow, keep polling."""
    (group,) = require(stack_outputs(t), "LogGroupName")
    client = t.client("logs")
    since = int((clock() - minutes * 60) * 1000)
    seen: set[str] = set()
    printed: list[str] = []
    done = 0
    while True:
        kwargs = {"logGroupName": group, "startTime": since, "interleaved": True}
        with aws_errors():
            for page in client.get_paginator("filter_log_events").paginate(**kwargs):
                for event in page.get("events", []):
                    if event["eventId"] in seen:
                        continue
                    seen.add(event["eventId"])
                    since = max(since, event["timestamp"])
                    stamp = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
                    line = f"{stamp:%H:%M:%S} {event['message'].rstrip()}"
                    printed.append(line)
                    log(line)
        done += 1
        if not follow or (rounds is not None and done >= rounds):
            return printed
        sleep(poll)


def exec_shell(t: Target, command: str = "/bin/sh") -> list[str]:
    """Open a shell in a running task (needs EnableExecuteCommand=true, the AWS CLI and
    the Session Manager plugin). Returns the command it runs, after replacing this process."""
    outputs = stack_outputs(t)
    cluster, service_name, container = require(outputs, "ClusterName", "ServiceName", "ContainerName")
    ecs = t.client("ecs")
    with aws_errors():
        service = ecs.describe_services(cluster=cluster, services=[service_name])["services"][0]
        tasks = ecs.list_tasks(cluster=cluster, serviceName=service_name, desiredStatus="RUNNING")["taskArns"]
    if not service.get("enableExecuteCommand"):
        raise OpsError("ECS Exec is off: deploy with EnableExecuteCommand=true "
                       "(make deploy PARAMS=\"EnableExecuteCommand=true\")")
    if not tasks:
        raise OpsError(f"no running task in {service_name}: `make start` first")
    # Turning ECS Exec on does not restart running tasks; only tasks started afterwards have the agent
    # (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html).
    with aws_errors():
        described = ecs.describe_tasks(cluster=cluster, tasks=tasks)["tasks"]
    ready = [x["taskArn"] for x in described if x.get("enableExecuteCommand")]
    if not ready:
        raise OpsError(f"ECS Exec is on for {service_name}, but its running tasks started before it was: force a "
                       f"new deployment (aws ecs update-service --cluster {cluster} --service {service_name} "
                       f"--force-new-deployment) or make deploy a new version, then make exec again")
    tasks = ready
    for tool in ("aws", "session-manager-plugin"):
        if shutil.which(tool) is None:
            raise OpsError(f"`{tool}` is not on PATH: ECS Exec needs the AWS CLI and the Session Manager plugin")
    argv = ["aws", "ecs", "execute-command", "--region", t.region, "--cluster", cluster, "--task", tasks[0],
            "--container", container, "--interactive", "--command", command]
    os.execvp(argv[0], argv)
    return argv
