"""scripts/generated.py: the one writer (and check) of the documentation's generated blocks."""
from __future__ import annotations

import pytest

from scripts import cost, generated
from scripts.errors import UsageError

DOC = "# Title\n\nprose\n\n<!-- figures:start -->\nold table\n<!-- figures:end -->\n\nmore prose\n"


def test_a_block_is_replaced_between_its_markers_and_nothing_else(tmp_path):
    path = tmp_path / "doc.md"
    path.write_text(DOC)
    assert generated.replace_block(path, "figures", "| a | b |\n|---|---|\n") is True
    assert path.read_text() == DOC.replace("old table", "| a | b |\n|---|---|")
    assert generated.block(path, "figures") == "| a | b |\n|---|---|"
    assert generated.replace_block(path, "figures", "| a | b |\n|---|---|") is False, "unchanged: not rewritten"


def test_the_check_names_the_stale_block_and_the_command(tmp_path):
    path = tmp_path / "doc.md"
    path.write_text(DOC)
    generated.assert_current(path, "figures", "old table")
    with pytest.raises(generated.StaleBlock, match=r"the figures block is stale: run `make cost`"):
        generated.assert_current(path, "figures", "new table", "make cost")


def test_a_file_without_the_markers_is_an_error_not_an_append(tmp_path):
    path = tmp_path / "doc.md"
    path.write_text("# no block here\n")
    with pytest.raises(UsageError, match="has no <!-- figures:start --> ... <!-- figures:end --> block"):
        generated.replace_block(path, "figures", "x")
    assert path.read_text() == "# no block here\n"


def test_cost_writes_its_block_in_any_file_it_is_given(tmp_path):
    """The docs may move the cost table out of README.md: the target file is a parameter."""
    path = tmp_path / "cost.md"
    path.write_text("intro\n<!-- cost:start -->\n<!-- cost:end -->\n")
    assert cost.main(["--readme", str(path)]) == 0
    generated.assert_current(path, cost.BLOCK, cost.readme_section())
