import pytest

from tests.unit.conftest import PROBE, assert_error, make_app


def test_unknown_api_path_is_json_404(client):
    assert_error(client.get("/api/nope"), 404, "not_found")


def test_paths_outside_api_are_json_too(client):
    # The service only serves /api; CloudFront sends the rest to S3. Still JSON.
    assert_error(client.get("/"), 404, "not_found")


def test_a_blueprints_own_error_keeps_its_code_and_fields(client):
    error = assert_error(client.get(f"{PROBE}/missing"), 404, "probe_not_found")
    assert error["field"] == "id"


def test_wrong_method_is_405_with_allow(client):
    response = client.put(PROBE)
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_unexpected_exception_is_500_without_traceback(client, caplog):
    response = client.get(f"{PROBE}/boom")
    error = assert_error(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True)
    assert error["message"] == "Something went wrong on our side."
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)


def test_an_unavailable_dependency_is_503_with_retry_after(client):
    response = client.get(f"{PROBE}/unavailable")
    assert_error(response, 503, "datastore_unavailable")
    assert response.headers["Retry-After"] == "7"


def test_request_id_is_taken_from_the_one_trusted_header(client):
    r = client.get("/api/health-check", headers={"X-Request-Id": "abc-123"})
    assert r.headers["X-Request-Id"] == "abc-123"


def test_a_forged_trace_id_is_ignored(client):
    """API Gateway maps its own id into X-Request-Id; a client-sent X-Amzn-Trace-Id or X-Amzn-RequestId
    (passed on by CloudFront) must neither win over it nor name a request that has none."""
    forged = {"X-Amzn-Trace-Id": "Root=1-forged", "X-Amzn-RequestId": "forged"}
    r = client.get("/api/health-check", headers={**forged, "X-Request-Id": "gateway-id"})
    assert r.headers["X-Request-Id"] == "gateway-id"
    r = client.get("/api/health-check", headers=forged)
    assert "forged" not in r.headers["X-Request-Id"] and len(r.headers["X-Request-Id"]) == 32


def test_the_trusted_request_id_header_is_a_setting():
    client = make_app(request_id_header="X-Amzn-Trace-Id").test_client()
    r = client.get("/api/health-check", headers={"X-Amzn-Trace-Id": "Root=1-67891233-abcdef", "X-Request-Id": "x"})
    assert r.headers["X-Request-Id"] == "Root=1-67891233-abcdef"


@pytest.mark.parametrize("value", ["evil\u2028value <script>", "a" * 201, "a b", "", "id/../x"])
def test_request_id_is_generated_when_absent_or_unsafe(client, value):
    assert len(client.get("/api/health-check").headers["X-Request-Id"]) == 32
    r = client.get("/api/health-check", headers={"X-Request-Id": value})
    assert r.headers["X-Request-Id"] != value
    assert len(r.headers["X-Request-Id"]) == 32


def test_options_is_204_with_allow_and_no_body(client):
    r = client.options(PROBE)
    assert r.status_code == 204 and r.data == b""
    assert "Content-Type" not in r.headers
    assert {"GET", "POST"} <= set(r.headers["Allow"].split(", "))
    assert_error(client.options("/api/nope"), 404, "not_found")


def test_no_content_carries_no_html_content_type(client):
    r = client.delete(f"{PROBE}/any")
    assert r.status_code == 204 and r.data == b"" and "Content-Type" not in r.headers
