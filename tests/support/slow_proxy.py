"""A test-only HTTP proxy in front of the DynamoDB stand-in that holds every
request for `delay` seconds: it makes API requests slow without changing the
app, so tests can have requests really in flight when a signal arrives."""
from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SlowProxy:
    def __init__(self, target: str, delay: float):
        self.target = urllib.parse.urlsplit(target)
        self.delay = delay
        self.in_flight = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy._lock:
                    proxy.in_flight += 1
                try:
                    time.sleep(proxy.delay)
                    conn = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=10)
                    conn.request("POST", self.path, body, dict(self.headers))
                    upstream = conn.getresponse()
                    data = upstream.read()
                    self.send_response(upstream.status)
                    for k, v in upstream.getheaders():
                        if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    with proxy._lock:
                        proxy.in_flight -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
