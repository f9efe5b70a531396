"""`make plan`: the offline preview from samconfig.toml's parameters, and from a deployed stack's
(STACK=, moto), printed per nested stack with a warning per data hazard."""
from __future__ import annotations

import json

import pytest

from scripts import __main__ as cli
from scripts import plan
from scripts.errors import StackNotFound, UsageError
from tests.ops.conftest import STACK


def test_plan_from_samconfig_is_offline_and_lists_each_change(capsys, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert cli.main(["plan", "--params", "Ingress=LoadBalancer"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("plan: samconfig.toml [default] -> Ingress=LoadBalancer (us-east-1, offline preview, "
                      "not a change set)")
    assert "VpcStack (vpc.yml): no change" in out
    assert any(line.startswith("  - remove   VpcLink ") for line in out)
    assert any(line.startswith("  ~ update   Service ") and "ServiceRegistries" in line for line in out)
    assert out[-1] == ("WARNING: IngressStack/HttpApiAccessLogs (AWS::Logs::LogGroup) would be DELETED with its "
                       "log history")


def test_plan_says_when_the_parents_rules_refuse_the_change(capsys):
    """One line with the Rule's AssertDescription, before the plan (or the region line) is printed."""
    with pytest.raises(UsageError, match=r"^parent.yml's Rules refuse the new values \(samconfig.toml \[default\] with "
                                         r"PARAMS\) in \S+ \(from .*\): DomainNeedsCertificate: DomainName needs "
                                         r"CertificateArn"):
        cli.main(["plan", "--params", "DomainName=app.example.com"])
    assert capsys.readouterr() == ("", "")


def test_a_predicted_failure_exits_non_zero_like_a_refusal(capsys):
    """A CI gate on `make plan` must stop at an update it predicts CloudFormation fails (here: subnets
    replaced with the same CIDR blocks), not only at a Rule's refusal; a warning alone still exits 0."""
    assert cli.main(["plan", "--params", "AvailabilityZoneIds=use1-az4,use1-az6"]) == 1
    failing = [line for line in capsys.readouterr().out.splitlines() if "would FAIL" in line]
    assert failing and all("deploy a second stack in the new ones (docs/deploy.md)" in line for line in failing), \
        "each says what to do instead"


def test_plan_refuses_a_block_make_cost_refuses(monkeypatch):
    """A service block edited to Cpu 512 / Memory 512 (no such Fargate size): `make plan` refuses it in the
    same line as `make cost` (one check, scripts/cost.py's validate), not a plan CloudFormation would refuse."""
    import copy

    from scripts import cost
    edited = copy.deepcopy(cost.parent_template())
    edited["Resources"]["NotesService"]["Properties"]["Parameters"].update(Cpu=512, Memory=512)
    monkeypatch.setattr(cost, "parent_template", lambda: edited)
    with pytest.raises(UsageError, match=r"^NotesService: Cpu=512 with Memory=512 is not a Fargate size \(with 512: "):
        plan.run("dev", None, None, "Ingress=LoadBalancer")


def test_plan_refuses_a_name_given_twice():
    with pytest.raises(UsageError, match=r"^PARAMS gives Ingress twice \(Ingress=LoadBalancer and Ingress=HttpApi\)"):
        plan.run("dev", None, None, "Ingress=LoadBalancer Ingress=HttpApi")


def test_plan_refuses_what_is_no_longer_a_parameter():
    with pytest.raises(UsageError, match="^PARAMS sets Cpu, MinTasks, which parent.yml does not declare: remove it and set "
                                         "the value in code \\(Cpu: parent.yml's NotesService "
                                         "block \\(Cpu\\); MinTasks: parent.yml's Profile mapping"):
        plan.run("dev", None, None, "Cpu=512 MinTasks=2")


@pytest.mark.parametrize("params, message", [
    ("Ingress=Bogus", "^Ingress=Bogus is not allowed: use one of HttpApi, LoadBalancer$"),
    ("Profile=staging", "^Profile=staging is not allowed: use one of dev, prod$"),
    # Commas do not separate overrides: the whole rest is Ingress's value, which is refused.
    ("Ingress=LoadBalancer,NetworkMode=PrivateSubnets", "^Ingress=LoadBalancer,NetworkMode=PrivateSubnets is not allowed"),
])
def test_plan_refuses_a_value_the_parameter_does_not_allow_in_one_line(params, message):
    """As make cost does, before anything renders (it was a KeyError traceback from a Mappings lookup)."""
    import subprocess
    import sys

    from scripts.common import ROOT
    with pytest.raises(UsageError, match=message):
        plan.run("dev", None, None, params)
    done = subprocess.run([sys.executable, "-m", "scripts", "plan", "--params", params], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: ") and "is not allowed" in done.stderr


def test_plan_needs_a_change():
    """After `make service NAME=reports` a user tries `make plan`: it says it previews parameters only, and where
    a template edit shows instead."""
    with pytest.raises(UsageError, match=r"^nothing to plan: make plan previews a change of parameters, .*; a template "
                                         r"edit \(a new service block, say\) shows in the change set make deploy prints"):
        plan.run("dev", None, None, "")


@pytest.mark.parametrize("params, switches_ingress", [("NetworkMode=PrivateSubnets", True),
                                                      ("NetworkMode=PrivateSubnets Ingress=LoadBalancer", False)])
def test_plan_from_a_deployed_stack_starts_from_its_parameters_and_sends_what_make_deploy_sends(
        params, switches_ingress, aws, capsys):
    """make deploy sends the deployed values (UsePreviousValue), samconfig.toml's in full, then PARAMS: the stack
    below has Ingress=LoadBalancer from an earlier PARAMS, samconfig's dev set says HttpApi, so a deploy of
    NetworkMode alone also switches the ingress back, and the plan shows it, with a note saying why."""
    template = {"Parameters": {"Profile": {"Type": "String"}, "Ingress": {"Type": "String"},
                               "NetworkMode": {"Type": "String"}},
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    aws.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template), Parameters=[
        {"ParameterKey": "Profile", "ParameterValue": "dev"},
        {"ParameterKey": "Ingress", "ParameterValue": "LoadBalancer"},
        {"ParameterKey": "NetworkMode", "ParameterValue": "PublicSubnets"}])
    lines = []
    assert plan.run("dev", STACK, "us-east-1", params, session=aws, out=lines.append) == 0
    assert any(line.startswith("  + add      NatGatewayOne ") for line in lines)
    added_link = any(line.startswith("  + add      VpcLink") for line in lines)
    note = [line for line in lines if line.startswith("note: make deploy also sends samconfig.toml [default]'s")]
    if switches_ingress:
        assert lines[0].startswith(f"plan: stack {STACK} -> Ingress=HttpApi NetworkMode=PrivateSubnets (us-east-1")
        assert added_link and note == [
            "note: make deploy also sends samconfig.toml [default]'s Ingress=HttpApi (the stack has "
            "Ingress=LoadBalancer): planned here too; to keep the deployed value, put it in samconfig.toml or PARAMS"]
    else:
        assert lines[0].startswith(f"plan: stack {STACK} -> Ingress=LoadBalancer NetworkMode=PrivateSubnets")
        assert not added_link and note == [], "the stack keeps the load balancer: no VPC link to touch"


def test_plan_names_a_missing_stack_in_one_line(aws):
    with pytest.raises(StackNotFound, match="stack nope not found in us-east-1: deploy it first"):
        plan.run("dev", "nope", "us-east-1", "Ingress=LoadBalancer", session=aws)
