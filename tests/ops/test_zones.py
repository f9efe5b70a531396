"""`make preflight`'s AZ check reads the allow-list the template uses (vpc.yml's VpcLinkAzIds,
from https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-vpc-links.html)."""
from __future__ import annotations

import pytest

from blueprint.templates import load
from scripts import preflight, zones
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


def test_an_az_id_prefix_is_derived_from_its_region_as_aws_names_them():
    """Neither botocore nor cfn-lint ships AZ IDs: the prefix is derived from the region code, and held here to
    every AZ ID vpc.yml lists (AWS's table; https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html).
    Each claimed region has its own prefix, so an ID names one region only."""
    mapping = load(ROOT / "vpc.yml")["Mappings"]["VpcLinkAzIds"]
    listed = {region: [z for z in entry["Ids"].split(",") if z] for region, entry in mapping.items()}
    assert sum(map(len, listed.values())) > 40
    for region, ids in listed.items():
        assert all(z.rsplit("-az", 1)[0] == zones.zone_prefix(region) for z in ids), (region, ids)
    assert len(zones.claimed_regions()) == len(mapping)
    assert [zones.zone_prefix(r) for r in ("us-gov-east-1", "cn-northwest-1", "af-south-1")] == [
        "usge1", "cnnw1", "afs1"]


@pytest.mark.parametrize("value, region", [
    ("", "eu-west-1"), ("euw1-az1,euw1-az3", "eu-west-1"), ("afs1-az1,afs1-az2", "af-south-1"),
    ("xyz9-az1,xyz9-az2", "eu-west-1"),  # a prefix no claimed region has: AWS answers (make preflight asks it)
])
def test_az_ids_of_the_region_or_unknown_ones_pass(value, region):
    zones.check_zone_ids(value, region)
