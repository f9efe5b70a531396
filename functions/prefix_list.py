"""Custom::CloudFrontPrefixList (ingress.yml's CloudFrontPrefixList): the id of CloudFront's origin-facing
managed prefix list in the stack's region, for the load balancer's security group (Ingress=LoadBalancer).

The id differs per region and CloudFormation cannot look a managed prefix list up by name, so the stack
asks EC2 itself (ec2:DescribeManagedPrefixLists, filtered by the list's name) instead of a parameter a
`sam deploy --guided` user would have to find by hand. CloudFormation has no lookup of its own (aws/aws-cdk#15115:
"There is no current CloudFormation support for this", a custom resource is the guidance; CDK's
PrefixList.fromLookup, aws/aws-cdk#33619, resolves it at synth time, which a SAM template has not). A Mapping
of ids per region (as widdix/aws-cf-templates#612 keeps) was rejected: AWS publishes no such table, so each
id would be copied by hand and a new region would have none.
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/LocationsOfEdgeServers.html
https://docs.aws.amazon.com/vpc/latest/userguide/working-with-aws-managed-prefix-lists.html

Create/Update: answers SUCCESS with PhysicalResourceId and Data {PrefixListId} = the list's id; a region
without the list answers FAILED in one line. Delete: nothing to undo, SUCCESS. Every request is answered
(functions/custom_resource.py).
"""
from __future__ import annotations

import boto3
import custom_resource
from botocore.config import Config

NAME = "com.amazonaws.global.cloudfront.origin-facing"
# A bounded budget, so the answer is always sent inside the function's Timeout (ingress.yml: 120 s): a call
# that outlived it would leave CloudFormation waiting its whole ServiceTimeout without a reason.
CLIENTS = Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3})
# The function runs seconds after its role is created; a policy not yet visible to EC2 is denied, which the
# standard retry mode does not retry (aws/aws-cdk#31429): a few waits, then FAILED.
DENIED = ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException")
DENIED_WAITS = (5, 5, 5, 5)


def lookup() -> str:
    """The list's id in this region; LookupError when the region has none."""
    return custom_resource.patiently(first_match, DENIED, DENIED_WAITS)


def first_match() -> str:
    pages = boto3.client("ec2", config=CLIENTS).get_paginator("describe_managed_prefix_lists").paginate(
        Filters=[{"Name": "prefix-list-name", "Values": [NAME]}])
    lists = [found for page in pages for found in page.get("PrefixLists", [])]
    if not lists:
        raise LookupError(f"this region has no managed prefix list {NAME}: Ingress=LoadBalancer cannot be "
                          "limited to CloudFront here; use Ingress=HttpApi")
    return lists[0]["PrefixListId"]


def answer(event: dict) -> None:
    """Do what the request asks and answer CloudFormation, whatever happens (send never raises)."""
    kind = event.get("RequestType")
    physical = event.get("PhysicalResourceId") or f"{event.get('LogicalResourceId', 'PrefixList')}-unresolved"
    if kind == "Delete":  # a lookup made nothing: nothing to undo
        custom_resource.send(event, "SUCCESS", "", physical)
        return
    try:
        if kind not in ("Create", "Update"):
            raise ValueError(f"unknown RequestType {kind!r}")
        found = lookup()
    except Exception as error:  # noqa: BLE001 (CloudFormation gets every failure as a FAILED answer)
        reason = f"prefix list lookup failed: {custom_resource.one_line(error)}"
        print(reason)
        custom_resource.send(event, "FAILED", reason, physical)
        return
    custom_resource.send(event, "SUCCESS", "", found, {"PrefixListId": found})


def handler(event: dict, context) -> None:
    answer(event)
