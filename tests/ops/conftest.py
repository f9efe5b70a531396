"""Operations scripts against moto: the real boto3 calls, waiters and error
paths, on a fake deployment shaped like the parent stack's outputs."""
from __future__ import annotations

import dataclasses
import json

import boto3
import moto.cloudfront.models as cloudfront_models
import pytest
from moto import mock_aws

from scripts.common import Target
from scripts.outputs import ParentOutputs, ServiceOutputs

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


# parent.yml's services as review/contract11.md has them: what `make deploy` reads to build images.
# The deploy tests use this snippet, not the repository's parent.yml (test_outputs.py holds that one to
# the contract), so they test the deploy, not the template of the day.
PARENT_SNIPPET = """
Resources:
  NotesService:
    Type: AWS::Serverless::Application
    Metadata:
      Build:
        Context: app
        ImageParameter: ImageUri
    Properties:
      Location: service.yml
  FrontendStack:
    Type: AWS::Serverless::Application
    Properties:
      Location: frontend.yml
"""


@pytest.fixture(autouse=True)
def parent_template(tmp_path, monkeypatch):
    """image.builds() reads this parent (one service, NotesService, built from app/ into ImageUri)."""
    from scripts import image
    path = tmp_path / "parent.yml"
    path.write_text(PARENT_SNIPPET)
    monkeypatch.setattr(image, "PARENT", path)
    return path


def make_target(session, stack: str = STACK, service: str | None = None) -> Target:
    return Target("dev", stack, REGION, {"Profile": "dev"}, session, service)


def lambda_service(key: str, stack: str = STACK, reserved: str = "") -> ServiceOutputs:
    """A service on Lambda (Compute=Lambda) as its descriptor has it: the function's name is its name, no
    container, no scalable target; `reserved`: its block's ReservedConcurrency ("" : none)."""
    function = f"{stack}-{key}Service-Function-ABC123"
    return ServiceOutputs(key=f"{key}Service", name=function, container="", log_group=f"{stack}-{key.lower()}-logs",
                          scalable_target="", path_prefix=f"/{key.lower()}",
                          health_check_path=f"/{key.lower()}/health-check", version="", compute="lambda",
                          function=function, reserved_concurrency=reserved)


def sample_outputs(stack: str = STACK, frontend: str = "https://d111.cloudfront.net", bucket: str = "",
                   distribution: str = "E1", services: tuple[str, ...] = ("Notes",),
                   lambdas: tuple[str, ...] = (), reserved: str = "") -> ParentOutputs:
    """The outputs a deployed parent has, typed; `services`: their keys without "Service". The first
    service's ECS name is "api" (the sample's container name), the others' their lower-case key; the first
    runs an image the stack built (its descriptor has a version), the others an ImageUri given (version "").
    `lambdas`: more services, on Lambda (lambda_service), after those."""
    def service(key: str, first: bool) -> ServiceOutputs:
        name = "api" if first else key.lower()
        return ServiceOutputs(key=f"{key}Service", name=name, container=name, log_group=f"{stack}-{name}-logs",
                              scalable_target=f"service/cluster/{name}", path_prefix="/api" if first else
                              f"/{key.lower()}", health_check_path="/api/health-check" if first else
                              f"/{key.lower()}/health-check", version="3f2a9c1b0d4e" if first else "")
    return ParentOutputs(frontend_url=frontend, api_url="https://api.example.com", bucket_name=bucket or f"{stack}-site",
                         distribution_id=distribution, cluster_name="cluster", ingress="HttpApi", profile="dev",
                         table_name=f"{stack}-notes",
                         services={s.key: s for s in [*(service(k, i == 0) for i, k in enumerate(services)),
                                                      *(lambda_service(k, stack, reserved) for k in lambdas)]})


def create_deployment(session, stack: str = STACK, desired: int = 0, parameters: dict | None = None,
                      services: tuple[str, ...] = ("Notes",), alerts: bool = False, lambdas: tuple[str, ...] = (),
                      reserved: str = "") -> ParentOutputs:
    """The resources a deployed stack has, and a parent stack whose outputs name them (built from a
    ParentOutputs, as the ops commands read it back). `alerts`: with the alert topic (AlertTopicArn); without
    it, a stack deployed before alerts. `lambdas`: services on Lambda (an image function each, as moto keeps
    it: it cannot invoke one without Docker); `reserved`: their blocks' ReservedConcurrency, also reserved."""
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
    outputs = sample_outputs(stack, f"https://{distribution['DomainName']}", bucket, distribution["Id"], services,
                             lambdas, reserved)
    if alerts:
        topic = session.client("sns").create_topic(Name=f"{stack}-AlertsStack-Topic")["TopicArn"]
        outputs = dataclasses.replace(outputs, alert_topic_arn=topic)
    ecs.create_cluster(clusterName=outputs.cluster_name)
    logs = session.client("logs")
    for svc in outputs.services.values():
        if svc.on_lambda:
            create_function(session, svc, reserved)
            logs.create_log_group(logGroupName=svc.log_group)
            continue
        ecs.register_task_definition(family=svc.name, containerDefinitions=[
            {"name": svc.container, "image": "x", "memory": 512}])
        ecs.create_service(cluster=outputs.cluster_name, serviceName=svc.name, taskDefinition=svc.name,
                           desiredCount=desired)
        session.client("application-autoscaling").register_scalable_target(
            ServiceNamespace="ecs", ResourceId=svc.scalable_target, ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=1, MaxCapacity=3)
        logs.create_log_group(logGroupName=svc.log_group)
    session.client("dynamodb").create_table(
        TableName=outputs.table_name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    create_stack(session, stack, outputs.as_outputs(), parameters)
    return outputs


def create_function(session, svc: ServiceOutputs, reserved: str = "") -> None:
    """The service's image function (arm64, by digest), with the block's reservation when it has one."""
    iam = session.client("iam")
    try:
        role = iam.get_role(RoleName="function-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="function-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = session.client("lambda")
    lam.create_function(FunctionName=svc.function, Role=role, PackageType="Image", Architectures=["arm64"],
                        Code={"ImageUri": f"123456789012.dkr.ecr.{REGION}.amazonaws.com/app@sha256:{'0' * 64}"},
                        MemorySize=512, Timeout=29)
    if reserved:
        lam.put_function_concurrency(FunctionName=svc.function, ReservedConcurrentExecutions=int(reserved))


def service_arn(session, outputs: ParentOutputs, key: str = "NotesService") -> str:
    return session.client("ecs").describe_services(cluster=outputs.cluster_name, services=[
        outputs.services[key].name])["services"][0]["serviceArn"]


def create_stack(session, stack: str, outputs: list[dict], parameters: dict | None = None) -> None:
    """A stack with these outputs (describe_stacks' shape: OutputKey, OutputValue, Description) and,
    when given, these deployed parameter values."""
    parameters = parameters or {}
    template = {"Parameters": {k: {"Type": "String"} for k in parameters},
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {o["OutputKey"]: {"Value": o["OutputValue"], "Description": o["Description"]}
                            for o in outputs}}
    session.client("cloudformation").create_stack(
        StackName=stack, TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])


@pytest.fixture
def deployed(aws):
    outputs = create_deployment(aws)
    return make_target(aws), outputs


@pytest.fixture
def two_services(aws):
    """The sample (NotesService, ECS service api) and a second service (ReportsService, reports)."""
    outputs = create_deployment(aws, services=("Notes", "Reports"))
    return make_target(aws), outputs


def stubbed(service: str, activate: bool = True):
    """(a boto3 client with fake credentials, its botocore Stubber): for answers moto cannot give
    (event histories, throttles, fields it leaves out); the Stubber checks every call against the API."""
    import boto3
    from botocore.stub import Stubber
    client = boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(client)
    if activate:
        stub.activate()
    return client, stub


def use_clients(monkeypatch, t, **clients):
    """`t.client(service)` returns the given client for these services (dashes as underscores), else moto's."""
    real = t.client
    monkeypatch.setattr(t, "client", lambda s, region=None: clients.get(s.replace("-", "_")) or real(s, region))
