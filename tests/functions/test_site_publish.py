"""Custom::SitePublish (functions/site_publish.py) against moto: what a deploy leaves in the bucket and
asks of CloudFront, and the answer CloudFormation always gets.

moto keeps a layer's content but returns no URL that serves it (Content.Location is "s3://"), so each
test gives the handler a `fetch` that returns the zip it published as the layer, after checking the
handler asked for the location the layer reports; the real download (urllib) is tested on its own
against the local HTTP server.

The bucket is a resource of a stack in moto's CloudFormation, the stack a Delete names, so the handler
reads the stack's real resources; moto's stacks are only ever in a stable state (CREATE_COMPLETE and
the like), so a Delete during the stack's own delete or a failed create's rollback gets a client whose
DescribeStacks botocore's Stubber answers with that status."""
from __future__ import annotations

import io
import json
import re
import stat
import zipfile

import boto3
import botocore.session
import pytest
import site_files
import site_publish
from botocore.stub import Stubber
from moto import mock_aws

FRONTEND = {
    "index.html": b'<!doctype html><link rel="stylesheet" href="/assets/app.css"><script src="/assets/app.js"></script>',
    "assets/app.css": b"body{margin:0}",
    "assets/app.js": b"console.log(1)",
    "robots.txt": b"User-agent: *",
}


def zipped(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        for key, body in files.items():
            archive.writestr(key, body)
        for key, target in (links or {}).items():
            info = zipfile.ZipInfo(key)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return data.getvalue()


class Deployment:
    """A bucket, a distribution and the site's layer, as frontend.yml and parent.yml make them."""

    def __init__(self, event):
        self.event = event
        self.s3, self.cloudfront, self.awslambda, self.cfn = (
            boto3.client(n) for n in ("s3", "cloudfront", "lambda", "cloudformation"))
        self.stack_id = self.cfn.create_stack(StackName="s-FrontendStack-X", TemplateBody=json.dumps(
            {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}))["StackId"]
        self.bucket = self.held_bucket()
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        self.distribution = self.cloudfront.create_distribution(DistributionConfig={
            "CallerReference": "site", "Comment": "", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": f"{self.bucket}.s3.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https"},
        })["Distribution"]["Id"]
        self.zips: dict[str, bytes] = {}

    def held_bucket(self) -> str:
        (resource,) = self.cfn.describe_stack_resources(StackName=self.stack_id)["StackResources"]
        return resource["PhysicalResourceId"]

    def layer(self, files: dict[str, bytes], links: dict[str, str] | None = None) -> str:
        data = zipped(files, links)
        arn = self.awslambda.publish_layer_version(LayerName="stack-source-site", Content={"ZipFile": data})[
            "LayerVersionArn"]
        self.zips[arn] = data
        return arn

    def properties(self, arn: str, **changes) -> dict:
        return {"SiteSourceArn": arn, "BucketName": self.bucket, "DistributionId": self.distribution, **changes}

    def run(self, kind: str, properties: dict, physical: str | None = None, status: str | None = None) -> None:
        """The request, in a stack whose status is moto's or, given `status`, that one (Stubber)."""
        def fetch(url: str) -> bytes:
            arn = properties["SiteSourceArn"]
            layer, _, version = arn.rpartition(":")
            assert url == self.awslambda.get_layer_version(LayerName=layer, VersionNumber=int(version))[
                "Content"]["Location"]
            return self.zips[arn]
        request = {**self.event(kind, properties, physical), "StackId": self.stack_id}
        if status is None:
            site_publish.answer(request, fetch)
            return
        client = boto3.client("cloudformation")
        with Stubber(client) as stub:
            stub.add_response("describe_stacks", {"Stacks": [{
                "StackName": "s-FrontendStack-X", "StackId": self.stack_id, "CreationTime": "2026-12-07T00:00:00Z",
                "StackStatus": status}]}, {"StackName": self.stack_id})
            site_publish.answer(request, fetch, client)
            stub.assert_no_pending_responses()

    def publish(self, files: dict[str, bytes], kind: str = "Create", **kwargs) -> None:
        self.run(kind, self.properties(self.layer(files, **kwargs)),
                 None if kind == "Create" else self.bucket)

    def stored(self) -> dict[str, dict]:
        """key -> its current version, content type and cache control."""
        heads = {o["Key"]: self.s3.head_object(Bucket=self.bucket, Key=o["Key"])
                 for o in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])}
        return {k: {n: h[n] for n in ("VersionId", "ContentType", "CacheControl")} for k, h in heads.items()}

    def invalidations(self) -> list[list[str]]:
        ids = [i["Id"] for i in self.cloudfront.list_invalidations(DistributionId=self.distribution)[
            "InvalidationList"].get("Items", [])]
        return [sorted(self.cloudfront.get_invalidation(DistributionId=self.distribution, Id=i)["Invalidation"][
            "InvalidationBatch"]["Paths"]["Items"]) for i in ids]


@pytest.fixture
def deployment(event):
    with mock_aws():
        yield Deployment(event)


def test_create_uploads_the_site_with_its_headers_and_invalidates_the_page(deployment, cloudformation):
    deployment.publish(FRONTEND)
    stored = deployment.stored()
    (css,), (js,) = ([k for k in stored if k.startswith("assets/") and k.endswith(ext)] for ext in (".css", ".js"))
    assert re.fullmatch(r"assets/app\.[0-9a-f]{10}\.css", css) and re.fullmatch(r"assets/app\.[0-9a-f]{10}\.js", js)
    assert set(stored) == {"index.html", "robots.txt", css, js}
    assert (stored["index.html"]["ContentType"], stored["index.html"]["CacheControl"]) == (
        "text/html; charset=utf-8", site_files.NO_CACHE)
    assert (stored[js]["ContentType"], stored[js]["CacheControl"]) == ("text/javascript; charset=utf-8",
                                                                      site_files.IMMUTABLE)
    assert stored["robots.txt"]["CacheControl"] == site_files.SHORT
    page = deployment.s3.get_object(Bucket=deployment.bucket, Key="index.html")["Body"].read().decode()
    assert f'"/{css}"' in page and f'"/{js}"' in page and '"/assets/app.js"' not in page
    assert deployment.invalidations() == [["/", "/index.html", "/robots.txt"]]
    (answer,) = cloudformation.received
    assert answer.body["Status"] == "SUCCESS" and answer.body["PhysicalResourceId"] == deployment.bucket
    assert answer.body["Data"] == {"Uploaded": 4, "Removed": 0}
    assert answer.path == "/response?signed=1" and answer.headers["content-type"] == ""
    assert answer.body["RequestId"] == "req-0-Create" and answer.body["LogicalResourceId"] == "Site"


def test_an_update_uploads_and_invalidates_only_the_changed_file(deployment, cloudformation):
    deployment.publish(FRONTEND)
    before = deployment.stored()
    deployment.publish({**FRONTEND, "robots.txt": b"User-agent: *\nDisallow: /private"}, kind="Update")
    after = deployment.stored()
    assert [k for k in after if after[k]["VersionId"] != before[k]["VersionId"]] == ["robots.txt"]
    assert deployment.invalidations()[1:] == [["/robots.txt"]]
    assert cloudformation.answers()[-1]["Data"] == {"Uploaded": 1, "Removed": 0}


@pytest.mark.parametrize(("pages", "invalidated"), [
    (site_files.MAX_INVALIDATION_PATHS - 1, None),  # with "/": exactly the cap, each path named
    (site_files.MAX_INVALIDATION_PATHS, ["/*"]),
])
def test_many_changed_pages_are_invalidated_as_one_wildcard(deployment, cloudformation, pages, invalidated):
    """CloudFront bills each path past 1,000 a month and refuses more than 3,000 in one invalidation;
    "/*" is one path (https://aws.amazon.com/cloudfront/pricing/, "Invalidation requests")."""
    site = {"index.html": b"<p>one</p>", **{f"page{i}.html": b"<p>one</p>" for i in range(pages - 1)}}
    deployment.publish(site)
    changed = {key: b"<p>two</p>" for key in site}
    deployment.publish(changed, kind="Update")
    expected = invalidated or sorted(["/", *(f"/{k}" for k in site)])
    assert deployment.invalidations()[-1] == expected
    assert len(expected) <= site_files.MAX_INVALIDATION_PATHS
    assert cloudformation.answers()[-1]["Data"] == {"Uploaded": pages, "Removed": 0}


def test_a_file_that_left_the_site_is_deleted(deployment, cloudformation):
    deployment.publish(FRONTEND)
    deployment.publish({k: v for k, v in FRONTEND.items() if k != "robots.txt"}, kind="Update")
    assert "robots.txt" not in deployment.stored()
    assert deployment.invalidations()[1:] == [["/robots.txt"]]
    assert cloudformation.answers()[-1]["Data"] == {"Uploaded": 0, "Removed": 1}


def test_an_unchanged_site_uploads_and_invalidates_nothing(deployment, cloudformation):
    deployment.publish(FRONTEND)
    before = deployment.stored()
    deployment.publish(FRONTEND, kind="Update")
    assert deployment.stored() == before
    assert len(deployment.invalidations()) == 1
    assert cloudformation.answers()[-1]["Status"] == "SUCCESS"
    assert cloudformation.answers()[-1]["Data"] == {"Uploaded": 0, "Removed": 0}


def test_files_a_site_does_not_serve_and_links_are_skipped_and_named(deployment, cloudformation, capsys):
    litter = {".env": b"API_KEY=secret", "assets/app.js.map": b"{}", ".git/config": b"[core]",
              "node_modules/x/index.js": b"1", "../outside.txt": b"x", "/etc/passwd.txt": b"x"}
    deployment.publish({**FRONTEND, **litter}, links={"linked.txt": "/etc/passwd"})
    assert set(deployment.stored()) == set(site_files.site(FRONTEND))
    printed = capsys.readouterr().out
    for key in [*litter, "linked.txt"]:
        assert f"skipped {key} " in printed
    assert cloudformation.answers()[-1]["Status"] == "SUCCESS"


@pytest.mark.parametrize("status", site_publish.GOING_AWAY)
def test_delete_with_the_stack_empties_the_bucket_of_every_version_and_delete_marker(deployment, cloudformation,
                                                                                     status):
    """The stack's delete, or a failed create's rollback: the bucket is deleted next and must be empty."""
    deployment.publish(FRONTEND)
    deployment.publish({"index.html": b"<p>two</p>"}, kind="Update")  # old versions and delete markers now
    s3 = deployment.s3
    listed = s3.list_object_versions(Bucket=deployment.bucket)
    assert listed.get("DeleteMarkers") and len(listed["Versions"]) > 1
    deployment.run("Delete", deployment.properties(deployment.layer(FRONTEND)), deployment.bucket, status=status)
    listed = s3.list_object_versions(Bucket=deployment.bucket)
    assert not listed.get("Versions") and not listed.get("DeleteMarkers")
    s3.delete_bucket(Bucket=deployment.bucket)  # what CloudFormation does next
    assert cloudformation.answers()[-1]["Status"] == "SUCCESS"
    assert cloudformation.answers()[-1]["PhysicalResourceId"] == deployment.bucket


def test_delete_of_a_bucket_deleted_by_hand_succeeds(deployment, cloudformation, capsys):
    """Someone emptied and deleted the bucket in the console: the stack's delete must not end in DELETE_FAILED."""
    deployment.s3.delete_bucket(Bucket=deployment.bucket)
    deployment.run("Delete", deployment.properties(deployment.layer(FRONTEND)), deployment.bucket,
                   status="DELETE_IN_PROGRESS")
    assert cloudformation.answers()[-1]["Status"] == "SUCCESS", cloudformation.answers()[-1]["Reason"]
    assert f"{deployment.bucket} no longer exists" in capsys.readouterr().out


def test_a_rolled_back_upgrade_leaves_the_site_the_stack_still_serves(deployment, cloudformation, capsys):
    """The update that first adds Site to a stack publishes into the bucket the stack already serves, then
    fails later and rolls back: CloudFormation deletes the Site it created, with the bucket name as its
    physical id, while the stack keeps the bucket (moto's stack, settled, stands for
    UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS). The page stays."""
    deployment.publish(FRONTEND)
    before = deployment.stored()
    deployment.run("Delete", deployment.properties(deployment.layer(FRONTEND)), deployment.bucket)
    assert deployment.stored() == before
    assert cloudformation.answers()[-1]["Status"] == "SUCCESS"
    assert cloudformation.answers()[-1]["PhysicalResourceId"] == deployment.bucket
    bucket = deployment.bucket
    assert f"left {bucket} alone: the stack (CREATE_COMPLETE) still holds {bucket} as Bucket" in capsys.readouterr().out


def test_the_cleanup_of_a_replaced_bucket_empties_the_old_one(deployment, cloudformation):
    """A replaced bucket: Site published into the new one (a new physical id), and CloudFormation's cleanup
    deletes the old Site, naming the old bucket, which the stack no longer holds and deletes next."""
    old = "s-frontendstack-x-bucket-old"
    deployment.s3.create_bucket(Bucket=old)
    deployment.s3.put_object(Bucket=old, Key="index.html", Body=b"<p>old</p>")
    deployment.publish(FRONTEND)
    kept = deployment.stored()
    deployment.run("Delete", deployment.properties(deployment.layer(FRONTEND), BucketName=old), old)
    assert not deployment.s3.list_object_versions(Bucket=old).get("Versions")
    assert deployment.stored() == kept, "the stack's own bucket is untouched"
    assert cloudformation.answers()[-1]["Status"] == "SUCCESS"


@pytest.mark.parametrize("status", botocore.session.get_session().get_service_model("cloudformation")
                         .shape_for("StackStatus").enum)
def test_only_a_stack_deleting_its_resources_lets_go_of_a_bucket_it_holds(status):
    """Every status DescribeStacks can answer (botocore's model of the API): the bucket the stack holds is
    given up only while the stack deletes its resources."""
    stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/s-FrontendStack-X/guid"
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", {"Stacks": [{"StackName": "s", "CreationTime": "2026-12-07T00:00:00Z",
                                                          "StackStatus": status}]}, {"StackName": stack})
        if status not in site_publish.GOING_AWAY:
            stub.add_response("describe_stack_resources", {"StackResources": [{
                "LogicalResourceId": "Bucket", "PhysicalResourceId": "b-1", "ResourceType": "AWS::S3::Bucket",
                "Timestamp": "2026-12-07T00:00:00Z", "ResourceStatus": "UPDATE_COMPLETE"}]}, {"StackName": stack})
        why = site_publish.kept_because(client, stack, "b-1")
    assert (why is None) == (status in site_publish.GOING_AWAY), why
    assert site_publish.GOING_AWAY == ("DELETE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS")


@pytest.mark.parametrize("physical", ["Site-unpublished", "another-bucket"])
def test_delete_with_another_physical_id_leaves_the_bucket_alone(deployment, cloudformation, physical):
    deployment.publish(FRONTEND)
    before = deployment.stored()
    deployment.run("Delete", deployment.properties(deployment.layer(FRONTEND)), physical)
    assert deployment.stored() == before
    assert cloudformation.answers()[-1]["Status"] == "SUCCESS"
    assert cloudformation.answers()[-1]["PhysicalResourceId"] == physical


@pytest.mark.parametrize("name, value", [("SiteSourceArn", "not-an-arn"), ("BucketName", ["a", "b"]),
                                         ("DistributionId", None)])
def test_a_missing_or_malformed_property_fails_naming_it(deployment, cloudformation, name, value):
    properties = deployment.properties(deployment.layer(FRONTEND))
    properties = {k: v for k, v in properties.items() if k != name} | ({} if value is None else {name: value})
    deployment.run("Create", properties)
    (answer,) = cloudformation.answers()
    assert answer["Status"] == "FAILED" and f"property {name} is missing or malformed" in answer["Reason"]
    assert answer["PhysicalResourceId"] == "Site-unpublished", "its rollback Delete must not empty the bucket"
    assert deployment.stored() == {}


def test_a_failed_create_rolls_back_without_touching_the_bucket(deployment, cloudformation):
    deployment.publish(FRONTEND)
    before = deployment.stored()
    deployment.run("Create", {"BucketName": deployment.bucket})
    failed = cloudformation.answers()[-1]
    deployment.run("Delete", {"BucketName": deployment.bucket}, failed["PhysicalResourceId"])
    assert deployment.stored() == before and cloudformation.answers()[-1]["Status"] == "SUCCESS"


def test_an_aws_error_fails_the_resource_with_it_in_one_line(deployment, cloudformation):
    deployment.run("Update", deployment.properties(deployment.layer(FRONTEND), BucketName="no-such-bucket"),
                   "no-such-bucket")
    (answer,) = cloudformation.answers()
    assert answer["Status"] == "FAILED" and "NoSuchBucket" in answer["Reason"] and "\n" not in answer["Reason"]
    assert answer["PhysicalResourceId"] == "no-such-bucket"


def test_a_layer_without_a_site_fails(deployment, cloudformation):
    deployment.publish({".env": b"x", "notes.md": b"todo"})
    (answer,) = cloudformation.answers()
    assert answer["Status"] == "FAILED" and "holds no publishable file" in answer["Reason"]
    assert deployment.stored() == {}


def test_the_download_reads_the_presigned_url(cloudformation):
    cloudformation.served["/layer.zip?X-Amz-Signature=abc"] = zipped(FRONTEND)
    data = site_publish.download(f"{cloudformation.url}/layer.zip?X-Amz-Signature=abc")
    assert site_files.read_zip(data) == FRONTEND


def test_a_failed_download_is_an_error(cloudformation):
    with pytest.raises(OSError, match="404"):
        site_publish.download(f"{cloudformation.url}/expired.zip")
