"""The README is a map that fits on a few screens; the long guides live in docs/.
A failure here says: you changed a choice of the blueprint; change the test with it."""
from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
MAX_README_LINES = 200


def test_the_readme_is_a_map_of_at_most_200_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines: move details to docs/"


ROOT = README.parent
SYSTEM_TOOLS = {"make", "git", "rm", "sed", "aws"}  # what the README's prerequisites already ask for


def venvs() -> set[str]:
    """The virtualenvs `make venv` creates (the Makefile's `<venv>/.installed` targets)."""
    import re
    text = (ROOT / "Makefile").read_text()
    names = {m.group(1) for m in re.finditer(r"^([.\w-]+)/\.installed:", text, re.M)}
    if "$(VENV)/.installed:" in text:
        names.add(re.search(r"^VENV\s*:?=\s*(\S+)", text, re.M).group(1))
    return names


def shell_commands(path: Path) -> list[str]:
    """The command lines of a Markdown file's ```sh blocks (not comments, not a continued line)."""
    out, lang, continued = [], None, False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            lang = line[3:].strip() if lang is None else None
            continue
        if lang in ("sh", "bash", "shell") and line.strip() and not line.strip().startswith("#") and not continued:
            out.append(line.strip())
        continued = lang is not None and line.rstrip().endswith("\\")
    return out


def test_every_command_the_docs_give_runs_as_written_from_a_fresh_clone_after_make_venv():
    """A new user copies the docs' commands into a shell: each starts with a tool the prerequisites name or a
    program of a venv `make venv` makes (.venv-sam/bin/sam, not a `sam` that may not be on PATH). The README's
    inline commands (a code span with a flag) are held to the same."""
    import re
    made = venvs()
    assert {".venv", ".venv-sam"} <= made
    bad = []
    for path in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        commands = shell_commands(path)
        if path == README:
            commands += re.findall(r"`([^`\s]+ [a-z-]+ --[^`]*)`", path.read_text())
        for command in commands:
            program = command.split()[0]
            if program not in SYSTEM_TOOLS and program.split("/", 1)[0] not in made:
                bad.append(f"{path.name}: {command}")
    assert not bad, bad
