"""gunicorn settings for a 0.25 vCPU / 0.5 GB Fargate task.

Every value comes from api.config.Settings (environment variables), so the
container, `make run` and the tests all run this same file.

Timing contract (checked by tests/templates against service.yml):
    ALB:      target group deregistration delay < GRACEFUL_TIMEOUT < container stopTimeout
    HTTP API: DRAIN_DELAY + GRACEFUL_TIMEOUT + margin <= container stopTimeout <= 120
On SIGTERM (a deploy, a scale-in, or a Fargate Spot interruption, which gives
two minutes) the worker keeps serving new connections for DRAIN_DELAY seconds
(0 behind the ALB, whose deregistration delay already covers it; see
api/server.py), then closes its listener, lets in-flight requests finish for up
to GRACEFUL_TIMEOUT seconds, and exits before ECS would SIGKILL it. gunicorn's
master SIGKILLs workers `graceful_timeout` seconds after SIGTERM, so that
setting below is the sum of both.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from api import server  # noqa: E402
from api.config import Settings  # noqa: E402
from api.logs import logging_config  # noqa: E402

settings = Settings()
server.install_json_errors()  # JSON, not HTML, for errors gunicorn answers itself

wsgi_app = "api.wsgi:app"
bind = [f"{settings.host}:{settings.port}"]

# One process with threads: on a quarter of a vCPU a second process only adds
# memory and context switches, while threads overlap the waits on DynamoDB.
# `make bench` measures the alternatives.
worker_class = "api.server.DrainingThreadWorker"  # gthread + drain delay, refusal when draining, slow-client cut-off
workers = settings.web_concurrency
threads = settings.threads
# Open connections a worker holds, idle ones included (service.yml's nofile ulimit is above it).
worker_connections = settings.worker_connections
# The app is built in each worker (create_app runs there), so nothing built at start-up crosses a fork.
preload_app = False

# Longer than the idle timeout of whatever is in front (ALB: 60 s), so the
# proxy, not gunicorn, closes idle connections and never races a reused one.
keepalive = settings.keepalive
# The master's budget from SIGTERM to SIGKILL: the drain delay, then the drain.
graceful_timeout = settings.drain_delay + settings.graceful_timeout
timeout = 30  # a worker silent this long is killed and replaced
# Heartbeat files on tmpfs: works with a read-only root filesystem, and never
# blocks on a slow disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Logs: JSON on stdout. The app writes its own access log (with request ids,
# without health checks), so gunicorn's is off.
accesslog = None
errorlog = "-"
logconfig_dict = logging_config(settings.log_level)

# Requests reach us from one proxy (API Gateway's VPC link or the ALB). Only
# the app's ProxyFix reads X-Forwarded-*, for exactly that one hop; gunicorn
# keeps its default of trusting such headers from loopback only.
limit_request_line = 8190
limit_request_fields = 100


# gunicorn 24+ opens a control socket under $HOME by default. A container
# with a read-only root filesystem has nowhere to put it, and nothing here
# uses it: ECS manages the process with signals.
control_socket_disable = True
