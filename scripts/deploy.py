"""`make deploy`: from a clone to a working deployment in one command.

preflight -> image repository -> build and push (skipped when the commit is
already there) -> `sam deploy` with the image by digest -> wait until the ECS
service is stable -> publish the frontend -> smoke tests -> print the URLs.
Running it again with no changes rebuilds nothing and is not an error.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

from scripts import image, preflight, publish
from scripts.common import (
    ENVIRONMENTS,
    ROOT,
    OpsError,
    Target,
    aws_errors,
    format_overrides,
    log,
    require,
    stack_outputs,
    wait,
)


def sam_binary() -> str:
    local = ROOT / ".venv-sam" / "bin" / "sam"
    found = str(local) if local.exists() else shutil.which("sam")
    if not found:
        raise OpsError("the SAM CLI is not installed: run `make venv` (it creates .venv-sam)")
    return found


def sam_deploy(t: Target, params: dict, run=subprocess.run) -> None:
    # --parameter-overrides on the command line replaces samconfig's whole set, so pass all of it.
    args = [sam_binary(), "deploy", "--config-env", ENVIRONMENTS[t.env], "--stack-name", t.stack_name,
            "--region", t.region, "--no-fail-on-empty-changeset", "--parameter-overrides", *format_overrides(params)]
    # CI's deploy role may not create resources itself: CloudFormation does, as this service role
    # (README, "Deploying from GitHub": the deploy role may pass this role and no other).
    if os.environ.get("CLOUDFORMATION_ROLE_ARN"):
        args += ["--role-arn", os.environ["CLOUDFORMATION_ROLE_ARN"]]
    log("sam deploy " + " ".join(args[2:]))
    result = run(args, cwd=ROOT, env={**os.environ, "SAM_CLI_TELEMETRY": "0"}, check=False)
    if result.returncode != 0:
        raise OpsError(f"sam deploy failed (exit {result.returncode}); the stack events above say why")


def wait_for_service(t: Target, outputs: dict, timeout: float = 1200, delay: float = 15) -> None:
    cluster, service = require(outputs, "ClusterName", "ServiceName")
    ecs = t.client("ecs")

    def state():
        with aws_errors():
            s = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        rollout = ", ".join(f"{d.get('status')} {d.get('rolloutState', '')}".strip() for d in s["deployments"])
        return f"running {s['runningCount']}/{s['desiredCount']}, deployments: {rollout}"

    wait("services_stable", ecs, what=f"ECS service {service}", describe=state, timeout=timeout, delay=delay,
         cluster=cluster, services=[service])


def smoke(t: Target, version: str | None, run=subprocess.run) -> None:
    env = {**os.environ, "SMOKE_STACK": t.stack_name, "AWS_REGION": t.region}
    if version:
        env["SMOKE_VERSION"] = version
    result = run([sys.executable, "-m", "pytest", "tests/smoke", "-p", "no:cacheprovider", "-q"], cwd=ROOT,
                 env=env, check=False)
    if result.returncode != 0:
        raise OpsError("smoke tests failed against the deployment; their report is above")


def deploy(t: Target, extra: dict | None = None, run=subprocess.run, checks=None, skip_smoke: bool = False,
           service_timeout: float = 1200, delay: float = 15) -> dict:
    params = {**t.parameters, **(extra or {})}
    preflight.preflight(t, params, **({"checks": checks} if checks is not None else {}))
    image_ref, version = image.build_and_push(t, params.get("Architecture", "ARM64"), run)
    params.update(ImageUri=image_ref, AppVersion=version)
    sam_deploy(t, params, run)
    outputs = stack_outputs(t)  # read once: the deploy is done, nothing below changes them
    wait_for_service(t, outputs, service_timeout, delay)
    publish.publish(t, outputs=outputs, delay=delay)
    if not skip_smoke:
        smoke(t, version, run)
    log(f"\nFrontend: {outputs.get('FrontendUrl')}\nAPI:      {outputs.get('ApiUrl')}\nImage:    {image_ref}")
    return {"image": image_ref, "version": version, "outputs": outputs}
