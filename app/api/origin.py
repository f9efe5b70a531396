"""Only CloudFront reaches the API: the shared secret in X-Origin-Verify.

The load balancer or API Gateway in front of the task is public, so anyone who
finds its address could skip CloudFront (and its caching, TLS and security
headers). CloudFront adds a custom origin header with a secret on every request
it forwards; the task gets the same secret as ORIGIN_VERIFY_SECRET and refuses
anything else with 403 origin_forbidden, before any other work (the first
before_request hook: no request id, no body read, no datastore call).

The health check is exempt: ECS and the load balancer call it from inside the
VPC, without CloudFront. It reads nothing and reveals only the version.
"""
from __future__ import annotations

import hmac

from flask import Flask, request

from .errors import error_response
from .health import HEALTH_PATH
from .logs import environ_key

HEADER = "X-Origin-Verify"
_ENVIRON_KEY = environ_key(HEADER)


def init_app(app: Flask, secret: str | None) -> None:
    """Registers the check, ahead of every other before_request hook. No secret: no check."""
    if not secret:
        return
    expected = secret.encode()

    def verify_origin():
        if request.path == HEALTH_PATH:
            return None
        # WSGI header values are latin-1 strings: encode them back to the bytes that were sent.
        sent = request.environ.get(_ENVIRON_KEY, "").encode("latin-1")
        # Constant time: the comparison must not tell an attacker how many leading bytes were right.
        if hmac.compare_digest(sent, expected):
            return None
        return error_response(403, "origin_forbidden", "Call this API through its public address.")

    app.before_request_funcs.setdefault(None, []).insert(0, verify_origin)
