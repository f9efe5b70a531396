"""The platform's configuration, read from the environment in this one place.

Every setting has a safe default for local use; the task definition (service.yml)
sets the ones that differ in AWS. An invalid value stops the process at start-up
with a message naming the variable, instead of failing on the first request.
A blueprint's own settings live with it (the sample's: app/api/notes/store.py).
No Flask here: scripts/cost.py loads this file on its own.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Every route of the app lives under this one prefix (the blueprints mount under it; the health and
# OpenAPI paths derive from it). Not a setting read from the environment: CloudFront's /api/* behaviour
# (frontend.yml), the local edge (local/edge.py) and the health-check path of the task and target group
# (service.yml) are written for it, and tests/templates/test_contract.py holds each of them to it.
API_PREFIX = "/api"
# The longest access-log line a request can cause, in bytes as written (app/api/logs.py cuts the fields a
# client chooses to fit). `make cost` prices its ceiling's CloudWatch Logs with this same figure
# (scripts/cost.py reads it from this file), so the bound and the price cannot drift apart. Not read
# from the environment: it is the blueprint's choice, the same in every deployment.
ACCESS_LOG_MAX_BYTES = 1000


class Settings(BaseSettings):
    # hide_input_in_errors: a boot error names the variable but never prints its value (a secret).
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, populate_by_name=True,
                                      hide_input_in_errors=True)

    # --- the HTTP server (read by gunicorn.conf.py and entrypoint.py; docs/performance.md) ---
    host: str = Field("0.0.0.0", description="Address to listen on; the container needs all interfaces.")
    port: int = Field(8000, ge=1, le=65535, description="Container port; must match service.yml.")
    web_concurrency: int = Field(1, ge=1, le=32, description="gunicorn worker processes.")
    graceful_timeout: int = Field(20, ge=1, le=110, description="Seconds to drain on SIGTERM; below ECS stopTimeout.")
    # gunicorn's `timeout`: its master kills a worker whose heartbeat is older than this. 0 turns the watchdog
    # off, which the Lambda function does (service.yml): Lambda freezes an idle environment between requests,
    # so a heartbeat can look stale on the thaw and the request that thawed it would lose its worker; there the
    # function's own Timeout bounds every request and ends the environment.
    worker_timeout: int = Field(30, ge=0, le=600,
                                description="Seconds a silent worker lives before gunicorn replaces it; 0: never.")
    keepalive: int = Field(
        75, ge=1, le=600,
        description="Idle keep-alive seconds, above the upstream idle timeout; also the time a client has to "
                    "send a request head (gevent worker).")
    # Connections one worker holds at once, idle and half-sent ones included: a stranger must open more than
    # this to make the health check wait. Each costs a greenlet and at most one request head (the limits
    # below); docs/performance.md derives the worker's memory bound from the product. The task's nofile
    # limit (service.yml) is above it.
    worker_connections: int = Field(
        2048, ge=64, le=60000,
        description="Connections one worker holds at once; beyond them new ones wait unaccepted.")
    # gunicorn's limits on a request head (414/431 past them). The proxies in front pass at most 20,480
    # bytes of request line and headers (gunicorn.conf.py cites the quotas).
    limit_request_line: int = Field(8190, ge=256, le=8190, description="Longest request line (bytes).")
    # A browser's request arrives with ~25-28 fields: its own (sec-ch-ua*, sec-fetch-*, cookies, ...), all
    # forwarded by CloudFront's AllViewerExceptHostHeader policy, plus CloudFront's (Via, X-Amz-Cf-Id,
    # X-Forwarded-For, X-Origin-Verify) and API Gateway's (X-Amzn-Trace-Id, X-Forwarded-*): 48 leaves room.
    # A field of 1,024 bytes fits everything the sample receives; a fork that takes a bearer token (a JWT is
    # often 1-2 KB) or a site's cookies sets LIMIT_REQUEST_FIELD_SIZE=4094 or 8190 (docs/performance.md says
    # what that does to the memory bound).
    limit_request_fields: int = Field(48, ge=8, le=100, description="Most header fields in a request.")
    limit_request_field_size: int = Field(1024, ge=256, le=8190, description="Longest header field (bytes).")

    # --- shutdown (read by entrypoint.py) ---
    drain_delay: int = Field(
        0, ge=0, le=60,
        description="Seconds to keep serving after SIGTERM before the drain starts: covers the time API "
                    "Gateway keeps routing to a task ECS removed from Cloud Map (service.yml: 15), or the ALB to a task a "
                    "Spot interruption stops before its target is deregistered (service.yml: 25). 0 locally.")

    @model_validator(mode="after")
    def _stop_fits_in_ecs_stop_timeout(self) -> Settings:
        # ECS waits at most 120 s (stopTimeout) between SIGTERM and SIGKILL; keep 10 s for the exit itself.
        if self.drain_delay + self.graceful_timeout > 110:
            raise ValueError("drain_delay + graceful_timeout must be at most 110 s (ECS stopTimeout is at most 120 s)")
        return self

    # --- the application ---
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_health_checks: bool = Field(False, description="Access-log health checks too (they dominate log volume).")
    app_version: str = Field("dev", max_length=64, description="Reported by the health check; the image tag.")
    max_body_bytes: int = Field(16 * 1024, ge=1024, le=10 * 1024 * 1024, description="Largest request body.")
    trusted_proxy_hops: int = Field(1, ge=0, le=5, description="Proxies in front (API Gateway or the ALB).")

    # --- who may call the API (app/api/origin.py, logs.py) ---
    origin_verify_secret: SecretStr | None = Field(
        None, description="CloudFront sends it as X-Origin-Verify; requests without it get 403 (the health check "
                    "excepted). Unset or empty: no check (make test's unit tier). SecretStr: never in a repr or log.")
    request_id_header: str = Field(
        "X-Request-Id", pattern=r"^[A-Za-z0-9-]{1,64}$",
        description="The one request header trusted for the request id (set by our ingress, which overwrites "
                    "what a client sent); any other is ignored and an id is generated.")

    @field_validator("origin_verify_secret", mode="before")
    @classmethod
    def _secret_is_a_header_value(cls, value):
        # A template passing an empty parameter means "no secret", not an error at boot.
        if value == "" or value is None:
            return None
        if not isinstance(value, str) or not re.fullmatch(r"[\x21-\x7e]{16,256}", value):
            raise ValueError("must be 16 to 256 visible ASCII characters (it travels as a header value)")
        return value
