"""Operations scripts against moto: the real boto3 calls, waiters and error
paths, on a fake deployment shaped like the parent stack's outputs."""
from __future__ import annotations

import json

import boto3
import moto.cloudfront.models as cloudfront_models
import pytest
from moto import mock_aws

from scripts.common import Target

REGION = "us-east-1"
STACK = "fargate-blueprint-test"


@pytest.fixture(autouse=True)
def iam_settles(monkeypatch) -> list:
    """The seconds scripts.service_roles waited for IAM to propagate a role it created (not slept)."""
    from scripts import service_roles
    waited: list = []
    monkeypatch.setattr(service_roles, "sleep", waited.append)
    return waited


@pytest.fixture(autouse=True)
def _aws_compatible_invalidation_status(monkeypatch):
    """moto reports a finished invalidation as COMPLETED; CloudFront (and boto3's
    invalidation_completed waiter) say Completed. Make the fake match the real API."""
    original = cloudfront_models.Invalidation.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.status = "Completed"
    monkeypatch.setattr(cloudfront_models.Invalidation, "__init__", init)


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.session.Session(region_name=REGION)


def make_target(session, stack: str = STACK) -> Target:
    return Target("dev", stack, REGION, {"Architecture": "ARM64"}, session)


def create_deployment(session, stack: str = STACK, desired: int = 0, parameters: dict | None = None) -> dict:
    """The resources a deployed stack has, and a parent stack whose outputs name them."""
    s3, ecs, cf = session.client("s3"), session.client("ecs"), session.client("cloudfront")
    bucket = f"{stack}-site"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    distribution = cf.create_distribution(DistributionConfig={
        "CallerReference": stack, "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": f"{bucket}.s3.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https"},
    })["Distribution"]
    ecs.create_cluster(clusterName="cluster")
    ecs.register_task_definition(family="api", containerDefinitions=[{"name": "api", "image": "x", "memory": 512}])
    service = ecs.create_service(cluster="cluster", serviceName="api", taskDefinition="api",
                                 desiredCount=desired)["service"]
    scalable = "service/cluster/api"
    session.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs", ResourceId=scalable, ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1, MaxCapacity=3)
    logs = session.client("logs")
    logs.create_log_group(logGroupName=f"{stack}-logs")
    session.client("dynamodb").create_table(
        TableName=f"{stack}-notes", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    outputs = {
        "FrontendUrl": f"https://{distribution['DomainName']}", "ApiUrl": "https://api.example.com",
        "BucketName": bucket, "DistributionId": distribution["Id"], "ClusterName": "cluster",
        "ServiceName": "api", "ContainerName": "api", "LogGroupName": f"{stack}-logs",
        "TableName": f"{stack}-notes", "ScalableTargetId": scalable, "Ingress": "HttpApi", "Architecture": "ARM64",
    }
    create_stack(session, stack, outputs, parameters)
    return {**outputs, "ServiceArn": service["serviceArn"]}


def create_stack(session, stack: str, outputs: dict, parameters: dict | None = None) -> None:
    """A stack with these outputs and, when given, these deployed parameter values."""
    parameters = parameters or {}
    template = {"Parameters": {k: {"Type": "String"} for k in parameters},
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
    session.client("cloudformation").create_stack(
        StackName=stack, TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])


@pytest.fixture
def deployed(aws):
    outputs = create_deployment(aws)
    return make_target(aws), outputs
