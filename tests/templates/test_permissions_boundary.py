"""Every IAM role the stack creates carries parent.yml's PermissionsBoundaryArn. The CloudFormation
service role CI deploys through may create or grant to a role only when the role has that boundary
(deploy/cloudformation-service-role-policy.json, tests/docker/test_github_deploy.py), so a role without the
wiring fails CI's deploy, and a change set cannot create an unbounded role (an account-admin backdoor).
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html"""
from __future__ import annotations

import pytest

from checks.evaluate import nested_stacks
from checks.render import PARENT, TWO_SERVICES, parents, template
from tests.templates.conftest import SOURCES

WIRED = {"Fn::If": ["HasBoundary", {"Ref": "PermissionsBoundaryArn"}, {"Ref": "AWS::NoValue"}]}
CREATES_ROLES = ("AWS::IAM::Role",)


def roles(template: dict) -> dict[str, dict]:
    return {n: r for n, r in template.get("Resources", {}).items() if r["Type"] in CREATES_ROLES}


def boundary_problems(template: dict) -> list[str]:
    """What a template that creates roles lacks: the parameter, the condition, the wiring on each role."""
    found = roles(template)
    if not found:
        return []
    problems = []
    if "PermissionsBoundaryArn" not in template.get("Parameters", {}):
        problems.append("no PermissionsBoundaryArn parameter")
    if template.get("Conditions", {}).get("HasBoundary") != {
            "Fn::Not": [{"Fn::Equals": [{"Ref": "PermissionsBoundaryArn"}, ""]}]}:
        problems.append("no HasBoundary condition (PermissionsBoundaryArn not empty)")
    for name, resource in found.items():
        if resource.get("Properties", {}).get("PermissionsBoundary") != WIRED:
            problems.append(f"{name} has no PermissionsBoundary: !If [HasBoundary, !Ref PermissionsBoundaryArn, ...]")
    return problems


@pytest.mark.parametrize("source", SOURCES)
def test_every_role_in_every_template_gets_the_boundary(source):
    assert boundary_problems(template(source)) == []


def test_the_check_sees_a_role_without_it():
    bare = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {}}}}
    assert len(boundary_problems(bare)) == 3
    assert boundary_problems({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}) == []


def test_the_roles_exist_where_expected():
    """The general check above is not vacuous: the shared execution role and the namespace guard's role, each
    service's task role, and the execution role of a service with secrets of its own."""
    assert set(roles(template("cluster.yml"))) == {"TaskExecutionRole", "NamespaceGuardRole"}
    # and with Compute=Lambda, the function's role and its concurrency cap's
    assert set(roles(template("service.yml"))) == {"TaskRole", "ExecutionRole", "FunctionRole", "ConcurrencyCapRole"}


@pytest.mark.parametrize("parent_name", [PARENT, TWO_SERVICES])
def test_the_parent_passes_its_boundary_to_every_stack_that_creates_a_role(parent_name):
    parent = parents()[parent_name]
    spec = parent["Parameters"]["PermissionsBoundaryArn"]
    assert spec["Default"] == "", "no boundary unless asked: a deploy from an admin machine needs none"
    passed = 0
    for stack, location in nested_stacks(parent).items():
        if roles(template(location)):
            params = parent["Resources"][stack]["Properties"]["Parameters"]
            assert params.get("PermissionsBoundaryArn") == {"Ref": "PermissionsBoundaryArn"}, stack
            passed += 1
    assert passed >= (3 if parent_name == TWO_SERVICES else 2)


def trust_problems(template: dict) -> list[str]:
    """Each statement of a role's trust policy that lets an AWS service assume the role without
    aws:SourceAccount = this account (StringEquals): a service acting for another account could use it."""
    problems = []
    for name, resource in roles(template).items():
        for statement in resource.get("Properties", {}).get("AssumeRolePolicyDocument", {}).get("Statement", []):
            if "Service" not in (statement.get("Principal") or {}):
                continue
            condition = (statement.get("Condition") or {}).get("StringEquals", {})
            if condition.get("aws:SourceAccount") != {"Ref": "AWS::AccountId"}:
                problems.append(f"{name} trusts {statement['Principal']['Service']} without aws:SourceAccount")
    return problems


@pytest.mark.parametrize("source", SOURCES)
def test_every_role_a_service_assumes_is_limited_to_this_account(source):
    """Confused-deputy prevention, alike on every role. Lambda's developer guide on execution roles: "When a
    service assumes a role in your account, you can include the aws:SourceAccount and aws:SourceArn global
    condition context keys in your role trust policy"
    (https://docs.aws.amazon.com/lambda/latest/dg/permissions-managed-policies.html); CodeBuild and ECS
    document the same (https://docs.aws.amazon.com/codebuild/latest/userguide/cross-service-confused-deputy-prevention.html,
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cross-service-confused-deputy-prevention.html)."""
    assert trust_problems(template(source)) == []


def test_the_trust_check_sees_a_role_without_the_condition():
    bare = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}}}
    assert trust_problems(bare) == ["R trusts lambda.amazonaws.com without aws:SourceAccount"]
