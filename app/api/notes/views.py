"""The sample resource: notes, stored in DynamoDB."""
from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, url_for

from .. import health
from ..apidoc import UNAVAILABLE, documented
from ..config import API_PREFIX
from ..errors import ApiError
from .schemas import ListQuery, Note, NoteIn, NotePage
from .store import NotesSettings, NotesStore, cursor_after

bp = Blueprint("notes", __name__, url_prefix=f"{API_PREFIX}/notes")
# A page of notes stops once its items serialize to about this many bytes, whatever `limit` says:
# 100 notes of 1,000 four-byte characters would otherwise be a 400 KB response.
PAGE_BUDGET_BYTES = 256 * 1024


@bp.record_once
def set_up(state) -> None:
    """When the app registers the blueprint: the store (settings from the environment, or a test's
    NOTES_SETTINGS), and /api/ready's check that its table answers."""
    settings = state.app.config.get("NOTES_SETTINGS") or NotesSettings()
    store = state.app.extensions["notes_store"] = NotesStore.from_settings(settings)
    health.add_readiness_check(state.app, "datastore", store.ping)


def store() -> NotesStore:
    return current_app.extensions["notes_store"]


def not_found() -> ApiError:
    return ApiError(404, "note_not_found", "No note with that id.", field="id")


def within_budget(items: list[dict]) -> list[dict]:
    """The first items whose JSON fits PAGE_BUDGET_BYTES (at least one, so every page makes progress)."""
    if sum(len(item["text"]) for item in items) * 6 + len(items) * 128 <= PAGE_BUDGET_BYTES:
        return items  # the usual case: even at 6 bytes a character (an escape), the page fits
    size = 0
    for kept, item in enumerate(items):
        size += len(json.dumps(item, ensure_ascii=False).encode())
        if size > PAGE_BUDGET_BYTES and kept:
            return items[:kept]
    return items


@bp.post("")
@documented("Add a note.", {201: Note, 503: UNAVAILABLE})
def create_note(body: NoteIn):
    note = store().create(body.text)
    return jsonify(note), 201, {"Location": url_for(".get_note", note_id=note["id"])}


@bp.get("")
@documented("Notes, newest first.", {200: NotePage, 400: "Bad limit or cursor.", 503: UNAVAILABLE})
def list_notes(query: ListQuery):
    items, next_cursor = store().list(query.limit, query.cursor)
    page = within_budget(items)
    if len(page) < len(items):  # cut by the budget: the next page resumes right after the last one sent
        next_cursor = cursor_after(page[-1]["id"])
    return jsonify(items=page, nextCursor=next_cursor)


@bp.get("/<note_id>")
@documented("One note.", {200: Note, 404: "No such note.", 503: UNAVAILABLE})
def get_note(note_id: str):
    note = store().get(note_id)
    if note is None:
        raise not_found()
    return jsonify(note)


@bp.delete("/<note_id>")
@documented("Delete a note.", {204: None, 404: "No such note.", 503: UNAVAILABLE})
def delete_note(note_id: str):
    if not store().delete(note_id):
        raise not_found()
    return "", 204
