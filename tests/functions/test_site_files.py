"""The site the stack publishes (frontend/ built as functions/site_files.py builds it: hashed assets, cache headers,
the file-type allow-list). Publishing it is the stack's site custom resource (tests/functions)."""
import re
import shutil

import pytest

from functions.site_files import IMMUTABLE, MAX_INVALIDATION_PATHS, NO_CACHE, SOURCE, SiteFile, build, invalidation_paths, publishable


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


def test_the_site_is_only_the_allow_list_and_says_what_it_skipped(littered, capsys):
    """What the stack's site publisher uploads (the site the build makes), from a littered frontend/."""
    assert set(build(littered)) == set(build()), "exactly the site, as from a clean frontend/"
    printed = capsys.readouterr().out
    for key in [*LITTER, "linked.txt"]:
        assert f"skipped {key} " in printed


def test_past_the_cap_one_wildcard_replaces_the_paths_even_beyond_what_cloudfront_accepts():
    """More than 3,000 paths fail CreateInvalidation; each past 1,000 a month costs $0.005, "/*" counts once
    (https://aws.amazon.com/cloudfront/pricing/). Hashed assets are never invalidated, however many."""
    pages = [SiteFile(f"p{i}.html", b"x", "text/html", NO_CACHE) for i in range(3001)]
    assets = [SiteFile(f"assets/a{i}.0123456789.js", b"x", "text/javascript", IMMUTABLE) for i in range(40)]
    assert invalidation_paths(pages, []) == ["/*"]
    assert invalidation_paths([], [f"gone{i}.html" for i in range(MAX_INVALIDATION_PATHS + 1)]) == ["/*"]
    assert invalidation_paths(pages[:MAX_INVALIDATION_PATHS] + assets, []) == sorted(
        f"/p{i}.html" for i in range(MAX_INVALIDATION_PATHS))
