"""Custom::SitePublish (frontend.yml's Site): the stack publishes its own site.

Create/Update: the site's layer (parent.yml's SiteSource, the frontend/ folder `sam deploy` zipped) is
downloaded from the fresh presigned URL Lambda's GetLayerVersion returns (Content.Location, valid 10
minutes; GetLayerVersion takes the layer's ARN and version, answers as GetLayerVersionByArn does, needs
the same lambda:GetLayerVersion permission, and moto implements it), read in memory with
functions/site_files.py (the allow-list, hashed asset names and cache headers), and
only what differs from the bucket (by ETag) is uploaded; keys that left the site are deleted (the
bucket's versioning keeps them 30 days); ONE invalidation of the changed paths that are not
content-hashed is created and not waited for. Answers SUCCESS with PhysicalResourceId = the bucket name
and Data {Uploaded, Removed} (counts).

Delete: only when the bucket is going away with it is the bucket emptied, every object version and
delete marker, 1,000 per call, so CloudFormation can delete it. CloudFormation sends Delete when a stack
is deleted or a resource removed from it, and also in the cleanup after an update: the old resource of a
replacement (update succeeded), and a resource the failed update created (update rolled back)
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes-delete.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-monitor-stack.html:
"if CloudFormation needs to replace an existing resource, it first creates a new resource and then deletes
the old resource"; the stack statuses UPDATE_COMPLETE_CLEANUP_IN_PROGRESS and
UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS of
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html; CDK's auto-delete fix, below).
So the Delete of the upgrade that first adds Site to a stack, rolled back, carries the bucket name as its
physical id while the old stack keeps serving that bucket. The bucket is emptied only when
- the physical id is the bucket name of the request's properties (a publish succeeded there; a failed
  Create's physical id says "unpublished"), and
- the stack (the event's StackId: frontend.yml's nested stack) is DELETE_IN_PROGRESS or
  ROLLBACK_IN_PROGRESS (a failed create: the bucket goes next), or the stack holds no AWS::S3::Bucket of
  that name any more (DescribeStackResources: the bucket was replaced and this is the old one's cleanup).
Any other Delete answers SUCCESS and leaves the bucket alone, saying why in the log: the publisher may
read its own stack only (frontend.yml grants cloudformation:DescribeStacks and DescribeStackResources on
AWS::StackId). DescribeStackResources lists up to 100 resources, more than frontend.yml holds.

Every request is answered (functions/custom_resource.py), with the error in one line on failure.

What CDK's BucketDeployment users hit (aws/aws-cdk issues), and what this takes from it:
- Timeouts with many files or a large bucket (#7571, #17979, #7950): `aws s3 sync` there lists and
  compares per file, with /tmp and 15 minutes as limits. Here: one ListObjectsV2 pass (1,000 keys a call)
  for every ETag, no per-file request but the uploads, no /tmp (a layer is at most 250 MB unzipped);
  the function's timeout (300 s) stays under the resource's ServiceTimeout (900 s), so a publish too
  big for it fails with Lambda's timeout in the log instead of leaving the stack waiting an hour.
- Out of memory at 128 MB (tmokmss/deploy-time-build#28, aws/aws-dotnet-deploy#310): the function gets
  1,024 MB (frontend.yml), for one invocation per deploy.
- "Waiter InvalidationCompleted failed" and CloudFront's ServiceUnavailable on CreateInvalidation failing
  deploys (#15891): the invalidation is not waited for, and the clients retry in standard mode with more
  attempts. The invalidation's CallerReference is the request's id, so a retried request makes no second one.
- Deletes failing on cloudfront:CreateInvalidation / GetInvalidation after the permission went (#23708,
  #33762): Delete calls CloudFront not at all, and the role's policy is inline in the role, which the
  function (and so the resource) depends on: it is deleted after them.
- A replaced bucket (#15019): the physical id is the bucket name, so a new bucket is a new physical id and
  CloudFormation's cleanup Delete of the old one (its name, no longer in the stack) empties the old bucket
  it then deletes.
- Objects deleted by a rollback (#27199, fixed in aws/aws-cdk#29581): the Delete of a resource that a
  failed update created empties nothing while the stack still holds the bucket.
"""
from __future__ import annotations

import re
import urllib.request

import boto3
import custom_resource
import site_files
from botocore.config import Config

CLIENTS = Config(retries={"mode": "standard", "max_attempts": 10})
LAYER_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+")
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
DISTRIBUTION = re.compile(r"[A-Z0-9]{1,32}")
PROPERTIES = {"SiteSourceArn": LAYER_ARN, "BucketName": BUCKET, "DistributionId": DISTRIBUTION}


class BadProperty(ValueError):
    pass


def properties(event: dict) -> dict[str, str]:
    given = event.get("ResourceProperties") or {}
    for name, form in PROPERTIES.items():
        value = given.get(name)
        if not isinstance(value, str) or not form.fullmatch(value):
            raise BadProperty(f"property {name} is missing or malformed: {str(value)[:200]!r}")
    return {name: given[name] for name in PROPERTIES}


def download(url: str) -> bytes:
    """The layer's zip from its presigned URL."""
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 (Lambda's https URL)
        return response.read()


def remote_etags(s3, bucket: str) -> dict[str, str]:
    etags = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            etags[obj["Key"]] = obj["ETag"].strip('"')
    return etags


def publish(event: dict, given: dict[str, str], fetch=download) -> dict:
    """Upload what changed, delete what left, invalidate the changed un-hashed paths; the counts."""
    bucket = given["BucketName"]
    layer_arn, _, version = given["SiteSourceArn"].rpartition(":")
    layer = boto3.client("lambda", config=CLIENTS).get_layer_version(LayerName=layer_arn, VersionNumber=int(version))
    built = site_files.site(site_files.read_zip(fetch(layer["Content"]["Location"])))
    if not built:
        raise ValueError(f"{given['SiteSourceArn']} holds no publishable file")
    s3 = boto3.client("s3", config=CLIENTS)
    upload, stale = site_files.plan(built, remote_etags(s3, bucket))
    for f in upload:
        s3.put_object(Bucket=bucket, Key=f.key, Body=f.body, ContentType=f.content_type, CacheControl=f.cache_control)
        print(f"  uploaded {f.key} ({f.cache_control})")
    for start in range(0, len(stale), 1000):
        batch = stale[start:start + 1000]
        result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        if result.get("Errors"):
            raise RuntimeError(f"could not remove {result['Errors'][0]['Key']}: {result['Errors'][0]['Message']}")
        print(f"  removed {', '.join(batch)}")
    paths = site_files.invalidation_paths(upload, stale)
    if paths:
        boto3.client("cloudfront", config=CLIENTS).create_invalidation(
            DistributionId=given["DistributionId"],
            InvalidationBatch={"Paths": {"Quantity": len(paths), "Items": paths},
                               "CallerReference": event.get("RequestId", "")[:128] or bucket})
    print(f"site: {len(upload)} uploaded, {len(stale)} removed, invalidated {paths or 'nothing'}")
    return {"Uploaded": len(upload), "Removed": len(stale)}


def empty(bucket: str) -> int:
    """Delete every object version and delete marker of `bucket`, 1,000 per call; how many. A bucket that
    no longer exists (deleted by hand) is as empty as it gets: 0, so the stack's delete goes on instead of
    ending in DELETE_FAILED (CloudFormation then finds the bucket gone and deletes it from the stack)."""
    s3 = boto3.client("s3", config=CLIENTS)
    deleted = 0
    while True:  # the first page again each time: what was deleted is no longer listed
        try:
            page = s3.list_object_versions(Bucket=bucket, MaxKeys=1000)
        except s3.exceptions.NoSuchBucket:
            print(f"{bucket} no longer exists: nothing to empty")
            return deleted
        objects = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if not objects:
            return deleted
        result = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        if result.get("Errors"):
            raise RuntimeError(f"could not delete {result['Errors'][0]['Key']}: {result['Errors'][0]['Message']}")
        deleted += len(objects)


GOING_AWAY = ("DELETE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS")  # the stack's resources are being deleted


def kept_because(cloudformation, stack_id: str, bucket: str) -> str | None:
    """Why a Delete must leave `bucket` alone (the stack keeps it), or None when the bucket goes away."""
    status = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
    if status in GOING_AWAY:
        return None
    held = [r for r in cloudformation.describe_stack_resources(StackName=stack_id)["StackResources"]
            if r["ResourceType"] == "AWS::S3::Bucket" and r.get("PhysicalResourceId") == bucket]
    if not held:
        return None
    return f"the stack ({status}) still holds {bucket} as {held[0]['LogicalResourceId']}"


def answer(event: dict, fetch=download, cloudformation=None) -> None:
    """Do what the request asks and answer CloudFormation, whatever happens. `fetch` reads the layer's
    URL (download; the tests give the zip's bytes, since moto serves no layer content); `cloudformation`
    is the client that reads the stack (boto3's; the tests give one stubbed with a status moto never
    holds, such as DELETE_IN_PROGRESS)."""
    kind = event.get("RequestType")
    physical = event.get("PhysicalResourceId") or f"{event.get('LogicalResourceId', 'Site')}-unpublished"
    try:
        if kind == "Delete":
            bucket = (event.get("ResourceProperties") or {}).get("BucketName")
            if physical != bucket:
                print(f"left {bucket} alone: the resource's physical id {physical!r} is not the bucket")
            else:
                if cloudformation is None:
                    cloudformation = boto3.client("cloudformation", config=CLIENTS)
                why = kept_because(cloudformation, event["StackId"], bucket)
                if why:
                    print(f"left {bucket} alone: {why} (an update's cleanup or rollback, not the bucket's delete)")
                else:
                    print(f"emptied {bucket}: {empty(bucket)} versions and delete markers")
            custom_resource.send(event, "SUCCESS", "", physical)
            return
        if kind not in ("Create", "Update"):
            raise BadProperty(f"unknown RequestType {kind!r}")
        given = properties(event)
        data = publish(event, given, fetch)
        custom_resource.send(event, "SUCCESS", "", given["BucketName"], data)
    except Exception as error:  # noqa: BLE001 (CloudFormation gets every failure as a FAILED answer)
        print(f"failed: {type(error).__name__}: {error}")
        custom_resource.send(event, "FAILED", f"site publish failed: {type(error).__name__}: {error}",
                             physical)


def handler(event: dict, context) -> None:
    answer(event)
