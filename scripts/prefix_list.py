"""The id of CloudFront's origin-facing managed prefix list in the stack's region.

With Ingress=LoadBalancer the load balancer's security group admits only this list
(service.yml). Its id differs per region and CloudFormation cannot look a managed
prefix list up by name, so `make deploy` asks EC2 and passes CloudFrontPrefixListId;
parent.yml's Rules refuse a LoadBalancer deploy without it.
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/LocationsOfEdgeServers.html
"""
from __future__ import annotations

from scripts.common import Target, aws_errors
from scripts.errors import UsageError

NAME = "com.amazonaws.global.cloudfront.origin-facing"


def cloudfront_prefix_list(t: Target) -> str:
    with aws_errors():
        lists = t.client("ec2").describe_managed_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": [NAME]}])["PrefixLists"]
    if not lists:
        raise UsageError(f"{t.region} has no managed prefix list {NAME}: Ingress=LoadBalancer cannot be "
                       "limited to CloudFront there; use Ingress=HttpApi")
    return lists[0]["PrefixListId"]


def origin_parameters(t: Target, params: dict) -> dict:
    """CloudFrontPrefixListId for a LoadBalancer deploy that does not set it; nothing otherwise."""
    if params.get("Ingress") != "LoadBalancer" or params.get("CloudFrontPrefixListId"):
        return {}
    return {"CloudFrontPrefixListId": cloudfront_prefix_list(t)}
