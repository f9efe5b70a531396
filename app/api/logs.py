"""JSON logs on stdout (one object per line, as CloudWatch Logs wants them),
request ids, and the access log.

The same logging configuration serves gunicorn (via `logconfig_dict` in
gunicorn.conf.py) and the Flask app, so every line the process writes is JSON.
"""
from __future__ import annotations

import logging
import logging.config
import re
import sys
import time
import uuid

from flask import Flask, has_request_context, request

from .health import HEALTH_PATH, READY_PATH

REQUEST_ID_HEADER = "X-Request-Id"  # the response header that returns the id to the client
REQUEST_ID_KEY, STARTED_KEY = "api.request_id", "api.started"
# An id we echo back must not be able to inject anything into a header or a log line.
# fullmatch, not ^...$: "$" also matches before a trailing newline.
_SAFE_ID = re.compile(r"[A-Za-z0-9=;:._-]{1,200}")
# Every field of an access-log line is bounded, so a stranger's 8 KB path cannot make each request
# cost 20 times its share of CloudWatch Logs ingestion (make cost's ceiling prices the longest line:
# app_log_bytes_max in scripts/prices.toml, checked by tests/unit/test_config_and_logs.py).
MAX_LOGGED_PATH = 256
MAX_LOGGED_ADDRESS = 64   # an IPv6 address is at most 45 characters; the rest is whatever a client sent
HEALTH_PATHS = frozenset({HEALTH_PATH, READY_PATH})  # not access-logged unless LOG_HEALTH_CHECKS

access_logger = logging.getLogger("api.access")


class RequestIdFilter(logging.Filter):
    """Adds the current request id to every record logged inside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and REQUEST_ID_KEY in request.environ:
            record.request_id = request.environ[REQUEST_ID_KEY]
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
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "{levelname}{name}{message}",
                "style": "{",
                "timestamp": "time",
                "rename_fields": {"levelname": "level", "name": "logger"},
            }
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


def init_app(app: Flask, log_health_checks: bool, request_id_header: str = REQUEST_ID_HEADER) -> None:
    # Only the one header our ingress sets (settings.request_id_header: API Gateway maps its request id
    # into it, overwriting whatever a client sent) is trusted. Every other header carrying an id
    # (X-Amzn-Trace-Id, X-Amzn-RequestId...) comes straight from the client when CloudFront or the ALB
    # passes it on, so it is ignored: a client must not choose the id its requests are logged under.
    # Read from the WSGI environ directly: this runs on every request and is measured by `make bench`.
    trusted_key = environ_key(request_id_header)

    @app.before_request
    def start_request() -> None:
        environ = request.environ
        environ[STARTED_KEY] = time.perf_counter()
        value = environ.get(trusted_key)
        environ[REQUEST_ID_KEY] = value if value and _SAFE_ID.fullmatch(value) else uuid.uuid4().hex

    @app.after_request
    def finish_request(response):
        environ = request.environ
        request_id = environ.get(REQUEST_ID_KEY)
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        if log_health_checks or request.path not in HEALTH_PATHS:
            started = environ.get(STARTED_KEY, time.perf_counter())
            access_logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path[:MAX_LOGGED_PATH],
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "remote_addr": (request.remote_addr or "")[:MAX_LOGGED_ADDRESS],
                    "user_agent": request.user_agent.string[:200],
                },
            )
        return response
