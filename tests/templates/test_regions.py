"""The regions the templates claim.

vpc.yml's per-region AZ allow-list and the parent's Rules name the same regions: every region where
Fargate runs (checks/evaluate.py FARGATE_REGIONS) has an entry, and the Rules that refuse a region without
default AZs (or without VPC links) list exactly the regions whose entry is not empty.

Every region claimed either has every resource type a parameter set can ask it to create, or a parent Rule
refuses it (checks/regions.py, with cfn-lint's regional data: CloudFormation refuses a template naming a
type the region lacks even under a false Condition, https://github.com/aws/serverless-application-model/issues/1167).
The other regional Rules' lists and that data do not drift apart."""
from __future__ import annotations

from pathlib import Path

import pytest

from checks.evaluate import fargate_regions
from checks.regions import claimed_regions, lacking, linted_templates, region_rules, verdicts
from checks.render import PARENT, template

VPC_LINK_RULES = ("ZonesKnownInThisRegion", "HttpApiNeedsVpcLinks")  # compared with vpc.yml's map below
FIXTURES = Path(__file__).parent / "fixtures" / "regions"


def test_the_az_allow_list_covers_every_fargate_region_and_the_parents_rules_agree():
    mapping = template("vpc.yml")["Mappings"]["VpcLinkAzIds"]
    assert sorted(mapping) == sorted(fargate_regions())
    with_links = sorted(r for r, entry in mapping.items() if entry["Ids"])
    for rule in VPC_LINK_RULES:
        (assertion,) = template("parent.yml")["Rules"][rule]["Assertions"]
        assert sorted(assertion["Assert"]["Fn::Contains"][0]) == with_links, rule
    for region in with_links:
        ids = mapping[region]["Ids"].split(",")
        assert len(ids) >= 2 and len({i.split("-az")[0] for i in ids}) == 1, region  # one region's AZ IDs
    assert "use1-az3" not in mapping["us-east-1"]["Ids"], "use1-az3 has no VPC link support"


# ------------------------------------------------------------------ resource types per region
@pytest.fixture(scope="module")
def lacks(tmp_path_factory) -> dict[str, dict[str, set[str]]]:
    """What each claimed region lacks of each template's types: one cfn-lint run for all of them."""
    from checks.render import load
    docs = {**linted_templates(), "fixture": load(FIXTURES / "conditioned_by_region.yml")}
    return lacking(docs, claimed_regions(), tmp_path_factory.mktemp("regions"))


@pytest.fixture(scope="module")
def every_verdict(lacks):
    return verdicts(lacks, claimed_regions())


def test_the_regional_data_sees_each_gap_and_a_condition_hides_none(lacks):
    """cfn-lint's regional schemas (E3006) as the check reads them: the gaps the review found, and a type
    under a Condition that only holds in us-east-1 still counted missing elsewhere (cfn-lint alone skips
    it: https://github.com/aws-cloudformation/cfn-lint/issues/2657)."""
    assert "AWS::Budgets::Budget" in lacks["budget.yml"]["ca-west-1"]
    assert lacks["frontend.yml"]["me-central-1"] == {"AWS::PricingPlanManager::Subscription"}
    assert "AWS::CloudFront::Distribution" in lacks["frontend.yml"]["us-gov-west-1"]
    assert {"AWS::CloudFront::Function", "AWS::CloudFront::OriginAccessControl"} <= lacks["frontend.yml"]["cn-north-1"]
    assert lacks["fixture"]["ca-west-1"] == {"AWS::Budgets::Budget"} and "us-east-1" not in lacks["fixture"]
    assert "us-east-1" not in lacks[PARENT] and not any("us-east-1" in by_region for by_region in lacks.values())


def test_every_parameter_set_a_region_accepts_has_every_type_it_creates(every_verdict):
    """For each claimed region and each parameter set (every rendered variant of both parents, as it is and
    with pinned AZs and a WebAclArn): the parent's Rules refuse it, or each template it nests (the parent's,
    and each nested stack's whose Condition holds) has all its resource types there."""
    assert [(v.parent, v.variant, v.region, v.missing) for v in every_verdict if v.missing] == []
    accepted = {v.region for v in every_verdict if not v.refused}
    assert {"us-east-1", "eu-north-1", "af-south-1"} <= accepted
    # ca-west-1 and mx-central-1: CloudFormation has no AWS::CodeBuild::Project there (build.yml).
    assert accepted.isdisjoint({"cn-north-1", "cn-northwest-1", "us-gov-east-1", "us-gov-west-1", "me-central-1",
                                "ca-west-1", "mx-central-1"})


def test_the_check_finds_what_this_layout_fixed(lacks):
    """The layout before: none of the regional Rules. The check names each region it could not deploy to."""
    rules = ("DeploysInThisRegion",)
    found = {}
    for verdict in verdicts(lacks, claimed_regions(), without=rules):
        for types in verdict.missing.values():
            found.setdefault(verdict.region, set()).update(types)
    assert "AWS::PricingPlanManager::Subscription" in found["me-central-1"]
    assert "AWS::CloudFront::Distribution" in found["us-gov-west-1"]
    assert "AWS::CloudFront::OriginAccessControl" in found["cn-north-1"]
    assert "us-east-1" not in found


def test_the_budget_is_made_exactly_where_its_type_exists(lacks, every_verdict):
    """parent.yml's BudgetsInThisRegion, a Condition (a Rule refusing AlertEmail would refuse the alerts too),
    lists exactly the regions the stack deploys to where budget.yml has every type: with AlertEmail, eu-north-1 deploys
    without the budget, us-east-1 with it."""
    condition = template(PARENT)["Conditions"]["BudgetsInThisRegion"]
    listed = {equals["Fn::Equals"][1] for group in condition["Fn::Or"] for equals in group["Fn::Or"]}
    deployed = region_rules(template(PARENT))["DeploysInThisRegion"]
    assert listed == {r for r in deployed if r not in lacks["budget.yml"]}
    with_email = {v.region for v in every_verdict if not v.refused and v.variant == "AlertEmail=ops@example.com"}
    assert {"eu-north-1", "us-east-1"} <= with_email


@pytest.mark.parametrize("rule", sorted(set(region_rules(template(PARENT))) - set(VPC_LINK_RULES)))
def test_each_regional_rule_refuses_exactly_where_a_type_is_missing(rule, lacks, every_verdict):
    """A Rule listing the regions it accepts (other than the VPC-link ones above) against the data: where it
    refuses a parameter set, that set (with the Rule removed) would create a type the region lacks, or other
    Rules refuse it anyway. That it refuses wherever it must is the test above."""
    regions = claimed_regions()
    listed = region_rules(template(PARENT))[rule]
    assert set(listed) <= set(regions), f"{rule} lists regions vpc.yml does not claim"
    without = {(v.parent, v.variant, v.region): v for v in verdicts(lacks, regions, without=(rule,))}
    for region in sorted(set(regions) - set(listed)):
        refused = [without[(v.parent, v.variant, v.region)] for v in every_verdict
                   if v.region == region and any(f.startswith(f"{rule}:") for f in v.refused)]
        assert refused, f"{rule} refuses {region} for no parameter set"
        needed = any(v.missing and not v.refused for v in refused)
        redundant = all(v.refused for v in refused)
        assert needed or redundant, f"{rule} refuses {region}, which has every type it guards: add {region} to it"
