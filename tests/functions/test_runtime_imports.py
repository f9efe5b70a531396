"""The custom resources' code runs on Lambda's Python runtime with nothing packaged beside it
(CodeUri: functions/, no requirements): a module may import the standard library, boto3 and botocore
(the runtime's, https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html) and its sibling modules.
Anything else imports fine here, where the venv has it, and fails only in the deployed function."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
RUNTIME = set(sys.stdlib_module_names) | {"boto3", "botocore"}


def foreign_imports(source: str, siblings: set[str]) -> set[str]:
    """Top-level modules `source` imports that the Lambda runtime does not provide."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names - RUNTIME - siblings - {"__future__"}


def test_the_functions_import_only_what_the_lambda_runtime_has():
    modules = sorted(FUNCTIONS.glob("*.py"))
    assert modules, "functions/ holds no module"
    siblings = {path.stem for path in modules} | {"functions"}
    found = {path.name: foreign_imports(path.read_text(), siblings) for path in modules}
    assert {name: sorted(bad) for name, bad in found.items() if bad} == {}


def test_the_check_sees_a_package_the_runtime_lacks():
    source = "import json\nimport requests\nfrom yaml import safe_load\nfrom custom_resource import send\n"
    assert foreign_imports(source, {"custom_resource"}) == {"requests", "yaml"}
