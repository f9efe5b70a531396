"""`make deploy`: from a clone to a working deployment in one command, with no Docker.

preflight -> clear a failed first create -> show the parameters that change -> `sam deploy` (on
failure: the root cause from the nested stacks' events, a failed image build's last log lines
included) -> wait until every ECS service is stable -> smoke tests (skipped, and said, when a service
is stopped), each health check against the version its service's descriptor says the stack built ->
print the URLs.

The stack does the rest itself, as it does for `sam deploy --guided`: `sam deploy` packages each
service's build context and frontend/ (layers whose content hash names them), a custom resource builds
each image in CodeBuild for the service's architecture and the task definition runs it by digest, and
another publishes the site. So an unchanged context builds nothing, and this command runs no docker,
pushes nothing and uploads no site. An ImageUri given in PARAMS (a pipeline that builds and scans its
images itself) is passed on as given, and the services it names skip the build.
Running it again with no changes is not an error.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from blueprint.services import IMAGE_PARAMETER
from blueprint.templates import packaged_folders
from scripts import alerts, lambda_service, preflight, scale, stack_failures, upgrade
from scripts import outputs as stack_outputs
from scripts.common import (
    ENVIRONMENTS,
    ROOT,
    OpsError,
    Target,
    check_parameters,
    format_overrides,
    log,
    not_created,
    stack_parameters,
)
from scripts.errors import DeployedValueDropped, DeployFailed, NotConfirmed, ToolMissing
from scripts.outputs import ParentOutputs
from scripts.smoke import smoke


def sam_binary() -> str:
    local = ROOT / ".venv-sam" / "bin" / "sam"
    found = str(local) if local.exists() else shutil.which("sam")
    if not found:
        raise ToolMissing("the SAM CLI is not installed: run `make venv` (it creates .venv-sam)")
    return found


COMPUTED = "computed by make deploy"


def remove_bytecode(root: Path = ROOT) -> str:
    """Remove every __pycache__ folder (never tracked: .gitignore) from the folders `sam deploy` uploads: each
    is zipped as it is on disk and named by a hash of every file in it, so bytecode a plain `python` or
    `pytest` run left in app/ would change the hash and build the image again for nothing. One line, or ""."""
    removed, where = 0, []
    for folder in packaged_folders(root):
        caches = [c for c in folder.rglob("__pycache__") if c.is_dir() and not c.is_symlink()]
        for cache in caches:
            shutil.rmtree(cache, ignore_errors=True)
        removed += len(caches)
        where += [f"{folder.relative_to(root)}/"] if caches else []
    if not removed:
        return ""
    return (f"removed {removed} __pycache__ folder{'s' if removed > 1 else ''} from {', '.join(where)} "
            "(sam deploy uploads them; bytecode would change the hash and rebuild for nothing)")


def sam_deploy(t: Target, params: dict, run=subprocess.run, yes: bool = False) -> None:
    # --parameter-overrides on the command line replaces samconfig's whole set, so pass all of it.
    # Parameters not passed keep their deployed value (SAM sends UsePreviousValue for them).
    args = [sam_binary(), "deploy", "--config-env", ENVIRONMENTS[t.env], "--stack-name", t.stack_name,
            "--region", t.region, "--no-fail-on-empty-changeset", *(["--no-confirm-changeset"] if yes else []),
            "--parameter-overrides", *format_overrides(params)]
    # CI's deploy role may not create resources itself: CloudFormation does, as this service role
    # (docs/security.md, "Deploying from GitHub": the deploy role may pass this role and no other).
    if os.environ.get("CLOUDFORMATION_ROLE_ARN"):
        args += ["--role-arn", os.environ["CLOUDFORMATION_ROLE_ARN"]]
    removed = remove_bytecode(ROOT)
    if removed:
        log(removed)
    log("sam deploy " + " ".join(args[2:]))
    started = datetime.now(UTC) - timedelta(seconds=5)  # clock skew: events are stamped by AWS
    result = run(args, cwd=ROOT, env={**os.environ, "SAM_CLI_TELEMETRY": "0"}, check=False)
    if result.returncode != 0:
        cause = stack_failures.explain(t, after=started)
        if stack_failures.stack_status(t.client("cloudformation"), t.stack_name) == "ROLLBACK_COMPLETE":
            log("the first create failed: the next make deploy deletes the empty stack and creates it again")
        if cause:
            raise DeployFailed(f"sam deploy failed: {cause}")
        raise DeployFailed(f"sam deploy failed (exit {result.returncode}); its output above says why")


def boundary_parameter(environ=os.environ) -> dict:
    """PermissionsBoundaryArn from PERMISSIONS_BOUNDARY_ARN (CI sets it: the CloudFormation service role may
    create roles only with that boundary). Unset: not sent, so the stack keeps the value it has."""
    arn = environ.get("PERMISSIONS_BOUNDARY_ARN", "").strip()
    return {"PermissionsBoundaryArn": arn} if arn else {}


def image_parameter(params: dict) -> dict:
    """ImageUri as given (PARAMS or samconfig.toml: images built elsewhere, by digest), else "" (the stack
    builds every image). Always sent: a parameter left out keeps its deployed value, so a stack whose last
    deploy ran a given image (or an image an older `make deploy` pushed) would keep running it and never build."""
    return {} if IMAGE_PARAMETER in params else {IMAGE_PARAMETER: ""}


def parameter_changes(t: Target, sources: list[tuple[str, dict]]) -> list[tuple[str, str, str, str]]:
    """(name, deployed value, value to send, where it comes from) for each parameter this deploy changes;
    empty for a new stack. The last source naming a parameter wins, as in the deploy."""
    stack = stack_failures.stack_or_none(t.client("cloudformation"), t.stack_name)
    if not_created(stack):
        return []
    deployed = stack_parameters(stack)
    chosen: dict[str, tuple[str, str]] = {}
    for label, values in sources:
        for key, value in values.items():
            chosen[key] = (str(value), label)
    return [(key, deployed.get(key, "(not set)"), value, label) for key, (value, label) in chosen.items()
            if deployed.get(key) != value and deployed.get(key) != "****"]  # NoEcho values cannot be compared


def confirm_parameter_changes(t: Target, sources: list[tuple[str, dict]], interactive: bool, ask=input) -> list:
    """Say which deployed parameters this deploy changes, and from where; interactive prod asks first.
    Every deploy sends samconfig.toml's overrides in full, so a plain `make deploy` (CI) quietly reverts
    a value an earlier `PARAMS=...` set: this makes it loud."""
    changes = parameter_changes(t, sources)
    if not changes:
        return changes
    log(f"parameters that change on {t.stack_name}:")
    for key, old, new, label in changes:
        shown = [value or '""' for value in (old, new)]  # an empty value, said
        log(f"  {key}: {shown[0]} -> {shown[1]}  ({label})")
    if any(label == sources[0][0] for *_, label in changes):
        log("note: samconfig.toml's values are sent on every deploy and replace ones set earlier with PARAMS; "
            "lasting choices belong in samconfig.toml (parameter_overrides)")
    if t.env == "prod" and interactive and any(label != COMPUTED for *_, label in changes):
        if not stack_failures.interactive_confirm(f"Deploy {t.stack_name} with these parameter changes? [y/N] ",
                                                  ask):
            raise NotConfirmed("not confirmed; nothing was deployed")
    return changes


def wait_for_services(t: Target, outputs: ParentOutputs, timeout: float = 1200, delay: float = 15) -> None:
    """Until every Fargate service of the stack is stable (its new tasks healthy, the old ones drained) and
    every Lambda one's function is Active with its last update done."""
    on_fargate = [s.name for s in outputs.services.values() if not s.on_lambda]
    if on_fargate:
        scale.wait_stable(t.client("ecs"), outputs.cluster_name, on_fargate, timeout, delay)
    lambda_service.wait_ready(t, [s for s in outputs.services.values() if s.on_lambda], timeout, delay)


def refuse_unknown_parameters(t: Target, extra: dict) -> None:
    """A name parent.yml does not declare: `sam deploy` would drop it without a word (SAM CLI sends only
    the template's parameters), so an old samconfig.toml's MinTasks=2 would quietly become the profile's
    value. Say so before anything happens (docs/deploy.md, "Updating a stack deployed with the old
    parameters")."""
    for source, values in ((f"samconfig.toml [{ENVIRONMENTS[t.env]}]", t.parameters), ("PARAMS", extra)):
        check_parameters(values, source)


def refuse_dropped_values(t: Target, params: dict, accept: set[str], stack=upgrade.UNREAD) -> None:
    """The deployed stack's values of parameters parent.yml no longer declares: `sam deploy` drops them and
    the stack takes the code's value (a non-default VpcCidr: a new VPC). Refuse each one that differs from
    both its old default and the code, one line each, until it is in code or named in ACCEPT=."""
    lines = upgrade.check_deployed(t, params, accept, stack)
    for line in lines:
        print(line, file=sys.stderr, flush=True)
    if lines:
        raise DeployedValueDropped(f"{len(lines)} deployed value(s) above would be lost; nothing was deployed "
                                   "(docs/deploy.md, \"Updating a stack deployed with the old parameters\")")


def warn_unwatched_deploys(t: Target) -> list[str]:
    """Before the change set runs: one line per service whose deployment alarm is in ALARM (scripts/alerts.py:
    ECS then watches no alarm for this deployment). A warning, not a question: a deploy is often the fix. Reading
    the alarms is advisory: a stack not created yet has none, and a refused call is one line, not a stop."""
    if not_created(stack_failures.stack_or_none(t.client("cloudformation"), t.stack_name)):
        return []
    try:
        lines = alerts.deploy_warnings(t, stack_outputs.read(t))
    except OpsError as exc:
        lines = [f"note: could not read the deployment alarms' states ({exc}): deploying anyway"]
    for line in lines:
        log(line)
    return lines


def deploy(t: Target, extra: dict | None = None, run=subprocess.run, checks=None, skip_smoke: bool = False,
           service_timeout: float = 1200, delay: float = 15, yes: bool = False, ask=input,
           interactive: bool | None = None, accept: set[str] = frozenset()) -> dict:
    """`interactive`: a terminal to ask on (default: stdin is a tty and not YES=1); `accept`: removed
    parameters whose deployed value may be lost (ACCEPT=)."""
    if interactive is None:
        interactive = sys.stdin.isatty() and not yes
    extra = extra or {}
    params = {**t.parameters, **extra}
    preflight.check_stack_name(t, params)  # before anything else: no other check can pass it under CI's roles
    refuse_unknown_parameters(t, extra)
    deployed = upgrade.deployed_stack(t)  # one read for both checks of the deployed parameters
    refuse_dropped_values(t, params, set(accept), deployed)
    computed = upgrade.carry_renamed(t, params, deployed)  # BudgetEmail's value, now AlertEmail's
    for line in upgrade.carried_lines(computed):
        log(line)
    computed.update(boundary_parameter())
    computed.update(image_parameter(params))
    params.update(computed)
    preflight.preflight(t, params, **({"checks": checks} if checks is not None else {}))
    stack_failures.clear_failed_create(t, interactive, ask, delay=delay)
    confirm_parameter_changes(t, [(f"samconfig.toml [{ENVIRONMENTS[t.env]}]", t.parameters), ("PARAMS", extra),
                                  (COMPUTED, computed)], interactive, ask)
    warn_unwatched_deploys(t)
    sam_deploy(t, params, run, yes=yes)
    outputs = stack_outputs.read(t)  # read once: the deploy is done, nothing below changes them
    wait_for_services(t, outputs, service_timeout, delay)
    stopped = scale.stopped_reasons(t, outputs)
    for reason in stopped:
        log(reason)
    if not stopped and not skip_smoke:
        smoke(t, run=run, outputs=outputs)
    log(f"\nFrontend: {outputs.frontend_url}\nAPI:      {outputs.api_url}")
    for service in outputs.services.values():
        log(f"{service.short + ':':<9} " + (f"image built from version {service.version}" if service.version
                                             else "the ImageUri given"))
    return {"outputs": outputs, "parameters": params}
