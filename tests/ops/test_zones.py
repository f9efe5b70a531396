"""`make preflight`'s AZ check reads the allow-list the template uses (vpc.yml's VpcLinkAzIds,
from https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-vpc-links.html)."""
from __future__ import annotations

import pytest

from blueprint.templates import load
from scripts import preflight
from scripts.common import ROOT, OpsError
from tests.ops.conftest import make_target


def test_the_default_pair_is_the_first_two_ids_of_the_templates_mapping(aws):
    mapping = load(ROOT / "vpc.yml")["Mappings"]["VpcLinkAzIds"]
    assert preflight.chosen_zone_ids(make_target(aws), {}) == mapping["us-east-1"]["Ids"].split(",")[:2]


def test_an_az_without_vpc_links_is_refused_for_the_http_api_only(aws):
    t = make_target(aws)
    with pytest.raises(OpsError, match="AZ use1-az3 does not support API Gateway VPC links"):
        preflight.check_zones(t, {"AvailabilityZoneIds": "use1-az1,use1-az3"})
    assert preflight.check_zones(t, {"AvailabilityZoneIds": "use1-az1,use1-az3", "Ingress": "LoadBalancer"})


def test_pinned_zones_from_the_allow_list_pass(aws):
    assert preflight.check_zones(make_target(aws), {"AvailabilityZoneIds": "use1-az4,use1-az6"}).startswith("use1-az4 (")


def test_a_region_without_vpc_links_needs_the_load_balancer(aws):
    t = make_target(aws)
    t.region = "af-south-1"
    with pytest.raises(OpsError, match="offers no HTTP API VPC links in af-south-1: use Ingress=LoadBalancer"):
        preflight.check_zones(t, {"AvailabilityZoneIds": "afs1-az1,afs1-az2"})
    with pytest.raises(OpsError, match="has no default AZs"):
        preflight.check_zones(t, {"Ingress": "LoadBalancer"})


def test_two_different_zones_are_needed(aws):
    with pytest.raises(OpsError, match="exactly two different AZ IDs"):
        preflight.check_zones(make_target(aws), {"AvailabilityZoneIds": "use1-az1,use1-az1"})
