"""Only CloudFront reaches the API: the shared secret in X-Origin-Verify.

The load balancer or API Gateway in front of the task is public, so anyone who
finds its address could skip CloudFront (and its caching, TLS and security
headers). CloudFront adds a custom origin header with a secret on every request
it forwards; the task gets the same secret as ORIGIN_VERIFY_SECRET and refuses
anything else with 403 origin_forbidden, before any other work (WSGI middleware in
front of Flask: no body read, no datastore call; the refusal is still access-logged).

The health check is exempt: ECS and the load balancer call it from inside the
VPC, without CloudFront. It reads nothing and reveals only the version.
"""
from __future__ import annotations

import hmac

from flask import Flask

from .errors import error_response
from .health import HEALTH_PATH
from .logs import environ_key

HEADER = "X-Origin-Verify"
_ENVIRON_KEY = environ_key(HEADER)


class OriginCheck:
    """WSGI middleware in front of the Flask app: without the secret, 403 before Flask sees the request.

    The refusal is built once, by the app's own error handler code, and then served from memory: a
    flood at the ingress's public address costs the task next to nothing."""

    def __init__(self, app: Flask, secret: str):
        self.app = app.wsgi_app
        self.expected = secret.encode()
        with app.app_context():
            refusal = error_response(403, "origin_forbidden", "Call this API through its public address.")
        self.status = refusal.status
        self.headers = list(refusal.get_wsgi_headers({}).to_wsgi_list())
        self.body = refusal.get_data()

    def __call__(self, environ: dict, start_response):
        if environ.get("PATH_INFO") == HEALTH_PATH:
            return self.app(environ, start_response)
        # WSGI header values are latin-1 strings: encode them back to the bytes that were sent.
        sent = environ.get(_ENVIRON_KEY, "").encode("latin-1")
        # Constant time: the comparison must not tell an attacker how many leading bytes were right.
        if hmac.compare_digest(sent, self.expected):
            return self.app(environ, start_response)
        start_response(self.status, list(self.headers))
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [self.body]


def init_app(app: Flask, secret: str | None) -> None:
    """Puts the check in front of the app (inside the request log, which logs refusals too). No secret: no check."""
    if secret:
        app.wsgi_app = OriginCheck(app, secret)
