from tests.unit.conftest import assert_error


def test_unknown_api_path_is_json_404(client):
    assert_error(client.get("/api/nope"), 404, "not_found")


def test_paths_outside_api_are_json_too(client):
    # The service only serves /api; CloudFront sends the rest to S3. Still JSON.
    assert_error(client.get("/"), 404, "not_found")


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


def test_request_id_is_taken_from_api_gateway_or_the_alb(client):
    r = client.get("/api/health-check", headers={"X-Amzn-RequestId": "abc-123"})
    assert r.headers["X-Request-Id"] == "abc-123"
    r = client.get("/api/health-check", headers={"X-Amzn-Trace-Id": "Root=1-67891233-abcdef012345678912345678"})
    assert r.headers["X-Request-Id"] == "Root=1-67891233-abcdef012345678912345678"


def test_request_id_is_generated_when_absent_or_unsafe(client):
    generated = client.get("/api/health-check").headers["X-Request-Id"]
    assert len(generated) == 32
    r = client.get("/api/health-check", headers={"X-Amzn-RequestId": "evil\u2028value <script>"})
    assert r.headers["X-Request-Id"] != "evil\u2028value <script>"
    assert len(r.headers["X-Request-Id"]) == 32
