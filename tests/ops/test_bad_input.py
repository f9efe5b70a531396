"""Every ops command given bad input answers in ONE line and exits non-zero, before it acts (issue 17.5).

The matrix is built from the commands scripts/__main__.py declares and the flags each has (its usage
line), so a new command or flag is driven too: an unknown flag; a wrong value of each Makefile variable
it reads (ENV, REGION, STACK, PARAMS, MINUTES, REQUESTS, TASKS, YES, FOLLOW, DELETE_TABLE, URL); a
parameter name parent.yml does not declare; an AWS profile that does not exist; no credentials at all;
credentials that do not load (an SSO profile never logged in or expired, a failing credential_process);
a stack that is not deployed and a SERVICE the stack lacks (moto). Each case runs in-process (main()
with capsys); a guard fails any case that opens a socket, so nothing reaches the network.
"""
from __future__ import annotations

import functools
import hashlib
import json
import socket
import uuid

import pytest
from moto import mock_aws

from scripts import __main__ as cli
from scripts import common, preflight
from scripts.common import Parser, resolve_region, run_cli, session_for
from scripts.errors import CredentialsRejected, NoRegion, UsageError
from tests.ops.conftest import create_stack, make_target, sample_outputs

DEPLOYED_STACK = "fargate-blueprint-dev"  # samconfig.toml's dev stack: what the commands act on by default
MAKE_VARIABLES = ("ENV", "STACK", "PARAMS", "YES", "DELETE_TABLE", "FOLLOW", "MINUTES", "URL", "REGION",
                  "REQUESTS", "TASKS", "SERVICE", "ACCEPT", "ALARM")
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
    "--context": ("CONTEXT", "nowhere", "CONTEXT=nowhere is not a build Context in parent.yml"),
}
NEW_STACK_IS_FINE = {"deploy", "preflight"}  # they create the stack; every other --stack command reads one
OFFLINE = {"plan", "cost"}  # they call no AWS (plan without --stack): the AWS profile only for its region
# Profiles whose credentials botocore finds but cannot load (the offline fixture's AWS config file), and what
# the one line must say: an SSO profile (IAM Identity Center) never logged in (no cached token for its
# session), a credential_process that fails or is not there. An SSO login that has expired: see
# test_an_expired_sso_login_is_one_line (botocore fixes its token cache's directory at import).
SSO = "sso_account_id = 123456789012\nsso_role_name = Dev\nregion = us-east-1\n"
START_URL = "https://example.awsapps.com/start"
NEVER_LOGGED_IN = "fargate-blueprint-tests-never-logged-in"  # an sso-session no token cache holds
PROFILES = {
    "sso-no-login": (f"sso_session = {NEVER_LOGGED_IN}\n{SSO}", "no SSO login for this AWS profile: run "
                                                                 "`aws sso login --profile sso-no-login`"),
    "process-fails": ("credential_process = false\nregion = us-east-1\n",
                      "no AWS credentials: profile process-fails's credential_process failed (it gave no reason)"),
    "process-missing": ("credential_process = /nonexistent/credential-helper\nregion = us-east-1\n",
                        "no AWS credentials: profile process-missing's credential_process cannot run"),
    "source-missing": ("source_profile = nope\nrole_arn = arn:aws:iam::123456789012:role/r\nregion = us-east-1\n",
                       'the AWS configuration cannot be used: The source_profile "nope" referenced in the profile '
                       '"source-missing" does not exist. Fix the AWS config file'),
}
EXPIRED = {  # their cached token is past its expiresAt (https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sso.html)
    "sso-expired": f"sso_start_url = {START_URL}\nsso_region = us-east-1\n{SSO}",  # the legacy keys
    "sso-session-expired": f"sso_session = expired\n{SSO}",
}
AWS_CONFIG = "".join(f"[profile {name}]\n{body}\n" for name, body in
                     [*((n, b) for n, (b, _) in PROFILES.items()), *EXPIRED.items()]) + "".join(
    f"[sso-session {name}]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n\n" for name in (NEVER_LOGGED_IN, "expired"))


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
                                            ("=x", "'=x' is not Key=Value"),
                                            ('Ingress="HttpApi', "No closing quotation"))]
        if has(command, "--region"):  # it reads the AWS profile, at least for its region when nothing else names one
            found.append(pytest.param(command, argv(command), {"AWS_PROFILE": "nonexistent", "AWS_REGION": None},
                                      "AWS profile nonexistent (AWS_PROFILE) is not in", id=f"{command}-unknown-profile"))
            found.append(pytest.param(command, argv(command), {"AWS_DEFAULT_PROFILE": "nonexistent", "AWS_REGION": None},
                                      "(AWS_DEFAULT_PROFILE) is not in your AWS config or credentials file: `aws configure "
                                      "list-profiles` lists them; set AWS_DEFAULT_PROFILE to one",
                                      id=f"{command}-unknown-default-profile"))
        if has(command, "--stack"):  # it calls AWS (plan: with a deployed stack to start from)
            extra = ["--stack", DEPLOYED_STACK] if command == "plan" else []
            found.append(pytest.param(command, [*argv(command), *extra], {"AWS_ACCESS_KEY_ID": None},
                                      "no AWS credentials found", id=f"{command}-no-credentials"))
            found.append(pytest.param(command, [*argv(command), *extra], {"AWS_PROFILE": "nonexistent",
                                                                          "REGION": "eu-west-1"},
                                      "AWS profile nonexistent (AWS_PROFILE) is not in", id=f"{command}-unknown-profile-with-region"))
            found.append(pytest.param(command, [*argv(command), *extra], {"AWS_ACCESS_KEY_ID": None,
                                                                          "AWS_SECRET_ACCESS_KEY": "x"},
                                      "incomplete AWS credentials in the environment: AWS_ACCESS_KEY_ID is missing",
                                      id=f"{command}-only-the-secret"))
            found.append(pytest.param(command, [*argv(command), *extra], {"AWS_SECRET_ACCESS_KEY": None},
                                      "incomplete AWS credentials in the environment: AWS_SECRET_ACCESS_KEY is missing",
                                      id=f"{command}-half-the-keys"))
            found += [pytest.param(command, [*argv(command), *extra], {"AWS_ACCESS_KEY_ID": None, "AWS_PROFILE": profile},
                                   named, id=f"{command}-{profile}") for profile, (_, named) in PROFILES.items()]
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


def write_aws_config(home) -> None:
    """HOME/config with the profiles above, and HOME/.aws/sso/cache with expired tokens for EXPIRED's
    (file name: the SHA-1 of the sso-session's name, or of the legacy start URL)."""
    (home / "config").write_text(AWS_CONFIG)
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    for key in ("expired", START_URL):
        (cache / f"{hashlib.sha1(key.encode()).hexdigest()}.json").write_text(json.dumps({
            "startUrl": START_URL, "region": "us-east-1", "accessToken": "x", "expiresAt": "2020-01-01T00:00:00Z"}))


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
    write_aws_config(tmp_path)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
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
        if value is None:  # unset (the access key: the whole set of environment credentials)
            for key in (name,) if name != "AWS_ACCESS_KEY_ID" else ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                                  "AWS_SESSION_TOKEN"):
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
    for command in ("deploy", "preflight", "plan", "destroy", "stop", "start", "exec", "smoke", "status", "logs"):
        assert {f"{command}-unknown-profile", f"{command}-no-credentials", f"{command}-unknown-profile-with-region",
                *(f"{command}-{profile}" for profile in PROFILES)} <= set(ids), command
    for command in ("plan", "destroy", "stop", "start", "exec", "smoke", "status", "logs"):
        assert f"{command}-no-such-stack" in ids, command
    for command in ("deploy", "preflight", "plan", "cost"):
        assert f"{command}-PARAMS=Ingres=LoadBalancer" in ids, command


# ---------------------------------------------------------------- which region, said the same way

ACTIONS = {"deploy": "deploy.deploy", "preflight": "preflight.preflight", "plan": "plan.run",
           "destroy": "destroy.destroy", "stop": "scale.stop", "start": "scale.start",
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

@pytest.mark.parametrize("command", [command for _, command, *_ in cli.COMMANDS if has(command, "--region")])
@pytest.mark.parametrize("variable", ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"])
def test_an_aws_config_file_that_does_not_parse_is_one_line(command, variable, offline, monkeypatch, capsys, tmp_path):
    """botocore reads both files whenever a session starts, offline commands given REGION= included (the region
    list, read once a process, is read anew here as in a new process)."""
    from scripts import common
    monkeypatch.setattr(common, "_KNOWN_REGIONS", {})
    broken = tmp_path / "broken"
    broken.write_text("[profile broken\nregion = eu-west-1\n")
    code, lines = answer([*argv(command), "--region", "eu-west-1"], {variable: str(broken)}, monkeypatch, capsys)
    which = "credentials" if variable == "AWS_SHARED_CREDENTIALS_FILE" else "config"
    assert_one_line(code, lines, f"cannot parse the AWS {which} file {broken}: fix it, or point {variable} at another")


def test_preflight_says_rejected_credentials_once(monkeypatch, capsys):
    def rejected(t, params):
        raise CredentialsRejected("AWS rejected the credentials (ExpiredToken): refresh them, e.g. `aws sso login`")
    with pytest.raises(CredentialsRejected):
        preflight.preflight(make_target(None), {}, checks={"credentials": rejected, "region": rejected,
                                                           "availability zones": rejected})
    assert capsys.readouterr().err == "", "no FAIL line per check: the error is the one line"


def test_aws_out_of_reach_is_said_once(offline, monkeypatch, capsys):
    """Credentials present, AWS's endpoints unreachable (no network, a proxy, a firewall): preflight said
    "AWS call failed: Could not connect to the endpoint URL" once per check that calls AWS; now one line."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's retries of a refused connection: one is enough here
    # An endpoint of its own (botocore honours AWS_ENDPOINT_URL), so no AWS stand-in answers in its place.
    code, lines = answer(["preflight"], {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                                         "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, monkeypatch, capsys)
    lines = [line for line in lines if not line.startswith("region: ")]  # said before the first call
    assert_one_line(code, lines, "cannot reach AWS at http://127.0.0.1:9")
    assert offline, "it did try AWS"


def test_a_proxy_that_refuses_is_said_once(offline, monkeypatch, capsys):
    """HTTPS_PROXY naming a proxy that does not answer: botocore's ProxyConnectionError (a ConnectionError, like
    EndpointConnectionError) was "FAIL ... Failed to connect to proxy URL" once per check that calls AWS."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    # An endpoint of its own, as above: no AWS stand-in (this module's moto) answers in the proxy's place.
    code, lines = answer(["preflight"], {"HTTPS_PROXY": "http://127.0.0.1:9", "AWS_ENDPOINT_URL": "https://127.0.0.1:8"},
                         monkeypatch, capsys)
    lines = [line for line in lines if not line.startswith("region: ")]
    assert_one_line(code, lines, "cannot reach AWS through the proxy http://127.0.0.1:9: check HTTPS_PROXY")
    assert offline, "it did try the proxy"


def test_an_endpoint_that_times_out_is_said_once(offline, monkeypatch, capsys):
    """A firewall that drops packets: the connection times out (botocore's ConnectTimeoutError)."""
    import socket

    def times_out(*args, **kwargs):
        offline.append(args)
        raise TimeoutError("timed out")
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "",
                                                                  ("127.0.0.1", 9))])
    monkeypatch.setattr(socket.socket, "connect", times_out)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, lines = answer(["preflight"], {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, monkeypatch, capsys)
    lines = [line for line in lines if not line.startswith("region: ")]
    assert_one_line(code, lines, "cannot reach AWS at http://127.0.0.1:9: check the network")
    assert offline


@pytest.mark.parametrize("raised, says", [
    ("SSLError", "TLS validation failed (certificate verify failed): behind a proxy that inspects TLS, point "
                 "AWS_CA_BUNDLE at its CA certificate"),
    ("ReadTimeoutError", "cannot reach AWS at https://sts.us-east-1.amazonaws.com: check the network"),
    ("ConnectionClosedError", "cannot reach AWS at https://sts.us-east-1.amazonaws.com: check the network"),
])
def test_every_network_failure_botocore_names_is_aws_out_of_reach(raised, says):
    """botocore's public classes for a connection that failed or stopped answering
    (https://docs.aws.amazon.com/boto3/latest/guide/error-handling.html lists
    botocore.exceptions; the TLS hint: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-envvars.html,
    AWS_CA_BUNDLE)."""
    import botocore.exceptions

    from scripts.errors import AwsUnreachable
    error = getattr(botocore.exceptions, raised)(endpoint_url="https://sts.us-east-1.amazonaws.com/?x=1",
                                                error="certificate verify failed")
    with pytest.raises(AwsUnreachable) as caught, common.aws_errors():
        raise error
    assert says in str(caught.value)


REFRESH = "error: AWS rejected the credentials (InvalidClientTokenId): refresh them"


@pytest.mark.parametrize("command", ["status", "preflight"])
@pytest.mark.parametrize("region, accepted_in_us_east_1, opt_in, token, says", [
    ("eu-south-2", True, "not-opted-in", False, "error: region eu-south-2 is not enabled for this account (AWS accepts "
     "these credentials in us-east-1): enable it (`aws account enable-region --region-name eu-south-2`"),
    ("eu-south-2", True, "opted-in", True, "error: AWS rejected the credentials in eu-south-2 (InvalidClientTokenId) but "
     "accepts them in us-east-1: session tokens from STS's global endpoint work only in the regions enabled by default"),
    ("eu-south-2", True, "opted-in", False, REFRESH),  # long-term keys: no token to blame
    ("eu-south-2", True, "enabling", True, REFRESH),
    ("eu-south-2", True, None, False, "error: AWS rejected the credentials in eu-south-2 (InvalidClientTokenId) but "
     "accepts them in us-east-1: the region may not be enabled for this account"),  # DescribeRegions not allowed
    ("eu-south-2", False, None, False, REFRESH),
    # Another partition rejects a commercial account's keys, and no account enables its regions: not asked.
    ("cn-north-1", None, None, False, REFRESH),
    ("us-gov-west-1", None, None, False, REFRESH),
])
def test_an_opt_in_region_that_is_off_is_named_not_the_credentials(command, region, accepted_in_us_east_1, opt_in,
                                                                    token, says, offline, monkeypatch, capsys):
    """An opt-in region the account has not enabled answers every call InvalidClientTokenId, as for unknown keys
    (https://repost.aws/knowledge-center/iam-validate-access-credentials;
    https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html): the commands said "refresh
    the credentials". STS and EC2's DescribeRegions in us-east-1 tell the cases apart, in the commercial
    partition only; a session token from STS's global endpoint is refused in an enabled opt-in region
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SetSecurityTokenServicePreferences.html). The
    Stubber checks the calls."""
    from tests.ops.conftest import stubbed
    monkeypatch.setattr(cli.plan, "check_rules", lambda *args, **kwargs: None)  # the Rules refuse cn-/us-gov-
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    if token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", "a-session-token")
    else:
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    cfn, cfn_stub = stubbed("cloudformation", activate=False)
    cfn_stub.add_client_error("describe_stacks", "InvalidClientTokenId",
                              "The security token included in the request is invalid.", 403)
    cfn_stub.activate()
    sts, sts_stub = stubbed("sts", activate=False)
    ec2, ec2_stub = stubbed("ec2", activate=False)
    if accepted_in_us_east_1:
        sts_stub.add_response("get_caller_identity", {"UserId": "AIDAEXAMPLE", "Account": "123456789012",
                                                      "Arn": "arn:aws:iam::123456789012:user/me"})
        if opt_in:
            ec2_stub.add_response("describe_regions", {"Regions": [{"RegionName": region, "OptInStatus": opt_in}]},
                                  {"AllRegions": True, "RegionNames": [region]})
        else:
            ec2_stub.add_client_error("describe_regions", "UnauthorizedOperation", "not authorized", 403)
    elif accepted_in_us_east_1 is False:
        sts_stub.add_client_error("get_caller_identity", "InvalidClientTokenId", "The security token is invalid.", 403)
    sts_stub.activate()
    ec2_stub.activate()
    asked: list = []

    def client(self, service, region=None):
        asked.append((service, region or self.region))
        return {"cloudformation": cfn, "sts": sts, "ec2": ec2}[service]
    monkeypatch.setattr(common.Target, "client", client)
    code, lines = answer([command], {"REGION": region}, monkeypatch, capsys)
    assert_one_line(code, lines, says)
    us_east_1 = [("sts", "us-east-1")] + ([("ec2", "us-east-1")] if accepted_in_us_east_1 else [])
    assert asked == [("cloudformation", region), *(us_east_1 if accepted_in_us_east_1 is not None else [])]
    sts_stub.assert_no_pending_responses()
    ec2_stub.assert_no_pending_responses()


def test_a_stack_of_another_environment_without_its_env_is_refused(offline, monkeypatch, capsys):
    """STACK= prod's stack with ENV= left at dev: plan, preflight and deploy would send dev's samconfig values."""
    prod = common.load_samconfig("prod")["stack_name"]
    for command in ("plan", "preflight", "deploy"):
        code, lines = answer([command], {"STACK": prod, "PARAMS": "NetworkMode=PrivateSubnets"}, monkeypatch, capsys)
        assert_one_line(code, lines, f"STACK={prod} is samconfig.toml [prod]'s stack: add ENV=prod")


def test_plan_refuses_samconfig_names_make_deploy_refuses(offline, monkeypatch, capsys, tmp_path):
    """A samconfig.toml still setting a parameter parent.yml no longer declares: make deploy refuses it, so
    make plan does too (it would plan a value no deploy sends)."""
    config = common.load_samconfig("dev")
    monkeypatch.setattr(common, "load_samconfig", lambda env: {
        **config, "parameter_overrides": config["parameter_overrides"] + ' MinTasks="2"'})
    monkeypatch.setattr(cli, "load_samconfig", common.load_samconfig)
    monkeypatch.setattr(cli.plan, "load_samconfig", common.load_samconfig)
    code, lines = answer(["plan"], {"PARAMS": "NetworkMode=PrivateSubnets"}, monkeypatch, capsys)
    assert_one_line(code, lines, "samconfig.toml [default] sets MinTasks, which parent.yml does not declare")


def test_a_permissions_boundary_that_is_not_a_policy_arn_is_refused_before_anything(offline, monkeypatch, capsys):
    for command in ("preflight", "deploy"):
        code, lines = answer([command], {"PERMISSIONS_BOUNDARY_ARN": "permissions-boundary-app"}, monkeypatch, capsys)
        assert_one_line(code, lines, "PermissionsBoundaryArn=permissions-boundary-app is not allowed")


def test_an_aws_configuration_botocore_refuses_when_it_makes_a_client_is_one_line(offline, monkeypatch, capsys,
                                                                                   tmp_path):
    """botocore reads a profile's `services` section when it creates a client, outside any call."""
    config = tmp_path / "services-config"
    config.write_text("[profile broken-services]\nservices = nope\nregion = us-east-1\n")
    code, lines = answer(["status"], {"AWS_CONFIG_FILE": str(config), "AWS_PROFILE": "broken-services"},
                         monkeypatch, capsys)
    assert_one_line(code, lines, "the AWS configuration cannot be used:")


def test_make_image_without_docker_says_the_deploy_needs_none(monkeypatch, capsys):
    """`make image` is the optional local build: without Docker, one line that says so, naming what does not
    need it."""
    from scripts import image
    monkeypatch.setattr(image.shutil, "which", lambda name, **kw: None)
    code, lines = answer(["image", "--context", "app"], {}, monkeypatch, capsys)
    assert_one_line(code, lines, "docker is not installed: make image is the optional local build (make deploy "
                                 "and sam deploy build in CodeBuild, without Docker)")


NO_NETWORK = """import os, socket, sys
def refuse(*args, **kwargs):
    raise OSError("no network")
socket.socket.connect = refuse
socket.getaddrinfo = refuse
from scripts.__main__ import main
from scripts.common import run_cli
for profile in sys.argv[2:]:
    os.environ["AWS_PROFILE"] = profile
    try:
        run_cli(lambda: main([sys.argv[1]]))
    except SystemExit as exited:
        print(f"exit {exited.code}", file=sys.stderr)
"""


def test_an_expired_sso_login_is_one_line(tmp_path):
    """botocore loads an SSO profile's credentials at the first call; preflight said the expiry once per check
    (and once under "FAIL region"). Its own process (one for both profiles), so botocore reads HOME's token
    cache: expired tokens, legacy keys and sso-session (UnauthorizedSSOTokenError, TokenRetrievalError)."""
    import os
    import subprocess
    import sys

    from scripts.common import ROOT
    write_aws_config(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in MAKE_VARIABLES}
    env.update(HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "config"), AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true")
    done = subprocess.run([sys.executable, "-c", NO_NETWORK, "preflight", *EXPIRED], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout == "", done.stderr
    assert done.stderr.splitlines() == [line for profile in EXPIRED for line in (
        f"error: the SSO login has expired or cannot be renewed: run `aws sso login --profile {profile}`", "exit 1")]


# ---------------------------------------------------------------- regions and values the parent's Rules refuse

WHAT = {"plan": "the new values (samconfig.toml [default] with PARAMS)", "cost": "this configuration",
        "preflight": "the values to deploy", "deploy": "the values to deploy"}


@pytest.mark.parametrize("command, region, params, named", [
    # The new values refused (for plan here both sides): the one line names the Rule no parameter satisfies first.
    ("plan", "me-central-1", "Profile=prod", "DeploysInThisRegion: This blueprint deploys only to the regions"),
    ("plan", "cn-north-1", "Profile=prod", "DeploysInThisRegion: This blueprint deploys only to the regions"),
    ("plan", "af-south-1", "Profile=prod", "ZonesKnownInThisRegion: This region has no default AZs"),
    ("cost", "me-central-1", "", "DeploysInThisRegion: This blueprint deploys only to the regions"),
    ("cost", "af-south-1", "", "ZonesKnownInThisRegion: This region has no default AZs"),
    # preflight and deploy, before credentials (none here) and before any image is built: what the change set
    # would refuse after the build and push.
    ("preflight", "me-central-1", "", "DeploysInThisRegion: This blueprint deploys only to the regions"),
    ("deploy", "cn-north-1", "", "DeploysInThisRegion: This blueprint deploys only to the regions"),
    # DomainName and CertificateArn both sent: no deployed value can change the answer
    ("deploy", "us-east-1", "DomainName=example.com CertificateArn=", "DomainNeedsCertificate: DomainName needs CertificateArn"),
])
def test_what_the_rules_refuse_is_one_line(command, region, params, named, offline, monkeypatch, capsys):
    """make plan printed an IndexError traceback from vpc.yml's AZ lookup (the samconfig side rendered unchecked);
    make cost priced what every change set refuses; make preflight and make deploy passed it, to fail after
    the images were built. All ask the parent's Rules (and each parameter's bounds) first, the same way."""
    source = " with PARAMS" if params and command in ("preflight", "deploy") else ""
    source = f"samconfig.toml [default]{source}" if command in ("preflight", "deploy") else "REGION= / --region"
    code, lines = answer([command], {"REGION": region, "PARAMS": params, "AWS_ACCESS_KEY_ID": None}, monkeypatch,
                         capsys)
    assert_one_line(code, lines, f"error: parent.yml's Rules refuse {WHAT[command]} in {region} (from {source}): "
                                 f"{named}")
    assert offline == []


ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/mine/1"
API_CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/1"


@pytest.mark.parametrize("command, deployed, params, refused", [
    # Free outside us-east-1 on a stack given WebAclArn earlier: the step the Free-plan refusal asks for
    ("preflight", {"CloudFrontPlan": "PayAsYouGo", "WebAclArn": ACL}, "CloudFrontPlan=Free", ""),
    ("deploy", {"CloudFrontPlan": "PayAsYouGo", "WebAclArn": ACL}, "CloudFrontPlan=Free", ""),
    ("preflight", {"ApiDomainName": "api.example.com"}, f"ApiCertificateArn={API_CERTIFICATE}", ""),
    ("preflight", {"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/2"}, "DomainName=www.example.com", ""),
    # no stack, a stack without the value, a change set that never ran: the template's default, refused
    ("preflight", None, "CloudFrontPlan=Free", "FreePlanNeedsWebAcl: CloudFrontPlan=Free needs a web ACL"),
    ("deploy", {"Profile": "dev"}, "CloudFrontPlan=Free", "FreePlanNeedsWebAcl: CloudFrontPlan=Free needs a web ACL"),
    ("preflight", "REVIEW_IN_PROGRESS", "CloudFrontPlan=Free", "FreePlanNeedsWebAcl: CloudFrontPlan=Free needs a web ACL"),
])
def test_the_rules_see_the_deployed_values_an_update_keeps(command, deployed, params, refused, offline, monkeypatch,
                                                          capsys):
    """SAM sends UsePreviousValue for every parameter of the template the deploy does not name, and none for a
    stack it creates (samcli/lib/deploy/deployer.py merge_parameters and create_changeset; docs/deploy.md), so
    CloudFormation asks the Rules of deployed < samconfig.toml < PARAMS: make preflight and make deploy did
    of samconfig.toml < PARAMS over the defaults, and refused these updates."""
    from moto.cloudformation.models import cloudformation_backends
    monkeypatch.setattr(getattr(cli, command), command, lambda *a, **k: 0)
    stack = f"rules-{uuid.uuid4().hex[:8]}"  # a name of its own: the module's moto (deployment) may be running
    with mock_aws():
        import boto3
        session = boto3.session.Session(region_name="eu-west-1")
        if deployed is not None:
            create_stack(session, stack, [], {} if deployed == "REVIEW_IN_PROGRESS" else deployed)
        if deployed == "REVIEW_IN_PROGRESS":
            next(s for s in cloudformation_backends["123456789012"]["eu-west-1"].stacks.values()
                 if s.name == stack).status = deployed
        monkeypatch.setattr(common, "session_for", lambda session_=None: session)
        if not refused:
            assert cli.main([command, "--region", "eu-west-1", "--stack", stack, "--params", params]) == 0
            return
        code, lines = answer([command], {"REGION": "eu-west-1", "STACK": stack, "PARAMS": params}, monkeypatch, capsys)
    over = f" over stack {stack}'s deployed values" if isinstance(deployed, dict) else ""
    assert_one_line(code, lines, "error: parent.yml's Rules refuse the values to deploy in eu-west-1 (from "
                                 f"samconfig.toml [default] with PARAMS{over}): {refused}")


def test_before_credentials_only_a_refusal_no_deployed_value_can_change(offline, monkeypatch, capsys):
    """DomainName alone may meet a deployed CertificateArn: without credentials no stack can be read, so the
    line is the credentials' (the region's and the sent values' own refusals come first: the cases above)."""
    code, lines = answer(["deploy"], {"REGION": "us-east-1", "PARAMS": "DomainName=example.com",
                                      "AWS_ACCESS_KEY_ID": None}, monkeypatch, capsys)
    assert_one_line(code, lines, "no AWS credentials found")


def test_plan_from_values_no_stack_can_have_is_a_first_deploy(offline, monkeypatch, capsys):
    """af-south-1 has no API Gateway VPC links: samconfig's values (HttpApi, no pinned AZs) cannot deploy
    there, the new ones can. No stack has the old values there, so the plan is the first deploy's: all adds."""
    code, lines = answer(["plan"], {"REGION": "af-south-1", "PARAMS": "Ingress=LoadBalancer "
                                    "AvailabilityZoneIds=afs1-az1,afs1-az2"}, monkeypatch, capsys)
    assert code == 0, lines
    assert lines[1] == ("note: samconfig.toml [default]'s values cannot deploy in af-south-1 (refused by "
                        "ZonesKnownInThisRegion, HttpApiNeedsVpcLinks), so no stack has them there: this is the plan of "
                        "a first deploy of the new values (STACK= compares with a deployed stack)")
    changes = [line for line in lines if line.startswith("  ")]
    assert len(changes) > 30 and all(line.startswith("  + add ") for line in changes), changes
    assert "  + add      LoadBalancer                   AWS::ElasticLoadBalancingV2::LoadBalancer" in changes
    assert not any(line.startswith("WARNING") for line in lines), "nothing was used before: nothing starts empty"


def test_plan_refuses_deployed_values_the_rules_refuse_in_one_line(monkeypatch):
    """STACK=: a deployed stack whose values this parent.yml's Rules refuse (deployed from an older one) has no
    rendering to compare with: one line naming that side, not a traceback."""
    import boto3

    from scripts import plan
    with mock_aws():
        session = boto3.session.Session(region_name="af-south-1")
        create_stack(session, DEPLOYED_STACK, sample_outputs().as_outputs(), {"Ingress": "HttpApi", "Profile": "dev"})
        with pytest.raises(UsageError, match=rf"^parent.yml's Rules refuse stack {DEPLOYED_STACK}'s deployed values in "
                                             r"af-south-1 \(ZonesKnownInThisRegion: .* \(also refused by "
                                             r"HttpApiNeedsVpcLinks\)\): this parent.yml cannot render what the stack runs"):
            plan.run("dev", DEPLOYED_STACK, "af-south-1", "Ingress=LoadBalancer AvailabilityZoneIds=afs1-az1,afs1-az2",
                     session=session)


def test_a_side_that_cannot_render_is_one_line_naming_it(tmp_path):
    """What the Rules do not catch and the evaluator cannot resolve (an index past a list's end) is an error
    naming the side, which `make plan` says in one line."""
    from checks.plan import Unrenderable, plan
    parent = tmp_path / "parent.yml"
    parent.write_text("Parameters:\n  Zones: {Type: String, Default: ''}\nResources:\n  Topic:\n"
                      "    Type: AWS::SNS::Topic\n    Properties:\n"
                      "      TopicName: !Select [1, !Split [',', !Ref Zones]]\n")
    with pytest.raises(Unrenderable, match=r"^the new values cannot be rendered: IndexError: list index out of range$"):
        plan({"Zones": "a,b"}, {"Zones": "a"}, parent=str(parent), sides=("samconfig's", "the new values"))
    with pytest.raises(Unrenderable, match=r"^samconfig's cannot be rendered: IndexError"):
        plan({"Zones": "a"}, {"Zones": "a,b"}, parent=str(parent), sides=("samconfig's", "the new values"))
    assert [(c.resource, c.action) for c in plan({"Zones": "a,b"}, {"Zones": "a,c"}, parent=str(parent)).changes] == [
        ("Topic", "replace")]


@pytest.mark.parametrize("command", ["plan", "cost"])
def test_offline_commands_given_a_region_do_not_read_the_aws_profile(command, offline, monkeypatch, capsys):
    """They call no AWS: an AWS_PROFILE that does not exist matters only where its region would be read
    (the unknown-profile cases above); commands that call AWS refuse it with REGION= too."""
    monkeypatch.setenv("AWS_PROFILE", "nonexistent")
    monkeypatch.setenv("REGION", "eu-west-1")
    assert cli.main(argv(command)) == 0
    captured = capsys.readouterr()
    assert captured.err == "region: eu-west-1 (from REGION= / --region)\n"
    assert "eu-west-1" in captured.out.splitlines()[0]
    assert offline == []


# ---------------------------------------------------------------- a parameter's constraint, said in words

def pattern_parameters() -> list[str]:
    from blueprint.templates import parent
    return [name for name, spec in parent()["Parameters"].items() if "AllowedPattern" in spec]


def test_every_pattern_parameter_says_its_constraint_in_words():
    """CloudFormation shows a refused value's ConstraintDescription, or else the bare regular expression
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html):
    every parameter with an AllowedPattern has one, so a new one cannot ship without it."""
    from blueprint.templates import parent
    assert len(pattern_parameters()) >= 10
    missing = [n for n in pattern_parameters() if not parent()["Parameters"][n].get("ConstraintDescription")]
    assert missing == []


@pytest.mark.parametrize("command", ["plan", "cost", "preflight"])
@pytest.mark.parametrize("name", pattern_parameters())
def test_a_value_outside_a_pattern_is_refused_with_its_constraint_description(command, name, offline, monkeypatch,
                                                                              capsys):
    """make plan printed `... does not match ^$|^arn:aws[a-z-]*:acm:us-east-1:...` under "parent.yml's Rules
    refuse" (a parameter's constraint is not a Rule); now the ConstraintDescription, as CloudFormation says it."""
    from blueprint.templates import parent
    described = " ".join(parent()["Parameters"][name]["ConstraintDescription"].split())
    code, lines = answer([command], {"PARAMS": f"{name}=NOT_VALID!", "AWS_ACCESS_KEY_ID": None}, monkeypatch, capsys)
    assert_one_line(code, lines, f"error: {name}=NOT_VALID! is not allowed: {described}")
    assert offline == []


def test_a_constraint_the_rules_check_meets_is_the_parameters_refusal_not_a_rules():
    """What reaches parent.yml's Rules unchecked (a deployed stack's values, samconfig's) says the same."""
    from scripts.plan import check_rules
    with pytest.raises(UsageError, match=r"^parent.yml refuses these values in us-east-1: AlertEmail: 'x' is not "
                                         r"allowed: empty, or one email address \(name@example.com\)$"):
        check_rules({"AlertEmail": "x"}, "us-east-1", "these values")


@pytest.mark.parametrize("command", ["plan", "cost", "preflight", "deploy"])
@pytest.mark.parametrize("zones, named", [
    ("use1-az4,use1-az6", "AvailabilityZoneIds=use1-az4,use1-az6: use1-az4 is an AZ ID of us-east-1, not of eu-west-1: "
                          "give two AZ IDs of eu-west-1 (euw1-az..."),
    ("euw1-az1,euw1-az1", "AvailabilityZoneIds=euw1-az1,euw1-az1 names one AZ twice: give two different AZ IDs"),
])
def test_az_ids_of_another_region_or_one_az_twice_are_one_line(command, zones, named, offline, monkeypatch, capsys):
    """make plan REGION=eu-west-1 with us-east-1's AZ IDs printed only "would FAIL ... same CidrBlock" warnings, and
    one AZ named twice passed plan and cost: both are refused offline, before credentials or a build."""
    code, lines = answer([command], {"REGION": "eu-west-1", "PARAMS": f"AvailabilityZoneIds={zones}",
                                     "AWS_ACCESS_KEY_ID": None}, monkeypatch, capsys)
    assert_one_line(code, lines, f"error: {named}")
    assert offline == []


@pytest.mark.parametrize("env, named", [
    ({"URL": "http://127.0.0.1:9", "SMOKE_WAIT": "-3"}, "SMOKE_WAIT=-3 is not a number of seconds (zero or more)"),
    ({"URL": "http://127.0.0.1:9", "SMOKE_WAIT": "nan"}, "SMOKE_WAIT=nan is not a number of seconds"),
    ({"URL": "http://127.0.0.1:9/path?x=1"}, "URL=http://127.0.0.1:9/path?x=1 has a query string or fragment: give the "
                                             "base URL the paths are appended to, e.g. URL=http://127.0.0.1:9/path"),
    ({"URL": "https://example.com/#top"}, "URL=https://example.com/#top has a query string or fragment"),
    ({"SMOKE_WAIT": "soon"}, "SMOKE_WAIT=soon is not a number of seconds"),  # a stack's smoke: before credentials
    ({"URL": "http://[::1"}, "URL=http://[::1 is not a URL"),
    ({"URL": "http://127.0.0.1:abc"}, "URL=http://127.0.0.1:abc is not a URL"),
])
def test_smoke_refuses_a_wait_or_url_it_cannot_use_in_one_line(env, named, offline, monkeypatch, capsys):
    """SMOKE_WAIT=-3 waited "within -3 s"; a URL with a query string was probed as .../path?x=1/api/health-check."""
    code, lines = answer(["smoke"], {**env, "AWS_ACCESS_KEY_ID": None}, monkeypatch, capsys)
    assert_one_line(code, lines, f"error: {named}")
    assert offline == [], "refused before any request"
