"""Parameters are what `sam deploy --guided` asks: at most 15, each with a safe default and a description
a person can answer. The children take plain wiring parameters (a Type and a description, no constraints
of their own), except service.yml, whose properties a service's block sets as code: there the
constraints check that code. Every child accepts every value the parent allows, and every literal a
block passes, so no deploy fails inside a nested stack on a value `make test` let through.

CloudFormation checks a nested stack's parameters against that stack's own AllowedValues, patterns
and bounds when it creates or updates it
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html),
which is why a constraint declared twice can refuse, deep inside the update, what the parent accepted."""
from __future__ import annotations

import re

import pytest

from checks.evaluate import nested_stacks
from checks.render import PARENT, TWO_SERVICES, parents, template
from tests.templates.conftest import CHILDREN

CONSTRAINTS = ("AllowedValues", "AllowedPattern", "MinValue", "MaxValue", "ConstraintDescription")
# Values a pattern accepts, for the parent's pattern parameters (the samples must match the parent's
# own pattern: a sample the parent refuses would prove nothing).
PATTERN_SAMPLES = {
    "AvailabilityZoneIds": ["", "use1-az1,use1-az2"],
    "AlertEmail": ["", "ops@example.com"],
    "DomainName": ["", "app.example.com"],
    "CertificateArn": ["", "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-0000-0000-000000000000"],
    "ApiDomainName": ["", "api.example.com"],
    "ApiCertificateArn": ["", "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-0000-0000-000000000001"],
    "WebAclArn": ["", "arn:aws:wafv2:us-east-1:123456789012:global/webacl/shared/0000"],
    "ExistingTableName": ["", "notes-stack-NotesTable-1A2B3C4D5E6F"],
    "PermissionsBoundaryArn": ["", "arn:aws:iam::123456789012:policy/permissions-boundary-notes-dev"],
}


def allowed_values(name: str, spec: dict) -> list[str]:
    """What the parent allows for one parameter: its allowed values, its bounds, its pattern samples."""
    values = [str(v) for v in spec.get("AllowedValues", [])]
    values += [str(spec[k]) for k in ("MinValue", "MaxValue") if k in spec]
    if "AllowedPattern" in spec:
        samples = PATTERN_SAMPLES[name]
        assert all(re.fullmatch(spec["AllowedPattern"], s) for s in samples), f"{name}: a sample the parent refuses"
        values += samples
    return values or [str(spec.get("Default", "x"))]


def accepts(spec: dict, value: str) -> bool:
    """Whether a child parameter spec accepts a value (CloudFormation's checks, as documented)."""
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        return False
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return False
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return False
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return False
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return False
    return True


def passes(parent: dict):
    """(stack, child parameter, child spec, parent parameter) for each parameter passed straight through."""
    for stack, location in nested_stacks(parent).items():
        child = template(location)["Parameters"]
        for name, expr in parent["Resources"][stack]["Properties"].get("Parameters", {}).items():
            if isinstance(expr, dict) and set(expr) == {"Ref"} and expr["Ref"] in parent["Parameters"]:
                yield stack, name, child[name], expr["Ref"]


@pytest.mark.parametrize("parent_name", [PARENT, TWO_SERVICES])
def test_every_child_accepts_every_value_the_parent_allows(parent_name):
    parent = parents()[parent_name]
    checked = 0
    for stack, name, spec, source in passes(parent):
        for value in allowed_values(source, parent["Parameters"][source]):
            assert accepts(spec, value), f"{stack}.{name} refuses {value!r}, which parent.yml's {source} allows"
            checked += 1
    # Not vacuous: every parameter the children receive straight from the parent was checked.
    passed = {source for *_, source in passes(parent)}
    assert passed and checked >= len(passed)


def test_a_constraint_declared_again_in_a_child_is_caught():
    """The check is live: a child copy of a constraint that drifted from the parent's refuses a value."""
    assert not accepts({"Type": "Number", "MaxValue": 20}, "50")
    assert not accepts({"Type": "String", "AllowedValues": ["HttpApi"]}, "LoadBalancer")
    assert not accepts({"Type": "String", "AllowedPattern": "^[a-z]+$"}, "use1-az1,use1-az2")


# `sam deploy --guided` asks every parameter of the template and cannot hide one (SAM CLI's
# guided_context.prompt_parameters loops over them all): the parent's parameters are its questions.
MAX_QUESTIONS = 15


def test_guided_deploy_asks_at_most_fifteen_questions_each_with_a_safe_default():
    parameters = template(PARENT)["Parameters"]
    assert len(parameters) <= MAX_QUESTIONS, sorted(parameters)
    for name, spec in parameters.items():
        assert "Default" in spec, f"{name}: pressing Enter must give a working stack"
        assert len(spec.get("Description", "")) >= 40, f"{name}: the description must tell a person what to answer"
        allowed = spec.get("AllowedValues")
        if allowed:
            assert str(spec["Default"]) in map(str, allowed), name
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], str(spec["Default"])), name


def literal_passes(parent: dict):
    """(stack, child parameter, child spec, value) for each literal (code) a block passes a child."""
    for stack, location in nested_stacks(parent).items():
        child = template(location)["Parameters"]
        for name, expr in parent["Resources"][stack]["Properties"].get("Parameters", {}).items():
            if not isinstance(expr, (dict, list)):
                yield stack, name, child[name], str(expr)


@pytest.mark.parametrize("parent_name", [PARENT, TWO_SERVICES])
def test_every_value_a_block_passes_as_code_is_one_the_child_accepts(parent_name):
    """A service's size and scaling are literals in its block: service.yml's constraints check them here,
    in `make test`, instead of in a failed nested-stack update."""
    checked = 0
    for stack, name, spec, value in literal_passes(parents()[parent_name]):
        assert accepts(spec, value), f"{stack}.{name}: {value!r} is refused by its template"
        checked += 1
    assert checked >= 10
    assert not accepts(template("service.yml")["Parameters"]["Cpu"], "300")


def test_every_profile_value_is_one_the_child_accepts():
    parent = template(PARENT)
    for stack, location in nested_stacks(parent).items():
        child = template(location)["Parameters"]
        for name, expr in parent["Resources"][stack]["Properties"].get("Parameters", {}).items():
            if isinstance(expr, dict) and "Fn::FindInMap" in expr:
                mapping, _key, field = expr["Fn::FindInMap"]
                for profile, values in parent["Mappings"][mapping].items():
                    assert accepts(child[name], str(values[field])), (stack, name, profile)


@pytest.mark.parametrize("child", [c for c in CHILDREN if c != "service.yml"])
def test_children_declare_no_constraints_of_their_own(child):
    for name, spec in template(child).get("Parameters", {}).items():
        assert not set(spec) & set(CONSTRAINTS), f"{child}: {name} declares {sorted(set(spec) & set(CONSTRAINTS))}"
        assert spec.get("Type") and spec.get("Description"), f"{child}: {name}"


@pytest.mark.parametrize("parent_name", [PARENT, TWO_SERVICES])
def test_the_parent_passes_every_child_parameter_without_a_default(parent_name):
    parent = parents()[parent_name]
    for stack, location in nested_stacks(parent).items():
        passed = set(parent["Resources"][stack]["Properties"].get("Parameters", {}))
        declared = template(location)["Parameters"]
        required = {n for n, spec in declared.items() if "Default" not in spec}
        assert required <= passed, f"{stack} lacks {sorted(required - passed)}"
        assert passed <= set(declared), f"{stack} ({location}) has no parameter {sorted(passed - set(declared))}"


def test_every_parent_parameter_reaches_a_stack_or_a_rule():
    """A question the parent asks but no stack receives would do nothing."""
    parent = template(PARENT)
    text = str(parent["Resources"]) + str(parent.get("Outputs")) + str(parent.get("Conditions"))
    unused = [n for n in parent["Parameters"] if f"'Ref': '{n}'" not in text and "${" + n not in text]
    assert unused == []
