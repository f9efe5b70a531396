"""The update-path plan behind `make plan` (checks/plan.py): what a parameter change adds, removes,
updates or replaces, and the hazards it flags (data replaced or deleted, a list left out where only []
clears it: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html,
a unique name held twice). Rehearsing every switch is a deep check (docs/checks.md)."""
from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from checks.plan import (
    CLEAR_WITH_EMPTY,
    DATA_BEARING,
    PARENT,
    Change,
    children,
    describe,
    diff_stack,
    name_clashes,
    plan,
    with_deploy_values,
)
from checks.render import TWO_SERVICES, Renderer, load, template

FIXTURES = Path(__file__).parent / "fixtures" / "plan"
@pytest.mark.parametrize("parent", [PARENT, TWO_SERVICES])
def test_switching_ingress_updates_each_service_and_clears_the_other_ingress_with_empty_lists(parent):
    for before, after in (({}, {"Ingress": "LoadBalancer"}), ({"Ingress": "LoadBalancer"}, {})):
        result = plan(before, after, parent=parent)
        services = [c for c in result.changes if c.resource == "Service"]
        assert {c.stack for c in services} == {s for s, loc in children(parent).items() if loc == "service.yml"}
        for service in services:
            assert service.action == "update", service
            assert {"LoadBalancers", "ServiceRegistries"} <= set(service.properties)
            assert not service.hazard
        moved = {(c.stack, c.resource) for c in result.changes if c.action in ("add", "remove")}
        assert {("IngressStack", "VpcLink"), ("IngressStack", "HttpApi"), ("NotesService", "CloudMapService"),
                ("NotesService", "ListenerRule"), ("IngressStack", "LoadBalancerSecurityGroup")} <= moved
        # The namespace stays with either ingress (cluster.yml: an orphan would block the switch back).
        assert not [c for c in result.changes if c.stack == "ClusterStack"]
        assert not [c for c in result.changes if c.resource == "NotesTable"]
        # The ingress's security group stays (the services' task groups admit it by id).
        assert not [c for c in result.changes if c.resource in ("IngressSecurityGroup", "TaskIngressFromIngress")
                    and c.action == "replace"]


@pytest.mark.parametrize("parent", [PARENT, TWO_SERVICES])
def test_switching_ingress_keeps_cloudfront_admitted_until_the_frontend_has_moved(parent):
    """A stack update first creates and updates, then deletes what it no longer has in its cleanup phase
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-monitor-stack.html;
    nested stacks' old resources go in the root stack's cleanup, after FrontendStack has moved CloudFront).
    So no security group's inbound rules may change in place (or by a replacement the ALB moves to) on a
    switch: CloudFront's prefix-list rule lives in the ALB's own group, which a switch adds or removes."""
    for before, after in (({}, {"Ingress": "LoadBalancer"}), ({"Ingress": "LoadBalancer"}, {})):
        result = plan(with_deploy_values(before), with_deploy_values(after), parent=parent)
        groups = [c for c in result.changes if c.type == "AWS::EC2::SecurityGroup"]
        assert not [c for c in groups if c.action in ("update", "replace")], groups
        (alb_group,) = [c for c in groups if c.resource == "LoadBalancerSecurityGroup"]
        assert alb_group.action == ("add" if after else "remove")


def test_a_list_switched_off_with_no_value_is_flagged():
    """The defect service.yml had: ServiceRegistries: !If [UseHttpApi, [...], !Ref AWS::NoValue]."""
    source = load(FIXTURES / "service_registries_novalue.yml")
    before = Renderer(source, {"Ingress": "HttpApi"}).render()
    after = Renderer(source, {"Ingress": "LoadBalancer"}).render()
    changes, _ = diff_stack("ServiceStack", before, after, source)
    (service,) = [c for c in changes if c.resource == "Service"]
    assert service.action == "update" and service.hazard.startswith("ServiceRegistries left out")


def test_a_replaced_table_is_flagged():
    source = load(FIXTURES / "table_key_parameter.yml")
    before = Renderer(source, {"SortKey": "sk"}).render()
    after = Renderer(source, {"SortKey": "created"}).render()
    changes, _ = diff_stack("ServiceStack", before, after, source)
    (table,) = changes
    assert table.action == "replace" and "REPLACED" in table.hazard and "KeySchema" in table.properties


def test_pinning_other_zones_replaces_subnets_and_the_vpc_link_behind_them_and_says_it_fails():
    """A replacement flows through a nested stack's outputs into the next stack; a subnet replaced
    with the same CIDR block fails (the new one is created before the old one is deleted)."""
    result = plan({}, {"AvailabilityZoneIds": "use1-az4,use1-az6"})
    replaced = {(c.stack, c.resource) for c in result.changes if c.action == "replace"}
    assert ("VpcStack", "PublicSubnetOne") in replaced and ("IngressStack", "VpcLink") in replaced
    assert not [c for c in result.changes if c.stack == "ClusterStack"]
    failing = {c.resource for c in result.hazards() if "would FAIL" in c.hazard}
    assert failing == {"PublicSubnetOne", "PublicSubnetTwo", "PrivateSubnetOne", "PrivateSubnetTwo"}


def test_the_clear_with_empty_table_covers_every_list_the_schemas_say_so_of():
    said = set()
    for resource_type in PROVIDER_SCHEMA_MANAGER.get_resource_types("us-east-1"):
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
        for name, prop in schema.get("properties", {}).items():
            text = prop.get("description") or ""
            if prop.get("type") == "array" and "To remove" in text and "empty" in text:
                said.add((resource_type, name))
    assert said and said <= set(CLEAR_WITH_EMPTY)


def test_plan_describes_each_change_and_warns_once_per_hazard():
    lines = []
    describe(plan({}, {"Ingress": "LoadBalancer"}), out=lines.append)
    assert "VpcStack (vpc.yml): no change" in lines
    assert any(line.startswith("  ~ update   Service ") and "LoadBalancers" in line for line in lines)
    assert "NotesService (service.yml): 8 change(s)" in lines
    assert any(line.startswith("  + add      LoadBalancer ") for line in lines)
    assert [line for line in lines if line.startswith("WARNING")] == [
        "WARNING: IngressStack/HttpApiAccessLogs (AWS::Logs::LogGroup) would be DELETED with its log history"]
    refused = []
    describe(plan({}, {"DomainName": "app.example.com"}), out=refused.append)
    assert refused[0].startswith("REFUSED before any change: DomainNeedsCertificate")


def test_the_current_zones_pinned_are_no_change():
    """The default pair of us-east-1 pinned explicitly: the rehearsal compares resolved values
    (region-keyed mappings, Split and Select), not the text of the lookup."""
    assert plan({"AvailabilityZoneIds": ""}, {"AvailabilityZoneIds": "use1-az1,use1-az2"}).changes == []
    moved = plan({"AvailabilityZoneIds": ""}, {"AvailabilityZoneIds": "use1-az1,use1-az4"})
    assert {c.resource for c in moved.changes if c.action == "replace" and c.stack == "VpcStack"} == {
        "PublicSubnetTwo", "PrivateSubnetTwo", "PublicSubnetTwoRouteTable", "PrivateSubnetTwoRouteTable"}


@pytest.mark.parametrize("parent", [PARENT, TWO_SERVICES])
def test_rotating_the_origin_secret_makes_a_new_secret_and_touches_no_data(parent, tmp_path):
    """A new OriginSecretVersion replaces the secret: the old one, which the previous task definitions and
    CloudFront's previous {{resolve:...}} name, lives until the update's cleanup phase, so a failed update
    rolls back to references that still resolve. Updated in place (a new GenerateStringKey) the old key was
    gone and the rollback failed: UPDATE_ROLLBACK_FAILED
    (https://github.com/aws/cloudformation-coverage-roadmap/issues/1161, .../issues/2210)."""
    # The version is code in the parent's ClusterStack block: the rotation is that edit, then a deploy.
    import copy
    import json

    from checks.render import CHILD_TEMPLATES, ROOT, plain
    for name in CHILD_TEMPLATES:  # the children beside it, as beside parent.yml
        (tmp_path / name).symlink_to(ROOT / name)
    rotated = copy.deepcopy(plain(template(parent)))
    rotated["Resources"]["ClusterStack"]["Properties"]["Parameters"]["OriginSecretVersion"] = "2"
    path = tmp_path / "rotated.json"
    path.write_text(json.dumps(rotated))
    result = plan({}, {}, parent=str(path), before_parent=parent)
    assert not result.refused
    by_resource = {(c.stack, c.resource): c for c in result.changes}
    assert by_resource[("ClusterStack", "OriginVerifySecret")].action == "replace"
    services = {s for s, loc in children(parent).items() if loc == "service.yml"}
    assert {s for (s, r) in by_resource if r == "TaskDefinition"} == services, "every service gets the new value"
    assert by_resource[("FrontendStack", "Distribution")].action == "update", "CloudFront sends the new value"
    assert [c for c in result.changes if c.type in DATA_BEARING] == []
    assert result.hazards() == []


def test_the_rehearsal_sees_a_parameter_change_made_through_a_sub():
    """A createOnly property built with !Sub from a parameter: the text of the Sub never changes, the value does."""
    source = {"Parameters": {"Version": {"Type": "String"}}, "Resources": {"S": {
        "Type": "AWS::SecretsManager::Secret", "Properties": {"Name": {"Fn::Sub": "${AWS::StackName}-s-${Version}"}}}}}
    before = Renderer(source, {"Version": "1"}, substitute=True).render()
    after = Renderer(source, {"Version": "2"}, substitute=True).render()
    (change,), _ = diff_stack("s", before, after, source)
    assert (change.action, change.properties) == ("replace", ["Name"])
    assert before["Resources"]["S"]["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-s-1"}


def test_a_unique_name_moving_between_any_two_places_is_flagged_and_an_unresolved_one_is_not():
    """The check is by type and name, not by these stacks: a namespace with the same literal Name and Vpc
    added in one stack and removed from another clashes; a name built from ${AWS::StackId} differs per
    stack, so it is not compared."""
    def namespace(name):
        return {"Type": "AWS::ServiceDiscovery::PrivateDnsNamespace", "Properties": {"Name": name, "Vpc": "<vpc>"}}
    per_stack = {"Fn::Sub": "svc-${AWS::StackId}.internal"}
    old = {"A": {"Resources": {"Ns": namespace("svc.internal"), "Other": namespace(per_stack)}}, "B": {"Resources": {}}}
    new = {"A": {"Resources": {}}, "B": {"Resources": {"Ns2": namespace("svc.internal"), "Other": namespace(per_stack)}}}
    kind = namespace("")["Type"]
    found = [Change("A", "Ns", kind, "remove"), Change("A", "Other", kind, "remove"),
             Change("B", "Ns2", kind, "add"), Change("B", "Other", kind, "add")]
    name_clashes(found, old, new)
    assert found[2].hazard.startswith("would FAIL: created before the old one is deleted")
    assert "A/Ns holds the same Name+Vpc" in found[2].hazard
    assert found[3].hazard == ""
