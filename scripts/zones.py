"""Pinned AZ IDs checked offline against the region they are for: `make plan`, `make cost`, `make preflight`
and `make deploy` ask it with parent.yml's Rules (scripts/plan.check_rules), before anything renders.

An AZ ID names its region: its prefix is the region code shortened (us-east-1 -> use1, ap-northeast-1 ->
apne1, us-gov-west-1 -> usgw1; https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html,
https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html). Neither
botocore nor cfn-lint ships AZ IDs, so the prefix is derived here from the region list the templates claim
(vpc.yml's VpcLinkAzIds keys), and tests/ops/test_zones.py holds the derivation to every AZ ID that mapping
lists (AWS's own table). A prefix this derivation does not know is left to AWS (`make preflight` asks
DescribeAvailabilityZones): only an ID of ANOTHER claimed region is refused, so nothing AWS accepts is."""
from __future__ import annotations

from blueprint.templates import load
from scripts.common import ROOT
from scripts.errors import UsageError

# The words of a region code and their letters in an AZ ID ("gov" of us-gov-west-1 included).
SHORT = {"east": "e", "west": "w", "north": "n", "south": "s", "central": "c", "northeast": "ne",
         "northwest": "nw", "southeast": "se", "southwest": "sw", "gov": "g"}
DOCS = "https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html"


def zone_prefix(region: str) -> str:
    """The prefix of `region`'s AZ IDs: the area, each word's letters, the number (eu-west-1 -> euw1)."""
    area, *words, number = region.split("-")
    return area + "".join(SHORT.get(w, w) for w in words) + number


def claimed_regions() -> dict[str, str]:
    """{AZ ID prefix: region} for every region vpc.yml's VpcLinkAzIds names."""
    return {zone_prefix(r): r for r in load(ROOT / "vpc.yml")["Mappings"]["VpcLinkAzIds"]}


def check_zone_ids(value: str, region: str) -> None:
    """AvailabilityZoneIds (parent.yml's pattern already asked: empty, or two IDs) in `region`: one AZ named
    twice, or an ID of another region, is one line with what to do. CloudFormation would take both to the
    subnets and fail there (another region's AZ), or build two subnets in one AZ, which a load balancer
    refuses and which leaves the service in one AZ."""
    zones = [z.strip() for z in value.split(",") if z.strip()]
    if not zones:
        return
    others = claimed_regions()
    for zone in zones:
        home = others.get(zone.split("-az", 1)[0])
        if home and home != region:
            raise UsageError(f"AvailabilityZoneIds={value}: {zone} is an AZ ID of {home}, not of {region}: give two AZ "
                             f"IDs of {region} ({zone_prefix(region)}-az..., `aws ec2 describe-availability-zones "
                             f"--region {region}`; {DOCS}), or leave it empty for the region's default pair")
    if len(set(zones)) < len(zones):
        raise UsageError(f"AvailabilityZoneIds={value} names one AZ twice: give two different AZ IDs (the stack "
                         "spreads its subnets over two AZs; a load balancer refuses subnets in a single AZ)")
