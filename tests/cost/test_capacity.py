"""`make cost`'s "tasks needed": the capacity figure lives with the prices (scripts/prices.toml [capacity]),
with its provenance, so the cost model needs nothing from the optional benchmark."""
from __future__ import annotations

import re

import pytest

from scripts import cost


def prices_with_capacity(tmp_path, rps: float | None):
    text = cost.PRICES.read_text()
    text = re.sub(r"^notes_rps_per_quarter_vcpu = .*$", "" if rps is None else f"notes_rps_per_quarter_vcpu = {rps}",
                  text, flags=re.M)
    path = tmp_path / "prices.toml"
    path.write_text(text)
    return path


def test_the_shipped_figure_says_where_it_came_from():
    capacity = cost.price_file(cost.PRICES)["capacity"]
    assert capacity["notes_rps_per_quarter_vcpu"] > 0
    assert re.search(r"\d{4}-\d{2}-\d{2}", capacity["measured"]) and "vCPU" in capacity["measured"]


def test_make_cost_says_how_many_tasks_requests_need(tmp_path):
    prices = prices_with_capacity(tmp_path, 100.0)
    config = cost.configuration(None, "")  # each block: Cpu=256, CpuTarget=60, MaxTasks=2 in dev
    for service in cost.settings(config)[1].values():
        assert cost.task_capacity(service, prices) == pytest.approx(60)
        assert cost.task_capacity({**service, "Cpu": "512"}, prices) == pytest.approx(120)
    hours = cost.price_file(prices)["hours_per_month"]
    # 60 req/s per task at CpuTarget; the peak is 3x the average (prices.toml).
    small = cost.estimate(config, 60 * 3600 * hours / 3, prices_path=prices)
    assert small.tasks_needed == 1 and not small.warnings
    big = cost.estimate(config, 60 * 3600 * hours * 2, prices_path=prices)  # peak 360 req/s: 6 tasks
    assert big.tasks_needed == 6
    assert big.warnings and "MaxTasks=2" in big.warnings[0]
    assert "WARNING" in cost.table(big, [], None, None)
    assert cost.estimate({**config, "MaxTasks": "10"}, 60 * 3600 * hours * 2, prices_path=prices).warnings == []
    assert cost.estimate(config, 0, prices_path=prices).tasks_needed is None


def test_without_a_capacity_figure_make_cost_says_nothing_of_tasks(tmp_path):
    prices = prices_with_capacity(tmp_path, None)
    assert cost.estimate(cost.configuration(None, ""), 1e9, prices_path=prices).tasks_needed is None
