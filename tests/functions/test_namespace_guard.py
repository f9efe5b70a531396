"""Custom::NamespaceGuard (functions/namespace_guard.py) against moto's Cloud Map: a Delete answers only once
no service is left in the namespace (so the namespace's own delete, which runs after it, finds it empty:
https://docs.aws.amazon.com/cloud-map/latest/api/API_DeleteNamespace.html), and never fails a delete."""
from __future__ import annotations

import boto3
import namespace_guard
import pytest
from moto import mock_aws


@pytest.fixture
def cloud_map():
    with mock_aws():
        client = boto3.client("servicediscovery", region_name="us-east-1")
        operation = client.create_private_dns_namespace(Name="services-x.internal", Vpc="vpc-12345678")
        namespace = client.get_operation(OperationId=operation["OperationId"])["Operation"]["Targets"]["NAMESPACE"]
        yield client, namespace


def test_create_and_update_answer_at_once_and_call_nothing(event, responses, monkeypatch):
    monkeypatch.setattr(namespace_guard, "services_in", lambda ns: (_ for _ in ()).throw(AssertionError("listed")))
    for kind, physical in (("Create", None), ("Update", "namespace-guard-ns-1")):
        responses.received.clear()
        namespace_guard.handler(event(kind, {"NamespaceId": "ns-1"}, physical, logical="NamespaceGuard"), None)
        answer = responses.only().body
        assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == "namespace-guard-ns-1"


def test_delete_waits_until_the_other_stacks_services_have_left(cloud_map, event, responses, monkeypatch):
    """A service stack's cleanup deletes its Cloud Map service while the guard polls: the answer comes after."""
    client, namespace = cloud_map
    service = client.create_service(Name="notes", NamespaceId=namespace, DnsConfig={
        "DnsRecords": [{"Type": "SRV", "TTL": 10}]})["Service"]["Id"]
    looks = []

    def pause(seconds):  # the other stack's cleanup, between two looks
        looks.append(seconds)
        assert not responses.received, "answered while a service was still in the namespace"
        client.delete_service(Id=service)

    monkeypatch.setattr(namespace_guard.time, "sleep", pause)
    namespace_guard.handler(event("Delete", {"NamespaceId": namespace}, f"namespace-guard-{namespace}",
                                  logical="NamespaceGuard"), None)
    assert looks == [namespace_guard.POLL]
    assert responses.only().body["Status"] == "SUCCESS"


def test_delete_of_an_empty_namespace_answers_at_once(cloud_map, event, responses, monkeypatch):
    _, namespace = cloud_map
    monkeypatch.setattr(namespace_guard.time, "sleep", lambda s: pytest.fail("waited on an empty namespace"))
    namespace_guard.handler(event("Delete", {"NamespaceId": namespace}, "g", logical="NamespaceGuard"), None)
    assert responses.only().body["Status"] == "SUCCESS"


def test_past_its_deadline_it_answers_success_and_names_what_is_left(cloud_map, event, responses, monkeypatch,
                                                                      capsys):
    """A guard never blocks the delete: the namespace's own delete then fails with Cloud Map's reason."""
    client, namespace = cloud_map
    client.create_service(Name="notes", NamespaceId=namespace, DnsConfig={"DnsRecords": [{"Type": "SRV", "TTL": 10}]})
    clock = iter(range(120_000, 0, -10_000))  # ms left at each look
    monkeypatch.setattr(namespace_guard.time, "sleep", lambda s: None)
    namespace_guard.answer(event("Delete", {"NamespaceId": namespace}, "g", logical="NamespaceGuard"),
                           lambda: next(clock))
    assert responses.only().body["Status"] == "SUCCESS"
    out = capsys.readouterr().out
    assert f"still in {namespace} at the deadline: notes" in out


def test_an_error_listing_never_fails_the_delete(event, responses, monkeypatch):
    monkeypatch.setattr(namespace_guard, "services_in", lambda ns: (_ for _ in ()).throw(RuntimeError("denied")))
    namespace_guard.handler(event("Delete", {"NamespaceId": "ns-1"}, "g", logical="NamespaceGuard"), None)
    assert responses.only().body["Status"] == "SUCCESS"


def test_an_unknown_request_fails_in_one_line(event, responses):
    namespace_guard.handler(event("Bogus", {"NamespaceId": "ns-1"}, None, logical="NamespaceGuard"), None)
    answer = responses.only().body
    assert answer["Status"] == "FAILED" and "\n" not in answer["Reason"]


def test_the_deadline_comes_from_the_lambda_context(cloud_map, event, responses, monkeypatch):
    """With 25 s left and a 20 s margin, one look and no wait: the answer is sent inside the Timeout."""
    client, namespace = cloud_map
    client.create_service(Name="notes", NamespaceId=namespace, DnsConfig={"DnsRecords": [{"Type": "SRV", "TTL": 10}]})
    monkeypatch.setattr(namespace_guard.time, "sleep", lambda s: pytest.fail("waited past the deadline"))

    class Context:
        @staticmethod
        def get_remaining_time_in_millis():
            return 25_000

    namespace_guard.handler(event("Delete", {"NamespaceId": namespace}, "g", logical="NamespaceGuard"), Context())
    assert responses.only().body["Status"] == "SUCCESS"
