import re
import shutil

import pytest

from functions.site_files import IMMUTABLE, NO_CACHE, SOURCE, SiteFile, build, publishable
from scripts import publish


def objects(t, bucket):
    s3 = t.client("s3")
    return {o["Key"]: s3.head_object(Bucket=bucket, Key=o["Key"])
            for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_build_hashes_assets_and_points_index_at_them():
    site = build()
    index = site["index.html"]
    assert index.cache_control == NO_CACHE and index.content_type == "text/html; charset=utf-8"
    hashed = [k for k in site if k.startswith("assets/")]
    assert len(hashed) == 3 and all(re.fullmatch(r"assets/(app|favicon)\.[0-9a-f]{10}\.(js|css|svg)", k) for k in hashed)
    for key in hashed:
        assert site[key].cache_control == IMMUTABLE
        assert f'"/{key}"' in index.body.decode()
    assert site[[k for k in hashed if k.endswith(".js")][0]].content_type == "text/javascript; charset=utf-8"


def test_first_publish_uploads_everything_and_invalidates_the_page(deployed):
    t, out = deployed
    result = publish.publish(t, delay=0)
    stored = objects(t, out.bucket_name)
    assert set(stored) == set(build())
    assert stored["index.html"]["CacheControl"] == NO_CACHE
    assert stored["index.html"]["ContentType"] == "text/html; charset=utf-8"
    assert result["invalidated"] == ["/", "/index.html"]
    invalidations = t.client("cloudfront").list_invalidations(DistributionId=out.distribution_id)
    assert invalidations["InvalidationList"]["Quantity"] == 1


def test_republishing_unchanged_files_does_nothing(deployed):
    t, out = deployed
    publish.publish(t, delay=0)
    again = publish.publish(t, delay=0)
    assert again == {"uploaded": [], "removed": [], "invalidated": []}
    assert t.client("cloudfront").list_invalidations(DistributionId=out.distribution_id)[
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
    assert old_js not in objects(t, out.bucket_name)


# What lands in a frontend/ folder on a real machine besides the site.
LITTER = {
    ".DS_Store": b"\0\0\0\1Bud1", "assets/.DS_Store": b"\0", "Thumbs.db": b"\0", "desktop.ini": b"[.ShellClassInfo]",
    "index.html~": b"<html>old", ".index.html.swp": b"b0VIM", "#app.js#": b"x", "assets/app.js.bak": b"x",
    "assets/app.js.map": b"{}", ".env": b"API_KEY=secret", ".env.local": b"API_KEY=secret",
    ".git/config": b"[core]", ".gitignore": b"*", ".idea/workspace.xml": b"<x/>", ".vscode/settings.json": b"{}",
    "notes.md": b"todo", "backup.zip": b"PK", "Makefile": b"all:",
    # What a build step brings along: dependencies and their manifests are not the site.
    "node_modules/left-pad/index.js": b"module.exports=1", "node_modules/x/package.json": b"{}",
    "package.json": b'{"name": "site"}', "package-lock.json": b"{}", "assets/package.json": b"{}",
}


@pytest.fixture
def littered(tmp_path):
    """frontend/ as it is, plus the litter."""
    source = tmp_path / "frontend"
    shutil.copytree(SOURCE, source)
    for key, body in LITTER.items():
        (source / key).parent.mkdir(parents=True, exist_ok=True)
        (source / key).write_bytes(body)
    (source / "linked.txt").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "outside.txt").write_text("a file outside frontend/")
    return source


@pytest.mark.parametrize("key", sorted(LITTER))
def test_litter_is_not_publishable(key):
    assert not publishable(key)


@pytest.mark.parametrize("key", ["index.html", "assets/app.css", "assets/app.js", "favicon.ico", "img/Logo.PNG",
                                 "site.webmanifest", "robots.txt", "fonts/a.woff2"])
def test_site_files_are_publishable(key):
    assert publishable(key)


def test_publish_uploads_only_the_allow_list_and_names_what_it_skipped(deployed, littered, capsys):
    t, out = deployed
    result = publish.publish(t, site=build(littered), delay=0)
    stored = set(objects(t, out.bucket_name))
    assert stored == set(build()) == set(result["uploaded"]), "exactly the site, as from a clean frontend/"
    printed = capsys.readouterr().out
    for key in [*LITTER, "linked.txt"]:
        assert f"skipped {key} " in printed
