"""The OpenAPI 3.1 document, served at /api/openapi.json.

Its paths are the routes the app registered (app.url_map), each operation the one
its view function carries (@documented, apidoc.py); schemas come from the pydantic
models that validate requests. So the document cannot list a route the app does
not serve, nor miss one: a route without documented responses stops it from
building. tests/unit/test_openapi.py checks that, and that every response matches
its schema.
"""
from __future__ import annotations

import copy
import re

from flask import Blueprint, Flask, current_app, jsonify
from pydantic.json_schema import models_json_schema

from . import origin, schemas
from .apidoc import REF, documented, error
from .config import API_PREFIX
from .health import HEALTH_PATH

bp = Blueprint("openapi", __name__, url_prefix=API_PREFIX)
OPENAPI_ROUTE = "/openapi.json"
OPENAPI_PATH = API_PREFIX + OPENAPI_ROUTE
# Flask answers these for every route by itself (HEAD as GET without a body, OPTIONS with Allow).
IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})
_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")  # <note_id> or <converter:name>
_CACHE_KEY = "openapi_document"


class UndocumentedRoute(RuntimeError):
    """A registered route whose view carries no @documented operation with responses."""


def openapi_path(rule: str) -> str:
    """/api/notes/<note_id> -> /api/notes/{note_id}"""
    return _VARIABLE.sub(r"{\1}", rule)


def paths(app: Flask) -> dict:
    """One OpenAPI path item per registered route, with the operation its view documents."""
    items: dict = {}
    for rule in app.url_map.iter_rules():
        methods = sorted((rule.methods or set()) - IMPLICIT_METHODS)
        operation = getattr(app.view_functions[rule.endpoint], "openapi", None)
        if not operation or not operation.get("responses"):
            raise UndocumentedRoute(f"{' '.join(methods)} {rule.rule} (view {rule.endpoint}) documents no "
                                    "responses: decorate the view with @documented (app/api/apidoc.py)")
        if len(methods) != 1:
            raise UndocumentedRoute(f"{rule.rule} (view {rule.endpoint}) serves {methods}: one view per method, "
                                    "each with its own operation")
        item = items.setdefault(openapi_path(rule.rule), {})
        if rule.arguments:
            item["parameters"] = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                                  for name in sorted(rule.arguments)]
        item[methods[0].lower()] = copy.deepcopy(operation)
    return items


def unregistered(app: Flask, views) -> list[str]:
    """The documented views (apidoc.DOCUMENTED) that no registered route serves."""
    served = set(app.view_functions.values())
    return [f"{view.__module__}.{view.__qualname__}" for view in views if view not in served]


def document(app: Flask) -> dict:
    """The document; with ORIGIN_VERIFY (ORIGIN_VERIFY_SECRET is set) every operation but the health
    check requires the X-Origin-Verify header, declared as an API key so fuzzers check it is enforced."""
    models = [schemas.NoteIn, schemas.Note, schemas.NotePage, schemas.Health, schemas.Ready, schemas.Error]
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Notes API", "version": app.config["APP_VERSION"],
                 "description": "Sample service of the Fargate blueprint. Every error is JSON: {error: {code, message}}. "
                                "OPTIONS on any route answers 204 with an Allow header and no body."},
        "paths": paths(app),
        "components": {"schemas": defs["$defs"]},
    }
    if app.config["ORIGIN_VERIFY"]:
        doc["components"]["securitySchemes"] = {"originVerify": {
            "type": "apiKey", "in": "header", "name": origin.HEADER,
            "description": "The secret CloudFront adds to every request it forwards."}}
        doc["security"] = [{"originVerify": []}]
        doc["paths"][HEALTH_PATH]["get"]["security"] = []  # ECS and the load balancer call it directly
        forbidden = error("Not sent through CloudFront: origin_forbidden.")
        for path, operations in doc["paths"].items():
            for method, operation in operations.items():
                if method != "parameters" and path != HEALTH_PATH:
                    operation["responses"]["403"] = forbidden
    return doc


@bp.get(OPENAPI_ROUTE)
@documented("openapi", "This document.",
            {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}})
def openapi_json():
    # Built once per app (the routes do not change after start-up); a lost race builds it twice.
    doc = current_app.extensions.get(_CACHE_KEY)
    if doc is None:
        doc = current_app.extensions[_CACHE_KEY] = document(current_app)
    return jsonify(doc)
