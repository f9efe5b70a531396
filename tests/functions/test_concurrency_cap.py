"""Custom::ConcurrencyCap (functions/concurrency_cap.py) against moto's Lambda: the block's ReservedConcurrency is
reserved where the account allows it, and a refusal for the account's minimum unreserved concurrency is a
SUCCESS that says so (the stack deploys; the account's own quota caps the function).

moto enforces the minimum only with MOTO_LAMBDA_CONCURRENCY_QUOTA set (moto/awslambda/models.py,
put_function_concurrency: quota - reservations < 100 raises InvalidParameterValueException with Lambda's text):
a quota of 10 is a new account (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html, "New
AWS accounts have reduced concurrency and memory quotas"; aws-samples/alarm-context-tool#2 shows the message)."""
from __future__ import annotations

import boto3
import concurrency_cap
import custom_resource
import pytest
from moto import mock_aws

FUNCTION = "s-NotesService-X-Function-abc"


@pytest.fixture
def lam():
    with mock_aws():
        client = boto3.client("lambda", region_name="us-east-1")
        role = boto3.client("iam", region_name="us-east-1").create_role(
            RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client.create_function(FunctionName=FUNCTION, Role=role, PackageType="Image",
                               Code={"ImageUri": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:{'0' * 64}"})
        yield client


def reserved(lam) -> int | None:
    return lam.get_function_concurrency(FunctionName=FUNCTION).get("ReservedConcurrentExecutions")


def cap(event, kind: str, value: str, physical: str | None = None, old: dict | None = None) -> dict:
    request = event(kind, {"FunctionName": FUNCTION, "ReservedConcurrency": value}, physical,
                    logical="ConcurrencyCap")
    if old is not None:
        request["OldResourceProperties"] = {"ServiceToken": "arn:fn", **old}
    concurrency_cap.handler(request, None)
    return request


@pytest.mark.parametrize("kind", ["Create", "Update"])
def test_the_blocks_value_is_reserved_where_the_account_allows_it(lam, event, responses, monkeypatch, kind):
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", "1000")
    cap(event, kind, "10", f"concurrency-cap-{FUNCTION}" if kind == "Update" else None, old={
        "FunctionName": FUNCTION, "ReservedConcurrency": "5"} if kind == "Update" else None)
    assert reserved(lam) == 10
    answer = responses.only().body
    assert answer["Status"] == "SUCCESS" and answer["Data"] == {"Applied": "true"}
    assert answer["PhysicalResourceId"] == f"concurrency-cap-{FUNCTION}"


def test_a_new_accounts_refusal_deploys_and_says_why_in_one_line(lam, event, responses, monkeypatch, capsys):
    """A quota of 10: no reservation fits. The stack goes on (SUCCESS), Data says it was not applied and why."""
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", "10")
    cap(event, "Create", "10")
    assert reserved(lam) is None
    answer = responses.only().body
    assert answer["Status"] == "SUCCESS" and answer["Data"]["Applied"] == "false"
    reason = answer["Data"]["Reason"]
    assert reason.startswith(f"reserved concurrency 10 not applied to {FUNCTION}: the account's concurrency quota "
                             "leaves no room (Lambda keeps at least 100 unreserved)")
    assert "aws lambda get-account-settings" in reason
    assert capsys.readouterr().out.splitlines() == [reason]


def test_any_other_refusal_fails_in_one_line(lam, event, responses, monkeypatch):
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", "1000")
    request = event("Create", {"FunctionName": "not-there", "ReservedConcurrency": "10"}, logical="ConcurrencyCap")
    concurrency_cap.handler(request, None)
    answer = responses.only().body
    assert answer["Status"] == "FAILED" and answer["Reason"].startswith("reserved concurrency not set: ResourceNotFoundException")
    assert "\n" not in answer["Reason"]


def test_an_empty_value_removes_the_reservation(lam, event, responses):
    lam.put_function_concurrency(FunctionName=FUNCTION, ReservedConcurrentExecutions=10)
    cap(event, "Update", "", f"concurrency-cap-{FUNCTION}", old={"FunctionName": FUNCTION, "ReservedConcurrency": "10"})
    assert reserved(lam) is None
    assert responses.only().body["Status"] == "SUCCESS"


def test_an_update_that_changes_neither_setting_keeps_a_stop(lam, event, responses):
    """CloudFormation sends Update only when a property changed; one that changed neither the function nor the
    value (a new ServiceToken) must not undo `make stop` (reserved concurrency 0)."""
    lam.put_function_concurrency(FunctionName=FUNCTION, ReservedConcurrentExecutions=0)
    cap(event, "Update", "10", f"concurrency-cap-{FUNCTION}", old={"FunctionName": FUNCTION, "ReservedConcurrency": "10"})
    assert reserved(lam) == 0
    assert responses.only().body["Data"] == {"Applied": "unchanged"}


@pytest.mark.parametrize("kind", ["Create", "Update"])
def test_a_stopped_function_stays_stopped_when_the_cap_comes_or_changes(lam, event, responses, kind):
    """`make stop` (reserved concurrency 0) before the upgrade that adds the cap (its Create), or before a deploy
    that changes the block's value (an Update): the function stays stopped; `make start` sets the value."""
    lam.put_function_concurrency(FunctionName=FUNCTION, ReservedConcurrentExecutions=0)
    cap(event, kind, "10", f"concurrency-cap-{FUNCTION}" if kind == "Update" else None,
        old={"FunctionName": FUNCTION, "ReservedConcurrency": "5"} if kind == "Update" else None)
    assert reserved(lam) == 0
    answer = responses.only().body
    assert answer["Status"] == "SUCCESS" and answer["Data"] == {"Applied": "stopped"}


def test_an_updates_refusal_is_not_applied_so_its_rollback_cannot_fail(lam, event, responses, monkeypatch):
    """CloudFormation rolls a failed Update back with another Update, which would meet the same refusal and leave the
    stack UPDATE_ROLLBACK_FAILED (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html):
    on Update a lasting refusal is SUCCESS "not applied" with the reason; on Create (rolled back by a Delete) FAILED."""
    monkeypatch.setattr(concurrency_cap, "DENIED_WAITS", ())
    request = event("Update", {"FunctionName": "not-there", "ReservedConcurrency": "10"}, "concurrency-cap-x",
                    logical="ConcurrencyCap")
    request["OldResourceProperties"] = {"FunctionName": "not-there", "ReservedConcurrency": "5"}
    concurrency_cap.handler(request, None)
    answer = responses.only().body
    assert answer["Status"] == "SUCCESS" and answer["Data"]["Applied"] == "false"
    assert answer["Data"]["Reason"].startswith("reserved concurrency 10 not applied to not-there: ResourceNotFoundException")


def test_delete_calls_nothing_and_succeeds(lam, event, responses, monkeypatch):
    lam.put_function_concurrency(FunctionName=FUNCTION, ReservedConcurrentExecutions=10)
    monkeypatch.setattr(concurrency_cap, "apply", lambda *a: pytest.fail("called Lambda on Delete"))
    cap(event, "Delete", "10", f"concurrency-cap-{FUNCTION}")
    assert reserved(lam) == 10
    answer = responses.only().body
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == f"concurrency-cap-{FUNCTION}"


@pytest.mark.parametrize("kind, value, says", [("Bogus", "10", "unknown RequestType 'Bogus'"),
                                               ("Create", "ten", "a number, or empty")])
def test_an_unknown_request_or_value_fails_in_one_line(event, responses, kind, value, says):
    cap(event, kind, value)
    answer = responses.only().body
    assert answer["Status"] == "FAILED" and says in answer["Reason"] and "\n" not in answer["Reason"]


@pytest.mark.parametrize("code", ["AccessDeniedException", "ResourceConflictException"])
def test_a_role_not_yet_visible_or_a_function_still_updating_is_waited_for(lam, event, responses, monkeypatch, code):
    """Denied seconds after the role's creation (or the function mid-update), then allowed: a few bounded waits,
    then the reservation."""
    from botocore.exceptions import ClientError
    real, denials, waits = concurrency_cap.boto3.client, [1, 1], []

    def client(*args, **kwargs):
        made = real(*args, **kwargs)
        put = made.put_function_concurrency

        def denied_first(**kw):
            if denials:
                denials.pop()
                raise ClientError({"Error": {"Code": code, "Message": "no"}}, "PutFunctionConcurrency")
            return put(**kw)
        made.put_function_concurrency = denied_first
        return made
    monkeypatch.setattr(concurrency_cap.boto3, "client", client)
    monkeypatch.setattr(custom_resource.time, "sleep", waits.append)
    cap(event, "Create", "10")
    assert waits == [5, 5] and reserved(lam) == 10
    assert responses.only().body["Status"] == "SUCCESS"


def test_a_denial_that_lasts_fails_in_one_line_after_bounded_waits(event, responses, monkeypatch):
    """The answer is sent inside the function's Timeout: four waits of 5 s, then FAILED with Lambda's reason."""
    from botocore.exceptions import ClientError

    class Denied:
        def get_function_concurrency(self, **kw):
            return {}

        def put_function_concurrency(self, **kw):
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
                              "PutFunctionConcurrency")
    waits = []
    monkeypatch.setattr(concurrency_cap.boto3, "client", lambda *a, **k: Denied())
    monkeypatch.setattr(custom_resource.time, "sleep", waits.append)
    cap(event, "Create", "10")
    assert waits == list(concurrency_cap.DENIED_WAITS) and sum(waits) < 120
    answer = responses.only().body
    assert answer["Status"] == "FAILED" and "AccessDeniedException" in answer["Reason"] and "\n" not in answer["Reason"]
