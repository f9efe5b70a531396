"""Create order, update paths and deploy-time checks that linters do not see: what the ECS
service waits for, the parent's Rules (evaluated, not just parsed), ECS Exec with a
read-only root, and what a failed first create must be able to delete (the sample's table:
tests/templates/notes/)."""
from __future__ import annotations

import pytest

from checks.cfnlint.project_rules import LISTENER_TYPES, dependencies, forwards_to
from checks.evaluate import broken_rules
from checks.render import SECOND, TWO_SERVICES, TWO_SERVICES_LAMBDA, WIRED, template, variants
from tests.templates.conftest import CHILDREN, all_renderings, container, service, stack, task_definition

PARENT = template("parent.yml")


# ------------------------------------------------------------------ dependencies
def _renders(kind: str) -> dict[str, dict]:
    """{variant/stack: resources} of every rendered stack made from `kind` (both parents)."""
    return {f"{variant}/{logical_id}": rendered["Resources"]
            for variant, stacks in all_renderings().items()
            for logical_id, (location, rendered) in stacks.items() if location == kind}


RENDERS = _renders("service.yml")
INGRESSES = _renders("ingress.yml")


@pytest.mark.parametrize("variant", sorted(RENDERS))
def test_the_service_waits_for_every_listener_that_forwards_to_its_target_groups(variant):
    """ECS refuses a service whose target group no listener forwards to yet ("target group does
    not have an associated load balancer": aws/aws-cdk#1160, aws-samples/ecs-refarch-cloudformation#5).
    With a certificate the HTTP listener only redirects; the HTTPS one forwards. The project rule
    E9107 checks the same on source templates (every branch at once); this, on each rendering."""
    resources = RENDERS[variant]
    for name, ecs_service in resources.items():
        if ecs_service["Type"] != "AWS::ECS::Service":
            continue
        groups = {lb["TargetGroupArn"]["Ref"] for lb in ecs_service["Properties"].get("LoadBalancers", [])}
        before = dependencies(resources, name)
        for group in groups:
            listeners = {n for n, r in resources.items() if r["Type"] in LISTENER_TYPES and group in forwards_to(r)}
            assert listeners, f"{variant}: no listener forwards to {group}"
            assert listeners <= before, f"{variant}: {name} can start before {sorted(listeners - before)}"


@pytest.mark.parametrize("variant", sorted(INGRESSES))
def test_a_listener_that_turns_into_a_redirect_waits_for_the_one_services_attach_to(variant):
    """Adding a certificate on update turns the HTTP listener into a redirect to 443. If that happened
    before the HTTPS listener existed, requests would be sent to a port nothing listens on
    (aws/aws-cdk#34290), so every redirecting listener depends on one that does not redirect."""
    resources = INGRESSES[variant]
    listeners = {n: r for n, r in resources.items() if r["Type"] == "AWS::ElasticLoadBalancingV2::Listener"}
    redirecting = {n for n, r in listeners.items()
                   if any(a.get("Type") == "redirect" for a in r["Properties"]["DefaultActions"])}
    for name in redirecting:
        assert (set(listeners) - redirecting) & dependencies(resources, name), f"{variant}: {name}"


def test_the_dependency_reader_sees_metadata_references():
    resources = RENDERS["LoadBalancer-domains-options/NotesService"]
    assert "ListenerRule" in dependencies(resources, "Service")
    assert "TargetGroup" in dependencies(resources, "Service")
    assert "HttpsListener" in dependencies(INGRESSES["LoadBalancer-domains-options/IngressStack"], "HttpListener")
    assert "CloudMapService" in dependencies(RENDERS["HttpApi-PublicSubnets-dev/NotesService"], "Service")
    assert "ListenerRule" in dependencies(RENDERS["two-services-LoadBalancer/SecondService"], "Service")


# ------------------------------------------------------------------ parent Rules
def violations(region: str = "us-east-1", **values) -> list[str]:
    return broken_rules(PARENT, {**WIRED, **values}, region)


CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000001"
GOOD = {
    "defaults": {},
    "load balancer with an API domain": {"Ingress": "LoadBalancer", "ApiDomainName": "api.example.com",
                                         "ApiCertificateArn": CERT},
    "http api with an API domain": {"ApiDomainName": "api.example.com", "ApiCertificateArn": CERT},
    "prod": {"Profile": "prod"},
    "free plan in us-east-1": {"CloudFrontPlan": "Free"},
    "adopted table": {"ExistingTableName": "notes-retained"},
    "lambda": {"Compute": "Lambda"},
}
BAD = {
    "ApiCertificateNeedsDomain": {"Ingress": "LoadBalancer", "ApiCertificateArn": CERT},
    "ApiDomainNeedsCertificate": {"ApiDomainName": "api.example.com"},
    "DomainNeedsCertificate": {"DomainName": "app.example.com"},
    "ZonesKnownInThisRegion": {"region": "af-south-1", "Ingress": "LoadBalancer"},
    "HttpApiNeedsVpcLinks": {"region": "af-south-1", "AvailabilityZoneIds": "afs1-az1,afs1-az2"},
    "FreePlanNeedsWebAcl": {"region": "eu-west-1", "CloudFrontPlan": "Free"},
    "DeploysInThisRegion": {"region": "us-gov-west-1"},
    # What `sam deploy --guided` answers for Compute=Lambda with the ALB: the reason, before anything changes.
    "LambdaNeedsHttpApi": {"Compute": "Lambda", "Ingress": "LoadBalancer"},
}
# service.yml's own Rules: a service's size and capacity are code in its block, checked by CloudFormation
# when that nested stack's change set is made (and by `make test` and `make preflight` before).
SERVICE_GOOD = {"bigger task": {"Cpu": "1024", "Memory": "4096"},
                "schedule": {"StopSchedule": "cron(0 19 ? * MON-FRI *)", "StartSchedule": "cron(0 7 ? * MON-FRI *)"},
                "on demand only": {"SpotWeight": "0", "OnDemandWeight": "1"},
                # A function's memory is no Fargate pair, and its reservation any number.
                "lambda": {"Compute": "Lambda", "Ingress": "HttpApi", "Cpu": "256", "Memory": "4096",
                           "ReservedConcurrency": "5", "ContainerPort": "8080"},
                "fargate with its namespace": {"Ingress": "HttpApi", "NamespaceId": "ns-0123456789abcdef"},
                "fargate behind the alb needs none": {"Ingress": "LoadBalancer", "NamespaceId": ""}}
SERVICE_BAD = {
    "ValidFargateSize": {"Cpu": "256", "Memory": "4096"},
    "ScheduleNeedsBothEnds": {"StopSchedule": "cron(0 19 ? * MON-FRI *)"},
    "SomeCapacity": {"SpotWeight": "0", "OnDemandWeight": "0"},
    # A block that hard-codes Lambda under Ingress=LoadBalancer.
    "LambdaNeedsHttpApi": {"Compute": "Lambda", "Ingress": "LoadBalancer"},
    "LambdaFitsTheFunction": {"Compute": "Lambda", "Ingress": "HttpApi", "ContainerPort": "9001"},
    # A block that hard-codes Fargate under the parent's Compute=Lambda (no namespace made).
    "FargateNeedsTheNamespace": {"Ingress": "HttpApi", "NamespaceId": ""},
}
# Each other assertion of LambdaFitsTheFunction, alone (the rule's name is what CloudFormation reports first;
# the assertion's description is the reason).
LAMBDA_BAD = {
    "a schedule": {"StopSchedule": "cron(0 19 ? * MON-FRI *)", "StartSchedule": "cron(0 7 ? * MON-FRI *)"},
    "the Lambda Insights port": {"ContainerPort": "3000"},
    "more memory than a function has": {"Cpu": "4096", "Memory": "16384"},
    "ECS secrets": {"SecretNames": "API_KEY", "SecretArns": "arn:aws:ssm:us-east-1:123456789012:parameter/k"},
}


@pytest.mark.parametrize("case", sorted(LAMBDA_BAD))
def test_a_lambda_block_is_refused_what_a_function_cannot_do(case):
    broken = broken_rules(template("service.yml"), {"Compute": "Lambda", "Ingress": "HttpApi", **LAMBDA_BAD[case]})
    assert [r.split(":")[0] for r in broken] == ["LambdaFitsTheFunction"], broken
    # The same block on Fargate is no Lambda rule's business.
    assert not [r for r in broken_rules(template("service.yml"), {"Ingress": "HttpApi", "NamespaceId": "ns-1",
                                                                   **LAMBDA_BAD[case]}) if "Lambda" in r]


@pytest.mark.parametrize("case", sorted(SERVICE_GOOD))
def test_service_rules_accept_good_blocks(case):
    assert broken_rules(template("service.yml"), SERVICE_GOOD[case]) == []


@pytest.mark.parametrize("rule", sorted(SERVICE_BAD))
def test_each_service_rule_refuses_its_bad_block(rule):
    assert [r.split(":")[0] for r in broken_rules(template("service.yml"), SERVICE_BAD[rule])] == [rule]


def test_every_service_rule_has_a_bad_case_and_every_block_passes_them():
    from checks.evaluate import Evaluator
    from checks.render import nested_parameters as passed_values
    assert set(SERVICE_BAD) == set(template("service.yml")["Rules"])
    for parent, compute in ((PARENT, "Fargate"), (PARENT, "Lambda"), (template(TWO_SERVICES), "Fargate"),
                            (template(TWO_SERVICES_LAMBDA), "Lambda")):
        for profile in ("dev", "prod"):
            values = {"Profile": profile, "Compute": compute}
            for name, location, given in passed_values(Evaluator(parent, values, "us-east-1")):
                if location == "service.yml":
                    known = {k: v for k, v in given.items() if isinstance(v, str)}
                    assert broken_rules(template("service.yml"), known) == [], (name, profile)


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
    outputs = stack("IngressStack", Ingress="LoadBalancer", ApiCertificateArn=CERT)["Outputs"]
    assert outputs["ApiOriginProtocol"]["Value"] == "https-only"
    assert outputs["ApiOriginDomain"]["Value"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}


# ------------------------------------------------------------------ ECS Exec
EXEC_PATHS = {"/managed-agents", "/var/lib/amazon/ssm", "/var/log/amazon/ssm"}


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_ecs_exec_gets_writable_paths_under_a_read_only_root(enabled):
    """The exec agent writes its state and logs; under a read-only root it crashes unless these
    paths are writable volumes (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html,
    aws/containers-roadmap#1359). Task-local bind mounts, only while exec is on."""
    # The notes block leaves exec off; the generated second service's block turns it on.
    resources = service(SECOND, TWO_SERVICES) if enabled == "true" else service()
    definition = container(resources)
    assert definition["ReadonlyRootFilesystem"] is True
    mounted = {m["ContainerPath"] for m in definition["MountPoints"] if m["ReadOnly"] is False}
    assert (EXEC_PATHS <= mounted) == (enabled == "true")
    assert mounted & EXEC_PATHS == (EXEC_PATHS if enabled == "true" else set())
    for volume in task_definition(resources)["Volumes"]:
        assert set(volume) == {"Name"}, "bind mounts only (task-local, no host path, no EFS)"


@pytest.mark.parametrize("variant", sorted(v for v, resources in RENDERS.items() if "TaskDefinition" in resources))
def test_every_mount_has_its_volume_and_every_volume_is_mounted(variant):
    props = task_definition(RENDERS[variant])
    declared = [v["Name"] for v in props["Volumes"]]
    used = [m["SourceVolume"] for c in props["ContainerDefinitions"] for m in c.get("MountPoints", [])]
    assert len(declared) == len(set(declared))
    assert sorted(set(used)) == sorted(declared)


# ------------------------------------------------------------------ retention
PROTECTION = ("DeletionProtectionEnabled", "DeletionProtection")


@pytest.mark.parametrize("name", CHILDREN)
def test_nothing_the_rollback_of_a_failed_create_must_delete_is_deletion_protected(name):
    """RetainExceptOnCreate deletes the resource when its first create rolls back; a deletion-
    protected resource refuses that delete (DynamoDB: "any user or process") and the stack ends
    in ROLLBACK_FAILED instead of ROLLBACK_COMPLETE."""
    for logical_id, resource in template(name)["Resources"].items():
        if resource.get("DeletionPolicy") != "RetainExceptOnCreate":
            continue
        props = resource.get("Properties", {})
        assert not [p for p in PROTECTION if props.get(p) not in (None, False, "false")], logical_id
