"""The frontend as it is uploaded: files under assets/ get a content hash in
their name (so they can be cached for a year) and index.html is rewritten to
point at them (and is never cached). No bundler: this is the whole build."""
from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from scripts.common import ROOT

SOURCE = ROOT / "frontend"
HASHED_DIR = "assets/"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
SHORT = "public, max-age=3600"
_HASHED = re.compile(r"\.[0-9a-f]{10}\.[a-z0-9]+$")


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


def build(source: Path = SOURCE) -> dict[str, SiteFile]:
    files = {p.relative_to(source).as_posix(): p.read_bytes() for p in sorted(source.rglob("*")) if p.is_file()}
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
