"""The ops commands on a service that runs on Lambda (its block's Compute=Lambda: the descriptor's "compute"
is "lambda", scripts/outputs.py). The others (status, stop, start, deploy's wait, smoke, destroy) call these
for a Lambda service and keep their ECS code for a Fargate one.

Stop and start use the function's reserved concurrency, Lambda's own switch ("To throttle a function, set
the reserved concurrency to zero. This stops any events from being processed until you remove the limit":
https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html, as quoted in
https://devops.stackexchange.com/questions/16674), so `make stop` is
PutFunctionConcurrency 0, and `make start` puts back the block's ReservedConcurrency (the descriptor's
"reservedConcurrency"), or, when the block reserves none, DeleteFunctionConcurrency (back to the account's
unreserved pool). Where the account's quota leaves no room for the block's value (Lambda keeps a minimum
unreserved; a new account's quota can be 10), the deploy's ConcurrencyCap left the function without a
reservation (functions/concurrency_cap.py), and start does the same: it removes the stop's reservation and
says so in one line. Nothing needs recording: what start restores is in the descriptor. A stopped function is
invoked by nobody, so it costs nothing; through the HTTP API its routes answer API Gateway's own 500
`{"message":"Internal Server Error"}` (not the app's JSON error) until `make start`
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html).

A deploy keeps a stop: only service.yml's ConcurrencyCap sets the reservation, and CloudFormation runs it only
when its properties change (the block's ReservedConcurrency, or a new function, which starts unstopped). The
deploy reads the live value either way (stopped_reason): stopped, it says so and skips the smoke tests.
"""
from __future__ import annotations

from contextlib import contextmanager

from scripts.common import Target, aws_errors, log, wait
from scripts.errors import AwsCallFailed, ServiceNotActive
from scripts.outputs import ServiceOutputs

STOPPED = 0  # reserved concurrency that throttles every invocation


@contextmanager
def function_there(svc: ServiceOutputs):
    """aws_errors(), and a function that is not there as one line. (Each call below is written out against a
    client named `lam`: tests/docker/test_github_deploy.py reads them to hold the deploy role to them.)"""
    try:
        with aws_errors():
            yield
    except AwsCallFailed as exc:
        if exc.aws_code == "ResourceNotFoundException":
            raise ServiceNotActive(f"function {svc.function} of service {svc.short} is not there: make deploy "
                                   "creates it again") from None
        raise


def reserved(lam, svc: ServiceOutputs) -> int | None:
    """The function's reserved concurrency (None: none reserved, it draws on the account's unreserved pool)."""
    with function_there(svc):
        return lam.get_function_concurrency(FunctionName=svc.function).get("ReservedConcurrentExecutions")


def configuration(lam, svc: ServiceOutputs) -> dict:
    with function_there(svc):
        return lam.get_function_configuration(FunctionName=svc.function)


def block_value(svc: ServiceOutputs) -> int | None:
    """The block's ReservedConcurrency as a number (None: the block reserves none)."""
    return int(svc.reserved_concurrency) if svc.reserved_concurrency.strip().isdigit() else None


# Lambda's refusal of a reservation that leaves the account fewer than its minimum unreserved
# (https://docs.aws.amazon.com/lambda/latest/dg/API_PutFunctionConcurrency.html; functions/concurrency_cap.py).
NO_ROOM = "UnreservedConcurrentExecution below its minimum"
NOT_APPLIED = "not applied: the account's quota leaves no room (aws lambda get-account-settings)"


def no_room(exc: AwsCallFailed) -> bool:
    return exc.aws_code == "InvalidParameterValueException" and NO_ROOM in exc.aws_message


def concurrency_words(value: int | None) -> str:
    if value is None:
        return "no reserved concurrency (the account's unreserved pool)"
    if value == STOPPED:
        return "reserved concurrency 0: stopped (make start)"
    return f"reserved concurrency {value}"


def status_lines(lam, svc: ServiceOutputs) -> list[str]:
    """make status for one Lambda service: the function's state, its last update, its concurrency."""
    config = configuration(lam, svc)
    state = config.get("State", "?")
    reason = f" ({config['StateReason']})" if config.get("StateReason") and state != "Active" else ""
    update = config.get("LastUpdateStatus")
    update_reason = f" ({config['LastUpdateStatusReason']})" if config.get("LastUpdateStatusReason") and \
        update != "Successful" else ""
    live, wanted = reserved(lam, svc), block_value(svc)
    # The block caps it, the function has no reservation and is not stopped: the deploy's ConcurrencyCap was refused.
    unapplied = f"; ReservedConcurrency {wanted} {NOT_APPLIED}" if live is None and wanted else ""
    lines = [f"service    {svc.function} ({svc.short}, {svc.path_prefix}): Lambda function, state {state}{reason}"
             + (f", last update {update}{update_reason}" if update else "")
             + f"; {concurrency_words(live)}" + unapplied,
             f"function   {config.get('MemorySize', '?')} MiB, {','.join(config.get('Architectures', []))}, "
             f"timeout {config.get('Timeout', '?')} s, image {config.get('CodeSha256', '?')[:12] or '?'}"]
    return lines


def stopped_reason(lam, svc: ServiceOutputs) -> str | None:
    """None when the function takes requests; otherwise the line deploy prints when it skips the smoke tests."""
    if reserved(lam, svc) != STOPPED:
        return None
    return (f"service {svc.short} (function {svc.function}) is stopped (make stop: reserved concurrency 0): the new "
            f"version is deployed and takes requests on `make start`; smoke tests skipped")


def stop_one(lam, svc: ServiceOutputs) -> dict:
    before = reserved(lam, svc)
    if before == STOPPED:
        log(f"{svc.function} is already stopped (reserved concurrency 0)")
        return {"record": {"reserved": STOPPED}}
    with aws_errors():
        lam.put_function_concurrency(FunctionName=svc.function, ReservedConcurrentExecutions=STOPPED)
    log(f"stopping {svc.function}: reserved concurrency 0 (was {concurrency_words(before)}); its routes answer "
        "API Gateway's own 500 until make start")
    return {"record": {"reserved": STOPPED}}


def start_one(lam, svc: ServiceOutputs) -> dict:
    if reserved(lam, svc) != STOPPED:
        log(f"{svc.function} was not stopped (its reserved concurrency is not 0); nothing to restore")
        return {"record": {}}
    wanted = block_value(svc)
    if wanted:
        try:
            with aws_errors():
                lam.put_function_concurrency(FunctionName=svc.function, ReservedConcurrentExecutions=wanted)
        except AwsCallFailed as exc:
            if not no_room(exc):
                raise
            # As the deploy's ConcurrencyCap did: no reservation, the account's own quota caps the function.
            with aws_errors():
                lam.delete_function_concurrency(FunctionName=svc.function)
            log(f"starting {svc.function}: reserved concurrency {wanted} {NOT_APPLIED}; the stop's reservation is "
                "removed instead (the account's unreserved pool)")
            return {"record": {"reserved": None}}
    else:  # none in the block (or 0, which would keep it stopped): back to the unreserved pool
        with aws_errors():
            lam.delete_function_concurrency(FunctionName=svc.function)
    log(f"starting {svc.function}: {concurrency_words(wanted or None)}")
    return {"record": {"reserved": wanted or None}}


def wait_ready(t: Target, services: list[ServiceOutputs], timeout: float, delay: float) -> None:
    """After a deploy: each function Active and its last update done (boto3's function_active_v2 and
    function_updated_v2 waiters: a function whose image Lambda could not optimise or pull fails here, by name)."""
    lam = t.client("lambda")
    for svc in services:
        now = configuration(lam, svc)
        if now.get("State") == "Inactive" and now.get("LastUpdateStatus") == "Successful":
            # A function idle long enough goes Inactive, and only an invocation wakes it (minutes, while the
            # first requests fail): no waiter ends on it (function_active_v2 knows Active, Pending, Failed), so
            # a deploy that did not update it would wait its whole timeout
            # (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).
            log(f"Lambda function {svc.function}: inactive after idling, its last update done; the first request "
                "wakes it (API Gateway's own 500 until then, for minutes)")
            continue

        def state(s=svc):
            return configuration(lam, s).get("LastUpdateStatus") or "?"
        wait("function_active_v2", lam, what=f"Lambda function {svc.function}", timeout=timeout, delay=delay,
             describe=state, FunctionName=svc.function)
        wait("function_updated_v2", lam, what=f"Lambda function {svc.function}", timeout=timeout, delay=delay,
             describe=state, FunctionName=svc.function)
