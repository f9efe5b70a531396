"""Update-path rehearsal (checks/plan.py): every switchable parameter, switched on and off from
the defaults and from every rendered variant (checks/render.py), never replaces or silently deletes data, and every
list property a switch turns off is cleared with [] (not left out, which keeps the live value:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html)."""
from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from checks.branches import Evaluator
from checks.plan import CLEAR_WITH_EMPTY, DATA_BEARING, PARENT, children, describe, diff_stack, plan, switches, template, with_deploy_values
from checks.render import TWO_SERVICES, Renderer, load, variants

FIXTURES = Path(__file__).parent / "fixtures" / "plan"
BASES = {"defaults": {}, **variants()}
SWITCHES = switches()


def rehearsals():
    for base_name, base in BASES.items():
        for name, switch in SWITCHES.items():
            if all(base.get(k) == v for k, v in switch.items()):
                continue
            yield f"{base_name}: {name} on", base, {**base, **switch}
            yield f"{base_name}: {name} off", {**base, **switch}, base


@pytest.mark.parametrize("base_name", sorted(BASES))
def test_no_switch_replaces_or_silently_deletes_data_or_leaves_a_list_behind(base_name):
    checked = 0
    for label, before, after in rehearsals():
        if label.split(": ")[0] != base_name:
            continue
        result = plan(before, after)
        if result.refused:  # e.g. Cpu alone: the parent's Rules stop it before anything changes
            continue
        checked += 1
        for change in result.changes:
            source = template(dict(_locations())[change.stack])["Resources"].get(change.resource, {})
            if change.type in DATA_BEARING:
                assert change.action != "replace", (label, change)
                assert change.action != "remove" or "Condition" in source, (label, change)
            assert "left out" not in change.hazard, (label, change)
            # Only moving the subnets to other AZs cannot be done in place (README, Regions and AZs).
            assert "would FAIL" not in change.hazard or "pinned AZs" in label, (label, change)
    assert checked >= 2


def _locations(parent=PARENT):
    return {"parent": parent, **children(parent)}.items()


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


def test_adopting_or_dropping_an_existing_table_says_which_data_the_app_will_use():
    adopt = plan({}, {"ExistingTableName": "notes-retained"})
    (table,) = [c for c in adopt.changes if c.resource == "NotesTable"]
    assert table.action == "remove" and "RETAINED" in table.hazard and "ExistingTableName" in table.hazard
    drop = plan({"ExistingTableName": "notes-retained"}, {})
    (table,) = [c for c in drop.changes if c.resource == "NotesTable"]
    assert table.action == "add" and "EMPTY" in table.hazard


def test_the_two_service_parent_survives_every_switch_from_the_defaults():
    """The same rehearsal on parent.yml with its second-service example switched on: a second
    service.yml under the same ingress changes nothing about what a switch may do to data."""
    checked = 0
    for name, switch in SWITCHES.items():
        for before, after in (({}, switch), (switch, {})):
            result = plan(before, after, parent=TWO_SERVICES)
            if result.refused:
                continue
            checked += 1
            for change in result.changes:
                source = template(dict(_locations(TWO_SERVICES))[change.stack])["Resources"].get(change.resource, {})
                if change.type in DATA_BEARING:
                    assert change.action != "replace", (name, change)
                    assert change.action != "remove" or "Condition" in source, (name, change)
                assert "left out" not in change.hazard, (name, change)
                assert "would FAIL" not in change.hazard or name == "pinned AZs", (name, change)
            if {"Ingress"} <= set(switch):
                assert {c.stack for c in result.changes if c.resource == "ListenerRule"} == {
                    s for s, loc in children(TWO_SERVICES).items() if loc == "service.yml"}
    assert checked >= 2


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


def test_plan_evaluates_and_renders_each_parent_once(monkeypatch):
    """The parent once for `before` and once for `after`; each nested stack it creates once a side."""
    import checks.plan
    import checks.render
    from checks.render import Renderer as Real
    rendered = []

    class Counting(Real):
        def render(self):
            rendered.append(self.template)
            return super().render()
    monkeypatch.setattr(checks.plan, "Renderer", Counting)
    monkeypatch.setattr(checks.render, "Renderer", Counting)
    evaluated = []
    monkeypatch.setattr(checks.plan, "Evaluator", lambda *args: evaluated.append(args[0]) or Evaluator(*args))
    plan({}, {"Ingress": "LoadBalancer"})
    created = [location for stack, location in children(PARENT).items() if stack != "BudgetStack"]  # no MonthlyBudget
    assert sorted(map(id, rendered)) == sorted(id(template(name)) for name in [PARENT, *created] * 2)
    assert [t is template(PARENT) for t in evaluated] == [True, True]
