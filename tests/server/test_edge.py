"""The local edge behaves like the CloudFront distribution in frontend.yml."""
from __future__ import annotations

import socket

import pytest
import requests

from local.edge import SECURITY_HEADERS, spa_rewrite
from local.stack import LocalStack, StackError

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
    r = requests.get(stack.url + "/api/nope", timeout=5)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


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
        assert r.status_code == 502 and r.json()["error"]["code"] == "bad_gateway"
    finally:
        server.shutdown()
        server.server_close()


def test_any_method_under_api_reaches_the_api_and_gets_json(stack):
    r = requests.request("TRACE", stack.url + "/api/ready", timeout=5)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
