"""The sample's table alarm (notes-data.yml's ThrottleAlarm), held to the same check as the platform's alarms
(tests/templates/test_alarm_metrics.py): it exists in every variant, reads a metric DynamoDB publishes under the
table's name, and the check catches the mistakes its shape allows. Goes with the sample (docs/services.md)."""
from __future__ import annotations

import pytest

from checks.alarm_metrics import alarms
from tests.templates.test_alarm_metrics import VARIANTS, assert_caught, per_service, set_value


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_table_has_its_throttle_alarm(variant):
    parent, values = VARIANTS[variant]
    assert per_service(alarms(parent, values))["NotesDataStack"] == {"ThrottleAlarm"}


MUTATIONS = {
    # A sparse count unfilled in an expression: no value in a minute where the other operand has none.
    "an unfilled throttle count": ("notes-data.yml", "HttpApi-PublicSubnets-dev",
                                   lambda b: b["Resources"]["ThrottleAlarm"]["Properties"]["Metrics"][0].update(
                                       Expression="reads + writes"),
                                   "ThrottleAlarm/Metrics/reads: AWS/DynamoDB ReadThrottleEvents is published only"),
    "table ARN": ("notes-data.yml", "HttpApi-PublicSubnets-dev",
                  lambda b: [set_value(q["MetricStat"]["Metric"], "TableName", {"Fn::GetAtt": ["NotesTable", "Arn"]})
                             for q in b["Resources"]["ThrottleAlarm"]["Properties"]["Metrics"] if "MetricStat" in q],
                  "dimension TableName comes from AWS::DynamoDB::Table.Arn"),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_the_check_fails_on_each_kind_of_mistake(mutation):
    assert_caught(*MUTATIONS[mutation])
