"""The sample's settings and its log lines (tests/unit/test_config_and_logs.py: the platform's)."""

from api.notes.store import NotesSettings


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("NOTES_TABLE", "my-table")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:5000")
    notes = NotesSettings()
    assert (notes.notes_table, notes.dynamodb_endpoint_url) == ("my-table", "http://127.0.0.1:5000")


def test_a_record_logged_inside_a_request_carries_its_request_id(table, log_lines):
    """RequestIdFilter: the id the before_request hook gave the request is on every line logged while it runs,
    here the datastore warning of a 503 and the access line after it."""
    from unittest import mock

    from botocore.exceptions import EndpointConnectionError

    from tests.unit.notes.conftest import make_app
    app = make_app()
    store = app.extensions["notes_store"]
    with mock.patch.object(store.client, "get_item", side_effect=EndpointConnectionError(endpoint_url="x")):
        r = app.test_client().get("/api/notes/" + "0" * 28)
    assert r.status_code == 503
    lines = log_lines()
    warning = next(line for line in lines if line["message"] == "datastore unavailable")
    access = next(line for line in lines if line["logger"] == "api.access")
    assert warning["request_id"] == access["request_id"] == r.headers["X-Request-Id"]
    assert access["status"] == 503


def test_an_unexpected_exception_is_access_logged_as_a_500_with_its_request_id(table, log_lines):
    from tests.unit.notes.conftest import make_app
    app = make_app()

    def broken(*_args, **_kwargs):
        raise RuntimeError("escaped")
    app.extensions["notes_store"].list = broken
    response = app.test_client().get("/api/notes", headers={"X-Request-Id": "req-9"})
    assert (response.status_code, response.headers["X-Request-Id"]) == (500, "req-9")
    lines = log_lines()
    (line,) = [line for line in lines if line["logger"] == "api.access"]
    assert (line["status"], line["request_id"]) == (500, "req-9")
    (error,) = [line for line in lines if line["message"] == "unhandled error"]
    assert error["request_id"] == "req-9" and "RuntimeError: escaped" in error["exc_info"]
