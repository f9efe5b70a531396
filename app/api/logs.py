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

from flask import Flask, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
# API Gateway passes its request id; the ALB and API Gateway add X-Amzn-Trace-Id.
UPSTREAM_ID_HEADERS = ("X-Amzn-RequestId", "X-Amzn-Trace-Id", REQUEST_ID_HEADER)
# An id we echo back must not be able to inject anything into a header or a log line.
_SAFE_ID = re.compile(r"^[A-Za-z0-9=;:._-]{1,200}$")
HEALTH_PATHS = frozenset({"/api/health-check", "/api/ready"})

access_logger = logging.getLogger("api.access")


class RequestIdFilter(logging.Filter):
    """Adds the current request id to every record logged inside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and "request_id" in g:
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


def _request_id() -> str:
    for header in UPSTREAM_ID_HEADERS:
        value = request.headers.get(header)
        if value and _SAFE_ID.match(value):
            return value
    return uuid.uuid4().hex


def init_app(app: Flask, log_health_checks: bool) -> None:
    @app.before_request
    def start_request() -> None:
        g.request_id = _request_id()
        g.started = time.perf_counter()

    @app.after_request
    def finish_request(response):
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        if log_health_checks or request.path not in HEALTH_PATHS:
            access_logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
                    "remote_addr": request.remote_addr,
                    "user_agent": request.user_agent.string[:200],
                },
            )
        return response
