"""The failures an operations command reports: one line for the user, one stable `code` for
scripts and tests. Callers tell failures apart by class (or `code`), never by their wording.

    error class            code                   when
    OpsError               ops_error              the base: any failure the user can act on
    UsageError             bad_input              a wrong flag, parameter, ENV= or samconfig.toml entry
    NoCredentials          no_credentials         boto3 finds no AWS credentials
    CredentialsRejected    credentials_rejected   AWS refuses them (expired, wrong account)
    UnknownProfile         unknown_profile        AWS_PROFILE names a profile the AWS config files lack
    NoRegion               no_region              no region in AWS_REGION, REGION= or samconfig.toml
    AwsCallFailed          aws_call_failed        any other refused AWS call (`aws_code`: AWS's error code)
    AwsUnreachable         aws_unreachable        an AwsCallFailed: no connection to the endpoint (network, proxy)
    StackNotFound          stack_not_found        no stack by that name in the region
    NotABlueprintStack     not_a_blueprint_stack  the stack lacks an output this blueprint's parent has
    UnknownService         unknown_service        SERVICE= names no service of the stack
    ServiceNotChosen       service_not_chosen     a one-service command (exec) and several services
    WaitTimedOut           wait_timed_out         a bounded wait ran out of time
    WaitFailed             wait_failed            what was waited for failed (e.g. the stack rolled back)
    PreflightFailed        preflight_failed       a preflight check failed; nothing was created
    DeployedValueDropped   deployed_value_dropped the update would lose a deployed value of a removed parameter
    OneWayDoor             one_way_door           the update changes what a CloudFront flat-rate plan locks
    TwoStepUpgrade         two_step_upgrade       the update replaces a secret named before it had a Name: two deploys
    NotConfirmed           not_confirmed          the user did not confirm (or no terminal to ask on)
    StackNotDeployable     stack_not_deployable   the stack is busy or in a state only a human can clear
    DeployFailed           deploy_failed          `sam deploy` failed (the root cause is in the message)
    BuildFailed            build_failed           make image: the local docker build failed
    ToolMissing            tool_missing           a program the command needs is not installed
    ServiceNotActive       service_not_active     the stack's ECS service is missing or draining
    ServiceNotReady        service_not_ready      exec cannot reach a task (ECS Exec off, nothing running)
    SmokeFailed            smoke_failed           the smoke tests failed against the deployment
    NoAlerts               no_alerts              the stack predates alerts (no AlertTopicArn output)
    UnknownAlarm           unknown_alarm          ALARM= names no alarm of the stack (or a service has none)
"""
from __future__ import annotations


class OpsError(Exception):
    """A failure the user can act on; the message is one line."""

    code = "ops_error"


class UsageError(OpsError):
    code = "bad_input"


class NoCredentials(OpsError):
    code = "no_credentials"


class CredentialsRejected(OpsError):
    code = "credentials_rejected"


class UnknownProfile(OpsError):
    code = "unknown_profile"


class NoRegion(OpsError):
    code = "no_region"


class AwsCallFailed(OpsError):
    """`aws_code` is AWS's own error code (AccessDenied, ValidationError, ...), `aws_message` its text."""

    code = "aws_call_failed"

    def __init__(self, message: str, aws_code: str = "", aws_message: str = ""):
        super().__init__(message)
        self.aws_code, self.aws_message = aws_code, aws_message


class AwsUnreachable(AwsCallFailed):
    """No connection to the endpoint: every later call would fail alike (a caller that can do without an
    answer, e.g. the Free-plan check falling back to the deployed parameters, treats it as any failed call)."""

    code = "aws_unreachable"


class StackNotFound(OpsError):
    code = "stack_not_found"


class NotABlueprintStack(OpsError):
    code = "not_a_blueprint_stack"


class UnknownService(OpsError):
    code = "unknown_service"


class ServiceNotChosen(OpsError):
    code = "service_not_chosen"


class WaitTimedOut(OpsError):
    code = "wait_timed_out"


class WaitFailed(OpsError):
    code = "wait_failed"


class PreflightFailed(OpsError):
    code = "preflight_failed"


class DeployedValueDropped(OpsError):
    """The deployed stack has a parameter parent.yml no longer declares, with a value the code does not give
    (scripts/upgrade.py): `sam deploy` would drop it without a word. Nothing was deployed."""

    code = "deployed_value_dropped"


class OneWayDoor(OpsError):
    """The update would delete the distribution, or remove or replace its web ACL, while it is on a CloudFront
    flat-rate plan (scripts/free_plan.py): CloudFront refuses, the update would roll back. Nothing changed."""

    code = "one_way_door"


class TwoStepUpgrade(OpsError):
    code = "two_step_upgrade"


class NotConfirmed(OpsError):
    code = "not_confirmed"


class StackNotDeployable(OpsError):
    code = "stack_not_deployable"


class DeployFailed(OpsError):
    code = "deploy_failed"


class BuildFailed(OpsError):
    code = "build_failed"


class ToolMissing(OpsError):
    code = "tool_missing"


class ServiceNotActive(OpsError):
    code = "service_not_active"


class ServiceNotReady(OpsError):
    code = "service_not_ready"


class SmokeFailed(OpsError):
    code = "smoke_failed"


class NoAlerts(OpsError):
    code = "no_alerts"


class UnknownAlarm(OpsError):
    code = "unknown_alarm"
