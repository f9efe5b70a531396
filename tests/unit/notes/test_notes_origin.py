"""Only CloudFront reaches the sample's endpoints either (tests/unit/test_origin.py: the platform's check)."""
import json
from unittest import mock

import pytest

from tests.unit.conftest import assert_error
from tests.unit.notes.conftest import make_app

SECRET = "s3cret-from-cloudfront-0123456789"


@pytest.fixture
def guarded(table):
    return make_app(origin_verify_secret=SECRET).test_client()


@pytest.mark.parametrize("headers", [{}, {"X-Origin-Verify": SECRET[:-1]}])
@pytest.mark.parametrize("method,path", [("GET", "/api/notes"), ("POST", "/api/notes"), ("OPTIONS", "/api/notes"),
                                         ("DELETE", "/api/notes/" + "0" * 28)])
def test_without_the_secret_every_notes_path_is_403(guarded, headers, method, path):
    r = guarded.open(path, method=method, headers=headers, json={"text": "x"})
    assert_error(r, 403, "origin_forbidden")
    assert SECRET not in r.get_data(as_text=True) and SECRET not in json.dumps(dict(r.headers))


def test_with_the_secret_the_api_answers(guarded):
    headers = {"X-Origin-Verify": SECRET}
    created = guarded.post("/api/notes", json={"text": "through CloudFront"}, headers=headers)
    assert created.status_code == 201
    assert guarded.get("/api/notes", headers=headers).get_json()["items"] == [created.get_json()]
    assert_error(guarded.get("/api/nope", headers=headers), 404, "not_found")


def test_the_check_runs_before_anything_else(guarded, table):
    """Nothing is read or stored for a refused request: not the body, not the datastore."""
    with mock.patch("api.notes.schemas.NoteIn.model_validate_json") as parse:
        assert_error(guarded.post("/api/notes", data=b"{", content_type="application/json"), 403,
                     "origin_forbidden")
    parse.assert_not_called()
    assert table.scan(TableName="notes-test")["Count"] == 0


def test_no_secret_no_check(client):
    assert client.get("/api/notes").status_code == 200
