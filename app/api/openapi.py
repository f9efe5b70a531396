"""The OpenAPI 3.1 document, served at /api/openapi.json.

Its paths are the routes the app registered (app.url_map), each operation the one its view
carries (@documented, apidoc.py); its schemas are those of the pydantic models the views name
(body, query, responses). So the document cannot list a route the app does not serve, nor
miss one, nor refer to a schema it lacks: a route without @documented stops it from building.
tests/unit/test_openapi.py checks that, and that every response matches its schema.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import origin
from .apidoc import Operation, documented
from .config import API_PREFIX
from .errors import Error

bp = Blueprint("openapi", __name__, url_prefix=API_PREFIX)
OPENAPI_ROUTE = "/openapi.json"
OPENAPI_PATH = API_PREFIX + OPENAPI_ROUTE
# Flask answers these for every route by itself (HEAD as GET without a body, OPTIONS with Allow).
IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})
REF = "#/components/schemas/{model}"
_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")  # <note_id> or <converter:name>
_CACHE_KEY = "openapi_document"


class UndocumentedRoute(RuntimeError):
    """A registered route whose view carries no @documented operation."""


def openapi_path(rule: str) -> str:
    """/api/notes/<note_id> -> /api/notes/{note_id}"""
    return _VARIABLE.sub(r"{\1}", rule)


def operations(app: Flask) -> list[tuple[str, str, list[str], Operation]]:
    """(path, method, path variables, operation) for every registered route."""
    out = []
    for rule in app.url_map.iter_rules():
        methods = sorted((rule.methods or set()) - IMPLICIT_METHODS)
        operation = getattr(app.view_functions[rule.endpoint], "operation", None)
        if not isinstance(operation, Operation):
            raise UndocumentedRoute(f"{' '.join(methods)} {rule.rule} (view {rule.endpoint}) is not documented: "
                                    "decorate the view with @documented (app/api/apidoc.py)")
        if len(methods) != 1:
            raise UndocumentedRoute(f"{rule.rule} (view {rule.endpoint}) serves {methods}: one view per method, "
                                    "each with its own operation")
        out.append((openapi_path(rule.rule), methods[0].lower(), sorted(rule.arguments), operation))
    return out


def response_models(responses: dict[int, object]) -> list[type[BaseModel]]:
    """The pydantic models an operation's responses name (the error model for every description)."""
    models = []
    for spec in responses.values():
        if isinstance(spec, type) and issubclass(spec, BaseModel):
            models.append(spec)
        elif isinstance(spec, str):
            models.append(Error)
        elif isinstance(spec, dict) and "model" in spec:
            models.append(spec["model"])
    return models


def openapi_response(status: int, spec: object, ref: Callable[[type[BaseModel]], dict]) -> dict:
    """One OpenAPI response object from what a view wrote in `responses`."""
    if spec is None:
        return {"description": HTTPStatus(status).phrase}
    if isinstance(spec, str):
        return _json(spec, ref(Error))
    if isinstance(spec, type) and issubclass(spec, BaseModel):
        return _json(_first_line(spec.__doc__) or HTTPStatus(status).phrase, ref(spec))
    spec = dict(spec)
    model = spec.pop("model", None)
    return {**spec, **_json(spec["description"], ref(model))} if model else spec


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _first_line(doc: str | None) -> str:
    return re.split(r"\n\s*\n", (doc or "").strip())[0].replace("\n", " ") if doc else ""


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": REF.format(model=model.__name__)}


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    """One parameter per field of the model (flat: a query string holds no objects)."""
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = {key: value for key, value in prop.items() if key != "title"}
        # An optional parameter is absent, never null: `str | None = None` is documented as a string.
        options = [option for option in prop.pop("anyOf", []) if option != {"type": "null"}]
        if len(options) == 1:
            prop = {**options[0], **prop}
        if prop.get("default", 0) is None:
            del prop["default"]
        parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    return parameters


def document(app: Flask) -> dict:
    """The document; with ORIGIN_VERIFY (ORIGIN_VERIFY_SECRET is set) every operation but the health
    check requires the X-Origin-Verify header, declared as an API key so fuzzers check it is enforced."""
    found = operations(app)
    models: dict[str, type[BaseModel]] = {"Error": Error}  # the 403 below refers to it too
    for _, _, _, op in found:
        for model in [op.body, *response_models(op.responses)]:
            if model is not None:
                if models.setdefault(model.__name__, model) is not model:
                    raise ValueError(f"two models are named {model.__name__}: rename one (schemas share one namespace)")
    _, defs = models_json_schema([(m, "validation") for m in models.values()], ref_template=REF)
    schemas = defs.get("$defs", {})
    paths: dict = {}
    ids: set[str] = set()
    for path, method, variables, op in found:
        if op.operation_id in ids:
            raise ValueError(f"two views are named {op.operation_id}: operation ids must be unique")
        ids.add(op.operation_id)
        item = paths.setdefault(path, {})
        if variables:
            item["parameters"] = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                                  for name in variables]
        operation: dict = {"operationId": op.operation_id, "summary": op.summary}
        if op.query is not None:
            operation["parameters"] = _query_parameters(op.query)
        if op.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(op.body)}}}
        operation["responses"] = {str(status): openapi_response(status, spec, _ref)
                                  for status, spec in sorted(op.responses.items())}
        item[method] = operation
    doc = {
        "openapi": "3.1.0",
        "info": {"title": app.config["API_TITLE"], "version": app.config["APP_VERSION"],
                 "description": "Every error is JSON: {error: {code, message}}. "
                                "OPTIONS on any route answers 204 with an Allow header and no body."},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if app.config["ORIGIN_VERIFY"]:
        exempt = origin.EXEMPT_PATHS
        doc["components"]["securitySchemes"] = {"originVerify": {
            "type": "apiKey", "in": "header", "name": origin.HEADER,
            "description": "The secret CloudFront adds to every request it forwards."}}
        doc["security"] = [{"originVerify": []}]
        forbidden = openapi_response(403, "Not sent through CloudFront: origin_forbidden.", _ref)
        for path, item in paths.items():
            for method, operation in item.items():
                if method == "parameters":
                    continue
                if path in exempt:
                    operation["security"] = []  # ECS and the load balancer call it directly
                else:
                    operation["responses"]["403"] = forbidden
    return doc


@bp.get(OPENAPI_ROUTE)
@documented("This document.", {200: {"description": "OpenAPI 3.1", "content": {"application/json": {}}}})
def openapi():
    # Built once per app (the routes do not change after start-up); a lost race builds it twice.
    doc = current_app.extensions.get(_CACHE_KEY)
    if doc is None:
        doc = current_app.extensions[_CACHE_KEY] = document(current_app)
    return jsonify(doc)
