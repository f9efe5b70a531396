"""A failed deploy from CI names its root cause like one from your machine: the CI deploy role
(deploy/github-deploy-role-policy.json) may make every call scripts/stack_failures.py makes to find it,
on the root stack and on the nested stacks (named <root>-<Logical>-<suffix> by CloudFormation), and on
the nested stacks nothing more. The calls are recorded from the code itself, driven through a failed
`sam deploy` and a failed first create, so a new call there is checked without an edit here.

Only a deploy proves that IAM sees a nested stack's ARN in the request (the deploy role's calls name it:
stack_failures reads a nested stack by the ARN its parent's events give,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html#troubleshooting-errors-nested-stacks)."""
from __future__ import annotations

import fnmatch
import json
import subprocess
from datetime import UTC, datetime

import pytest

from local.stack import ROOT
from scripts import deploy, stack_failures
from scripts.errors import DeployFailed
from tests.ops.conftest import REGION, STACK, make_target, stubbed, use_clients
from tests.ops.test_first_deploy import (
    ACCOUNT,
    CLUSTER_EVENTS,
    CLUSTER_STACK,
    DATA_STACK,
    FRONTEND_STACK,
    KEPT_PARENT_EVENTS,
    KEPT_SERVICE_EVENTS,
    PARENT,
    PARENT_EVENTS,
    SERVICE,
    SERVICE_EVENTS,
    T0,
    arn,
)

ROLE = ROOT / "deploy" / "github-deploy-role-policy.json"


def deploy_role() -> dict:
    text = ROLE.read_text().replace("ACCOUNT_ID", ACCOUNT).replace("REGION", REGION)
    return json.loads(text.replace("STACK", STACK))


def allows(doc: dict, action: str, resource: str) -> bool:
    return any(s["Effect"] == "Allow" and action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
               and any(fnmatch.fnmatchcase(resource, r) for r in
                       (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]))
               for s in doc["Statement"])


def granted_on(doc: dict, stack: str) -> set[str]:
    """Every CloudFormation action a statement of `doc` allows on the stack ARN `stack`."""
    return {a for s in doc["Statement"] if s["Effect"] == "Allow"
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
            if a.startswith("cloudformation:") and any(fnmatch.fnmatchcase(stack, r) for r in
                   (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]))}


def recorder(cfn) -> list[tuple[str, str]]:
    """(IAM action, stack ARN) of every call `cfn` makes from now on, recorded at the event botocore emits
    before the Stubber answers. A stack named by name is the root stack (PARENT)."""
    calls: list[tuple[str, str]] = []
    cfn.meta.events.register(
        "provide-client-params.cloudformation.*",
        lambda params, model, **_: calls.append((f"cloudformation:{model.name}",
                                                 params["StackName"] if params.get("StackName", "").startswith("arn:")
                                                 else PARENT)))
    return calls


def shifted(events: list[dict], now: datetime) -> list[dict]:
    return [{**e, "Timestamp": now + (e["Timestamp"] - T0)} for e in events]


@pytest.fixture
def calls(aws, monkeypatch) -> list[tuple[str, str]]:
    """The calls a failed `sam deploy` (the cause and the stack's state) and a failed first create (what
    its rollback kept) make, as CI makes them."""
    t = make_target(aws)
    now = datetime.now(UTC)
    cfn, stub = stubbed("cloudformation", activate=False)
    for stack, events in ((STACK, PARENT_EVENTS), (SERVICE, SERVICE_EVENTS), (CLUSTER_STACK, CLUSTER_EVENTS),
                          (FRONTEND_STACK, [])):
        stub.add_response("describe_stack_events", {"StackEvents": shifted(events, now)}, {"StackName": stack})
    stub.add_response("describe_stacks", {"Stacks": [{"StackName": STACK, "StackId": PARENT, "CreationTime": now,
                                                      "StackStatus": "ROLLBACK_COMPLETE"}]}, {"StackName": STACK})
    for stack, events in ((STACK, KEPT_PARENT_EVENTS), (DATA_STACK, KEPT_SERVICE_EVENTS), (FRONTEND_STACK, [])):
        stub.add_response("describe_stack_events", {"StackEvents": events}, {"StackName": stack})
    recorded = recorder(cfn)
    use_clients(monkeypatch, t, cloudformation=cfn)
    with stub:
        with pytest.raises(DeployFailed, match="Unable to assume the service linked role"):
            deploy.sam_deploy(t, {}, run=lambda args, **kw: subprocess.CompletedProcess(args, 1, "", ""))
        assert stack_failures.retained_after_rollback(cfn, STACK) == [("AWS::DynamoDB::Table", "notes-kept")]
    stub.assert_no_pending_responses()
    return recorded


def test_ci_may_make_every_call_that_finds_the_root_cause(calls):
    doc = deploy_role()
    nested = {stack for _, stack in calls if stack != PARENT}
    assert {SERVICE, CLUSTER_STACK, DATA_STACK} <= nested, "the cause lies two levels down: both are read"
    assert [c for c in calls if not allows(doc, *c)] == []


def test_on_the_nested_stacks_ci_may_make_exactly_those_calls(calls):
    """Reading their events, and one resource's physical id (the origin secret's name, which preflight reads:
    scripts/origin_secret.py), and nothing else (no DescribeStacks, no template, no change)."""
    doc = deploy_role()
    on_nested = {action for action, stack in calls if stack != PARENT}
    assert on_nested == {"cloudformation:DescribeStackEvents"}
    reads = on_nested | {"cloudformation:DescribeStackResource"}
    for stack in {stack for _, stack in calls if stack != PARENT}:
        assert granted_on(doc, stack) == reads, stack
    assert granted_on(doc, arn(f"{STACK}-ServiceStack-NEW", "n")) == reads, "and on any nested stack"
    assert granted_on(doc, arn("another-stack", "a")) == set(), "not on other stacks of the account"
