"""The answer a custom resource owes CloudFormation: one JSON PUT to the request's presigned ResponseURL.

https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html: the body holds
Status, Reason, PhysicalResourceId, StackId, RequestId, LogicalResourceId and Data, and "can't exceed
4096 bytes"; the URL is signed without a content type, so the PUT sends an empty one. Without an answer
CloudFormation waits until the resource's ServiceTimeout, so send() never raises: a failure to answer is
printed (the function's log) and the timeout reports it. urllib, not cfnresponse (which exists only for
inline ZipFile code) nor crhelper (a dependency to package for two dozen lines)."""
from __future__ import annotations

import json
import urllib.request

LIMIT = 4096
SUCCESS, FAILED = "SUCCESS", "FAILED"


def body(event: dict, status: str, reason: str, physical_id: str, data: dict | None = None) -> bytes:
    """The response as bytes, the reason shortened (to one line) until the whole fits in LIMIT."""
    reason = " ".join(str(reason).split())
    answer = {"Status": status, "Reason": reason, "PhysicalResourceId": physical_id or event.get("LogicalResourceId", ""),
              "StackId": event.get("StackId", ""), "RequestId": event.get("RequestId", ""),
              "LogicalResourceId": event.get("LogicalResourceId", ""), "Data": data or {}}
    encoded = json.dumps(answer).encode()
    if len(encoded) > LIMIT:
        over = len(encoded) - LIMIT + len(" ...")
        answer["Reason"] = reason.encode()[:max(0, len(reason.encode()) - over)].decode(errors="ignore") + " ..."
        encoded = json.dumps(answer).encode()
    return encoded


def send(event: dict, status: str, reason: str, physical_id: str, data: dict | None = None) -> None:
    """PUT the answer to event["ResponseURL"]; never raises."""
    try:
        encoded = body(event, status, reason, physical_id, data)
        request = urllib.request.Request(event["ResponseURL"], data=encoded, method="PUT",
                                         headers={"Content-Type": ""})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (CloudFormation's https URL)
            print(f"answered {status} for {event.get('LogicalResourceId')}: HTTP {response.status}")
    except Exception as error:  # noqa: BLE001 (an answer that could not be sent is logged, never raised)
        print(f"could not answer CloudFormation ({status}): {type(error).__name__}: {error}")
