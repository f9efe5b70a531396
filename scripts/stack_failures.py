"""Why a deploy failed, in one line, and the stack states a deploy cannot go through.

CloudFormation reports a failed nested application on the parent as "Embedded
stack arn:... was not successfully created: The following resource(s) failed to
create: [ServiceStack]", and the real reason sits in a nested stack's events,
one or two levels down. `root_cause` walks the events of the latest operation on
the parent, then on each nested stack (the PhysicalResourceId of an
AWS::CloudFormation::Stack resource is the nested stack's ARN, which stays
readable after a rollback deleted it), skips the cascade messages that only
repeat a failure elsewhere, and returns the earliest real one.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html#troubleshooting-errors-nested-stacks

A first create that failed leaves the stack in ROLLBACK_COMPLETE: CloudFormation
can only delete it, and every later deploy fails with "is in ROLLBACK_COMPLETE
state and can not be updated" until someone does (aws-sam-cli#1865, #2191).
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html#troubleshooting-errors-update-rollback-failed
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from scripts.common import Target, aws_errors, log, stack_missing, wait
from scripts.errors import AwsCallFailed, NotConfirmed, OpsError, StackNotDeployable

# Messages that only say "something else failed": never the root cause.
CASCADE = re.compile(
    r"Embedded stack .* was not successfully (created|updated|deleted)"
    r"|^Resource (creation|update|deletion) cancelled"
    r"|^The following resource\(s\) failed to (create|update|delete)"
    r"|^Stack creation time exceeded"
    r"|Rollback requested by user", re.I)
NESTED_STACK = re.compile(r"^arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack/([^/]+)/")

# Refusals only AWS can make, and what the user does about each (docs/operate.md: Troubleshooting a first deploy).
# The custom resources' own failures come first: a build log quoting "AccessDenied" or "quota" is the build's
# problem, not the deploying identity's.
HINTS = [
    (re.compile(r"image build (FAILED|FAULT|STOPPED|TIMED_OUT)\b"),
     "the image build in CodeBuild failed: its last log lines are above and the whole log at the link; fix the "
     "build context (its Dockerfile, its requirements), check it builds with make image if you have Docker, "
     "then run make deploy again (the rollback kept the image that was running)"),
    # StartBuild refused: a new account's CodeBuild quota can be 0 concurrent builds until AWS raises it.
    (re.compile(r"Cannot have more than \d+ builds? in queue|AccountLimitExceededException.*StartBuild", re.I),
     "CodeBuild's build quota for this account is reached (a new account's may be 0): request an increase in "
     "Service Quotas (AWS CodeBuild > concurrently running builds of the service's fleet, ARM/Small or "
     "Linux/Small), or open a case with AWS Support if it is not adjustable there, then run make deploy again"),
    (re.compile(r"did not receive a response from your Custom Resource|Custom Resource failed to stabilize", re.I),
     "a custom resource did not answer within its ServiceTimeout: its function's log group (build.yml, "
     "frontend.yml) says why; run make deploy again"),
    # A function's own ReservedConcurrentExecutions. Lambda keeps 100 (a new account: its whole quota, e.g. 10) of
    # the account's concurrency unreserved, so a new account refuses any reservation
    # (https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionConcurrency.html; aws-samples/alarm-context-tool#2).
    # service.yml's functions set none: its ConcurrencyCap applies the block's ReservedConcurrency and takes this
    # refusal for an answer, so only a function a fork gives the property itself fails here.
    (re.compile(r"ReservedConcurrentExecutions .*below its minimum value", re.I),
     "this account's Lambda concurrency quota leaves nothing to reserve (a new account's can be 10), and a "
     "function's own ReservedConcurrentExecutions fails the deploy there: remove it from that function and let a "
     "service's block set ReservedConcurrency (service.yml's ConcurrencyCap applies it only where the account "
     "allows it), or request more in Service Quotas (AWS Lambda > Concurrent executions), then run make deploy "
     "again"),
    # An image pushed as an OCI index (BuildKit's provenance attestation, or several platforms): Lambda takes
    # one platform's manifest only (docker/buildx#1533, aws/aws-lambda-roadmap#82).
    (re.compile(r"image manifest, config or layer media type .* is not supported", re.I),
     "Lambda runs only a single-platform image manifest, and this image is an index (several platforms, or a "
     "build attestation): build it with --provenance=false for the service's one Architecture (the stack's own "
     "build does; an ImageUri given in PARAMS must be such a manifest), then run make deploy again"),
    # A function's ImageUri with no tag or digest, or naming an image not pushed (aws-amplify/amplify-cli#13673,
    # aws-samples/bedrock-access-gateway#205).
    (re.compile(r"Source image .* (does not exist|is not valid)\. Provide a valid source image", re.I),
     "the function's image is not in its repository (or its URI has no tag or digest): an ImageUri given in PARAMS "
     "must name an image pushed to this account and region, repository@sha256:<digest>; without one the stack "
     "builds it; then run make deploy again"),
    # Before the generic AccessDenied below: CloudFormation reports it with HandlerErrorCode AccessDenied
    # (aws-samples/bedrock-access-gateway#127; awsdocs/aws-lambda-developer-guide#286 on the repository policy).
    (re.compile(r"Lambda does not have permission to access the ECR image", re.I),
     "Lambda could not pull the image: its repository's policy must let lambda.amazonaws.com pull "
     "(ecr:BatchGetImage, ecr:GetDownloadUrlForLayer; service.yml's Repository does), and an ImageUri given in "
     "PARAMS must be in this account and region; then run make deploy again"),
    (re.compile(r"account must be verified before you can add new CloudFront", re.I),
     "AWS has not verified this account for CloudFront yet: open a case with AWS Support "
     "(https://console.aws.amazon.com/support/home#/) quoting this message, then run make deploy again"),
    (re.compile(r"maximum number of VPCs has been reached|VpcLimitExceeded", re.I),
     "a region holds five VPCs by default: delete an unused VPC, or request more in Service Quotas "
     "(Amazon VPC > VPCs per Region), then run make deploy again"),
    (re.compile(r"maximum number of addresses has been reached|AddressLimitExceeded", re.I),
     "a region holds five Elastic IPs by default: release an unused one, or request more in Service Quotas "
     "(Amazon EC2 > EC2-VPC Elastic IPs)"),
    (re.compile(r"service.linked role", re.I),
     "the account's ECS service-linked role was not ready yet (a brand-new account): run make deploy again; "
     "make preflight now creates it first"),
    (re.compile(r"availability zone|\b[a-z]{3,4}\d-az\d+\b", re.I),
     "an Availability Zone this account or service cannot use: set AvailabilityZoneIds to two other AZ IDs "
     "(aws ec2 describe-availability-zones lists them), then run make deploy again"),
    (re.compile(r"LimitExceeded|limit exceeded|quota", re.I),
     "a service quota: raise it in Service Quotas (or free some of it), then run make deploy again"),
    (re.compile(r"not authorized to perform|AccessDenied", re.I),
     "the deploying identity lacks a permission: grant the action named above, then run make deploy again"),
]


@dataclass
class Failure:
    stack_id: str
    resource: str
    resource_type: str
    reason: str
    timestamp: object
    cascade: bool = False  # only repeats a failure elsewhere

    @property
    def stack_name(self) -> str:
        match = NESTED_STACK.match(self.stack_id)
        return match.group(1) if match else self.stack_id

    def line(self) -> str:
        reason = " ".join(self.reason.split())
        return f"{self.resource} ({self.resource_type}) in stack {self.stack_name}: {reason}"

    def lines(self) -> list[str]:
        """The reason in full, line by line, the first naming the resource: a custom resource's reason can hold
        several (its own lines; or a failed image build's last log lines, which functions/image_build.py joins
        with " | " on one line, then the link to the whole log)."""
        said = [" ".join(line.split()) for line in self.reason.splitlines()]
        said = [line for line in said if line] or [""]
        if len(said) == 1:
            said = build_log_lines(said[0])
        return [f"{self.resource} ({self.resource_type}) in stack {self.stack_name}: {said[0]}", *said[1:]]

    def summary(self) -> str:
        """One line for the error that ends the command: the whole reason when it is one line, else its first
        line and how many more were printed above it."""
        lines = self.lines()
        return lines[0] if len(lines) == 1 else f"{lines[0]} (+{len(lines) - 1} lines above)"


# functions/image_build.py's failure_reason: "image build <status> in <phase>[ (<phase message>)]: <log line> |
# <log line> ... (full log: <link>)", inside CloudFormation's "Received response status [FAILED] from custom
# resource. Message returned: ... (RequestId: ...)".
IMAGE_BUILD_FAILED = re.compile(r"image build [A-Z_]+ in [A-Za-z_ ]+?(?: \(.*?\))?: ")
FULL_LOG = " (full log: "


def build_log_lines(reason: str) -> list[str]:
    """A failed image build's one-line reason as its lines: up to the phase, each log line, the link."""
    head, at = IMAGE_BUILD_FAILED.search(reason), reason.rfind(FULL_LOG)
    if not head or at < head.end():
        return [reason]
    log = reason[head.end():at]
    return [reason[:head.end()].rstrip(), *(line for line in log.split(" | ") if line), reason[at + 1:]]


def hint(reason: str) -> str | None:
    for pattern, what in HINTS:
        if pattern.search(reason):
            return what
    return None


def _is_stack_event(event: dict) -> bool:
    return event.get("PhysicalResourceId") == event.get("StackId")


def operation_events(cfn, stack: str, since=None, histories: dict | None = None) -> list[dict]:
    """The events of the latest operation on `stack`, oldest first: back to its last "User Initiated"
    event, or (for a nested stack, whose operations the parent starts) back to `since`.

    `histories`: what this command has already read, by (stack, since); a history found there is not
    read again, and one read is kept there. A read that failed is not kept (the next asks again)."""
    if histories is not None and (stack, since) in histories:
        return histories[(stack, since)]
    events = _read_operation_events(cfn, stack, since)
    if histories is not None:
        histories[(stack, since)] = events
    return events


def _read_operation_events(cfn, stack: str, since) -> list[dict]:
    events: list[dict] = []
    with aws_errors():
        for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack):
            for event in page["StackEvents"]:  # newest first
                if since is not None and event["Timestamp"] < since:
                    return events[::-1]
                events.append(event)
                if (since is None and _is_stack_event(event) and event["ResourceStatus"].endswith("_IN_PROGRESS")
                        and event.get("ResourceStatusReason") == "User Initiated"):
                    return events[::-1]
    return events[::-1]


def failures(cfn, stack: str, since=None, depth: int = 0, histories: dict | None = None) -> list[Failure]:
    """Every failure in the latest operation on `stack` and, recursively, its nested stacks (a failed
    nested stack is replaced by its own failures). Each stack's history is read once (a nested stack
    can fail twice in one operation, e.g. CREATE_FAILED then DELETE_FAILED); `histories`: see operation_events."""
    histories = {} if histories is None else histories
    events = operation_events(cfn, stack, since, histories)
    if since is None and events:
        since = events[0]["Timestamp"]
    found: list[Failure] = []
    for event in events:
        if not event["ResourceStatus"].endswith("_FAILED") or _is_stack_event(event):
            continue
        reason = event.get("ResourceStatusReason", "")
        physical = event.get("PhysicalResourceId") or ""
        if event["ResourceType"] == "AWS::CloudFormation::Stack" and NESTED_STACK.match(physical) and depth < 5:
            try:
                nested = failures(cfn, physical, since, depth + 1, histories)
            except OpsError:
                nested = []  # unreadable nested stack: fall back on the parent's own message
            if nested:
                found.extend(nested)
                continue
        found.append(Failure(event["StackId"], event["LogicalResourceId"], event["ResourceType"], reason,
                             event["Timestamp"], cascade=bool(CASCADE.search(reason))))
    return found


def root_cause(cfn, stack: str, after=None, histories: dict | None = None) -> Failure | None:
    """The earliest real failure of the latest operation (only one at or after `after`, when given); the
    earliest cascade message only when no event says more (e.g. a nested stack that cannot be read)."""
    found = [f for f in failures(cfn, stack, histories=histories) if after is None or f.timestamp >= after]
    real = [f for f in found if not f.cascade]
    return min(real or found, key=lambda f: f.timestamp) if found else None


def explain(t: Target, cfn=None, after=None, histories: dict | None = None) -> str | None:
    """Print the root cause of the stack's latest failure in full (every line of its reason: a failed image
    build's last log lines and the link to its whole log) with what to do and where to read more; return the
    cause in one line (None when the events name none, e.g. sam failed before CloudFormation started)."""
    cfn = cfn or t.client("cloudformation")
    try:
        cause = root_cause(cfn, t.stack_name, after, histories)
    except OpsError:
        return None
    if cause is None:
        return None
    first, *rest = cause.lines()
    log(f"cause: {first}")
    for line in rest:
        log(f"  {line}")
    what = hint(cause.reason)
    if what:
        log(f"what to do: {what}")
    log(f"more: aws cloudformation describe-stack-events --stack-name {cause.stack_id} --region {t.region}")
    return cause.summary()


def retained_after_rollback(cfn, stack: str, since=None, depth: int = 0,
                            histories: dict | None = None) -> list[tuple[str, str]]:
    """(type, physical id) of every resource the latest operation on `stack` and its nested stacks kept
    when it deleted them (DELETE_SKIPPED). A failed first create rolls the parent back, but a nested
    stack that had completed is *deleted*, not rolled back, so its RetainExceptOnCreate resources are
    retained (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html:
    only "the stack operation that created the resource" being rolled back deletes it).
    `histories`: see operation_events."""
    events = operation_events(cfn, stack, since, histories)
    if since is None and events:
        since = events[0]["Timestamp"]
    kept, nested = [], []
    for event in events:
        physical = event.get("PhysicalResourceId") or ""
        if event["ResourceStatus"] == "DELETE_SKIPPED" and physical:
            kept.append((event["ResourceType"], physical))
        elif (event["ResourceType"] == "AWS::CloudFormation::Stack" and not _is_stack_event(event)
              and NESTED_STACK.match(physical) and physical not in nested and depth < 5):
            nested.append(physical)
    for child in nested:
        try:
            kept += retained_after_rollback(cfn, child, since, depth + 1, histories)
        except OpsError:
            pass  # unreadable: nothing more to say about it
    return list(dict.fromkeys(kept))


def dispose_of_retained_tables(t: Target, kept: list[tuple[str, str]], delay: float = 15) -> None:
    """A table a failed create left behind: deleted when it holds nothing (it was created by that
    attempt; each retry would otherwise leave one more), else named with the way to adopt it."""
    ddb = t.client("dynamodb")
    for rtype, table in kept:
        if rtype != "AWS::DynamoDB::Table":
            log(f"kept by the rollback: {rtype} {table} (delete it by hand if you do not need it)")
            continue
        with aws_errors():
            try:
                items = ddb.scan(TableName=table, Limit=1, Select="COUNT")["Count"]
            except ddb.exceptions.ResourceNotFoundException:
                continue
            if items:
                log(f"kept by the rollback: table {table} holds items; to use it, "
                    f'make deploy PARAMS="ExistingTableName={table}"')
                continue
            if ddb.describe_table(TableName=table)["Table"].get("DeletionProtectionEnabled"):
                ddb.update_table(TableName=table, DeletionProtectionEnabled=False)
            ddb.delete_table(TableName=table)
        wait("table_not_exists", ddb, what=f"deleting empty table {table} the failed create left",
             describe=lambda: "DELETING", timeout=600, delay=delay, TableName=table)


# ---------------------------------------------------------------- states a deploy cannot go through

def stack_or_none(cfn, stack: str) -> dict | None:
    """DescribeStacks' answer for the stack, or None when there is no stack by that name."""
    try:
        with aws_errors():
            return cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except AwsCallFailed as exc:
        if stack_missing(exc):
            return None
        raise


def stack_status(cfn, stack: str) -> str | None:
    """The stack's status, or None when there is no stack by that name."""
    found = stack_or_none(cfn, stack)
    return found["StackStatus"] if found else None


def interactive_confirm(question: str, ask=input) -> bool:
    try:
        return ask(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def clear_failed_create(t: Target, interactive: bool, ask=input, timeout: float = 1800, delay: float = 15) -> bool:
    """Make the stack deployable: delete a failed first create (ROLLBACK_COMPLETE) after saying why, and
    refuse in one line a stack that is busy or needs a human. Returns True when it deleted a stack.

    ROLLBACK_COMPLETE means the create failed and CloudFormation already deleted what it had created,
    except what a completed nested stack retained on its deletion (the notes table): deleting the stack
    loses nothing; asked first at a terminal, done and said in CI (non-interactive), where a human would
    do exactly that. An empty table the attempt left is deleted too; one with items is named."""
    cfn = t.client("cloudformation")
    status = stack_status(cfn, t.stack_name)
    if status is None or not (status == "ROLLBACK_COMPLETE" or status.endswith("_IN_PROGRESS")
                              or status.endswith("_FAILED")):
        return False
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise StackNotDeployable(f"stack {t.stack_name} is busy ({status}): wait for it to finish, then deploy again")
    if status == "UPDATE_ROLLBACK_FAILED":
        raise StackNotDeployable(f"stack {t.stack_name} is UPDATE_ROLLBACK_FAILED: fix the resource named in its events, then "
                       f"aws cloudformation continue-update-rollback --stack-name {t.stack_name}")
    if status in ("DELETE_FAILED", "ROLLBACK_FAILED"):
        raise StackNotDeployable(f"stack {t.stack_name} is {status}: run make destroy (or delete it in the console), "
                       f"then deploy again")
    if status != "ROLLBACK_COMPLETE":
        return False
    log(f"stack {t.stack_name} is ROLLBACK_COMPLETE: its first create failed and CloudFormation can only "
        f"delete it, not update it")
    histories: dict = {}  # the cause and what the rollback kept come from the same events: read them once
    explain(t, cfn, histories=histories)
    kept = retained_after_rollback(cfn, t.stack_name, histories=histories)
    if interactive:
        if not interactive_confirm(f"Delete the failed stack {t.stack_name} and create it again? [y/N] ", ask):
            raise NotConfirmed(f"not confirmed: stack {t.stack_name} stays ROLLBACK_COMPLETE and cannot be deployed "
                           f"until it is deleted")
    else:
        log("deleting it (the rollback removed what it created; not a terminal, so not asking)")
    with aws_errors():
        cfn.delete_stack(StackName=t.stack_name)
    wait("stack_delete_complete", cfn, what=f"deleting failed stack {t.stack_name}",
         describe=lambda: stack_status(cfn, t.stack_name) or "DELETE_COMPLETE", timeout=timeout, delay=delay,
         StackName=t.stack_name)
    dispose_of_retained_tables(t, kept, delay)
    return True
