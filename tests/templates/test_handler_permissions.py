"""The CloudFormation service role CI deploys through lets every resource handler do its work.

For every resource type in every rendered variant (the nested stacks' resources, and the parent's after the
SAM transform: AWS::Serverless::Application becomes AWS::CloudFormation::Stack), every permission the type's
create, read, update and delete handlers list in CloudFormation's registry schema is granted by
deploy/cloudformation-service-role-policy.json, resource scoping respected, or is listed in
deploy/cloudformation-service-role-not-needed.yml with the reason no template needs it
(checks/role_permissions.py says how a grant is judged). A type a fork adds is covered without an edit here.

Only a deploy through the role proves that the handlers call nothing else and that IAM evaluates the
conditions as configured (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html)."""
from __future__ import annotations

import copy
import fnmatch
import json
import re

import pytest

from checks import role_permissions as rp
from checks.render import Renderer, renderings
from tests.templates.conftest import all_renderings, venv_tool

NOT_NEEDED = rp.not_needed()


@pytest.fixture(scope="module")
def types() -> set[str]:
    """Every resource type CloudFormation creates for some variant: the nested stacks' as rendered, the
    parents' as the SAM translator turns them into plain CloudFormation."""
    nested = {r["Type"] for stacks in all_renderings().values() for _, rendering in stacks.values()
              for r in rendering.get("Resources", {}).values()}
    parents = {json.dumps(Renderer(parent, values, "us-east-1").render(), sort_keys=True) for parent, values in renderings().values()}
    return nested | rp.transformed_types([json.loads(p) for p in sorted(parents)], venv_tool(".venv-sam", "python"))


@pytest.fixture(scope="module")
def policy() -> dict:
    return rp.read_policy()


@pytest.fixture(scope="module")
def gaps(types, policy) -> dict[tuple[str, str], str]:
    return rp.gaps(types, policy)


def unlisted(gaps: dict[tuple[str, str], str], entries: list[rp.NotNeeded]) -> list[str]:
    return sorted(f"{t} {p}: {why}" for (t, p), why in gaps.items() if not any(e.covers(t, p) for e in entries))


def stale(gaps: dict[tuple[str, str], str], entries: list[rp.NotNeeded]) -> list[str]:
    """Entries (or one of their permissions or types) that no longer cover a permission a type asks for."""
    out = []
    for entry in entries:
        covered = [k for k in gaps if entry.covers(*k)]
        for permission in entry.permissions:
            if not any(fnmatch.fnmatchcase(p.lower(), permission.lower()) for _, p in covered):
                out.append(f"{permission}: no type asks for it, or the role grants it now")
        out += [f"{entry.permissions} for {t}: not asked by that type" for t in entry.types
                if not any(k[0] == t for k in covered)]
    return out


def test_the_types_are_what_cloudformation_creates(types):
    assert not [t for t in types if t.startswith("AWS::Serverless::")], "the SAM transform's output, not its input"
    assert {"AWS::CloudFormation::Stack", "AWS::ServiceDiscovery::PrivateDnsNamespace", "AWS::ECS::TaskDefinition",
            "AWS::CloudFront::Distribution", "AWS::PricingPlanManager::Subscription", "AWS::Budgets::Budget",
            "AWS::Lambda::LayerVersion", "AWS::CodeBuild::Project", "Custom::ImageBuild", "AWS::Lambda::Function",
            "Custom::SitePublish", "Custom::CloudFrontPrefixList"} <= types


def test_every_type_says_what_its_handlers_call(types):
    """A type whose schema lists no handler permissions (a legacy provider such as AWS::CodeBuild::Project, a
    custom resource) would pass unchecked: checks/role_permissions.py's REVIEWED_HANDLERS must name its calls."""
    assert rp.unknown_types(types) == []
    assert rp.unknown_types({"AWS::CloudFormation::WaitCondition"}) == ["AWS::CloudFormation::WaitCondition"]  # live
    assert rp.handler_permissions("Custom::Anything") == {"lambda:InvokeFunction"}


def test_cloudformation_may_invoke_the_stacks_custom_resource_providers(policy):
    """CloudFormation invokes a custom resource's ServiceToken with the stack's credentials, the service role
    when one is used (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html):
    the role may invoke the stack's functions, and that grant is no grant for another type."""
    assert rp.refusal(policy, "Custom::ImageBuild", "lambda:InvokeFunction") is None
    assert rp.refusal(policy, "AWS::ECS::Service", "lambda:InvokeFunction") is not None


def test_cloudformation_may_invoke_the_custom_resources_functions_and_only_the_stacks(policy, types):
    """A custom resource's handler is its ServiceToken's function, which CloudFormation invokes with the service
    role (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html): every
    Custom:: type asks lambda:InvokeFunction on a function, and the role grants it on the stack's functions only."""
    custom = sorted(t for t in types if t.startswith("Custom::"))
    assert custom and all(rp.handler_permissions(t) == {"lambda:InvokeFunction"} for t in custom)
    for resource_type in custom:
        assert rp.refusal(policy, resource_type, "lambda:InvokeFunction") is None
    (invoke,) = [s for s in rp.statements(policy) if "lambda:InvokeFunction" in rp.as_list(s["Action"])]
    assert invoke["Resource"] == "arn:aws:lambda:REGION:ACCOUNT_ID:function:STACK-*"
    without = {**policy, "Statement": [s for s in rp.statements(policy) if s is not invoke]}
    assert unlisted(rp.gaps(set(custom), without), NOT_NEEDED) == [
        f"{t} lambda:InvokeFunction: no statement allows it" for t in custom]


def test_the_service_role_grants_every_handler_permission_or_lists_it_as_not_needed(gaps):
    assert unlisted(gaps, NOT_NEEDED) == []


def test_every_not_needed_entry_is_reasoned_and_still_needed(gaps):
    for entry in NOT_NEEDED:
        assert len(entry.reason) > 20, f"{entry.permissions}: say why no template needs it"
    assert stale(gaps, NOT_NEEDED) == []


def test_cloud_map_may_create_the_namespaces_private_zone(policy):
    """CreatePrivateDnsNamespace creates a Route 53 private hosted zone with the caller's permissions:
    route53:CreateHostedZone, GetHostedZone and ListHostedZonesByName on a zone that does not exist yet
    (https://docs.aws.amazon.com/cloud-map/latest/dg/cloud-map-api-permissions-ref.html). Without them a
    deploy through the role fails wherever the namespace is created or replaced (first create, VpcCidr)."""
    namespace = "AWS::ServiceDiscovery::PrivateDnsNamespace"
    for action in ("route53:CreateHostedZone", "route53:ListHostedZonesByName", "route53:GetHostedZone",
                   "ec2:DescribeVpcs", "servicediscovery:CreatePrivateDnsNamespace"):
        assert rp.refusal(policy, namespace, action) is None, action
    (create,) = [s for s in rp.statements(policy) if "route53:CreateHostedZone" in rp.as_list(s["Action"])]
    # Only private zones (a public one has no VPC) in the stack's region: the documented route53:VPCs key
    # (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-conditions-route53.html). On any
    # VPC of the region, as docs/security.md says: no aws:ViaAWSService, since Cloud Map's reference documents
    # the caller's own route53:CreateHostedZone, not a call Cloud Map makes on its behalf.
    assert create["Condition"] == {"ForAnyValue:StringLike": {"route53:VPCs": "VPCId=vpc-*,VPCRegion=REGION"}}
    # Writing records stays limited to the user's own zone.
    assert rp.refusal(policy, "AWS::Route53::RecordSet", "route53:ChangeResourceRecordSets") is None
    assert rp.refusal(policy, namespace, "route53:ChangeResourceRecordSets") is not None


def test_nested_stacks_run_as_the_service_role(policy):
    """A stack deployed with a service role creates its nested stacks as that role, passing it on: the role
    needs iam:PassRole on itself, to CloudFormation (aws-samples/sample-autonomous-cloud-coding-agents#865:
    "Creating any nested stack makes CloudFormation pass the execution role to itself")."""
    assert rp.refusal(policy, "AWS::CloudFormation::Stack", "iam:PassRole") is None
    passes = [s for s in rp.statements(policy) if s["Effect"] == "Allow" and "iam:PassRole" in rp.as_list(s["Action"])]
    to_cloudformation = [s for s in passes if s["Condition"]["StringEquals"]["iam:PassedToService"]
                         == "cloudformation.amazonaws.com"]
    assert [s["Resource"] for s in to_cloudformation] == ["arn:aws:iam::ACCOUNT_ID:role/CLOUDFORMATION_ROLE"]


def test_every_placeholder_that_names_one_resource_says_which_types_act_on_it(policy):
    """A grant on the user's zone or the stack's distribution is no grant for another type's resource."""
    text = rp.CFN_ROLE.read_text()
    named = set(re.findall(r"\b[A-Z][A-Z_]{3,}[A-Z]\b", text)) - {"ACCOUNT_ID", "REGION", "STACK"}
    assert named and named <= set(rp.PINNED)


def allow(action: str, resource="*", **condition) -> dict:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


NAMESPACE, RECORDS = "AWS::ServiceDiscovery::PrivateDnsNamespace", "AWS::Route53::RecordSet"
FUNCTION, DISTRIBUTION = "AWS::CloudFront::Function", "AWS::CloudFront::Distribution"


@pytest.mark.parametrize("statement, resource_type, action, why", [
    (allow("route53:*"), NAMESPACE, "route53:CreateHostedZone", None),
    (allow("route53:ListHostedZones"), NAMESPACE, "route53:ListHostedZonesByName", "no statement allows it"),
    (allow("route53:CreateHostedZone", "arn:aws:route53:::hostedzone/*"), NAMESPACE, "route53:CreateHostedZone",
     "takes no resource ARN"),
    (allow("route53:GetHostedZone", "arn:aws:route53:::hostedzone/*"), NAMESPACE, "route53:GetHostedZone", None),
    (allow("route53:GetHostedZone", "arn:aws:route53:::hostedzone/HOSTED_ZONE_ID"), NAMESPACE,
     "route53:GetHostedZone", "another type acts on"),
    (allow("route53:GetHostedZone", "arn:aws:route53:::hostedzone/HOSTED_ZONE_ID"), RECORDS,
     "route53:GetHostedZone", None),
    (allow("route53:GetHostedZone", "arn:aws:route53:::change/*"), NAMESPACE, "route53:GetHostedZone",
     "not of the types it takes"),
    (allow("s3:*", "arn:aws:s3:::STACK-*"), "AWS::S3::Bucket", "s3:DeleteBucketCors", "unknown to the"),
    (allow("iam:PassRole", "arn:aws:iam::ACCOUNT_ID:role/STACK-*",
           StringEquals={"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
     "AWS::CloudFormation::Stack", "iam:PassRole", "iam:PassedToService"),
    (allow("iam:PassRole", "arn:aws:iam::ACCOUNT_ID:role/STACK-*",
           StringEquals={"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
     "AWS::ECS::TaskDefinition", "iam:PassRole", None),
    # A grant counts on the resource type the HANDLER works on, not on any type the action takes (the review of
    # issue 17): the distribution's ARN does not let the function's handler tag the function...
    (allow("cloudfront:TagResource", "arn:aws:cloudfront::ACCOUNT_ID:distribution/*"), FUNCTION,
     "cloudfront:TagResource", "resource types"),
    (allow("cloudfront:TagResource", "arn:aws:cloudfront::ACCOUNT_ID:distribution/*"), DISTRIBUTION,
     "cloudfront:TagResource", None),
    (allow("cloudfront:GetFunction", "arn:aws:cloudfront::ACCOUNT_ID:function/spa-*"), FUNCTION,
     "cloudfront:GetFunction", None),
    # ... a role's ARN does not let a managed policy's handler read roles, only attach itself to them (ACTS_ON)
    (allow("iam:GetRole", "arn:aws:iam::ACCOUNT_ID:role/STACK-*"), "AWS::IAM::ManagedPolicy", "iam:GetRole",
     "resource types"),
    (allow("iam:AttachRolePolicy", "arn:aws:iam::ACCOUNT_ID:role/STACK-*"), "AWS::IAM::ManagedPolicy",
     "iam:AttachRolePolicy", None),
    (allow("iam:GetRole", "arn:aws:iam::ACCOUNT_ID:role/STACK-*"), "AWS::IAM::Role", "iam:GetRole", None),
    (allow("iam:GetPolicy", "arn:aws:iam::ACCOUNT_ID:role/STACK-*"), "AWS::IAM::ManagedPolicy", "iam:GetPolicy",
     "not of the types it takes"),
    (allow("logs:DeleteLogGroup", "arn:aws:logs:REGION:ACCOUNT_ID:log-group:STACK-*"), "AWS::Logs::LogGroup",
     "logs:DeleteLogGroup", None),
])
def test_the_check_judges_scope_and_conditions(statement, resource_type, action, why):
    found = rp.refusal({"Statement": [statement]}, resource_type, action)
    assert (found is None) if why is None else (why in (found or "")), found


def test_an_unconditional_deny_wins():
    doc = {"Statement": [allow("iam:DeleteRolePermissionsBoundary", "arn:aws:iam::ACCOUNT_ID:role/STACK-*"),
                         {"Effect": "Deny", "Action": "iam:DeleteRolePermissionsBoundary",
                          "Resource": "arn:aws:iam::ACCOUNT_ID:role/*"}]}
    assert rp.refusal(doc, "AWS::IAM::Role", "iam:DeleteRolePermissionsBoundary") == "denied"


def test_the_check_finds_the_gaps_the_role_had(policy, types):
    """The role as it was before Cloud Map's and the nested stacks' grants: the general check names both."""
    before = copy.deepcopy(policy)
    before["Statement"] = [s for s in rp.statements(before) if s.get("Sid") not in (
        "LetCloudMapCreateTheNamespacesPrivateZone", "LetCloudMapCheckTheNamespacesZoneName",
        "LetCloudMapReadTheZoneItCreated", "RunTheNestedStacksAsThisRole")]
    missing = unlisted(rp.gaps(types, before), NOT_NEEDED)
    for gap in (f"{NAMESPACE} route53:CreateHostedZone", f"{NAMESPACE} route53:ListHostedZonesByName",
                f"{NAMESPACE} route53:GetHostedZone", "AWS::CloudFormation::Stack iam:PassRole"):
        assert any(m.startswith(gap + ":") for m in missing), gap


def test_a_stale_entry_is_found():
    gaps = {("AWS::DynamoDB::Table", "kinesis:PutRecords"): "no statement allows it"}
    entries = [rp.NotNeeded(("kinesis:*",), "streams", ("AWS::DynamoDB::Table", "AWS::SQS::Queue")),
               rp.NotNeeded(("route53:CreateHostedZone",), "granted now")]
    assert stale(gaps, entries) == ["('kinesis:*',) for AWS::SQS::Queue: not asked by that type",
                                    "route53:CreateHostedZone: no type asks for it, or the role grants it now"]
    assert unlisted(gaps, entries[1:]) == ["AWS::DynamoDB::Table kinesis:PutRecords: no statement allows it"]


def test_a_grant_on_another_types_arn_is_no_grant(policy, types):
    """The review's repro: without the function's own tag grant, the distribution's (distribution/*) used to
    satisfy the check for the function's handler; now the check names the gap."""
    before = copy.deepcopy(policy)
    before["Statement"] = [s for s in rp.statements(before) if s.get("Sid") != "TagTheStacksSpaFunction"]
    missing = unlisted(rp.gaps({FUNCTION, DISTRIBUTION}, before), NOT_NEEDED)
    assert [m.split(": ", 1)[0] for m in missing] == [f"{FUNCTION} cloudfront:ListTagsForResource",
                                                      f"{FUNCTION} cloudfront:TagResource"]
    assert unlisted(rp.gaps({FUNCTION, DISTRIBUTION}, policy), NOT_NEEDED) == []


def test_the_types_own_iam_resource_types_are_found_by_name():
    """Each CloudFormation type is matched to its IAM resource type by name (or OWN_TYPES where the names
    differ), and every call ACTS_ON names is one the type's handlers list (no stale entry)."""
    assert rp.own_resource_types(FUNCTION) == {"cloudfront:function"}
    assert rp.own_resource_types("AWS::Logs::LogGroup") == {"logs:log-group"}
    assert rp.own_resource_types("AWS::SecretsManager::Secret") == {"secretsmanager:Secret"}
    assert rp.own_resource_types("AWS::IAM::ManagedPolicy") == {"iam:policy"}
    for resource_type, calls in rp.ACTS_ON.items():
        for action in calls:
            assert resource_type == "*" or action in rp.handler_permissions(resource_type), (resource_type, action)
    for resource_type in rp.OWN_TYPES:
        assert rp.own_arn_formats(resource_type), resource_type


def test_the_free_plan_grants_only_what_the_subscriptions_handlers_call(policy):
    """pricingplanmanager:* would also grant ApprovePaidSubscription, which starts billing for a paid plan and
    which no handler calls (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awspricingplanmanager.html):
    the role lists exactly the actions the subscription's handlers list."""
    subscription = "AWS::PricingPlanManager::Subscription"
    granted = {a for s in rp.statements(policy) if s["Effect"] == "Allow"
               for a in rp.as_list(s["Action"]) if a.lower().startswith("pricingplanmanager:")}
    assert granted == {p for p in rp.handler_permissions(subscription) if p.startswith("pricingplanmanager:")}
    assert rp.refusal(policy, subscription, "pricingplanmanager:ApprovePaidSubscription") is not None


def test_cloudformation_may_manage_the_requests_table_its_ttl_and_its_resource_policy(policy, types):
    """build.yml's RequestsTable: its handler creates the table, turns on TimeToLive and puts the resource-based
    policy that denies its items to all but the image builder; the builder's grant is an AWS::IAM::RolePolicy.
    The table's policy denies item actions only, never these
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/access-control-resource-based.html)."""
    assert {"AWS::DynamoDB::Table", "AWS::IAM::RolePolicy"} <= types
    table = rp.handler_permissions("AWS::DynamoDB::Table")
    for action in ("dynamodb:CreateTable", "dynamodb:UpdateTimeToLive", "dynamodb:DescribeTimeToLive",
                   "dynamodb:PutResourcePolicy", "dynamodb:GetResourcePolicy", "dynamodb:DeleteResourcePolicy",
                   "dynamodb:DeleteTable"):
        assert action in table and rp.refusal(policy, "AWS::DynamoDB::Table", action) is None, action
    for action in ("iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"):
        assert rp.refusal(policy, "AWS::IAM::RolePolicy", action) is None, action
