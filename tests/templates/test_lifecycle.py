"""Create order, update paths and deploy-time checks that linters do not see: what the ECS
service waits for, the parent's Rules (evaluated, not just parsed), ECS Exec with a
read-only root, and the notes table's lifecycle (retain, adopt)."""
from __future__ import annotations

import re

import pytest

from checks.branches import broken_rules
from checks.cfnlint.project_rules import LISTENER_TYPES, dependencies, forwards_to
from checks.render import WIRED, load, render_file, variants
from tests.templates.conftest import ROOT

PARENT = load(ROOT / "parent.yml")
SERVICE_SOURCE = load(ROOT / "service.yml")


# ------------------------------------------------------------------ dependencies
RENDERS = {name: render_file(ROOT / "service.yml", values)["Resources"] for name, values in variants().items()}


@pytest.mark.parametrize("variant", sorted(RENDERS))
def test_the_service_waits_for_every_listener_that_forwards_to_its_target_groups(variant):
    """ECS refuses a service whose target group no listener forwards to yet ("target group does
    not have an associated load balancer": aws/aws-cdk#1160, aws-samples/ecs-refarch-cloudformation#5).
    With a certificate the HTTP listener only redirects; the HTTPS one forwards. The project rule
    E9107 checks the same on source templates (every branch at once); this, on each rendering."""
    resources = RENDERS[variant]
    for name, service in resources.items():
        if service["Type"] != "AWS::ECS::Service":
            continue
        groups = {lb["TargetGroupArn"]["Ref"] for lb in service["Properties"].get("LoadBalancers", [])}
        before = dependencies(resources, name)
        for group in groups:
            listeners = {n for n, r in resources.items() if r["Type"] in LISTENER_TYPES and group in forwards_to(r)}
            assert listeners, f"{variant}: no listener forwards to {group}"
            assert listeners <= before, f"{variant}: {name} can start before {sorted(listeners - before)}"


@pytest.mark.parametrize("variant", sorted(RENDERS))
def test_a_listener_that_stops_forwarding_waits_for_one_that_forwards(variant):
    """Adding a certificate on update turns the HTTP listener into a redirect. If that happened
    before the HTTPS listener existed, the target group would briefly have no load balancer
    (aws/aws-cdk#34290), so every non-forwarding listener of a load balancer with a target
    group depends on a forwarding one."""
    resources = RENDERS[variant]
    listeners = {n: r for n, r in resources.items() if r["Type"] == "AWS::ElasticLoadBalancingV2::Listener"}
    forwarding = {n for n, r in listeners.items() if forwards_to(r)}
    for name in set(listeners) - forwarding:
        assert forwarding & dependencies(resources, name), f"{variant}: {name} may redirect before anything forwards"


def test_the_dependency_reader_sees_metadata_references():
    resources = RENDERS["LoadBalancer-domains-options"]
    assert {"HttpsListener", "HttpListener"} <= set(resources)
    assert "HttpsListener" in dependencies(resources, "Service")
    assert "HttpsListener" in dependencies(resources, "HttpListener")
    assert "HttpListener" in dependencies(RENDERS["LoadBalancer-PublicSubnets-ARM64"], "Service")


# ------------------------------------------------------------------ parent Rules
def violations(region: str = "us-east-1", **values) -> list[str]:
    return broken_rules(PARENT, {**WIRED, **values}, region)


CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000001"
GOOD = {
    "defaults": {},
    "load balancer with an API domain": {"Ingress": "LoadBalancer", "ApiDomainName": "api.example.com",
                                         "ApiCertificateArn": CERT},
    "http api with an API domain": {"ApiDomainName": "api.example.com", "ApiCertificateArn": CERT},
    "bigger task": {"Cpu": "1024", "Memory": "4096"},
    "schedule": {"StopSchedule": "cron(0 19 ? * MON-FRI *)", "StartSchedule": "cron(0 7 ? * MON-FRI *)"},
    "on demand only": {"SpotWeight": "0", "OnDemandWeight": "1"},
    "adopted table": {"ExistingTableName": "notes-retained"},
}
BAD = {
    "ApiCertificateNeedsDomain": {"Ingress": "LoadBalancer", "ApiCertificateArn": CERT},
    "ApiDomainNeedsCertificate": {"ApiDomainName": "api.example.com"},
    "DomainNeedsCertificate": {"DomainName": "app.example.com"},
    "ValidFargateSize": {"Cpu": "256", "Memory": "4096"},
    "ScheduleNeedsBothEnds": {"StopSchedule": "cron(0 19 ? * MON-FRI *)"},
    "BudgetNeedsEmail": {"MonthlyBudget": "25"},
    "SomeCapacity": {"SpotWeight": "0", "OnDemandWeight": "0"},
    "ZonesKnownInThisRegion": {"region": "af-south-1", "Ingress": "LoadBalancer"},
    "HttpApiNeedsVpcLinks": {"region": "af-south-1", "AvailabilityZoneIds": "afs1-az1,afs1-az2"},
    "WebAclOnlyInUsEast1": {"region": "eu-west-1", "WafRateLimit": "1000"},
    "WafRateLimitAtLeastTen": {"WafRateLimit": "5"},
    "FreePlanNeedsWebAcl": {"CloudFrontPlan": "Free"},
    "LoadBalancerAdmitsOnlyCloudFront": {"Ingress": "LoadBalancer", "CloudFrontPrefixListId": ""},
}


@pytest.mark.parametrize("case", sorted(GOOD))
def test_rules_accept_good_parameters(case):
    assert violations(**GOOD[case]) == []


@pytest.mark.parametrize("rule", sorted(BAD))
def test_each_rule_refuses_its_bad_parameters(rule):
    values = dict(BAD[rule])
    assert violations(values.pop("region", "us-east-1"), **values) == [rule]


def test_every_rule_has_a_bad_case_and_every_rendered_variant_passes_the_rules():
    assert set(BAD) == set(PARENT["Rules"])
    for name, values in variants().items():
        assert violations(**values) == [], name


def test_an_alb_certificate_without_a_domain_is_what_the_rule_prevents():
    """Without ApiDomainName, CloudFront's origin is the ALB's own name over HTTPS: no
    certificate can match *.elb.amazonaws.com, so every /api/* request would be a 502."""
    outputs = render_file(ROOT / "service.yml", {"Ingress": "LoadBalancer", "ApiCertificateArn": CERT})["Outputs"]
    assert outputs["ApiOriginProtocol"]["Value"] == "https-only"
    assert outputs["ApiOriginDomain"]["Value"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}


# ------------------------------------------------------------------ ECS Exec
EXEC_PATHS = {"/managed-agents", "/var/lib/amazon/ssm", "/var/log/amazon/ssm"}


def task(**values) -> dict:
    return render_file(ROOT / "service.yml", values)["Resources"]["TaskDefinition"]["Properties"]


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_ecs_exec_gets_writable_paths_under_a_read_only_root(enabled):
    """The exec agent writes its state and logs; under a read-only root it crashes unless these
    paths are writable volumes (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html,
    aws/containers-roadmap#1359). Task-local bind mounts, only while exec is on."""
    props = task(EnableExecuteCommand=enabled)
    (container,) = props["ContainerDefinitions"]
    assert container["ReadonlyRootFilesystem"] is True
    mounted = {m["ContainerPath"] for m in container["MountPoints"] if m["ReadOnly"] is False}
    assert (EXEC_PATHS <= mounted) == (enabled == "true")
    assert mounted & EXEC_PATHS == (EXEC_PATHS if enabled == "true" else set())
    for volume in props["Volumes"]:
        assert set(volume) == {"Name"}, "bind mounts only (task-local, no host path, no EFS)"


@pytest.mark.parametrize("variant", sorted(variants()))
def test_every_mount_has_its_volume_and_every_volume_is_mounted(variant):
    props = render_file(ROOT / "service.yml", variants()[variant])["Resources"]["TaskDefinition"]["Properties"]
    declared = [v["Name"] for v in props["Volumes"]]
    used = [m["SourceVolume"] for c in props["ContainerDefinitions"] for m in c.get("MountPoints", [])]
    assert len(declared) == len(set(declared))
    assert sorted(set(used)) == sorted(declared)


# ------------------------------------------------------------------ the notes table
def test_the_table_is_retained_on_delete_but_not_after_a_failed_first_create():
    """RetainExceptOnCreate: a rolled-back first create deletes the new (empty) table rather
    than leaving one more retained table behind on each attempt
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html)."""
    table = SERVICE_SOURCE["Resources"]["NotesTable"]
    assert table["DeletionPolicy"] == "RetainExceptOnCreate"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


PROTECTION = ("DeletionProtectionEnabled", "DeletionProtection")


@pytest.mark.parametrize("template", ["vpc.yml", "cluster.yml", "service.yml", "frontend.yml"])
def test_nothing_the_rollback_of_a_failed_create_must_delete_is_deletion_protected(template):
    """RetainExceptOnCreate deletes the resource when its first create rolls back; a deletion-
    protected resource refuses that delete (DynamoDB: "any user or process") and the stack ends
    in ROLLBACK_FAILED instead of ROLLBACK_COMPLETE."""
    for name, resource in load(ROOT / template)["Resources"].items():
        if resource.get("DeletionPolicy") != "RetainExceptOnCreate":
            continue
        props = resource.get("Properties", {})
        assert not [p for p in PROTECTION if props.get(p) not in (None, False, "false")], name


def test_by_default_the_stack_creates_the_table_and_the_service_uses_it():
    rendered = render_file(ROOT / "service.yml", {})
    resources = rendered["Resources"]
    assert "NotesTable" in resources
    (container,) = resources["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert {"Name": "NOTES_TABLE", "Value": {"Ref": "NotesTable"}} in container["Environment"]
    statement = resources["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]
    assert statement["Resource"] == {"Fn::GetAtt": ["NotesTable", "Arn"]}
    assert rendered["Outputs"]["TableName"]["Value"] == {"Ref": "NotesTable"}


def test_an_existing_table_is_adopted_instead_of_created():
    """After `make destroy` the retained table can be taken back: ExistingTableName set, the
    stack creates no table, and the task's role, environment and outputs name the old one."""
    rendered = render_file(ROOT / "service.yml", {"ExistingTableName": "notes-retained"})
    resources = rendered["Resources"]
    assert not [r for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
    (container,) = resources["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert {"Name": "NOTES_TABLE", "Value": "notes-retained"} in container["Environment"]
    statement = resources["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingTableName}"}
    assert rendered["Outputs"]["TableName"]["Value"] == "notes-retained"
    assert "NotesTable" not in str(rendered)


def test_the_parent_passes_existing_table_name_through():
    spec = PARENT["Parameters"]["ExistingTableName"]
    assert spec["Default"] == ""
    pattern = re.compile(spec["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("notes-stack-NotesTable-1A2B3C4D5E6F")
    assert not pattern.fullmatch("no spaces allowed")
    passed = PARENT["Resources"]["ServiceStack"]["Properties"]["Parameters"]
    assert passed["ExistingTableName"] == {"Ref": "ExistingTableName"}
    assert SERVICE_SOURCE["Parameters"]["ExistingTableName"]["AllowedPattern"] == spec["AllowedPattern"]
