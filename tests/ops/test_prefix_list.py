"""`make deploy` finds CloudFront's origin-facing prefix list for Ingress=LoadBalancer (moto)."""
from __future__ import annotations

import pytest

from scripts import deploy, prefix_list
from scripts.common import parse_overrides
from scripts.errors import UsageError
from tests.ops.conftest import make_target
from tests.ops.fake_tools import FakeTools
from tests.ops.test_deploy import ONLY_AWS_CHECKS


def test_the_id_comes_from_ec2_by_name(aws):
    t = make_target(aws)
    expected = aws.client("ec2").describe_managed_prefix_lists(Filters=[
        {"Name": "prefix-list-name", "Values": [prefix_list.NAME]}])["PrefixLists"][0]["PrefixListId"]
    assert expected.startswith("pl-")
    assert prefix_list.origin_parameters(t, {"Ingress": "LoadBalancer"}) == {"CloudFrontPrefixListId": expected}
    assert prefix_list.origin_parameters(t, {"Ingress": "HttpApi"}) == {}
    given = {"Ingress": "LoadBalancer", "CloudFrontPrefixListId": "pl-12345678"}
    assert prefix_list.origin_parameters(t, given) == {}, "a value the user passed wins"


def test_a_region_without_the_list_is_a_one_line_error(aws, monkeypatch):
    t = make_target(aws)

    class NoLists:
        def describe_managed_prefix_lists(self, **kwargs):
            return {"PrefixLists": []}
    monkeypatch.setattr(t, "client", lambda service, region=None: NoLists())
    with pytest.raises(UsageError, match="has no managed prefix list com.amazonaws.global.cloudfront.origin-facing"):
        prefix_list.origin_parameters(t, {"Ingress": "LoadBalancer"})


def test_make_deploy_passes_it_to_sam_for_a_load_balancer(aws):
    t = make_target(aws)
    tools = FakeTools(aws)
    deploy.deploy(t, {"Ingress": "LoadBalancer"}, run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0)
    (sam,) = tools.named("sam", "deploy")
    params = parse_overrides(" ".join(sam[sam.index("--parameter-overrides") + 1:]))
    assert params["CloudFrontPrefixListId"].startswith("pl-")
