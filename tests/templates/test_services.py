"""One parent, many services: a second service's block generated from the first one's (what `make test`
renders through every check) deploys beside it, services under one ingress cannot collide, a service
takes any environment and secrets through its block without editing service.yml, and the parent's
outputs are what the ops code reads (review/contract11.md: a Descriptor per service)."""
from __future__ import annotations

import json
import re

import pytest

from blueprint.services import image_value
from blueprint.templates import service_resources
from checks.render import PARENT as PARENT_FILE
from checks.render import ROOT, SECOND, TWO_SERVICES, TWO_SERVICES_LAMBDA, parents, template
from tests.templates.conftest import container, environment, service, stack

PARENT = template("parent.yml")
SHARED_OUTPUTS = {"FrontendUrl", "ApiUrl", "BucketName", "DistributionId", "ClusterName", "Ingress",
                  "Profile"}  # TableName: the sample's (tests/templates/notes/)
GONE = {"ServiceName", "ContainerName", "LogGroupName", "ScalableTargetId"}
DESCRIPTOR_KEYS = {"name", "container", "logGroup", "scalableTarget", "pathPrefix", "healthCheckPath", "architecture",
                   "version", "compute", "function", "reservedConcurrency"}
BOTH_PARENTS = pytest.mark.parametrize("parent", list(parents().values()), ids=["parent", "two-services"])


def given(parent: dict, *names: str) -> dict[str, dict]:
    """{service: {parameter: what the parent passes it, or service.yml's default}} for `names`."""
    spec = template("service.yml")["Parameters"]
    return {n: {k: r["Properties"]["Parameters"].get(k, spec[k].get("Default")) for k in names}
            for n, r in service_resources(parent).items()}


def test_the_second_service_is_the_one_new_service_writes():
    """No commented example to rot: the two-service parent is parent.yml plus the block, DependsOn line
    and output `new-service`'s generator writes (blueprint/services.py), with the same wiring as the
    first service and nothing of its data."""
    assert "second service example" not in (ROOT / "parent.yml").read_text()
    two = template(TWO_SERVICES)
    assert set(service_resources(two)) == set(service_resources(PARENT)) | {SECOND}
    assert "NotesService" in service_resources(PARENT) and SECOND not in service_resources(PARENT)
    assert SECOND in two["Outputs"] and SECOND in two["Resources"]["FrontendStack"]["DependsOn"]
    first, second = (two["Resources"][n]["Properties"]["Parameters"] for n in ("NotesService", SECOND))
    wiring = {k for k, v in first.items() if isinstance(v, dict) and ("Fn::GetAtt" in v or "Ref" in v)}
    own = {"PolicyArns", "EnvironmentValues", "SourceLayerArn"}
    assert {k: second[k] for k in wiring - own} == {k: first[k] for k in wiring - own}
    assert "PolicyArns" not in second
    # Each its own build context: a source layer of its own (its Context) that the block passes.
    for name, params in (("NotesService", first), (SECOND, second)):
        layer = two["Resources"][params["SourceLayerArn"]["Ref"]]
        assert layer["Type"] == "AWS::Serverless::LayerVersion"
        assert layer["Properties"]["ContentUri"] == two["Resources"][name]["Metadata"]["Build"]["Context"]


@BOTH_PARENTS
def test_every_service_is_named_key_service_and_has_a_build_recipe_and_an_output(parent):
    for name, resource in service_resources(parent).items():
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*Service", name)
        build = resource["Metadata"]["Build"]
        assert (ROOT / build["Context"] / "Dockerfile").exists()
        assert build["ImageParameter"] in parent["Parameters"]
        assert image_of(parent, name, "") == "", "no image given: the stack builds it"
        everyone = {r["Metadata"]["Build"]["Context"]: f"{r['Metadata']['Build']['Context']}@sha256:{'0' * 64}"
                    for r in service_resources(parent).values()}
        assert image_of(parent, name, image_value(everyone)) == everyone[build["Context"]]
        assert image_of(parent, name, image_value({"elsewhere": "x@sha256:1"})) == ""
        output = parent["Outputs"][name]
        assert output["Description"].startswith("Service:")
        assert output["Value"] == {"Fn::GetAtt": [name, "Outputs.Descriptor"]}
    assert SHARED_OUTPUTS <= set(parent["Outputs"]) and not GONE & set(parent["Outputs"])


def image_of(parent: dict, service: str, images: str) -> str:
    """The image a service's block passes service.yml when ImageUri is `images` (as CloudFormation computes it)."""
    from checks.evaluate import Evaluator
    evaluator = Evaluator(parent, {"ImageUri": images}, "us-east-1")
    value = evaluator.ev(parent["Resources"][service]["Properties"]["Parameters"]["ImageUri"], service)
    assert evaluator.problems == []
    return value


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
    reports = service(SECOND, TWO_SERVICES, Ingress=ingress)
    notes = service("NotesService", TWO_SERVICES, Ingress=ingress)
    if ingress == "HttpApi":
        for r in (reports, notes):
            assert r["HttpApiRoute"]["Properties"]["ApiId"] == {"Ref": "ApiId"}
            assert r["CloudMapService"]["Properties"]["NamespaceId"] == {"Ref": "NamespaceId"}
    else:
        assert reports["ListenerRule"]["Properties"]["Priority"] == 100
        assert reports["ListenerRule"]["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"][0] == \
            "/api/second"
        assert notes["ListenerRule"]["Properties"]["Priority"] == 50000
    assert "NOTES_TABLE" not in environment(reports) and "ManagedPolicyArns" not in reports["TaskRole"]["Properties"], \
        "the notes data is the notes service's alone"


def test_the_descriptor_is_one_json_object_with_the_contracts_fields():
    value = template("service.yml")["Outputs"]["Descriptor"]["Value"]["Fn::Sub"]
    text, variables = value
    sample = re.sub(r"\$\{[^}]+\}", "x", text)
    assert set(json.loads(sample)) == DESCRIPTOR_KEYS
    assert variables == {
        "Kind": {"Fn::If": ["UseLambda", "lambda", "fargate"]},
        "Name": {"Fn::If": ["UseLambda", {"Ref": "Function"}, {"Fn::GetAtt": ["Service", "Name"]}]},
        "Container": {"Fn::If": ["UseLambda", "", {"Fn::FindInMap": ["App", "Container", "Name"]}]},
        "ScalableTarget": {"Fn::If": ["UseLambda", "", {"Fn::Sub": "service/${ClusterName}/${Service.Name}"}]},
        "FunctionName": {"Fn::If": ["UseLambda", {"Ref": "Function"}, ""]},
        "Version": {"Fn::If": ["BuildsImage", {"Fn::GetAtt": ["Image", "Version"]}, ""]}}
    assert '"reservedConcurrency": "${ReservedConcurrency}"' in text


@pytest.mark.parametrize("compute", ["Fargate", "Lambda"])
def test_the_descriptor_says_which_compute_runs_the_service(compute):
    """The ops commands branch on "compute": a function's name in "name" and "function", the ECS-only fields
    empty; the ECS service's name, container and scalable target otherwise."""
    text, variables = stack(SECOND, TWO_SERVICES_LAMBDA if compute == "Lambda" else TWO_SERVICES,
                            Compute=compute)["Outputs"]["Descriptor"]["Value"]["Fn::Sub"]
    assert variables["Kind"] == compute.lower()
    if compute == "Lambda":
        assert variables["Name"] == variables["FunctionName"] == {"Ref": "Function"}
        assert variables["Container"] == variables["ScalableTarget"] == ""
    else:
        assert variables["Name"] == {"Fn::GetAtt": ["Service", "Name"]} and variables["FunctionName"] == ""
        assert variables["Container"] == "api"
        assert variables["ScalableTarget"] == {"Fn::Sub": "service/${ClusterName}/${Service.Name}"}


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


@pytest.mark.parametrize("bad", ["/api/", "/api/second/", "/api/re\"ports", "/api/a b", "/apix", "/api/{x}", "api"])
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


def test_the_namespace_outlives_an_ingress_switch_and_exists_only_for_fargate():
    """Not conditional on Ingress: an orphaned namespace (its delete failing in cleanup while the services'
    Cloud Map services still use it) would make the switch back create the same name in the same VPC and
    fail. Services register in it only with Ingress=HttpApi on Fargate. With Compute=Lambda nothing
    registers, and its private zone ($0.50/month, https://aws.amazon.com/route53/pricing/) is not made:
    the services get NamespaceId "" (issue 20's idle goal)."""
    cluster = template("cluster.yml")
    assert cluster["Resources"]["ServiceDiscoveryNamespace"]["Condition"] == "HasNamespace"
    assert cluster["Conditions"]["HasNamespace"] == {"Fn::Equals": [{"Ref": "ServiceDiscovery"}, "true"]}
    for ingress in ("HttpApi", "LoadBalancer"):
        assert stack("ClusterStack", Ingress=ingress)["Resources"]["ServiceDiscoveryNamespace"]
    lambda_cluster = stack("ClusterStack", Compute="Lambda")
    assert "ServiceDiscoveryNamespace" not in lambda_cluster["Resources"]
    assert lambda_cluster["Outputs"]["NamespaceId"]["Value"] == ""
    assert template("service.yml")["Resources"]["CloudMapService"]["Condition"] == "FargateHttpApi"


# ---------------------------------------------------------------- environment and secrets
def slots(kind: str) -> int:
    return sum(1 for c in template("service.yml")["Conditions"] if re.fullmatch(f"Has{kind}[0-9]+", c))


def test_a_block_gives_its_service_any_environment_without_editing_service_yml():
    """The generated second service passes three variables of its own. No slot named in service.yml, and
    nothing of one service's in the other's (the sample's own two: tests/templates/notes/)."""
    second = environment(service(SECOND, TWO_SERVICES))
    assert {k: second[k] for k in ("A", "B", "C")} == {"A": "1", "B": "two", "C": "3"}
    first = environment(service("NotesService", TWO_SERVICES))
    assert not {"A", "B", "C"} & set(first) and not set(first) - set(environment(service("NotesService")))
    assert "EnvName1" not in template("service.yml")["Parameters"]


@pytest.mark.parametrize("count", [0, 1, 7, 20])
def test_any_count_up_to_the_bound_renders_exactly_that_many(count):
    """Any count up to the documented bound becomes exactly that many variables (the padding keeps every
    Fn::Select in range: the all-branches check proves it for every region and branch; past the bound, make
    cost and make preflight refuse the block: tests/cost)."""
    from checks.render import Renderer
    names = ",".join(f"V{i}" for i in range(count))
    values = ",".join(str(i) for i in range(count))
    r = Renderer(template("service.yml"), {"EnvironmentNames": names, "EnvironmentValues": values,
                                           "SecretNames": names, "SecretArns": ",".join(
                                               f"arn:aws:ssm:us-east-1:123456789012:parameter/v{i}" for i in range(count))
                                           }).render()["Resources"]
    env = {k: v for k, v in environment(r).items() if k.startswith("V")}
    assert env == {f"V{i}": str(i) for i in range(count)}
    secrets = [s for s in container(r).get("Secrets", []) if s["Name"].startswith("V")]
    assert [s["Name"] for s in secrets] == [f"V{i}" for i in range(count)]
    assert slots("Env") == slots("Secret") == 20


def test_secrets_reach_the_container_and_only_its_own_execution_role_reads_them():
    second = service(SECOND, TWO_SERVICES)
    secrets = {s["Name"]: s["ValueFrom"] for s in container(second)["Secrets"]}
    assert secrets["API_KEY"] == "arn:aws:ssm:us-east-1:123456789012:parameter/second/api-key"
    assert secrets["DB_PASSWORD"].endswith(":secret:second-db-AbCdEf")
    assert "ORIGIN_VERIFY_SECRET" in secrets
    role = second["ExecutionRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert statements[0]["Resource"] == [
        "arn:aws:ssm:us-east-1:123456789012:parameter/second/api-key",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:second-db-AbCdEf"], "exactly its secrets"
    assert second["TaskDefinition"]["Properties"]["ExecutionRoleArn"] == {"Fn::GetAtt": ["ExecutionRole", "Arn"]}
    notes = service("NotesService", TWO_SERVICES)
    assert "ExecutionRole" not in notes, "no secrets of its own: the cluster's shared role"
    assert notes["TaskDefinition"]["Properties"]["ExecutionRoleArn"] == {"Ref": "TaskExecutionRoleArn"}


def test_the_container_contract_is_a_property_with_todays_values_as_defaults():
    spec = template("service.yml")["Parameters"]
    assert spec["HealthCheckCommand"]["Default"] == "CMD,python,/srv/healthcheck.py"
    assert spec["User"]["Default"] == "10001:10001" and spec["GracefulTimeout"]["Default"] == 20
    notes = container(service())
    assert notes["HealthCheck"]["Command"] == ["CMD", "python", "/srv/healthcheck.py"] and notes["User"] == "10001:10001"
    second = container(service(SECOND, TWO_SERVICES))
    assert second["HealthCheck"]["Command"] == ["CMD", "/srv/healthcheck"] and second["User"] == "1000:1000"
    assert environment(service(SECOND, TWO_SERVICES))["GRACEFUL_TIMEOUT"] == 10
    # Nothing of the sample's language in the task definition itself (its comments may name the sample).
    definition = json.dumps(template("service.yml")["Resources"]["TaskDefinition"]).lower()
    assert not [word for word in ("python", "gunicorn", "10001", "healthcheck.py") if word in definition]


# ---------------------------------------------------------------- the stop sequence of every block
STOP_MARGIN = 10  # seconds between the end of the drain and SIGKILL (service.yml's App mapping)


@pytest.mark.parametrize("parent_file", [PARENT_FILE, TWO_SERVICES], ids=["parent", "two-services"])
@pytest.mark.parametrize("ingress", template("parent.yml")["Parameters"]["Ingress"]["AllowedValues"])
def test_every_graceful_timeout_the_template_accepts_ends_before_sigkill(parent_file, ingress):
    """For every service block and ingress, every GracefulTimeout service.yml accepts (MinValue..MaxValue:
    CloudFormation refuses the rest) fits: DRAIN_DELAY + GRACEFUL_TIMEOUT + margin <= StopTimeout. A value
    the template let through but ECS cut short would SIGKILL requests mid-drain."""
    spec = template("service.yml")["Parameters"]["GracefulTimeout"]
    accepted = range(int(spec["MinValue"]), int(spec["MaxValue"]) + 1)
    assert int(spec["Default"]) in accepted
    for name, block in given(template(parent_file), "GracefulTimeout").items():
        assert int(block["GracefulTimeout"]) in accepted, (name, block)
        rendered = service(name, parent_file, Ingress=ingress)
        env, stop = environment(rendered), int(container(rendered)["StopTimeout"])
        assert int(env["GRACEFUL_TIMEOUT"]) == int(block["GracefulTimeout"])
        drain = int(env["DRAIN_DELAY"])
        too_long = [g for g in accepted if drain + g + STOP_MARGIN > stop]
        assert not too_long, f"{name} behind {ingress}: GracefulTimeout {too_long} outlast StopTimeout {stop}"
