"""Custom::NamespaceGuard (cluster.yml's NamespaceGuard): holds the Cloud Map namespace's deletion until no
service is left in it.

The namespace exists only while a service runs on Fargate (cluster.yml), so switching the last one to Lambda
removes it in the update's cleanup phase. Its Cloud Map services belong to the service stacks, which remove
theirs in the same cleanup; CloudFormation documents no order between two nested stacks' cleanups, and Cloud
Map refuses to delete a namespace that still holds a service (ResourceInUse). A namespace whose delete failed
stays behind, billed ($0.50/month, its Route 53 private zone), and the next switch back to Fargate would fail
creating the same name in the same VPC (Route 53: ConflictingDomainExists).
https://docs.aws.amazon.com/cloud-map/latest/api/API_DeleteNamespace.html

The guard depends on the namespace (it names it), so CloudFormation deletes the guard first; its Delete waits,
polling servicediscovery:ListServices for the namespace, until the other stacks' Cloud Map services are gone
(their ECS services drain first), then answers and the namespace's own delete runs on an empty namespace.
It never fails a delete: past its deadline it answers SUCCESS and logs what is still there, so the namespace's
delete reports Cloud Map's own reason. Create and Update do nothing.
"""
from __future__ import annotations

import time

import boto3
import custom_resource
from botocore.config import Config

CLIENTS = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3})
POLL = 10  # seconds between two looks
MARGIN_MS = 20_000  # kept for the answer inside the function's Timeout (cluster.yml)
WITHOUT_CONTEXT_MS = 600_000  # a deadline when invoked without a Lambda context (tests, a manual run)


def services_in(namespace: str) -> list[str]:
    """The names of the Cloud Map services still in `namespace` (every page)."""
    pages = boto3.client("servicediscovery", config=CLIENTS).get_paginator("list_services").paginate(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [namespace], "Condition": "EQ"}])
    return [service["Name"] for page in pages for service in page.get("Services", [])]


def wait_until_empty(namespace: str, remaining_ms) -> list[str]:
    """Poll until `namespace` holds no service or the time left falls below the margin; what is left."""
    while True:
        left = services_in(namespace)
        if not left or remaining_ms() - POLL * 1000 < MARGIN_MS:
            return left
        print(f"waiting for {len(left)} Cloud Map service(s) to leave {namespace}: {', '.join(left)}")
        time.sleep(POLL)


def answer(event: dict, remaining_ms) -> None:
    """Do what the request asks and answer CloudFormation, whatever happens (send never raises)."""
    kind = event.get("RequestType")
    namespace = (event.get("ResourceProperties") or {}).get("NamespaceId", "")
    physical = event.get("PhysicalResourceId") or f"namespace-guard-{namespace or 'none'}"
    if kind in ("Create", "Update"):
        custom_resource.send(event, "SUCCESS", "", physical)
        return
    if kind != "Delete":
        custom_resource.send(event, "FAILED", f"unknown RequestType {kind!r}", physical)
        return
    try:
        left = wait_until_empty(namespace, remaining_ms) if namespace else []
    except Exception as error:  # noqa: BLE001 (a guard never blocks a delete: the namespace's says why)
        print(f"could not list the services in {namespace}: {custom_resource.one_line(error)}")
        left = []
    if left:
        print(f"still in {namespace} at the deadline: {', '.join(left)}; its delete will fail and say why")
    custom_resource.send(event, "SUCCESS", "", physical)


def handler(event: dict, context) -> None:
    remaining = context.get_remaining_time_in_millis if context is not None else None
    if remaining is None:
        deadline = time.monotonic() + WITHOUT_CONTEXT_MS / 1000
        remaining = lambda: (deadline - time.monotonic()) * 1000  # noqa: E731
    answer(event, remaining)
