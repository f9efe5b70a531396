"""The OpenAPI 3.1 document, served at /api/openapi.json.

Schemas come from the pydantic models that validate requests, so the document
cannot drift from the code; tests/unit/test_openapi.py checks that every route
is documented and every response matches its schema.
"""
from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, current_app, jsonify
from pydantic.json_schema import models_json_schema

from . import origin, schemas
from .health import HEALTH_PATH, READY_PATH

bp = Blueprint("openapi", __name__)
OPENAPI_PATH = "/api/openapi.json"
REF = "#/components/schemas/{model}"


def _json(model: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}}}


def _error(description: str) -> dict:
    return _json("Error", description)


def _unavailable() -> dict:
    response = _error("The datastore is not answering.")
    response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
    return response


NOTE_ID = {"name": "note_id", "in": "path", "required": True, "schema": {"type": "string"}}


@lru_cache(maxsize=4)
def document(version: str, origin_verify: bool = False) -> dict:
    """The document; with origin_verify (ORIGIN_VERIFY_SECRET is set) every operation but the health
    check requires the X-Origin-Verify header, declared as an API key so fuzzers check it is enforced."""
    models = [schemas.NoteIn, schemas.Note, schemas.NotePage, schemas.Health, schemas.Ready, schemas.Error]
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Notes API", "version": version,
                 "description": "Sample service of the Fargate blueprint. Every error is JSON: {error: {code, message}}. "
                                "OPTIONS on any route answers 204 with an Allow header and no body."},
        "paths": {
            HEALTH_PATH: {"get": {
                "operationId": "healthCheck", "summary": "Liveness: answers without touching dependencies.",
                "responses": {"200": _json("Health", "The process is up.")}}},
            READY_PATH: {"get": {
                "operationId": "ready", "summary": "Readiness: the datastore answers.",
                "responses": {"200": _json("Ready", "Ready to serve."), "503": _unavailable()}}},
            OPENAPI_PATH: {"get": {
                "operationId": "openapi", "summary": "This document.",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}}},
            "/api/notes": {
                "get": {
                    "operationId": "listNotes", "summary": "Notes, newest first.",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string", "minLength": 1, "maxLength": 512}},
                    ],
                    "responses": {"200": _json("NotePage", "A page of notes."),
                                  "400": _error("Bad limit or cursor."), "503": _unavailable()}},
                "post": {
                    "operationId": "createNote", "summary": "Add a note.",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": REF.format(model="NoteIn")}}}},
                    "responses": {"201": _json("Note", "Created."),
                                  "400": _error("Malformed JSON or invalid fields."),
                                  "413": _error("Body over the configured limit."),
                                  "415": _error("Not application/json."), "503": _unavailable()}},
            },
            "/api/notes/{note_id}": {
                "parameters": [NOTE_ID],
                "get": {"operationId": "getNote", "summary": "One note.",
                        "responses": {"200": _json("Note", "The note."), "404": _error("No such note."),
                                      "503": _unavailable()}},
                "delete": {"operationId": "deleteNote", "summary": "Delete a note.",
                           "responses": {"204": {"description": "Deleted."}, "404": _error("No such note."),
                                         "503": _unavailable()}},
            },
        },
        "components": {"schemas": defs["$defs"]},
    }
    if origin_verify:
        doc["components"]["securitySchemes"] = {"originVerify": {
            "type": "apiKey", "in": "header", "name": origin.HEADER,
            "description": "The secret CloudFront adds to every request it forwards."}}
        doc["security"] = [{"originVerify": []}]
        doc["paths"][HEALTH_PATH]["get"]["security"] = []  # ECS and the load balancer call it directly
        forbidden = _error("Not sent through CloudFront: origin_forbidden.")
        for path, operations in doc["paths"].items():
            for method, operation in operations.items():
                if method != "parameters" and path != HEALTH_PATH:
                    operation["responses"]["403"] = forbidden
    return doc


@bp.get(OPENAPI_PATH)
def openapi_json():
    return jsonify(document(current_app.config["APP_VERSION"], current_app.config["ORIGIN_VERIFY"]))
