"""A stack whose origin secret predates its Name (created before 2026-11-24) upgrades in two deploys
(scripts/origin_secret.py): `make plan STACK=` warns and exits 1, preflight (so `make deploy`) refuses,
unless the templates are the first step, which also grants the old name.

Only AWS proves the rollback itself; these pin what the scripts read and decide. The old name is what
CloudFormation generated for a secret without Name, read from the deployed resource's physical id
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResource.html); an
execution role that cannot read the previous task definition's secret stops its tasks starting
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scripts import origin_secret, preflight
from scripts import plan as plan_command
from scripts.common import ROOT
from scripts.errors import TwoStepUpgrade
from tests.ops.conftest import REGION, STACK, create_stack, make_target, stubbed, use_clients

ACCOUNT = "123456789012"
CLUSTER = f"{STACK}-ClusterStack-1ABCDEF"
CLUSTER_ARN = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{CLUSTER}/0c1d2e3f-aaaa-bbbb-cccc-0123456789ab"
OLD = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:OriginVerifySecret-AbCdEfGhIjKl-XyZ123"
NEW = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{CLUSTER}-origin-verify-1-XyZ123"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/permissions-boundary-{STACK}"
OLD_GRANT = "!Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:OriginVerifySecret-*"


def detail(stack: str, logical: str, physical: str, kind: str) -> dict:
    from datetime import UTC, datetime
    return {"StackResourceDetail": {"StackName": stack, "LogicalResourceId": logical, "PhysicalResourceId": physical,
                                    "ResourceType": kind, "LastUpdatedTimestamp": datetime(2026, 11, 1, tzinfo=UTC),
                                    "ResourceStatus": "UPDATE_COMPLETE"}}


def secret_reads(secret: str | None):
    """A CloudFormation client answering DescribeStackResource as a deployed stack does: the parent's
    ClusterStack is the nested stack's ARN, its OriginVerifySecret the secret's ARN (None: the parent has no
    such resource yet, as a stack in REVIEW_IN_PROGRESS)."""
    client, stub = stubbed("cloudformation", activate=False)
    if secret is None:
        stub.add_client_error("describe_stack_resource", "ValidationError",
                              f"Resource ClusterStack does not exist for stack {STACK}", 400,
                              expected_params={"StackName": STACK, "LogicalResourceId": "ClusterStack"})
    else:
        stub.add_response("describe_stack_resource", detail(STACK, "ClusterStack", CLUSTER_ARN,
                                                            "AWS::CloudFormation::Stack"),
                          {"StackName": STACK, "LogicalResourceId": "ClusterStack"})
        stub.add_response("describe_stack_resource", detail(CLUSTER, "OriginVerifySecret", secret,
                                                            "AWS::SecretsManager::Secret"),
                          {"StackName": CLUSTER_ARN, "LogicalResourceId": "OriginVerifySecret"})
    stub.activate()
    return client, stub


@pytest.fixture(scope="module")
def first_step(tmp_path_factory) -> str:
    """A checkout with the first step of the upgrade made, as docs/operate.md says: the old name's pattern added
    to cluster.yml's TaskExecutionRole and service.yml's ExecutionRole secret statements."""
    where = tmp_path_factory.mktemp("first-step")
    for path in ROOT.glob("*.yml"):
        shutil.copy(path, where / path.name)
    cluster = (where / "cluster.yml").read_text()
    line = ("                Resource: !Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
            ":secret:${AWS::StackName}-origin-verify-*\n")
    assert cluster.count(line) == 1
    listed = line.replace("Resource: !Sub", "Resource:\n                  - !Sub")
    (where / "cluster.yml").write_text(cluster.replace(line, f"{listed}                  - {OLD_GRANT}\n"))
    service = (where / "service.yml").read_text()
    line = "                  Resource: !Ref OriginVerifySecretArnPattern\n"
    assert service.count(line) == 1
    (where / "service.yml").write_text(service.replace(line, "                  Resource:\n"
                                                       "                    - !Ref OriginVerifySecretArnPattern\n"
                                                       f"                    - {OLD_GRANT}\n"))
    return str(where / "parent.yml")


def test_a_secret_named_before_it_had_a_name_is_refused_in_preflight(aws, monkeypatch):
    assert preflight.CHECKS["origin secret"] is origin_secret.check  # make deploy runs every check
    t = make_target(aws)
    client, stub = secret_reads(OLD)
    use_clients(monkeypatch, t, cloudformation=client)
    with pytest.raises(TwoStepUpgrade) as caught:
        origin_secret.check(t, {"PermissionsBoundaryArn": ""})
    message = str(caught.value)
    assert message.startswith("ClusterStack/OriginVerifySecret is OriginVerifySecret-AbCdEfGhIjKl-XyZ123, created "
                              "before it had a Name: this update replaces it")
    assert "first grant the old name too (arn:...:secret:OriginVerifySecret-* beside the secret's pattern in " \
           "cluster.yml, service.yml)" in message
    assert message.endswith('(docs/operate.md, "Upgrading a stack created before 2026-11-24")')
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("secret", [NEW, None])
def test_a_named_secret_or_no_deployed_one_passes(aws, monkeypatch, secret):
    t = make_target(aws)
    client, _ = secret_reads(secret)
    use_clients(monkeypatch, t, cloudformation=client)
    assert origin_secret.check(t, {"PermissionsBoundaryArn": ""}).startswith("no secret named before")


def test_the_first_step_of_the_upgrade_passes(aws, monkeypatch, first_step):
    t = make_target(aws)
    client, _ = secret_reads(OLD)
    use_clients(monkeypatch, t, cloudformation=client)
    assert origin_secret.problems(t, "", first_step) == []


def test_the_first_step_with_a_permissions_boundary_is_refused(aws, monkeypatch, first_step):
    """The boundary lets a bounded role read only the stack's own STACK-* secrets
    (deploy/permissions-boundary-policy.json): the old name is not one."""
    t = make_target(aws)
    client, _ = secret_reads(OLD)
    use_clients(monkeypatch, t, cloudformation=client)
    (line,) = origin_secret.problems(t, BOUNDARY, first_step)
    assert f"this is the first of the two deploys, but the permissions boundary ({BOUNDARY}) lets the roles read " \
           f"only {STACK}-* secrets: deploy this step without it" in line
    # A stack keeps the last role it was given, and the service role may not remove a boundary
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html, RoleARN).
    assert "PermissionsBoundaryArn=\"\" with an administrator's role as CLOUDFORMATION_ROLE_ARN" in line


def test_preflight_judges_the_boundary_make_deploy_sends(monkeypatch):
    """PERMISSIONS_BOUNDARY_ARN is sent by make deploy (deploy.boundary_parameter); make preflight judges it too."""
    from types import SimpleNamespace

    from scripts import __main__ as cli
    seen: dict = {}
    monkeypatch.delenv("PARAMS", raising=False)
    monkeypatch.setenv("PERMISSIONS_BOUNDARY_ARN", BOUNDARY)
    monkeypatch.setattr(cli, "ready", lambda args, **kwargs: (SimpleNamespace(parameters={"Profile": "dev"}), None))
    monkeypatch.setattr(cli.preflight, "preflight", lambda t, params: seen.update(params))
    assert cli.main(["preflight"]) == 0
    assert seen == {"Profile": "dev", "PermissionsBoundaryArn": BOUNDARY}


def test_preflight_reads_the_deployed_boundary_when_the_deploy_sends_none(aws, monkeypatch):
    """SAM sends UsePreviousValue for a parameter not given: the stack keeps the boundary it has."""
    from datetime import UTC, datetime
    t = make_target(aws)
    client, stub = stubbed("cloudformation", activate=False)
    stub.add_response("describe_stacks", {"Stacks": [{
        "StackName": STACK, "StackStatus": "UPDATE_COMPLETE", "CreationTime": datetime(2026, 11, 1, tzinfo=UTC),
        "Parameters": [{"ParameterKey": "PermissionsBoundaryArn", "ParameterValue": BOUNDARY}]}]}, {"StackName": STACK})
    stub.add_client_error("describe_stacks", "ValidationError", "Stack with id another-stack does not exist", 400)
    stub.activate()
    use_clients(monkeypatch, t, cloudformation=client)
    assert origin_secret._deployed_boundary(t) == BOUNDARY
    monkeypatch.setattr(t, "stack_name", "another-stack")
    assert origin_secret._deployed_boundary(t) == ""


class MotoAndStub:
    """moto's CloudFormation (the parent stack's parameters) with DescribeStackResource from a Stubber (moto
    has no nested stack to give a physical id)."""

    def __init__(self, moto, stub):
        self.moto, self.stub = moto, stub

    def __getattr__(self, name):
        return getattr(self.stub if name == "describe_stack_resource" else self.moto, name)


def test_make_plan_with_such_a_stack_warns_and_exits_non_zero(aws, monkeypatch):
    create_stack(aws, STACK, [], {"Profile": "dev"})
    client, _ = secret_reads(OLD)
    real = type(make_target(aws)).client
    monkeypatch.setattr(type(make_target(aws)), "client", lambda self, service, region=None: MotoAndStub(
        real(self, service, region), client) if service == "cloudformation" else real(self, service, region))
    said: list[str] = []
    assert plan_command.run("dev", STACK, REGION, "Ingress=LoadBalancer", session=aws, out=said.append) == 1
    (line,) = [s for s in said if "created before it had a Name" in s]
    assert line.startswith("WARNING: ClusterStack/OriginVerifySecret is OriginVerifySecret-AbCdEfGhIjKl-XyZ123")


def test_the_templates_grants_are_found_where_the_first_step_edits_them():
    """The check reads every statement that grants the secret: cluster.yml's own role by its Name's prefix,
    service.yml's through the parameter parent.yml fills with the cluster's OriginVerifySecretArnPattern."""
    (secret,) = origin_secret.named_secrets()
    assert (secret.stack, secret.resource) == ("ClusterStack", "OriginVerifySecret")
    found = {Path(path).name for path, _ in origin_secret.grants(secret)}
    assert found == {"cluster.yml", "service.yml"}
