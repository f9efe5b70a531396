"""The sample resource: notes, stored in DynamoDB."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for
from pydantic import ValidationError

from .errors import ApiError
from .schemas import ListQuery, NoteIn

bp = Blueprint("notes", __name__, url_prefix="/api/notes")


def _store():
    return current_app.extensions["notes_store"]


def _validation_error(exc: ValidationError) -> ApiError:
    details = []
    for err in exc.errors(include_url=False):
        if err["type"] == "json_invalid":
            return ApiError(400, "malformed_json", "The request body is not valid JSON.")
        field = ".".join(str(p) for p in err["loc"]) or "body"
        details.append({"field": field, "message": err["msg"]})
    first = details[0]
    return ApiError(
        400, "validation_error", f"{first['field']}: {first['message']}", field=first["field"], details=details
    )


def _not_found(note_id: str) -> ApiError:
    return ApiError(404, "note_not_found", "No note with that id.", field="id")


def _read_body() -> bytes:
    """The request body, at most MAX_CONTENT_LENGTH bytes, else 413.

    werkzeug refuses a Content-Length over the limit by itself; a chunked body
    has no length, so try to read one byte past the limit to tell "exactly
    the limit" from "more than the limit" instead of silently truncating.
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None:
        return request.get_data(cache=False)
    raw = request.stream.read(limit)
    if request.stream.read(1):  # werkzeug's bounded stream raises 413 here, or we do
        raise ApiError(413, "payload_too_large", f"The body is over {limit} bytes.")
    return raw


@bp.post("")
def create_note():
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the note as application/json.")
    raw = _read_body()
    try:
        note_in = NoteIn.model_validate_json(raw)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    note = _store().create(note_in.text)
    response = jsonify(note)
    response.status_code = 201
    response.headers["Location"] = url_for("notes.get_note", note_id=note["id"])
    return response


@bp.get("")
def list_notes():
    try:
        query = ListQuery.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise _validation_error(exc) from None
    items, next_cursor = _store().list(query.limit, query.cursor)
    return jsonify(items=items, nextCursor=next_cursor)


@bp.get("/<note_id>")
def get_note(note_id: str):
    note = _store().get(note_id)
    if note is None:
        raise _not_found(note_id)
    return jsonify(note)


@bp.delete("/<note_id>")
def delete_note(note_id: str):
    if not _store().delete(note_id):
        raise _not_found(note_id)
    return "", 204
