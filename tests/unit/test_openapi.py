"""The OpenAPI document stays true: valid, complete, and matching real responses."""
import pytest
from api.openapi import OPENAPI_PATH
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource

from tests.unit.conftest import PROBE

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def doc(client):
    response = client.get(OPENAPI_PATH)
    assert response.status_code == 200
    return response.get_json()


def flask_path(rule: str) -> str:
    return rule.replace("<", "{").replace(">", "}")


def test_document_is_valid_openapi_3_1(doc):
    validate_spec(doc)
    assert doc["info"]["version"] == "1.2.3-test"


def test_every_route_is_documented_and_nothing_else(app, doc):
    routes = routes_of(app)
    documented = {path: {m.upper() for m in ops if m != "parameters"} for path, ops in doc["paths"].items()}
    assert routes == documented


def test_the_paths_are_the_registered_routes_under_the_one_prefix(app, doc):
    """Generated from app.url_map: every path sits under API_PREFIX, the variables in OpenAPI's braces."""
    from api.config import API_PREFIX
    from api.health import HEALTH_PATH, READY_PATH
    assert all(path.startswith(API_PREFIX + "/") for path in doc["paths"])
    assert {HEALTH_PATH, READY_PATH, OPENAPI_PATH, PROBE, f"{PROBE}/{{item_id}}"} <= set(doc["paths"])
    assert doc["paths"][f"{PROBE}/{{item_id}}"]["parameters"] == [
        {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    ids = [op["operationId"] for ops in doc["paths"].values() for m, op in ops.items() if m != "parameters"]
    assert len(ids) == len(set(ids)) == sum(len(methods) for methods in routes_of(app).values())


def routes_of(app) -> dict:
    routes = {}
    for rule in app.url_map.iter_rules():
        routes.setdefault(flask_path(rule.rule), set()).update(rule.methods - IGNORED_METHODS)
    return routes


def refs(node) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for value in node.values() for r in refs(value)]
    return [r for value in node for r in refs(value)] if isinstance(node, list) else []


def test_every_ref_resolves_and_every_schema_is_used(doc):
    """The schemas come from the models the views name: none missing (a dangling $ref), none extra."""
    used = {ref.removeprefix("#/components/schemas/") for ref in refs(doc["paths"])}
    defined = set(doc["components"]["schemas"])
    assert used and used <= defined
    assert defined == used | {r.removeprefix("#/components/schemas/") for r in refs(doc["components"])}


def test_a_route_without_documented_responses_stops_the_document(app):
    from api.openapi import UndocumentedRoute, document
    app.add_url_rule("/api/undocumented", "undocumented", lambda: "")
    with pytest.raises(UndocumentedRoute, match="GET /api/undocumented"):
        document(app)


def test_a_view_serving_two_methods_under_one_operation_is_refused(app):
    from api.apidoc import documented
    from api.openapi import UndocumentedRoute, document

    def both():
        return ""
    app.add_url_rule("/api/both", "both", documented("x", {200: None})(both), methods=["GET", "POST"])
    with pytest.raises(UndocumentedRoute, match="one view per method"):
        document(app)


def test_the_health_paths_logs_leave_out_are_the_apps():
    """logs.py keeps its own set of health paths (not access-logged by default): the same two."""
    from api.health import HEALTH_PATH, READY_PATH
    from api.logs import HEALTH_PATHS
    assert HEALTH_PATHS == {HEALTH_PATH, READY_PATH}


def check(doc, method: str, path: str, response) -> None:
    """Validate a real response against the schema documented for its status."""
    operation = doc["paths"][path][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path} -> {status} is not documented"
    content = operation["responses"][status].get("content", {}).get("application/json")
    if content is None or "schema" not in content:
        return
    registry = Registry().with_resource("urn:doc", Resource.opaque(doc))
    schema = {"$ref": "urn:doc" + content["schema"]["$ref"]}
    OAS31Validator(schema, registry=registry).validate(response.get_json())


def test_real_responses_match_the_documented_schemas(client, doc):
    check(doc, "GET", "/api/health-check", client.get("/api/health-check"))
    check(doc, "GET", "/api/ready", client.get("/api/ready"))
    check(doc, "POST", PROBE, client.post(PROBE, json={"text": "hi"}))
    check(doc, "POST", PROBE, client.post(PROBE, json={"text": ""}))
    check(doc, "POST", PROBE, client.post(PROBE, data="{", content_type="application/json"))
    check(doc, "POST", PROBE, client.post(PROBE, data="x", content_type="text/plain"))
    check(doc, "GET", PROBE, client.get(PROBE))
    check(doc, "GET", f"{PROBE}/{{item_id}}", client.get(f"{PROBE}/known"))
    check(doc, "GET", f"{PROBE}/{{item_id}}", client.get(f"{PROBE}/other"))
    check(doc, "DELETE", f"{PROBE}/{{item_id}}", client.delete(f"{PROBE}/other"))
    check(doc, "GET", f"{PROBE}/unavailable", client.get(f"{PROBE}/unavailable"))


def test_schema_check_catches_a_wrong_response(client, doc):
    class Fake:
        status_code = 200

        @staticmethod
        def get_json():
            return {"status": "ok"}  # version and uptimeSeconds missing
    with pytest.raises(Exception, match="required"):
        check(doc, "GET", "/api/health-check", Fake)


def test_with_an_origin_secret_the_document_declares_it_and_the_403():
    from tests.unit.conftest import make_app
    client = make_app(origin_verify_secret="s" * 32).test_client()
    headers = {"X-Origin-Verify": "s" * 32}
    doc = client.get(OPENAPI_PATH, headers=headers).get_json()
    validate_spec(doc)
    assert doc["components"]["securitySchemes"]["originVerify"] == {
        "type": "apiKey", "in": "header", "name": "X-Origin-Verify",
        "description": doc["components"]["securitySchemes"]["originVerify"]["description"]}
    assert doc["paths"]["/api/health-check"]["get"]["security"] == []
    check(doc, "GET", PROBE, client.get(PROBE))
    check(doc, "POST", PROBE, client.post(PROBE, json={"text": "x"}))
    check(doc, "GET", PROBE, client.get(PROBE, headers=headers))
    check(doc, "GET", "/api/health-check", client.get("/api/health-check"))


def test_without_an_origin_secret_the_document_claims_no_security(doc):
    assert "security" not in doc and "securitySchemes" not in doc["components"]
    assert all("403" not in op["responses"] for ops in doc["paths"].values() for m, op in ops.items()
               if m != "parameters")
