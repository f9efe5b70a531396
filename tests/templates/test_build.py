"""The stack builds what it runs (issue 18): build.yml's CodeBuild project, buildspec, completion events and
roles, each service's repository and Custom::ImageBuild (service.yml), and the parent's source layers, held
to the contract with the image-build function (functions/image_build.py, ISSUE18's design).

Only a deploy proves that CodeBuild's ARM fleet runs the build, how long it takes and that EventBridge delivers
the completion event (docs/checks.md); these pin the configuration that AWS documents for it:
https://docs.aws.amazon.com/codebuild/latest/userguide/ec2-compute-images.html (images, environment types),
https://docs.aws.amazon.com/codebuild/latest/userguide/sample-docker.html (privileged mode for docker build),
https://docs.aws.amazon.com/codebuild/latest/userguide/sample-build-notifications.html (state-change events),
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html (ServiceTimeout)."""
from __future__ import annotations

import json
import re
import shlex
import subprocess

import pytest
import yaml

from blueprint.templates import service_resources
from checks.render import PARENT as PARENT_FILE
from checks.render import TWO_SERVICES, parents, template
from tests.templates.conftest import service, stack

BUILD = template("build.yml")["Resources"]
SERVICE = template("service.yml")["Resources"]
# What the function passes each build (environmentVariablesOverride), and what CodeBuild sets itself.
PASSED = {"SOURCE_LAYER_ARN", "REPOSITORY_URI", "IMAGE_TAG", "APP_VERSION", "CFN_REQUEST", "CFN_STACK_ID",
          "CFN_LOGICAL_ID"}
PUSH_AND_PULL = {"ecr:BatchCheckLayerAvailability", "ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage",
                 "ecr:UploadLayerPart", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:DescribeImages"}
BOTH_PARENTS = pytest.mark.parametrize("parent", list(parents().values()), ids=["parent", "two-services"])


def buildspec() -> dict:
    return yaml.safe_load(BUILD["Project"]["Properties"]["Source"]["BuildSpec"])


def commands() -> list[str]:
    return [c for phase in buildspec()["phases"].values() for c in phase["commands"]]


def test_the_buildspec_is_a_valid_version_0_2_document_whose_commands_parse():
    """Phases CodeBuild knows, each a list of shell commands (CodeBuild runs them with sh, one shell per
    phase: https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html), which sh parses."""
    spec = buildspec()
    assert spec["version"] == 0.2 and set(spec) == {"version", "phases"}
    assert set(spec["phases"]) <= {"install", "pre_build", "build", "post_build"}
    for phase in spec["phases"].values():
        assert set(phase) == {"commands"} and all(isinstance(c, str) for c in phase["commands"])
    script = "\n".join(commands())
    assert subprocess.run(["sh", "-n"], input=script, text=True, capture_output=True).returncode == 0
    broken = script.replace('"$url"', '"$url')  # the check is live: an unclosed quote fails
    assert subprocess.run(["sh", "-n"], input=broken, text=True, capture_output=True).returncode != 0


def test_the_build_uses_only_what_the_function_passes_it():
    used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", "\n".join(commands())))
    assert used <= PASSED and {"SOURCE_LAYER_ARN", "REPOSITORY_URI", "IMAGE_TAG", "APP_VERSION"} <= used


def test_the_build_fetches_a_fresh_source_url_builds_with_the_version_and_pushes_one_tag():
    """The layer's presigned URL is asked for when the build runs (it lasts 10 minutes), so a build that
    waited in the queue never holds an expired one; the image carries APP_VERSION (the health check's)."""
    pre, build = buildspec()["phases"]["pre_build"]["commands"], buildspec()["phases"]["build"]["commands"]
    assert pre[0].startswith('url=$(aws lambda get-layer-version-by-arn --arn "$SOURCE_LAYER_ARN" '
                             "--query Content.Location")
    assert any("docker login" in c and "get-login-password" in c for c in pre)
    (docker_build,) = [c for c in build if c.startswith("docker build")]
    assert '--build-arg APP_VERSION="$APP_VERSION"' in docker_build
    assert '"$REPOSITORY_URI:$IMAGE_TAG"' in docker_build
    assert build[-1] == 'docker push "$REPOSITORY_URI:$IMAGE_TAG"'


def test_the_build_pushes_one_platforms_image_manifest_without_attestations():
    """Lambda runs one platform's image manifest and refuses an image index, which BuildKit pushes even for one
    platform when it attaches provenance (on by default since buildx 0.10) or an SBOM ("The image manifest,
    config or layer media type for the source image ... is not supported": https://github.com/docker/buildx/issues/1533,
    https://github.com/aws/aws-lambda-roadmap/issues/82; "Lambda does not support functions that use
    multi-architecture container images": https://docs.aws.amazon.com/lambda/latest/dg/images-create.html).
    So the build turns both off and names no second platform; it builds on its own architecture's fleet
    (functions/image_build.py picks it). Only a deploy proves CodeBuild's Docker honours the flags; the image
    custom resource refuses an index if it did not (tests/functions/test_image_build.py)."""
    (docker_build,) = [c for c in buildspec()["phases"]["build"]["commands"] if c.startswith("docker build")]
    words = shlex.split(docker_build)
    assert "--provenance=false" in words and "--sbom=false" in words
    assert not [w for w in words if w.startswith(("--platform", "--attest"))]
    assert not [c for c in commands() if "buildx" in c or "imagetools" in c or "manifest" in c]


def test_the_build_signs_in_to_ecr_public_before_it_pulls_the_base_image():
    """An anonymous pull from ECR Public is limited to 1 a second per address, which CodeBuild's shared
    addresses exceed ("toomanyrequests: Rate exceeded": aws/aws-lambda-web-adapter#429, aws/aws-cdk#23923);
    signed in, 10. The token comes from us-east-1 whatever the region, and needs both actions, which take no
    resource ARN: https://docs.aws.amazon.com/AmazonECR/latest/public/public-registries.html#public-registry-auth
    The sign-in is best effort: an organization's SCP denying us-east-1 would otherwise fail every build, where
    an anonymous pull works (only more slowly allowed)."""
    pre = buildspec()["phases"]["pre_build"]["commands"]
    (login,) = [c for c in pre if "ecr-public get-login-password" in c]
    assert login.startswith("(aws ecr-public get-login-password --region us-east-1 | docker login --username AWS "
                            "--password-stdin public.ecr.aws) || echo ")
    build = statements("BuildRole")
    assert build["ecr-public:GetAuthorizationToken"] == "*" == build["sts:GetServiceBearerToken"]


def test_the_project_is_created_in_every_region_with_docker_and_ends_before_cloudformation_gives_up():
    """The project's own environment is LINUX_CONTAINER with the Amazon Linux x86_64 standard image, which
    every CodeBuild region offers: ARM_CONTAINER is listed in some regions only
    (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectEnvironment.html), and CreateProject
    with it elsewhere would fail the whole build stack. Each build overrides type and image per architecture
    (tests/functions). Privileged for the Docker daemon; its running and queued limits together end a build
    before any custom resource's ServiceTimeout, so the deploy fails with the build's reason, not CloudFormation's."""
    props = BUILD["Project"]["Properties"]
    env = props["Environment"]
    assert env == {"Type": "LINUX_CONTAINER", "Image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
                   "ComputeType": "BUILD_GENERAL1_SMALL", "PrivilegedMode": True}
    assert props["Source"]["Type"] == "NO_SOURCE" and props["Artifacts"] == {"Type": "NO_ARTIFACTS"}
    assert props["LogsConfig"]["CloudWatchLogs"] == {"Status": "ENABLED", "GroupName": {"Ref": "BuildLogGroup"}}
    limit = (props["TimeoutInMinutes"] + props["QueuedTimeoutInMinutes"]) * 60
    timeouts = [r["Properties"]["ServiceTimeout"] for r in SERVICE.values() if r["Type"] == "Custom::ImageBuild"]
    assert timeouts and all(limit < t for t in timeouts)


def test_completion_events_of_this_project_reach_the_function():
    rule = BUILD["BuildEvents"]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.codebuild"], "detail-type": ["CodeBuild Build State Change"],
        "detail": {"project-name": [{"Ref": "Project"}], "build-status": [{"anything-but": "IN_PROGRESS"}]}}
    assert rule["Targets"] == [{"Id": "builder", "Arn": {"Fn::GetAtt": ["Builder", "Arn"]}}]
    permission = BUILD["BuildEventsPermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["BuildEvents", "Arn"]}


def test_the_function_is_the_one_functions_module_the_design_names():
    props = BUILD["Builder"]["Properties"]
    assert props["Code"] == "functions/" and props["Handler"] == "image_build.handler"
    assert props["Runtime"] == "python3.13" and props["Architectures"] == ["arm64"]
    assert props["Environment"] == {"Variables": {"PROJECT_NAME": {"Ref": "Project"}, "REQUESTS_TABLE": {"Ref": "RequestsTable"}}}
    assert props["LoggingConfig"] == {"LogGroup": {"Ref": "BuilderLogGroup"}}


def statements(role: str) -> dict[str, object]:
    """{action: resource} of one role's inline policy in build.yml."""
    (policy,) = BUILD[role]["Properties"]["Policies"]
    out = {}
    for statement in policy["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        out |= {a: statement["Resource"] for a in actions}
    return out


LAYERS = {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:layer:"
                     "${SourceLayerPrefix}-source-*:*"}


def test_the_roles_grant_what_the_function_and_the_build_call_and_no_push():
    """Pushing is the repositories' grant (their policy), not the build role's: it can push to the
    stack's repositories and nowhere else."""
    build, builder = statements("BuildRole"), statements("BuilderRole")
    assert build["lambda:GetLayerVersion"] == LAYERS == builder["lambda:GetLayerVersion"]
    assert build["ecr:GetAuthorizationToken"] == "*"
    assert not {a for a in build if a.startswith("ecr:")} - {"ecr:GetAuthorizationToken"}
    for action in ("codebuild:StartBuild", "codebuild:BatchGetBuilds", "codebuild:StopBuild",
                   "codebuild:ListBuildsForProject"):
        assert builder[action] == {"Fn::GetAtt": ["Project", "Arn"]}
    assert "ecr:DescribeImages" in builder and "ecr:BatchGetImage" in builder and "logs:GetLogEvents" in builder
    assert not [a for a in builder if a.startswith("ecr:") and a not in ("ecr:DescribeImages", "ecr:BatchGetImage")]


@BOTH_PARENTS
def test_every_build_context_is_a_source_layer_the_build_may_read(parent):
    """Each service's SourceLayerArn is a layer of the parent whose ContentUri is its Metadata.Build Context,
    named "<stack>-source-..." (what build.yml grants, SourceLayerPrefix being the parent's stack name),
    deleted with the stack, and with no BuildMethod (`sam build` leaves it as it is)."""
    assert parent["Resources"]["BuildStack"]["Properties"]["Parameters"]["SourceLayerPrefix"] == {"Ref": "AWS::StackName"}
    layers = {n: r for n, r in parent["Resources"].items() if r["Type"] == "AWS::Serverless::LayerVersion"}
    for layer in layers.values():
        props = layer["Properties"]
        assert re.fullmatch(r"\$\{AWS::StackName\}-source-[A-Za-z0-9_-]+", props["LayerName"]["Fn::Sub"])
        assert props["RetentionPolicy"] == "Delete" and "BuildMethod" not in str(layer.get("Metadata", {}))
    for name, resource in service_resources(parent).items():
        params = resource["Properties"]["Parameters"]
        layer = layers[params["SourceLayerArn"]["Ref"]]
        assert layer["Properties"]["ContentUri"] == resource["Metadata"]["Build"]["Context"], name
        assert params["ImageBuilderArn"] == {"Fn::GetAtt": ["BuildStack", "Outputs.ImageBuilderArn"]}
        assert params["BuildRoleArn"] == {"Fn::GetAtt": ["BuildStack", "Outputs.BuildRoleArn"]}


def test_a_built_service_owns_a_repository_the_build_role_may_push_to():
    resources = service()
    repository = resources["Repository"]["Properties"]
    (grant,) = repository["RepositoryPolicyText"]["Statement"]
    assert grant["Principal"] == {"AWS": {"Ref": "BuildRoleArn"}} and set(grant["Action"]) == PUSH_AND_PULL
    assert repository["EncryptionConfiguration"] == {"EncryptionType": "AES256"}
    assert "RepositoryName" not in repository
    image = resources["Image"]["Properties"]
    assert image == {"ServiceToken": {"Ref": "ImageBuilderArn"}, "ServiceTimeout": 3600,
                     "SourceLayerArn": {"Ref": "SourceLayerArn"},
                     "RepositoryUri": {"Fn::GetAtt": ["Repository", "RepositoryUri"]}, "Architecture": "ARM64"}


def test_the_descriptor_reports_the_built_version_and_nothing_for_a_given_image():
    """`make smoke` compares the health check's version with it when it is not empty."""
    built = stack("NotesService")["Outputs"]["Descriptor"]["Value"]["Fn::Sub"]
    given = stack("NotesService", ImageUri="app=x@sha256:" + "0" * 64)["Outputs"]["Descriptor"]["Value"]["Fn::Sub"]
    assert built[1]["Version"] == {"Fn::GetAtt": ["Image", "Version"]}
    assert given[1]["Version"] == ""


def test_the_second_service_builds_for_its_own_architecture():
    assert service("SecondService", TWO_SERVICES)["Image"]["Properties"]["Architecture"] == "X86_64"


SAM_PACKAGES = """
import json
from samcli.lib.package.packageable_resources import RESOURCES_EXPORT_LIST
print(json.dumps(sorted({(r.RESOURCE_TYPE, r.PROPERTY_NAME) for r in RESOURCES_EXPORT_LIST})))
"""


def local_paths(doc: dict) -> list[tuple[str, str, str]]:
    """(type, property, value) of each top-level property that names a path in the repository (a directory or
    file beside the template, or a value ending in "/"): what `sam deploy` must upload for CloudFormation."""
    from checks.render import ROOT
    out = []
    for resource in doc.get("Resources", {}).values():
        for prop, value in (resource.get("Properties") or {}).items():
            if isinstance(value, str) and "://" not in value and re.fullmatch(r"[A-Za-z0-9_./-]+", value) \
                    and (value.endswith("/") or (ROOT / value).exists()) and not value.startswith("/"):
                out.append((resource["Type"], prop, value))
    return out


def test_every_local_path_in_the_templates_is_one_sam_deploy_uploads():
    """`sam deploy` (sam package) uploads a local path only for the properties SAM CLI lists
    (samcli/lib/package/packageable_resources.py); any other would reach CloudFormation as a bare string. The
    build contexts (layers), the functions' code and the nested templates all qualify, by SAM CLI's own list."""
    from checks.render import CHILD_TEMPLATES
    from tests.templates.conftest import run, venv_tool
    result = run([venv_tool(".venv-sam", "python"), "-c", SAM_PACKAGES])
    packaged = {tuple(pair) for pair in json.loads(result.stdout)} | {("AWS::Serverless::Application", "Location")}
    found = [p for name in (PARENT_FILE, *CHILD_TEMPLATES) for p in local_paths(template(name))]
    assert {("AWS::Serverless::LayerVersion", "ContentUri", "app"), ("AWS::Lambda::Function", "Code", "functions/"),
            ("AWS::Serverless::Application", "Location", "build.yml")} <= set(found)
    assert [p for p in found if p[:2] not in packaged] == []
    assert ("AWS::ECS::TaskDefinition", "Family") not in packaged  # the list is SAM CLI's, not everything


# What Lambda's runtime itself writes with the function's role, beyond the calls of its code.
RUNTIME_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}


def functions_of(doc: dict) -> list[tuple[str, dict, list[dict]]]:
    """(name, properties, its role's policies) of each function with code in the repository and a role of its
    template. Not an image function (service.yml's Compute=Lambda): it runs the service's image, whose code's
    grants are the block's PolicyArns, as on Fargate."""
    out = []
    for name, resource in doc.get("Resources", {}).items():
        props = resource.get("Properties") or {}
        if resource["Type"] in ("AWS::Lambda::Function", "AWS::Serverless::Function") \
                and props.get("PackageType") != "Image":
            role = props.get("Role", {}).get("Fn::GetAtt", [None])[0]
            out.append((name, props, role_policies(doc, role) if role else []))
    return out


def role_policies(doc: dict, role: str) -> list[dict]:
    """The policies a role of `doc` gets: its inline Policies and each AWS::IAM::RolePolicy naming it."""
    inline = doc["Resources"][role]["Properties"].get("Policies", [])
    return [*inline, *(r["Properties"] for r in doc["Resources"].values() if r["Type"] == "AWS::IAM::RolePolicy"
                       and r["Properties"].get("RoleName") == {"Ref": role})]


def granted(policies: list[dict]) -> set[str]:
    return {a for policy in policies for s in policy["PolicyDocument"]["Statement"]
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]) if s["Effect"] == "Allow"}


def test_every_function_runs_a_handler_in_the_repository_and_its_role_allows_exactly_what_its_code_calls():
    """Each function's Code (or CodeUri) directory holds its Handler's module and function; its role allows every
    IAM action the module calls (tests/functions/aws_calls.py reads them from the source) and nothing else but
    what Lambda's runtime writes. A call added to a handler without its grant fails here, before any deploy."""
    import ast

    from checks.render import CHILD_TEMPLATES, ROOT
    from tests.functions.aws_calls import module_actions
    found = [f for name in CHILD_TEMPLATES for f in functions_of(template(name))]
    assert {"Builder", "Publisher", "PrefixListFunction", "NamespaceGuardFunction", "ConcurrencyCapFunction"} <= {
        name for name, _, _ in found}
    for name, props, policies in found:
        code = props.get("Code", props.get("CodeUri"))
        module, function = props["Handler"].rsplit(".", 1)
        source = ROOT / str(code) / f"{module}.py"
        assert source.is_file(), f"{name}: no {source.relative_to(ROOT)}"
        defined = {n.name for n in ast.parse(source.read_text()).body if isinstance(n, ast.FunctionDef)}
        assert function in defined, f"{name}: {module}.py defines no {function}"
        calls = module_actions(source)
        assert calls and calls <= granted(policies), f"{name}: its role lacks {sorted(calls - granted(policies))}"
        assert granted(policies) - calls <= RUNTIME_ACTIONS, f"{name}: its role allows {sorted(granted(policies) - calls)}"


def test_the_waiting_requests_table_is_the_functions_alone_and_forgets_them():
    """functions/image_build.py keeps each request (its ResponseURL answers the resource) in RequestsTable.
    Its resource-based policy denies every item action, reads and writes, to every principal whose
    aws:PrincipalArn is not the function's role: an explicit deny overrides an identity policy's allow, so
    ReadOnlyAccess or AmazonDynamoDBReadOnlyAccess read nothing there
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/access-control-resource-based.html,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html). Not
    NotPrincipal, which denies a role with a permissions boundary whatever it names
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html); not the
    control-plane actions, which CloudFormation needs to update and delete the table. No KMS key of its own
    (the AWS owned key: no grant), on-demand, an item's `expires` its TimeToLive. Named after its stack, so the
    policy names its own ARN (the examples of
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-create-table.html do) without a cycle.
    moto does not enforce resource policies: only a deploy proves the deny (docs/checks.md)."""
    table = BUILD["RequestsTable"]
    props = table["Properties"]
    assert props["TableName"] == {"Fn::Sub": "${AWS::StackName}-requests"}
    assert "SSESpecification" not in props and props["BillingMode"] == "PAY_PER_REQUEST"
    assert table.get("DeletionPolicy", "Delete") == "Delete"
    assert props["KeySchema"] == [{"AttributeName": "request_id", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    (deny,) = props["ResourcePolicy"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Principal"]) == ("Deny", "*")
    assert deny["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"
                                           "${AWS::StackName}-requests"}
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": ["BuilderRole", "Arn"]}}}
    items = {"GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem",
             "ConditionCheckItem", "PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete"}
    assert set(deny["Action"]) == {f"dynamodb:{a}" for a in items}
    # the function's grant, the actions its code calls, on this table only, outside the role (no cycle)
    (access,) = [p for p in role_policies(template("build.yml"), "BuilderRole") if "RoleName" in p]
    (statement,) = access["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["RequestsTable", "Arn"]}
    assert set(statement["Action"]) == {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"} < set(deny["Action"])
    assert BUILD["Builder"]["Properties"]["Environment"]["Variables"]["REQUESTS_TABLE"] == {"Ref": "RequestsTable"}
    assert not [a for a in granted(role_policies(template("build.yml"), "BuilderRole")) if a.startswith("ssm:")]


def test_the_permissions_boundary_lets_the_function_use_its_table_and_no_parameter():
    """CloudFormation names the table "<nested stack>-RequestsTable-<id>", the nested stack "<parent>-BuildStack-<id>":
    the boundary (deploy/, STACK standing for the parent's stack name) allows its item actions there, and no
    longer Parameter Store's."""
    import fnmatch
    from pathlib import Path

    arn = "arn:aws:dynamodb:REGION:ACCOUNT_ID:table/STACK-BuildStack-1A2B3C4D5E6F-RequestsTable-0F1E2D3C4B5A"
    boundary = json.loads((Path(__file__).resolve().parents[2] / "deploy/permissions-boundary-policy.json").read_text())
    for action in ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"):
        resources = [r for s in boundary["Statement"] if action in s["Action"]
                     for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
        assert any(fnmatch.fnmatchcase(arn, r) for r in resources), action
    assert not [a for s in boundary["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
                if a in ("ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter")]
