"""JSON logs on stdout (one object per line, as CloudWatch Logs wants them),
request ids, and the access log.

The same logging configuration serves gunicorn (via `logconfig_dict` in
gunicorn.conf.py) and the Flask app, so every line the process writes is JSON.
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

from flask import Flask, has_request_context, request

from .health import HEALTH_PATH, READY_PATH

REQUEST_ID_HEADER = "X-Request-Id"  # the response header that returns the id to the client
REQUEST_ID_KEY = "api.request_id"
# An id we echo back must not be able to inject anything into a header or a log line.
# fullmatch, not ^...$: "$" also matches before a trailing newline.
_SAFE_ID = re.compile(r"[A-Za-z0-9=;:._-]{1,200}")
# Every field of an access-log line is bounded, so a stranger's 8 KB path cannot make each request
# cost 20 times its share of CloudWatch Logs ingestion (make cost's ceiling prices the longest line:
# app_log_bytes_max in scripts/prices.toml, checked by tests/unit/test_config_and_logs.py).
# The bounds are bytes of the line as written, JSON escapes included (a quote is 2 bytes, a non-ASCII
# character up to 12), so the bound holds whatever the client sends.
MAX_LOGGED_PATH = 256
MAX_LOGGED_ADDRESS = 64   # an IPv6 address is at most 45 characters; the rest is whatever a client sent
MAX_LOGGED_AGENT = 200
MAX_LOGGED_METHOD = 16
HEALTH_PATHS = frozenset({HEALTH_PATH, READY_PATH})  # not access-logged unless LOG_HEALTH_CHECKS

access_logger = logging.getLogger("api.access")

# Our JSON lines carry none of the thread or process fields, so logging need not collect them for
# every record: the switches the logging HOWTO gives for this,
# https://docs.python.org/3/howto/logging.html#optimization
# (Not logging._srcfile = None, its other switch: that would also drop stack_info=True.)
logging.logThreads = logging.logProcesses = logging.logMultiprocessing = logging.logAsyncioTasks = False


class RequestIdFilter(logging.Filter):
    """Adds the current request id to every record logged inside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and REQUEST_ID_KEY in request.environ:
            record.request_id = request.environ[REQUEST_ID_KEY]
        return True


# What every LogRecord carries; anything else on a record is an `extra` field, logged as is.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: level, logger, message, its extra fields, time, and any
    exception or stack as text. ASCII only (\\uXXXX escapes), whatever the stream's encoding.

    Our own rather than python-json-logger, which wrote the same lines: an access-log line through
    it cost about 40 us of a notes request's CPU under load (`make bench`, with and without), a
    twentieth of a create. This does one pass over the record and one json.dumps."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        fields = record.__dict__
        for key in fields:
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                line[key] = fields[key]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        line["time"] = datetime.fromtimestamp(record.created, UTC).isoformat()
        try:
            return json.dumps(line, default=str, allow_nan=False)
        except (TypeError, ValueError):  # an extra JSON cannot hold (a dict with tuple keys, NaN): its repr
            return json.dumps({k: v if isinstance(v, str | int | bool | None) else repr(v) for k, v in line.items()})


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
        "formatters": {
            "json": {"()": JsonFormatter}
        },
        "handlers": {
            "stdout": {
                "()": JsonStdoutHandler,
                "formatter": "json",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            # gunicorn's own loggers propagate to the root handler above.
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            "botocore": {"level": "WARNING"},
        },
    }


def configure_logging(level: str) -> None:
    """Configures JSON logging unless a server (gunicorn) already did."""
    if not any(isinstance(h, JsonStdoutHandler) for h in logging.getLogger().handlers):
        logging.config.dictConfig(logging_config(level))


def environ_key(header: str) -> str:
    """The WSGI environ key of a request header: X-Request-Id -> HTTP_X_REQUEST_ID."""
    return "HTTP_" + header.upper().replace("-", "_")


def clipped(text: str, limit: int) -> str:
    """The longest start of `text` that JSON-escapes (as JsonFormatter writes it) to at most `limit` bytes."""
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


class RequestLog:
    """WSGI middleware around the Flask app: a request id for every request, and one access-log line.

    Middleware rather than Flask before/after_request hooks: it reads the WSGI environ and the
    status line directly, which costs about a third of what the hooks did (`make bench`, notes
    endpoints), and it sees every response, whatever produced it (a view, an error handler, the
    origin check).

    Only the one header our ingress sets (settings.request_id_header: API Gateway maps its request id
    into it, overwriting whatever a client sent) is trusted. Every other header carrying an id
    (X-Amzn-Trace-Id, X-Amzn-RequestId...) comes straight from the client when CloudFront or the ALB
    passes it on, so it is ignored: a client must not choose the id its requests are logged under.
    """

    def __init__(self, app, log_health_checks: bool, request_id_header: str = REQUEST_ID_HEADER):
        self.app = app
        self.log_health_checks = log_health_checks
        self.trusted_key = environ_key(request_id_header)

    def __call__(self, environ: dict, start_response):
        started = time.perf_counter()
        value = environ.get(self.trusted_key)
        request_id = value if value and _SAFE_ID.fullmatch(value) else os.urandom(16).hex()
        environ[REQUEST_ID_KEY] = request_id
        status_line = ""

        def start_with_id(status: str, headers: list, exc_info=None):
            nonlocal status_line
            status_line = status
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start_with_id)
        except BaseException:
            # Flask answers every exception itself (errors.py); should one escape anyway, it is still logged.
            status_line = status_line or "500"
            self.log(environ, request_id, status_line, started)
            raise
        self.log(environ, request_id, status_line, started)
        return body

    def log(self, environ: dict, request_id: str, status_line: str, started: float) -> None:
        # WSGI hands the path over as latin-1 text of the raw bytes: back to what the client sent.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        if self.log_health_checks or path not in HEALTH_PATHS:
            access_logger.info(
                "request",
                extra={
                    "request_id": request_id,  # after the request: the filter no longer finds it
                    "method": clipped(environ.get("REQUEST_METHOD", ""), MAX_LOGGED_METHOD),
                    "path": clipped(path, MAX_LOGGED_PATH),
                    "status": int(status_line[:3] or 0),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "remote_addr": clipped(environ.get("REMOTE_ADDR", ""), MAX_LOGGED_ADDRESS),
                    "user_agent": clipped(environ.get("HTTP_USER_AGENT", ""), MAX_LOGGED_AGENT),
                },
            )


def init_app(app: Flask, log_health_checks: bool, request_id_header: str = REQUEST_ID_HEADER) -> None:
    app.wsgi_app = RequestLog(app.wsgi_app, log_health_checks, request_id_header)
