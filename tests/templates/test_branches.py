"""All-branches evaluation (checks/all_branches.py), a deep check a fork can drop with this file
(docs/checks.md): every Fn::FindInMap, Fn::Select, Fn::Split,
Fn::Cidr ... resolves in both sides of every Fn::If and in resources whose condition is false,
in every Fargate region, for every rendered variant with its AZs left to the default and pinned.

CloudFormation resolves those functions in untaken branches too
(https://github.com/aws-cloudformation/aws-cloudformation-templates/issues/271), which is why
README's "pin AZs in other regions" could not work while vpc.yml's map lookup lacked the region."""
from __future__ import annotations

from pathlib import Path

import pytest

from checks.all_branches import check_deployment, every_intrinsic
from checks.evaluate import Evaluator, fargate_regions
from checks.regions import region_rules
from checks.render import TWO_SERVICES, TWO_SERVICES_LAMBDA, WIRED, load, template, variants

FIXTURES = Path(__file__).parent / "fixtures" / "branches"
REGIONS = fargate_regions()


def problems(path: Path, region: str, **values) -> list[str]:
    return every_intrinsic(Evaluator(load(path), values, region, path.name))


def pinned_pair(region: str) -> str:
    """Two AZ IDs of the shape the parameter accepts (the check does not need real ones)."""
    ids = template("vpc.yml")["Mappings"]["VpcLinkAzIds"][region]["Ids"].split(",")
    return ",".join(ids[:2]) if len(ids) >= 2 else f"{region.replace('-', '')}-az1,{region.replace('-', '')}-az2"


def test_a_map_lookup_in_the_branch_not_taken_is_caught():
    found = problems(FIXTURES / "bad_findinmap_untaken_branch.yml", "eu-west-1", Zone="euw1-az1")
    assert found == ["bad_findinmap_untaken_branch.yml eu-west-1: Resources/Subnet/Properties/AvailabilityZoneId/"
                     "Fn::If/2/Fn::FindInMap: Fn::FindInMap [Zones, eu-west-1, Default] cannot resolve: "
                     "mapping Zones has no key eu-west-1"]
    assert problems(FIXTURES / "bad_findinmap_untaken_branch.yml", "us-east-1", Zone="use1-az2") == []


def test_a_select_past_a_default_empty_list_in_a_resource_whose_condition_is_false_is_caught():
    (found,) = problems(FIXTURES / "bad_select_on_default_empty_list.yml", "us-east-1")
    assert "SecondSubnet" in found and "Fn::Select index 1 is out of range for ['']" in found
    assert problems(FIXTURES / "bad_select_on_default_empty_list.yml", "us-east-1", Zones="a-az1,a-az2") == []


def test_a_select_past_a_split_and_a_cidr_too_large_for_its_block_are_caught():
    found = problems(FIXTURES / "bad_split_then_select.yml", "us-east-1")
    assert any("Fn::Select index 1 is out of range for ['use1-az1']" in p for p in found)
    assert any("Fn::Cidr cannot cut 8 /26 blocks from 10.0.0.0/24" in p for p in found)
    assert problems(FIXTURES / "bad_split_then_select.yml", "us-east-1", Pair="use1-az1,use1-az2") != []  # Cidr


@pytest.mark.parametrize("region", REGIONS)
def test_the_good_fixture_resolves_everywhere_and_opaque_lists_are_not_judged(region):
    assert problems(FIXTURES / "good.yml", region) == []
    assert problems(FIXTURES / "good.yml", region, Zones="x1-az1,x1-az2") == []


def test_the_az_choice_before_the_fix_is_caught_both_ways():
    defect = FIXTURES / "vpc_az_defect.yml"
    default = problems(defect, "us-east-1")
    assert len(default) == 1 and "PublicSubnetTwo" in default[0] and "Fn::If/1/Fn::Select" in default[0]
    pinned = problems(defect, "sa-east-1", AvailabilityZoneIds="sae1-az1,sae1-az2")
    assert len(pinned) == 2 and all("mapping AzIds has no key sa-east-1" in p for p in pinned)


VARIANTS = {**{("parent.yml", v): values for v, values in variants().items()},
            **{(TWO_SERVICES, v): variants()[v] for v in ("HttpApi-domains-options", "LoadBalancer-domains-options")},
            # the second service's Lambda block (checks/render.py), every service a function
            (TWO_SERVICES_LAMBDA, "Lambda-domains-options"): variants()["Lambda-domains-options"]}


@pytest.mark.parametrize("parent,variant", sorted(VARIANTS))
def test_every_variant_resolves_in_every_fargate_region_default_and_pinned(parent, variant):
    """The parent (and the two-service parent), then each nested stack with the values the parent
    passes it. A set the parent's Rules refuse is a clear error before anything changes: allowed,
    but only where expected."""
    values = VARIANTS[(parent, variant)]
    supported = {r for r in REGIONS if len(template("vpc.yml")["Mappings"]["VpcLinkAzIds"][r]["Ids"]) > 0}
    for region in REGIONS:
        for pinned in (False, True):
            run = {**values, **({"AvailabilityZoneIds": pinned_pair(region)} if pinned else {})}
            deployment = check_deployment(template, parent, run, region)
            assert deployment.problems == [], deployment.problems
            expected = set()
            if region not in supported and not run.get("AvailabilityZoneIds"):
                expected.add("ZonesKnownInThisRegion")
            if region not in supported and run["Ingress"] == "HttpApi":
                expected.add("HttpApiNeedsVpcLinks")
            if run.get("CloudFrontPlan") == "Free" and not run.get("WebAclArn") and region != "us-east-1":
                expected.add("FreePlanNeedsWebAcl")
            # The regions each resource type is in (tests/templates/test_regions.py checks the lists).
            listed = region_rules(template(parent))
            if region not in listed["DeploysInThisRegion"]:
                expected.add("DeploysInThisRegion")
            assert {r.split(":")[0] for r in deployment.refused} == expected, (region, run, deployment.refused)


def test_the_load_balancer_deploys_with_pinned_zones_where_there_are_no_vpc_links():
    deployment = check_deployment(template, "parent.yml", {"Ingress": "LoadBalancer", **WIRED,
                                                           "AvailabilityZoneIds": "afs1-az1,afs1-az2"}, "af-south-1")
    assert deployment.refused == [] and deployment.problems == []
    refused = check_deployment(template, "parent.yml", {"Ingress": "LoadBalancer", **WIRED}, "af-south-1").refused
    assert refused and refused[0].startswith("ZonesKnownInThisRegion: This region has no default AZs")


def test_the_two_opaques_differ_where_a_condition_tests_an_unknown_list():
    """checks.render.Opaque is text: a rendering must pick a branch, so a list only a deployment knows counts
    as non-empty. checks.evaluate.Opaque is not text: the all-branches check leaves that condition undecided."""
    from checks.evaluate import Opaque
    from checks.render import Opaque as Text
    from checks.render import Renderer
    service = template("service.yml")
    assert Evaluator(service, {"PolicyArns": Opaque("GetAtt NotesDataStack.Outputs.AccessPolicyArn")},
                     "us-east-1").condition("HasPolicyArns") is None
    assert Renderer(service, {"PolicyArns": Text("<NotesDataStack.Outputs.AccessPolicyArn>")}).condition("HasPolicyArns")
