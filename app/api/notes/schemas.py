"""The sample's request and response models: validation by pydantic, and the source of
the schemas in the OpenAPI document (apidoc.py finds them on the views)."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

MAX_NOTE_LENGTH = 1000
NOTE_ID_PATTERN = r"^[0-9a-f]{28}$"

# Stored as sent, with two rules:
# - no control characters but newline and tab: not C0 (CR included: a textarea's value uses LF), not
#   DEL, not C1 (U+0080-U+009F: NEL, CSI... which terminals act on). Text is data for a page, a log
#   line or a terminal, and these only ever act on the one showing it.
# - at least one visible character: not a space (U+0020, NBSP, the U+2000 spaces, ideographic space),
#   not an invisible format character (zero-width space/joiners, LRM/RLM, bidi embeddings, overrides
#   and isolates, word joiner, BOM): a note of only U+200B or U+202E would show as nothing. They are
#   allowed inside text (right-to-left scripts and emoji sequences need some of them).
# One regular expression, without look-arounds, that means the same in pydantic's (Rust) engine, in
# Python's re (schemathesis generates from it) and in the OpenAPI document's ECMAScript dialect, so
# clients, fuzzers and the validator agree.
_ALLOWED = r"[^\x00-\x08\x0b-\x1f\x7f-\x9f]"
_VISIBLE = r"[^\x00-\x20\x7f-\xa0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff\ufff9-\ufffb]"
NOTE_TEXT_PATTERN = rf"^{_ALLOWED}*{_VISIBLE}{_ALLOWED}*$"
NOTE_TEXT_RULE = "must have a visible character and no control characters but newline and tab"
_NOT_ALLOWED, _HAS_VISIBLE = re.compile(_ALLOWED.replace("[^", "[", 1)), re.compile(_VISIBLE)


def _text_rule(text: str) -> str:
    """NOTE_TEXT_PATTERN, said in words when it fails (pydantic's own message would quote the
    expression), and checked in linear time: two scans, no backtracking."""
    if _NOT_ALLOWED.search(text) or not _HAS_VISIBLE.search(text):
        raise PydanticCustomError("note_text", NOTE_TEXT_RULE)
    return text


# The pattern is what the OpenAPI document shows (clients and fuzzers generate from it); _text_rule
# is what the validator checks. tests/unit/notes/test_notes.py holds them to the same answers.
NoteText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NOTE_LENGTH), AfterValidator(_text_rule),
                     Field(json_schema_extra={"pattern": NOTE_TEXT_PATTERN})]


class NoteIn(BaseModel):
    """The body of POST /api/notes."""

    model_config = ConfigDict(extra="forbid")
    text: NoteText = Field(description="The note: 1 to 1000 characters, not only whitespace, "
                                       "no control characters but newline and tab.")


class Note(BaseModel):
    id: str = Field(pattern=NOTE_ID_PATTERN, description="Time-ordered id: newer notes sort higher.")
    text: str
    createdAt: str = Field(description="ISO 8601 UTC timestamp.")


class NotePage(BaseModel):
    items: list[Note]
    nextCursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page. "
                                               "A page may hold fewer items than `limit` (it stops at "
                                               "about 256 KB) and still have a next page.")


class ListQuery(BaseModel):
    """The query string of GET /api/notes (unknown parameters are ignored)."""

    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, min_length=1, max_length=512)
