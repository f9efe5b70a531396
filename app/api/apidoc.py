"""OpenAPI documentation attached to the view functions themselves.

A view says what it answers next to its code:

    @bp.get("/<note_id>")
    @documented("getNote", "One note.", {"200": json_response("Note", "The note.")})
    def get_note(note_id): ...

openapi.py then walks the registered routes (app.url_map) and takes each operation
from its view, so the document lists exactly the routes the app serves; a route
without documented responses makes the document fail to build
(tests/unit/test_openapi.py).
"""
from __future__ import annotations

from collections.abc import Callable

REF = "#/components/schemas/{model}"
# Every documented view, so a test can tell documentation that no registered route uses.
DOCUMENTED: list[Callable] = []


def json_response(model: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}}}


def error(description: str) -> dict:
    return json_response("Error", description)


def unavailable() -> dict:
    response = error("The datastore is not answering.")
    response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
    return response


def documented(operation_id: str, summary: str, responses: dict, *, parameters: list | None = None,
               request_body: str | None = None) -> Callable[[Callable], Callable]:
    """Attaches one OpenAPI operation to a view (one view per method). request_body names the
    pydantic model (in schemas.py) the JSON body must match."""
    if not responses:
        raise ValueError(f"{operation_id}: an operation documents at least one response")
    operation: dict = {"operationId": operation_id, "summary": summary}
    if parameters:
        operation["parameters"] = parameters
    if request_body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=request_body)}}}}
    operation["responses"] = responses

    def attach(view: Callable) -> Callable:
        view.openapi = operation
        DOCUMENTED.append(view)
        return view
    return attach
