"""Request and response models: validation by pydantic, and the source of the
schemas in the OpenAPI document."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_NOTE_LENGTH = 1000
NOTE_ID_PATTERN = r"^[0-9a-f]{28}$"

# Stored as sent. At least one character that is not ASCII whitespace: the same class in Python
# and in the OpenAPI document's (ECMAScript) regular expression, so clients and fuzzers agree with us.
NoteText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NOTE_LENGTH, pattern=r"[^ \t\n\r\f\v]")]


class NoteIn(BaseModel):
    """The body of POST /api/notes."""

    model_config = ConfigDict(extra="forbid")
    text: NoteText = Field(description="The note: 1 to 1000 characters, not only whitespace.")


class Note(BaseModel):
    id: str = Field(pattern=NOTE_ID_PATTERN, description="Time-ordered id: newer notes sort higher.")
    text: str
    createdAt: str = Field(description="ISO 8601 UTC timestamp.")


class NotePage(BaseModel):
    items: list[Note]
    nextCursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class ListQuery(BaseModel):
    """The query string of GET /api/notes (unknown parameters are ignored)."""

    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, min_length=1, max_length=512)


class Health(BaseModel):
    status: str
    version: str
    uptimeSeconds: float


class Ready(BaseModel):
    status: str
    checks: dict[str, str]


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. validation_error.")
    message: str
    field: str | None = None
    details: list[ErrorDetail] | None = None


class Error(BaseModel):
    error: ErrorBody
