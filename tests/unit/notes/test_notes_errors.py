"""The platform's error behaviour, as the sample's endpoints show it (tests/unit/test_errors.py holds the
platform to it with a blueprint of its own)."""
from tests.unit.conftest import assert_error


def test_wrong_method_is_405_with_allow(client):
    response = client.put("/api/notes")
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_unexpected_exception_is_500_without_traceback(app, client, caplog):
    def boom(*_a, **_k):
        raise RuntimeError("secret internals")
    app.extensions["notes_store"].list = boom
    response = client.get("/api/notes")
    error = assert_error(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True)
    assert error["message"] == "Something went wrong on our side."
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)


def test_options_is_204_with_allow_and_no_body(client):
    r = client.options("/api/notes")
    assert r.status_code == 204 and r.data == b""
    assert "Content-Type" not in r.headers
    assert {"GET", "POST"} <= set(r.headers["Allow"].split(", "))


def test_no_content_carries_no_html_content_type(client):
    note = client.post("/api/notes", json={"text": "x"}).get_json()
    r = client.delete(f"/api/notes/{note['id']}")
    assert r.status_code == 204 and "Content-Type" not in r.headers
