"""`make deploy` on a stack deployed before the split (its parent holds the nested `ServiceStack`):
preflight refuses, before anything is created, the two updates docs/services.md warns about (a new,
empty table; ApiDomainName, which the new IngressStack would create while ServiceStack holds it),
each in one line that carries the command to run. The nested stack is a real moto nested stack."""
from __future__ import annotations

import json

import pytest

from scripts import deploy, preflight
from scripts.errors import PreflightFailed, UpgradeNeedsNoApiDomain, UpgradeNeedsTable
from tests.ops.conftest import STACK, create_stack, make_target
from tests.ops.fake_tools import FakeTools

BUCKET = "old-layout-templates"
OLD_SERVICE = {"Resources": {"NotesTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
    "BillingMode": "PAY_PER_REQUEST", "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}}},
    "Outputs": {"TableName": {"Value": {"Ref": "NotesTable"}}}}


def old_layout_stack(session, parameters: dict | None = None, table_output: str = "") -> str:
    """A parent with the old nested ServiceStack (holding NotesTable); its table's name. `table_output`:
    the parent's TableName output (moto leaves a GetAtt of a nested output unresolved, so the nested
    stack's NotesTable is the fallback the check reads then)."""
    s3, cfn = session.client("s3"), session.client("cloudformation")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="service.json", Body=json.dumps(OLD_SERVICE))
    parameters = {"ApiDomainName": "", "ApiCertificateArn": "", **(parameters or {})}
    template = {"Parameters": {k: {"Type": "String"} for k in parameters},
                "Resources": {"ServiceStack": {"Type": "AWS::CloudFormation::Stack", "Properties": {
                    "TemplateURL": f"https://{BUCKET}.s3.amazonaws.com/service.json"}}},
                "Outputs": {"TableName": {"Value": table_output}} if table_output else {}}
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(template),
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    nested = cfn.describe_stack_resource(StackName=STACK, LogicalResourceId="ServiceStack")
    return cfn.describe_stack_resources(StackName=nested["StackResourceDetail"]["PhysicalResourceId"],
                                        LogicalResourceId="NotesTable")["StackResources"][0]["PhysicalResourceId"]


def test_an_old_layout_without_existing_table_name_is_refused_with_the_command(aws):
    table = old_layout_stack(aws)
    with pytest.raises(UpgradeNeedsTable) as refused:
        preflight.check_layout_upgrade(make_target(aws), {})
    line = str(refused.value)
    assert f'make deploy PARAMS="ExistingTableName={table}"' in line and "samconfig.toml" in line
    assert "\n" not in line and refused.value.code == "upgrade_needs_table"


def test_the_parents_table_name_output_names_the_table_when_it_has_one(aws):
    old_layout_stack(aws, table_output="notes-from-the-output")
    with pytest.raises(UpgradeNeedsTable, match='PARAMS="ExistingTableName=notes-from-the-output"'):
        preflight.check_layout_upgrade(make_target(aws), {})


def test_with_the_old_table_named_the_upgrade_goes_ahead(aws):
    table = old_layout_stack(aws)
    t = make_target(aws)
    assert preflight.check_layout_upgrade(t, {"ExistingTableName": table}) == (
        f"upgrading from the one-service layout, keeping the table {table}")
    other = preflight.check_layout_upgrade(t, {"ExistingTableName": "another"})
    assert f"the old table {table} stays, retained" in other


def test_an_old_stack_that_already_adopted_a_table_keeps_it_without_being_told_again(aws):
    """ExistingTableName deployed and not sent: CloudFormation keeps the deployed value (UsePreviousValue)."""
    old_layout_stack(aws, {"ExistingTableName": "adopted-notes"}, table_output="adopted-notes")
    t = make_target(aws)
    assert preflight.check_layout_upgrade(t, {}) == (
        "upgrading from the one-service layout, keeping the table adopted-notes")
    with pytest.raises(UpgradeNeedsTable, match='PARAMS="ExistingTableName=adopted-notes"'):
        preflight.check_layout_upgrade(t, {"ExistingTableName": ""})  # cleared by this deploy


def test_an_api_domain_on_the_deployed_stack_is_refused_with_the_two_steps(aws):
    table = old_layout_stack(aws, {"ApiDomainName": "api.example.com", "ApiCertificateArn": "arn:cert"})
    t = make_target(aws)
    with pytest.raises(UpgradeNeedsNoApiDomain) as refused:
        preflight.check_layout_upgrade(t, {})  # not sent: the deployed value stays (UsePreviousValue)
    line = str(refused.value)
    assert f'make deploy PARAMS="ExistingTableName={table} ApiDomainName= ApiCertificateArn="' in line
    assert "set ApiDomainName and ApiCertificateArn again" in line and "\n" not in line
    with pytest.raises(UpgradeNeedsNoApiDomain, match='PARAMS="ApiDomainName= ApiCertificateArn="'):
        preflight.check_layout_upgrade(t, {"ExistingTableName": table, "ApiDomainName": "api.example.com"})
    # The first of the two steps: the domain cleared for this deploy.
    assert "keeping the table" in preflight.check_layout_upgrade(
        t, {"ExistingTableName": table, "ApiDomainName": "", "ApiCertificateArn": ""})


@pytest.mark.parametrize(("deployed", "sent", "clash"), [
    ({"Ingress": "HttpApi"}, {}, True),  # the same AWS::ApiGatewayV2::DomainName
    ({"Ingress": "LoadBalancer", "HostedZoneId": "Z1"}, {}, True),  # the same Route 53 record
    ({"Ingress": "LoadBalancer", "HostedZoneId": ""}, {}, False),  # an ALB and DNS kept elsewhere: nothing named
    ({"Ingress": "HttpApi"}, {"Ingress": "LoadBalancer"}, False),  # the new ingress creates no domain
    ({"Ingress": "HttpApi"}, {"ApiDomainName": "api2.example.com"}, False),  # another name
])
def test_only_a_domain_both_stacks_would_hold_is_refused(aws, deployed, sent, clash):
    table = old_layout_stack(aws, {"ApiDomainName": "api.example.com", "ApiCertificateArn": "arn:cert",
                                   "HostedZoneId": "", **deployed})
    t, params = make_target(aws), {"ExistingTableName": table, **sent}
    if clash:
        with pytest.raises(UpgradeNeedsNoApiDomain):
            preflight.check_layout_upgrade(t, params)
    else:
        assert "keeping the table" in preflight.check_layout_upgrade(t, params)


def test_todays_layout_and_no_stack_pass(aws):
    t = make_target(aws)
    assert preflight.check_layout_upgrade(t, {}) == "no deployed stack from the one-service layout"
    create_stack(aws, STACK, [], {"ApiDomainName": "api.example.com"})
    assert preflight.check_layout_upgrade(t, {}) == "the deployed stack has today's layout"


def test_make_deploy_stops_before_building_or_deploying_anything(aws):
    old_layout_stack(aws)
    tools = FakeTools(aws)
    checks = {"layout upgrade": preflight.check_layout_upgrade}
    with pytest.raises(PreflightFailed, match="nothing was created"):
        deploy.deploy(make_target(aws), {}, run=tools, checks=checks, skip_smoke=True, delay=0)
    assert tools.named("sam", "deploy") == [] and tools.named("docker", "buildx", "build") == []
    assert "layout upgrade" in preflight.CHECKS
