"""The gunicorn internals api/server.py relies on, each named, so a gunicorn bump that moves one
fails here with its name instead of somewhere in the slow-client tests (or in production).

Dependabot does not propose gunicorn version updates (.github/dependabot.yml) for this reason: bump it
by hand, then run this file and tests/server. Written against gunicorn 27.0.1.
"""
import inspect
import logging
from pathlib import Path

import pytest
import yaml
from gunicorn import util
from gunicorn.config import Config
from gunicorn.http import errors, message, parser, unreader
from gunicorn.workers import gthread

WRITTEN_AGAINST = "27.0.1"
HINT = (f"api/server.py (DrainingThreadWorker) was written against gunicorn {WRITTEN_AGAINST}'s gthread "
        "internals: check what changed, adapt the worker, and run tests/server")


def source(function) -> str:
    return inspect.getsource(function)


@pytest.fixture(scope="module")
def worker():
    """A stock gthread worker as gunicorn builds one (not started): its instance attributes."""
    return gthread.ThreadWorker(0, 0, [], None, 30, Config(), logging.getLogger(__name__))


@pytest.mark.parametrize("name", ["keepalived_conns", "method_queue", "nr_conns", "alive", "sockets", "cfg", "log"])
def test_worker_attributes(worker, name):
    assert hasattr(worker, name), f"ThreadWorker().{name} is gone: {HINT}"
    assert hasattr(worker.method_queue, "defer"), HINT


@pytest.mark.parametrize("name,params", [
    ("handle_exit", ["sig", "frame"]), ("set_accept_enabled", ["enabled"]), ("handle_request", ["req", "conn"]),
    ("accept", ["listener"]), ("on_client_socket_readable", ["conn", "client"]), ("enqueue_req", ["conn"]),
    ("murder_pending", []), ("handle_error", ["req", "client", "addr", "exc"]), ("handle", ["conn"]),
    ("finish_request", ["conn", "fs"]),
])
def test_worker_methods_we_override_or_call(name, params):
    method = getattr(gthread.ThreadWorker, name, None)
    assert method is not None, f"ThreadWorker.{name} is gone: {HINT}"
    assert list(inspect.signature(method).parameters)[1:] == params, f"ThreadWorker.{name} changed: {HINT}"


def test_what_gthread_does_that_the_worker_relies_on():
    # A pipelined request read ahead by the last one's thread goes straight back to a thread, through
    # enqueue_req (where the worker gives it a fresh deadline).
    assert "unreader.buf.getvalue()" in source(gthread.ThreadWorker.finish_request), HINT
    assert "self.enqueue_req(conn)" in source(gthread.ThreadWorker.finish_request), HINT
    # A connection the loop marks data_ready skips gthread's wait for a first byte; conn.init() runs in the
    # thread (the worker hands its buffered bytes to the parser there); parse errors go to handle_error.
    handle = source(gthread.ThreadWorker.handle)
    assert "conn.data_ready" in handle and "conn.init()" in handle and "next(conn.parser)" in handle, HINT
    assert "self.handle_error(req, conn.sock, conn.client, e)" in handle, HINT
    # The drain loop reads graceful_timeout after the drain delay (end_drain_delay sets it).
    assert "self.cfg.graceful_timeout" in source(gthread.ThreadWorker.run), HINT


def test_connection_and_parser():
    assert list(inspect.signature(gthread.TConn).parameters) == ["cfg", "sock", "client", "server"], HINT
    conn_init = source(gthread.TConn.__init__)
    for name in ("self.sock", "self.parser", "self.initialized", "self.data_ready", "self.client"):
        assert name in conn_init, f"TConn {name} is gone: {HINT}"
    assert "http.get_parser(self.cfg, self.sock, self.client)" in source(gthread.TConn.init), HINT
    assert "self.unreader = SocketUnreader(source)" in source(parser.Parser.__init__), HINT
    assert "self.mesg" in source(parser.Parser.__init__), HINT
    # DeadlineUnreader overrides chunk(); the Unreader keeps its buffer in .buf and takes unread().
    assert list(inspect.signature(unreader.SocketUnreader.chunk).parameters) == ["self", "size_hint"], HINT
    assert "self.sock.recv" in source(unreader.SocketUnreader.chunk), HINT
    reader = unreader.IterUnreader([b"x"])
    assert hasattr(reader, "buf") and hasattr(reader, "unread"), HINT


def test_request_attributes_and_errors():
    req = message.Request(Config(), unreader.IterUnreader([b"GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"]),
                          ("127.0.0.1", 1))
    assert hasattr(req, "_expected_100_continue") and req.must_close is False, HINT
    for error in (errors.LimitRequestLine, errors.LimitRequestHeaders, errors.InvalidHeader):
        assert issubclass(error, errors.ParseException), HINT
    for name in ("write_error", "write_nonblock"):
        assert callable(getattr(util, name, None)), f"gunicorn.util.{name} is gone: {HINT}"
    for name in ("limit_request_line", "limit_request_fields", "limit_request_field_size"):
        assert hasattr(Config(), name), HINT


def test_dependabot_leaves_gunicorn_version_updates_to_a_person():
    config = yaml.safe_load((Path(__file__).parents[2] / ".github" / "dependabot.yml").read_text())
    pip = next(u for u in config["updates"] if u["package-ecosystem"] == "pip")
    ignored = {i["dependency-name"]: set(i.get("update-types", ["all"])) for i in pip.get("ignore", [])}
    assert ignored.get("gunicorn") in ({"all"}, {f"version-update:semver-{t}" for t in ("major", "minor", "patch")})
