"""`make stop` / `make start`: scale every service of the stack (or SERVICE=) to zero and back.

For each service, stop records what was there (autoscaling min/max and the desired count) as
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

A service on Lambda has no tasks: stop sets its function's reserved concurrency to 0 and start puts back its
block's (scripts/lambda_service.py).
"""
from __future__ import annotations

from scripts import lambda_service
from scripts import outputs as stack_outputs
from scripts.common import Target, aws_errors, log, wait
from scripts.errors import OpsError, ServiceNotActive
from scripts.outputs import ParentOutputs, ServiceOutputs

TAG_PREFIX = "blueprint:stopped-"
DIMENSION = "ecs:service:DesiredCount"
# Start resumes all three of Application Auto Scaling's switches: a Free-plan `make destroy` interrupted after
# it suspended them (destroy.hold_at_zero) would leave them off, since RegisterScalableTarget keeps what it is
# not given (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html).
RESUMED = {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False, "ScheduledScalingSuspended": False}


def _describe(ecs, cluster: str, service: ServiceOutputs) -> dict:
    with aws_errors():
        services = ecs.describe_services(cluster=cluster, services=[service.name])["services"]
    if not services or services[0]["status"] != "ACTIVE":
        raise ServiceNotActive(f"service {service.name} is not active in cluster {cluster}")
    return services[0]


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


def stopped_reasons(t: Target, outputs: ParentOutputs) -> list[str]:
    """stopped_reason of every service of the stack that cannot run tasks (one ECS and one autoscaling
    client serve all of them)."""
    ecs, aas, lam = clients(t, outputs.services.values())
    return [reason for svc in outputs.services.values()
            if (reason := lambda_service.stopped_reason(lam, svc) if svc.on_lambda
                else stopped_reason(ecs, aas, outputs.cluster_name, svc))]


def clients(t: Target, services) -> tuple:
    """(ECS, autoscaling, Lambda) clients, each made once and only when a service needs it (else None)."""
    services = list(services)
    ecs = aas = lam = None
    if any(not s.on_lambda for s in services):
        ecs, aas = t.client("ecs"), t.client("application-autoscaling")
    if any(s.on_lambda for s in services):
        lam = t.client("lambda")
    return ecs, aas, lam


def stopped_reason(ecs, aas, cluster: str, svc: ServiceOutputs) -> str | None:
    """None when the service can run tasks; otherwise one line saying why it cannot and that the smoke
    tests are skipped. Also forgets a `make stop` record a deploy made stale (autoscaling restored)."""
    target = _scalable(aas, svc.scalable_target)
    service = _describe(ecs, cluster, svc)
    tags = _tags(ecs, service)
    recorded = f"{TAG_PREFIX}min" in tags
    if target["MaxCapacity"] > 0:
        if recorded:  # a deploy that changed MinTasks/MaxTasks re-registered the target: no longer stopped
            with aws_errors():
                ecs.untag_resource(resourceArn=service["serviceArn"],
                                   tagKeys=[k for k in tags if k.startswith(TAG_PREFIX)])
        if target["MinCapacity"] == 0 and service["desiredCount"] == 0:
            return (f"service {svc.name} runs 0 tasks (MinTasks=0 and nothing scaled it up): smoke tests "
                    f"skipped")
        return None
    if recorded:
        return (f"service {svc.name} is stopped (make stop recorded {tags.get(TAG_PREFIX + 'desired')} tasks, "
                f"autoscaling {tags[TAG_PREFIX + 'min']}-{tags.get(TAG_PREFIX + 'max')}): the new version is deployed "
                f"and runs on `make start`; smoke tests skipped")
    with aws_errors():
        actions = aas.describe_scheduled_actions(ServiceNamespace="ecs", ResourceId=svc.scalable_target,
                                                 ScalableDimension=DIMENSION)["ScheduledActions"]
    starts = [a["Schedule"] for a in actions if a.get("ScalableTargetAction", {}).get("MaxCapacity", 0) > 0]
    if starts:
        return (f"service {svc.name} is inside its StopSchedule window (autoscaling held at 0 until "
                f"{starts[0]}): the new version runs then; smoke tests skipped")
    return (f"service {svc.name} has autoscaling at 0 tasks (MaxCapacity 0): the new version is deployed "
            f"but not running; smoke tests skipped")


def wait_stable(ecs, cluster: str, names: list[str], timeout: float, delay: float, what: str | None = None) -> None:
    """Until every named service is stable (one waiter for all: ECS describes up to 10 at once)."""
    def state():
        with aws_errors():
            described = ecs.describe_services(cluster=cluster, services=names)["services"]
        return "; ".join(  # each service named when there are several
            f"{s['serviceName'] + ' ' if len(names) > 1 else ''}running {s['runningCount']}/{s['desiredCount']}, "
            "deployments: "
            + ", ".join(f"{d.get('status')} {d.get('rolloutState', '')}".strip() for d in s.get("deployments", []))
            for s in described)
    wait("services_stable", ecs, what=what or f"ECS service {', '.join(names)}", describe=state, timeout=timeout,
         delay=delay, cluster=cluster, services=names)


def _each(t: Target, outputs: ParentOutputs | None, act, on_lambda, timeout: float, delay: float) -> dict[str, dict]:
    """`act` on each Fargate service, `on_lambda` on each Lambda one; then wait for the Fargate ones it changed."""
    outputs = outputs or stack_outputs.read(t)
    ecs, aas, lam = clients(t, outputs.select(t.service))
    done = {svc.key: on_lambda(lam, svc) if svc.on_lambda else act(ecs, aas, outputs.cluster_name, svc)
            for svc in outputs.select(t.service)}
    changed = [outputs.services[key].name for key, result in done.items() if result.get("changed")]
    if changed:
        wait_stable(ecs, outputs.cluster_name, changed, timeout, delay)
    return {key: result["record"] for key, result in done.items()}


def _stop_one(ecs, aas, cluster: str, svc: ServiceOutputs) -> dict:
    service = _describe(ecs, cluster, svc)
    target = _scalable(aas, svc.scalable_target)
    tags = _tags(ecs, service)
    if f"{TAG_PREFIX}min" in tags:
        log(f"{svc.name} is already stopped")
        return {"record": tags}
    saved = {"min": target["MinCapacity"], "max": target["MaxCapacity"], "desired": service["desiredCount"]}
    with aws_errors():
        ecs.tag_resource(resourceArn=service["serviceArn"],
                         tags=[{"key": TAG_PREFIX + k, "value": str(v)} for k, v in saved.items()])
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=svc.scalable_target,
                                     ScalableDimension=DIMENSION, MinCapacity=0, MaxCapacity=0)
        ecs.update_service(cluster=cluster, service=svc.name, desiredCount=0)
    log(f"stopping {svc.name} (was {saved['desired']} tasks, autoscaling {saved['min']}-{saved['max']})")
    return {"record": saved, "changed": True}


def _start_one(ecs, aas, cluster: str, svc: ServiceOutputs) -> dict:
    service = _describe(ecs, cluster, svc)
    tags = _tags(ecs, service)
    if f"{TAG_PREFIX}min" not in tags:
        log(f"{svc.name} was not stopped by `make stop`; nothing to restore")
        return {"record": {}}
    saved = {k: int(tags[TAG_PREFIX + k]) for k in ("min", "max", "desired")}
    desired = min(max(saved["desired"], saved["min"], 1), max(saved["max"], 1))
    with aws_errors():
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=svc.scalable_target,
                                     ScalableDimension=DIMENSION, MinCapacity=saved["min"], MaxCapacity=saved["max"],
                                     SuspendedState=RESUMED)
        ecs.update_service(cluster=cluster, service=svc.name, desiredCount=desired)
        ecs.untag_resource(resourceArn=service["serviceArn"], tagKeys=[TAG_PREFIX + k for k in saved])
    log(f"starting {svc.name}: {desired} tasks, autoscaling {saved['min']}-{saved['max']}")
    return {"record": {**saved, "desired": desired}, "changed": True}


def stop(t: Target, timeout: float = 600, delay: float = 10, outputs: ParentOutputs | None = None) -> dict[str, dict]:
    """Stop every service (or t.service); per service key, what was recorded (or the earlier record)."""
    return _each(t, outputs, _stop_one, lambda_service.stop_one, timeout, delay)


def start(t: Target, timeout: float = 600, delay: float = 10, outputs: ParentOutputs | None = None) -> dict[str, dict]:
    """Start what `make stop` recorded; per service key, what was restored ({} when it was not stopped)."""
    return _each(t, outputs, _start_one, lambda_service.start_one, timeout, delay)
