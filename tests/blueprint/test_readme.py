"""The README is a map that fits on a few screens; the long guides live in docs/.
A failure here says: you changed a choice of the blueprint; change the test with it."""
from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
MAX_README_LINES = 200


def test_the_readme_is_a_map_of_at_most_200_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines: move details to docs/"
