"""One parent, many services: the commented second-service example in parent.yml is real (switched on,
it is what `make test` renders through every check), services under one ingress cannot collide, and the
parent's outputs are what the ops code reads (review/contract11.md: a Descriptor per service)."""
from __future__ import annotations

import json
import re

import pytest

from checks.render import EXAMPLE_BEGIN, EXAMPLE_END, ROOT, load, render_stack, two_service_parent, two_service_parent_text

PARENT = load(ROOT / "parent.yml")
SHARED_OUTPUTS = {"FrontendUrl", "ApiUrl", "BucketName", "DistributionId", "ClusterName", "TableName", "Ingress",
                  "Architecture"}
GONE = {"ServiceName", "ContainerName", "LogGroupName", "ScalableTargetId"}
DESCRIPTOR_KEYS = {"name", "container", "logGroup", "scalableTarget", "pathPrefix", "healthCheckPath"}


def services(parent: dict) -> dict[str, dict]:
    return {name: r for name, r in parent["Resources"].items() if r["Properties"]["Location"] == "service.yml"}


def test_the_example_is_parent_yml_with_one_comment_level_removed():
    text = (ROOT / "parent.yml").read_text()
    # one block each in Parameters (its image), Resources, FrontendStack's DependsOn and Outputs
    assert text.count(EXAMPLE_BEGIN) == text.count(EXAMPLE_END) == 4
    switched = two_service_parent_text()
    assert len(switched.splitlines()) == len(text.splitlines()), "line for line"
    assert set(services(two_service_parent())) == {"NotesService", "ReportsService"}
    assert set(services(PARENT)) == {"NotesService"}
    assert "ReportsService" in two_service_parent()["Outputs"]


@pytest.mark.parametrize("parent", [PARENT, two_service_parent()], ids=["parent", "two-services"])
def test_every_service_is_named_key_service_and_has_a_build_recipe_and_an_output(parent):
    from scripts.errors import UsageError
    from scripts.image import builds
    for name, resource in services(parent).items():
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*Service", name)
        build = resource["Metadata"]["Build"]
        if not (ROOT / build["Context"] / "Dockerfile").exists():
            # The example's reports/ is the user's to create: `make deploy` and `make preflight` say so.
            assert name != "NotesService"
            with pytest.raises(UsageError, match=f"service {name} builds {build['Context']}/, which has no Dockerfile"):
                builds(parent)
        assert build["ImageParameter"] in parent["Parameters"]
        assert resource["Properties"]["Parameters"]["ImageUri"] == {"Ref": build["ImageParameter"]}
        output = parent["Outputs"][name]
        assert output["Description"].startswith("Service:")
        assert output["Value"] == {"Fn::GetAtt": [name, "Outputs.Descriptor"]}
    assert SHARED_OUTPUTS <= set(parent["Outputs"]) and not GONE & set(parent["Outputs"])


@pytest.mark.parametrize("parent", [PARENT, two_service_parent()], ids=["parent", "two-services"])
def test_services_cannot_collide_on_the_shared_ingress(parent):
    """One route key per HTTP API and one priority per listener (PriorityInUse): prefixes and priorities
    are unique, under /api (CloudFront's one behaviour), and a prefix inside another's has the lower
    number (ALB rules are evaluated lowest first:
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html)."""
    spec = load(ROOT / "service.yml")["Parameters"]
    given = {n: {k: r["Properties"]["Parameters"].get(k, spec[k].get("Default"))
                 for k in ("PathPrefix", "ListenerRulePriority")} for n, r in services(parent).items()}
    prefixes = [g["PathPrefix"] for g in given.values()]
    priorities = [int(g["ListenerRulePriority"]) for g in given.values()]
    assert len(set(prefixes)) == len(prefixes) and len(set(priorities)) == len(priorities)
    assert all(p == "/api" or p.startswith("/api/") for p in prefixes)
    assert all(1 <= p <= 50000 for p in priorities)
    for a in given.values():
        for b in given.values():
            if a is not b and b["PathPrefix"].startswith(a["PathPrefix"] + "/"):
                assert int(b["ListenerRulePriority"]) < int(a["ListenerRulePriority"]), (a, b)


@pytest.mark.parametrize("ingress", ["HttpApi", "LoadBalancer"])
def test_the_second_service_gets_its_own_route_or_rule_on_the_shared_ingress(ingress):
    parent = two_service_parent()
    reports = render_stack("ReportsService", {"Ingress": ingress}, parent)["Resources"]
    notes = render_stack("NotesService", {"Ingress": ingress}, parent)["Resources"]
    if ingress == "HttpApi":
        for r in (reports, notes):
            assert r["HttpApiRoute"]["Properties"]["ApiId"] == {"Ref": "ApiId"}
            assert r["CloudMapService"]["Properties"]["NamespaceId"] == {"Ref": "NamespaceId"}
    else:
        assert reports["ListenerRule"]["Properties"]["Priority"] == 100
        assert reports["ListenerRule"]["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"][0] == \
            "/api/reports"
        assert notes["ListenerRule"]["Properties"]["Priority"] == 50000
    env = {e["Name"] for e in reports["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Environment"]}
    assert "NOTES_TABLE" not in env and "ManagedPolicyArns" not in reports["TaskRole"]["Properties"], \
        "the notes data is the notes service's alone"


def test_the_descriptor_is_one_json_object_with_the_contracts_fields():
    value = load(ROOT / "service.yml")["Outputs"]["Descriptor"]["Value"]["Fn::Sub"]
    text, variables = value
    sample = re.sub(r"\$\{[^}]+\}", "x", text)
    assert set(json.loads(sample)) == DESCRIPTOR_KEYS
    assert "${Service.Name}" in text and "service/${ClusterName}/${Service.Name}" in text
    assert variables == {"Container": {"Fn::FindInMap": ["App", "Container", "Name"]}}


# An /api path segment: what a route key and the descriptor's !Sub JSON can carry (no slash at the end,
# no quote, no space, no brace: `ANY <prefix>/{proxy+}` and `"pathPrefix": "<prefix>"`).
PATH_PREFIX = re.compile(r"^/api(/[A-Za-z0-9._~-]+)*$")


def given(parent: dict) -> dict[str, dict]:
    spec = load(ROOT / "service.yml")["Parameters"]
    return {n: {k: r["Properties"]["Parameters"].get(k, spec[k].get("Default"))
                for k in ("PathPrefix", "HealthCheckPath")} for n, r in services(parent).items()}


@pytest.mark.parametrize("parent", [PARENT, two_service_parent()], ids=["parent", "two-services"])
def test_every_service_checks_its_health_under_its_own_prefix(parent):
    """CloudFront sends every /api path to the shared ingress, which routes by prefix: a health path outside
    the service's prefix reaches another service, and the smoke check passes without testing this one."""
    for name, g in given(parent).items():
        assert PATH_PREFIX.fullmatch(g["PathPrefix"]), (name, g["PathPrefix"])
        assert g["HealthCheckPath"].startswith(g["PathPrefix"] + "/"), (name, g)
        assert PATH_PREFIX.fullmatch(g["HealthCheckPath"]), (name, g["HealthCheckPath"])


@pytest.mark.parametrize("bad", ["/api/", "/api/reports/", "/api/re\"ports", "/api/a b", "/apix", "/api/{x}", "api"])
def test_the_prefix_pattern_refuses_what_a_route_key_or_the_descriptor_cannot_carry(bad):
    assert not PATH_PREFIX.fullmatch(bad)


@pytest.mark.parametrize("parent", [PARENT, two_service_parent()], ids=["parent", "two-services"])
def test_the_frontend_waits_for_every_service(parent):
    """When Ingress switches, CloudFront must move only after every service has attached itself to the new
    ingress and its ECS service is stable: FrontendStack DependsOn each service.yml stack (an ALB with no
    healthy target answers an HTML 503, a new HTTP API without routes a 404)."""
    depends = parent["Resources"]["FrontendStack"].get("DependsOn", [])
    depends = [depends] if isinstance(depends, str) else depends
    assert set(services(parent)) <= set(depends)


def test_the_namespace_outlives_an_ingress_switch():
    """Unconditional: an orphaned namespace (its delete failing in cleanup while the services' Cloud Map
    services still use it) would make the switch back create the same name in the same VPC and fail.
    Services register in it only with Ingress=HttpApi."""
    cluster = load(ROOT / "cluster.yml")["Resources"]["ServiceDiscoveryNamespace"]
    assert "Condition" not in cluster
    for ingress in ("HttpApi", "LoadBalancer"):
        assert render_stack("ClusterStack", {"Ingress": ingress})["Resources"]["ServiceDiscoveryNamespace"]
    assert load(ROOT / "service.yml")["Resources"]["CloudMapService"]["Condition"] == "UseHttpApi"
