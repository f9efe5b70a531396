"""@documented: a view's OpenAPI operation and its request validation, from the view itself.

    @bp.post("")
    @documented("Add a note.", {201: Note, 503: UNAVAILABLE})
    def create_note(body: NoteIn):          # a pydantic model named `body`: the JSON body
        ...
    @bp.get("")
    @documented("Notes, newest first.", {200: NotePage})
    def list_notes(query: ListQuery):       # a pydantic model named `query`: the query string
        ...

The view's parameters say what it reads: `body` is validated from the JSON body (415 if it is
not application/json, 413 over MAX_CONTENT_LENGTH, 400 malformed_json or validation_error), `query`
from the query string (400 validation_error); any other parameter is a path variable. `responses`
maps a status to a pydantic model (the JSON answered), a description (an error, in the one error
shape), None (no body) or a raw OpenAPI response. The operation id is the view's name in camelCase.

openapi.py builds the document from the registered routes and what each view carries, with the
schemas of exactly the models named here: nothing to keep in step by hand. A registered route
without @documented stops the document from building (tests/unit/test_openapi.py).

Our own rather than flask-openapi3, spectree or APIFlask: docs/api.md says why.
"""
from __future__ import annotations

import functools
import typing
from collections.abc import Callable

from flask import abort, request
from pydantic import BaseModel, ValidationError

from .errors import ApiError, Error

# A datastore that does not answer: the 503 every datastore-backed view can return.
UNAVAILABLE = {"description": "The datastore is not answering.", "model": Error, "headers": {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}}
# A validation error stays small whatever the request held: a body of thousands of unknown keys
# must not come back as an error that echoes every one of them.
MAX_ERROR_DETAILS = 5
MAX_FIELD_CHARS = 64
MAX_MESSAGE_CHARS = 200


class Operation(typing.NamedTuple):
    """What @documented attaches to a view (as `view.operation`) for openapi.py."""
    operation_id: str
    summary: str
    responses: dict[int, object]
    body: type[BaseModel] | None
    query: type[BaseModel] | None


def documented(summary: str, responses: dict[int, object]) -> Callable[[Callable], Callable]:
    if not responses:
        raise ValueError(f"{summary!r}: an operation documents at least one response")

    def decorate(view: Callable) -> Callable:
        hints = typing.get_type_hints(view)
        body, query = hints.get("body"), hints.get("query")
        operation = Operation(_camel(view.__name__), summary, {**_implied(body, query), **responses}, body, query)
        if body is None and query is None:
            view.operation = operation
            return view

        @functools.wraps(view)
        def validating(*args, **kwargs):
            if body is not None:
                kwargs["body"] = _validated_body(body)
            if query is not None:
                kwargs["query"] = _validated(query.model_validate, request.args.to_dict())
            return view(*args, **kwargs)
        validating.operation = operation
        return validating
    return decorate


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _implied(body, query) -> dict[int, str]:
    """The errors that validating a body or a query can answer (a view may describe them itself)."""
    implied = {}
    if query is not None:
        implied[400] = "Invalid query parameters."
    if body is not None:
        implied.update({400: "Malformed JSON or invalid fields.", 413: "Body over the configured limit.",
                        415: "Not application/json."})
    return implied


def _validated_body(model: type[BaseModel]) -> BaseModel:
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    # werkzeug reads a Content-Length it cannot parse as 0 (an empty body); gunicorn refuses one
    # itself, and the app does not rely on that.
    length = request.headers.get("Content-Length")
    if length is not None and not (length.isascii() and length.strip().isdigit()):
        abort(400, "The Content-Length header is not a number.")
    # A Content-Length over MAX_CONTENT_LENGTH is werkzeug's 413 (errors.py answers it as JSON). A
    # chunked body has no length: werkzeug stops reading it at the limit without an error, so one
    # that reaches the limit is refused here rather than read cut short.
    data = request.get_data(cache=False)
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(data) >= limit:
        abort(413)
    # pydantic parses the JSON itself: one pass, and malformed JSON is told apart from invalid fields.
    return _validated(model.model_validate_json, data)


def _validated(validate: Callable, data) -> BaseModel:
    try:
        return validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validation_error(exc: ValidationError) -> ApiError:
    """400 malformed_json, or 400 validation_error naming the first field and at most 5 problems.
    pydantic's message for a `pattern` would quote the regular expression: a model that has a rule
    to state raises PydanticCustomError with it instead (see notes/schemas.py)."""
    details = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        if err["type"] == "json_invalid":
            return ApiError(400, "malformed_json", "The request body is not valid JSON.")
        if len(details) == MAX_ERROR_DETAILS:
            continue  # keep looking for json_invalid, which outranks the rest
        field = _cut(".".join(str(p) for p in err["loc"]) or "body", MAX_FIELD_CHARS)
        message = "does not match the documented pattern" if err["type"] == "string_pattern_mismatch" else err["msg"]
        details.append({"field": field, "message": _cut(message, MAX_MESSAGE_CHARS)})
    first = details[0]
    return ApiError(
        400, "validation_error", f"{first['field']}: {first['message']}", field=first["field"], details=details
    )
