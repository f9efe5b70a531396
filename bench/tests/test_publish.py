"""What `make bench` judges and publishes: the verdicts' labels and thresholds,
the capacity figure `make cost` uses, and docs/performance.md's figures, generated
from the published report (bench/published.json) through scripts/generated.py."""
from __future__ import annotations

import copy
import json

import pytest

from bench import publish, run
from scripts import generated


def server(rps, p99=10.0, rss=100.0, standin=None):
    r = {"rps": rps, "p50_ms": 1.0, "p99_ms": p99, "peak_rss_mb": rss, "non_2xx": 0, "cpu_us_per_request": 500}
    if standin is not None:
        r["standin_cpu_share"] = standin
    return r


def a_run(notes_ratio=0.9, health_ratio=1.0, ready=0.8, standin=0.05):
    result = {"ready_seconds": {"service": ready}, "idle_rss_mb": {"service": 90.0}}
    result["health"] = {"bare": server(2000), "flask": server(1000), "service": server(1000 * health_ratio),
                        "ratios": {"throughput": health_ratio, "p50": 1.0, "p99": 1.0, "service_vs_bare": 0.5,
                                   "flask_vs_bare": 0.5}}
    for key in run.NOTES:
        result[key] = {"baseline": server(200, standin=standin), "ceiling": server(250, standin=standin),
                       "flask": server(200, standin=standin), "service": server(200 * notes_ratio, standin=standin),
                       "ratios": {"throughput": notes_ratio, "p50": 1.0, "p99": 1.0,
                                  "service_vs_ceiling": 200 * notes_ratio / 250, "flask_vs_ceiling": 0.88,
                                  "service_vs_flask": notes_ratio}}
    return result


def a_report(**quota):
    report = {"machine": {"cpu": "test", "cores": 2, "arch": "x86_64", "python": "3.11", "date": "2026-01-01",
                          "load_at_start": 0.1},
              "settings": {"seconds": 6, "rounds": 3, "connections": 16, "wrk_threads": 1},
              "full": a_run(), "quota": a_run(**quota)}
    report["capacity"] = run.capacity(report["quota"], 60)
    report["verdict"] = run.verdict(report)
    return report


def test_the_verdicts_are_the_issue_s_targets():
    names = [name for name, _, ok in a_report()["verdict"]]
    assert sum(": notes " in n for n in names) == 12  # three endpoints x two references, whole core and 0.25 vCPU
    assert any(n.startswith("stand-in") for n in names)
    assert any(n.startswith("0.25 vCPU: start to first 200") for n in names)
    assert sum("minimal Flask app" in n for n in names) == 10
    assert not any("health" in n and "bare" in n for n in names), "the health check's ratio to the bare app is a figure"
    assert not any("ceiling" in n for n in names), "the notes ratios to the ceiling are figures, not verdicts"
    assert all(ok for _, _, ok in a_report()["verdict"])


@pytest.mark.parametrize("quota, missed", [
    ({"notes_ratio": 0.79}, "0.25 vCPU: notes"),
    ({"notes_ratio": 0.84}, "0.25 vCPU: notes"),  # over the baseline's 0.8, under Flask's 0.85
    ({"health_ratio": 0.94}, "0.25 vCPU: health check vs minimal Flask app, throughput"),
    ({"ready": 2.0}, "0.25 vCPU: start to first 200"),
    ({"standin": 0.11}, "stand-in"),
])
def test_a_miss_is_reported(quota, missed):
    failed = [name for name, _, ok in a_report(**quota)["verdict"] if not ok]
    assert failed and all(name.startswith(missed) for name in failed)


def test_capacity_is_the_notes_mix_under_the_quota_at_cpu_target():
    cap = a_report(notes_ratio=0.5)["capacity"]  # the service does 100 req/s on every notes endpoint
    assert cap["rps_at_full_quota"] == pytest.approx(100) and cap["rps_at_cpu_target"] == pytest.approx(60)
    assert sum(cap["mix"].values()) == pytest.approx(1)


def test_the_performance_page_s_figures_are_the_published_report_s():
    assert publish.DOC == publish.ROOT / "docs" / "performance.md"
    report = json.loads(publish.PUBLISHED.read_text())
    generated.assert_current(publish.DOC, publish.BLOCK, publish.section(report),
                             "python -m bench --publish bench/published.json")


def test_publish_writes_the_block_and_the_report(tmp_path):
    report = a_report()
    source, doc, published = tmp_path / "bench.json", tmp_path / "performance.md", tmp_path / "published.json"
    source.write_text(json.dumps(report))
    start, end = generated.markers(publish.BLOCK)
    doc.write_text(f"# t\n\n{start}\nold\n{end}\n\nafter\n")
    publish.publish(source, doc, published)
    assert json.loads(published.read_text()) == json.loads(json.dumps(report))
    text = doc.read_text()
    assert "old" not in text and text.endswith(f"{end}\n\nafter\n") and "| stand-in: busiest" in text
    # The synthetic service is 0.72 of the ceiling everywhere while its verdicts pass: the page says so.
    assert "the service is under the 0.8 target in 6 of 6 runs" in text
    generated.assert_current(doc, publish.BLOCK, publish.section(report))


def test_the_report_shape_survives_a_skipped_quota():
    report = a_report()
    report["quota"] = {"skipped": "no cgroup"}
    report["capacity"] = run.capacity(report["quota"], 60)
    report["verdict"] = run.verdict(copy.deepcopy(report))
    assert report["capacity"] == {} and "0.25 vCPU" not in publish.section(report).split("| target")[1].split("**One")[0]


def test_errors_fail_a_notes_verdict_however_fast_they_were():
    """A service (or stand-in) answering fast 4xx/5xx would otherwise pass on throughput."""
    report = a_report()
    key = next(iter(run.NOTES))
    report["quota"][key]["service"]["non_2xx"] = 3
    failed = [name for name, _, ok in run.verdict(report) if not ok]
    assert len(failed) == 2 and all(name.startswith("0.25 vCPU: notes") for name in failed)  # both references


def test_errors_from_the_ceiling_or_flask_fail_the_verdict_their_figures_stand_beside():
    report = a_report()
    report["full"][next(iter(run.NOTES))]["ceiling"]["non_2xx"] = 1
    failed = [name for name, _, ok in run.verdict(report) if not ok]
    assert len(failed) == 2 and all(name.startswith("whole core: notes") for name in failed)


def test_wrk_socket_errors_count_as_failed_requests():
    runs = [{**server(100), "socket_errors": "connect 0, read 2, write 0, timeout 1"}, server(100)]
    assert run._summary(runs)["non_2xx"] == 3
