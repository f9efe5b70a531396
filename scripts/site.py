"""The frontend as it is uploaded: files under assets/ get a content hash in
their name (so they can be cached for a year) and index.html is rewritten to
point at them (and is never cached). No bundler: this is the whole build.

Only what a browser needs is uploaded: an allow-list of file types, never a dotfile or a
dot-directory (.git, .env, .DS_Store, .idea, vim's .x.swp), nor editor or OS litter (x~,
Thumbs.db, desktop.ini: not on the list). Everything else is skipped and named, so a
forgotten secret or backup in frontend/ never becomes a public URL."""
from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from scripts.common import ROOT, log

SOURCE = ROOT / "frontend"
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


def build(source: Path = SOURCE, log=log) -> dict[str, SiteFile]:
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
            log(f"  skipped {key} (not a published file type: see PUBLISHED_TYPES in scripts/site.py)")
    renamed = {key: hashed_name(key, body) for key, body in files.items() if key.startswith(HASHED_DIR)}
    site: dict[str, SiteFile] = {}
    for key, body in files.items():
        if key.endswith(".html"):
            text = body.decode()
            for old, new in renamed.items():
                text = text.replace(f'"/{old}"', f'"/{new}"')
            site[key] = SiteFile(key, text.encode(), content_type(key), NO_CACHE)
        elif key in renamed:
            site[renamed[key]] = SiteFile(renamed[key], body, content_type(key), IMMUTABLE)
        else:
            site[key] = SiteFile(key, body, content_type(key), SHORT)
    return site
