"""The generated blocks of the documentation: text a command writes between two markers,

    <!-- NAME:start -->
    ... generated ...
    <!-- NAME:end -->

so a table of figures (`make cost`'s prices, `make bench`'s measurements) is never typed by hand and
a test fails when it is stale. One writer and one check for every such block, whatever file holds it:

    replace_block(path, "cost", text)       # the command that regenerates a block
    assert_current(path, "cost", text)      # the test that holds the file to the generator

`text` is the block's content without the markers. A file without the markers is an error (a block
is placed once, by hand, where it belongs), never a silent append.
"""
from __future__ import annotations

from pathlib import Path

from scripts.errors import UsageError


class StaleBlock(AssertionError):
    """The file's block differs from what its generator writes now."""


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def _span(text: str, name: str, path: Path) -> tuple[int, int]:
    start_marker, end_marker = markers(name)
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise UsageError(f"{path} has no {start_marker} ... {end_marker} block: put both markers where it belongs")
    return start + len(start_marker), end


def block(path: Path, name: str) -> str:
    """The block's current content, without the markers."""
    text = Path(path).read_text()
    start, end = _span(text, name, path)
    return text[start:end].strip("\n")


def replace_block(path: Path, name: str, content: str) -> bool:
    """Write `content` between the block's markers in `path`; True when the file changed."""
    path = Path(path)
    text = path.read_text()
    start, end = _span(text, name, path)
    new = text[:start] + "\n" + content.strip("\n") + "\n" + text[end:]
    if new != text:
        path.write_text(new)
    return new != text


def assert_current(path: Path, name: str, content: str, command: str = "") -> None:
    """For the tests: the file's block is what the generator writes now."""
    if block(path, name) != content.strip("\n"):
        raise StaleBlock(f"{path}: the {name} block is stale" + (f": run `{command}`" if command else ""))
