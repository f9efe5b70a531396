"""gunicorn settings for a 0.25 vCPU / 0.5 GB Fargate task: the server as configuration and
documented hooks (https://gunicorn.org/reference/settings/), nothing of gunicorn's own code replaced.

Every value comes from api.config.Settings (environment variables), so the container, `make run` and
the tests all run this same file, started the same way: `python entrypoint.py` (see entrypoint.py for
the drain delay after SIGTERM).

Timing contract (checked by tests/templates against service.yml):
    ALB:      target group deregistration delay < GRACEFUL_TIMEOUT < container stopTimeout
    HTTP API: DRAIN_DELAY + GRACEFUL_TIMEOUT + margin <= container stopTimeout <= 120
On SIGTERM the entrypoint waits DRAIN_DELAY seconds (still serving), then passes the signal to
gunicorn, which closes its listener and gives requests in flight GRACEFUL_TIMEOUT seconds.

Why the gevent worker (docs/performance.md, "Choosing the server", has the measurements): it gives
each connection a greenlet, so a client that sends its request slowly, or stalls in the middle of it,
holds a few KiB of memory and one of `worker_connections` slots, never a thread the health check
needs. gthread (gunicorn 27) still lets a half-sent head or body hold one of its threads.
"""
import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from api.config import Settings  # noqa: E402
from api.logs import logging_config  # noqa: E402

settings = Settings()

wsgi_app = "api.wsgi:app"
bind = [f"{settings.host}:{settings.port}"]

# One process; greenlets overlap the waits on DynamoDB. On a quarter of a vCPU a second process only
# adds memory. gevent monkey-patches the standard library when the worker starts.
worker_class = "gevent"
workers = settings.web_concurrency
# Connections one worker holds at once, idle and half-sent ones included; past it, new connections
# (the health check's too) wait in the kernel's backlog. Each costs a greenlet and at most the head
# bounds below: docs/performance.md derives the memory bound from these numbers.
worker_connections = settings.worker_connections
# The app is imported in the worker, after gevent has patched the standard library: botocore and
# urllib3 imported before the patch keep the unpatched ssl and can fail with RecursionError
# (gevent#1016, gunicorn#2515, boto3#4061). It also lets the app build its clients in the worker,
# never in a master that forks.
preload_app = False

# Longer than the idle timeout of whatever is in front (ALB: 60 s), so the proxy, not gunicorn, closes
# idle connections and never races a reused one. The gevent worker also bounds each request head by
# it: a client has `keepalive` seconds to send its request line and headers.
keepalive = settings.keepalive
# The master's budget from the SIGTERM it receives (after the entrypoint's DRAIN_DELAY) to SIGKILL.
graceful_timeout = settings.graceful_timeout
# A worker whose main loop is silent this long is killed and replaced (0: never, as on Lambda: api/config.py).
timeout = settings.worker_timeout
# Heartbeat files on tmpfs: works with a read-only root filesystem, and never blocks on a slow disk. Where
# /dev/shm is missing or not ours to write (Lambda mounts no tmpfs there, lambci/docker-lambda#26; its one
# writable path is /tmp), gunicorn's default: the system's temporary directory.
worker_tmp_dir = "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else None

# Logs: JSON on stdout. The app writes its own access log (with request ids, without health checks),
# so gunicorn's is off.
accesslog = None
errorlog = "-"
logconfig_dict = logging_config(settings.log_level)

# Requests reach us from one proxy (API Gateway's VPC link or the ALB). Only the app's ProxyFix reads
# X-Forwarded-*, for exactly that one hop; gunicorn keeps its default of trusting them from loopback.

# The request head: what gunicorn buffers for a connection before the app sees it. The proxies in
# front never pass more than 20,480 bytes of request line and headers (CloudFront:
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-general,
# "Maximum length of a request, including headers and query strings"; API Gateway HTTP APIs: 10,240 bytes,
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html), and no URL over
# 8,192 bytes (CloudFront). A direct client gets no more: gunicorn answers 414/431 past these, so one
# connection's head is at most limit_request_line + limit_request_fields * (limit_request_field_size + 2)
# bytes (gunicorn's max_buffer_headers), about 57 KB here instead of gunicorn's default ~820 KB
# (api/config.py says why 48 fields of 1,024 bytes).
limit_request_line = settings.limit_request_line
limit_request_fields = settings.limit_request_fields
limit_request_field_size = settings.limit_request_field_size


def post_worker_init(worker):
    """Process-wide tuning, once per worker, after the app is loaded (a documented server hook).

    gc.freeze(): the objects the app holds for its whole life (modules, the app, its clients) move to
    the permanent generation, so a full collection no longer walks them on every pass
    (https://docs.python.org/3/library/gc.html#gc.freeze)."""
    gc.freeze()


# gunicorn 24+ opens a control socket under $HOME by default. A container with a read-only root
# filesystem has nowhere to put it, and nothing here uses it: ECS manages the process with signals.
control_socket_disable = True
