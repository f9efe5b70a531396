"""The Python in this repository passes ruff with the rules in pyproject.toml."""
import subprocess
import sys
from pathlib import Path

from local.stack import ROOT


def test_ruff_is_clean():
    result = subprocess.run([str(Path(sys.executable).parent / "ruff"), "check", "."], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
