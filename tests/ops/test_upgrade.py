"""Updating a stack deployed with the old parameters (commit 3395073's 43): `sam deploy` drops a key the
template no longer declares and the stack takes the code's value, so `make deploy` reads the deployed
stack first and refuses to lose a value nobody moved into code (scripts/upgrade.py)."""
from __future__ import annotations

import copy

import pytest

from blueprint.templates import parent
from scripts import __main__ as cli
from scripts import deploy, generated, plan, upgrade
from scripts.common import Target
from scripts.errors import DeployedValueDropped, UsageError
from tests.ops.conftest import REGION, STACK, create_deployment, make_target
from tests.ops.fake_tools import FakeTools
from tests.ops.test_deploy import ONLY_AWS_CHECKS, sent_parameters

OLD_VALUES = {"Ingress": "HttpApi", "VpcCidr": "10.0.0.0/16", "HostedZoneId": "Z0123456789ABC", "Cpu": "1024",
              "Memory": "2048", "WafRateLimit": "500", "AppVersion": "abc1234",
              "CloudFrontPrefixListId": "pl-3b927c52"}  # what make deploy looked up; ingress.yml looks it up now
REFUSALS = [
    "the deployed stack has Cpu=1024; Cpu is now code: set it in parent.yml's NotesService block (Cpu), then run "
    "again with ACCEPT=Cpu",
    "the deployed stack has HostedZoneId=Z0123456789ABC; HostedZoneId is now code: set it in parent.yml's Dns "
    "mapping (Route53, HostedZoneId), then run again with ACCEPT=HostedZoneId",
    "the deployed stack has Memory=2048; Memory is now code: set it in parent.yml's NotesService block (Memory), "
    "then run again with ACCEPT=Memory",
    "the deployed stack has VpcCidr=10.0.0.0/16; VpcCidr is now code: set it in parent.yml's VpcStack block "
    "(VpcCidr), then run again with ACCEPT=VpcCidr",
    "the deployed stack has WafRateLimit=500; WafRateLimit is now code: set it in parent.yml's FrontendStack block "
    "(WafRateLimit: 1000 when CreatesWebAcl, else 0), then run again with ACCEPT=WafRateLimit",
]


def run_deploy(aws, **kwargs):
    tools = FakeTools(aws)
    result = deploy.deploy(make_target(aws), run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0,
                           interactive=False, **kwargs)
    return tools, result


def test_old_values_the_code_does_not_give_are_refused_one_line_each_and_nothing_is_deployed(aws, capsys):
    create_deployment(aws, parameters=OLD_VALUES)
    tools = FakeTools(aws)
    with pytest.raises(DeployedValueDropped, match=r"^5 deployed value\(s\) above would be lost; nothing was deployed"):
        deploy.deploy(make_target(aws), run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0,
                      interactive=False)
    assert capsys.readouterr().err.splitlines() == REFUSALS  # AppVersion, CloudFrontPrefixListId: set by make deploy, never refused
    assert tools.named("sam") == [] and tools.named("docker") == [], "nothing was built or deployed"
    assert aws.client("ecr").describe_repositories()["repositories"] == []


def test_old_values_at_their_old_defaults_proceed(aws):
    create_deployment(aws, parameters={"Ingress": "HttpApi", "VpcCidr": "10.42.0.0/16", "HostedZoneId": "",
                                       "Cpu": "256", "WafRateLimit": "0", "LogRetentionDays": "14",
                                       "OriginSecretVersion": "1", "AppVersion": "abc1234"})
    tools, _ = run_deploy(aws)
    assert len(tools.named("sam", "deploy")) == 1


def test_named_in_accept_they_proceed_and_only_those(aws, capsys):
    create_deployment(aws, parameters=OLD_VALUES)
    with pytest.raises(DeployedValueDropped, match="^1 deployed value"):
        run_deploy(aws, accept={"VpcCidr", "HostedZoneId", "Cpu", "WafRateLimit"})
    assert capsys.readouterr().err.splitlines() == [REFUSALS[2]]  # Memory was not named
    tools, _ = run_deploy(aws, accept=upgrade.parse_accept("VpcCidr,HostedZoneId Cpu,Memory,WafRateLimit"))
    assert len(tools.named("sam", "deploy")) == 1


def test_accept_reaches_the_deploy_from_the_command_line(aws, monkeypatch):
    """`aws`: the command reads the stack (none here) before it deploys, for the Rules on the values it keeps."""
    seen = {}
    monkeypatch.setattr(deploy, "deploy", lambda t, extra, yes, accept: seen.update(accept=accept))
    monkeypatch.setenv("ACCEPT", "VpcCidr, Cpu")
    assert cli.main(["deploy"]) == 0
    assert seen["accept"] == {"VpcCidr", "Cpu"}


def test_a_value_moved_into_code_is_not_refused():
    moved = copy.deepcopy(parent())
    moved["Resources"]["VpcStack"]["Properties"]["Parameters"]["VpcCidr"] = "10.0.0.0/16"
    moved["Resources"]["NotesService"]["Properties"]["Parameters"]["Cpu"] = "1024"
    moved["Mappings"]["Dns"]["Route53"]["HostedZoneId"] = "Z0123456789ABC"
    deployed = {"VpcCidr": "10.0.0.0/16", "Cpu": "1024", "HostedZoneId": "Z0123456789ABC"}
    assert upgrade.dropped(deployed, {"Profile": "dev"}, template=moved) == []
    assert len(upgrade.dropped(deployed, {"Profile": "dev"})) == 3  # the repository's code does not give them


def test_old_prod_samconfig_values_are_the_prod_profiles_and_pass_but_not_on_dev():
    old_prod = {"Architecture": "ARM64", "SpotWeight": "1", "OnDemandBase": "1", "OnDemandWeight": "0",
                "MinTasks": "2", "MaxTasks": "4", "LogRetentionDays": "365", "ApiRateLimit": "50",
                "ApiBurstLimit": "100", "TableMaxReadUnits": "100", "TableMaxWriteUnits": "25", "NoteTtlDays": "30"}
    assert upgrade.dropped(old_prod, {"Profile": "prod", "AWS::Region": REGION}) == []
    on_dev = upgrade.dropped(old_prod, {"Profile": "dev", "AWS::Region": REGION})
    assert ("the deployed stack has LogRetentionDays=365; LogRetentionDays is now code: set it in parent.yml's "
            "Profile mapping (LogRetentionDays, per profile), then run again with ACCEPT=LogRetentionDays") in on_dev
    assert len(on_dev) == 8  # all but the four at their old defaults (Architecture, weights, NoteTtlDays)


def test_a_dropped_parameter_of_the_forks_own_is_refused_too():
    assert upgrade.dropped({"MyKnob": "7"}, {"Profile": "dev"}) == [
        "the deployed stack has MyKnob=7; parent.yml no longer declares MyKnob: set it in code, then run again "
        "with ACCEPT=MyKnob"]


def test_a_stack_already_on_this_template_is_unaffected(aws):
    create_deployment(aws, parameters={"Ingress": "HttpApi", "Profile": "dev", "NetworkMode": "PublicSubnets"})
    assert upgrade.check_deployed(make_target(aws), {"Profile": "dev"}) == []
    tools, _ = run_deploy(aws)
    assert len(tools.named("sam", "deploy")) == 1


def test_plan_from_a_deployed_stack_shows_what_the_update_would_lose(aws):
    create_deployment(aws, parameters=OLD_VALUES)
    lines = []
    assert plan.run("dev", STACK, REGION, "NetworkMode=PublicSubnets", session=aws, out=lines.append) == 1
    assert lines[1:6] == REFUSALS


def test_old_keys_in_samconfig_are_refused_with_where_each_value_lives_now(aws):
    old = Target("prod", "old-stack", REGION, {"Profile": "prod", "VpcCidr": "10.0.0.0/16", "PriceClass": "PriceClass_All"},
                 aws)
    with pytest.raises(UsageError) as raised:
        deploy.refuse_unknown_parameters(old, {})
    assert str(raised.value) == (
        "samconfig.toml [prod] sets PriceClass, VpcCidr, which parent.yml does not declare: remove it and set the "
        "value in code (PriceClass: frontend.yml's PriceClass default (or a PriceClass line in parent.yml's "
        "FrontendStack block); VpcCidr: parent.yml's VpcStack block (VpcCidr); docs/deploy.md)")


def test_the_table_is_every_old_parameter_and_each_home_exists():
    declared = set(parent()["Parameters"])
    assert not declared & set(upgrade.REMOVED)
    added_since = {"Profile", "Compute"}  # parameters that commit did not have (a stack deployed then takes
    # their defaults: the dev profile, Fargate)
    assert len(upgrade.REMOVED) + len(declared - added_since) == 43  # commit 3395073's parent.yml had 43
    for key, entry in upgrade.REMOVED.items():
        if entry.checked:
            assert upgrade.code_value(key, {"Profile": "dev", "AWS::Region": REGION}) is not None, key


def test_the_doc_table_is_the_code_table():
    generated.assert_current(upgrade.DOC, upgrade.BLOCK, upgrade.doc_table(), "python -m scripts.upgrade")


def test_a_deployed_budget_email_is_carried_to_alert_email_with_one_line(aws, capsys):
    """BudgetEmail is now AlertEmail: `sam deploy` drops the old name (SAM CLI sends only the template's
    parameters), so without the carry an upgraded stack would lose its budget and its alert address."""
    create_deployment(aws, parameters={"Ingress": "HttpApi", "BudgetEmail": "ops@example.com"})
    tools, result = run_deploy(aws)
    assert sent_parameters(tools)["AlertEmail"] == "ops@example.com"
    assert "BudgetEmail" not in sent_parameters(tools)
    assert ("AlertEmail=ops@example.com: carried from the deployed stack's BudgetEmail (BudgetEmail is now "
            "AlertEmail; docs/deploy.md)") in capsys.readouterr().out.splitlines()


def test_an_alert_email_given_wins_over_the_deployed_budget_email(aws, capsys):
    create_deployment(aws, parameters={"Ingress": "HttpApi", "BudgetEmail": "old@example.com"})
    tools, _ = run_deploy(aws, extra={"AlertEmail": "new@example.com"})
    assert sent_parameters(tools)["AlertEmail"] == "new@example.com"
    assert "carried" not in capsys.readouterr().out


def test_plan_from_a_stack_with_budget_email_plans_it_as_alert_email(aws):
    create_deployment(aws, parameters={"Ingress": "HttpApi", "BudgetEmail": "ops@example.com"})
    lines = []
    assert plan.run("dev", STACK, REGION, "NetworkMode=PublicSubnets", session=aws, out=lines.append) == 0
    assert "AlertEmail=ops@example.com" in lines[0].split(" -> ", 1)[1]
    assert lines[1] == ("AlertEmail=ops@example.com: carried from the deployed stack's BudgetEmail (BudgetEmail is "
                        "now AlertEmail; docs/deploy.md)")


def test_budget_email_in_samconfig_or_params_names_its_new_name(aws):
    old = Target("dev", "old-stack", REGION, {"Profile": "dev", "BudgetEmail": "ops@example.com"}, aws)
    with pytest.raises(UsageError) as raised:
        deploy.refuse_unknown_parameters(old, {})
    assert str(raised.value) == ("samconfig.toml [default] sets BudgetEmail, which parent.yml does not declare "
                                 "(BudgetEmail: now AlertEmail: set AlertEmail instead)")
