"""One parent, many services: the commented second-service example in parent.yml is real (switched on,
it is what `make test` renders through every check), services under one ingress cannot collide, and the
parent's outputs are what the ops code reads (review/contract11.md: a Descriptor per service)."""
from __future__ import annotations

import json
import re

import pytest

from blueprint.templates import service_resources
from checks.render import EXAMPLE_BEGIN, EXAMPLE_END, ROOT, TWO_SERVICES, parents, template, two_service_parent_text
from tests.templates.conftest import environment, service, stack

PARENT = template("parent.yml")
SHARED_OUTPUTS = {"FrontendUrl", "ApiUrl", "BucketName", "DistributionId", "ClusterName", "TableName", "Ingress",
                  "Architecture"}
GONE = {"ServiceName", "ContainerName", "LogGroupName", "ScalableTargetId"}
DESCRIPTOR_KEYS = {"name", "container", "logGroup", "scalableTarget", "pathPrefix", "healthCheckPath"}
BOTH_PARENTS = pytest.mark.parametrize("parent", list(parents().values()), ids=["parent", "two-services"])


def given(parent: dict, *names: str) -> dict[str, dict]:
    """{service: {parameter: what the parent passes it, or service.yml's default}} for `names`."""
    spec = template("service.yml")["Parameters"]
    return {n: {k: r["Properties"]["Parameters"].get(k, spec[k].get("Default")) for k in names}
            for n, r in service_resources(parent).items()}


def test_the_example_is_parent_yml_with_one_comment_level_removed():
    text = (ROOT / "parent.yml").read_text()
    # one block each in Parameters (its image), Resources, FrontendStack's DependsOn and Outputs
    assert text.count(EXAMPLE_BEGIN) == text.count(EXAMPLE_END) == 4
    switched = two_service_parent_text()
    assert len(switched.splitlines()) == len(text.splitlines()), "line for line"
    assert set(service_resources(template(TWO_SERVICES))) == {"NotesService", "ReportsService"}
    assert set(service_resources(PARENT)) == {"NotesService"}
    assert "ReportsService" in template(TWO_SERVICES)["Outputs"]


@BOTH_PARENTS
def test_every_service_is_named_key_service_and_has_a_build_recipe_and_an_output(parent):
    from scripts.errors import UsageError
    from scripts.image import builds
    for name, resource in service_resources(parent).items():
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


@BOTH_PARENTS
def test_services_cannot_collide_on_the_shared_ingress(parent):
    """One route key per HTTP API and one priority per listener (PriorityInUse): prefixes and priorities
    are unique, under /api (CloudFront's one behaviour), and a prefix inside another's has the lower
    number (ALB rules are evaluated lowest first:
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html)."""
    passed = given(parent, "PathPrefix", "ListenerRulePriority")
    prefixes = [g["PathPrefix"] for g in passed.values()]
    priorities = [int(g["ListenerRulePriority"]) for g in passed.values()]
    assert len(set(prefixes)) == len(prefixes) and len(set(priorities)) == len(priorities)
    assert all(p == "/api" or p.startswith("/api/") for p in prefixes)
    assert all(1 <= p <= 50000 for p in priorities)
    for a in passed.values():
        for b in passed.values():
            if a is not b and b["PathPrefix"].startswith(a["PathPrefix"] + "/"):
                assert int(b["ListenerRulePriority"]) < int(a["ListenerRulePriority"]), (a, b)


@pytest.mark.parametrize("ingress", ["HttpApi", "LoadBalancer"])
def test_the_second_service_gets_its_own_route_or_rule_on_the_shared_ingress(ingress):
    reports = service("ReportsService", TWO_SERVICES, Ingress=ingress)
    notes = service("NotesService", TWO_SERVICES, Ingress=ingress)
    if ingress == "HttpApi":
        for r in (reports, notes):
            assert r["HttpApiRoute"]["Properties"]["ApiId"] == {"Ref": "ApiId"}
            assert r["CloudMapService"]["Properties"]["NamespaceId"] == {"Ref": "NamespaceId"}
    else:
        assert reports["ListenerRule"]["Properties"]["Priority"] == 100
        assert reports["ListenerRule"]["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"][0] == \
            "/api/reports"
        assert notes["ListenerRule"]["Properties"]["Priority"] == 50000
    assert "NOTES_TABLE" not in environment(reports) and "ManagedPolicyArns" not in reports["TaskRole"]["Properties"], \
        "the notes data is the notes service's alone"


def test_the_descriptor_is_one_json_object_with_the_contracts_fields():
    value = template("service.yml")["Outputs"]["Descriptor"]["Value"]["Fn::Sub"]
    text, variables = value
    sample = re.sub(r"\$\{[^}]+\}", "x", text)
    assert set(json.loads(sample)) == DESCRIPTOR_KEYS
    assert "${Service.Name}" in text and "service/${ClusterName}/${Service.Name}" in text
    assert variables == {"Container": {"Fn::FindInMap": ["App", "Container", "Name"]}}


# An /api path segment: what a route key and the descriptor's !Sub JSON can carry (no slash at the end,
# no quote, no space, no brace: `ANY <prefix>/{proxy+}` and `"pathPrefix": "<prefix>"`).
PATH_PREFIX = re.compile(r"^/api(/[A-Za-z0-9._~-]+)*$")


@BOTH_PARENTS
def test_every_service_checks_its_health_under_its_own_prefix(parent):
    """CloudFront sends every /api path to the shared ingress, which routes by prefix: a health path outside
    the service's prefix reaches another service, and the smoke check passes without testing this one."""
    for name, g in given(parent, "PathPrefix", "HealthCheckPath").items():
        assert PATH_PREFIX.fullmatch(g["PathPrefix"]), (name, g["PathPrefix"])
        assert g["HealthCheckPath"].startswith(g["PathPrefix"] + "/"), (name, g)
        assert PATH_PREFIX.fullmatch(g["HealthCheckPath"]), (name, g["HealthCheckPath"])


@pytest.mark.parametrize("bad", ["/api/", "/api/reports/", "/api/re\"ports", "/api/a b", "/apix", "/api/{x}", "api"])
def test_the_prefix_pattern_refuses_what_a_route_key_or_the_descriptor_cannot_carry(bad):
    assert not PATH_PREFIX.fullmatch(bad)


@BOTH_PARENTS
def test_the_frontend_waits_for_every_service(parent):
    """When Ingress switches, CloudFront must move only after every service has attached itself to the new
    ingress and its ECS service is stable: FrontendStack DependsOn each service.yml stack (an ALB with no
    healthy target answers an HTML 503, a new HTTP API without routes a 404)."""
    depends = parent["Resources"]["FrontendStack"].get("DependsOn", [])
    depends = [depends] if isinstance(depends, str) else depends
    assert set(service_resources(parent)) <= set(depends)


def test_the_namespace_outlives_an_ingress_switch():
    """Unconditional: an orphaned namespace (its delete failing in cleanup while the services' Cloud Map
    services still use it) would make the switch back create the same name in the same VPC and fail.
    Services register in it only with Ingress=HttpApi."""
    cluster = template("cluster.yml")["Resources"]["ServiceDiscoveryNamespace"]
    assert "Condition" not in cluster
    for ingress in ("HttpApi", "LoadBalancer"):
        assert stack("ClusterStack", Ingress=ingress)["Resources"]["ServiceDiscoveryNamespace"]
    assert template("service.yml")["Resources"]["CloudMapService"]["Condition"] == "UseHttpApi"
