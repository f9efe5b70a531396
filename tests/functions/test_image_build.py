"""Custom::ImageBuild (functions/image_build.py) as CloudFormation and EventBridge call it.

Lambda, ECR and CloudWatch Logs are moto's (`mock_aws`): the layer's CodeSha256, the image digests and
the build log are real moto state. CodeBuild is not: moto's start_build drops every override (the
environment variables, image and type) and its batch_get_builds reports every build SUCCEEDED (even
one stop_build stopped) without phases or log location, so neither the variables a completion needs
nor a failed, timed-out or running build can be had from it. CodeBuild is therefore botocore's
documented Stubber (https://docs.aws.amazon.com/botocore/latest/reference/stubber.html), which checks
each request the handler makes against the expected parameters and CodeBuild's service model, and
each canned build record against the model's output shape. Lambda is called as GetLayerVersion (the
same action and answer as GetLayerVersionByArn, which moto does not implement).

The answers go to a local HTTP server standing in for the presigned S3 URL (conftest.py). The request
waits for its build in build.yml's requests table (moto's DynamoDB, created with the template's key schema),
never in the build's variables. moto does not enforce the table's resource-based policy:
tests/templates/test_build.py pins it.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time
import uuid
import zipfile

import custom_resource
import image_build
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from checks.render import template

ACCOUNT = "123456789012"
REGION = "us-east-1"
PROJECT = "notes-BuildStack-ImageBuilds"
STACK = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/notes-NotesService-1A2B3C/0f3e6d10-0000-11ef-8000-0a1b2c3d4e5f"
OTHER_STACK = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/notes-OtherService-4D5E6F/1a2b3c40-0000-11ef-8000-0a1b2c3d4e5f"
LOG_GROUP = "/aws/codebuild/notes-image-builds"
IMAGES = {"ARM64": ("ARM_CONTAINER", "aws/codebuild/amazonlinux-aarch64-standard:3.0", "arm64"),
          "X86_64": ("LINUX_CONTAINER", "aws/codebuild/amazonlinux-x86_64-standard:5.0", "amd64")}


TABLE = template("build.yml")["Resources"]["RequestsTable"]["Properties"]


@pytest.fixture
def aws(monkeypatch):
    """moto for Lambda, ECR, Logs and DynamoDB (the requests table as build.yml declares its key); the
    handler's clients made inside it."""
    monkeypatch.setenv("PROJECT_NAME", PROJECT)
    monkeypatch.setenv("REQUESTS_TABLE", "notes-BuildStack-1A2B-RequestsTable-3C4D")
    with mock_aws():
        image_build.aws.cache_clear()
        image_build.aws("dynamodb").create_table(
            TableName="notes-BuildStack-1A2B-RequestsTable-3C4D", BillingMode=TABLE["BillingMode"],
            KeySchema=TABLE["KeySchema"], AttributeDefinitions=TABLE["AttributeDefinitions"])
        yield
    image_build.aws.cache_clear()


@pytest.fixture
def codebuild(aws):
    """The handler's own CodeBuild client, stubbed: every call must be one the test expects."""
    with Stubber(image_build.aws("codebuild")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


# --- what the stack and the build would have made ------------------------------------------------------

def source_layer(content: str) -> tuple[str, str]:
    """A source layer as `sam deploy` publishes it; (its version ARN, the version the image gets:
    the first 12 hex digits of the zip's SHA-256, which Lambda reports as CodeSha256)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Dockerfile", content)
    zipped = buffer.getvalue()
    published = image_build.aws("lambda").publish_layer_version(
        LayerName="notes-source-app", Content={"ZipFile": zipped})
    return published["LayerVersionArn"], hashlib.sha256(zipped).hexdigest()[:12]


def repository() -> str:
    return image_build.aws("ecr").create_repository(repositoryName="notes-repository-x1y2z3")["repository"]["repositoryUri"]


def push(repository_uri: str, tag: str) -> str:
    """An image pushed under `tag`, as the build's `docker push` does; its digest."""
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7,
                                      "digest": "sha256:" + hashlib.sha256(tag.encode()).hexdigest()},
                           "layers": []})
    pushed = image_build.aws("ecr").put_image(repositoryName=repository_uri.split("/", 1)[1],
                                              imageManifest=manifest, imageTag=tag)
    return pushed["image"]["imageId"]["imageDigest"]


def request(responses, kind: str = "Create", **properties) -> dict:
    """A CloudFormation request for the Image resource."""
    event = {
        "RequestType": kind, "ServiceToken": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:notes-ImageBuilder",
        "ResponseURL": f"{responses.url}/cloudformation-custom-resource-response/{uuid.uuid4()}?X-Amz-Signature=ab12",
        "StackId": STACK, "RequestId": str(uuid.uuid4()), "LogicalResourceId": "Image",
        "ResourceType": "Custom::ImageBuild",
        "ResourceProperties": {"ServiceToken": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:notes-ImageBuilder",
                               "ServiceTimeout": "3600", **properties},
    }
    if kind != "Create":
        event["PhysicalResourceId"] = "previous-physical-id"
    return event


def waiting(event: dict) -> str:
    """The key a request waits under while its build runs: its RequestId."""
    return event["RequestId"]


def build_variables(event: dict, layer: str, repository_uri: str, version: str, architecture: str) -> list[dict]:
    """The environment variables of a build started by `event`: what the buildspec uses, the key the
    request waits under, and the ids Delete finds the build by. No response URL."""
    tag = f"{version}-{IMAGES[architecture][2]}"
    values = {"SOURCE_LAYER_ARN": layer, "REPOSITORY_URI": repository_uri, "IMAGE_TAG": tag, "APP_VERSION": version,
              "CFN_REQUEST": waiting(event), "CFN_STACK_ID": event["StackId"],
              "CFN_LOGICAL_ID": event["LogicalResourceId"]}
    return [{"name": name, "value": value, "type": "PLAINTEXT"} for name, value in values.items()]


def kept(key: str) -> dict | None:
    """The waiting request's item under `key`, or None."""
    return image_build.aws("dynamodb").get_item(TableName=os.environ["REQUESTS_TABLE"],
                                                Key={"request_id": {"S": key}}).get("Item")


def keep(key: str, document: dict) -> None:
    """An item as something other than this request's Create left it."""
    image_build.aws("dynamodb").put_item(TableName=os.environ["REQUESTS_TABLE"], Item={
        "request_id": {"S": key}, "request": {"S": json.dumps(document)}, "expires": {"N": "1"}})


def expect_start(codebuild: Stubber, variables: list[dict], architecture: str = "ARM64") -> str:
    environment_type, image, _ = IMAGES[architecture]
    build_id = f"{PROJECT}:{uuid.uuid4()}"
    codebuild.add_response(
        "start_build", {"build": {"id": build_id, "buildStatus": "IN_PROGRESS", "currentPhase": "QUEUED"}},
        {"projectName": PROJECT, "environmentTypeOverride": environment_type, "imageOverride": image,
         "computeTypeOverride": "BUILD_GENERAL1_SMALL", "environmentVariablesOverride": variables})
    return build_id


def build_record(build_id: str, status: str, variables: list[dict], phases: list[dict] | None = None,
                 logs: dict | None = None) -> dict:
    record = {"id": build_id, "arn": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{build_id}",
              "buildStatus": status, "projectName": PROJECT, "currentPhase": "COMPLETED",
              "environment": {"type": "ARM_CONTAINER", "image": IMAGES["ARM64"][1],
                              "computeType": "BUILD_GENERAL1_SMALL", "environmentVariables": variables},
              "phases": phases or []}
    if logs is not None:
        record["logs"] = logs
    return record


def state_change(build_id: str, status: str) -> dict:
    """CodeBuild's event as EventBridge delivers it
    (https://docs.aws.amazon.com/codebuild/latest/userguide/sample-build-notifications-ref.html)."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "CodeBuild Build State Change",
            "source": "aws.codebuild", "account": ACCOUNT, "region": REGION,
            "resources": [f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/{build_id}"],
            "detail": {"build-status": status, "project-name": PROJECT, "build-id": build_id,
                       "current-phase": "COMPLETED", "additional-information": {}}}


def build_log(lines: list[str]) -> dict:
    """A build log in CloudWatch Logs (moto) and the record's `logs` pointing at it."""
    stream = str(uuid.uuid4())
    cloudwatch = image_build.aws("logs")
    try:
        cloudwatch.create_log_group(logGroupName=LOG_GROUP)
    except cloudwatch.exceptions.ResourceAlreadyExistsException:
        pass
    cloudwatch.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    now = int(time.time() * 1000) - 60_000
    cloudwatch.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                              logEvents=[{"timestamp": now + i, "message": line} for i, line in enumerate(lines)])
    return {"groupName": LOG_GROUP, "streamName": stream,
            "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={REGION}#logsV2:log-groups/log-group/"
                        f"$252Faws$252Fcodebuild$252Fnotes-image-builds/log-events/{stream}"}


def phases(failed: str, status: str, message: str = "") -> list[dict]:
    """Phases up to `failed`, which ended in `status` (with a context message when given)."""
    order = ["SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD"]
    done = [{"phaseType": p, "phaseStatus": "SUCCEEDED"} for p in order[:order.index(failed)]]
    last = {"phaseType": failed, "phaseStatus": status}
    if message:
        last["contexts"] = [{"statusCode": status if status != "FAILED" else "CLIENT_ERROR", "message": message}]
    return [*done, last, {"phaseType": "FINALIZING", "phaseStatus": "SUCCEEDED"}, {"phaseType": "COMPLETED"}]


def started(responses, codebuild, architecture: str = "ARM64", response_status: int | None = None,
            ) -> tuple[dict, list[dict], str, str, str]:
    """A Create that started a build: (request, the build's variables, build id, repository, version).
    `response_status`: what the response URL will answer (conftest.py), 200 by default."""
    layer, version = source_layer("FROM python:3.13-slim\n")
    repository_uri = repository()
    event = request(responses, SourceLayerArn=layer, RepositoryUri=repository_uri, Architecture=architecture)
    if response_status:
        event["ResponseURL"] = f"{responses.url}/response/status/{response_status}"
    variables = build_variables(event, layer, repository_uri, version, architecture)
    build_id = expect_start(codebuild, variables, architecture)
    image_build.handler(event, None)
    return event, variables, build_id, repository_uri, version


# --- Create and Update -------------------------------------------------------------------------------------

@pytest.mark.parametrize("architecture", ["ARM64", "X86_64"])
def test_create_with_a_new_source_starts_a_build_and_leaves_the_answer_to_it(responses, codebuild, architecture):
    """The build gets the arch's environment and every variable the buildspec and the completion need
    (the Stubber checks the exact request); CloudFormation hears nothing yet."""
    started(responses, codebuild, architecture)
    assert responses.received == []


def test_the_response_url_never_travels_with_the_build_but_waits_in_the_requests_table(responses, codebuild):
    """The ResponseURL answers the resource: a build's variables are readable with BatchGetBuilds and sent in
    every state-change event, so none holds it (nor any URL); it waits in the build stack's table, whose policy
    only the function's role gets past (tests/templates/test_build.py), and expires two hours on
    (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_EnvironmentVariable.html)."""
    before = int(time.time())
    event, variables, _, repository_uri, version = started(responses, codebuild)
    for variable in variables:
        assert not variable["value"].startswith("https://") and event["ResponseURL"] not in variable["value"]
        assert "://" not in variable["value"], variable
    stored = image_build.aws("dynamodb").scan(TableName=os.environ["REQUESTS_TABLE"])["Items"]
    assert [item["request_id"]["S"] for item in stored] == [event["RequestId"]]
    assert set(stored[0]) == {"request_id", "request", TABLE["TimeToLiveSpecification"]["AttributeName"]}
    assert before + 7200 <= int(stored[0]["expires"]["N"]) <= int(time.time()) + 7200  # TimeToLive: seconds
    assert json.loads(kept(waiting(event))["request"]["S"]) == {
        "ResponseURL": event["ResponseURL"], "StackId": STACK, "RequestId": event["RequestId"],
        "LogicalResourceId": "Image", "PhysicalResourceId": f"{repository_uri}:{version}-arm64"}


def test_a_succeeded_build_answers_the_create_with_the_image_by_digest(responses, codebuild):
    event, variables, build_id, repository_uri, version = started(responses, codebuild)
    digest = push(repository_uri, f"{version}-arm64")
    codebuild.add_response("batch_get_builds", {"builds": [build_record(build_id, "SUCCEEDED", variables)]},
                           {"ids": [build_id]})
    image_build.handler(state_change(build_id, "SUCCEEDED"), None)

    answer = responses.only()
    assert answer.path == event["ResponseURL"].removeprefix(responses.url)
    assert answer.headers["content-type"] == ""  # the presigned URL is signed without one
    assert answer.body["Status"] == "SUCCESS"
    assert answer.body["Data"] == {"ImageUri": f"{repository_uri}@{digest}", "Version": version}
    assert answer.body["PhysicalResourceId"] == f"{repository_uri}:{version}-arm64"
    assert (answer.body["StackId"], answer.body["RequestId"], answer.body["LogicalResourceId"]) == (
        event["StackId"], event["RequestId"], "Image")
    assert kept(waiting(event)) is None, "an answered request stops waiting"

    # EventBridge or Lambda delivering the event again: the request is gone, nothing is answered twice.
    codebuild.add_response("batch_get_builds", {"builds": [build_record(build_id, "SUCCEEDED", variables)]},
                           {"ids": [build_id]})
    image_build.handler(state_change(build_id, "SUCCEEDED"), None)
    assert len(responses.received) == 1


def test_a_succeeded_build_whose_image_is_missing_fails_the_resource(responses, codebuild):
    _, variables, build_id, repository_uri, version = started(responses, codebuild)
    codebuild.add_response("batch_get_builds", {"builds": [build_record(build_id, "SUCCEEDED", variables)]},
                           {"ids": [build_id]})
    image_build.handler(state_change(build_id, "SUCCEEDED"), None)
    answer = responses.only().body
    assert answer["Status"] == "FAILED"
    assert f"no image tagged {version}-arm64" in answer["Reason"]


INDEXES = [
    ("application/vnd.oci.image.index.v1+json",  # BuildKit's provenance: the image and an attestation "platform"
     [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "platform": {"architecture": "arm64", "os": "linux"}},
      {"mediaType": "application/vnd.oci.image.manifest.v1+json", "platform": {"architecture": "unknown", "os": "unknown"},
       "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]),
    ("application/vnd.docker.distribution.manifest.list.v2+json",  # two platforms
     [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "platform": {"architecture": arch, "os": "linux"}}
      for arch in ("arm64", "amd64")]),
]


@pytest.mark.parametrize("media_type,manifests", INDEXES, ids=["oci-index-with-provenance", "docker-manifest-list"])
def test_a_succeeded_build_that_pushed_an_image_index_fails_the_resource(responses, codebuild, media_type, manifests):
    """Lambda runs one platform's image manifest only (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html;
    an index with BuildKit's attestations is refused too: docker/buildx#1533). A build that pushed an index (the
    build's --provenance=false --sbom=false ignored) fails the deploy here, saying so, rather than at the
    function's create with "media type ... not supported"."""
    event, variables, build_id, repository_uri, version = started(responses, codebuild)
    index = json.dumps({"schemaVersion": 2, "mediaType": media_type,
                        "manifests": [{**m, "size": 500, "digest": f"sha256:{i}" + "0" * 63} for i, m in enumerate(manifests)]})
    image_build.aws("ecr").put_image(repositoryName=repository_uri.split("/", 1)[1], imageManifest=index,
                                     imageTag=f"{version}-arm64", imageDigest="sha256:" + "1" * 64)
    codebuild.add_response("batch_get_builds", {"builds": [build_record(build_id, "SUCCEEDED", variables)]},
                           {"ids": [build_id]})
    image_build.handler(state_change(build_id, "SUCCEEDED"), None)
    answer = responses.only().body
    assert answer["Status"] == "FAILED" and not answer.get("Data"), answer
    assert f"pushed {version}-arm64 as an image index ({media_type}" in answer["Reason"]
    assert "--provenance=false --sbom=false" in answer["Reason"]
    assert kept(waiting(event)) is None, "a FAILED answer is an answer: the request stops waiting"


def test_update_with_a_changed_source_builds_the_new_one(responses, codebuild):
    old_layer, old_version = source_layer("FROM python:3.13-slim\n")
    new_layer, new_version = source_layer("FROM python:3.13-slim\nRUN true\n")
    assert new_version != old_version
    repository_uri = repository()
    push(repository_uri, f"{old_version}-arm64")
    event = request(responses, "Update", SourceLayerArn=new_layer, RepositoryUri=repository_uri, Architecture="ARM64")
    event["OldResourceProperties"] = {**event["ResourceProperties"], "SourceLayerArn": old_layer}
    expect_start(codebuild, build_variables(event, new_layer, repository_uri, new_version, "ARM64"))
    image_build.handler(event, None)
    assert responses.received == []


def test_an_update_or_rollback_to_a_built_source_answers_at_once_without_a_build(responses, codebuild):
    """A rollback to the previous source, a retry, or an unchanged context: the tag is in the repository.
    The stubbed CodeBuild has no response queued, so any build attempt would fail the answer."""
    layer, version = source_layer("FROM python:3.13-slim\n")
    repository_uri = repository()
    digest = push(repository_uri, f"{version}-arm64")
    event = request(responses, "Update", SourceLayerArn=layer, RepositoryUri=repository_uri, Architecture="ARM64")
    image_build.handler(event, None)
    answer = responses.only().body
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"] == {"ImageUri": f"{repository_uri}@{digest}", "Version": version}
    assert answer["PhysicalResourceId"] == f"{repository_uri}:{version}-arm64"


# --- builds that fail ----------------------------------------------------------------------------------

def test_a_failed_build_fails_the_resource_with_the_log_tail_and_the_link(responses, codebuild):
    _, variables, build_id, repository_uri, version = started(responses, codebuild)
    lines = [f"#{i} step {i:02} of the docker build" for i in range(60)] + ["ERROR: failed to solve: exit code: 1"]
    logs = build_log(lines)
    codebuild.add_response("batch_get_builds", {"builds": [build_record(
        build_id, "FAILED", variables, phases("BUILD", "FAILED", "COMMAND_EXECUTION_ERROR: docker build exit 1"),
        logs)]}, {"ids": [build_id]})
    image_build.handler(state_change(build_id, "FAILED"), None)

    answer = responses.only().body
    assert answer["Status"] == "FAILED"
    reason = answer["Reason"]
    assert reason.startswith("image build FAILED in BUILD")
    assert "docker build exit 1" in reason
    assert reason.endswith(f"#59 step 59 of the docker build | ERROR: failed to solve: exit code: 1 "
                           f"(full log: {logs['deepLink']})")
    assert "step 00 " not in reason  # the tail, not the whole log
    assert answer["PhysicalResourceId"] == f"{repository_uri}:{version}-arm64"


@pytest.mark.parametrize(("event_status", "build_status"), [
    ("TIMED_OUT", "TIMED_OUT"), ("STOPPED", "STOPPED"),
    ("FAILED", "TIMED_OUT"),  # the build's own record is more precise than the event
])
def test_a_timed_out_or_stopped_build_fails_the_resource(responses, codebuild, event_status, build_status):
    _, variables, build_id, _, _ = started(responses, codebuild)
    logs = build_log(["#5 [builder 2/4] RUN pip install -r requirements.txt"])
    codebuild.add_response("batch_get_builds", {"builds": [build_record(
        build_id, build_status, variables, phases("BUILD", build_status), logs)]}, {"ids": [build_id]})
    image_build.handler(state_change(build_id, event_status), None)
    answer = responses.only().body
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(f"image build {build_status} in BUILD: #5 [builder 2/4] RUN pip install")


def test_a_build_failing_before_its_buildspec_is_still_answered(responses, codebuild):
    """The case a build that answers CloudFormation itself never covers: no command of the buildspec
    ran, no log stream exists; the reason carries the phase's own message."""
    _, variables, build_id, _, _ = started(responses, codebuild)
    link = f"https://console.aws.amazon.com/codesuite/codebuild/{ACCOUNT}/projects/{PROJECT}/build/{build_id}"
    codebuild.add_response("batch_get_builds", {"builds": [build_record(
        build_id, "FAILED", variables,
        phases("PROVISIONING", "FAILED", "CannotPullContainerError: pull access denied"),
        {"groupName": LOG_GROUP, "streamName": "never-written", "deepLink": link})]}, {"ids": [build_id]})
    image_build.handler(state_change(build_id, "FAILED"), None)
    reason = responses.only().body["Reason"]
    assert responses.only().body["Status"] == "FAILED"
    assert reason.startswith("image build FAILED in PROVISIONING (CLIENT_ERROR: CannotPullContainerError")
    assert "no build log" in reason
    assert reason.endswith(f"(full log: {link})")


def test_the_answer_stays_under_4_kb_whatever_the_log_holds(responses, codebuild):
    """Long lines, non-ASCII text (six bytes each once JSON-escaped) and terminal colours."""
    _, variables, build_id, _, _ = started(responses, codebuild)
    logs = build_log([f"\x1b[31m{'é' * 5000} {i}\x1b[0m" for i in range(40)])
    codebuild.add_response("batch_get_builds", {"builds": [build_record(
        build_id, "FAILED", variables, phases("BUILD", "FAILED", "x" * 5000), logs)]}, {"ids": [build_id]})
    image_build.handler(state_change(build_id, "FAILED"), None)
    answer = responses.only()
    assert len(answer.raw) <= 4096
    assert int(answer.headers["content-length"]) == len(answer.raw)
    assert answer.body["Reason"].startswith("image build FAILED in BUILD")
    assert answer.body["Reason"].endswith(f"(full log: {logs['deepLink']})")
    assert "\x1b" not in answer.body["Reason"]


# --- Delete ------------------------------------------------------------------------------------------------

def test_delete_stops_this_resources_running_build_and_no_other(responses, codebuild, caplog):
    """Another stack's running build, another resource's of this stack and our finished one come first:
    stopping any of them would be a call the Stubber does not expect."""
    event = request(responses, "Delete", SourceLayerArn="x", RepositoryUri="y", Architecture="ARM64")
    ours, theirs, sibling, finished = (f"{PROJECT}:{uuid.uuid4()}" for _ in range(4))

    requests = {build: str(uuid.uuid4()) for build in (ours, theirs, sibling, finished)}
    for key in requests.values():
        keep(key, {})

    def variables(stack: str, logical_id: str = "Image", build: str = "") -> list[dict]:
        return [{"name": "CFN_STACK_ID", "value": stack, "type": "PLAINTEXT"},
                {"name": "CFN_LOGICAL_ID", "value": logical_id, "type": "PLAINTEXT"},
                {"name": "CFN_REQUEST", "value": requests[build], "type": "PLAINTEXT"}]

    codebuild.add_response("list_builds_for_project", {"ids": [finished, theirs, sibling, ours]},
                           {"projectName": PROJECT, "sortOrder": "DESCENDING"})
    codebuild.add_response("batch_get_builds", {"builds": [
        build_record(finished, "FAILED", variables(STACK, build=finished)),
        build_record(theirs, "IN_PROGRESS", variables(OTHER_STACK, build=theirs)),
        build_record(sibling, "IN_PROGRESS", variables(STACK, "WorkerImage", build=sibling)),
        build_record(ours, "IN_PROGRESS", variables(STACK, build=ours)),
    ]}, {"ids": [finished, theirs, sibling, ours]})
    codebuild.add_response("stop_build", {"build": {"id": ours, "buildStatus": "STOPPED"}}, {"id": ours})
    with caplog.at_level(logging.INFO, logger="image_build"):
        image_build.handler(event, None)
    assert f"stopped build {ours}" in caplog.text
    assert "could not stop" not in caplog.text
    answer = responses.only().body
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "previous-physical-id"
    # the stopped build's request goes with it (its STOPPED event then answers nothing); the others wait on
    assert {b: kept(k) is not None for b, k in requests.items()} == {
        ours: False, theirs: True, sibling: True, finished: True}


def test_delete_answers_success_even_when_codebuild_refuses(responses, codebuild):
    """A FAILED Delete would leave the stack in DELETE_FAILED; a build left running ends at its timeout."""
    codebuild.add_client_error("list_builds_for_project", "AccessDeniedException", "not authorized")
    image_build.handler(request(responses, "Delete", SourceLayerArn="x", RepositoryUri="y", Architecture="ARM64"), None)
    assert responses.only().body["Status"] == "SUCCESS"


# --- bad requests and AWS errors ------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "value", "says"), [
    ("SourceLayerArn", None, "property SourceLayerArn is missing"),
    ("SourceLayerArn", "arn:aws:lambda:us-east-1:123456789012:function:notes", "property SourceLayerArn is not"),
    ("RepositoryUri", None, "property RepositoryUri is missing"),
    ("RepositoryUri", "public.ecr.aws/notes/app", "property RepositoryUri is not"),
    ("Architecture", "MIPS", "property Architecture must be ARM64 or X86_64"),
    ("Architecture", ["ARM64"], "property Architecture must be a string"),
])
def test_a_missing_or_malformed_property_fails_naming_it(responses, codebuild, name, value, says):
    layer, _ = source_layer("FROM python:3.13-slim\n")
    properties = {"SourceLayerArn": layer, "RepositoryUri": repository(), "Architecture": "ARM64", name: value}
    if value is None:
        del properties[name]
    image_build.handler(request(responses, **properties), None)
    answer = responses.only().body
    assert answer["Status"] == "FAILED"
    assert says in answer["Reason"]
    assert "\n" not in answer["Reason"]


def test_an_error_from_aws_fails_the_resource_in_one_line(responses, codebuild):
    """The layer does not exist (moto's Lambda says so): FAILED with the error, not a timeout."""
    event = request(responses, SourceLayerArn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:notes-source-app:7",
                    RepositoryUri=repository(), Architecture="ARM64")
    image_build.handler(event, None)
    answer = responses.only().body
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("image build not started: ResourceNotFoundException")
    assert answer["PhysicalResourceId"] == event["RequestId"]


def test_a_refused_build_fails_the_resource(responses, codebuild):
    layer, _ = source_layer("FROM python:3.13-slim\n")
    codebuild.add_client_error("start_build", "AccountLimitExceededException", "Cannot have more than 1 builds in queue")
    image_build.handler(request(responses, SourceLayerArn=layer, RepositoryUri=repository(), Architecture="ARM64"), None)
    answer = responses.only().body
    assert answer["Status"] == "FAILED"
    assert "AccountLimitExceededException" in answer["Reason"]
    assert image_build.aws("dynamodb").scan(TableName=os.environ["REQUESTS_TABLE"])["Items"] == [], \
        "no build: no request waits"


def test_a_request_left_by_a_crashed_attempt_is_overwritten_by_its_retry(responses, codebuild):
    """Lambda retries an invocation that crashed after storing the request but before starting the build."""
    layer, version = source_layer("FROM python:3.13-slim\n")
    repository_uri = repository()
    event = request(responses, SourceLayerArn=layer, RepositoryUri=repository_uri, Architecture="ARM64")
    keep(waiting(event), {"left": "by a crash"})
    expect_start(codebuild, build_variables(event, layer, repository_uri, version, "ARM64"))
    image_build.handler(event, None)
    assert responses.received == []
    assert json.loads(kept(waiting(event))["request"]["S"])["ResponseURL"] == event["ResponseURL"]
    assert int(kept(waiting(event))["expires"]["N"]) > time.time(), "and its expiry moves on"


def test_a_request_that_cannot_be_deleted_after_its_answer_is_left_without_failing(responses, codebuild, caplog):
    """The answer is what counts: an item left behind is logged (its TimeToLive removes it), and the event is
    not retried."""
    event, variables, build_id, _, _ = started(responses, codebuild)
    codebuild.add_response("batch_get_builds", {"builds": [build_record(build_id, "FAILED", variables)]},
                           {"ids": [build_id]})
    dynamodb, table = image_build.aws("dynamodb"), os.environ["REQUESTS_TABLE"]
    key = {"request_id": {"S": waiting(event)}}
    stored = kept(waiting(event))
    with Stubber(dynamodb) as stub, caplog.at_level(logging.INFO, logger="image_build"):
        stub.add_response("get_item", {"Item": stored}, {"TableName": table, "Key": key, "ConsistentRead": True})
        stub.add_client_error("delete_item", "ThrottlingException", "Rate exceeded")
        image_build.handler(state_change(build_id, "FAILED"), None)
    assert responses.only().body["Status"] == "FAILED"
    assert f"could not delete waiting request {waiting(event)}" in caplog.text


def test_a_build_naming_no_waiting_request_is_ignored(responses, codebuild, caplog):
    """Someone who may start the project's builds sets CFN_REQUEST to a key of their own: the table holds no
    such request (only the function's role may write it), so nothing is answered."""
    build_id = f"{PROJECT}:{uuid.uuid4()}"
    elsewhere = [{"name": "CFN_REQUEST", "value": str(uuid.uuid4()), "type": "PLAINTEXT"}]
    codebuild.add_response("batch_get_builds", {"builds": [build_record(build_id, "FAILED", elsewhere)]},
                           {"ids": [build_id]})
    with caplog.at_level(logging.INFO, logger="image_build"):
        image_build.handler(state_change(build_id, "FAILED"), None)
    assert responses.received == []
    assert f"ignored build {build_id}: its request" in caplog.text


def test_a_build_without_cfn_variables_is_ignored(responses, codebuild, caplog):
    """Someone ran the project by hand: there is no request to answer, and the handler does not raise."""
    build_id = f"{PROJECT}:{uuid.uuid4()}"
    codebuild.add_response("batch_get_builds", {"builds": [build_record(build_id, "FAILED", [])]}, {"ids": [build_id]})
    with caplog.at_level(logging.INFO, logger="image_build"):
        image_build.handler(state_change(build_id, "FAILED"), None)
    assert responses.received == []
    assert f"ignored build {build_id}" in caplog.text


def test_an_unreadable_build_is_raised_for_lambda_to_retry(responses, codebuild):
    """EventBridge invokes the function asynchronously: an error makes Lambda run the event again."""
    build_id = f"{PROJECT}:{uuid.uuid4()}"
    codebuild.add_client_error("batch_get_builds", "ThrottlingException", "Rate exceeded")
    with pytest.raises(ClientError, match="ThrottlingException"):
        image_build.handler(state_change(build_id, "SUCCEEDED"), None)
    assert responses.received == []


def test_an_undelivered_answer_is_raised_for_lambda_to_retry(responses, codebuild, monkeypatch):
    monkeypatch.setattr(custom_resource, "RETRY_DELAY", 0)
    _, variables, build_id, _, _ = started(responses, codebuild, response_status=503)
    codebuild.add_response("batch_get_builds", {"builds": [build_record(build_id, "FAILED", variables)]},
                           {"ids": [build_id]})
    with pytest.raises(image_build.NotAnswered):
        image_build.handler(state_change(build_id, "FAILED"), None)
    assert len(responses.received) == custom_resource.ATTEMPTS
    assert kept(next(v["value"] for v in variables if v["name"] == "CFN_REQUEST")), "kept for the retry"


def test_an_in_progress_event_is_ignored(responses, codebuild, caplog):
    """The rule already filters them out; a stray one reads nothing (no CodeBuild call is stubbed)."""
    with caplog.at_level(logging.INFO, logger="image_build"):
        image_build.handler(state_change(f"{PROJECT}:{uuid.uuid4()}", "IN_PROGRESS"), None)
    assert responses.received == []
    assert "ignored state IN_PROGRESS" in caplog.text


# --- the response itself ----------------------------------------------------------------------------------

def test_a_long_reason_is_cut_in_the_middle_to_fit_4_kb():
    event = {"StackId": STACK, "RequestId": str(uuid.uuid4()), "LogicalResourceId": "Image"}
    reason = "image build FAILED in BUILD: " + "é\n" * 5000 + "(full log: https://example.com/log)"
    raw = custom_resource.body(event, "FAILED", reason, "physical")
    assert len(raw) <= 4096
    sent = json.loads(raw)["Reason"]
    assert sent.startswith("image build FAILED in BUILD: ") and sent.endswith("(full log: https://example.com/log)")


@pytest.mark.parametrize(("status", "attempts"), [(503, 3), (403, 1)])
def test_send_never_raises_and_retries_only_server_errors(responses, monkeypatch, status, attempts):
    monkeypatch.setattr(custom_resource, "RETRY_DELAY", 0)
    event = {"ResponseURL": f"{responses.url}/response/status/{status}", "StackId": STACK,
             "RequestId": str(uuid.uuid4()), "LogicalResourceId": "Image"}
    assert custom_resource.send(event, "SUCCESS", "ok", "physical") is False
    assert len(responses.received) == attempts
