"""`make cost` with Compute=Lambda (docs/compute.md), pinned to figures computed by hand from scripts/prices.toml.

Lambda: $0.20 a million requests, $0.0000133334 a GB-second on ARM64 ($0.0000166667 on X86_64), after the
always-free 1 M requests and 400,000 GB-s a month (aws.amazon.com/lambda/pricing). A request bills the assumed
50 ms mean at the block's Memory (512 MB: 0.5 GB), and 1 % of requests a cold start's 2 s of init (prices.toml
[assumptions]): 0.5 x (0.05 + 0.01 x 2) = 0.035 GB-s a request, 35,000 GB-s a million. The parent's one sample
service (tests/cost/test_cost.py's ONE) keeps the figures whatever else a fork's parent.yml declares."""
from __future__ import annotations

import copy
import re

import pytest

from scripts import cost
from tests.cost.test_alarm_cost import rendered_alarm_metrics
from tests.cost.test_cost import DEFAULT, GIB, ONE, line

LAMBDA = {**DEFAULT, "Compute": "Lambda"}
SECONDS = 730 * 3600
ECR = 10 * 60 / 1024 * 0.10  # the images kept: 10 x ~60 MB at $0.10/GB-month = 0.05859375
SITE = 0.001 * 0.023


def items(est) -> set[str]:
    return {x.item for x in est.lines}


def test_a_function_bills_requests_and_gb_seconds_after_the_free_tier():
    est = cost.estimate(LAMBDA, 20e6, parent=ONE)
    # (20 M - 1 M free) x 0.20 = 3.80; 20 M x 0.035 = 700,000 GB-s - 400,000 free = 300,000 x 0.0000133334 = 4.00002
    assert line(est, "Lambda").total == pytest.approx(3.80 + 4.00002)
    x86 = cost.estimate({**LAMBDA, "Architecture": "X86_64"}, 20e6, parent=ONE)
    assert line(x86, "Lambda").total == pytest.approx(3.80 + 300_000 * 0.0000166667)
    big = cost.estimate({**LAMBDA, "Memory": "1024"}, 20e6, parent=ONE)  # 1,400,000 GB-s - 400,000
    assert line(big, "Lambda").total == pytest.approx(3.80 + 1_000_000 * 0.0000133334)
    # An account whose other functions use the free tier up: 20 x 0.20 + 700,000 x 0.0000133334
    used = cost.estimate(LAMBDA, 20e6, parent=ONE, lambda_free=False)
    assert line(used, "Lambda").total == pytest.approx(4.00 + 700_000 * 0.0000133334)
    detail = line(est, "Lambda").detail
    assert "50 ms mean a request + 2 s init on 1% of requests (cold starts), assumed" in detail
    assert "per account, shared by every function in it" in detail
    # Lambda writes START, END and REPORT lines (300 bytes) beside the app's 400 and the stage's 350.
    fargate = cost.estimate(DEFAULT, 20e6, parent=ONE)
    assert line(est, "CloudWatch Logs").total - line(fargate, "CloudWatch Logs").total == pytest.approx(
        20 * 300e6 / GIB * (0.50 + 14 / 30 * 0.03))


def test_no_task_no_address_no_cloud_map_zone_on_lambda():
    """Decision 3: cluster.yml creates the namespace only when a service runs on Fargate."""
    est = cost.estimate(LAMBDA, 1e6, parent=ONE)
    assert not items(est) & {"Fargate tasks", "Public IPv4 (tasks)", "Cloud Map"}
    assert est.tasks == 0 and est.tasks_needed is None
    assert line(est, "Secrets Manager").total == pytest.approx(0.40)  # the origin secret stays


def readme_recipe() -> dict[str, str]:
    """The variables of the README's `make cost PARAMS="Compute=Lambda"` recipe, as make exports them to
    `python -m scripts cost` (the Makefile's `export ... PARAMS ...`)."""
    import shlex
    found = re.search(r"`(make cost [^`]*Compute=Lambda[^`]*)`", (cost.ROOT / "README.md").read_text())
    assert found, "README.md lost its make cost recipe for Compute=Lambda"
    words = shlex.split(found[1])
    assert words[:2] == ["make", "cost"] and all("=" in w for w in words[2:]), found[1]
    return dict(w.split("=", 1) for w in words[2:])


def test_idle_on_lambda_is_under_fifty_cents_without_the_alarms(capsys, monkeypatch):
    """The README's recipe, `make cost PARAMS="Compute=Lambda"`, prints the idle total plainly: the origin secret
    $0.40, the site, the images kept in ECR ($0.06 at most): $0.46; the alarms apart, at $0.10 an alarm metric of
    the rendered templates (CloudWatch's first 10 a month free, not subtracted)."""
    for name in ("ENV", "PARAMS", "REQUESTS", "TASKS", "REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in readme_recipe().items():
        monkeypatch.setenv(name, value)
    assert cost.main([]) == 0
    out = capsys.readouterr().out
    found = re.search(r"^Idle \(no requests\): \$([0-9.]+) a month at list price: \$([0-9.]+) without the alarms "
                      r"\((.*)\) and the alarms \$([0-9.]+) \((\d+) alarm metrics\); \$([0-9.]+) while the account's "
                      r"first 10 alarm metrics a month, free, are not used elsewhere$", out, re.M)
    assert found, out
    listed, idle, alarms = float(found[1]), float(found[2]), float(found[4])
    metrics = rendered_alarm_metrics(cost.configuration("dev", "Compute=Lambda"))
    assert listed == pytest.approx(idle + alarms)
    assert float(found[6]) == pytest.approx(idle + max(0, metrics - 10) * 0.10)  # the sample's 8: all within the free 10
    # One repository per service: the goal, under $0.50, is the one service's (a fork with more pays $0.06 each)
    n = len(cost.services())
    assert idle == round(0.40 + SITE + n * ECR, 2)
    if n == 1:
        assert idle == 0.46 < 0.50
        assert found[3] == "Secrets Manager $0.40, S3 (frontend) $0.00, ECR (images kept) $0.06"
    assert int(found[5]) == metrics and alarms == pytest.approx(round(metrics * 0.10, 2))
    assert "Fargate tasks" not in out.split("Ceiling:")[0] and "Cloud Map" not in out
    # The break-even, and no ingress switch an ALB would refuse: it needs Fargate
    assert re.search(r"^Switching to Compute=Fargate pays off above \d+\.\d M requests/month \(all costs", out, re.M)
    assert "Switching to Ingress=LoadBalancer" not in out
    assert "LoadBalancer + PublicSubnets (Fargate)" in out


def test_the_break_even_of_both_models_by_hand():
    """Fargate's fixed part against Lambda's per-request part, the same traffic (both log more than 5 GB there):
    Fargate: Spot task 2.295242275 + its IPv4 3.65 + Cloud Map 0.60 = 6.545242275 a month, less the alarm metrics
    only the function has ($0.10 each, counted from the renderings: FunctionAlarm's Errors and Throttles, 2, today:
    6.345242275).
    Lambda a million: 0.20 + 35,000 GB-s x 0.0000133334 = 0.666669, + 300 bytes of platform log lines
    (0.27940 GB x (0.50 + 0.014)) = 0.143613: 0.810282.
    Without the free tier: 6.345242275 / 0.810282 = 7.8309 M. With it (1 M requests = 0.20; 400,000 GB-s = the
    GB-s of 11.43 M requests = 5.33336): (6.345242275 + 0.20 + 5.33336) / 0.810282 = 14.660 M."""
    per_million = 0.20 + 35_000 * 0.0000133334 + 300e6 / GIB * (0.50 + 14 / 30 * 0.03)
    function_alarms = 0.10 * (rendered_alarm_metrics(cost.configuration("dev", "Compute=Lambda"), parent=ONE)
                              - rendered_alarm_metrics(cost.configuration("dev", ""), parent=ONE))
    fixed = 2.295242275 + 3.65 + 0.60 - function_alarms
    even = cost.compute_break_even(DEFAULT, parent=ONE)
    assert even.switch == {"Compute": "Lambda", "Ingress": "HttpApi"}
    assert even.without_free == pytest.approx(fixed / per_million * 1e6, rel=1e-4)
    assert even.requests == pytest.approx((fixed + 0.20 + 400_000 * 0.0000133334) / per_million * 1e6, rel=1e-4)
    back = cost.compute_break_even(LAMBDA, parent=ONE)
    assert back.switch == {"Compute": "Fargate"} and back.requests == pytest.approx(even.requests, rel=1e-6)
    below, above = 0.9 * even.requests, 1.1 * even.requests
    assert cost.estimate(LAMBDA, below, parent=ONE).total < cost.estimate(DEFAULT, below, parent=ONE).total
    assert cost.estimate(LAMBDA, above, parent=ONE).total > cost.estimate(DEFAULT, above, parent=ONE).total
    text = cost.compute_text(even)
    assert text.startswith(f"Switching to Compute=Lambda pays off below {even.requests / 1e6:.1f} M requests/month")
    assert "Fargate is the cheaper choice above it" in text and "50 ms mean a request" in text


def test_a_block_without_compute_runs_on_fargate_and_the_fargate_output_is_unchanged():
    """Before (or without) the block's `Compute: !Ref Compute`, a service is on Fargate: the same estimate."""
    bare = copy.deepcopy(ONE)
    (name,) = cost.services(bare)
    bare["Resources"][name]["Properties"]["Parameters"].pop("Compute", None)
    for config in (DEFAULT, LAMBDA):
        est = cost.estimate(config, 1e6, parent=bare)
        assert "Lambda" not in items(est) and line(est, "Fargate tasks").total == pytest.approx(2.295242275)
    assert cost.estimate(DEFAULT, 1e6, parent=ONE).lines == cost.estimate(DEFAULT, 1e6, parent=bare).lines
    # A fork's block may write a literal: Lambda under Compute=Fargate
    literal = copy.deepcopy(ONE)
    literal["Resources"][name]["Properties"]["Parameters"]["Compute"] = "Lambda"
    assert "Lambda" in items(cost.estimate(DEFAULT, 1e6, parent=literal))


def test_the_ceiling_on_lambda_is_capped_by_the_blocks_reservation():
    """The sample's block reserves the Profile mapping's ReservedConcurrency (dev 10, prod 50), applied where the
    account allows it (service.yml's ConcurrencyCap). A reservation is also a maximum: that many requests at once,
    all month, each billed its memory. dev: 10 x 0.5 GB x 2,628,000 s = 13,140,000 GB-s x 0.0000133334 = 175.20
    + the 52.56 M requests the 2 routes x 10/s accept x $0.20/M = 10.512: 185.71 (no free tier in a ceiling).
    prod: 50 x 0.5 x 2,628,000 = 65,700,000 GB-s x 0.0000133334 = 876.00 + 262.8 M x 0.20 = 52.56: 928.56."""
    top = cost.ceiling(LAMBDA, parent=ONE)
    assert line(top.estimate, "Lambda").total == pytest.approx(10 * 0.5 * SECONDS * 0.0000133334 + 52.56 * 0.20)
    assert line(top.estimate, "Lambda").total == pytest.approx(185.71, abs=0.005)
    assert "13,140,000 GB-s (512 MB ARM64, 10 at once all month;" in line(top.estimate, "Lambda").detail
    (note,) = [n for n in top.notes if "bounded by the stage throttle, the function's Timeout and its Memory" in n]
    assert "capped by NotesService ReservedConcurrency=10 (the Profile mapping's, by default), where the account " \
           "allows the reservation" in note
    assert "the account's own concurrency quota caps it instead (10 on a new account)" in note
    prod = cost.ceiling({**LAMBDA, "Profile": "prod"}, parent=ONE)
    assert line(prod.estimate, "Lambda").total == pytest.approx(50 * 0.5 * SECONDS * 0.0000133334 + 262.8 * 0.20)
    assert line(prod.estimate, "Lambda").total == pytest.approx(928.56, abs=0.005)


def test_without_a_reservation_the_ceiling_is_bounded_by_the_throttle_the_timeout_and_the_memory():
    """A block with ReservedConcurrency "": 2 routes x 10 requests/s x 2,628,000 s = 52.56 M requests, each billed at
    the 29 s timeout and 0.5 GB: 762,120,000 GB-s x 0.0000133334 = 10,161.65 + 52.56 M x 0.20 = 10.512."""
    unreserved = copy.deepcopy(ONE)
    unreserved["Resources"][cost.services(ONE)[0]]["Properties"]["Parameters"]["ReservedConcurrency"] = ""
    top = cost.ceiling(LAMBDA, parent=unreserved)
    assert line(top.estimate, "Lambda").total == pytest.approx(52.56e6 * 0.5 * 29 * 0.0000133334 + 52.56 * 0.20)
    assert any("no reserved concurrency (the block's ReservedConcurrency is empty)" in n for n in top.notes)
    for name, value in (("ApiRateLimit", "20"), ("Memory", "1024")):
        assert cost.ceiling({**LAMBDA, name: value}, parent=unreserved).total > top.total
    # The reservation bounds the same configuration far lower.
    assert cost.ceiling(LAMBDA, parent=ONE).total < top.total / 20


def test_a_functions_memory_is_checked_against_lambdas_not_fargates_sizes():
    cost.validate({**LAMBDA, "Memory": "128"})  # no Fargate size, a Lambda one
    with pytest.raises(cost.OpsError, match=r"Memory=20480 is not a Lambda function's memory \(128 to 10240 MB\)"):
        cost.validate({**LAMBDA, "Cpu": "4096", "Memory": "20480"})


def test_a_fork_mixing_both_keeps_the_namespace_and_splits_the_requests():
    """Decision 3: a block that writes `Compute: Fargate` under Compute=Lambda still needs Cloud Map's namespace.
    The two-service parent: the notes service on Lambda (its block's `!Ref Compute`), the generated second pinned
    to Fargate. Each service takes half of the API's requests (make cost's traffic shape for several services)."""
    from checks.render import SECOND
    from tests.cost.test_cost import SECOND_SPOT_TASK, two_services
    parent = two_services()
    parent["Resources"][SECOND]["Properties"]["Parameters"]["Compute"] = "Fargate"
    est = cost.estimate(LAMBDA, 20e6, parent=parent)
    second = 2 * 60 / 168  # its DesiredCount, 60 of the week's 168 hours
    assert line(est, "Fargate tasks").total == pytest.approx(second * SECOND_SPOT_TASK)
    assert line(est, "Cloud Map").total == pytest.approx(0.50 + second * 0.10)
    # the function: 10 M requests - 1 M free = 1.80; 10 M x 0.035 = 350,000 GB-s, within the free 400,000
    assert line(est, "Lambda").total == pytest.approx(1.80)
    assert "10 M requests" in line(est, "Lambda").detail
    assert any("each function taking an equal share of the requests" in n for n in est.notes)


def test_make_cost_json_carries_the_idle_total_and_the_break_even(capsys):
    import json
    assert cost.main(["--json", "--env", "dev", "--params", "Compute=Lambda", "--requests", "0"]) == 0
    data = json.loads(capsys.readouterr().out)
    n = len(cost.services())  # one repository per service; the goal is the one service's
    assert data["idle"]["withoutAlarms"] == pytest.approx(0.40 + SITE + n * ECR, abs=1e-4)
    assert data["idle"]["withoutAlarms"] < 0.50 or n > 1
    assert data["idle"]["parts"]["ECR (images kept)"] == pytest.approx(n * ECR, abs=1e-4)
    even = cost.compute_break_even(cost.configuration("dev", "Compute=Lambda"))
    assert data["computeBreakEven"] == {"switch": {"Compute": "Fargate"}, "requests": even.requests,
                                        "requestsWithoutFreeTier": even.without_free, "durationMs": 50}
    assert data["breakEvenRequests"] is None  # no ingress switch: an ALB needs Fargate
