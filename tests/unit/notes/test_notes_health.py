"""The sample's readiness check: its table answers (app/api/notes/views.py adds it to /api/ready)."""
from unittest import mock

from tests.unit.conftest import assert_error
from tests.unit.notes.conftest import make_app


def test_health_check_never_touches_the_datastore(aws):
    # No table exists: liveness must still be 200 while readiness is 503.
    client = make_app().test_client()
    assert client.get("/api/health-check").status_code == 200
    error = assert_error(client.get("/api/ready"), 503, "datastore_unavailable")
    assert error["message"]


def test_ready_when_the_table_answers(client):
    response = client.get("/api/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"datastore": "ok"}}


def test_ready_is_503_with_retry_after_when_the_datastore_is_unreachable():
    # A closed port: the real botocore connection error path, no mocks of our code.
    client = make_app(dynamodb_endpoint_url="http://127.0.0.1:9",
                      datastore_retry_after=7).test_client()
    with mock.patch("botocore.retries.standard.ExponentialBackoff.delay_amount", return_value=0):
        response = client.get("/api/ready")
    assert_error(response, 503, "datastore_unavailable")
    assert response.headers["Retry-After"] == "7"
