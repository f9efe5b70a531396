"""Compute=Lambda: the same image as a function behind the same HTTP API routes (issue 20). What users see is
pinned on the renderings: no ECS, Cloud Map or security-group resource for a Lambda service, the function's
settings (its image by digest, architecture, memory, a timeout under API Gateway's, the adapter's variables),
the route logical ids the URL hangs on unchanged between the modes, and the Cloud Map namespace absent when no
service runs on Fargate. Only a deploy proves the adapter and the integration at work (docs/compute.md)."""
from __future__ import annotations

import pytest

from checks.evaluate import Evaluator, broken_rules, child_values
from checks.render import SECOND, TWO_SERVICES, TWO_SERVICES_LAMBDA, WIRED, template
from tests.templates.conftest import IMAGE, service, stack

# Types that exist only for a task: ECS, Cloud Map, security groups, autoscaling.
FARGATE_TYPES = ("AWS::ECS::", "AWS::ServiceDiscovery::", "AWS::EC2::", "AWS::ApplicationAutoScaling::")
ROUTES = {"HttpApiRoute", "HttpApiPrefixRoute"}


def lambda_service(name: str = "NotesService", parent: str = TWO_SERVICES_LAMBDA, **values: str) -> dict:
    return service(name, parent, Compute="Lambda", **{**WIRED, **values})


def variables(resources: dict) -> dict:
    return resources["Function"]["Properties"]["Environment"]["Variables"]


@pytest.mark.parametrize("name", ["NotesService", SECOND])
def test_a_lambda_service_has_no_task_no_vpc_resource_and_no_cloud_map_service(name):
    resources = lambda_service(name)
    fargate = sorted(n for n, r in resources.items() if r["Type"].startswith(FARGATE_TYPES))
    assert fargate == [], f"{name} keeps {fargate} with Compute=Lambda"
    assert "VpcConfig" not in resources["Function"]["Properties"]
    assert {"Function", "FunctionRole", "FunctionPermission", "FunctionIntegration", "LogGroup"} <= set(resources)
    assert "TaskRole" not in resources and "ExecutionRole" not in resources
    # ...and a Fargate service has none of the function's.
    fargate_service = service(name, TWO_SERVICES)
    assert not {"Function", "FunctionRole", "FunctionPermission", "FunctionIntegration"} & set(fargate_service)
    assert "Service" in fargate_service


def test_the_routes_keep_their_logical_ids_and_only_their_target_switches():
    """The URL hangs on the routes: a switch between the modes updates their Target in place (the same logical
    ids, the same RouteKey), never replaces them."""
    on_fargate, on_lambda = service("NotesService"), lambda_service(parent="parent.yml")
    assert ROUTES <= set(on_fargate) and ROUTES <= set(on_lambda)
    for route in ROUTES:
        before, after = on_fargate[route]["Properties"], on_lambda[route]["Properties"]
        assert {k: v for k, v in before.items() if k != "Target"} == {k: v for k, v in after.items() if k != "Target"}
        assert before["Target"] == {"Fn::Sub": "integrations/${HttpApiIntegration}"}
        assert after["Target"] == {"Fn::Sub": "integrations/${FunctionIntegration}"}


def test_the_routes_move_only_once_what_answers_behind_them_is_ready():
    """A switch updates the routes' Target to an integration the same update creates; CloudFormation creates a
    resource once what it depends on is created, so each integration depends on what answers behind it: the
    ECS service (created stable) on Fargate, the function's permission on Lambda
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html). Without it,
    Lambda -> Fargate would point the routes at the VPC link's 503s until the first task registers. No
    WaitConditionHandle in between: AWS documents that type as not updatable."""
    for resources, integration, behind in ((service("NotesService"), "HttpApiIntegration", "Service"),
                                           (lambda_service(parent="parent.yml"), "FunctionIntegration",
                                            "FunctionPermission")):
        assert resources[integration]["DependsOn"] == behind and behind in resources
        for route in ROUTES:
            assert resources[route]["Properties"]["Target"] == {"Fn::Sub": f"integrations/${{{integration}}}"}


def test_the_function_runs_the_image_by_digest_for_the_blocks_architecture_and_memory():
    """Same-tag image URIs do not redeploy a function (aws/aws-sam-cli#3870): the built image's digest URI
    (the Image resource's answer) or the given one. An image for one architecture on a function of the other
    fails only at invoke (aws/aws-lambda-base-images#26): the block's Architecture feeds both."""
    built = lambda_service()["Function"]["Properties"]
    assert built["PackageType"] == "Image"
    assert built["Code"] == {"ImageUri": {"Fn::GetAtt": ["Image", "ImageUri"]}}
    assert built["Architectures"] == ["arm64"] and built["MemorySize"] == 512
    assert "Handler" not in built and "Runtime" not in built
    second = lambda_service(SECOND)["Function"]["Properties"]  # X86_64, 1024 MiB
    assert second["Architectures"] == ["x86_64"] and second["MemorySize"] == 1024
    given = lambda_service(parent="parent.yml", ImageUri=IMAGE)["Function"]["Properties"]
    assert given["Code"] == {"ImageUri": "x@sha256:" + "0" * 64}


@pytest.mark.parametrize("name, profile, reserved", [("NotesService", "dev", "10"), ("NotesService", "prod", "50"),
                                                     (SECOND, "dev", "5")])
def test_the_cap_owns_the_reservation_and_passes_the_blocks_value(name, profile, reserved):
    """A reservation on the Function would fail and roll back the stack on an account whose quota leaves no room
    (a new account's 10: https://docs.aws.amazon.com/lambda/latest/dg/API_PutFunctionConcurrency.html), so the
    Function sets none and ConcurrencyCap (functions/concurrency_cap.py) sets the block's: the sample's from the
    Profile mapping (dev 10, prod 50), the second service's literal 5. It names the Function, and exists only
    with Compute=Lambda."""
    resources = lambda_service(name, Profile=profile)
    assert "ReservedConcurrentExecutions" not in resources["Function"]["Properties"]
    cap = resources["ConcurrencyCap"]
    assert cap["Type"] == "Custom::ConcurrencyCap"
    assert cap["Properties"]["FunctionName"] == {"Ref": "Function"}
    assert str(cap["Properties"]["ReservedConcurrency"]) == reserved
    assert cap["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["ConcurrencyCapFunction", "Arn"]}
    assert not {"ConcurrencyCap", "ConcurrencyCapFunction", "ConcurrencyCapRole", "ConcurrencyCapLogGroup"} & set(
        service(name, TWO_SERVICES)), "a Fargate service has no cap"


def test_an_empty_reservation_in_a_block_still_means_none():
    """ReservedConcurrency "" in a block reaches the cap as "", which removes any reservation
    (DeleteFunctionConcurrency)."""
    import copy

    from checks.render import nested_renderings
    parent = copy.deepcopy(template("parent.yml"))
    parent["Resources"]["NotesService"]["Properties"]["Parameters"]["ReservedConcurrency"] = ""
    values = {**WIRED, "Compute": "Lambda"}
    resources = nested_renderings(parent, values)["NotesService"][1]["Resources"]
    # (the rendering keeps a Ref to an empty value as the Ref; the value the block passes is "")
    assert resources["ConcurrencyCap"]["Properties"]["ReservedConcurrency"] == {"Ref": "ReservedConcurrency"}
    assert child_values(Evaluator(parent, values, "us-east-1"), "NotesService")["ReservedConcurrency"] == ""
    assert "ReservedConcurrentExecutions" not in resources["Function"]["Properties"]


def test_the_function_stops_before_api_gateway_gives_up():
    """An HTTP API integration waits at most 30 s (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html):
    a function running longer bills for an answer nobody receives."""
    resources = lambda_service()
    assert resources["Function"]["Properties"]["Timeout"] <= 29
    integration = resources["FunctionIntegration"]["Properties"]
    assert integration["IntegrationType"] == "AWS_PROXY" and integration["PayloadFormatVersion"] == "2.0"
    assert integration["TimeoutInMillis"] <= 30000
    assert integration["IntegrationUri"] == {"Fn::GetAtt": ["Function", "Arn"]}
    assert integration["RequestParameters"] == {"overwrite:header.X-Request-Id": "$context.requestId"}


def test_the_adapter_is_configured_for_the_apps_port_and_health_check():
    """The Lambda Web Adapter's variables (https://github.com/aws/aws-lambda-web-adapter, README
    "Configurations"): the app's port, ready only on a 2xx from the health check (0.9.1's
    AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS and 1.0's AWS_LWA_READINESS_CHECK_HEALTHY_STATUS; the default
    would take a 404 for ready). DRAIN_DELAY 0: Lambda gives the runtime 300 ms after SIGTERM
    (https://github.com/aws-samples/graceful-shutdown-with-aws-lambda)."""
    env = variables(lambda_service(SECOND))  # ContainerPort 8080, its prefix /api/second
    assert env["PORT"] == env["AWS_LWA_PORT"] == 8080
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/api/second/health-check"
    assert env["AWS_LWA_READINESS_CHECK_MIN_UNHEALTHY_STATUS"] == "300"
    assert env["AWS_LWA_READINESS_CHECK_HEALTHY_STATUS"] == "200-299"
    assert env["DRAIN_DELAY"] == "0" and env["WEB_CONCURRENCY"] == "1"
    # The block's own environment, as two lists the entrypoint turns into variables (names cannot be keys).
    assert env["SERVICE_ENVIRONMENT_NAMES"] == "A,B,C" and env["SERVICE_ENVIRONMENT_VALUES"] == "1,two,3"
    # The origin value by the same dynamic reference CloudFront's origin header uses.
    assert env["ORIGIN_VERIFY_SECRET"] == {"Fn::Sub": "{{resolve:secretsmanager:${OriginVerifySecretArn}:SecretString:"
                                                      "${OriginVerifySecretKey}}}"}


def test_api_gateway_may_invoke_the_function_only_for_this_apis_routes_under_the_prefix():
    permission = lambda_service(SECOND)["FunctionPermission"]["Properties"]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    # api-id/stage/method/path (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-iam-policy-examples-for-api-execution.html)
    assert permission["SourceArn"]["Fn::Sub"].endswith(":${ApiId}/*/*${PathPrefix}*")
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_lambda_pulls_the_services_image_and_only_for_this_accounts_functions():
    """Lambda pulls a function's image as lambda.amazonaws.com (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html);
    on Fargate the repository has no such statement."""
    def statements(resources):
        return {s["Sid"]: s for s in resources["Repository"]["Properties"]["RepositoryPolicyText"]["Statement"]}
    pulls = statements(lambda_service())["LambdaPulls"]
    assert pulls["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert sorted(pulls["Action"]) == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert pulls["Condition"]["StringLike"]["aws:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*"}
    assert "LambdaPulls" not in statements(service("NotesService"))


def test_the_namespace_is_absent_and_the_services_get_none_in_lambda_mode():
    assert "ServiceDiscoveryNamespace" not in stack("ClusterStack", Compute="Lambda")["Resources"]
    assert "ServiceDiscoveryNamespace" in stack("ClusterStack")["Resources"]


def test_the_parent_refuses_lambda_behind_the_load_balancer_with_the_reason():
    """`sam deploy --guided` (and a change set) stops on the parent's Rule before anything changes."""
    values = {**WIRED, "Compute": "Lambda", "Ingress": "LoadBalancer"}
    assert broken_rules(template("parent.yml"), values) == ["LambdaNeedsHttpApi"]
    (reason,) = Evaluator(template("parent.yml"), values, "us-east-1", "parent.yml").rule_failures()
    assert "Ingress=HttpApi" in reason and "$16" in reason and "1 MB" in reason
    assert broken_rules(template("parent.yml"), {**WIRED, "Compute": "Lambda"}) == []


def test_every_block_passes_the_parents_compute():
    """The sample's block and a generated one pass Compute: !Ref Compute, so one parameter switches them all."""
    for parent in (TWO_SERVICES, TWO_SERVICES_LAMBDA):
        for name in ("NotesService", SECOND):
            assert template(parent)["Resources"][name]["Properties"]["Parameters"]["Compute"] == {"Ref": "Compute"}


def test_the_entrypoint_gives_the_server_the_blocks_environment_as_the_function_passes_it():
    """With Compute=Lambda the block's variables arrive as two lists (SERVICE_ENVIRONMENT_NAMES/VALUES);
    app/entrypoint.py sets each before the server starts, so the app reads NOTES_TABLE as it does on Fargate."""
    import importlib.util

    from checks.render import ROOT
    spec = importlib.util.spec_from_file_location("entrypoint", ROOT / "app" / "entrypoint.py")
    entrypoint = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entrypoint)
    env = {k: str(v) for k, v in variables(lambda_service(SECOND)).items() if isinstance(v, (str, int))}
    server = entrypoint.service_environment(env)
    assert {k: server[k] for k in ("A", "B", "C")} == {"A": "1", "B": "two", "C": "3"}
    assert server["PORT"] == "8080"
    assert entrypoint.service_environment({"PORT": "8000"}) == {"PORT": "8000"}  # on Fargate: nothing added


def test_every_variable_the_function_sets_is_read_by_the_app_the_entrypoint_or_the_adapter():
    """As for the task (test_contract.py): a renamed setting on either side would be ignored silently. The
    adapter's own (AWS_LWA_*) are read by the extension, SERVICE_ENVIRONMENT_* by app/entrypoint.py."""
    from checks.render import ROOT
    from tests.templates.test_contract import APP_SETTINGS
    read = {name.upper() for name in APP_SETTINGS}
    for field in APP_SETTINGS.values():
        read |= {a.upper() for a in getattr(field.validation_alias, "choices", []) if isinstance(a, str)}
    entrypoint = (ROOT / "app" / "entrypoint.py").read_text()
    for name in variables(lambda_service(SECOND)):
        assert name in read or name.startswith("AWS_LWA_") or f'"{name}"' in entrypoint, \
            f"the function sets {name}, which nothing in the image reads"


def test_a_block_may_pin_its_service_to_one_compute():
    """A fork may run one service on Lambda and another on Fargate: new-service's block takes a literal."""
    from blueprint.services import add_to_parent, decode
    from checks.render import ROOT
    text = add_to_parent((ROOT / "parent.yml").read_text(), "reports", "/api/reports", "app", 100, {"Compute": "Lambda"})
    assert decode(text)["Resources"]["ReportsService"]["Properties"]["Parameters"]["Compute"] == "Lambda"
