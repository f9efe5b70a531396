"""Every region the templates claim either has every resource type a deployment there can be asked to
create, or a Rule of the parent refuses that region (or the parameter value that would nest the template
holding the missing type) with a sentence saying why and what to do (docs/checks.md). Not one of the
deep checks a fork can drop: it keeps parent.yml's regional Rules equal to the data.

Why: CloudFormation checks every resource type of a template when it creates a stack from it, whatever
the resources' Conditions: a type the region lacks fails that stack ("Unrecognized resource types") even
where its Condition is false (https://github.com/aws/serverless-application-model/issues/1167,
https://github.com/awslabs/aws-service-catalog-factory/issues/274). A nested stack whose own Condition
is false is never created, so its template is never checked. The parent creates the frontend stack last:
a type missing there rolls back a whole first deploy.

How:
- the regions claimed: vpc.yml's VpcLinkAzIds keys. CloudFormation resolves that lookup in every region,
  so no other region can deploy at all (parent.yml's DeploysInThisRegion Rule refuses them).
- what each region lacks: cfn-lint's E3006, CloudFormation's own per-region registry data, in ONE cfn-lint
  run over every template (both parents and every nested template) and every claimed region, on copies
  with each resource's Condition removed: E3006 skips a resource whose Condition cannot hold in a region
  (https://github.com/aws-cloudformation/cfn-lint/issues/2657), CloudFormation does not. Source templates,
  not renderings: a rendering drops what a false Condition drops, CloudFormation does not.
- what a region can be asked to create: for each parameter set (checks/render.py's variants, as they are
  and with everything a user may add: pinned AZs and a WebAclArn; and each option alone) the parent's Rules are evaluated
  (checks/evaluate.py); unless one refuses the set, the parent and the template of every nested stack whose
  Condition holds (or cannot be decided) are created, and each must have all its types in that region.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from checks.evaluate import Evaluator, nested_stacks
from checks.render import (
    CHILD_TEMPLATES,
    PARENT,
    ROOT,
    TWO_SERVICES,
    TWO_SERVICES_LAMBDA,
    parent_name,
    plain,
    renderings,
    template,
)

# An existing CloudFront web ACL: what a user passes outside us-east-1 (the check needs no real one).
GIVEN_WEB_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/given/00000000-0000-0000-0000-000000000000"
MISSING = re.compile(r"Resource type '(?P<type>[^']+)' does not exist in '(?P<region>[^']+)'")


def claimed_regions() -> list[str]:
    """The regions the templates claim: vpc.yml's VpcLinkAzIds keys."""
    return list(template("vpc.yml")["Mappings"]["VpcLinkAzIds"])


def types_only(doc: dict) -> dict:
    """What CloudFormation checks of a template's types: each resource's Type, its Condition and the rest
    removed. A template with a Transform (the parent's SAM) keeps each resource's properties but its
    Condition, for the transform to turn them into the types CloudFormation sees."""
    if "Transform" in doc:
        resources = {name: {k: v for k, v in r.items() if k != "Condition"} for name, r in doc["Resources"].items()}
        return {k: v for k, v in doc.items() if k in ("AWSTemplateFormatVersion", "Transform", "Parameters")} | {
            "Resources": resources}
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {name: {"Type": r["Type"]} for name, r in doc["Resources"].items()}}


def lacking(docs: dict[str, dict], regions: list[str], directory: Path) -> dict[str, dict[str, set[str]]]:
    """{template name: {region: the resource types that region lacks}}, from one cfn-lint run (E3006, and
    the template errors E0 so that a template cfn-lint cannot read fails the check) over `docs`
    ({name: parsed template}, e.g. linted_templates()) with their Conditions removed."""
    files = {}
    for i, (name, doc) in enumerate(docs.items()):
        doc = plain(types_only(doc))
        for resource in doc["Resources"].values():  # the SAM transform of a parent reads its children
            location = resource.get("Properties", {}).get("Location")
            if resource.get("Type") == "AWS::Serverless::Application" and location in CHILD_TEMPLATES:
                resource["Properties"]["Location"] = str(ROOT / location)
        path = directory / f"{i}-{Path(name).stem}.json"
        path.write_text(json.dumps(doc))
        files[str(path)] = name
    result = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), "--format", "json",
                             "--include-checks", "E0", "E3006", "--ignore-checks", "E", "W", "I",
                             "--mandatory-checks", "E0", "E3006", "--regions", *regions, "--", *files],
                            capture_output=True, text=True, timeout=600, cwd=directory)
    if result.returncode not in (0, 2) or result.stderr.strip():  # 2: errors found
        raise RuntimeError(f"cfn-lint failed ({result.returncode}): {result.stderr or result.stdout}")
    out: dict[str, dict[str, set[str]]] = {name: {} for name in docs}
    for match in json.loads(result.stdout or "[]"):
        found = MISSING.fullmatch(match["Message"]) if match["Rule"]["Id"] == "E3006" else None
        if not found:
            raise RuntimeError(f"cfn-lint: {match['Rule']['Id']} {match['Message']} ({match['Filename']})")
        out[files[match["Filename"]]].setdefault(found["region"], set()).add(found["type"])
    return out


def linted_templates() -> dict[str, dict]:
    """The parents and every template they nest, by checks.render.template name."""
    return {name: template(name) for name in (PARENT, TWO_SERVICES, TWO_SERVICES_LAMBDA, *CHILD_TEMPLATES)}


def pinned_zones(region: str) -> str:
    """Two AZ IDs of the shape AvailabilityZoneIds accepts (the check needs no real ones)."""
    short = region.replace("-", "")
    return f"{short}-az1,{short}-az2"


def parameter_sets(region: str) -> dict[tuple[str, str], dict[str, str]]:
    """{(parent, name): values}: every rendered variant of both parents, as it is and with everything a
    user may add in this region (pinned AZs, an existing web ACL); and each single option (every other
    allowed value of a parameter, every optional value the variants set) alone on top of the set every
    region accepts most readily (Ingress=LoadBalancer, pinned AZs, a web ACL), so that an option nesting
    a template is seen without the others' Rules refusing the set first."""
    given = {"AvailabilityZoneIds": pinned_zones(region), "WebAclArn": GIVEN_WEB_ACL}
    out = {}
    for (parent, variant), values in _variants():
        out[(parent, variant)] = values
        out[(parent, f"{variant}+given")] = {**values, **given}
    base = {**_variants()[0][1], "Ingress": "LoadBalancer", **given}  # the first: defaults + what make deploy passes
    for name, value in _options():
        out[(PARENT, f"{name}={value}")] = {**base, name: value}
    return out


@cache
def _options() -> tuple[tuple[str, str], ...]:
    """(parameter, value): every value of the parent's parameters other than its default, from its
    AllowedValues or, for a free-form one, any value the rendered variants give it."""
    out = []
    for name, spec in template(PARENT)["Parameters"].items():
        default = str(spec.get("Default", ""))
        values = [str(v) for v in spec.get("AllowedValues", [])]
        values += [variant[name] for _, variant in _variants() if name in variant]
        out += [(name, v) for v in dict.fromkeys(values) if v != default]
    return tuple(out)


@cache
def _variants() -> tuple[tuple[tuple[str, str], dict[str, str]], ...]:
    return tuple(((parent_name(variant), variant), values) for variant, (_, values) in renderings().items())


@dataclass
class Verdict:
    parent: str
    variant: str
    region: str
    refused: list[str]                                   # the Rules' failures (their AssertDescriptions)
    missing: dict[str, set[str]] = field(default_factory=dict)  # template -> types the region lacks


def created(evaluator: Evaluator, parent: str) -> list[str]:
    """The templates CloudFormation checks for this parameter set: the parent's, and each nested stack's
    whose Condition is true or cannot be decided."""
    out = [parent]
    for stack, location in nested_stacks(evaluator.template).items():
        condition = evaluator.template["Resources"][stack].get("Condition")
        if not condition or evaluator.condition(condition) is not False:
            out.append(location)
    return list(dict.fromkeys(out))


def verdicts(lacks: dict[str, dict[str, set[str]]], regions: list[str], without: tuple[str, ...] = ()) -> list[Verdict]:
    """The verdict of every parameter set in every region; `without`: the parent's Rules of those names
    removed (to see what they alone refuse)."""
    out = []
    for region in regions:
        for (parent, variant), values in parameter_sets(region).items():
            doc = template(parent)
            if without:
                doc = {**doc, "Rules": {k: v for k, v in doc["Rules"].items() if k not in without}}
            evaluator = Evaluator(doc, values, region, parent)
            refused = evaluator.rule_failures()
            # A template the check did not lint is an error (KeyError), never "lacks nothing".
            missing = {} if refused else {t: lacks[t][region] for t in created(evaluator, parent)
                                          if region in lacks[t]}
            out.append(Verdict(parent, variant, region, refused, missing))
    return out


def region_rules(parent: dict) -> dict[str, list[str]]:
    """The parent's Rules that name the regions they accept: {rule: those regions}
    (an assertion `Fn::Contains [[regions...], Ref AWS::Region]`)."""
    out = {}
    for name, rule in parent.get("Rules", {}).items():
        for assertion in rule["Assertions"]:
            contains = assertion["Assert"].get("Fn::Contains")
            if contains and contains[1] == {"Ref": "AWS::Region"}:
                out[name] = list(contains[0])
    return out
