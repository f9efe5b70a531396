"""Custom::ConcurrencyCap (service.yml's ConcurrencyCap, Compute=Lambda): the function's reserved concurrency,
the block's ReservedConcurrency, applied where the account allows it.

A reservation is also a maximum: the function runs at most that many requests at once, which bounds what a
saturated stage throttle can bill (docs/compute.md, `make cost`). But Lambda refuses a reservation that leaves
the account fewer than its minimum unreserved ("You can reserve concurrency for as many functions as you like, as
long as you leave at least 100 simultaneous executions unreserved":
https://docs.aws.amazon.com/lambda/latest/dg/API_PutFunctionConcurrency.html), and a new account's quota can be
10, where no reservation of 1 or more fits ("...decreases account's UnreservedConcurrentExecution below its
minimum value of [10]": aws-samples/alarm-context-tool#2). Set by the Function's ReservedConcurrentExecutions,
that refusal fails the stack and rolls it back; CloudFormation cannot condition a property on an account quota.
So the stack asks Lambda itself and takes no for an answer.

Create/Update: PutFunctionConcurrency(FunctionName, ReservedConcurrency). Refused for the minimum unreserved:
SUCCESS with Data {Applied: "false", Reason}, and one line in the log (the account's own concurrency quota then
caps the function, shared with its other functions). Any other error: FAILED in one line on Create (its rollback
is a Delete), SUCCESS "not applied" with the reason on Update (its rollback would be an Update meeting the same
error: UPDATE_ROLLBACK_FAILED). A stopped function (reserved concurrency 0, `make stop`) is left stopped: Data
{Applied: "stopped"}; `make start` sets the block's value. ReservedConcurrency ""
(the block reserves none): DeleteFunctionConcurrency, back to the unreserved pool. CloudFormation sends Update
only when the resource's properties change (a new value, or a new function), so a deploy that changes neither
leaves a `make stop` (reserved concurrency 0) in place; an Update whose properties equal the old ones (a
ServiceToken change) calls nothing either. Delete: nothing (the function goes with the stack, or is being
replaced). Every request is answered (functions/custom_resource.py); nothing raises.
"""
from __future__ import annotations

import re

import boto3
import custom_resource
from botocore.config import Config
from botocore.exceptions import ClientError

# A bounded budget, so the answer is always sent inside the function's Timeout (service.yml: 120 s).
CLIENTS = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3})
# The function runs seconds after its role is created; a policy not yet visible to Lambda is denied, which the
# standard retry mode does not retry (aws/aws-cdk#31429): a few waits, then FAILED. The same for a service
# function still being updated (ResourceConflictException; CloudFormation waits for it first, so only a deploy
# shows whether this happens).
DENIED = ("AccessDeniedException", "AccessDenied", "ResourceConflictException")
DENIED_WAITS = (5, 5, 5, 5)
NO_ROOM = re.compile(r"UnreservedConcurrentExecution below its minimum value of \[(\d+)\]")
SETTINGS = ("FunctionName", "ReservedConcurrency")


def no_room(error: ClientError) -> str | None:
    """The minimum Lambda keeps unreserved, when `error` is its refusal for that reason; else None."""
    info = error.response.get("Error", {})
    found = NO_ROOM.search(str(info.get("Message", ""))) if info.get("Code") == "InvalidParameterValueException" \
        else None
    return found.group(1) if found else None


def apply(function: str, wanted: str) -> bool:
    """Reserve `wanted` for `function` ("" : remove its reservation); ClientError as Lambda refuses it. False,
    calling nothing more, when the function is stopped (`make stop`: reserved concurrency 0): `make start` restores
    the block's value, so an upgrade that adds this resource, or a deploy that changes the value, keeps the stop."""
    lam = boto3.client("lambda", config=CLIENTS)

    def once() -> bool:
        if lam.get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions") == 0:
            return False
        if wanted == "":
            lam.delete_function_concurrency(FunctionName=function)
        else:
            lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=int(wanted))
        return True
    return custom_resource.patiently(once, DENIED, DENIED_WAITS)


def answer(event: dict) -> None:
    """Do what the request asks and answer CloudFormation, whatever happens (send never raises)."""
    kind = event.get("RequestType")
    props = event.get("ResourceProperties") or {}
    function, wanted = str(props.get("FunctionName", "")), str(props.get("ReservedConcurrency", "")).strip()
    physical = event.get("PhysicalResourceId") or f"concurrency-cap-{function or 'none'}"
    if kind == "Delete":  # the function goes with the stack, or is being replaced: nothing to undo
        custom_resource.send(event, "SUCCESS", "", physical)
        return
    old = event.get("OldResourceProperties") or {}
    if kind == "Update" and all(str(old.get(k, "")).strip() == str(props.get(k, "")).strip() for k in SETTINGS):
        print(f"{function}: ReservedConcurrency unchanged ({wanted or 'none'}); the live value is left as it is")
        custom_resource.send(event, "SUCCESS", "", physical, {"Applied": "unchanged"})
        return
    try:
        if kind not in ("Create", "Update"):
            raise ValueError(f"unknown RequestType {kind!r}")
        if not function or not (wanted == "" or wanted.isdigit()):
            raise ValueError(f"FunctionName and ReservedConcurrency (a number, or empty) are needed, got "
                             f"{function!r} and {wanted!r}")
        applied = apply(function, wanted)
    except ClientError as error:
        minimum = no_room(error)
        if minimum is None and kind == "Update":
            # An Update that failed is rolled back by another Update, which would meet the same refusal and leave
            # the stack UPDATE_ROLLBACK_FAILED; the cap is a bound, not the service: say it, and go on.
            reason = f"reserved concurrency {wanted or 'none'} not applied to {function}: {custom_resource.one_line(error)}"
            print(reason)
            custom_resource.send(event, "SUCCESS", "", physical, {"Applied": "false", "Reason": reason})
            return
        if minimum is None:
            fail(event, physical, error)
            return
        reason = (f"reserved concurrency {wanted} not applied to {function}: the account's concurrency quota leaves "
                  f"no room (Lambda keeps at least {minimum} unreserved); the account's quota caps the function, "
                  "shared with its other functions (aws lambda get-account-settings)")
        print(reason)
        custom_resource.send(event, "SUCCESS", "", physical, {"Applied": "false", "Reason": reason})
        return
    except Exception as error:  # noqa: BLE001 (CloudFormation gets every failure as a FAILED answer)
        fail(event, physical, error)
        return
    if not applied:
        print(f"{function}: stopped (reserved concurrency 0): left so; make start sets {wanted or 'none'}")
        custom_resource.send(event, "SUCCESS", "", physical, {"Applied": "stopped"})
        return
    print(f"{function}: reserved concurrency {wanted or 'none (the unreserved pool)'}")
    custom_resource.send(event, "SUCCESS", "", physical, {"Applied": "true"})


def fail(event: dict, physical: str, error: BaseException) -> None:
    reason = f"reserved concurrency not set: {custom_resource.one_line(error)}"
    print(reason)
    custom_resource.send(event, "FAILED", reason, physical)


def handler(event: dict, context) -> None:
    answer(event)
