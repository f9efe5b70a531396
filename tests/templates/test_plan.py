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
    ROLLBACK_ACCESS,
    Change,
    children,
    describe,
    diff_stack,
    name_clashes,
    plan,
    rollback_access,
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
        result = plan(before, after, parent=parent)
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
    assert "NotesService (service.yml): 10 change(s)" in lines  # with its error and latency alarms
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


def rotated(parent: str, directory: Path, edited: dict[str, tuple[str, str]] | None = None) -> tuple[str, str]:
    """`parent` (the version is code in its ClusterStack block) before and after the rotation to version 2, as
    files in `directory` beside its children; `edited` rewrites a child: {file: (old text, new text)}."""
    import copy
    import json

    from checks.render import CHILD_TEMPLATES, ROOT, plain
    for name in CHILD_TEMPLATES:  # the children beside it, as beside parent.yml
        if name in (edited or {}):
            text = (ROOT / name).read_text()
            old, new = edited[name]
            assert old in text, (name, old)
            (directory / name).write_text(text.replace(old, new))
        else:
            (directory / name).symlink_to(ROOT / name)
    source = plain(template(parent))
    after = copy.deepcopy(source)
    after["Resources"]["ClusterStack"]["Properties"]["Parameters"]["OriginSecretVersion"] = "2"
    (directory / "before.json").write_text(json.dumps(source))
    (directory / "rotated.json").write_text(json.dumps(after))
    return str(directory / "before.json"), str(directory / "rotated.json")


@pytest.mark.parametrize("parent", [PARENT, TWO_SERVICES])
def test_rotating_the_origin_secret_makes_a_new_secret_and_touches_no_data(parent, tmp_path):
    """A new OriginSecretVersion replaces the secret: the old one, which the previous task definitions and
    CloudFront's previous {{resolve:...}} name, lives until the update's cleanup phase, so a failed update
    rolls back to references that still resolve. Updated in place (a new GenerateStringKey) the old key was
    gone and the rollback failed: UPDATE_ROLLBACK_FAILED
    (https://github.com/aws/cloudformation-coverage-roadmap/issues/1161, .../issues/2210). Nor does any
    execution role lose the old secret (no ROLLBACK_ACCESS hazard): they grant every version by its name
    prefix (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html)."""
    before, after = rotated(parent, tmp_path)
    result = plan({}, {}, parent=after, before_parent=before)
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


def test_a_policy_updated_in_place_that_names_a_replaced_resource_is_flagged():
    """The check is by what a policy names, not by these stacks: a role's inline policy naming the secret by
    Ref and a managed policy naming the table by GetAtt and Sub are updated to the new copies while the old
    ones live until the cleanup phase, so tasks from the previous definition lose access during a rollback.
    A name prefix every copy matches, a resource policy (it moves with its resource) and a role replaced
    with them (the previous task definition keeps the previous role) are not flagged."""
    source = load(FIXTURES / "policy_names_replaced_resource.yml")
    before = Renderer(source, {"Version": "1"}, substitute=True).render()
    after = Renderer(source, {"Version": "2"}, substitute=True).render()
    changes, _ = diff_stack("DataStack", before, after, source)
    rollback_access("DataStack", after, changes, {}, "Version=2")
    by_resource = {c.resource: c for c in changes}
    assert {r for r, c in by_resource.items() if c.action == "replace"} >= {"Secret", "Table", "ReplacedRole"}
    assert by_resource["PrefixRole"].action == "update", "checked, and granted by a prefix"
    flagged = {r: c.hazard for r, c in by_resource.items() if ROLLBACK_ACCESS in c.hazard}
    assert flagged == {
        "ExactRole": "policy read-secret names DataStack/Secret, which Version=2 replaces: " + ROLLBACK_ACCESS
                     + " (grant every copy by a name prefix instead)",
        "TablePolicy": "policy TablePolicy names DataStack/Table, which Version=2 replaces: " + ROLLBACK_ACCESS
                       + " (grant every copy by a name prefix instead)"}


def test_rotating_with_exact_secret_grants_flags_every_execution_role_across_stacks(tmp_path):
    """The defect cluster.yml and service.yml had: each execution role named the origin secret itself
    (!Ref OriginVerifySecret; the cluster stack's OriginVerifySecretArn output in a service stack), so a rotation
    left a rollback's tasks unable to read the old secret
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html). The plan
    follows the replaced secret through the nested stack's output into the service stack."""
    prefix = ("!Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
              "${AWS::StackName}-origin-verify-*\n")
    before, after = rotated(TWO_SERVICES, tmp_path, {
        "cluster.yml": (f"Resource: {prefix}", "Resource: !Ref OriginVerifySecret\n"),
        "service.yml": ("Resource: !Ref OriginVerifySecretArnPattern", "Resource: !Ref OriginVerifySecretArn")})
    lines = []
    describe(plan({}, {}, parent=after, before_parent=before), out=lines.append)
    warnings = [line for line in lines if ROLLBACK_ACCESS in line]
    assert warnings == [
        "WARNING: ClusterStack/TaskExecutionRole (AWS::IAM::Role) policy origin-verify-secret names "
        f"ClusterStack/OriginVerifySecret, which the template edit replaces: {ROLLBACK_ACCESS} "
        "(grant every copy by a name prefix instead)",
        "WARNING: SecondService/ExecutionRole (AWS::IAM::Role) policy service-secrets names "
        f"ClusterStack/OriginVerifySecret, which the template edit replaces: {ROLLBACK_ACCESS} "
        "(grant every copy by a name prefix instead)"]


def laid_out(parent: str, directory: Path, edited: dict[str, tuple[str, str]]) -> str:
    """`parent` as a file in `directory` beside its children, `edited` rewriting some: {file: (old, new)}."""
    import json

    from checks.render import CHILD_TEMPLATES, ROOT, plain
    directory.mkdir()
    for name in CHILD_TEMPLATES:
        if name in edited:
            text, (old, new) = (ROOT / name).read_text(), edited[name]
            assert old in text, (name, old)
            (directory / name).write_text(text.replace(old, new))
        else:
            (directory / name).symlink_to(ROOT / name)
    (directory / "parent.json").write_text(json.dumps(plain(template(parent))))
    return str(directory / "parent.json")


def test_a_policy_that_named_a_replaced_resource_and_no_longer_covers_its_previous_copy_is_flagged(tmp_path):
    """Review of issue 17, finding 7: a stack created before the origin secret was named (2026-11-23, cluster.yml
    before commit 5c91055) has a secret called OriginVerifySecret-<random>, and execution roles that name it
    exactly. The upgrade names the secret (a replacement) and grants `STACK-origin-verify-*`, which the old
    name does not match: if the update fails, the rollback's tasks (the previous task definitions, naming the
    old secret) cannot read it (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html).
    The plan flags each such policy, in the cluster stack and, through its output, in a service stack; a
    rotation of today's named secret is not flagged (the prefix covers the previous copy: the test above)."""
    prefix = ("!Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
              "${AWS::StackName}-origin-verify-*\n")
    named = "      Name: !Sub ${AWS::StackName}-origin-verify-${OriginSecretVersion}  # a new version: a new secret\n"
    before = laid_out(TWO_SERVICES, tmp_path / "before", {
        "cluster.yml": (f"Resource: {prefix}", "Resource: !Ref OriginVerifySecret\n"),
        "service.yml": ("Resource: !Ref OriginVerifySecretArnPattern", "Resource: !Ref OriginVerifySecretArn")})
    before_text = (tmp_path / "before" / "cluster.yml").read_text()
    (tmp_path / "before" / "cluster.yml").write_text(before_text.replace(named, ""))
    after = laid_out(TWO_SERVICES, tmp_path / "after", {})
    lines = []
    describe(plan({}, {}, parent=after, before_parent=before), out=lines.append)
    warnings = [line for line in lines if ROLLBACK_ACCESS in line]
    fix = f"{ROLLBACK_ACCESS} (first deploy a policy that grants the previous copy too, then this change)"
    assert warnings == [
        "WARNING: ClusterStack/TaskExecutionRole (AWS::IAM::Role) policy origin-verify-secret named "
        f"ClusterStack/OriginVerifySecret before, which the template edit replaces, and no longer covers its "
        f"previous copy: {fix}",
        "WARNING: SecondService/ExecutionRole (AWS::IAM::Role) policy service-secrets named "
        f"ClusterStack/OriginVerifySecret before, which the template edit replaces, and no longer covers its "
        f"previous copy: {fix}"]
    # The first of docs/operate.md's two steps: both execution roles also grant the old name's pattern.
    old_name = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:OriginVerifySecret-*"
    step_one = laid_out(TWO_SERVICES, tmp_path / "step-one", {
        "cluster.yml": (f"Resource: {prefix}", f"Resource:\n                  - {prefix.strip()}\n"
                                                f"                  - !Sub {old_name}\n"),
        "service.yml": ("Resource: !Ref OriginVerifySecretArnPattern",
                        f'Resource: [!Ref OriginVerifySecretArnPattern, !Sub "{old_name}"]')})
    assert plan({}, {}, parent=step_one, before_parent=before).hazards() == []


@pytest.mark.parametrize("name, pattern, flagged", [
    ({"Fn::Sub": "${AWS::StackName}-s-${Version}"}, "${AWS::StackName}-s-*", False),  # the prefix covers both
    ({"Fn::Sub": "${AWS::StackName}-s-${Version}"}, "${AWS::StackName}-other-*", True),
    (None, "${AWS::StackName}-s-*", True),  # a generated name (Secret-<random>) does not match
    (None, "Secret-*", False),  # the generated name's pattern
    ({"Fn::Sub": "${AWS::StackName}-s-${Version}"}, "*", False),
])
def test_a_policy_moving_from_the_resource_to_a_pattern_must_cover_the_previous_copy(name, pattern, flagged):
    """The general rule behind the test above, by what the policies and the replaced resource's name say
    (a name CloudFormation generates is the logical id, or the stack and the logical id, then -<random>)."""
    def source(resource):
        secret = {"Type": "AWS::SecretsManager::Secret", "Properties": {"Description": {"Fn::Sub": "v${Version}"}}}
        if name is not None:
            secret["Properties"]["Name"] = name
        return {"Parameters": {"Version": {"Type": "String"}}, "Resources": {"Secret": secret, "Role": {
            "Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}, "Policies": [{
                "PolicyName": "read", "PolicyDocument": {"Statement": [{
                    "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": resource}]}}]}}}}
    arn = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
    before = Renderer(source({"Ref": "Secret"}), {"Version": "1"}, substitute=True).render()
    after_source = source({"Fn::Sub": arn + pattern})
    if name is None:
        after_source["Resources"]["Secret"]["Properties"]["Name"] = {"Fn::Sub": "${AWS::StackName}-s-${Version}"}
    after = Renderer(after_source, {"Version": "2"}, substitute=True).render()
    changes, _ = diff_stack("DataStack", before, after, after_source)
    rollback_access("DataStack", after, changes, {}, "Version=2", {"DataStack": before})
    by_resource = {c.resource: c for c in changes}
    assert by_resource["Secret"].action == "replace"
    assert (ROLLBACK_ACCESS in by_resource["Role"].hazard) == flagged, by_resource["Role"].hazard


@pytest.mark.parametrize("expression", [
    {"Fn::Join": [",", [{"Fn::GetAtt": ["Data", "Outputs.Table"]}, "7"]]},
    {"Fn::Sub": "table=${Data.Outputs.Table}"},
    {"Fn::Sub": ["table=${T}", {"T": {"Fn::GetAtt": ["Data", "Outputs.Table"]}}]},
    {"Fn::Select": [0, {"Fn::Split": [",", {"Fn::GetAtt": ["Data", "Outputs.Table"]}]}]},
    {"Fn::Join": ["", [{"Fn::Select": [1, {"Fn::Cidr": [{"Fn::GetAtt": ["Data", "Outputs.Table"]}, 2, 8]}]}]]},
])
def test_every_value_made_of_another_stacks_output_is_marked_new_when_that_output_changes(expression):
    """The general rule behind the Join case: whatever intrinsic builds a value from one only a deployment
    knows carries where it came from, so the plan's token for it says (new) when that output changes."""
    from checks.evaluate import Evaluator, Opaque
    from checks.plan import _token
    source = {"Resources": {"Data": {"Type": "AWS::CloudFormation::Stack"}}}
    value = Evaluator(source, {}, "us-east-1").ev(expression, "x")
    assert isinstance(value, Opaque)
    assert _token(value, {"Data.Outputs.Table"}).endswith(" (new)>")
    assert not _token(value, {"Data.Outputs.Other"}).endswith(" (new)>")


@pytest.mark.parametrize("make", [
    lambda p: {"Fn::Join": [",", [{"Fn::GetAtt": ["Data", "Outputs.Table"]}, {"Ref": "P"}]]},
    lambda p: {"Fn::Sub": "table=${Data.Outputs.Table},p=${P}"},
    lambda p: {"Fn::Sub": ["${T}/${P}", {"T": {"Fn::GetAtt": ["Data", "Outputs.Table"]}}]},
    lambda p: {"Fn::Select": [0, {"Fn::Split": [",", {"Fn::Join": ["-", [{"Fn::GetAtt": ["Data", "Outputs.Table"]},
                                                                           {"Ref": "P"}]]}]}]},
])
def test_a_value_mixing_another_stacks_output_with_a_parameter_changes_with_the_parameter(make):
    """`make plan` compares the token's text: one that dropped the known parts would read the same for P=a
    and P=b, and the change to the nested stack's parameter would go unseen."""
    from checks.evaluate import Evaluator
    from checks.plan import _token
    source = {"Parameters": {"P": {"Type": "String"}}, "Resources": {"Data": {"Type": "AWS::CloudFormation::Stack"}}}
    tokens = [_token(Evaluator(source, {"P": p}, "us-east-1").ev(make(p), "x"), set()) for p in ("a", "b")]
    assert tokens[0] != tokens[1], tokens
    assert "Data.Outputs.Table" in tokens[0]
    assert tokens[0] == _token(Evaluator(source, {"P": "a"}, "us-east-1").ev(make("a"), "x"), set())


@pytest.mark.parametrize("parent", [PARENT, TWO_SERVICES])
def test_switching_compute_both_ways_keeps_the_url_and_the_data(parent):
    """Compute=Fargate <-> Lambda on a live stack (issue 20), previewed by `make plan`: every service's two
    routes (the URL) are updated in place (only their Target), never added, removed or replaced; its log group
    (the history of both modes) and image repository stay; no data-bearing resource of any stack changes
    but the namespace guard's and the concurrency cap's own log groups (the one warning each way), and the
    sample's table and CloudFront are untouched. What runs behind the routes is swapped: the ECS service, its
    Cloud Map service and task resources against the function, its permission, integration and concurrency cap;
    the namespace (and its guard) goes with the last Fargate service."""
    services = {s for s, loc in children(parent).items() if loc == "service.yml"}
    for before, after in (({}, {"Compute": "Lambda"}), ({"Compute": "Lambda"}, {})):
        result = plan(before, after, parent=parent)
        assert not result.refused
        changes = {(c.stack, c.resource): c for c in result.changes}
        to_lambda = "Compute" in after
        for stack in services:
            for route in ("HttpApiRoute", "HttpApiPrefixRoute"):
                assert changes[(stack, route)].action == "update" and changes[(stack, route)].properties == ["Target"]
            for kept in ("LogGroup", "Repository", "Image"):
                assert changes.get((stack, kept), Change(stack, kept, "", "update")).action == "update", kept
            swapped = {"Function": "add", "FunctionIntegration": "add", "FunctionPermission": "add",
                       # the reservation's owner (functions/concurrency_cap.py), with its code, role and logs
                       "ConcurrencyCap": "add", "ConcurrencyCapFunction": "add", "ConcurrencyCapRole": "add",
                       "ConcurrencyCapLogGroup": "add",
                       "Service": "remove", "CloudMapService": "remove", "HttpApiIntegration": "remove"}
            for resource, action in swapped.items():
                expected = action if to_lambda else {"add": "remove", "remove": "add"}[action]
                assert changes[(stack, resource)].action == expected, (stack, resource)
            # What the function brings is exactly this, both ways: nothing else new comes or goes with it.
            lambda_side = {(c.resource) for c in result.changes if c.stack == stack
                           and c.action == ("add" if to_lambda else "remove")}
            assert lambda_side == {r for r, a in swapped.items() if a == "add"} | {"FunctionRole", "FunctionAlarm"}
        assert changes[("ClusterStack", "ServiceDiscoveryNamespace")].action == ("remove" if to_lambda else "add")
        assert not [c for c in result.changes if c.stack in ("FrontendStack", "IngressStack")]
        data = sorted((c.stack, c.resource) for c in result.changes if c.type in DATA_BEARING)
        # The two guards' own log groups, nothing else: the namespace guard's goes with the namespace (to
        # Lambda), the concurrency cap's with the function (to Fargate); each is the one warning of its way.
        caps = sorted((stack, "ConcurrencyCapLogGroup") for stack in services)
        assert data == sorted([("ClusterStack", "NamespaceGuardLogGroup"), *caps]), data
        assert sorted(h.resource for h in result.hazards()) == (
            ["NamespaceGuardLogGroup"] if to_lambda else [r for _, r in caps])


def parent_with(tmp_path, **block: str) -> str:
    """parent.yml as a file in tmp_path (its nested templates by absolute path) with the first service's block
    given `block`'s values: a fork's edit."""
    from checks.render import ROOT, plain
    source = plain(template(PARENT))
    first = next(s for s, loc in children(PARENT).items() if loc.endswith("service.yml"))
    for resource in source["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Application":
            resource["Properties"]["Location"] = str(ROOT / resource["Properties"]["Location"])
    source["Resources"][first]["Properties"]["Parameters"].update(block)
    path = tmp_path / "parent.json"
    path.write_text(__import__("json").dumps(source))
    return str(path)


@pytest.mark.parametrize(("block", "params", "refused"), [
    ({"Compute": "Fargate"}, {"Compute": "Lambda"}, "FargateNeedsTheNamespace"),  # pinned Fargate, no namespace
    ({"SecretNames": "API_KEY", "SecretArns": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf"},
     {"Compute": "Lambda"}, "LambdaFitsTheFunction"),
    ({"Memory": "256"}, {}, "Memory"),  # outside the child's AllowedValues
    ({"ReservedConcurrency": "0"}, {}, "ReservedConcurrency"),  # outside its AllowedPattern: a stopped function
])
def test_a_nested_stacks_own_rules_refuse_before_anything_changes(tmp_path, block, params, refused):
    """CloudFormation checks a nested stack's Rules and parameter constraints when it creates or updates that
    stack, mid-deploy, after the stacks before it changed; `make plan`, `make cost` and `make deploy` ask
    rule_refusals first, which evaluates every nested stack with the values its block passes."""
    from checks.plan import rule_refusals
    parent = parent_with(tmp_path, **block)
    if params:
        assert rule_refusals({}, "us-east-1", parent) == [], "the edit alone is accepted, the switch is not"
    failures = rule_refusals(params, "us-east-1", parent)
    assert [f for f in failures if f.split(":", 1)[0].split(".")[-1] == refused], failures
    assert rule_refusals(params, "us-east-1") == [], "the unedited parent is accepted"
