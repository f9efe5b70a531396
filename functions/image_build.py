"""Custom::ImageBuild: the stack builds the image its service runs, in CodeBuild, and CloudFormation
learns the outcome from CodeBuild's own events.

One function, two callers:

* CloudFormation sends Create/Update/Delete requests for the `Image` resource of a service stack.
  Create/Update validates the properties, names the image by its source (the first 12 hex digits of the
  source layer's CodeSha256, plus the architecture), and answers SUCCESS at once when the repository
  already holds that tag: an unchanged context, a retry, or a rollback to the previous source builds
  nothing. Otherwise it keeps the request waiting (below), starts a CodeBuild build and returns WITHOUT
  answering. Delete stops this resource's running builds (a rollback leaves no build pushing into a
  repository being deleted), deletes their waiting requests, and answers SUCCESS.
* EventBridge sends CodeBuild's "Build State Change" events for the project. A finished build started by
  a request (one with a CFN_REQUEST variable) is answered from here: SUCCEEDED -> SUCCESS with the image by
  digest (FAILED if the tag names an image index, which Lambda refuses); FAILED, FAULT, STOPPED or
  TIMED_OUT -> FAILED with the phase, the last lines of the build log and the link to the whole log.

Where the request waits: the ResponseURL is a bearer credential (whoever holds it can answer SUCCESS with
an image of their choosing), so it never travels with the build. A build's environment variables are
readable with codebuild:BatchGetBuilds (in AWS's ReadOnlyAccess) and go out in every CodeBuild
state-change event to any EventBridge rule of the account, and CodeBuild's API reference "strongly
discourage[s] the use of PLAINTEXT environment variables to store sensitive values"
(https://docs.aws.amazon.com/codebuild/latest/APIReference/API_EnvironmentVariable.html). Before the build
starts, {ResponseURL, StackId, RequestId, LogicalResourceId, PhysicalResourceId} is stored as an item of
the build stack's own DynamoDB table (REQUESTS_TABLE; key: the RequestId), and the build gets only that key
(CFN_REQUEST), plus the stack and logical ids Delete finds its builds by (no secrets). The table's
resource-based policy (build.yml) denies reading or writing its items to every principal but this
function's role: AmazonDynamoDBReadOnlyAccess or ReadOnlyAccess do not reach them
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/access-control-resource-based.html).
Not a Parameter Store SecureString: under the AWS managed key aws/ssm, which "grants Decrypt permission to
all IAM principals in the AWS account", any principal with ssm:GetParameter* (AWS's
AmazonSSMReadOnlyAccess grants ssm:Get* on *) reads it decrypted
(https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html), and a parameter
left by a crash outlives the stack. The table is encrypted with the AWS owned key (no KMS grant), deleted
with the stack, and each item carries `expires` (TimeToLive, two hours on: longer than a build may queue
and run), so an item left by a crash goes by itself. The completion reads the item, answers, then deletes
it; an item already gone means the request was answered (a repeated event) or deleted with its stopped
build, and the event is ignored. An item left behind (the function stopped between answering and
deleting) holds an answered request's URL and stops nothing: a retry of the same request overwrites it,
and its TimeToLive removes it.

Why completion comes from the events and not from a waiting Lambda: a Docker build can outlast a
Lambda's 15 minutes, and a poller (CDK's provider framework with isComplete) costs a state machine
and a polling loop. Why not answer from inside the build, as tmokmss/deploy-time-build and
CloudSnorkel/cdk-github-runners do: a build that fails before its buildspec runs (no capacity, an image
pull or a source download failing, a queue timeout) runs no command at all, so it never answers, and
CloudFormation waits out its timeout ("Sometimes CodeBuild build fails before running buildspec,
without calling the CFn callback", deploy-time-build's lambda/trigger-codebuild/index.ts;
cdk-github-runners#540 is a user waiting an hour for such a response). CodeBuild emits a Build State
Change when a build ends, whatever phase it ended in, so every build started here is answered.

What still ends in CloudFormation's ServiceTimeout (the template sets it): an event that never arrives
(the rule or its Lambda permission missing) or an answer that cannot be delivered. On a request the
handler never raises: an exception becomes a FAILED answer with the error in one line. On a build
event it raises only when it could not read the build or its waiting request, or deliver the answer:
EventBridge invokes the function asynchronously, and Lambda runs a failed asynchronous invocation twice
more, one and then two minutes later (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html);
the request is deleted only once answered, so a retry answers it, and an event delivered again finds it
gone and answers nothing.

https://docs.aws.amazon.com/codebuild/latest/userguide/sample-build-notifications.html (the events)
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref.html (requests and answers)
"""
from __future__ import annotations

import base64
import functools
import json
import logging
import os
import re
import time

import boto3
from custom_resource import one_line, send

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

# Architecture property -> CodeBuild environment type, curated image, and the tag's suffix. Amazon Linux
# 2023 images with Docker; an ARM build runs natively on Graviton (no QEMU), and ARM_CONTAINER takes
# BUILD_GENERAL1_SMALL. https://docs.aws.amazon.com/codebuild/latest/userguide/ec2-compute-images.html
ENVIRONMENTS = {
    "ARM64": ("ARM_CONTAINER", "aws/codebuild/amazonlinux-aarch64-standard:3.0", "arm64"),
    "X86_64": ("LINUX_CONTAINER", "aws/codebuild/amazonlinux-x86_64-standard:5.0", "amd64"),
}
COMPUTE_TYPE = "BUILD_GENERAL1_SMALL"
EVENT_TYPE = "CodeBuild Build State Change"
# What a waiting request keeps (its item's `request`, JSON): what the answer needs and nothing else.
REQUEST_FIELDS = ("ResponseURL", "StackId", "RequestId", "LogicalResourceId", "PhysicalResourceId")
# The build's variable holding its request's key (the RequestId); and the two Delete finds this resource's builds by.
REQUEST_VARIABLE = "CFN_REQUEST"
# The requests table's key and TimeToLive attributes (build.yml's RequestsTable), and how long an item lives:
# two hours, more than a build may wait and run (the project's 20 + 30 minutes) and than CloudFormation waits
# for an answer (the resource's ServiceTimeout, 3600 s). DynamoDB deletes an expired item within days, and
# reads still return it until then, so the completion does not check it: an item is deleted once answered.
KEY, EXPIRES = "request_id", "expires"
REQUEST_LIFETIME = 2 * 3600
LOG_EVENTS = 40  # the last build log events read for a failure's reason
LOG_BYTES = 2000  # of which at most this much goes into the reason, as JSON (the answer must stay under 4 KB)
LINE_CHARS = 300  # per log line
# A build of ours that still runs started within the project's timeouts (30 min running, 20 queued):
# it is among the newest 100 builds of the project (one ListBuildsForProject page).
RECENT_BUILDS = 100

# What a tag may name: one platform's image manifest (Docker's or OCI's), or an index of several (Docker's
# manifest list, OCI's image index), which Lambda refuses (index_media_type).
IMAGE_MANIFEST_MEDIA_TYPES = ["application/vnd.docker.distribution.manifest.v2+json",
                              "application/vnd.oci.image.manifest.v1+json"]
INDEX_MEDIA_TYPES = ["application/vnd.docker.distribution.manifest.list.v2+json",
                     "application/vnd.oci.image.index.v1+json"]
MANIFEST_MEDIA_TYPES = IMAGE_MANIFEST_MEDIA_TYPES + INDEX_MEDIA_TYPES

LAYER_ARN = re.compile(r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]{1,140}):([1-9]\d*)$")
REPOSITORY_URI = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/"
    r"(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)$")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")


class BadProperty(ValueError):
    """A missing or malformed resource property: the message names it."""


class NotAnswered(RuntimeError):
    """A finished build whose answer could not be delivered: raised so that Lambda runs the event again."""


@functools.cache
def aws(service: str):
    """One client per service for the life of the execution environment (created on first use)."""
    return boto3.client(service)


def handler(event: dict, context=None) -> None:
    """Entry point for both callers (see the module's docstring for when it raises)."""
    if event.get("detail-type") == EVENT_TYPE:
        on_build_event(event)
    elif "RequestType" in event:
        on_request(event)
    else:
        logger.warning("ignored an event that is neither a custom resource request nor a build state change")


# --- CloudFormation requests ---------------------------------------------------------------------------

def on_request(event: dict) -> None:
    logger.info("%s request %s for %s", event.get("RequestType"), event.get("RequestId"),
                event.get("LogicalResourceId"))
    # A failed Create has no physical id of its own; CloudFormation's Delete for it still stops our builds.
    physical_id = event.get("PhysicalResourceId") or event.get("RequestId") or "none"
    if event.get("RequestType") == "Delete":
        stop_running_builds(event)
        send(event, "SUCCESS", "deleted (the images go with the repository)", physical_id)
        return
    try:
        create_or_update(event)
    except Exception as error:
        logger.exception("request %s failed", event.get("RequestId"))
        send(event, "FAILED", f"image build not started: {one_line(error)}", physical_id)


def properties(event: dict) -> tuple[str, str, str, str]:
    """(layer ARN, repository URI, repository name, architecture) from the request, or BadProperty."""
    props = event.get("ResourceProperties") or {}

    def text(name: str, pattern: str) -> str:
        value = props.get(name)
        if value is None or value == "":
            raise BadProperty(f"property {name} is missing (expected {pattern})")
        if not isinstance(value, str):
            raise BadProperty(f"property {name} must be a string (expected {pattern}), got {type(value).__name__}")
        return value

    layer = text("SourceLayerArn", "a Lambda layer version ARN")
    if not LAYER_ARN.match(layer):
        raise BadProperty(f"property SourceLayerArn is not a layer version ARN: {layer[:200]!r}")
    repository = text("RepositoryUri", "an ECR repository URI")
    match = REPOSITORY_URI.match(repository)
    if not match:
        raise BadProperty(f"property RepositoryUri is not an ECR repository URI: {repository[:200]!r}")
    architecture = text("Architecture", " or ".join(ENVIRONMENTS))
    if architecture not in ENVIRONMENTS:
        raise BadProperty(f"property Architecture must be {' or '.join(ENVIRONMENTS)}, got {architecture[:50]!r}")
    return layer, repository, match["name"], architecture


def source_version(layer_arn: str) -> str:
    """The first 12 hex digits of the layer's CodeSha256: the same source, the same version.

    GetLayerVersion with the layer's ARN and number is the same call (and the same IAM action,
    lambda:GetLayerVersion) as GetLayerVersionByArn, and returns the same document."""
    layer, number = LAYER_ARN.match(layer_arn).groups()
    content = aws("lambda").get_layer_version(LayerName=layer, VersionNumber=int(number))["Content"]
    return base64.b64decode(content["CodeSha256"]).hex()[:12]


def image_digest(repository_name: str, tag: str) -> str | None:
    """The digest of the image tagged `tag`, or None when the repository has no such tag."""
    ecr = aws("ecr")
    try:
        found = ecr.describe_images(repositoryName=repository_name, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return None
    details = found.get("imageDetails") or []
    return details[0]["imageDigest"] if details else None


def keep_request(event: dict, physical_id: str) -> str:
    """Store the request's answer fields; its key. Overwritten when a retry of the same request (its
    RequestId) finds one left by an attempt that stopped before its build started."""
    document = {field: event[field] for field in REQUEST_FIELDS if field != "PhysicalResourceId"}
    aws("dynamodb").put_item(TableName=os.environ["REQUESTS_TABLE"], Item={
        KEY: {"S": event["RequestId"]},
        "request": {"S": json.dumps({**document, "PhysicalResourceId": physical_id})},
        EXPIRES: {"N": str(int(time.time()) + REQUEST_LIFETIME)},
    })
    return event["RequestId"]


def forget_request(key: str) -> None:
    """Delete a waiting request; one already gone is fine. Never raises: an item left behind is an answered
    request's, harmless, and its TimeToLive removes it (see the module's docstring)."""
    try:
        aws("dynamodb").delete_item(TableName=os.environ["REQUESTS_TABLE"], Key={KEY: {"S": key}})
    except Exception:
        logger.exception("could not delete waiting request %s; it stays until it expires", key)


def create_or_update(event: dict) -> None:
    layer, repository, name, architecture = properties(event)
    environment_type, image, suffix = ENVIRONMENTS[architecture]
    version = source_version(layer)
    tag = f"{version}-{suffix}"
    physical_id = f"{repository}:{tag}"
    digest = image_digest(name, tag)
    if digest:
        logger.info("%s already holds %s: no build", repository, tag)
        send(event, "SUCCESS", f"image {tag} already built", physical_id,
             {"ImageUri": f"{repository}@{digest}", "Version": version})
        return
    waiting = keep_request(event, physical_id)
    variables = {
        "SOURCE_LAYER_ARN": layer, "REPOSITORY_URI": repository, "IMAGE_TAG": tag, "APP_VERSION": version,
        REQUEST_VARIABLE: waiting, "CFN_STACK_ID": event["StackId"], "CFN_LOGICAL_ID": event["LogicalResourceId"],
    }
    try:
        build = aws("codebuild").start_build(
            projectName=os.environ["PROJECT_NAME"],
            environmentTypeOverride=environment_type,
            imageOverride=image,
            computeTypeOverride=COMPUTE_TYPE,
            environmentVariablesOverride=[{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in variables.items()],
        )["build"]
    except Exception:
        forget_request(waiting)  # no build will answer it: the caller answers FAILED
        raise
    # No answer here: the build's state change event answers (on_build_event).
    logger.info("started build %s of %s for request %s", build["id"], tag, event["RequestId"])


def build_variables(build: dict) -> dict[str, str]:
    return {v["name"]: v.get("value", "") for v in build.get("environment", {}).get("environmentVariables", [])}


def stop_running_builds(event: dict) -> None:
    """Stop the builds this resource started that still run, and delete their waiting requests (their
    STOPPED events then find none and answer nothing). A failure here is logged, not answered:
    a FAILED Delete would leave the stack in DELETE_FAILED, while a build left running stops at the
    project's timeout and its answer goes to a request nobody waits for any more."""
    try:
        codebuild = aws("codebuild")
        ids = codebuild.list_builds_for_project(projectName=os.environ["PROJECT_NAME"],
                                                sortOrder="DESCENDING")["ids"][:RECENT_BUILDS]
        builds = codebuild.batch_get_builds(ids=ids)["builds"] if ids else []
        for build in builds:
            variables = build_variables(build)
            if (build.get("buildStatus") == "IN_PROGRESS"
                    and variables.get("CFN_STACK_ID") == event["StackId"]
                    and variables.get("CFN_LOGICAL_ID") == event["LogicalResourceId"]):
                codebuild.stop_build(id=build["id"])
                logger.info("stopped build %s", build["id"])
                if variables.get(REQUEST_VARIABLE):
                    forget_request(variables[REQUEST_VARIABLE])
    except Exception:
        logger.exception("could not stop the running builds of %s; they stop at the project's timeout",
                         event.get("LogicalResourceId"))


# --- CodeBuild state changes ------------------------------------------------------------------------------

def on_build_event(event: dict) -> None:
    detail = event.get("detail") or {}
    status, build_id = detail.get("build-status"), detail.get("build-id")
    if not build_id or status in (None, "IN_PROGRESS"):
        logger.info("ignored state %s of build %s", status, build_id)
        return
    # Unreadable (throttled, say): raise, and Lambda runs the event again.
    builds = aws("codebuild").batch_get_builds(ids=[build_id])["builds"]
    variables = build_variables(builds[0]) if builds else {}
    waiting = variables.get(REQUEST_VARIABLE, "")
    if not waiting:  # run by hand: nothing of ours to answer
        logger.info("ignored build %s: not started by a custom resource request (no %s)", build_id, REQUEST_VARIABLE)
        return
    request = waiting_request(waiting)
    if request is None:
        logger.info("ignored build %s: its request %s was answered or deleted already", build_id, waiting)
        return
    build = builds[0]
    # The build's own record names a timeout or a fault even where the event's status is coarser.
    if build.get("buildStatus") not in (None, "IN_PROGRESS"):
        status = build["buildStatus"]
    physical_id = request["PhysicalResourceId"]
    logger.info("build %s %s for request %s", build_id, status, request["RequestId"])
    try:
        answer = success(variables) if status == "SUCCEEDED" else ("FAILED", failure_reason(build, status), None)
    except Exception as error:
        logger.exception("reading the result of build %s failed", build_id)
        answer = ("FAILED", f"image build {status}, but its result could not be read: {one_line(error)}", None)
    if not send(request, answer[0], answer[1], physical_id, answer[2]):
        raise NotAnswered(f"the answer to request {request['RequestId']} for build {build_id} was not delivered")
    forget_request(waiting)


def waiting_request(key: str) -> dict | None:
    """The request kept under `key`, or None when it is gone. Unreadable otherwise: raise (Lambda retries).
    Strongly consistent: a build CodeBuild ends at once (a queue refused) may follow its item's write closely."""
    item = aws("dynamodb").get_item(TableName=os.environ["REQUESTS_TABLE"], Key={KEY: {"S": key}},
                                    ConsistentRead=True).get("Item")
    if item is None:
        return None
    request = json.loads(item["request"]["S"])
    missing = [field for field in REQUEST_FIELDS if not request.get(field)]
    if missing:
        raise ValueError(f"waiting request {key} lacks {missing[0]}")
    return request


def index_media_type(repository_name: str, tag: str) -> str | None:
    """The media type of the manifest tagged `tag` when it is an image index (a manifest list), else None.

    Lambda runs only one platform's image manifest: "Lambda does not support functions that use
    multi-architecture container images" (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html),
    and it refuses the single-platform index BuildKit pushes when it attaches provenance or an SBOM ("The image
    manifest, config or layer media type for the source image ... is not supported": docker/buildx#1533,
    aws/aws-lambda-roadmap#82). The build passes --provenance=false --sbom=false (build.yml); this check makes
    a build that still pushed an index fail the deploy with that reason instead of the function's create."""
    image = aws("ecr").batch_get_image(repositoryName=repository_name, imageIds=[{"imageTag": tag}],
                                       acceptedMediaTypes=MANIFEST_MEDIA_TYPES)["images"][0]
    manifest = json.loads(image["imageManifest"])
    media_type = image.get("imageManifestMediaType") or manifest.get("mediaType") or ""
    is_index = media_type in INDEX_MEDIA_TYPES or "manifests" in manifest
    return (media_type or "an image index") if is_index else None


def success(variables: dict[str, str]) -> tuple[str, str, dict | None]:
    """(status, reason, data) for a build that SUCCEEDED: SUCCESS only when its image is in the repository,
    as one platform's image manifest (its digest is what a task or a function then runs)."""
    repository, tag = variables["REPOSITORY_URI"], variables["IMAGE_TAG"]
    match = REPOSITORY_URI.match(repository)
    digest = image_digest(match["name"], tag) if match else None
    if not digest:
        return "FAILED", f"image build SUCCEEDED but {repository} has no image tagged {tag}", None
    index = index_media_type(match["name"], tag)
    if index:
        return "FAILED", (f"image build SUCCEEDED but pushed {tag} as an image index ({index}: several platforms, or "
                          "provenance or SBOM attestations), which Lambda refuses: the build must push one platform's "
                          "image manifest (docker build --provenance=false --sbom=false, build.yml)"), None
    return "SUCCESS", f"image {tag} built", {"ImageUri": f"{repository}@{digest}", "Version": variables["APP_VERSION"]}


def failure_reason(build: dict, status: str) -> str:
    """"image build <status> in <phase> (<phase message>): <last log lines> (full log: <link>)"."""
    failed = next((p for p in build.get("phases", []) if p.get("phaseStatus") not in (None, "SUCCEEDED")), None)
    phase = (failed or {}).get("phaseType") or build.get("currentPhase") or "an unknown phase"
    contexts = [" ".join(f"{c.get('statusCode', '')}: {c.get('message', '')}".strip(": ").split())
                for c in (failed or {}).get("contexts", []) if c.get("message") or c.get("statusCode")]
    where = f"{phase} ({clip('; '.join(contexts), LINE_CHARS)})" if contexts else phase
    logs = build.get("logs") or {}
    link = logs.get("deepLink") or f"aws codebuild batch-get-builds --ids {build.get('id', '')}"
    return f"image build {status} in {where}: {last_log_lines(logs)} (full log: {link})"


def last_log_lines(logs: dict) -> str:
    """The newest lines of the build log, oldest first, joined with " | " (the deploy's root cause
    prints a reason on one line), within LOG_BYTES once JSON-encoded."""
    group, stream = logs.get("groupName"), logs.get("streamName")
    if not group or not stream:
        return "(no build log: the build stopped before it wrote one)"
    cloudwatch = aws("logs")
    try:
        events = cloudwatch.get_log_events(logGroupName=group, logStreamName=stream, limit=LOG_EVENTS,
                                           startFromHead=False)["events"]
    except cloudwatch.exceptions.ResourceNotFoundException:
        return "(no build log: the build stopped before it wrote one)"
    except Exception as error:
        return f"(build log unreadable: {one_line(error)[:LINE_CHARS]})"
    lines, size = [], 0
    for log_event in reversed(events):
        line = clip(" ".join(ANSI.sub("", log_event.get("message", "")).split()), LINE_CHARS)
        if not line:
            continue
        cost = len(json.dumps(line)) + 1  # its escaped size and the separator's
        if size + cost > LOG_BYTES:
            break
        lines.append(line)
        size += cost
    return " | ".join(reversed(lines)) if lines else "(the build log is empty)"


def clip(text: str, limit: int) -> str:
    """`text` within `limit` bytes once JSON-encoded (non-ASCII and control characters are escaped)."""
    text = text[:limit]
    while len(json.dumps(text)) - 2 > limit:  # a character escapes to at most 12 bytes (a surrogate pair)
        text = text[: len(text) - (len(json.dumps(text)) - 2 - limit) // 12 - 1]
    return text

