"""The container's command: gunicorn, with the stop signal held back DRAIN_DELAY seconds.

API Gateway's VPC link keeps sending requests to a task for a while after ECS removes it from Cloud Map,
and ECS sends SIGTERM right after that removal (https://github.com/aws/containers-roadmap/issues/1639).
gunicorn has no setting or hook for "keep serving a while after SIGTERM" (its master closes the listeners
as soon as it is told to stop), so this process starts gunicorn as its child and, on SIGTERM, waits
DRAIN_DELAY seconds before passing the signal on; gunicorn then drains for GRACEFUL_TIMEOUT. service.yml
sets 15 s behind the HTTP API and 25 s behind the ALB: a deploy deregisters the target before SIGTERM, but a
Fargate Spot interruption sends SIGTERM while the target is still registered, so the task keeps serving until
the target group's health checks can have taken it out. The default here, 0, is for `make run`. Every other
signal is passed on at once (SIGINT, SIGQUIT, SIGHUP, SIGTTIN, ...), a second SIGTERM too. Signals that come
while gunicorn is still starting are held and delivered once it has started. It exits with gunicorn's status, 128 + N for a
signal N, as a shell would. Safe as PID 1 (`docker run`): every signal it must act on has a handler, and
the only child it has is gunicorn, which reaps its own workers; ECS runs an init process in front of it
anyway (service.yml, InitProcessEnabled).

Alternatives rejected: tini/dumb-init forward signals but cannot delay one; a shell `trap` is
PID-1-hostile and not exec-form.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

FORWARDED = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2,
             signal.SIGTTIN, signal.SIGTTOU, signal.SIGWINCH)


def service_environment(environ) -> dict[str, str]:
    """The server's environment: this one, plus each name of SERVICE_ENVIRONMENT_NAMES set to the value at the
    same place in SERVICE_ENVIRONMENT_VALUES (comma-separated). service.yml passes a block's own environment
    this way with Compute=Lambda, where a function's variables are a map whose names CloudFormation cannot
    take from a parameter; on Fargate each is a variable of its own and these two are unset."""
    out = dict(environ)
    names = environ.get("SERVICE_ENVIRONMENT_NAMES", "").split(",")
    values = environ.get("SERVICE_ENVIRONMENT_VALUES", "").split(",")
    for i, name in enumerate(names):
        if name:
            out[name] = values[i] if i < len(values) else ""
    return out


def main(argv: list[str]) -> int:
    # The variable is api.config.Settings.drain_delay, which gunicorn.conf.py validates at boot (bounds,
    # and DRAIN_DELAY + GRACEFUL_TIMEOUT within stopTimeout). Read here with the standard library only:
    # importing the app's settings would cost this process ~35 MB of the task's memory for one integer.
    try:
        delay = int(os.environ.get("DRAIN_DELAY", "0"))
    except ValueError:
        print(f"DRAIN_DELAY must be a whole number of seconds, not {os.environ['DRAIN_DELAY']!r}", file=sys.stderr)
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    # The handlers go in before gunicorn starts, so a signal that comes while it starts is never the default
    # action (which would kill this process and orphan gunicorn): one that comes before the child exists is
    # remembered and delivered to it as soon as it does.
    child: subprocess.Popen | None = None
    pending: list[int] = []
    stopping = threading.Event()

    def forward(signum, _frame):
        if child is None:
            pending.append(signum)
        elif child.poll() is None:
            child.send_signal(signum)

    def term(signum, frame):
        if stopping.is_set() or delay == 0:
            forward(signum, frame)  # a second SIGTERM does not wait again
            return
        stopping.set()
        timer = threading.Timer(delay, forward, (signum, None))
        timer.daemon = True
        timer.start()

    for sig in FORWARDED:
        signal.signal(sig, forward)
    signal.signal(signal.SIGTERM, term)
    child = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", *argv], cwd=here,
                             env=service_environment(os.environ))
    while pending:
        forward(pending.pop(0), None)
    code = child.wait()
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
