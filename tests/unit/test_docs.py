"""Every relative link of the README and of docs/*.md leads somewhere: an existing file and, for `#anchor`, one of its headings (GitHub's
heading ids: https://docs.github.com/en/get-started/writing-on-github/getting-started-with-writing-and-formatting-on-github/basic-writing-and-formatting-syntax#section-links)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The text without code blocks and inline code, where `[x](y)` is not a link."""
    return _CODE.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's id for a heading: lower case, punctuation dropped (hyphens kept), spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in _FENCE.sub("", path.read_text()).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(path: Path) -> list[str]:
    return [t for t in _LINK.findall(_prose(path.read_text())) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def broken(path: Path, root: Path = ROOT) -> list[str]:
    out = []
    for target in links(path):
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            out.append(f"{target}: no such file")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            out.append(f"{target}: no heading #{anchor} in {dest.relative_to(root)}")
    return out


def test_the_readme_keeps_the_two_commands_and_links_every_page():
    text = README.read_text()
    assert "make run" in text and "make test" in text
    linked = {Path(t.partition("#")[0]).name for t in links(README)}
    missing = sorted(p.name for p in PAGES[1:] if p.name not in linked)
    assert missing == [], f"README.md does not link docs/{missing}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_points_to_a_file_and_heading(page):
    assert broken(page) == []


def test_the_link_check_sees_a_broken_file_and_a_broken_anchor(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## What it costs: `make cost`\n")
    page = tmp_path / "README.md"
    page.write_text("[ok](docs/a.md#what-it-costs-make-cost) [gone](docs/b.md) [bad](docs/a.md#nowhere)\n"
                    "`[not a link](x.md)` [web](https://example.com/x#y) [self](#top)\n\n# Top\n")
    assert broken(page, tmp_path) == ["docs/b.md: no such file",
                                      "docs/a.md#nowhere: no heading #nowhere in docs/a.md"]


def test_slugs_are_github_s():
    assert slug("What is verified offline, and what only a deploy proves") == \
        "what-is-verified-offline-and-what-only-a-deploy-proves"
    assert slug("Previewing a change: `make plan`") == "previewing-a-change-make-plan"
    assert slug("How do I add a service?") == "how-do-i-add-a-service"
    assert slug("CloudFront's flat-rate Free plan (`CloudFrontPlan=Free`)") == \
        "cloudfronts-flat-rate-free-plan-cloudfrontplanfree"
