"""`make publish`: upload frontend/ to the stack's bucket and invalidate only what changed.

Changed files are uploaded with their content type and cache policy; files the
site no longer has are deleted (the bucket's versioning keeps them 30 days);
then CloudFront is told to forget the changed paths that are not content-hashed
(index.html), and we wait until it has.
"""
from __future__ import annotations

import uuid

from functions.site_files import SiteFile, build, invalidation_paths, plan
from scripts import outputs as stack_outputs
from scripts.common import Target, aws_errors, log, wait
from scripts.outputs import ParentOutputs


def remote_etags(s3, bucket: str) -> dict[str, str]:
    etags = {}
    with aws_errors():
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                etags[obj["Key"]] = obj["ETag"].strip('"')
    return etags


def publish(t: Target, site: dict[str, SiteFile] | None = None, timeout: float = 900, delay: float = 10,
            outputs: ParentOutputs | None = None) -> dict:
    outputs = outputs or stack_outputs.read(t)
    bucket, distribution = outputs.bucket_name, outputs.distribution_id
    site = site if site is not None else build(log=log)
    s3, cloudfront = t.client("s3"), t.client("cloudfront")
    upload, stale = plan(site, remote_etags(s3, bucket))
    with aws_errors():
        for f in upload:
            s3.put_object(Bucket=bucket, Key=f.key, Body=f.body, ContentType=f.content_type,
                          CacheControl=f.cache_control)
            log(f"  uploaded {f.key} ({f.cache_control})")
        for start in range(0, len(stale), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start:start + 1000]],
                                                     "Quiet": True})
        for key in stale:
            log(f"  removed {key}")
    paths = invalidation_paths(upload, stale)
    if not paths:
        log(f"frontend: {len(upload)} uploaded, nothing to invalidate")
        return {"uploaded": [f.key for f in upload], "removed": stale, "invalidated": []}
    with aws_errors():
        invalidation = cloudfront.create_invalidation(DistributionId=distribution, InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": uuid.uuid4().hex,
        })["Invalidation"]

    def state():
        with aws_errors():
            return cloudfront.get_invalidation(DistributionId=distribution, Id=invalidation["Id"])["Invalidation"]["Status"]

    wait("invalidation_completed", cloudfront, what=f"CloudFront invalidation of {', '.join(paths)}",
         describe=state, timeout=timeout, delay=delay, DistributionId=distribution, Id=invalidation["Id"])
    log(f"frontend: {len(upload)} uploaded, {len(stale)} removed, {len(paths)} paths invalidated")
    return {"uploaded": [f.key for f in upload], "removed": stale, "invalidated": paths}
