"""The local edge behaves like the CloudFront distribution in frontend.yml."""
from __future__ import annotations

import socket

import pytest
import requests

from local import edge
from local.edge import SECURITY_HEADERS, spa_rewrite
from local.stack import LocalStack, StackError
from tests.server.support import RawReply, assert_json_error, exchange

pytestmark = pytest.mark.server


@pytest.mark.parametrize("path", ["/", "/notes/abc", "/notes/abc/", "/some/deep/link"])
def test_deep_links_get_index_html_uncached(stack, path):
    r = requests.get(stack.url + path, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Cache-Control"] == "no-cache"
    assert "<title>Notes" in r.text
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value


def test_assets_are_served_with_their_type(stack):
    r = requests.get(stack.url + "/assets/app.js", timeout=5)
    assert r.status_code == 200 and "javascript" in r.headers["Content-Type"]
    assert requests.get(stack.url + "/assets/app.css", timeout=5).headers["Content-Type"].startswith("text/css")


@pytest.mark.parametrize("path", ["/missing.png", "/assets/nope.js", "/..%2f..%2fetc%2fhost.conf", "/%2e%2e/%2e%2e/etc/hosts.txt"])
def test_missing_files_are_404_not_the_spa(stack, path):
    r = requests.get(stack.url + path, timeout=5)
    assert r.status_code == 404
    assert "<title>Notes" not in r.text


def test_api_errors_stay_json_through_the_edge(stack):
    assert_json_error(requests.get(stack.url + "/api/nope", timeout=5), 404, "not_found")


def test_static_paths_refuse_writes(stack):
    assert requests.post(stack.url + "/index.html", data="x", timeout=5).status_code == 403


def test_spa_rewrite_rule():
    assert spa_rewrite("/") == "/index.html"
    assert spa_rewrite("/notes/123") == "/index.html"
    assert spa_rewrite("/assets/app.js") == "/assets/app.js"
    assert spa_rewrite("/favicon.ico") == "/favicon.ico"


def test_a_busy_port_is_a_clear_error(stack):
    with pytest.raises(StackError, match=f"port {stack.port} .* already in use"):
        LocalStack(port=stack.port).start()


def test_make_run_exits_non_zero_with_one_line_on_a_busy_port(stack):
    import subprocess
    import sys

    from local.stack import ROOT
    result = subprocess.run([sys.executable, "-m", "local.stack", "--port", str(stack.port)], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "already in use" in result.stderr


@pytest.mark.parametrize("argv, env", [(["--port", "abc"], {}), (["--port", "99999"], {}), ([], {"PORT": "0"})])
def test_make_run_refuses_what_is_not_a_port_in_one_line(argv, env, monkeypatch, capsys):
    """PORT=abc was int()'s ValueError, PORT=99999 bind()'s OverflowError, each a traceback."""
    from local.stack import main
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert err.startswith("error: make run: argument --port: PORT=") and "is not a port number (1-65535)" in err


@pytest.mark.parametrize("port", ["", "abc"])
def test_make_run_with_an_empty_port_says_what_a_wrong_one_says(port, capsys):
    """`make run PORT=` gave argparse's "argument --port: expected one argument": the Makefile passed nothing
    after --port. The command make runs (make -n), run here, refuses PORT= as it refuses PORT=abc."""
    import shlex
    import subprocess

    from local.stack import ROOT, main
    shown = subprocess.run(["make", "-n", "--no-print-directory", "run", f"PORT={port}"], cwd=ROOT, capture_output=True,
                           text=True, timeout=30, check=True).stdout.splitlines()
    argv = shlex.split(next(line for line in shown if " -m local.stack " in line))
    with pytest.raises(SystemExit) as exit_:
        main(argv[argv.index("local.stack") + 1:])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err == f"error: make run: argument --port: PORT={port} is not a port number " \
                                            "(1-65535), e.g. make run PORT=8081\n"


def test_make_run_says_its_notes_last_only_while_it_runs(tmp_path):
    """moto keeps the table in memory: the start-up lines say so (and docs/local.md)."""
    import signal
    import subprocess
    import sys

    from local.stack import ROOT, free_port
    proc = subprocess.Popen([sys.executable, "-m", "local.stack", "--port", str(free_port())], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    try:  # the API's own log lines share the terminal: read up to the line after "Open ..."
        while (line := proc.stdout.readline()) and len(lines) < 100:
            lines.append(line)
            if len(lines) > 1 and "Ctrl-C" in lines[-2]:
                break
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert any("local stack ready" in line for line in lines), lines
    assert "gone when this stops" in lines[-1], lines


def test_unreachable_api_origin_is_a_json_502(tmp_path):
    import threading

    from local import edge
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    server = edge.make_server("127.0.0.1", 0, tmp_path, f"http://127.0.0.1:{dead}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        r = requests.get(f"http://127.0.0.1:{server.server_address[1]}/api/health-check", timeout=5)
        assert_json_error(r, 502, "bad_gateway")
    finally:
        server.shutdown()
        server.server_close()


def test_any_method_under_api_reaches_the_api_and_gets_json(stack):
    r = requests.request("TRACE", stack.url + "/api/ready", timeout=5)
    assert_json_error(r, 405, "method_not_allowed")


def test_an_announced_body_over_10_mb_is_413_before_it_is_sent(stack):
    """API Gateway refuses bodies over 10 MB; the edge says so from the headers alone, at once,
    instead of reading 12 MB first (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html)."""
    reply, took = exchange(stack.host, stack.port, b"POST /api/probe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                                   b"Content-Length: %d\r\n\r\n{\"text\": \"" % (12 * 1024 * 1024))
    assert_json_error(reply, 413, "payload_too_large", closes=True)
    assert took < 2


def test_the_edges_413_has_the_apps_shape_and_content_type(stack):
    """A client sees one error format under /api/, whether the edge or the app refused the body:
    same Content-Type, same JSON layout (spacing, key order, final newline); only the limit in the
    message differs."""
    head = b"POST /api/probe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    secret = b"%s: %s\r\n" % (edge.ORIGIN_HEADER.encode(), stack.origin_secret.encode())
    at_edge, _ = exchange(stack.host, stack.port, head + b"Content-Length: %d\r\n\r\n" % (edge.MAX_BODY_BYTES + 1))
    # Connection: close, so the app's server closes after its answer instead of waiting for the body.
    at_app, _ = exchange(stack.host, stack.api_port, head + secret + b"Connection: close\r\nContent-Length: 1000000\r\n\r\n")
    edge_reply, app_reply = RawReply.parse(at_edge), RawReply.parse(at_app)
    assert "X-Request-Id" not in edge_reply.headers and app_reply.headers["X-Request-Id"]  # two different answerers
    edge_error = assert_json_error(edge_reply, 413, "payload_too_large", closes=True)
    app_error = assert_json_error(app_reply, 413, "payload_too_large")
    assert edge_reply.headers["Content-Type"] == app_reply.headers["Content-Type"]
    assert edge_reply.text.replace(edge_error["message"], "M") == app_reply.text.replace(app_error["message"], "M")


def headers_named(reply: bytes, name: str) -> list[str]:
    head = reply.partition(b"\r\n\r\n")[0].decode("latin-1")
    return [line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:] if line.lower().startswith(name.lower() + ":")]


@pytest.mark.parametrize("path", ["/api/health-check", "/api/nope", "/", "/assets/app.css"])
def test_server_and_date_are_sent_once(stack, path):
    reply, _ = exchange(stack.host, stack.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 "), reply[:100]
    assert len(headers_named(reply, "Server")) == 1, reply[:600]
    assert len(headers_named(reply, "Date")) == 1, reply[:600]
    if path.startswith("/api/"):  # the API's own Server passes through, as through CloudFront
        assert not headers_named(reply, "Server")[0].startswith("local-edge") and "X-Request-Id" in RawReply.parse(reply).headers


def test_a_stalled_body_is_408_at_the_edge(stack, monkeypatch):
    monkeypatch.setattr(edge, "BODY_TIMEOUT", 1.0)  # the edge runs in-process and reads it per request
    reply, took = exchange(stack.host, stack.port, b"POST /api/probe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                                   b"Content-Length: 100\r\n\r\n{\"te", edge.BODY_TIMEOUT + 5)
    assert_json_error(reply, 408, "request_timeout", closes=True)
    assert edge.BODY_TIMEOUT - 0.5 < took < edge.BODY_TIMEOUT + 2


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_a_content_length_that_is_not_a_number_is_400_at_the_edge(stack, length):
    reply, _ = exchange(stack.host, stack.port, f"POST /api/probe HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode())
    assert_json_error(reply, 400, "bad_request", closes=True)


def test_a_body_of_the_largest_size_reaches_the_api(stack):
    """10 MB exactly passes the edge; the API then applies its own, smaller limit."""
    r = requests.post(stack.url + "/api/probe", data=b"x" * edge.MAX_BODY_BYTES,
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert_json_error(r, 413, "payload_too_large")
    assert r.headers["X-Request-Id"]  # answered by the API, not by the edge
