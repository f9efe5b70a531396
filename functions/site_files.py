"""The frontend as it is uploaded: files under assets/ get a content hash in
their name (so they can be cached for a year) and index.html is rewritten to
point at them (and is never cached). No bundler: this is the whole build.

Only what a browser needs is uploaded: an allow-list of file types, never a dotfile or a
dot-directory (.git, .env, .DS_Store, .idea, vim's .x.swp), nor editor or OS litter (x~,
Thumbs.db, desktop.ini: not on the list). Everything else is skipped and named, so a
forgotten secret or backup in frontend/ never becomes a public URL.

Two readers feed the same build: read_folder (a clone's frontend/, as the tests read it) and read_zip (the stack's
publisher, functions/site_publish.py, from the zip `sam deploy` packaged). Standard library only: this
module runs in Lambda too, so it imports nothing of scripts/ (the log is a parameter)."""
from __future__ import annotations

import hashlib
import io
import mimetypes
import re
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "frontend"  # in a clone; the publisher reads a zip instead
HASHED_DIR = "assets/"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
SHORT = "public, max-age=3600"
_HASHED = re.compile(r"\.[0-9a-f]{10}\.[a-z0-9]+$")
# The file types a static site serves. Source maps (.map) are left out on purpose: they publish
# the unminified source. Add a type here when the site needs it (a .wasm, a .pdf).
PUBLISHED_TYPES = frozenset({
    "html", "css", "js", "mjs", "json", "webmanifest", "txt", "xml",
    "svg", "png", "jpg", "jpeg", "gif", "webp", "avif", "ico",
    "woff", "woff2",
})


@dataclass(frozen=True)
class SiteFile:
    key: str
    body: bytes
    content_type: str
    cache_control: str

    @property
    def md5(self) -> str:
        return hashlib.md5(self.body, usedforsecurity=False).hexdigest()

    @property
    def immutable(self) -> bool:
        return self.cache_control == IMMUTABLE


def content_type(name: str) -> str:
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "application/json", "image/svg+xml"):
        kind += "; charset=utf-8"
    return kind


def hashed_name(key: str, body: bytes) -> str:
    stem, dot, ext = key.rpartition(".")
    return f"{stem}.{hashlib.sha256(body).hexdigest()[:10]}.{ext}" if dot else key


# JSON and JavaScript are site types, but not these: a build step's dependencies and manifests.
NOT_PUBLISHED = frozenset({"node_modules", "package.json", "package-lock.json", "npm-shrinkwrap.json",
                           "yarn.lock", "pnpm-lock.yaml", "bower_components"})


def publishable(key: str) -> bool:
    """True for a path (relative to frontend/, with /) the site may serve."""
    parts = key.split("/")
    if any(part.startswith(".") or not part or part in NOT_PUBLISHED for part in parts):
        return False
    stem, dot, ext = parts[-1].rpartition(".")
    return bool(dot and stem) and ext.lower() in PUBLISHED_TYPES


NOT_A_SITE_TYPE = "not a published file type: see PUBLISHED_TYPES in functions/site_files.py"


def read_folder(source: Path, log: Callable[[str], None] = print) -> dict[str, bytes]:
    """The publishable files under `source` (key -> bytes); a link out of it is skipped."""
    files = {}
    root = source.resolve()
    for path in sorted(source.rglob("*")):
        key = path.relative_to(source).as_posix()
        if not path.is_file():
            continue
        if not path.resolve().is_relative_to(root):
            log(f"  skipped {key} (a link out of {source.name}/)")
        elif publishable(key):
            files[key] = path.read_bytes()
        else:
            log(f"  skipped {key} ({NOT_A_SITE_TYPE})")
    return files


def read_zip(data: bytes, log: Callable[[str], None] = print) -> dict[str, bytes]:
    """The publishable files of a zip of the site (key -> bytes), read in memory. A link stored as a link
    is skipped; a name out of the archive (/x, ../x, an empty part) is not publishable (publishable's
    dot and empty-part rule). `sam package` follows links when it zips a folder and stores the
    target's content, so a link out of frontend/ is caught only where the folder is read (read_folder)."""
    files = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            key = info.filename
            if info.is_dir():
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                log(f"  skipped {key} (a link)")
            elif publishable(key):
                files[key] = archive.read(info)
            else:
                log(f"  skipped {key} ({NOT_A_SITE_TYPE})")
    return files


def site(files: dict[str, bytes]) -> dict[str, SiteFile]:
    """The files as uploaded: assets renamed with their hash, the HTML pointing at the new names."""
    renamed = {key: hashed_name(key, body) for key, body in files.items() if key.startswith(HASHED_DIR)}
    out: dict[str, SiteFile] = {}
    for key, body in files.items():
        if key.endswith(".html"):
            text = body.decode()
            for old, new in renamed.items():
                text = text.replace(f'"/{old}"', f'"/{new}"')
            out[key] = SiteFile(key, text.encode(), content_type(key), NO_CACHE)
        elif key in renamed:
            out[renamed[key]] = SiteFile(renamed[key], body, content_type(key), IMMUTABLE)
        else:
            out[key] = SiteFile(key, body, content_type(key), SHORT)
    return out


def build(source: Path = SOURCE, log: Callable[[str], None] = print) -> dict[str, SiteFile]:
    return site(read_folder(source, log))


def plan(built: dict[str, SiteFile], remote: dict[str, str]) -> tuple[list[SiteFile], list[str]]:
    """(files to upload, keys to delete) given the bucket's key -> ETag. A single-part upload's ETag is
    its MD5 under SSE-S3 (the bucket's encryption), so an unchanged file is not sent again."""
    upload = [f for key, f in sorted(built.items()) if remote.get(key) != f.md5]
    stale = sorted(set(remote) - set(built))
    return upload, stale


# Above this many paths one invalidation of "/*" replaces them. CloudFront refuses more than 3,000 paths in
# one CreateInvalidation, and bills $0.005 per path beyond 1,000 a month, where "/*" counts as one path
# (https://aws.amazon.com/cloudfront/pricing/, "Invalidation requests";
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-invalidations).
# Hashed assets are never invalidated, so a site past 15 un-hashed changes is a rare, large change: emptying
# the whole cache once costs origin requests of a few seconds, not a bill.
MAX_INVALIDATION_PATHS = 15


def invalidation_paths(upload: list[SiteFile], stale: list[str]) -> list[str]:
    """What CloudFront must forget: changed files that are not content-hashed, and removed ones; ["/*"]
    when they are more than MAX_INVALIDATION_PATHS."""
    paths = {f"/{f.key}" for f in upload if not f.immutable} | {f"/{k}" for k in stale}
    if "/index.html" in paths:
        paths.add("/")  # the default root object
    return sorted(paths) if len(paths) <= MAX_INVALIDATION_PATHS else ["/*"]
