import subprocess
import sys

import pytest

from scripts import outputs
from scripts.common import ROOT, load_samconfig, parse_overrides, target, wait
from scripts.errors import StackNotFound, UsageError, WaitTimedOut
from tests.ops.conftest import make_target


def test_overrides_round_trip_samconfig_syntax():
    assert parse_overrides('Ingress="HttpApi" MinTasks="2" Empty=""') == {"Ingress": "HttpApi", "MinTasks": "2",
                                                                           "Empty": ""}
    with pytest.raises(UsageError, match="not Key=Value"):
        parse_overrides("Ingress")


def test_overrides_for_sam_quote_values_with_spaces():
    from scripts.common import format_overrides
    params = {"StopSchedule": "cron(0 19 ? * MON-FRI *)", "MinTasks": "1", "ImageUri": ""}
    args = format_overrides(params)
    assert args == ['StopSchedule="cron(0 19 ? * MON-FRI *)"', "MinTasks=1", 'ImageUri=""']
    assert parse_overrides(" ".join(args)) == params


def test_samconfig_environments():
    dev, prod = load_samconfig("dev"), load_samconfig("prod")
    assert dev["stack_name"] != prod["stack_name"]
    assert "CAPABILITY_AUTO_EXPAND" in dev["capabilities"] and prod["confirm_changeset"] is True
    assert parse_overrides(prod["parameter_overrides"])["Profile"] == "prod"
    assert parse_overrides(dev["parameter_overrides"])["Profile"] == "dev"
    with pytest.raises(UsageError, match="unknown ENV=staging"):
        load_samconfig("staging")


def test_samconfig_has_no_sam_delete_sections():
    """`make destroy` is the way down: it names the retained table and waits out the Free plan (docs/operate.md)."""
    import tomllib
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert [env for env, section in config.items() if isinstance(section, dict) and "delete" in section] == []


def test_target_reads_samconfig_and_overrides(aws):
    t = target("prod", session=aws)
    assert t.stack_name == "fargate-blueprint-prod" and t.region == "us-east-1"
    assert t.parameters["Profile"] == "prod"
    assert target("dev", stack="other", session=aws).stack_name == "other"


def test_a_missing_stack_is_one_clear_line(aws):
    with pytest.raises(StackNotFound) as info:
        outputs.read(make_target(aws, "no-such-stack"))
    assert info.value.code == "stack_not_found"
    assert str(info.value) == ("stack no-such-stack not found in us-east-1: deploy it first (make deploy), "
                               "or name another with STACK=")


@pytest.mark.parametrize("command", ["status", "stop", "destroy"])
def test_cli_without_credentials_says_so_in_one_line(command, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_REGION": "us-east-1",
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_EC2_METADATA_DISABLED": "true", "YES": "1"}
    result = subprocess.run([sys.executable, "-m", "scripts", command], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: no AWS credentials found: run `aws configure` (or `aws sso login`), "
                                     "or set AWS_PROFILE / AWS_ACCESS_KEY_ID")


def test_a_profile_without_credentials_is_named_not_told_to_set_aws_profile(tmp_path):
    """AWS_PROFILE=p1, a profile in the config file with no credentials: the line names p1."""
    (tmp_path / "config").write_text("[profile p1]\nregion = eu-west-1\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_PROFILE": "p1",
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "config"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    result = subprocess.run([sys.executable, "-m", "scripts", "status"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: AWS profile p1 (AWS_PROFILE) has no credentials: run `aws configure "
                                     "--profile p1` (or `aws sso login --profile p1`), or set AWS_PROFILE to another")


def test_cli_with_a_wrong_stack_name_exits_non_zero_with_one_line(tmp_path):
    # moto's server is not needed: a closed endpoint proves the call is made and reported in one line.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "y", "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1",
           "STACK": "nope"}
    result = subprocess.run([sys.executable, "-m", "scripts", "status"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_wait_reports_progress_and_gives_up_with_the_last_state(deployed, capsys):
    t, out = deployed
    ecs = t.client("ecs")
    ecs.create_service(cluster="cluster", serviceName="slow", taskDefinition="api", desiredCount=1)  # moto never starts it
    clock = FakeClock()
    with pytest.raises(WaitTimedOut, match=r"service api did not finish within 60 s \(last state: pending\)"):
        wait("services_stable", ecs, what="service api", describe=lambda: "pending", timeout=60, delay=15,
             clock=clock, sleep=clock.sleep, cluster="cluster", services=["slow"])
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"  [{s:5.0f}s] service api: pending" for s in (0, 15, 30, 45)]


def test_wait_returns_when_the_waiter_succeeds(deployed, capsys):
    t, _ = deployed
    wait("services_stable", t.client("ecs"), what="service api", describe=lambda: "?", timeout=60,
         cluster="cluster", services=["api"])
    assert "service api: done" in capsys.readouterr().out
