"""`make run`: the whole stack on this machine, with no AWS account and no Docker.

    browser -> edge (:8080, stands in for CloudFront)
                 ├─ /api/*  -> gunicorn + Flask (app/gunicorn.conf.py, as in the image)
                 │     │          └─ DynamoDB API -> moto server (table from notes-data.yml)
                 │     └─ with X-Origin-Verify: a per-run secret, as CloudFront's; the API refuses calls without it
                 └─ other   -> frontend/ (stands in for the S3 bucket)

The tests start the same stack through LocalStack, so what `make run` shows
is what `make test` checks. Ctrl-C stops every process this started.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3

from local import edge
from local.dynamodb_table import create_table, has_table

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app"
FRONTEND_DIR = ROOT / "frontend"
TABLE_NAME = "notes-local"
REGION = "us-east-1"
# moto accepts any credentials; these keep boto3 from looking for real ones.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


class StackError(RuntimeError):
    """Something the user can fix; the message is one line."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None, ok=(200,)) -> None:
    """Poll url until it answers with a status in ok; bounded by timeout."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"{url}: the process exited with code {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status in ok:
                    return
                last = f"HTTP {r.status}"
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.05)
    raise StackError(f"{url} did not answer within {timeout:.0f} s ({last})")


def git_version() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"local-{sha}" if sha else "local"


class LocalStack:
    """moto (DynamoDB) + gunicorn (the API) + the edge (frontend and /api on one origin)."""

    def __init__(self, port: int = 8080, host: str = "127.0.0.1", api_port: int | None = None,
                 db_port: int | None = None, log: Path | None = None, api_env: dict | None = None,
                 wsgi_app: str | None = None, shared_db: bool = False):
        self.host, self.port = host, port
        # shared_db: db_port is another stack's DynamoDB stand-in, already running; this one starts and stops none.
        self.shared_db = shared_db
        # Another WSGI app than the image's (gunicorn.conf.py's wsgi_app), as "module:name" importable from
        # the repository's root: the real-server tests serve tests/support/probe_wsgi.py. `make run` never sets it.
        self.wsgi_app = wsgi_app
        self.api_port = api_port or free_port(host)
        self.db_port = db_port or free_port(host)
        # The children's output: a file this stack opens and closes, or None for the terminal.
        self.log = open(log, "a") if log else None  # noqa: SIM115 - closed in stop()
        self.api_env = api_env or {}
        # As in AWS, the API refuses requests that did not come through the edge (CloudFront): the edge
        # sends this per-run secret as X-Origin-Verify. A test calling the API directly sends
        # origin_headers; api_env={"ORIGIN_VERIFY_SECRET": ""} turns the check off.
        self.origin_secret = secrets.token_urlsafe(32)
        self.db: subprocess.Popen | None = None
        self.api: subprocess.Popen | None = None
        self.edge_server = None
        self._edge_thread: threading.Thread | None = None

    # --- addresses -------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def db_url(self) -> str:
        return f"http://{self.host}:{self.db_port}"

    @property
    def origin_headers(self) -> dict:
        return {edge.ORIGIN_HEADER: self.origin_secret}

    def api_environment(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(FAKE_CREDENTIALS)
        env.update({
            "HOST": self.host, "PORT": str(self.api_port), "NOTES_TABLE": TABLE_NAME,
            "AWS_REGION": REGION, "AWS_ENDPOINT_URL_DYNAMODB": self.db_url,
            "APP_VERSION": git_version(), "PYTHONUNBUFFERED": "1",
        })
        env.update(self.api_env)
        return env

    def dynamodb(self):
        return boto3.client("dynamodb", region_name=REGION, endpoint_url=self.db_url,
                            aws_access_key_id="local", aws_secret_access_key="local")

    # --- lifecycle -------------------------------------------------------
    def _spawn(self, args: list[str], cwd: Path, env: dict | None = None, quiet: bool = False) -> subprocess.Popen:
        out = subprocess.DEVNULL if quiet and self.log is None else self.log
        return subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=out,
                                start_new_session=True)  # Ctrl-C reaches us, and we stop them in order

    def start_db(self) -> None:
        if self.shared_db:
            return
        # moto's own request log would drown the API's JSON lines in `make run`.
        self.db = self._spawn([sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.db_port)], ROOT,
                              quiet=True)
        wait_http(f"{self.db_url}/moto-api/", 30, self.db)
        if has_table():  # the sample's table (notes-data.yml); a copy without the sample has none
            create_table(self.dynamodb(), TABLE_NAME)

    def stop_db(self) -> None:
        _terminate(self.db, 10)
        self.db = None

    def start_api(self) -> None:
        # The origin secret is added here, not in api_environment(): `make bench` starts its servers
        # from api_environment() and sends no X-Origin-Verify header. api_env still wins ("" turns it off).
        env = {**self.api_environment(), "ORIGIN_VERIFY_SECRET": self.origin_secret, **self.api_env}
        app = []
        if self.wsgi_app:  # gunicorn takes the command line's app over the config's
            app = [self.wsgi_app]
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.api = self._spawn([sys.executable, "entrypoint.py", *app], APP_DIR, env)  # as the image starts it
        wait_http(f"{self.api_url}/api/health-check", 30, self.api)

    def start_edge(self) -> None:
        self.edge_server = edge.make_server(self.host, self.port, FRONTEND_DIR, self.api_url, self.origin_secret)
        self._edge_thread = threading.Thread(target=self.edge_server.serve_forever, daemon=True)
        self._edge_thread.start()

    def start(self) -> LocalStack:
        _check_free(self.host, self.port)
        try:
            self.start_db()
            self.start_api()
            self.start_edge()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.edge_server is not None:
            self.edge_server.shutdown()
            self.edge_server.server_close()
            self.edge_server = None
        _terminate(self.api, 30)  # SIGTERM: gunicorn drains in-flight requests
        self.api = None
        if not self.shared_db:
            self.stop_db()
        if self.log is not None:
            self.log.close()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def child_pids(parent: int) -> list[int]:
    """The processes whose parent is `parent` (gunicorn's workers, for a master), from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return pids


def _check_free(host: str, port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StackError(
                    f"port {port} on {host} is already in use (is `make run` running elsewhere?); "
                    f"choose another with `make run PORT=8081`") from None
            raise


def _terminate(proc: subprocess.Popen | None, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def port_number(text: str) -> int:
    """An argparse type: PORT= as a TCP port (1-65535), else one line (not int()'s or bind()'s traceback)."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"PORT={text} is not a port number (1-65535), e.g. make run PORT=8081")
    return port


def not_served(parent: dict | None = None) -> list[str]:
    """A line per service parent.yml declares beyond app/ (`make service` adds them): `make run` serves app/
    alone behind the edge, so it says which prefixes 404 here and the command that runs each on its own
    (docs/services.md, "Running a new service locally")."""
    from blueprint.services import SAMPLE_CONTEXT, existing_services
    from blueprint.templates import parent as parent_template
    return [f"  {s.prefix}/* is not served here: run it alone with `cd {s.context} && HOST=127.0.0.1 PORT=8081 "
            f"{os.path.relpath(sys.executable, ROOT / s.context)} entrypoint.py` "
            f"(http://127.0.0.1:8081{s.prefix}/...; docs/services.md)"
            for s in existing_services(parent or parent_template()) if s.context not in ("", SAMPLE_CONTEXT)]


def main(argv: list[str] | None = None) -> int:
    from scripts.common import Parser  # argparse with its refusals in one line, as every ops command
    parser = Parser(prog="make run", description="Run the frontend, API and a local DynamoDB on one origin.")
    parser.add_argument("--port", type=port_number, default=os.environ.get("PORT", "8080"))
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    stack = LocalStack(port=args.port, host=args.host)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        stack.start()
    except StackError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"message": "local stack ready", "url": stack.url + "/", "api": stack.api_url,
                      "dynamodb": stack.db_url, "table": TABLE_NAME}), flush=True)
    print(f"\n  Open {stack.url}/   (Ctrl-C stops everything)\n"
          f"  Notes are kept in memory by the DynamoDB stand-in: they are gone when this stops.\n", flush=True)
    for line in not_served():
        print(line, flush=True)
    try:
        while not stopping.wait(1):
            for name, proc in (("API", stack.api), ("DynamoDB stand-in", stack.db)):
                if proc.poll() is not None:
                    print(f"make run: the {name} exited with code {proc.returncode}; stopping", file=sys.stderr)
                    return 1
    finally:
        stack.stop()
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
