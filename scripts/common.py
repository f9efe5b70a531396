"""What every operations script shares: boto3's exceptions as one-line errors
(the classes are in errors.py), the samconfig.toml environment, the parent
stack's description, and bounded waits that show progress.

Every script runs against the parent stack only: its Outputs, read once into
a typed object (outputs.py), name everything else (bucket, distribution,
cluster, and per service its ECS service, log group, scalable target, ...).
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConfigParseError,
    ConnectionClosedError,
    CredentialRetrievalError,
    InvalidConfigError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
    WaiterError,
)
from botocore.exceptions import (
    ConnectionError as BotocoreConnectionError,  # not the builtin of that name
)

from scripts.errors import (  # noqa: F401 (OpsError: every script imports it from here)
    AwsCallFailed,
    AwsUnreachable,
    CredentialsRejected,
    NoCredentials,
    NoRegion,
    OpsError,
    StackNotFound,
    UnknownProfile,
    UsageError,
    WaitFailed,
    WaitTimedOut,
)

ROOT = Path(__file__).resolve().parent.parent
SAMCONFIG = ROOT / "samconfig.toml"
ENVIRONMENTS = {"dev": "default", "prod": "prod"}


NO_REGION = "no AWS region: set REGION= (or AWS_REGION, `region` in samconfig.toml, or the AWS profile's region)"
NO_CREDENTIALS = ("no AWS credentials found: run `aws configure` (or `aws sso login`), "
                  "or set AWS_PROFILE / AWS_ACCESS_KEY_ID")


def profile_variable() -> str | None:
    """The environment variable that chose the AWS profile: AWS_PROFILE, else botocore's AWS_DEFAULT_PROFILE."""
    return next((name for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") if os.environ.get(name)), None)


def no_credentials() -> NoCredentials:
    """NO_CREDENTIALS; when a variable chose the profile, setting one is not the fix: name the profile."""
    if os.environ.get("AWS_SECRET_ACCESS_KEY") and not os.environ.get("AWS_ACCESS_KEY_ID"):
        return NoCredentials("incomplete AWS credentials in the environment: AWS_ACCESS_KEY_ID is missing; set it, "
                             "or remove the rest")
    variable = profile_variable()
    if not variable:
        return NoCredentials(NO_CREDENTIALS)
    profile = os.environ[variable]
    return NoCredentials(f"AWS profile {profile} ({variable}) has no credentials: run `aws configure --profile "
                         f"{profile}` (or `aws sso login --profile {profile}`), or set {variable} to another")


def partial_credentials(exc: PartialCredentialsError) -> NoCredentials:
    """Half a set of credentials, e.g. AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY: name what is missing."""
    missing, provider = exc.kwargs.get("cred_var", "a value"), exc.kwargs.get("provider", "")
    where = "the environment" if provider == "env" else f"credential source {provider}"
    return NoCredentials(f"incomplete AWS credentials in {where}: {missing} is missing; set it, or remove the rest")


def unknown_profile(exc: ProfileNotFound) -> UnknownProfile:
    variable = profile_variable() or "AWS_PROFILE"
    return UnknownProfile(f"AWS profile {exc.kwargs.get('profile')} ({variable}) is not in your AWS config or "
                          f"credentials file: `aws configure list-profiles` lists them; set {variable} to one, "
                          "or unset it")


def invalid_config(exc: InvalidConfigError) -> UsageError:
    """botocore's refusal of the AWS configuration (a profile's source_profile that is not there, a bad
    `services` section, an AWS_* variable it does not take), raised by a call or a client's creation."""
    return UsageError(f"the AWS configuration cannot be used: {exc} Fix the AWS config file or the AWS_* "
                      "variable it names")


def credential_process(profile: str | None) -> str:
    return f"profile {profile}'s credential_process" if profile else "the profile's credential_process"


def sso_login(profile: str | None) -> str:
    """The command that renews an SSO login (IAM Identity Center) for the profile."""
    return f"`aws sso login --profile {profile}`" if profile else "`aws sso login` (with --profile, if you use one)"


def _endpoint(exc: BotoCoreError) -> str:
    """The scheme and host a network error names (its URL without the path), or "its endpoint"."""
    url = urlsplit(str(exc.kwargs.get("endpoint_url", "")))
    return f"{url.scheme}://{url.netloc}" if url.netloc else "its endpoint"


@contextmanager
def aws_errors(profile: str | None = None):
    """Turn boto3's exceptions into one clear line, classed by what the user does about it. `profile`: the
    AWS profile in use, named in the hint for an SSO login (botocore loads SSO credentials lazily, so an
    expired login shows at the first call unless require_credentials loads them first)."""
    try:
        yield
    except PartialCredentialsError as exc:
        raise partial_credentials(exc) from None
    except NoCredentialsError:
        raise no_credentials() from None
    except SSOTokenLoadError:  # no cached SSO token: never logged in, or the cache was cleared
        raise NoCredentials(f"no SSO login for this AWS profile: run {sso_login(profile)}") from None
    except (UnauthorizedSSOTokenError, TokenRetrievalError):  # the SSO session expired or cannot be renewed
        raise CredentialsRejected(f"the SSO login has expired or cannot be renewed: run {sso_login(profile)}") \
            from None
    except CredentialRetrievalError as exc:  # a credential_process (provider custom-process) or another source
        source = exc.kwargs.get("provider")
        source = credential_process(profile) if source == "custom-process" else f"credential source {source}"
        reason = exc.kwargs.get("error_msg") or "it gave no reason"
        variable = profile_variable() or "AWS_PROFILE"
        raise NoCredentials(f"no AWS credentials: {source} failed ({reason}): run it by hand to see why, or set "
                            f"{variable} to another profile") from None
    except NoRegionError:
        raise NoRegion(NO_REGION) from None
    except ProfileNotFound as exc:
        raise unknown_profile(exc) from None
    except InvalidConfigError as exc:  # e.g. a source_profile that is not there
        raise invalid_config(exc) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", str(exc))
        if code in ("ExpiredToken", "ExpiredTokenException", *REJECTED_BY_REGION):
            rejected = CredentialsRejected(f"AWS rejected the credentials ({code}): refresh them, e.g. `aws sso login`")
            rejected.aws_code = code  # region_enabled() tells an opt-in region that is off by it
            raise rejected from None
        raise AwsCallFailed(f"{exc.operation_name} failed: {code}: {message}", code, message) from None
    except WaiterError as exc:
        # botocore's only structured hint: a waiter that ran out of attempts says so in `reason`.
        if str(exc.kwargs.get("reason", "")).startswith("Max attempts exceeded"):
            raise WaitTimedOut(f"gave up waiting: {exc}") from None
        raise WaitFailed(f"gave up waiting: {exc}") from None
    # The network between us and AWS: every later call fails alike, so one line (and preflight says it once).
    # botocore's public classes: ConnectionError (no connection: refused, unresolved, timed out, the proxy, TLS)
    # and the HTTPClientErrors of a connection that stopped answering.
    except SSLError as exc:  # a proxy that inspects TLS presents its own certificate
        raise AwsUnreachable(f"cannot reach AWS at {_endpoint(exc)}: TLS validation failed ({exc.kwargs.get('error')}): "
                             "behind a proxy that inspects TLS, point AWS_CA_BUNDLE at its CA certificate") from None
    except ProxyConnectionError as exc:  # botocore masks the proxy URL's password
        raise AwsUnreachable(f"cannot reach AWS through the proxy {exc.kwargs.get('proxy_url')}: check HTTPS_PROXY "
                             "(and NO_PROXY), or unset it") from None
    except (BotocoreConnectionError, ReadTimeoutError, ConnectionClosedError) as exc:
        raise AwsUnreachable(f"cannot reach AWS at {_endpoint(exc)}: check the network, a proxy (HTTPS_PROXY) and the "
                             "region") from None
    except BotoCoreError as exc:
        raise AwsCallFailed(f"AWS call failed: {exc}") from None


# What AWS answers any credentials in an opt-in region the account has not enabled, as it answers unknown
# keys (https://repost.aws/knowledge-center/iam-validate-access-credentials); us-east-1 is never off.
REJECTED_BY_REGION = ("InvalidClientTokenId", "UnrecognizedClientException")
ALWAYS_ENABLED = "us-east-1"


@contextmanager
def region_enabled(t: Target):
    """Credentials AWS rejects in t.region (REJECTED_BY_REGION), in the commercial partition (China's and
    GovCloud's regions reject a commercial account's keys, and no account enables them), are asked of STS and
    EC2 in us-east-1 once. Accepted there, the one line says why t.region refused them: the region is not
    enabled (DescribeRegions' OptInStatus, https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html),
    or it is, and the credentials are session tokens from STS's global endpoint, which "are valid only in AWS
    Regions that are available by default"
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SetSecurityTokenServicePreferences.html)."""
    try:
        yield
    except CredentialsRejected as exc:
        if getattr(exc, "aws_code", "") not in REJECTED_BY_REGION or t.region == ALWAYS_ENABLED \
                or botocore.session.get_session().get_partition_for_region(t.region) != "aws":
            raise
        try:
            with aws_errors(t.session.profile_name):
                t.client("sts", region=ALWAYS_ENABLED).get_caller_identity()
        except OpsError:
            raise exc from None
        try:
            with aws_errors(t.session.profile_name):
                found = t.client("ec2", region=ALWAYS_ENABLED).describe_regions(
                    AllRegions=True, RegionNames=[t.region])["Regions"]
        except OpsError:  # e.g. not allowed ec2:DescribeRegions: what is known is said, no more
            raise UsageError(f"AWS rejected the credentials in {t.region} ({exc.aws_code}) but accepts them in "
                             f"{ALWAYS_ENABLED}: the region may not be enabled for this account (the console's AWS "
                             "Regions page says)") from None
        status = found[0].get("OptInStatus") if found else None
        if status == "not-opted-in":
            raise UsageError(f"region {t.region} is not enabled for this account (AWS accepts these credentials in "
                             f"{ALWAYS_ENABLED}): enable it (`aws account enable-region --region-name {t.region}`, or "
                             "the console's AWS Regions page) or choose another with REGION=") from None
        frozen = t.session.get_credentials().get_frozen_credentials()
        if status != "opted-in" or not frozen.token:  # enabling, or not a session: nothing more to say
            raise exc from None
        raise UsageError(f"AWS rejected the credentials in {t.region} ({exc.aws_code}) but accepts them in "
                         f"{ALWAYS_ENABLED}: session tokens from STS's global endpoint work only in the regions "
                         f"enabled by default; get them from a regional endpoint (AWS_STS_REGIONAL_ENDPOINTS=regional) "
                         "or set the account's global endpoint tokens to version 2 (IAM's account settings)") from None


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
    region_source: str = ""  # where `region` came from (resolve_region), for the line every command prints

    def client(self, service: str, region: str | None = None):
        return self.session.client(service, region_name=region or self.region)


def parse_overrides(text: str, source: str = "samconfig.toml") -> dict[str, str]:
    """samconfig's `Key="value" Key2="value"` string (or PARAMS=, the same form) as a dict."""
    out = {}
    try:
        tokens = shlex.split(text or "")
    except ValueError as exc:  # shlex's only failure: an unclosed quotation
        raise UsageError(f"{source}: {text!r} cannot be read as Key=Value pairs ({exc})") from None
    for token in tokens:
        if "=" not in token or token.startswith("="):
            raise UsageError(f"{source}: parameter override {token!r} is not Key=Value")
        key, value = token.split("=", 1)
        if key in out:  # shlex and dict would keep the last one without a word
            raise UsageError(f"{source} gives {key} twice ({key}={out[key]} and {key}={value}): keep one")
        out[key] = value
    return out


def check_allowed(values: dict, parameters: dict) -> None:
    """Each value against its parameter's AllowedValues and AllowedPattern in a template's Parameters (what
    CloudFormation would refuse), in one line: `make cost` and `make plan` ask before anything renders. A
    pattern's refusal says its ConstraintDescription, as CloudFormation does, not the regular expression."""
    for name, value in values.items():
        spec = parameters.get(name, {})
        allowed = spec.get("AllowedValues")
        if allowed and str(value) not in {str(a) for a in allowed}:
            raise UsageError(f"{name}={value} is not allowed: use one of {', '.join(map(str, allowed))}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], str(value)):
            raise UsageError(f"{name}={value} is not allowed: "
                             f"{spec.get('ConstraintDescription') or 'it does not match ' + spec['AllowedPattern']}")


def check_parameters(values: dict, source: str, parameters: dict | None = None) -> None:
    """What `make deploy`, `preflight`, `plan` and `cost` refuse before anything else, in one line: a name
    parent.yml does not declare (`sam deploy` would drop it without a word; an old parameter's line says
    where its value lives now, a misspelt one the name meant) and a value outside AllowedValues."""
    from scripts.upgrade import REMOVED, where_now  # upgrade.py imports this module
    if parameters is None:
        from blueprint.templates import parent
        parameters = parent()["Parameters"]
    unknown = sorted(set(values) - set(parameters))
    if unknown and all(k in REMOVED for k in unknown):
        raise UsageError(f"{source} sets {', '.join(unknown)}, which parent.yml does not declare: remove it and set "
                         f"the value in code ({where_now(unknown)}; docs/deploy.md)")
    if unknown:
        raise UsageError(f"{source} sets {', '.join(unknown)}, which parent.yml does not declare "
                         f"({where_now(unknown, parameters)})")
    check_allowed(values, parameters)


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
    try:
        config = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path.name} is not valid TOML: {exc}") from None
    section = config.get(ENVIRONMENTS[env])
    if section is None:
        raise UsageError(f"samconfig.toml has no [{ENVIRONMENTS[env]}] environment for ENV={env}")
    merged: dict = {}
    for command in ("global", "deploy"):
        merged.update(section.get(command, {}).get("parameters", {}))
    return merged


# CloudFormation's pattern for a stack name (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html).
STACK_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}")
DEFAULT_REGION = "us-east-1"  # the offline commands' (plan, cost) region when nothing names one


def session_for(session: boto3.session.Session | None = None) -> boto3.session.Session:
    """boto3's session (AWS_PROFILE and the rest of its environment); a profile that does not exist is one line."""
    try:
        return session or boto3.session.Session()
    except ProfileNotFound as exc:
        raise unknown_profile(exc) from None


_KNOWN_REGIONS: dict[str, frozenset[str]] = {}  # read once a process: boto3's endpoint data does not change


def known_regions() -> frozenset[str]:
    """Every region of every partition boto3's endpoint data has. The data does not depend on the AWS profile,
    so it is read without one (botocore's documented `session_vars` override: no `profile` variable), and an
    offline command given REGION= works whatever AWS_PROFILE says."""
    if "all" not in _KNOWN_REGIONS:
        data = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        _KNOWN_REGIONS["all"] = frozenset(r for p in data.get_available_partitions()
                                          for r in data.get_available_regions("cloudformation", partition_name=p))
    return _KNOWN_REGIONS["all"]


def resolve_region(explicit: str | None, config: dict, session: boto3.session.Session | None = None,
                   default: str | None = None) -> tuple[str, str]:
    """(region, where it came from), read in one order by every command: REGION= (--region), samconfig.toml's
    `region`, AWS_REGION, then boto3's own (AWS_DEFAULT_REGION, the profile's region). None of them: `default`
    for an offline command (plan, cost), else one line. A name no AWS partition has is refused here, before
    any call goes to an endpoint that does not exist. `session`: the command's (an AWS command has one, made
    from its profile); an offline command passes none and the AWS profile is read only when nothing before it
    names a region, so an unknown AWS_PROFILE does not stop `make plan REGION=...`, which calls no AWS."""
    chain = ((explicit, "REGION= / --region"), (config.get("region"), "samconfig.toml"),
             (os.environ.get("AWS_REGION"), "AWS_REGION"))
    value, source = next(((v, s) for v, s in chain if v), (None, ""))
    if not value:
        session = session_for(session)
        try:
            value = session.region_name  # boto3 reads the profile here, at the latest
        except ProfileNotFound as exc:
            raise unknown_profile(exc) from None
        source = "AWS_DEFAULT_REGION" if os.environ.get("AWS_DEFAULT_REGION") == value \
            else f"AWS profile {session.profile_name}"
    if not value and default:
        value, source = default, "the default: nothing sets one; REGION= picks another"
    if not value:
        raise NoRegion(NO_REGION)
    if value not in known_regions():
        raise UsageError(f"region {value} (from {source}) is not an AWS region (no partition boto3 knows has "
                         "it): check its spelling, e.g. us-east-1")
    return value, source


def say_region(region: str, source: str) -> None:
    """The one line every command prints, on stderr (stdout stays the command's own output, e.g. --json),
    once its input is checked and before it acts."""
    print(f"region: {region} (from {source})", file=sys.stderr, flush=True)


def target(env: str = "dev", stack: str | None = None, region: str | None = None,
           session: boto3.session.Session | None = None, service: str | None = None) -> Target:
    config = load_samconfig(env)
    name = stack or config.get("stack_name")
    if not name:
        raise UsageError("no stack name: set STACK=, or stack_name in samconfig.toml")
    if not STACK_NAME.fullmatch(name):
        raise UsageError(f"STACK={name} is not a stack name: a letter, then letters, digits and hyphens "
                         "(at most 128)")
    session = session_for(session)
    region, source = resolve_region(region, config, session)
    return Target(env, name, region, parse_overrides(config.get("parameter_overrides", "")), session, service,
                  source)


def require_credentials(t: Target) -> None:
    """Credentials are there to sign with, checked before any command acts, so their absence is one line,
    not one per call: boto3's chain finds some and they load (an SSO profile's or a credential_process's
    load only when first used, so get_frozen_credentials() loads them here: an expired SSO login or a failing
    process is this one line too). Whether AWS accepts them shows at the first call."""
    try:
        with aws_errors(t.session.profile_name):
            found = t.session.get_credentials()
            if found is not None:
                found.get_frozen_credentials()
    except OSError as exc:  # botocore runs a credential_process itself: a program that is not there, or not executable
        raise NoCredentials(f"no AWS credentials: {credential_process(t.session.profile_name)} cannot run ({exc})") \
            from None
    if found is None:
        raise no_credentials()


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


class Parser(argparse.ArgumentParser):
    """argparse, with its refusals (an unknown flag or command, a value of the wrong type) in one line on
    stderr like every other error, and argparse's exit status 2 (argparse documents overriding exit/error)."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message}\n")


def run_cli(main) -> None:
    """Entry point wrapper: one line on stderr and exit 1 for OpsError."""
    try:
        code = main()
    except OpsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except InvalidConfigError as exc:  # a client's creation reads the configuration too, outside aws_errors
        print(f"error: {invalid_config(exc)}", file=sys.stderr)
        sys.exit(1)
    except ConfigParseError as exc:  # botocore reads the AWS config files whenever a session starts
        path = str(exc.kwargs.get("path"))
        credentials = os.path.expanduser(os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"))
        which, variable = ("credentials", "AWS_SHARED_CREDENTIALS_FILE") if os.path.abspath(path) == \
            os.path.abspath(credentials) else ("config", "AWS_CONFIG_FILE")
        print(f"error: cannot parse the AWS {which} file {path}: fix it, or point {variable} at another",
              file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def stack_parameters(stack: dict) -> dict[str, str]:
    """A DescribeStacks answer's parameters as {key: value}."""
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


# The states in which a stack name exists but the next deploy creates the stack: REVIEW_IN_PROGRESS, a change
# set for a new stack that never ran (declined at sam deploy's confirmation, or interrupted), which has no
# template and no parameters, and which SAM deploys with a CREATE change set (samcli/lib/deploy/deployer.py,
# has_stack: "we treat like this stack does not exist"); ROLLBACK_COMPLETE, a failed first create, which make
# deploy deletes before it creates the stack again (stack_failures.clear_failed_create).
NOT_CREATED = ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE")


def not_created(stack: dict | None) -> bool:
    """Whether the next deploy creates this stack (DescribeStacks' answer, None: no stack by that name): then
    nothing is deployed to compare with, and SAM sends no UsePreviousValue."""
    return stack is None or stack.get("StackStatus") in NOT_CREATED
