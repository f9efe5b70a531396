"""The entrypoint (app/entrypoint.py) when ECS stops the task while gunicorn is still starting: the
SIGTERM must reach gunicorn, never kill the entrypoint alone and leave gunicorn running without it."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from local.stack import APP_DIR

pytestmark = pytest.mark.server

# Runs entrypoint.main with the child's command swapped for a stand-in that sleeps (gunicorn's start-up),
# and a SIGTERM arriving the moment the child exists, before Popen has returned to the entrypoint.
SCRIPT = """
import os, signal, subprocess, sys
import entrypoint
real_popen = subprocess.Popen

def popen(args, **kwargs):
    child = real_popen([sys.executable, "-c", "import time; time.sleep(60)"], **kwargs)
    print(child.pid, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    return child

subprocess.Popen = popen
sys.exit(entrypoint.main([]))
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_sigterm_while_gunicorn_starts_stops_gunicorn_too():
    env = {**os.environ, "DRAIN_DELAY": "0"}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=APP_DIR, env=env, stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    try:
        code = proc.wait(10)
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the entrypoint died and left its child running"
        assert code == 128 + 15, code  # the child's exit by SIGTERM, as a shell reports it
    finally:
        if _alive(child):
            os.kill(child, 9)
        proc.stdout.close()
