"""`python -m scripts`: subcommands grouped by what they do, each with its own flags, whose defaults
are the Makefile's variables; failures are OpsError subclasses with stable codes."""
from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys

import pytest

from scripts import __main__ as cli
from scripts import errors
from scripts.common import ROOT


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "scripts", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=env)


def test_help_lists_every_command_under_its_group():
    result = run("--help")
    assert result.returncode == 0
    text = result.stdout
    assert text.startswith("usage: python -m scripts COMMAND [flags]")
    positions = {title: text.index(title + ":") for title in cli.GROUPS.values()}
    assert list(positions) == sorted(positions, key=positions.get), "deploy, operate, inspect, in that order"
    for group, name, line, _, _ in cli.COMMANDS:
        at = text.index(f"\n  {name:<10} {line}")
        later = [p for p in positions.values() if p > positions[cli.GROUPS[group]]]
        assert positions[cli.GROUPS[group]] < at < min(later, default=len(text)), f"{name} is under {group}"
    assert {name for _, name, *_ in cli.COMMANDS} >= {"deploy", "preflight", "plan", "destroy", "stop", "image",
                                                     "start", "exec", "smoke", "status", "logs", "cost"}


@pytest.mark.parametrize("command, flags, absent", [
    ("deploy", ["--params", "--yes", "--env", "--stack"], ["--service", "--follow"]),
    ("logs", ["--service", "--follow", "--minutes"], ["--yes", "--params"]),
    ("exec", ["--service", "--command"], ["--follow"]),
    ("destroy", ["--yes", "--delete-table"], ["--service"]),
    ("cost", ["--requests", "--tasks", "--json", "--refresh", "--readme"], ["--service", "--stack"]),
    ("plan", ["--params", "--stack"], ["--service"]),
])
def test_each_command_has_its_own_flags(command, flags, absent):
    text = run(command, "--help").stdout
    assert text.startswith(f"usage: python -m scripts {command} [-h]")
    assert all(flag in text for flag in flags), text
    assert not any(flag in text for flag in absent), text


def test_the_makefiles_variables_are_the_defaults(monkeypatch):
    monkeypatch.setenv("SERVICE", "notes")
    monkeypatch.setenv("FOLLOW", "1")
    monkeypatch.setenv("STACK", "other")
    monkeypatch.setenv("ENV", "prod")
    args = cli.parser().parse_args(["logs"])
    assert (args.service, args.follow, args.stack, args.env, args.minutes) == ("notes", True, "other", "prod", 10)
    assert cli.parser().parse_args(["logs", "--service", "reports"]).service == "reports", "a flag beats the variable"
    monkeypatch.setenv("YES", "1")
    monkeypatch.setenv("PARAMS", "MinTasks=2")
    args = cli.parser().parse_args(["deploy"])
    assert (args.yes, args.params) == (True, "MinTasks=2")


def test_the_service_flag_reaches_the_target(monkeypatch):
    from tests.ops.conftest import sample_outputs
    seen = {}
    monkeypatch.setattr(cli.stack_outputs, "read", lambda t: sample_outputs("x", services=("Notes", "Reports")))
    monkeypatch.setattr(cli.ops, "status", lambda t, outputs: seen.setdefault("t", t))
    assert cli.main(["status", "--service", "reports", "--stack", "x", "--region", "eu-west-1"]) == 0
    assert (seen["t"].service, seen["t"].stack_name, seen["t"].region) == ("reports", "x", "eu-west-1")


def test_cost_runs_as_a_subcommand():
    """Its region line goes to stderr, as every command's does: stdout stays JSON."""
    result = run("cost", "--json", "--requests", "0")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["region"] == "us-east-1"
    assert result.stderr == "region: us-east-1 (from AWS_REGION)\n"


def test_an_unknown_command_is_a_usage_error():
    result = run("launch")
    assert result.returncode == 2 and "invalid choice: 'launch'" in result.stderr


def test_every_error_class_has_its_own_stable_code():
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.OpsError)]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes)), codes
    assert all(c.code in errors.__doc__ for c in classes), "errors.py's table lists every code"


def test_no_script_tells_failures_apart_by_their_wording():
    """Callers catch a class (or read `aws_code`), not `"..." in str(exc)`."""
    for path in sorted((ROOT / "scripts").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
                for side in node.comparators:
                    if (isinstance(side, ast.Call) and getattr(side.func, "id", "") == "str" and side.args
                            and isinstance(side.args[0], ast.Name) and side.args[0].id in ("exc", "e", "error")):
                        pytest.fail(f"{path.name}:{node.lineno} matches an error's message")
