"""Only CloudFront reaches the API: the shared secret in X-Origin-Verify.

The load balancer or API Gateway in front of the task is public, so anyone who
finds its address could skip CloudFront (and its caching, TLS and security
headers). CloudFront adds a custom origin header with a secret on every request
it forwards; the task gets the same secret as ORIGIN_VERIFY_SECRET and refuses
anything else with 403 origin_forbidden, before any other work: a before_request
hook registered right after the request id's, so no body is read and no datastore
called, and the refusal still has its request id and access-log line (logs.py).

The health check is exempt: ECS and the load balancer call it from inside the
VPC, without CloudFront. It reads nothing and reveals only the version.
"""
from __future__ import annotations

import hmac

from flask import Flask, request

from .errors import error_response
from .health import HEALTH_PATH

HEADER = "X-Origin-Verify"
EXEMPT_PATHS = frozenset({HEALTH_PATH})


def init_app(app: Flask, secret: str | None) -> None:
    """No secret: no check."""
    if not secret:
        return
    expected = secret.encode()

    @app.before_request
    def only_through_cloudfront():
        if request.path in EXEMPT_PATHS:
            return None
        # Header values are latin-1 text of the bytes sent: back to those bytes.
        sent = request.headers.get(HEADER, "").encode("latin-1")
        # Constant time: the comparison must not tell an attacker how many leading bytes were right.
        if hmac.compare_digest(sent, expected):
            return None
        return error_response(403, "origin_forbidden", "Call this API through its public address.")
