import re

from scripts import publish
from scripts.site import IMMUTABLE, NO_CACHE, SiteFile, build


def objects(t, bucket):
    s3 = t.client("s3")
    return {o["Key"]: s3.head_object(Bucket=bucket, Key=o["Key"])
            for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_build_hashes_assets_and_points_index_at_them():
    site = build()
    index = site["index.html"]
    assert index.cache_control == NO_CACHE and index.content_type == "text/html; charset=utf-8"
    hashed = [k for k in site if k.startswith("assets/")]
    assert len(hashed) == 2 and all(re.fullmatch(r"assets/app\.[0-9a-f]{10}\.(js|css)", k) for k in hashed)
    for key in hashed:
        assert site[key].cache_control == IMMUTABLE
        assert f'"/{key}"' in index.body.decode()
    assert site[[k for k in hashed if k.endswith(".js")][0]].content_type == "text/javascript; charset=utf-8"


def test_first_publish_uploads_everything_and_invalidates_the_page(deployed):
    t, out = deployed
    result = publish.publish(t, delay=0)
    stored = objects(t, out["BucketName"])
    assert set(stored) == set(build())
    assert stored["index.html"]["CacheControl"] == NO_CACHE
    assert stored["index.html"]["ContentType"] == "text/html; charset=utf-8"
    assert result["invalidated"] == ["/", "/index.html"]
    invalidations = t.client("cloudfront").list_invalidations(DistributionId=out["DistributionId"])
    assert invalidations["InvalidationList"]["Quantity"] == 1


def test_republishing_unchanged_files_does_nothing(deployed):
    t, out = deployed
    publish.publish(t, delay=0)
    again = publish.publish(t, delay=0)
    assert again == {"uploaded": [], "removed": [], "invalidated": []}
    assert t.client("cloudfront").list_invalidations(DistributionId=out["DistributionId"])[
        "InvalidationList"]["Quantity"] == 1


def test_a_changed_asset_uploads_only_what_changed_and_removes_the_stale_one(deployed):
    t, out = deployed
    site = build()
    publish.publish(t, site=site, delay=0)
    old_js = next(k for k in site if k.endswith(".js"))
    changed = dict(site)
    del changed[old_js]
    new_js = SiteFile("assets/app.0123456789.js", b"console.log(2)", "text/javascript; charset=utf-8", IMMUTABLE)
    changed[new_js.key] = new_js
    index = site["index.html"]
    changed["index.html"] = SiteFile("index.html", index.body.replace(old_js.encode(), new_js.key.encode()),
                                     index.content_type, index.cache_control)
    result = publish.publish(t, site=changed, delay=0)
    assert result["uploaded"] == [new_js.key, "index.html"]
    assert result["removed"] == [old_js]
    assert result["invalidated"] == ["/", f"/{old_js}", "/index.html"]
    assert old_js not in objects(t, out["BucketName"])
