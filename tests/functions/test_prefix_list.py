"""Custom::CloudFrontPrefixList (functions/prefix_list.py) against moto, which holds the AWS-managed
com.amazonaws.global.cloudfront.origin-facing list in every region: the answer CloudFormation gets."""
from __future__ import annotations

import boto3
import custom_resource
import prefix_list
from botocore.stub import Stubber
from moto import mock_aws


def expected_id() -> str:
    return boto3.client("ec2").describe_managed_prefix_lists(Filters=[
        {"Name": "prefix-list-name", "Values": [prefix_list.NAME]}])["PrefixLists"][0]["PrefixListId"]


@mock_aws
def test_create_and_update_answer_the_regions_cloudfront_prefix_list_id(event, responses):
    wanted = expected_id()
    assert wanted.startswith("pl-")
    for kind, physical in (("Create", None), ("Update", wanted)):
        responses.received.clear()
        prefix_list.handler(event(kind, {}, physical, logical="CloudFrontPrefixList"), None)
        answer = responses.only().body
        assert answer["Status"] == "SUCCESS", answer
        assert answer["PhysicalResourceId"] == wanted and answer["Data"] == {"PrefixListId": wanted}


@mock_aws
def test_delete_succeeds_and_calls_nothing(event, responses, monkeypatch):
    monkeypatch.setattr(prefix_list, "lookup", lambda: (_ for _ in ()).throw(AssertionError("looked up")))
    prefix_list.handler(event("Delete", {}, "pl-12345678", logical="CloudFrontPrefixList"), None)
    answer = responses.only().body
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == "pl-12345678"


def test_a_region_without_the_list_fails_in_one_line(event, responses, monkeypatch):
    """EC2 answers no list for the name (a region CloudFront has none in; moto holds it everywhere and
    keeps it, so botocore's Stubber answers the empty list): FAILED, one line naming the list and the way out."""
    ec2 = boto3.client("ec2", region_name="us-east-1")
    stub = Stubber(ec2)
    stub.add_response("describe_managed_prefix_lists", {"PrefixLists": []}, {
        "Filters": [{"Name": "prefix-list-name", "Values": [prefix_list.NAME]}]})
    stub.activate()
    monkeypatch.setattr(prefix_list.boto3, "client", lambda service, **kwargs: ec2)
    prefix_list.handler(event("Create", {}, logical="CloudFrontPrefixList"), None)
    stub.assert_no_pending_responses()
    answer = responses.only().body
    assert answer["Status"] == "FAILED" and answer["PhysicalResourceId"] == "CloudFrontPrefixList-unresolved"
    assert "\n" not in answer["Reason"] and prefix_list.NAME in answer["Reason"] and "Ingress=HttpApi" in answer["Reason"]


def stubbed(monkeypatch, *answers) -> Stubber:
    """EC2 answering `answers` in order: a dict is a page of lists, a str an error code."""
    ec2 = boto3.client("ec2", region_name="us-east-1")
    stub = Stubber(ec2)
    for answer in answers:
        if isinstance(answer, str):
            stub.add_client_error("describe_managed_prefix_lists", service_error_code=answer, http_status_code=403)
        else:
            stub.add_response("describe_managed_prefix_lists", answer)
    stub.activate()
    monkeypatch.setattr(prefix_list.boto3, "client", lambda service, **kwargs: ec2)
    monkeypatch.setattr(custom_resource.time, "sleep", lambda seconds: None)
    return stub


def test_a_role_not_yet_visible_is_waited_for_then_the_id_answered(event, responses, monkeypatch):
    """The function runs seconds after its role is created: a denial from a policy IAM has not propagated yet is
    retried (the standard retry mode does not), and the id found after it answered."""
    stub = stubbed(monkeypatch, "UnauthorizedOperation", "UnauthorizedOperation",
                   {"PrefixLists": [{"PrefixListId": "pl-3b927c52", "PrefixListName": prefix_list.NAME}]})
    prefix_list.handler(event("Create", {}, logical="CloudFrontPrefixList"), None)
    stub.assert_no_pending_responses()
    assert responses.only().body["Data"] == {"PrefixListId": "pl-3b927c52"}


def test_a_denial_that_lasts_fails_in_one_line(event, responses, monkeypatch):
    stub = stubbed(monkeypatch, *["UnauthorizedOperation"] * (len(prefix_list.DENIED_WAITS) + 1))
    prefix_list.handler(event("Create", {}, logical="CloudFrontPrefixList"), None)
    stub.assert_no_pending_responses()
    answer = responses.only().body
    assert answer["Status"] == "FAILED" and "UnauthorizedOperation" in answer["Reason"] and "\n" not in answer["Reason"]


def test_a_second_page_is_read(event, responses, monkeypatch):
    stub = stubbed(monkeypatch, {"PrefixLists": [], "NextToken": "t"},
                   {"PrefixLists": [{"PrefixListId": "pl-3b927c52", "PrefixListName": prefix_list.NAME}]})
    prefix_list.handler(event("Create", {}, logical="CloudFrontPrefixList"), None)
    stub.assert_no_pending_responses()
    assert responses.only().body["Data"] == {"PrefixListId": "pl-3b927c52"}
