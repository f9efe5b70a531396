"""The notes API: a Flask application factory.

    create_app()                      # configuration from the environment
    create_app(Settings(notes_table="t"))  # tests pass their own
"""
from __future__ import annotations

import time

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import errors, health, logs, notes, openapi
from .config import Settings
from .store import NotesStore


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings()
    logs.configure_logging(settings.log_level)

    app = Flask(__name__)
    app.config.update(
        APP_VERSION=settings.app_version,
        STARTED_AT=time.monotonic(),
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    app.json.compact = True
    app.extensions["settings"] = settings
    app.extensions["notes_store"] = NotesStore(
        table=settings.notes_table,
        region=settings.aws_region,
        endpoint_url=settings.dynamodb_endpoint_url,
        retry_after=settings.datastore_retry_after,
        ttl_days=settings.note_ttl_days,
    )
    if settings.trusted_proxy_hops:
        # Trust X-Forwarded-For/-Proto from exactly the proxies in front of us.
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    logs.init_app(app, settings.log_health_checks)
    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(notes.bp)
    app.register_blueprint(openapi.bp)
    return app
