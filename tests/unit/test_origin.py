"""Only CloudFront reaches the API: X-Origin-Verify (app/api/origin.py)."""
import hmac
import json
import logging
from unittest import mock

import pytest
from api import origin
from api.config import Settings
from pydantic import ValidationError

from tests.unit.conftest import PROBE, assert_error, make_app

SECRET = "s3cret-from-cloudfront-0123456789"


@pytest.fixture
def guarded():
    app = make_app(origin_verify_secret=SECRET)
    return app.test_client()


@pytest.mark.parametrize("headers", [{}, {"X-Origin-Verify": SECRET[:-1]}, {"X-Origin-Verify": SECRET + "x"},
                                     {"X-Origin-Verify": "é" + SECRET}, {"X-Origin-Verify-Other": SECRET}])
@pytest.mark.parametrize("method,path", [("GET", PROBE), ("POST", PROBE), ("GET", "/api/ready"),
                                         ("OPTIONS", PROBE), ("GET", "/api/nope"),
                                         ("DELETE", PROBE + "/known")])
def test_without_the_secret_every_api_path_is_403(guarded, headers, method, path):
    r = guarded.open(path, method=method, headers=headers, json={"text": "x"})
    error = assert_error(r, 403, "origin_forbidden")
    assert SECRET not in r.get_data(as_text=True) and SECRET not in json.dumps(dict(r.headers))
    assert error["message"]


def test_with_the_secret_the_api_answers(guarded):
    headers = {"X-Origin-Verify": SECRET}
    created = guarded.post(PROBE, json={"text": "CloudFront"}, headers=headers)
    assert created.status_code == 201 and created.get_json() == {"text": "CloudFront"}
    assert guarded.get(PROBE, headers=headers).status_code == 200
    assert_error(guarded.get("/api/nope", headers=headers), 404, "not_found")


def test_the_check_runs_before_anything_else():
    """Nothing is read or run for a refused request: not the body, not the view."""
    app = make_app(origin_verify_secret=SECRET)
    with mock.patch("tests.support.probe.ProbeIn.model_validate_json") as parse:
        assert_error(app.test_client().post(PROBE, data=b"{", content_type="application/json"), 403,
                     "origin_forbidden")
    parse.assert_not_called()
    assert app.extensions["probe_calls"] == []


def test_the_health_check_is_exempt(guarded):
    """ECS and the load balancer call it from inside the VPC, without CloudFront."""
    assert guarded.get("/api/health-check").status_code == 200
    assert_error(guarded.get("/api/health-check/"), 403, "origin_forbidden")  # only the exact path


def test_the_comparison_is_constant_time(guarded):
    with mock.patch.object(origin.hmac, "compare_digest", wraps=hmac.compare_digest) as compare:
        guarded.get(PROBE, headers={"X-Origin-Verify": "guess"})
        guarded.get(PROBE, headers={"X-Origin-Verify": SECRET})
    assert [c.args for c in compare.call_args_list] == [(b"guess", SECRET.encode()), (SECRET.encode(), SECRET.encode())]


def test_no_secret_no_check(client):
    assert client.get(PROBE).status_code == 200


@pytest.mark.parametrize("value", ["", None])
def test_an_empty_secret_is_no_secret(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("ORIGIN_VERIFY_SECRET", raising=False)
    else:
        monkeypatch.setenv("ORIGIN_VERIFY_SECRET", value)
    assert Settings().origin_verify_secret is None


@pytest.mark.parametrize("value", ["short", "has spaces in it, sixteen+", "x" * 257, "tab\tinside-0123456789"])
def test_an_unusable_secret_stops_the_start_without_printing_it(monkeypatch, value):
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", value)
    with pytest.raises(ValidationError, match="origin_verify_secret") as failure:
        Settings()
    assert value not in str(failure.value)


def test_the_secret_is_in_no_repr_or_log_line(monkeypatch, caplog):
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", SECRET)
    settings = Settings()
    assert settings.origin_verify_secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    client = make_app(origin_verify_secret=SECRET).test_client()
    with caplog.at_level(logging.DEBUG):
        client.get(PROBE, headers={"X-Origin-Verify": SECRET})
        client.get(PROBE, headers={"X-Origin-Verify": "wrong"})
    assert caplog.records and not any(SECRET in r.getMessage() or SECRET in str(r.__dict__) for r in caplog.records)


def test_a_refusal_is_logged_with_its_request_id_and_head_gets_no_body(caplog):
    client = make_app(origin_verify_secret=SECRET).test_client()
    with caplog.at_level(logging.INFO, logger="api.access"):
        r = client.head(PROBE)
    assert r.status_code == 403 and r.get_data() == b"" and r.headers["X-Request-Id"]
    assert [(rec.status, rec.request_id) for rec in caplog.records if rec.name == "api.access"] == [
        (403, r.headers["X-Request-Id"])]
