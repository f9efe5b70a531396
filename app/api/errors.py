"""One error shape for every response: {"error": {"code", "message", ...}}.

Codes are stable strings a client can branch on; messages are for people.
No handler ever returns HTML or a traceback.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from pydantic import BaseModel, Field
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Stable codes for the HTTP errors werkzeug raises for us (routing, body size...).
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    411: "length_required",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An error the API reports on purpose; raise it anywhere in a request."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict | None = None, **extra):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.extra = extra


class DatastoreUnavailable(ApiError):
    def __init__(self, retry_after: int, reason: str = ""):
        super().__init__(
            503, "datastore_unavailable", "The datastore is not answering; try again shortly.",
            headers={"Retry-After": str(retry_after)},
        )
        self.reason = reason


# The error body as the OpenAPI document describes it (apidoc.py refers every error response to it).
class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. validation_error.")
    message: str
    field: str | None = Field(None, description="The first invalid field (names over 64 characters are cut).")
    details: list[ErrorDetail] | None = Field(None, description="At most the first 5 problems.")


class Error(BaseModel):
    error: ErrorBody


def error_response(status: int, code: str, message: str, headers: dict | None = None, **extra) -> Response:
    response = jsonify(error={"code": code, "message": message, **extra})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        if isinstance(exc, DatastoreUnavailable):
            log.warning("datastore unavailable", extra={"reason": exc.reason})
        return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        headers = {}
        allowed = getattr(exc, "valid_methods", None)
        if status == 405 and allowed:
            headers["Allow"] = ", ".join(sorted(allowed))
        message = exc.description or exc.name
        if status == 413 and request.max_content_length:  # werkzeug's says "capacity limit": say which
            message = f"The body is over {request.max_content_length} bytes."
        return error_response(status, HTTP_CODES.get(status, "http_error"), message, headers)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        # The traceback goes to the log (as JSON), never to the client.
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side.")
