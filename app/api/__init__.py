"""The API: a Flask application factory.

    create_app()                                # configuration from the environment
    create_app(Settings(app_version="t"), {"NOTES_SETTINGS": ...})   # tests pass their own

The platform (configuration, JSON logs and request ids, errors, the origin check, health,
OpenAPI) is set up first; then each blueprint is imported and registered, two lines. The notes
sample is one such blueprint (app/api/notes/): delete that folder and its lines, and the rest runs.
"""
from __future__ import annotations

import time

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import errors, health, logs, openapi, origin
from .config import Settings


class ApiFlask(Flask):
    def make_response(self, rv):
        """Every response passes here (views, error handlers, OPTIONS): a 204 has no body, so no
        Content-Type (Flask would still label it text/html)."""
        response = super().make_response(rv)
        if response.status_code == 204:
            response.headers.pop("Content-Type", None)
        return response

    def make_default_options_response(self):
        """OPTIONS on any route: 204 with Allow, no body (Flask's default is an empty text/html 200)."""
        response = super().make_default_options_response()
        response.status_code = 204
        return response


def create_app(settings: Settings | None = None, test_config: dict | None = None) -> Flask:
    settings = settings or Settings()
    logs.configure_logging(settings.log_level)

    app = ApiFlask(__name__, static_folder=None)  # an API: no /static route outside the prefix
    # No 308 text/html redirect from /api//x to /api/x: it would name the Host the request came
    # with (behind CloudFront, the origin's own hostname). A path with // is simply not found.
    app.url_map.merge_slashes = False
    app.config.update(
        API_TITLE="API",  # the OpenAPI document's title
        APP_VERSION=settings.app_version,
        STARTED_AT=time.monotonic(),
        MAX_CONTENT_LENGTH=settings.max_body_bytes,  # request.get_data() beyond it: 413 (errors.py: JSON)
        ORIGIN_VERIFY=settings.origin_verify_secret is not None,
    )
    app.config.update(test_config or {})
    app.json.sort_keys = False
    app.json.compact = True  # every JSON response spaced alike: no spaces
    # UTF-8, not \uXXXX escapes: a note of 1,000 emoji is 4 KB on the wire, not 12 KB.
    app.json.ensure_ascii = False
    app.json.mimetype = "application/json; charset=utf-8"
    app.extensions["settings"] = settings

    errors.init_app(app)
    # before_request hooks run in this order: the request id first, so the origin check's refusals
    # have one and are access-logged too.
    logs.init_app(app, settings.log_health_checks, settings.request_id_header)
    secret = settings.origin_verify_secret
    origin.init_app(app, secret.get_secret_value() if secret else None)
    if settings.trusted_proxy_hops:
        # Trust X-Forwarded-For/-Proto from exactly the proxies in front of us.
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)

    # The blueprints. The sample (docs/services.md, "Remove the sample"):
    # >>> the sample
    from . import notes
    app.register_blueprint(notes.bp)
    # <<< the sample
    return app
