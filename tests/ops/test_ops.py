import time

import pytest

from scripts import ops
from scripts.common import OpsError


def test_status_shows_the_urls_and_the_service(deployed, capsys):
    t, out = deployed
    result = ops.status(t)
    text = capsys.readouterr().out
    assert out["FrontendUrl"] in text and "service    api: desired 0, running 0" in text
    assert result["service"]["serviceName"] == "api"


def test_logs_prints_recent_lines_once_each(deployed, capsys):
    t, out = deployed
    logs = t.client("logs")
    logs.create_log_stream(logGroupName=out["LogGroupName"], logStreamName="api/api/1")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=out["LogGroupName"], logStreamName="api/api/1", logEvents=[
        {"timestamp": now - 3_600_000, "message": "an hour ago"},
        {"timestamp": now - 1000, "message": '{"message": "request"}'},
    ])
    lines = ops.logs(t, minutes=10, follow=True, poll=0, rounds=2, sleep=lambda s: None)
    assert len(lines) == 1 and lines[0].endswith('{"message": "request"}')


def test_exec_explains_that_ecs_exec_is_off(deployed):
    t, _ = deployed
    with pytest.raises(OpsError, match="ECS Exec is off: deploy with EnableExecuteCommand=true"):
        ops.exec_shell(t)


def test_exec_needs_a_running_task(deployed):
    t, _ = deployed
    t.client("ecs").update_service(cluster="cluster", service="api", enableExecuteCommand=True)
    with pytest.raises(OpsError, match="no running task in api"):
        ops.exec_shell(t)
