"""The sample's table in `make cost`: notes-data.yml's ceilings and lifetime priced (goes with the sample)."""
from __future__ import annotations

import pytest

from scripts import cost
from tests.cost.test_cost import GIB, ONE, total

DEV = cost.configuration("dev", "")
SECONDS = 730 * 3600                                        # 2,628,000 s in a 730-hour month
CEILING_DEV = 164.67  # docs/cost.md's ceiling table


@pytest.mark.parametrize("name,value", [("TableMaxReadUnits", "40"), ("TableMaxWriteUnits", "10"),
                                        ("ItemTtlDays", "90")])
def test_the_ceiling_follows_each_table_bound(name, value):
    assert cost.ceiling({**DEV, name: value}).total > cost.ceiling(DEV).total


def test_the_ceiling_of_the_dev_configuration_by_hand():
    top = cost.ceiling(DEV, parent=ONE)
    # Each route has its own throttle bucket (DefaultRouteSettings are per-route defaults:
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html); the notes
    # service has two routes (ANY /api, ANY /api/{proxy+}): 2 x 10 requests/s all month = 52.56 M requests.
    assert top.routes == 2
    assert top.estimate.requests == 2 * 10 * SECONDS == 52.56e6
    items = {x.item: x.total for x in top.estimate.lines}
    assert items["API Gateway requests"] == pytest.approx(52.56)                  # 52.56 M x $1.00
    # MaxTasks=2 Spot ARM64 tasks all month: 2 x 2.295242275; each with a public IPv4: 2 x 3.65
    assert items["Fargate tasks"] == pytest.approx(2 * 2.295242275)
    assert items["Public IPv4 (tasks)"] == pytest.approx(7.30)
    assert items["Cloud Map"] == pytest.approx(0.50 + 2 * 0.10)
    # DynamoDB at its maximum units: 20 x 2,628,000 = 52.56 M reads x 0.125 = 6.57;
    # 5 x 2,628,000 = 13.14 M writes x 0.625 = 8.2125
    assert items["DynamoDB"] == pytest.approx(6.57 + 8.2125)
    # CloudFront: (52.56 M - 10 M free) / 10k x 0.01 = 42.56; 52.56 M x 4 KiB = 200.5 GiB < 1 TB free
    assert items["CloudFront"] == pytest.approx(42.56)
    # Logs at the longest lines a client can cause: 52.56 M x (1,000 app + 500 stage) bytes = 73.42 GiB;
    # (73.42 - 5) x 0.50 + 73.42 x 14/30 x 0.03
    log_gb = 52.56e6 * 1500 / GIB
    assert items["CloudWatch Logs"] == pytest.approx((log_gb - 5) * 0.5 + log_gb * 14 / 30 * 0.03)
    assert items["Secrets Manager"] == pytest.approx(0.40)
    # What the writes keep: 5 KB/s for 30 days of TTL + 2 days of deletion lag = 13.18 GiB,
    # x (0.25 storage + 0.20 PITR)
    stored_gb = 5 * 1024 * 32 * 86400 / GIB
    assert items["DynamoDB storage"] == pytest.approx(stored_gb * 0.45)
    # The alarms: 6 alarm metrics x $0.10 (the service's error ratio 2 and p99 latency 1, the table's read and
    # write throttles 2, CloudFront's 5xx rate 1 in us-east-1; no below-minimum alarm with one task).
    assert items["CloudWatch alarms"] == pytest.approx(0.60)
    by_hand = (52.56 + 2 * 2.295242275 + 7.30 + 0.70 + 6.57 + 8.2125 + 42.56
               + (log_gb - 5) * 0.5 + log_gb * 14 / 30 * 0.03 + 0.40 + 0.000023 + stored_gb * 0.45 + 0.60)
    assert top.total == pytest.approx(by_hand)
    assert round(top.total, 2) == CEILING_DEV
    # The WAF adds 6.00 + 52.56 M x 0.60 = 31.536 + 6.00 = 37.536
    assert top.with_waf == pytest.approx(by_hand + 6.00 + 52.56 * 0.60)
    assert top.without_waf == pytest.approx(by_hand)


def test_the_table_is_priced_with_its_storage():
    assert cost.has_tables(DEV)
    assert {"DynamoDB", "DynamoDB storage"} <= {x.item for x in cost.ceiling(DEV).estimate.lines}


def test_totals_are_what_the_cost_page_says():
    """docs/cost.md's figures, the sample's table included."""
    assert round(total(0).total, 2) == 7.55
    assert round(total(1e6).total, 2) == 8.73
    assert round(total(100e6).total, 2) == 248.45
