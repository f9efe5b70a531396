"""vpc.yml's per-region AZ allow-list and the parent's Rules name the same regions: every region where
Fargate runs (checks/evaluate.py FARGATE_REGIONS) has an entry, and the Rules that refuse a region without
default AZs (or without VPC links) list exactly the regions whose entry is not empty."""
from __future__ import annotations

from checks.evaluate import fargate_regions
from checks.render import template


def test_the_az_allow_list_covers_every_fargate_region_and_the_parents_rules_agree():
    mapping = template("vpc.yml")["Mappings"]["VpcLinkAzIds"]
    assert sorted(mapping) == sorted(fargate_regions())
    with_links = sorted(r for r, entry in mapping.items() if entry["Ids"])
    for rule in ("ZonesKnownInThisRegion", "HttpApiNeedsVpcLinks"):
        (assertion,) = template("parent.yml")["Rules"][rule]["Assertions"]
        assert sorted(assertion["Assert"]["Fn::Contains"][0]) == with_links, rule
    for region in with_links:
        ids = mapping[region]["Ids"].split(",")
        assert len(ids) >= 2 and len({i.split("-az")[0] for i in ids}) == 1, region  # one region's AZ IDs
    assert "use1-az3" not in mapping["us-east-1"]["Ids"], "use1-az3 has no VPC link support"
