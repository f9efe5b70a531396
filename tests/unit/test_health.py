from api.errors import DatastoreUnavailable

from tests.unit.conftest import PROBE, assert_error, make_app, ready_with


def test_health_check_is_fast_json_with_version_and_uptime(client):
    response = client.get("/api/health-check")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["version"] == "1.2.3-test"
    assert body["uptimeSeconds"] >= 0


def test_without_checks_the_app_is_ready(client):
    assert client.get("/api/ready").get_json() == {"status": "ready", "checks": {}}


def test_health_check_never_runs_the_readiness_checks():
    """A dependency that does not answer: liveness still 200 (ECS must not kill the task), readiness 503."""
    app = make_app()
    calls = []

    def down():
        calls.append("down")
        raise DatastoreUnavailable(retry_after=3)
    ready_with(app, datastore=down)
    client = app.test_client()
    assert client.get("/api/health-check").status_code == 200
    assert calls == []
    error = assert_error(client.get("/api/ready"), 503, "datastore_unavailable")
    assert error["message"] and calls == ["down"]


def test_readiness_runs_the_checks_blueprints_add():
    """health.add_readiness_check: the generic way a blueprint makes /api/ready wait for its dependency."""
    from api import health
    app = make_app()
    ready_with(app)
    calls = []
    health.add_readiness_check(app, "datastore", lambda: calls.append("datastore"))
    health.add_readiness_check(app, "queue", lambda: calls.append("queue"))
    client = app.test_client()
    assert client.get("/api/ready").get_json() == {"status": "ready", "checks": {"datastore": "ok", "queue": "ok"}}
    assert calls == ["datastore", "queue"]

    def down():
        raise DatastoreUnavailable(retry_after=3)
    health.add_readiness_check(app, "queue", down)
    response = client.get("/api/ready")
    assert_error(response, 503, "datastore_unavailable")
    assert response.headers["Retry-After"] == "3"
    assert client.get(PROBE).status_code == 200  # readiness gates /api/ready only, not the endpoints
