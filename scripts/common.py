"""What every operations script shares: boto3's exceptions as one-line errors
(the classes are in errors.py), the samconfig.toml environment, the parent
stack's description, and bounded waits that show progress.

Every script runs against the parent stack only: its Outputs, read once into
a typed object (outputs.py), name everything else (bucket, distribution,
cluster, and per service its ECS service, log group, scalable target, ...).
"""
from __future__ import annotations

import os
import shlex
import sys
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    WaiterError,
)

from scripts.errors import (  # noqa: F401 (OpsError: every script imports it from here)
    AwsCallFailed,
    CredentialsRejected,
    NoCredentials,
    NoRegion,
    OpsError,
    StackNotFound,
    UsageError,
    WaitFailed,
    WaitTimedOut,
)

ROOT = Path(__file__).resolve().parent.parent
SAMCONFIG = ROOT / "samconfig.toml"
ENVIRONMENTS = {"dev": "default", "prod": "prod"}


@contextmanager
def aws_errors():
    """Turn boto3's exceptions into one clear line, classed by what the user does about it."""
    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise NoCredentials("no AWS credentials found: run `aws configure` (or `aws sso login`), "
                            "or set AWS_PROFILE / AWS_ACCESS_KEY_ID") from None
    except NoRegionError:
        raise NoRegion("no AWS region: set AWS_REGION, or `region` in samconfig.toml") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", str(exc))
        if code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"):
            raise CredentialsRejected(f"AWS rejected the credentials ({code}): refresh them, e.g. `aws sso login`") \
                from None
        raise AwsCallFailed(f"{exc.operation_name} failed: {code}: {message}", code, message) from None
    except WaiterError as exc:
        # botocore's only structured hint: a waiter that ran out of attempts says so in `reason`.
        if str(exc.kwargs.get("reason", "")).startswith("Max attempts exceeded"):
            raise WaitTimedOut(f"gave up waiting: {exc}") from None
        raise WaitFailed(f"gave up waiting: {exc}") from None
    except BotoCoreError as exc:
        raise AwsCallFailed(f"AWS call failed: {exc}") from None


def stack_missing(exc: AwsCallFailed) -> bool:
    """CloudFormation's answer for a stack name it does not know: ValidationError "Stack with id X does
    not exist" (it has no dedicated error code, so this is the one place its wording is read)."""
    return exc.aws_code == "ValidationError" and "does not exist" in exc.aws_message


@dataclass
class Target:
    """Which deployment a command acts on."""

    env: str
    stack_name: str
    region: str
    parameters: dict[str, str] = field(default_factory=dict)
    session: boto3.session.Session | None = None
    service: str | None = None  # SERVICE= / --service: one service of the stack; None: every service

    def client(self, service: str, region: str | None = None):
        return self.session.client(service, region_name=region or self.region)


def parse_overrides(text: str) -> dict[str, str]:
    """samconfig's `Key="value" Key2="value"` string as a dict."""
    out = {}
    for token in shlex.split(text or ""):
        if "=" not in token:
            raise UsageError(f"samconfig.toml: parameter override {token!r} is not Key=Value")
        key, value = token.split("=", 1)
        out[key] = value
    return out


def check_allowed(values: dict, parameters: dict) -> None:
    """Each value against its parameter's AllowedValues in a template's Parameters (what CloudFormation
    would refuse), in one line: `make cost` and `make plan` ask before anything renders."""
    for name, value in values.items():
        allowed = parameters.get(name, {}).get("AllowedValues")
        if allowed and str(value) not in {str(a) for a in allowed}:
            raise UsageError(f"{name}={value} is not allowed: use one of {', '.join(map(str, allowed))}")


def format_overrides(params: dict[str, str]) -> list[str]:
    """`sam deploy --parameter-overrides` arguments; SAM splits on spaces unless a value is quoted
    (a schedule such as cron(0 19 ? * MON-FRI *) has spaces)."""
    return [f'{k}="{v}"' if (" " in v or v == "") else f"{k}={v}" for k, v in params.items()]


def check_task_range(params: dict, service: str = "") -> str:
    """MinTasks <= MaxTasks (a service's block in parent.yml), checked before anything is created:
    CloudFormation Rules cannot compare numbers, so the template cannot refuse it and the deploy would
    fail late, at the scalable target
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html)."""
    low, high = params.get("MinTasks"), params.get("MaxTasks")
    where = f"{service}: " if service else ""
    try:
        low, high = int(low), int(high)
    except (TypeError, ValueError):
        raise UsageError(f"{where}MinTasks={low} and MaxTasks={high} must be whole numbers") from None
    if low > high:
        raise UsageError(f"{where}MinTasks={low} is more than MaxTasks={high}: set MinTasks <= MaxTasks "
                         "in its block in parent.yml")
    return f"{where}{low}-{high} tasks"


def load_samconfig(env: str, path: Path = SAMCONFIG) -> dict:
    if env not in ENVIRONMENTS:
        raise UsageError(f"unknown ENV={env}: use one of {', '.join(ENVIRONMENTS)}")
    config = tomllib.loads(path.read_text())
    section = config.get(ENVIRONMENTS[env])
    if section is None:
        raise UsageError(f"samconfig.toml has no [{ENVIRONMENTS[env]}] environment for ENV={env}")
    merged: dict = {}
    for command in ("global", "deploy"):
        merged.update(section.get(command, {}).get("parameters", {}))
    return merged


def target(env: str = "dev", stack: str | None = None, region: str | None = None,
           session: boto3.session.Session | None = None, service: str | None = None) -> Target:
    config = load_samconfig(env)
    session = session or boto3.session.Session()
    region = region or config.get("region") or os.environ.get("AWS_REGION") or session.region_name
    if not region:
        raise NoRegion("no AWS region: set AWS_REGION, or `region` in samconfig.toml")
    name = stack or config.get("stack_name")
    if not name:
        raise UsageError("no stack name: set STACK=, or stack_name in samconfig.toml")
    return Target(env, name, region, parse_overrides(config.get("parameter_overrides", "")), session, service)


def describe_stack(t: Target) -> dict:
    """The parent stack's description (parameters, outputs), or one line saying it is not there."""
    cfn = t.client("cloudformation")
    try:
        with aws_errors():
            stacks = cfn.describe_stacks(StackName=t.stack_name)["Stacks"]
    except AwsCallFailed as exc:
        if stack_missing(exc):
            raise StackNotFound(f"stack {t.stack_name} not found in {t.region}: deploy it first (make deploy), "
                                f"or name another with STACK=") from None
        raise
    return stacks[0]


def log(message: str) -> None:
    print(message, flush=True)


def wait(waiter_name: str, client, *, what: str, describe, timeout: float, delay: float = 10,
         clock=time.monotonic, sleep=time.sleep, **kwargs) -> None:
    """A boto3 waiter's success and failure rules, one attempt at a time, with a
    progress line (elapsed time and current state) between attempts; bounded by timeout."""
    waiter = client.get_waiter(waiter_name)
    start = clock()
    while True:
        try:
            with aws_errors():
                waiter.wait(WaiterConfig={"Delay": 0, "MaxAttempts": 1}, **kwargs)
            log(f"  [{clock() - start:5.0f}s] {what}: done")
            return
        except WaitTimedOut:
            pass  # not yet: one attempt was all we asked of the waiter
        except WaitFailed as exc:
            raise WaitFailed(f"{what}: {exc}") from None
        elapsed = clock() - start
        state = describe()
        if elapsed + delay > timeout:
            raise WaitTimedOut(f"{what} did not finish within {timeout:.0f} s (last state: {state})")
        log(f"  [{elapsed:5.0f}s] {what}: {state}")
        sleep(delay)


def run_cli(main) -> None:
    """Entry point wrapper: one line on stderr and exit 1 for OpsError."""
    try:
        code = main()
    except OpsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def stack_parameters(stack: dict) -> dict[str, str]:
    """A DescribeStacks answer's parameters as {key: value}."""
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
