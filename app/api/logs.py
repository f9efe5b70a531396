"""JSON logs on stdout (one object per line, as CloudWatch Logs wants them),
request ids, and the access log.

The same logging configuration serves gunicorn (via `logconfig_dict` in
gunicorn.conf.py) and the Flask app, so every line the process writes is JSON,
written by python-json-logger. The request id and the access log are Flask hooks
(before_request, after_request) keeping their state in `g`.
"""
from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import sys
import time
from datetime import UTC, datetime

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from .config import ACCESS_LOG_MAX_BYTES
from .health import HEALTH_PATH, READY_PATH

REQUEST_ID_HEADER = "X-Request-Id"  # the response header that returns the id to the client
# An id we echo back must not be able to inject anything into a header or a log line.
# fullmatch, not ^...$: "$" also matches before a trailing newline.
_SAFE_ID = re.compile(r"[A-Za-z0-9=;:._-]{1,200}")
HEALTH_PATHS = frozenset({HEALTH_PATH, READY_PATH})  # not access-logged unless LOG_HEALTH_CHECKS

access_logger = logging.getLogger("api.access")

# Our JSON lines carry none of the thread or process fields, so logging need not collect them for
# every record: the switches the logging HOWTO gives for this,
# https://docs.python.org/3/howto/logging.html#optimization
logging.logThreads = logging.logProcesses = logging.logMultiprocessing = logging.logAsyncioTasks = False


def _dumps(line: dict, **kwargs) -> str:
    """json.dumps, except that a value JSON cannot hold (NaN, a dict with tuple keys) is written as its
    repr, so the line is never lost to a logging error."""
    try:
        return json.dumps(line, allow_nan=False, **kwargs)
    except (TypeError, ValueError):
        def fits(value):
            try:
                json.dumps(value, allow_nan=False, **kwargs)
                return value
            except (TypeError, ValueError):
                return repr(value)
        return json.dumps({key: fits(value) for key, value in line.items()}, **kwargs)


def json_formatter() -> logging.Formatter:
    """level, logger, message, any exception or stack as text, the record's extra fields, time
    (ISO 8601 UTC). ASCII only (\\uXXXX escapes), whatever the stream's encoding."""
    return JsonFormatter("{levelname}{name}{message}", style="{", timestamp="time", json_serializer=_dumps,
                         rename_fields={"levelname": "level", "name": "logger"})


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every record logged inside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context() and "request_id" in g:
            record.request_id = g.request_id
        return True


class JsonStdoutHandler(logging.StreamHandler):
    """The one handler: JSON lines on stdout. A class of its own so that
    configure_logging can tell whether it is already installed."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)


def logging_config(level: str) -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {"stdout": {"()": JsonStdoutHandler, "formatter": "json", "filters": ["request_id"]}},
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            # gunicorn's own loggers propagate to the root handler above.
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            "botocore": {"level": "WARNING"},
            # urllib3 (under botocore) warns per discarded connection ("Connection pool is full"), a line per
            # request under a burst, outside the access log's byte bound that `make cost` prices; its
            # failures reach us as botocore exceptions anyway.
            "urllib3": {"level": "ERROR"},
        },
    }


def configure_logging(level: str) -> None:
    """Configures JSON logging unless a server (gunicorn) already did."""
    if not any(isinstance(h, JsonStdoutHandler) for h in logging.getLogger().handlers):
        logging.config.dictConfig(logging_config(level))


# --- the access log's byte bound ----------------------------------------------------------------
# Every request's line stays within ACCESS_LOG_MAX_BYTES (config.py; `make cost` prices that), so a
# stranger's 8 KB path cannot make a request cost 20 times its share of CloudWatch Logs ingestion.
# The fields a client chooses are cut in bytes as written, JSON escapes included (a quote is 2
# bytes, a non-ASCII character up to 12); what is left of the bound after the rest of the line
# (measured once, at its longest) is shared between them.
MAX_LOGGED_METHOD = 16
MAX_LOGGED_ADDRESS = 64  # an IPv6 address is at most 45 characters; the rest is whatever a client sent


def _longest_fixed_part() -> int:
    """The bytes of an access line whose client-chosen fields are empty, every other field at its longest."""
    record = access_logger.makeRecord(access_logger.name, logging.INFO, __file__, 0, "request", (), None, extra={
        "request_id": "r" * 200, "method": "", "path": "", "status": 599, "duration_ms": 9999999.99,
        "remote_addr": "", "user_agent": ""})
    record.created = datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC).timestamp()
    return len(json_formatter().format(record).encode())


_SHARED = ACCESS_LOG_MAX_BYTES - _longest_fixed_part() - MAX_LOGGED_METHOD - MAX_LOGGED_ADDRESS
if _SHARED < 200:
    raise ValueError(f"ACCESS_LOG_MAX_BYTES={ACCESS_LOG_MAX_BYTES} leaves {_SHARED} bytes for the path and agent")
MAX_LOGGED_PATH = _SHARED * 11 // 20  # the path gets a little more than half
MAX_LOGGED_AGENT = _SHARED - MAX_LOGGED_PATH


def clipped(text: str, limit: int) -> str:
    """The longest start of `text` that JSON-escapes (ASCII only, as the formatter writes) to at most `limit` bytes."""
    text = text[:limit]
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return text  # the usual case: one byte a character
    fits, over = 0, len(text) + 1  # a binary search on the length: a few json.dumps of at most `limit` characters
    while over - fits > 1:
        middle = (fits + over) // 2
        if len(json.dumps(text[:middle])) - 2 <= limit:
            fits = middle
        else:
            over = middle
    return text[:fits]


def init_app(app: Flask, log_health_checks: bool, request_id_header: str = REQUEST_ID_HEADER) -> None:
    """A request id for every request, and one access-log line for every response Flask makes.

    Only the one header our ingress sets (settings.request_id_header: API Gateway maps its request id
    into it, overwriting whatever a client sent) is trusted. Every other header carrying an id
    (X-Amzn-Trace-Id, X-Amzn-RequestId...) comes straight from the client when CloudFront or the ALB
    passes it on, so it is ignored: a client must not choose the id its requests are logged under.
    Register this before any other before_request hook (create_app does), so that a request another
    hook refuses (origin.py) still has its id and its line."""

    @app.before_request
    def start_request():
        g.started = time.perf_counter()
        value = request.headers.get(request_id_header)
        g.request_id = value if value and _SAFE_ID.fullmatch(value) else os.urandom(16).hex()

    @app.after_request
    def finish_request(response: Response) -> Response:
        # g.get: a request refused before start_request ran (none so far) still gets a line.
        request_id = g.get("request_id") or os.urandom(16).hex()
        response.headers[REQUEST_ID_HEADER] = request_id
        path = request.path
        if log_health_checks or path not in HEALTH_PATHS:
            access_logger.info("request", extra={
                "request_id": request_id,
                "method": clipped(request.method, MAX_LOGGED_METHOD),
                "path": clipped(path, MAX_LOGGED_PATH),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
                "remote_addr": clipped(request.remote_addr or "", MAX_LOGGED_ADDRESS),
                "user_agent": clipped(request.headers.get("User-Agent", ""), MAX_LOGGED_AGENT),
            })
        return response
