"""The parent's outputs as the ops commands read them (scripts/outputs.py), held to parent.yml's
Outputs section: a renamed or dropped output fails here, not in a deploy. The shared outputs map to
ParentOutputs' fields; every `<Key>Service` output whose Description starts with "Service:" is a
service (review/contract11.md)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from blueprint.templates import PARENT, load
from scripts import image, outputs
from scripts.errors import NotABlueprintStack, UnknownService
from scripts.outputs import ParentOutputs
from tests.ops.conftest import create_stack, make_target, sample_outputs

# A parent as the contract has it, by hand: what the real one must look like to the ops code.
CONTRACT_PARENT = """
Resources:
  NotesService:
    Type: AWS::Serverless::Application
    Metadata: {Build: {Context: app, ImageParameter: ImageUri}}
    Properties: {Location: service.yml}
  ReportsService:
    Type: AWS::Serverless::Application
    Metadata: {Build: {Context: app, ImageParameter: ImageUri}}
    Properties: {Location: service.yml}
  FrontendStack:
    Type: AWS::Serverless::Application
    Properties: {Location: frontend.yml}
Outputs:
  FrontendUrl: {Description: The site, Value: !GetAtt FrontendStack.Outputs.FrontendUrl}
  ApiUrl: {Description: The API, Value: x}
  BucketName: {Description: The bucket, Value: x}
  DistributionId: {Description: The distribution, Value: x}
  ClusterName: {Description: The cluster, Value: x}
  TableName: {Description: The notes table, Value: x}
  Ingress: {Description: The ingress, Value: x}
  Profile: {Description: The profile, Value: x}
  NotesService: {Description: "Service: the notes API", Value: !GetAtt NotesService.Outputs.Descriptor}
  ReportsService: {Description: "Service: reports", Value: !GetAtt ReportsService.Outputs.Descriptor}
"""


def declared(template: dict) -> tuple[set[str], set[str]]:
    """(shared output names, service output names) of a parent template."""
    shared, services = set(), set()
    for name, spec in template["Outputs"].items():
        is_service = name.endswith("Service") and str(spec.get("Description", "")).startswith("Service:")
        (services if is_service else shared).add(name)
    return shared, services


def service_resources(template: dict) -> set[str]:
    return {k for k, r in template["Resources"].items()
            if r["Type"] == "AWS::Serverless::Application" and str(r["Properties"]["Location"]).endswith("service.yml")}


def check_parent(template: dict) -> None:
    shared, services = declared(template)
    names = set(ParentOutputs.OUTPUT_NAMES)
    assert names - ParentOutputs.OPTIONAL <= shared <= names, "ParentOutputs' fields are parent.yml's shared outputs"
    assert services == service_resources(template), "one <Key>Service output per service, named like it"
    for name in services:
        assert template["Outputs"][name]["Value"] == {"Fn::GetAtt": [name, "Outputs.Descriptor"]}
    builds = image.builds(template)
    assert {s for b in builds for s in b.services} == services


def test_the_contracts_parent_is_what_the_ops_code_reads(tmp_path):
    path = tmp_path / "parent.yml"
    path.write_text(CONTRACT_PARENT)
    template = load(path)
    check_parent(template)
    assert image.builds(template) == [image.Build("app", ("ImageUri",), ("NotesService", "ReportsService"))]


def test_parent_yml_outputs_are_the_typed_outputs():
    """Fails until parent.yml has the per-service outputs of issue 11 (the templates' branch)."""
    check_parent(load(PARENT))
    assert declared(load(PARENT))[0] == set(ParentOutputs.OUTPUT_NAMES)  # the optional ones too


def test_outputs_round_trip_through_a_stack(aws):
    typed = sample_outputs(services=("Notes", "Reports"))
    create_stack(aws, "s", typed.as_outputs())
    assert outputs.read(make_target(aws, "s")) == typed


def test_a_stack_without_an_output_is_not_a_blueprint_stack():
    raw = sample_outputs().as_outputs()
    with pytest.raises(NotABlueprintStack, match="^stack x has no output DistributionId: is it a stack of this "
                                                 "blueprint\\?$") as info:
        ParentOutputs.parse([o for o in raw if o["OutputKey"] != "DistributionId"], "stack x")
    assert info.value.code == "not_a_blueprint_stack"
    assert ParentOutputs.parse([o for o in raw if o["OutputKey"] != "TableName"]).table_name is None
    with pytest.raises(NotABlueprintStack, match="has no service outputs"):
        ParentOutputs.parse([o for o in raw if o["OutputKey"] != "NotesService"])


def test_an_older_single_service_stack_is_named_as_such():
    """A stack deployed before issue 11 has ServiceName etc., not descriptors."""
    raw = [o for o in sample_outputs().as_outputs() if o["OutputKey"] != "NotesService"]
    raw += [{"OutputKey": "ServiceName", "OutputValue": "api", "Description": "The ECS service."}]
    with pytest.raises(NotABlueprintStack, match="no service outputs"):
        ParentOutputs.parse(raw)


@pytest.mark.parametrize("value, says", [("not json", "is not a service descriptor"),
                                         (json.dumps({"name": "api"}), "lacks container, logGroup")])
def test_a_broken_descriptor_is_one_line(value, says):
    raw = [o for o in sample_outputs().as_outputs() if o["OutputKey"] != "NotesService"]
    raw.append({"OutputKey": "NotesService", "OutputValue": value, "Description": "Service: notes"})
    with pytest.raises(NotABlueprintStack, match=says):
        ParentOutputs.parse(raw)


def test_service_selection_is_by_key_or_short_name_any_case():
    out = sample_outputs(services=("Notes", "Reports"))
    assert [s.key for s in out.select(None)] == ["NotesService", "ReportsService"]
    for name in ("notes", "NOTES", "NotesService", "notesservice"):
        assert [s.key for s in out.select(name)] == ["NotesService"]
    with pytest.raises(UnknownService) as info:
        out.select("billing")
    assert info.value.code == "unknown_service"


def test_the_smoke_test_output_is_a_command_that_reaches_this_stack():
    """After `sam deploy --guided`, the stack's SmokeTest output is what a person runs: `make smoke` with the
    stack and region it was deployed as, variables the Makefile passes on to the smoke command."""
    value = load(PARENT)["Outputs"]["SmokeTest"]["Value"]["Fn::Sub"]
    command = value.replace("${AWS::StackName}", "my-stack").replace("${AWS::Region}", "eu-west-1").split()
    assert command[:2] == ["make", "smoke"]
    given = dict(word.split("=", 1) for word in command[2:])
    assert given == {"STACK": "my-stack", "REGION": "eu-west-1"}
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    exported = {name for line in makefile.splitlines() if line.startswith("export ") for name in line.split()[1:]}
    assert set(given) <= exported and "\nsmoke:" in makefile


@pytest.mark.parametrize("compute", ["Lambda", "Fargate"])
def test_service_yml_descriptor_reads_back_as_the_compute_it_runs_on(compute):
    """service.yml's Descriptor, each variable given the branch Compute takes (a Ref or GetAtt: a stand-in
    name), is what parse_service reads: a function on Lambda (no container, no scalable target), an ECS
    service on Fargate."""
    text, variables = load(Path(PARENT).parent / "service.yml")["Outputs"]["Descriptor"]["Value"]["Fn::Sub"]

    def value(name: str) -> str:
        node = variables.get(name, f"<{name}>")
        while isinstance(node, dict) and "Fn::If" in node:
            condition, yes, no = node["Fn::If"]
            node = yes if condition == "UseLambda" and compute == "Lambda" or condition == "BuildsImage" else no
        return node if isinstance(node, str) else f"<{name}>"
    filled = re.sub(r"\$\{([^}]+)\}", lambda m: value(m.group(1)) if m.group(1) in variables else "3", text)
    svc = outputs.parse_service("NotesService", filled)
    assert svc.on_lambda == (compute == "Lambda")
    if svc.on_lambda:
        assert (svc.name, svc.function, svc.container, svc.scalable_target) == ("<Name>", "<FunctionName>", "", "")
    else:
        assert svc.container and svc.scalable_target and not svc.function
