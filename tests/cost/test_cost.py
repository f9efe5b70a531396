"""`make cost` pinned to figures computed by hand from shared/notes/pricing.md's prices.

The arithmetic is written out beside each figure (730 h a month; GB = 2^30 bytes). The configuration
is parent.yml's parameters; each service's size comes from its block (a key such as Cpu in a config
overrides it for every service: what-ifs of code). Nothing here is pinned to one service: the
services are the ones the parent declares."""
from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest

from scripts import cost
from scripts.common import ROOT, OpsError
from tests.cost.test_alarm_cost import rendered_alarm_metrics
from tests.support.parents import with_secrets

DEFAULT = cost.configuration(None, "")
GIB = 2 ** 30


def only(parent: dict, *keep: str) -> dict:
    """`parent` with only the services `keep` (default: its first). The hand-computed figures below are for
    the sample's one service (or it and the generated second), whatever other services a fork's parent.yml
    declares: adding a service to parent.yml does not change them."""
    import copy
    out = copy.deepcopy(parent)
    names = cost.services(out)
    dropped = [n for n in names if n not in (keep or names[:1])]
    for name in dropped:
        del out["Resources"][name]
        out["Outputs"].pop(name, None)
    frontend = out["Resources"]["FrontendStack"]
    frontend["DependsOn"] = [d for d in frontend.get("DependsOn", []) if d not in dropped]
    return out


ONE = only(cost.parent_template())  # parent.yml with its first service, the sample's


def two_services() -> dict:
    """The first service and the generated second (checks/render.py), whatever else parent.yml declares."""
    from checks.render import SECOND, two_service_parent
    parent = two_service_parent()
    return only(parent, cost.services(parent)[0], SECOND)


def total(requests=1e6, tasks=None, **params):
    return cost.estimate({**DEFAULT, **params}, requests, tasks=tasks, parent=ONE)


def line(est, item):
    (found,) = [x for x in est.lines if x.item == item]
    return found


def test_the_smallest_task_on_demand():
    # x86: (0.25 x 0.04048 + 0.5 x 0.004445) x 730 = 0.0123425 x 730 = 9.010025
    x86 = total(0, Architecture="X86_64", SpotWeight="0", OnDemandWeight="1")
    assert line(x86, "Fargate tasks").total == pytest.approx(9.010025)
    # ARM64: (0.25 x 0.03238 + 0.5 x 0.00356) x 730 = 0.009875 x 730 = 7.20875
    arm = total(0, SpotWeight="0", OnDemandWeight="1")
    assert line(arm, "Fargate tasks").total == pytest.approx(7.20875)
    assert round(line(x86, "Fargate tasks").total, 2) == 9.01 and round(line(arm, "Fargate tasks").total, 2) == 7.21


def test_an_internet_facing_alb_and_its_two_addresses():
    alb = total(0, Ingress="LoadBalancer")
    assert line(alb, "ALB").total == pytest.approx(0.0225 * 730) == pytest.approx(16.425)
    assert line(alb, "Public IPv4 (ALB)").total == pytest.approx(2 * 0.005 * 730) == pytest.approx(7.30)
    assert line(alb, "ALB LCUs").total == 0
    # The Cloud Map namespace stays with the ALB (cluster.yml: a switch back must not recreate it):
    # its private zone, no instances.
    assert line(alb, "Cloud Map").total == pytest.approx(0.50)


# The default: HTTP API, public subnets, 1 ARM64 Spot task.
#   Spot task  (0.25 x 0.01030969 + 0.5 x 0.00113349) x 730 = 2.295242275
#   task IPv4  0.005 x 730 = 3.65;  Cloud Map 0.50 zone + 0.10 instance;  S3 0.001 GB x 0.023 = 0.000023
#   the X-Origin-Verify secret 0.40
#   the alarms (issue 19): 0.10 an alarm metric, counted in the rendered templates by checks/render.py (another
#   reader than make cost's; tests/cost/test_alarm_cost.py); 0 before the templates have alarms
ALARMS = rendered_alarm_metrics(DEFAULT, ONE) * 0.10
FIXED = 2.295242275 + 3.65 + 0.60 + 0.000023 + 0.40 + ALARMS
# Logs: (400 app + 350 API) bytes a request; storage 14/30 of a month at 0.03 per GB.
LOG_GB_PER_M = 750e6 / GIB                                # 0.69849 GB per million requests
STORED = 14 / 30 * 0.03


# The sample's table (notes-data.yml) prices DynamoDB requests; a parent without a data stack has none
# (docs/services.md, "Remove the sample"): 1 or 0, read from the parent's tables.
TABLE = int(cost.has_tables(cost.estimate(DEFAULT, 0).config))


@pytest.mark.parametrize("requests,expected,ingress_and_compute", [
    (0, FIXED, 6.55),
    # + API 1.00; logs within 5 GB free: storage 0.69849 x 0.014 = 0.00978; DynamoDB 0.9 x 0.125 + 0.1 x 0.625 = 0.175
    (1e6, FIXED + 1.00 + LOG_GB_PER_M * STORED + 0.175 * TABLE, 7.55),
    # + API 100; CloudFront (100 M - 10 M free) / 10k x 0.01 = 90 (381 GB out < 1 TB free);
    # logs (69.849 - 5) x 0.50 + 69.849 x 0.014 = 33.4025; DynamoDB 90 x 0.125 + 10 x 0.625 = 17.50
    (100e6, FIXED + 100 + 90 + (100 * LOG_GB_PER_M - 5) * 0.5 + 100 * LOG_GB_PER_M * STORED + 17.5 * TABLE, 106.55),
])
def test_the_default_configuration(requests, expected, ingress_and_compute):
    est = total(requests)
    assert est.total == pytest.approx(expected, abs=1e-6)
    # pricing.md's worked totals count the task, its IPv4, Cloud Map and API Gateway:
    core = est.subtotal(("Fargate tasks", "Public IPv4 (tasks)", "Cloud Map", "API Gateway requests"))
    assert round(core, 2) == ingress_and_compute
    assert [round(est.total, 2) for est in [est]] == [round(expected, 2)]


def test_the_usual_reference_setup_costs_nine_times_more_at_idle():
    # ALB 16.425 + 2 x 3.65 + NAT 32.85 + its EIP 3.65 + 2 GB x 0.045 + x86 on-demand 9.010025 = 69.325025
    ref = total(0, Ingress="LoadBalancer", NetworkMode="PrivateSubnets", Architecture="X86_64", SpotWeight="0",
                OnDemandWeight="1")
    # (the blueprint's own extras apart: the site, the origin secret, the Cloud Map zone it keeps on the ALB, its alarms)
    core = ref.total - line(ref, "S3 (frontend)").total - line(ref, "Secrets Manager").total \
        - line(ref, "Cloud Map").total - line(ref, "CloudWatch alarms").total
    assert core == pytest.approx(16.425 + 7.30 + 32.85 + 3.65 + 2 * 0.045 + 9.010025)
    assert round(core, 2) == 69.33  # pricing.md: 69.33
    assert ref.total > 9 * total(0).total  # ten times before the alarms (issue 19), which both have


def test_alb_lcus_grow_with_requests():
    # 100 M requests: 100e6 / (730 x 3600) = 38.05 new connections/s -> 1.522 LCU x 0.008 x 730 = 8.889
    assert line(total(100e6, Ingress="LoadBalancer"), "ALB LCUs").total == pytest.approx(100e6 / 3600 / 25 * 0.008)


def test_break_even_against_the_alb():
    # Ingress prices alone (the Cloud Map zone is billed with both: cluster.yml keeps it):
    # 0.60 + 1.00 R = 24.225 + 0.088889 R  ->  R = 23.625 / 0.911111 = 25.930 M
    ingress_only = cost.break_even(DEFAULT, cost.INGRESS_LINES, parent=ONE)
    assert 25e6 <= ingress_only <= 27e6
    assert ingress_only == pytest.approx(23.625 / (1 - 0.008 / 3600 / 25 * 1e6) * 1e6, rel=1e-6)
    # Everything: the HTTP API's access log adds 350 bytes a request: 0.32596 GB/M x (0.50 + 0.014)
    everything = cost.break_even(DEFAULT, parent=ONE)
    per_million = 1.00 + 350e6 / GIB * (0.5 + STORED) - 0.008 / 3600 / 25 * 1e6
    assert everything == pytest.approx(23.625 / per_million * 1e6, rel=1e-6)
    assert everything < ingress_only


def test_scaled_to_zero_leaves_the_fixed_ingress_parts():
    # Cloud Map's zone, the site and the origin secret
    assert total(0, tasks=0).total == pytest.approx(0.50 + 0.000023 + 0.40 + ALARMS)
    assert total(0, MinTasks="0").total == pytest.approx(0.50 + 0.000023 + 0.40 + ALARMS)


def test_a_schedule_bills_only_the_working_hours():
    scheduled = total(0, StopSchedule="cron(0 19 ? * MON-FRI *)", StartSchedule="cron(0 7 ? * MON-FRI *)")
    share = 60 / 168  # 12 h on each of 5 weekdays
    assert line(scheduled, "Fargate tasks").total == pytest.approx(2.295242275 * share)
    assert any("36%" in note for note in scheduled.notes)


def test_spot_split_follows_the_capacity_provider_strategy():
    assert cost.capacity_split(2, 1, 0, 1) == (1, 1)       # prod: the first task on demand
    assert cost.capacity_split(4, 1, 1, 1) == (2.5, 1.5)   # base 1, the other 3 half and half
    assert cost.capacity_split(3, 0, 0, 1) == (0, 3)


# parent.yml's parameters (what `make cost PARAMS=...` can change), and what each costs.
COST_PARAMETERS = {"Ingress": "LoadBalancer", "NetworkMode": "PrivateSubnets", "Profile": "prod",
                   "CloudFrontPlan": "Free", "Compute": "Lambda"}
NO_COST = {"ImageUri", "AvailabilityZoneIds", "DomainName", "CertificateArn", "ApiDomainName", "ApiCertificateArn",
           "AlertEmail",  # the first two budgets are free; SNS mails its first 1,000 a month free
           "WebAclArn",  # billed where that web ACL lives
           *({"ExistingTableName"} & set(DEFAULT)),  # the sample's: an adopted table bills like a created one
           "PermissionsBoundaryArn"}  # an IAM permissions boundary is free
# What a block (code) sets, as a what-if for every service: each changes the estimate.
COST_SETTINGS = {
    "Architecture": "X86_64", "Cpu": "512", "Memory": "1024", "SpotWeight": "0", "OnDemandBase": "1",
    "OnDemandWeight": "1", "MinTasks": "2", "DesiredCount": "3", "LogRetentionDays": "365",
    "ContainerInsights": "enabled", "HostedZoneId": "Z0123456789ABCDEFGHIJ",
    "StopSchedule": "cron(0 19 ? * MON-FRI *)", "WafRateLimit": "1000",
}
NEEDS = {"Memory": {"Cpu": "512"}, "OnDemandWeight": {"SpotWeight": "1", "MinTasks": "2"},
         "StopSchedule": {"StartSchedule": "cron(0 7 ? * MON-FRI *)"}}


def test_every_parameter_is_classified():
    assert set(COST_PARAMETERS) | NO_COST == set(DEFAULT)


@pytest.mark.parametrize("name,value", sorted(COST_PARAMETERS.items()))
def test_every_parameter_that_costs_changes_the_estimate(name, value):
    # 20 M requests: beyond CloudFront's 10 M free ones, so the Free plan shows
    assert cost.estimate({**DEFAULT, name: value}, 20e6).total != pytest.approx(cost.estimate(DEFAULT, 20e6).total)


@pytest.mark.parametrize("name,value", sorted(COST_SETTINGS.items()))
def test_every_setting_of_a_block_that_costs_changes_the_estimate(name, value):
    base = {**DEFAULT, "Cpu": "512", "Memory": "1024"} if name == "Memory" else dict(DEFAULT)
    base.update({k: v for k, v in NEEDS.get(name, {}).items() if k != name})
    if name == "StopSchedule":
        base.pop("StartSchedule")
        base["StartSchedule"] = ""
    before = cost.estimate(base, 10e6).total
    after_config = {**base, name: value, **({"StartSchedule": "cron(0 7 ? * MON-FRI *)"}
                                           if name == "StopSchedule" else {})}
    if name == "Memory":
        after_config["Memory"] = "2048"
    assert cost.estimate(after_config, 10e6).total != pytest.approx(before), name


def test_nat_gateways_cost_only_in_private_subnets():
    private = {**DEFAULT, "NetworkMode": "PrivateSubnets"}
    one, two = (cost.estimate(private, 1e6, parent=ONE).total,
                cost.estimate({**private, "NatGateways": "2"}, 1e6, parent=ONE).total)
    assert two - one == pytest.approx(0.045 * 730 + 3.65)
    assert cost.estimate({**DEFAULT, "NatGateways": "2"}, 1e6).total == cost.estimate(DEFAULT, 1e6).total


def test_every_combination_the_templates_allow_has_an_answer():
    sizes = cost.fargate_sizes()
    combos = 0
    for ingress, network, nat, arch, insights in itertools.product(
            ("HttpApi", "LoadBalancer"), ("PublicSubnets", "PrivateSubnets"), ("1", "2"), ("ARM64", "X86_64"),
            ("disabled", "enabled", "enhanced")):
        for cpu, memories in sizes.items():
            for memory in memories:
                config = {**DEFAULT, "Ingress": ingress, "NetworkMode": network, "NatGateways": nat,
                          "Architecture": arch, "ContainerInsights": insights, "Cpu": cpu, "Memory": memory}
                cost.validate(config)
                est = cost.estimate(config, 1e6)
                assert 0 < est.total < 10_000
                combos += 1
    assert combos == 2 * 2 * 2 * 2 * 3 * sum(len(m) for m in sizes.values())


def test_invalid_configurations_are_refused_like_the_template_refuses_them():
    with pytest.raises(OpsError, match="NotesService: Cpu=256 with Memory=4096 is not a Fargate size"):
        cost.validate({**DEFAULT, "Memory": "4096"})
    with pytest.raises(OpsError, match="NotesService: MinTasks=3 is more than MaxTasks=2"):
        cost.validate({**DEFAULT, "MinTasks": "3"})
    with pytest.raises(OpsError, match="Ingress=Nlb is not allowed"):
        cost.configuration(None, "Ingress=Nlb")
    with pytest.raises(OpsError, match="PARAMS sets Bogus, which parent.yml does not declare"):
        cost.configuration(None, "Bogus=1")
    with pytest.raises(OpsError, match="sets Cpu, which parent.yml does not declare: .*NotesService block"):
        cost.configuration(None, "Cpu=512")


def test_a_block_whose_environment_does_not_fit_or_pair_is_refused():
    """service.yml has 20 slots each for variables and secrets; a name past them would be dropped silently."""
    import copy

    from checks.render import SECOND, two_service_parent
    cost.validate(DEFAULT, two_service_parent())  # the generated block: 3 variables, 2 secrets
    too_many = copy.deepcopy(two_service_parent())
    too_many["Resources"][SECOND]["Properties"]["Parameters"].update(
        EnvironmentNames=",".join(f"V{i}" for i in range(21)), EnvironmentValues=",".join("1" * 21))
    with pytest.raises(OpsError, match=f"^{SECOND}: 21 EnvironmentNames, more than service.yml's 20 slots$"):
        cost.validate(DEFAULT, too_many)
    unpaired = copy.deepcopy(two_service_parent())
    unpaired["Resources"][SECOND]["Properties"]["Parameters"]["SecretArns"] = "arn:aws:ssm:us-east-1:1:parameter/x"
    with pytest.raises(OpsError, match=f"^{SECOND}: 2 SecretNames but 1 SecretArns: give one value per name$"):
        cost.validate(DEFAULT, unpaired)


def test_samconfig_environment_and_params_override_template_defaults():
    prod = cost.configuration("prod", "Ingress=LoadBalancer")
    assert prod["Profile"] == "prod" and prod["Ingress"] == "LoadBalancer"
    env, services = cost.settings(prod)
    assert env["LogRetentionDays"] == "365" and env["ApiRateLimit"] == "50" and env["WafRateLimit"] == "1000"
    for name in cost.services():
        assert services[name]["OnDemandBase"] == "1" and services[name]["MinTasks"] == "2", name


def run_cost(*args, env=None):
    return subprocess.run([sys.executable, "-m", "scripts.cost", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=env)


def test_cli_table_and_json():
    table = run_cost("--requests", "1000000")
    assert table.returncode == 0, table.stderr
    # The CLI prices parent.yml as it is (every service it declares); the figures by hand are above.
    dev = cost.configuration("dev", "")
    assert "prices of 2026-09-28" in table.stdout
    assert f"= {cost.money(cost.estimate(dev, 1e6).total)} a month" in table.stdout
    even = cost.break_even(dev, cost.INGRESS_LINES)
    assert f"pays off above {even / 1e6:.1f} M requests/month (ingress prices alone)" in table.stdout
    data = json.loads(run_cost("--json", "--requests", "0").stdout)
    assert data["total"] == pytest.approx(cost.estimate(dev, 0).total, abs=1e-4) and data["priceDate"] == "2026-09-28"
    assert set(data["alternatives"]) == {"HttpApi + PublicSubnets", "HttpApi + PrivateSubnets",
                                         "LoadBalancer + PublicSubnets", "LoadBalancer + PrivateSubnets"}
    deploy = cost.deploy_cost(dev)
    assert ("Each deploy that builds the images (not in the total above: builds and invocations bill per deploy; "
            "the images kept bill storage, the last line)") in table.stdout
    assert f"  {'= a deploy':<26}{cost.money(deploy.per_deploy):>8}  before the free tiers" in table.stdout
    assert data["deploy"]["perDeploy"] == pytest.approx(deploy.per_deploy, abs=1e-4)
    assert data["deploy"]["storagePerMonth"] == pytest.approx(deploy.storage.fixed, abs=1e-4)


def test_cli_errors_are_one_line():
    bad = run_cost("--params", "Ingress=Nlb")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "Ingress=Nlb is not allowed" in bad.stderr
    code = run_cost("--params", "Cpu=256 Memory=8192")
    assert code.returncode == 1 and code.stderr.count("\n") == 1 and "sets Cpu, Memory, which parent.yml does not declare" in code.stderr


def test_refresh_without_credentials_keeps_the_file(tmp_path):
    import os
    before = cost.PRICES.read_text()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "x"),
           "AWS_CONFIG_FILE": str(tmp_path / "x"), "AWS_EC2_METADATA_DISABLED": "true"}
    result = run_cost("--refresh", env=env)
    # The refresh asked for did not happen: one line and a non-zero exit, not an estimate from the old prices.
    assert result.returncode == 1 and result.stdout == "", result.stdout
    assert result.stderr.splitlines()[-1].startswith("error: --refresh kept prices.toml: no AWS credentials found"), \
        result.stderr
    assert [line for line in result.stderr.splitlines() if not line.startswith("region: ")] == [
        result.stderr.splitlines()[-1]]
    assert cost.PRICES.read_text() == before


def test_refresh_reads_the_price_list_api(tmp_path):
    """botocore's Stubber checks the request and the response against the Pricing API's model."""
    import boto3
    from botocore.stub import Stubber
    prices = tmp_path / "prices.toml"
    prices.write_text(cost.PRICES.read_text())

    def product(usage, price):
        return json.dumps({"product": {"attributes": {"usagetype": usage}}, "terms": {"OnDemand": {"T": {
            "priceDimensions": {"D": {"unit": "hours", "pricePerUnit": {"USD": str(price)}}}}}}})
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    client = session.client("pricing", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response("get_products", {"PriceList": [
        product("USE1-Fargate-vCPU-Hours:perCPU", 0.05), product("USE1-Fargate-ARM-GB-Hours", 0.004),
        product("USE1-Fargate-EphemeralStorage-GB-Hours", 0.000111)], "FormatVersion": "aws_v1"},
        {"ServiceCode": "AmazonECS", "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}]})

    class Session:
        def client(self, *args, **kwargs):
            return client
    with stub:
        found = cost.refresh("us-east-1", session=Session(), path=prices)
    assert found == {"fargate_x86_vcpu_hour": 0.05, "fargate_arm_gb_hour": 0.004}
    text = prices.read_text()
    assert "fargate_x86_vcpu_hour = 0.05" in text and "fargate_arm_gb_hour = 0.004" in text
    assert 'date = "2026-09-28"' not in text
    assert cost.load_prices("us-east-1", prices)[0]["fargate_x86_vcpu_hour"] == 0.05


def test_the_cost_page_s_section_is_generated_not_typed():
    from scripts import generated
    assert cost.README == cost.ROOT / "docs" / "cost.md"
    generated.assert_current(cost.README, cost.BLOCK, cost.readme_section(), "python -m scripts cost --readme")


# ----------------------------------------------------------------- abuse bounds and the ceiling
def test_the_waf_costs_six_dollars_and_sixty_cents_a_million():
    # web ACL 5.00 + 1 rule 1.00 = 6.00 fixed; 10 M requests x 0.60 = 6.00
    waf = line(total(10e6, WafRateLimit="1000"), "AWS WAF")
    assert (waf.fixed, waf.variable) == (pytest.approx(6.00), pytest.approx(6.00))
    assert not [x for x in total(10e6).lines if x.item == "AWS WAF"]
    existing = total(10e6, WafRateLimit="1000", WebAclArn="arn:aws:wafv2:us-east-1:1:global/webacl/x/y")
    assert not [x for x in existing.lines if x.item == "AWS WAF"]
    assert any("billed in the account and region that own it" in n for n in existing.notes)


def test_the_free_plan_bills_cloudfront_and_its_waf_nothing_and_throttles_beyond():
    plan = total(20e6, WafRateLimit="1000", CloudFrontPlan="Free")
    assert line(plan, "CloudFront (Free plan)").total == 0
    assert not [x for x in plan.lines if x.item in ("CloudFront", "AWS WAF")]
    assert any("past the plan's allowance" in n for n in plan.notes)   # 20 M > 1 M
    # In us-east-1 the stack creates the plan's web ACL itself (parent.yml's CreatesWebAcl) ...
    assert line(total(20e6, CloudFrontPlan="Free"), "CloudFront (Free plan)").total == 0
    # ... elsewhere it cannot (parent.yml's Rules refuse the plan without WebAclArn): priced as pay-as-you-go.
    elsewhere = cost.estimate({**DEFAULT, "CloudFrontPlan": "Free"}, 20e6, region="eu-west-1", parent=ONE)
    assert line(elsewhere, "CloudFront").total == pytest.approx(10.00)


DEV = cost.configuration("dev", "")
SECONDS = 730 * 3600                                        # 2,628,000 s in a 730-hour month


# The generated second service of the two-service parent (checks/render.py's SECOND_BLOCK): 0.5 vCPU /
# 1 GB X86_64 on Spot, MaxTasks 3, DesiredCount 2, stopped outside 12 h on weekdays.
#   one Spot task a month: (0.5 x 0.01288871 + 1 x 0.00141527) x 730 = 0.007859625 x 730 = 5.73752625
SECOND_SPOT_TASK = 5.73752625


def test_every_service_of_the_parent_is_priced_from_its_own_block():
    from checks.render import SECOND
    two = two_services()
    env, services = cost.settings(DEFAULT, parent=two)
    assert list(services) == cost.services(two) == ["NotesService", SECOND]
    assert (services[SECOND]["Cpu"], services[SECOND]["Memory"], services[SECOND]["Architecture"]) == \
        ("512", "1024", "X86_64")
    assert (services["NotesService"]["Cpu"], services["NotesService"]["Architecture"]) == ("256", "ARM64")


def test_the_ceiling_counts_every_route_and_every_service_of_the_two_service_parent():
    """Two services: four routes (each at ApiRateLimit), and each service's own MaxTasks, with their addresses."""
    from checks.render import SECOND
    two = two_services()
    assert cost.services(two) == ["NotesService", SECOND] and cost.routes(two) == 4
    one, both = cost.ceiling(DEV, parent=ONE), cost.ceiling(DEV, parent=two)
    assert both.estimate.requests == 4 * 10 * SECONDS == 2 * one.estimate.requests
    items = {x.item: x.total for x in both.estimate.lines}
    assert items["API Gateway requests"] == pytest.approx(4 * 10 * SECONDS / 1e6)   # 105.12 M x $1.00
    assert both.estimate.tasks == 2 + 3                                              # each block's MaxTasks
    # notes: 2 x 2.295242275 = 4.59048455; second: 3 x 5.73752625 = 17.21257875
    assert items["Fargate tasks"] == pytest.approx(2 * 2.295242275 + 3 * SECOND_SPOT_TASK) == pytest.approx(21.8030633)
    assert items["Public IPv4 (tasks)"] == pytest.approx(5 * 3.65)
    assert items["Cloud Map"] == pytest.approx(0.50 + 5 * 0.10)


def test_idle_tasks_and_their_addresses_count_every_service():
    """Each service runs what its block says: notes its MinTasks (1), the second its DesiredCount (2), but
    only 60 of the week's 168 hours (its schedule): 2 x 60/168 = 0.714 tasks on average."""
    one, both = total(0), cost.estimate(DEFAULT, 0, parent=two_services())
    second = 2 * 60 / 168
    assert both.tasks == pytest.approx(1 + second)
    # 2.295242275 + 0.7142857 x 5.73752625 = 2.295242275 + 4.098233036 = 6.393475311
    assert line(both, "Fargate tasks").total == pytest.approx(2.295242275 + second * SECOND_SPOT_TASK)
    assert line(both, "Fargate tasks").total == pytest.approx(6.393475311)
    assert line(both, "Public IPv4 (tasks)").total == pytest.approx((1 + second) * 3.65)
    assert line(both, "Cloud Map").total == pytest.approx(0.50 + (1 + second) * 0.10)
    # and its alarms: 3 alarm metrics (error ratio 2, p99 1; no below-minimum alarm: its MinTasks is 0)
    assert line(both, "CloudWatch alarms").total == pytest.approx(line(one, "CloudWatch alarms").total + 0.30)
    assert both.total == pytest.approx(one.total + second * (SECOND_SPOT_TASK + 3.65 + 0.10) + 0.30)


@pytest.mark.parametrize("name,value", [("ApiRateLimit", "20"), ("MaxTasks", "3"), ("Profile", "prod")])
def test_the_ceiling_follows_each_bound(name, value):
    assert cost.ceiling({**DEV, name: value}).total > cost.ceiling(DEV).total


def test_the_ceiling_of_an_alb_says_it_has_no_stage_throttle():
    top = cost.ceiling({**DEV, "Ingress": "LoadBalancer"})
    assert any("no stage throttle" in n for n in top.notes)
    assert "API Gateway requests" not in {x.item for x in top.estimate.lines}


def test_cli_prints_the_ceiling_and_json_carries_it():
    table = run_cost()
    assert table.returncode == 0, table.stderr
    assert "Ceiling: the most this configuration can cost in a month" in table.stdout
    assert f"ceiling {cost.money(cost.ceiling(DEV).total):>{12 + 24 - 8}}" in table.stdout
    data = json.loads(run_cost("--json").stdout)["ceiling"]
    assert data["total"] == pytest.approx(cost.ceiling(DEV).total, abs=1e-4)
    routes = 2 * len(cost.services())  # two per service the parent declares
    assert data["requestsPerSecond"] == 10 * routes and data["ratePerRoute"] == 10 and data["routes"] == routes
    assert data["requestsPerMonth"] == 10 * routes * SECONDS
    assert {x["item"] for x in data["lines"]} >= {"API Gateway requests", "Fargate tasks", "CloudFront",
                                                  *(["DynamoDB"] if TABLE else [])}
    assert data["withWaf"] > data["withoutWaf"] == data["total"]


def test_without_a_table_there_is_no_table_line():
    """A parent that nests no data stack (the sample removed: docs/services.md) prices no DynamoDB."""
    none = {"TableMaxReadUnits": "0", "TableMaxWriteUnits": "0"}
    est, top = cost.estimate({**DEFAULT, **none}, 20e6), cost.ceiling({**DEV, **none})
    assert not [x for x in est.lines + top.estimate.lines if x.item.startswith("DynamoDB")]


SSM = "arn:aws:ssm:us-east-1:123456789012:parameter/second/api-key"


@pytest.mark.parametrize("arn, why", [
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:second-db",
     "lacks the 6-character suffix Secrets Manager adds"),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:second-db-AbCdEf:password::",
     "names a JSON key or version after the secret"),
    ("second-db-password", "is not an ARN, and IAM refuses a policy whose Resource is not one"),
    ("/second/db-password", "is not an ARN"),
    ("arn:aws:s3:::bucket/key", "is neither an SSM parameter's nor a Secrets Manager secret's full ARN"),
    ("arn:aws:ssm:us-east-1:1234:parameter/x", "is neither"),
])
def test_a_secret_the_execution_role_cannot_be_scoped_to_is_refused_in_one_line(arn, why):
    """service.yml scopes the execution role with `Resource: !Ref SecretArns`: forms ECS accepts but IAM cannot
    match (a partial ARN, a JSON key) fail at task start, a bare name fails the deploy midway. Refused before."""
    from checks.render import SECOND
    with pytest.raises(OpsError) as refused:
        cost.validate(DEFAULT, with_secrets(f"{SSM},{arn}"))
    message = str(refused.value)
    assert message.startswith(f"{SECOND}: SecretArns item {arn!r} {why}") and "\n" not in message, message
    assert "arn:aws:ssm:REGION:ACCOUNT:parameter/NAME" in message or "full ARN" in message, message


def test_full_arns_pass_and_a_permissions_boundary_wants_the_stacks_own_names():
    """deploy/permissions-boundary-policy.json lets a role read only secret:STACK-* and parameter/STACK/*: under
    a boundary (preflight passes the stack) other names would fail at task start, so they are refused."""
    from checks.render import SECOND
    own = "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/notes/api-key," \
          "arn:aws:secretsmanager:us-east-1:123456789012:secret:notes-db-AbCdEf"
    boundary = {**DEFAULT, "PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/permissions-boundary-notes"}
    cost.validate(DEFAULT, with_secrets(own))
    cost.validate(boundary, with_secrets(own), "notes")
    foreign = f"{SSM},arn:aws:secretsmanager:us-east-1:123456789012:secret:notes-db-AbCdEf"
    cost.validate(DEFAULT, with_secrets(foreign), "notes")  # no boundary: any full ARN
    with pytest.raises(OpsError, match=rf"^{SECOND}: SecretArns item '{SSM}' is outside /notes/, and the "
                                       r"permissions boundary .* name the parameter /notes/\.\.\., or widen"):
        cost.validate(boundary, with_secrets(foreign), "notes")
    other_secret = "arn:aws:ssm:us-east-1:123456789012:parameter/notes/k," \
                   "arn:aws:secretsmanager:us-east-1:123456789012:secret:second-db-AbCdEf"
    with pytest.raises(OpsError, match=r"is outside notes-\*, .* lets a role read only secret:notes-\* "):
        cost.validate(boundary, with_secrets(other_secret), "notes")


def test_the_free_plans_ceiling_compares_pay_as_you_go_and_suggests_no_plan_already_chosen():
    """With CloudFrontPlan=Free, `make cost` still said "only CloudFrontPlan=Free caps it" and printed "with the
    WAF rate rule" as the Free plan's own (cheaper) total. The note now follows the plan; the comparison is
    pay-as-you-go's, with and without a WAF, beside the Free plan's total."""
    free = cost.ceiling({**DEV, "CloudFrontPlan": "Free"})
    paid = cost.ceiling(DEV)
    assert not any("only CloudFrontPlan=Free caps it" in n for n in free.notes)
    assert any(n.startswith("CloudFrontPlan=Free bills no CloudFront request") for n in free.notes)
    assert any("only CloudFrontPlan=Free caps it" in n for n in paid.notes)
    assert (free.without_waf, free.with_waf) == (pytest.approx(paid.without_waf), pytest.approx(paid.with_waf))
    assert free.total < free.without_waf < free.with_waf
    assert (f"on CloudFrontPlan=PayAsYouGo instead: without a WAF {cost.money(free.without_waf)}, with the WAF rate "
            f"rule {cost.money(free.with_waf)} (the Free plan's {cost.money(free.total)} includes its WAF") \
        in cost.ceiling_table(free)
    assert cost.ceiling_json(free)["wafComparedOn"] == "PayAsYouGo"


# ----------------------------------------------------------------- the images the stack builds
BUILD_ITEMS = {"CodeBuild", "Lambda (custom resources)", "ECR (images kept)"}


def test_a_deploy_builds_each_image_on_its_architectures_small_fleet():
    """One CodeBuild build per service (3 min, prices.toml [assumptions]) on arm1.small for ARM64, general1.small
    for X86_64; the image-build function twice per build and the site publisher once; 10 images of ~60 MB kept
    per repository. The two-service parent: notes ARM64, the second X86_64."""
    one = cost.deploy_cost(DEFAULT, parent=ONE)
    (build, invoke) = one.lines
    assert build.variable == pytest.approx(3 * 0.0034)                       # 0.0102
    assert one.free_deploys == 33                                             # 100 free minutes // 3
    # 3 invocations: 3 / 1e6 x 0.20 + 2 s x (2 x 0.125 GB, the builder + 1 GB, the publisher) x 0.0000133334
    assert invoke.variable == pytest.approx(3 * 0.2e-6 + 2.5 * 0.0000133334)
    assert "(128 MB builder, 1024 MB publisher), 2.5 GB-s" in invoke.detail
    assert "arm1.small, price to verify: not found on aws.amazon.com/codebuild/pricing)" in build.detail
    assert one.storage.fixed == pytest.approx(10 * 60 / 1024 * 0.10)          # 0.05859375 a month
    two = cost.deploy_cost(DEFAULT, parent=two_services())
    assert two.builds == 2 and two.free_deploys == 16                         # 100 // 6
    assert two.lines[0].variable == pytest.approx(3 * 0.0034 + 3 * 0.005)    # 0.0252
    assert "general1.small" in two.lines[0].detail and "arm1.small" in two.lines[0].detail
    assert two.storage.fixed == pytest.approx(2 * 10 * 60 / 1024 * 0.10)


def test_an_image_uri_given_builds_nothing_for_its_context():
    """ImageUri=app=... (a pipeline's own image): the services built from app/ cost no build and keep no image."""
    given = {**DEFAULT, "ImageUri": "app=123456789012.dkr.ecr.us-east-1.amazonaws.com/x@sha256:" + "a" * 64}
    none = cost.deploy_cost(given, parent=ONE)
    assert (none.builds, none.per_deploy, none.storage.fixed) == (0, pytest.approx(1e-6 * 0.2 + 2 * 0.0000133334), 0)
    assert none.lines[0].detail == "ImageUri gives every image: nothing is built"
    from checks.render import SECOND
    parent = two_services()
    parent["Resources"][SECOND]["Metadata"]["Build"]["Context"] = "services/second"  # its own context
    two = cost.deploy_cost(given, parent=parent)
    assert two.builds == 1 and two.lines[0].variable == pytest.approx(3 * 0.005)  # the second (x86) alone


@pytest.mark.parametrize("config", [DEFAULT, {**DEFAULT, "Ingress": "LoadBalancer", "NetworkMode": "PrivateSubnets"}])
def test_the_idle_total_does_not_change_when_the_stack_builds_its_images(config):
    """CodeBuild bills build minutes, Lambda invocations, EventBridge nothing for CodeBuild's events: at rest the
    monthly estimate has no line of the build, and its total is what it was (the default: the hand-computed
    FIXED above); what a deploy builds is priced beside it."""
    idle = cost.estimate(config, 0, parent=ONE)
    assert not {x.item for x in idle.lines} & BUILD_ITEMS
    assert idle.total == pytest.approx(sum(x.total for x in idle.lines))
    if config is DEFAULT:
        assert idle.total == pytest.approx(FIXED)
    deploy = cost.deploy_cost(config, parent=ONE)
    assert {x.item for x in deploy.lines} | {deploy.storage.item} == BUILD_ITEMS
    assert 0 < deploy.per_deploy < 0.05 and 0 < deploy.storage.fixed < 0.10
