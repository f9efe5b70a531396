"""Answer CloudFormation for a custom resource: one JSON document PUT to the request's ResponseURL.

CloudFormation waits for this answer until the resource's ServiceTimeout (at most an hour) and then
fails the stack operation with "did not receive a response" (aws/aws-cdk#2126 waited hours for it; the
limit is CloudFormation's own, aws/aws-cdk#24974). So `send` never raises into its caller: every path
of a handler ends in one call to it, and a failure to deliver is logged, not thrown.

The protocol (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref.html): a PUT of
{Status, Reason, PhysicalResourceId, StackId, RequestId, LogicalResourceId, Data} to a presigned S3
URL, signed without a content type (so the header goes empty: urllib would otherwise add
application/x-www-form-urlencoded and S3 would refuse the signature), and "the total size of the
response body can't exceed 4096 bytes": the reason is cut in its middle until the body fits, so a
reason's head (what failed) and tail (where to read more) both survive.

Why our own ~80 lines: AWS's `cfn-response` module is provided only to inline (ZipFile) function code
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-lambda-function-code-cfnresponsemodule.html);
crhelper (aws-cloudformation/custom-resource-helper) would be a dependency packaged with the code, and
its long-running mode polls (a scheduled rule invoking the function again every few minutes) where the
image build is told by CodeBuild's event, which reaches a different invocation holding only the
request's fields.
"""
from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

MAX_BODY = 4096  # bytes, CloudFormation's limit on the whole response body
ATTEMPTS = 3  # a connection error or a 5xx from S3 is retried; a 4xx (an expired URL) is not
RETRY_DELAY = 1.0  # seconds, times the attempt number
TIMEOUT = 10  # seconds per attempt, well inside the functions' own timeouts
CUT = " [...] "


def body(request: dict, status: str, reason: str, physical_id: str, data: dict | None = None) -> bytes:
    """The response document for `request` (a custom resource request, or any dict with its StackId,
    RequestId and LogicalResourceId), at most MAX_BODY bytes: the reason is cut in its middle to fit."""
    document = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_id,
        "StackId": request["StackId"],
        "RequestId": request["RequestId"],
        "LogicalResourceId": request["LogicalResourceId"],
        "Data": data or {},
    }
    encoded = json.dumps(document).encode()
    if len(encoded) <= MAX_BODY:
        return encoded
    # Escapes make a character cost 1 to 12 bytes: search the longest cut reason that fits.
    text, best, low, high = document["Reason"], None, 0, len(document["Reason"]) - 1
    while low <= high:
        keep = (low + high) // 2
        document["Reason"] = text[: keep - keep // 2] + CUT + text[len(text) - keep // 2:] if keep else ""
        candidate = json.dumps(document).encode()
        if len(candidate) <= MAX_BODY:
            best, low = candidate, keep + 1
        else:
            high = keep - 1
    return best if best is not None else candidate

def send(request: dict, status: str, reason: str, physical_id: str, data: dict | None = None) -> bool:
    """PUT the response to request["ResponseURL"]; True when S3 accepted it. Never raises."""
    try:
        payload = body(request, status, reason, physical_id, data)
        url = request["ResponseURL"]
    except Exception as error:  # a request without its fields: nothing can be answered
        logger.error("cannot answer CloudFormation: %s", one_line(error))
        return False
    for attempt in range(1, ATTEMPTS + 1):
        put = urllib.request.Request(url, data=payload, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(payload))})
        try:
            with urllib.request.urlopen(put, timeout=TIMEOUT) as response:
                logger.info("answered %s %s for %s (%s): HTTP %s", status, physical_id,
                            request["LogicalResourceId"], request["RequestId"], response.status)
                return True
        except urllib.error.HTTPError as error:
            retry = error.code >= 500
            problem = f"HTTP {error.code} {error.reason}"
        except Exception as error:  # connection refused, DNS, timeout: worth another attempt
            retry = True
            problem = one_line(error)
        logger.error("answering %s for %s (%s) failed (attempt %d of %d): %s", status,
                     request["LogicalResourceId"], request["RequestId"], attempt, ATTEMPTS, problem)
        if not retry or attempt == ATTEMPTS:
            return False
        time.sleep(RETRY_DELAY * attempt)
    return False


def patiently(call, codes: tuple[str, ...], waits: tuple[float, ...]):
    """call(), again after each of `waits` seconds while it fails with an AWS error whose code is in `codes`; the
    last failure raises. A function runs seconds after CloudFormation created its role, and a policy not yet
    visible to the service is denied, which botocore's retry modes do not retry (aws/aws-cdk#31429); a resource
    still being updated answers a conflict the same way. Bounded by `waits`, so the answer still goes out inside
    the function's Timeout."""
    for wait in (*waits, None):
        try:
            return call()
        except Exception as error:  # a botocore ClientError carries .response (this module imports no botocore)
            code = (getattr(error, "response", None) or {}).get("Error", {}).get("Code")
            if wait is None or code not in codes:
                raise
            time.sleep(wait)
    raise AssertionError("unreachable")


def one_line(error: BaseException) -> str:
    """An exception as one line: its class and message, whitespace collapsed."""
    return " ".join(f"{type(error).__name__}: {error}".split())
