"""The sample resource: notes, stored in DynamoDB."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from pydantic import ValidationError

from .apidoc import documented, error, json_response, unavailable
from .config import API_PREFIX
from .errors import ApiError
from .schemas import NOTE_TEXT_RULE, ListQuery, NoteIn
from .store import cursor_after

bp = Blueprint("notes", __name__, url_prefix=f"{API_PREFIX}/notes")


def _store():
    return current_app.extensions["notes_store"]


# A validation error stays small whatever the body held: a body of thousands of unknown keys
# must not come back as an error that echoes every one of them.
MAX_ERROR_DETAILS = 5
MAX_FIELD_CHARS = 64
MAX_MESSAGE_CHARS = 200
# A page of notes stops once its items serialize to about this many bytes, whatever `limit` says:
# 100 notes of 1,000 four-byte characters would otherwise be a 400 KB response.
PAGE_BUDGET_BYTES = 256 * 1024


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _validation_error(exc: ValidationError) -> ApiError:
    details = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        if err["type"] == "json_invalid":
            return ApiError(400, "malformed_json", "The request body is not valid JSON.")
        if len(details) == MAX_ERROR_DETAILS:
            continue  # keep looking for json_invalid, which outranks the rest
        field = _cut(".".join(str(p) for p in err["loc"]) or "body", MAX_FIELD_CHARS)
        # pydantic's own message for a pattern would quote the regular expression.
        pattern_on_text = err["type"] == "string_pattern_mismatch" and err["loc"] == ("text",)
        message = NOTE_TEXT_RULE if pattern_on_text else err["msg"]
        details.append({"field": field, "message": _cut(message, MAX_MESSAGE_CHARS)})
    first = details[0]
    return ApiError(
        400, "validation_error", f"{first['field']}: {first['message']}", field=first["field"], details=details
    )


def _not_found(note_id: str) -> ApiError:
    return ApiError(404, "note_not_found", "No note with that id.", field="id")


def _read_body() -> bytes:
    """The request body, at most MAX_CONTENT_LENGTH bytes, else 413.

    With a Content-Length (every body CloudFront forwards has one), read exactly that from the
    WSGI input: werkzeug's stream wrappers cost a tenth of a create's CPU (`make bench`). A chunked
    body has no length, so try to read one byte past the limit to tell "exactly the limit" from
    "more than the limit" instead of silently truncating.
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    too_large = f"The body is over {limit} bytes."
    environ = request.environ
    length = environ.get("CONTENT_LENGTH")
    if length:
        if not (length.isascii() and length.isdigit()):  # not "²", which isdigit() allows
            raise ApiError(400, "bad_request", "The Content-Length header is not a number.")
        size = int(length)
        if size > limit:
            raise ApiError(413, "payload_too_large", too_large)
        raw = environ["wsgi.input"].read(size)
        if len(raw) < size:
            raise ApiError(400, "bad_request", "The body ended before its Content-Length.")
        return raw
    raw = request.stream.read(limit)
    if request.stream.read(1):  # werkzeug's bounded stream raises 413 here, or we do
        raise ApiError(413, "payload_too_large", too_large)
    return raw


@bp.post("")
@documented("createNote", "Add a note.", request_body="NoteIn", responses={
    "201": json_response("Note", "Created."), "400": error("Malformed JSON or invalid fields."),
    "413": error("Body over the configured limit."), "415": error("Not application/json."), "503": unavailable()})
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
    # What url_for("notes.get_note") builds, without werkzeug's URL builder (a few us per create).
    response.headers["Location"] = f"{request.script_root}{bp.url_prefix}/{note['id']}"
    return response


@bp.get("")
@documented("listNotes", "Notes, newest first.", parameters=[
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    {"name": "cursor", "in": "query", "schema": {"type": "string", "minLength": 1, "maxLength": 512}},
], responses={"200": json_response("NotePage", "A page of notes."), "400": error("Bad limit or cursor."),
              "503": unavailable()})
def list_notes():
    try:
        query = ListQuery.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise _validation_error(exc) from None
    items, next_cursor = _store().list(query.limit, query.cursor)
    page = {"items": items, "nextCursor": next_cursor}
    dumps = current_app.json.dumps
    body = dumps(page)
    if len(body) * 4 > PAGE_BUDGET_BYTES and len(body.encode()) > PAGE_BUDGET_BYTES:
        # Over the byte budget (rare: the checks above are one len() in the usual case): keep the items
        # that fit, and the cursor resumes right after the last one returned. The first item always
        # goes out (one note is at most ~4 KB), so every page makes progress.
        size = 0
        for kept, item in enumerate(items):
            size += len(dumps(item).encode())
            if size > PAGE_BUDGET_BYTES and kept:
                page = {"items": items[:kept], "nextCursor": cursor_after(items[kept - 1]["id"])}
                break
        body = dumps(page)
    # What jsonify would answer, without serializing the page a second time.
    return current_app.response_class(f"{body}\n", mimetype=current_app.json.mimetype)


@bp.get("/<note_id>")
@documented("getNote", "One note.", {"200": json_response("Note", "The note."), "404": error("No such note."),
                                     "503": unavailable()})
def get_note(note_id: str):
    note = _store().get(note_id)
    if note is None:
        raise _not_found(note_id)
    return jsonify(note)


@bp.delete("/<note_id>")
@documented("deleteNote", "Delete a note.", {"204": {"description": "Deleted."}, "404": error("No such note."),
                                             "503": unavailable()})
def delete_note(note_id: str):
    if not _store().delete(note_id):
        raise _not_found(note_id)
    return "", 204
