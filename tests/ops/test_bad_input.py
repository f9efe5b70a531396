"""Every ops command given bad input answers in ONE line and exits non-zero, before it acts (issue 17.5).

The matrix is built from the commands scripts/__main__.py declares and the flags each has (its usage
line), so a new command or flag is driven too: an unknown flag; a wrong value of each Makefile variable
it reads (ENV, REGION, STACK, PARAMS, MINUTES, REQUESTS, TASKS, YES, FOLLOW, DELETE_TABLE, URL); a
parameter name parent.yml does not declare; an AWS profile that does not exist; no credentials at all;
a stack that is not deployed and a SERVICE the stack lacks (moto). Each case runs in-process (main()
with capsys); a guard fails any case that opens a socket, so nothing reaches the network.
"""
from __future__ import annotations

import functools
import socket

import pytest
from moto import mock_aws

from scripts import __main__ as cli
from scripts import common, preflight
from scripts.common import Parser, resolve_region, run_cli, session_for
from scripts.errors import CredentialsRejected, NoRegion, ToolMissing, UsageError
from tests.ops.conftest import create_stack, make_target, sample_outputs

DEPLOYED_STACK = "fargate-blueprint-dev"  # samconfig.toml's dev stack: what the commands act on by default
MAKE_VARIABLES = ("ENV", "STACK", "PARAMS", "YES", "DELETE_TABLE", "FOLLOW", "MINUTES", "URL", "REGION",
                  "REQUESTS", "TASKS", "SERVICE", "ACCEPT")
# A wrong value for the variable behind each flag, and what the one line must name.
WRONG_VALUES = {
    "--env": ("ENV", "staging", "ENV=staging"),
    "--region": ("REGION", "mars-east-9", "mars-east-9"),
    "--stack": ("STACK", "not_a_stack!", "not_a_stack!"),
    "--minutes": ("MINUTES", "ten", "MINUTES=ten"),
    "--requests": ("REQUESTS", "lots", "REQUESTS=lots"),
    "--tasks": ("TASKS", "-2", "TASKS=-2"),
    "--yes": ("YES", "yes", "YES=yes"),
    "--follow": ("FOLLOW", "true", "FOLLOW=true"),
    "--delete-table": ("DELETE_TABLE", "y", "DELETE_TABLE=y"),
    "--url": ("URL", "localhost:8080", "URL=localhost:8080"),
}
NEW_STACK_IS_FINE = {"deploy", "preflight"}  # they create the stack; every other --stack command reads one


@functools.cache
def usage(command: str) -> str:
    """The command's usage line: which flags it has (its setup function, as main() builds it)."""
    setup = next(s for _, name, _, s, _ in cli.COMMANDS if name == command)
    p = Parser(prog=command)
    setup(p)
    return p.format_usage()


def has(command: str, flag: str) -> bool:
    return f"[{flag} " in usage(command) or f"[{flag}]" in usage(command)


def argv(command: str) -> list[str]:
    """The command with what it needs besides the bad input (new-service's NAME; plan's change)."""
    return {"new-service": ["new-service", "reports"], "plan": ["plan", "--params", "Ingress=LoadBalancer"]}.get(
        command, [command])


def cases() -> list:
    found = []
    for _, command, *_ in cli.COMMANDS:
        found.append(pytest.param(command, [*argv(command), "--no-such-flag"], {}, "--no-such-flag",
                                  id=f"{command}-unknown-flag"))
        for flag, (variable, value, named) in WRONG_VALUES.items():
            if has(command, flag):
                found.append(pytest.param(command, argv(command), {variable: value}, named,
                                          id=f"{command}-{variable}={value}"))
        if has(command, "--params"):
            found += [pytest.param(command, [command], {"PARAMS": params}, named, id=f"{command}-PARAMS={params}")
                      for params, named in (("Ingress=Foo", "Ingress=Foo"), ("Ingres=LoadBalancer", "did you mean Ingress?"),
                                            ('Ingress="HttpApi', "No closing quotation"))]
        if has(command, "--region"):  # it reads the AWS profile, at least for its region
            found.append(pytest.param(command, argv(command), {"AWS_PROFILE": "nonexistent"},
                                      "AWS profile nonexistent is not in", id=f"{command}-unknown-profile"))
        if has(command, "--stack"):  # it calls AWS (plan: with a deployed stack to start from)
            extra = ["--stack", DEPLOYED_STACK] if command == "plan" else []
            found.append(pytest.param(command, [*argv(command), *extra], {"AWS_ACCESS_KEY_ID": None},
                                      "no AWS credentials found", id=f"{command}-no-credentials"))
    found.append(pytest.param("new-service", ["new-service", "Reports!"], {}, "Reports!", id="new-service-bad-name"))
    return found


def deployed_cases() -> list:
    """Against a deployed stack (moto): a stack that is not there, a service it lacks."""
    found = []
    for _, command, *_ in cli.COMMANDS:
        if has(command, "--stack") and command not in NEW_STACK_IS_FINE:
            extra = ["--stack", "no-such-stack"] if command == "plan" else []
            found.append(pytest.param(command, [*argv(command), *extra], {"STACK": "no-such-stack"},
                                      "stack no-such-stack not found", id=f"{command}-no-such-stack"))
        if has(command, "--service"):
            found.append(pytest.param(command, argv(command), {"SERVICE": "nope"}, "no service nope in this stack",
                                      id=f"{command}-unknown-service"))
    return found


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No Makefile variable set, AWS config and credentials files empty, no credential source that
    reaches a network (instance metadata, containers, web identity), the suite's fake keys and region;
    and every socket refused and recorded."""
    for name in (*MAKE_VARIABLES, "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    reached: list = []

    def refuse(*args, **kwargs):
        reached.append(args)
        raise OSError("tests/ops/test_bad_input.py: no network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return reached


def answer(command_line: list[str], env: dict, monkeypatch, capsys) -> tuple[int, list[str]]:
    for name, value in env.items():
        if value is None:
            for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
                monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        run_cli(lambda: cli.main(command_line))
    captured = capsys.readouterr()
    return exited.value.code, (captured.out + captured.err).splitlines()


def assert_one_line(code, lines, named):
    assert code not in (0, None), lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "Traceback" not in lines[0], lines
    assert named in lines[0], lines


@pytest.mark.parametrize("command, command_line, env, named", cases())
def test_bad_input_is_one_line_and_a_non_zero_exit(command, command_line, env, named, offline, monkeypatch, capsys):
    code, lines = answer(command_line, env, monkeypatch, capsys)
    assert_one_line(code, lines, named)
    assert offline == [], "nothing may reach the network"


@pytest.fixture(scope="module")
def deployment():
    """samconfig.toml's dev stack with its outputs (moto; one service, notes): what the commands read first.
    One boto3 session for the cases below (a new one per command reads botocore's JSON models again, ~0.3 s:
    the profile and credential cases above go through the real session_for)."""
    with mock_aws():
        import boto3
        session = boto3.session.Session(region_name="us-east-1")
        create_stack(session, DEPLOYED_STACK, sample_outputs().as_outputs())
        yield session


@pytest.mark.parametrize("command, command_line, env, named", deployed_cases())
def test_a_stack_or_service_that_is_not_there_is_one_line(command, command_line, env, named, deployment, offline,
                                                          monkeypatch, capsys):
    monkeypatch.setattr(common, "session_for", lambda session=None: session or deployment)
    code, lines = answer(command_line, env, monkeypatch, capsys)
    assert_one_line(code, lines, named)
    assert offline == []


def test_the_matrix_covers_every_command_and_kind():
    """Each command meets at least an unknown flag and a wrong value; each AWS command a wrong profile and no
    credentials; each one on a deployed stack a missing stack. A new command is in the matrix by its flags."""
    ids = [c.id for c in cases() + deployed_cases()]
    for _, command, *_ in cli.COMMANDS:
        mine = [i for i in ids if i.startswith(command + "-")]
        assert f"{command}-unknown-flag" in mine and len(mine) >= 2, (command, mine)
    for command in ("deploy", "preflight", "plan", "publish", "destroy", "stop", "start", "exec", "smoke", "status",
                    "logs"):
        assert {f"{command}-unknown-profile", f"{command}-no-credentials"} <= set(ids), command
    for command in ("plan", "publish", "destroy", "stop", "start", "exec", "smoke", "status", "logs"):
        assert f"{command}-no-such-stack" in ids, command
    for command in ("deploy", "preflight", "plan", "cost"):
        assert f"{command}-PARAMS=Ingres=LoadBalancer" in ids, command


# ---------------------------------------------------------------- which region, said the same way

ACTIONS = {"deploy": "deploy.deploy", "preflight": "preflight.preflight", "plan": "plan.run",
           "publish": "publish.publish", "destroy": "destroy.destroy", "stop": "scale.stop", "start": "scale.start",
           "exec": "ops.exec_shell", "smoke": "smoke_runner.smoke", "status": "ops.status", "logs": "ops.logs"}


@pytest.mark.parametrize("command", sorted(ACTIONS))
def test_every_aws_command_says_its_region_and_where_it_came_from(command, offline, monkeypatch, capsys):
    """One line on stderr before the command acts (its action replaced here), the same for every command."""
    module, name = ACTIONS[command].split(".")
    monkeypatch.setattr(getattr(cli, module), name, lambda *a, **k: 0)
    monkeypatch.setattr(cli.stack_outputs, "read", lambda t: sample_outputs())
    monkeypatch.setenv("REGION", "eu-west-3")
    assert cli.main(argv(command)) == 0
    assert capsys.readouterr().err == "region: eu-west-3 (from REGION= / --region)\n"
    monkeypatch.delenv("REGION")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    cli.main(argv(command))
    assert capsys.readouterr().err == "region: ap-south-1 (from AWS_REGION)\n"
    assert offline == []


def test_the_region_comes_from_one_chain_and_only_offline_commands_default(offline, monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    session = session_for()
    assert resolve_region(None, {"region": "eu-north-1"}, session) == ("eu-north-1", "samconfig.toml")
    assert resolve_region("eu-west-1", {"region": "eu-north-1"}, session)[0] == "eu-west-1", "REGION= first"
    with pytest.raises(UsageError, match=r"^region us-east-7 \(from REGION= / --region\) is not an AWS region"):
        resolve_region("us-east-7", {}, session)
    with pytest.raises(NoRegion, match="^no AWS region: set REGION="):
        resolve_region(None, {}, session)  # make deploy, status, ...
    assert resolve_region(None, {}, session, default="us-east-1") == (
        "us-east-1", "the default: nothing sets one; REGION= picks another")  # make plan, make cost
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-central-1")
    assert resolve_region(None, {}, session_for()) == ("ca-central-1", "AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    config = tmp_path / "config"
    config.write_text("[profile work]\nregion = sa-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert resolve_region(None, {}, session_for()) == ("sa-east-1", "AWS profile work")


def test_a_samconfig_that_is_not_toml_is_one_line(tmp_path):
    from scripts.common import load_samconfig
    broken = tmp_path / "samconfig.toml"
    broken.write_text('[default.deploy.parameters]\nstack_name = "x\n')
    with pytest.raises(UsageError, match="^samconfig.toml is not valid TOML: "):
        load_samconfig("dev", broken)


# ---------------------------------------------------------------- preflight says a credential failure once

def test_preflight_says_rejected_credentials_once(monkeypatch, capsys):
    def rejected(t, params):
        raise CredentialsRejected("AWS rejected the credentials (ExpiredToken): refresh them, e.g. `aws sso login`")
    with pytest.raises(CredentialsRejected):
        preflight.preflight(make_target(None), {}, checks={"credentials": rejected, "region": rejected,
                                                           "availability zones": rejected})
    assert capsys.readouterr().err == "", "no FAIL line per check: the error is the one line"


def test_preflight_names_a_missing_buildx_plugin(monkeypatch):
    """Without the plugin docker answers `docker buildx ...` with its generic "Run 'docker --help'"."""
    import subprocess
    monkeypatch.setattr(preflight.shutil, "which", lambda name, **kw: f"/usr/bin/{name}")

    def docker(args, **kw):
        return subprocess.CompletedProcess(args, 1, "", "docker: unknown command: docker buildx\n\n"
                                                        "Run 'docker --help' for more information\n")
    with pytest.raises(ToolMissing, match="docker buildx is missing$"):
        preflight.check_build_platform(make_target(None), {}, run=docker)
