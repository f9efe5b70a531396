"""`make stop` / `make start`: scale the service to zero and back.

Stop records what was there (autoscaling min/max and the desired count) as
tags on the ECS service, pins autoscaling to 0/0 so it cannot scale back up,
and waits for the tasks to drain. Start restores exactly that and waits until
the service is stable.

A `make deploy` while stopped leaves it stopped: the new version is in place
and runs on `make start`. A deploy does not undo a deliberate stop (CI deploying
every push would otherwise restart a dev stack someone stopped to save money),
and an image-only deploy does not touch the scalable target anyway. The deploy
says so and skips the smoke tests, which could only fail. The same inside a
StopSchedule window, where scheduled actions hold autoscaling at 0/0 until the
StartSchedule. https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-scheduled-scaling.html
"""
from __future__ import annotations

from scripts.common import OpsError, Target, aws_errors, log, require, stack_outputs, wait

TAG_PREFIX = "blueprint:stopped-"
DIMENSION = "ecs:service:DesiredCount"


def _service(t: Target):
    cluster, service, scalable_id = require(stack_outputs(t), "ClusterName", "ServiceName", "ScalableTargetId")
    ecs, aas = t.client("ecs"), t.client("application-autoscaling")
    with aws_errors():
        services = ecs.describe_services(cluster=cluster, services=[service])["services"]
    if not services or services[0]["status"] != "ACTIVE":
        raise OpsError(f"service {service} is not active in cluster {cluster}")
    return ecs, aas, cluster, services[0], scalable_id


def _scalable(aas, scalable_id: str) -> dict:
    with aws_errors():
        targets = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[scalable_id],
                                                ScalableDimension=DIMENSION)["ScalableTargets"]
    if not targets:
        raise OpsError(f"no autoscaling target {scalable_id}")
    return targets[0]


def _tags(ecs, service: dict) -> dict[str, str]:
    with aws_errors():
        return {x["key"]: x["value"] for x in ecs.list_tags_for_resource(resourceArn=service["serviceArn"])["tags"]}


def stopped_reason(t: Target, outputs: dict) -> str | None:
    """None when the service can run tasks; otherwise one line saying why it cannot and that the smoke
    tests are skipped. Also forgets a `make stop` record a deploy made stale (autoscaling restored)."""
    if not outputs.get("ScalableTargetId"):
        return None  # a stack without autoscaling: nothing can pin it at zero
    cluster, service_name, scalable_id = require(outputs, "ClusterName", "ServiceName", "ScalableTargetId")
    ecs, aas = t.client("ecs"), t.client("application-autoscaling")
    target = _scalable(aas, scalable_id)
    with aws_errors():
        service = ecs.describe_services(cluster=cluster, services=[service_name])["services"][0]
    tags = _tags(ecs, service)
    recorded = f"{TAG_PREFIX}min" in tags
    if target["MaxCapacity"] > 0:
        if recorded:  # a deploy that changed MinTasks/MaxTasks re-registered the target: no longer stopped
            with aws_errors():
                ecs.untag_resource(resourceArn=service["serviceArn"],
                                   tagKeys=[k for k in tags if k.startswith(TAG_PREFIX)])
        if target["MinCapacity"] == 0 and service["desiredCount"] == 0:
            return (f"service {service_name} runs 0 tasks (MinTasks=0 and nothing scaled it up): smoke tests "
                    f"skipped")
        return None
    if recorded:
        return (f"service {service_name} is stopped (make stop recorded {tags.get(TAG_PREFIX + 'desired')} tasks, "
                f"autoscaling {tags[TAG_PREFIX + 'min']}-{tags.get(TAG_PREFIX + 'max')}): the new version is deployed "
                f"and runs on `make start`; smoke tests skipped")
    with aws_errors():
        actions = aas.describe_scheduled_actions(ServiceNamespace="ecs", ResourceId=scalable_id,
                                                 ScalableDimension=DIMENSION)["ScheduledActions"]
    starts = [a["Schedule"] for a in actions if a.get("ScalableTargetAction", {}).get("MaxCapacity", 0) > 0]
    if starts:
        return (f"service {service_name} is inside its StopSchedule window (autoscaling held at 0 until "
                f"{starts[0]}): the new version runs then; smoke tests skipped")
    return (f"service {service_name} has autoscaling at 0 tasks (MaxCapacity 0): the new version is deployed "
            f"but not running; smoke tests skipped")


def _wait_stable(t: Target, ecs, cluster: str, service: str, timeout: float, delay: float) -> None:
    def state():
        with aws_errors():
            s = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        return f"desired {s['desiredCount']}, running {s['runningCount']}, pending {s['pendingCount']}"
    wait("services_stable", ecs, what=f"service {service}", describe=state, timeout=timeout, delay=delay,
         cluster=cluster, services=[service])


def stop(t: Target, timeout: float = 600, delay: float = 10) -> dict:
    ecs, aas, cluster, service, scalable_id = _service(t)
    target = _scalable(aas, scalable_id)
    tags = _tags(ecs, service)
    if f"{TAG_PREFIX}min" in tags:
        log(f"{service['serviceName']} is already stopped")
        return tags
    saved = {"min": target["MinCapacity"], "max": target["MaxCapacity"], "desired": service["desiredCount"]}
    with aws_errors():
        ecs.tag_resource(resourceArn=service["serviceArn"],
                         tags=[{"key": TAG_PREFIX + k, "value": str(v)} for k, v in saved.items()])
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=scalable_id, ScalableDimension=DIMENSION,
                                     MinCapacity=0, MaxCapacity=0)
        ecs.update_service(cluster=cluster, service=service["serviceName"], desiredCount=0)
    log(f"stopping {service['serviceName']} (was {saved['desired']} tasks, autoscaling {saved['min']}-{saved['max']})")
    _wait_stable(t, ecs, cluster, service["serviceName"], timeout, delay)
    return saved


def start(t: Target, timeout: float = 600, delay: float = 10) -> dict:
    ecs, aas, cluster, service, scalable_id = _service(t)
    tags = _tags(ecs, service)
    if f"{TAG_PREFIX}min" not in tags:
        log(f"{service['serviceName']} was not stopped by `make stop`; nothing to restore")
        return {}
    saved = {k: int(tags[TAG_PREFIX + k]) for k in ("min", "max", "desired")}
    desired = min(max(saved["desired"], saved["min"], 1), max(saved["max"], 1))
    with aws_errors():
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=scalable_id, ScalableDimension=DIMENSION,
                                     MinCapacity=saved["min"], MaxCapacity=saved["max"])
        ecs.update_service(cluster=cluster, service=service["serviceName"], desiredCount=desired)
        ecs.untag_resource(resourceArn=service["serviceArn"], tagKeys=[TAG_PREFIX + k for k in saved])
    log(f"starting {service['serviceName']}: {desired} tasks, autoscaling {saved['min']}-{saved['max']}")
    _wait_stable(t, ecs, cluster, service["serviceName"], timeout, delay)
    return {**saved, "desired": desired}
