"""A local stand-in for CloudFront: one origin for the frontend and the API.

It behaves as frontend.yml configures the distribution, so the browser sees in
`make run` what it will see in AWS:
- /api/* goes to the API origin, uncached, with every viewer header but Host;
- everything else is a file from frontend/ (the S3 bucket), after the same
  SPA rewrite as the CloudFront Function: a path whose last segment has no dot
  is answered with /index.html, so deep links work; a missing file is a 404;
- the response-headers policy adds the same security headers;
- index.html is never cached, other files briefly.
- a request body is judged before it is read: over API Gateway's 10 MB
  payload quota it is a 413 at once, and a body that stalls is a 408.

Standard library only, so compose.yaml can run it in a plain Python image.
"""
from __future__ import annotations

import argparse
import http.client
import json
import mimetypes
import os
import posixpath
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# frontend.yml's API behaviour (/api/*), which is the app's api.config.API_PREFIX (test_contract.py).
API_PREFIX = "/api/"
# The headers frontend.yml's ResponseHeadersPolicy adds (HSTS only over HTTPS,
# which CloudFront always is and this local server is not).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
                               "base-uri 'self'; form-action 'self'",
    # frontend.yml's CustomHeadersConfig (CloudFront has no dedicated field for these):
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
ORIGIN_HEADER = "X-Origin-Verify"  # frontend.yml's origin custom header; the API refuses requests without it
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
}
STATIC_METHODS = {"GET", "HEAD"}
# The largest body that reaches the API in AWS: API Gateway's HTTP API payload quota
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html). CloudFront
# documents no body limit of its own, only 20,480 bytes for the request without its body
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html).
MAX_BODY_BYTES = 10 * 1024 * 1024
# Seconds a client has to send a request body once its headers are in.
BODY_TIMEOUT = 5.0
# The edge's own errors under /api/ look like the app's (Flask's jsonify with app.json.compact and this
# mimetype, app/api/__init__.py): one JSON shape for a client, whoever answered.
# tests/server/test_edge.py compares the two 413s.
JSON_TYPE = "application/json; charset=utf-8"


def json_error(code: str, message: str) -> bytes:
    return (json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":"),
                       ensure_ascii=False) + "\n").encode()


def spa_rewrite(path: str) -> str:
    """The CloudFront Function's rule (frontend.yml), in Python."""
    last = path.rsplit("/", 1)[-1]
    return "/index.html" if "." not in last else path


def cache_control(key: str) -> str:
    return "no-cache" if key.endswith(".html") else "public, max-age=300"


class EdgeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "local-edge"
    # A connection silent this long (idle keep-alive, or stalled headers) is closed, so stalled
    # clients cannot pile up threads.
    timeout = 60
    root: Path
    api_host: str
    api_port: int
    origin_secret: str | None = None

    def log_message(self, format, *args):  # the API logs its own requests
        pass

    def _dispatch(self) -> None:
        if self.path == API_PREFIX.rstrip("/") or self.path.startswith(API_PREFIX):
            self._proxy()
        elif self.command in STATIC_METHODS:
            self._static()
        else:
            self._reply(403, "text/plain", b"This method is not allowed for static files.\n")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def __getattr__(self, name: str):
        # Any other method (TRACE, PROPFIND, ...) is the API's to refuse, in JSON, as CloudFront forwards it.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _reply(self, status: int, content_type: str, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _static(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        key = spa_rewrite(posixpath.normpath(urllib.parse.unquote(path)))
        file = (self.root / key.lstrip("/")).resolve()
        if not file.is_relative_to(self.root) or not file.is_file():
            self._reply(404, "application/xml", b"<Error><Code>NoSuchKey</Code></Error>")
            return
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in ("application/javascript", "text/javascript"):
            content_type += "; charset=utf-8"
        self._reply(200, content_type, file.read_bytes(), {"Cache-Control": cache_control(key)})

    def _error(self, status: int, code: str, message: str) -> None:
        """A JSON error after which the connection closes: the body, if any, was not read."""
        self.close_connection = True
        self._reply(status, JSON_TYPE, json_error(code, message), {"Connection": "close"})

    def _read_body(self, length: int) -> bytes | None:
        """Exactly `length` bytes within BODY_TIMEOUT; None (after a 408) if they do not come."""
        deadline = time.monotonic() + BODY_TIMEOUT
        chunks, left = [], length
        try:
            while left:
                self.connection.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = self.rfile.read1(min(left, 64 * 1024))
                if not chunk:  # the client went away
                    self.close_connection = True
                    return None
                chunks.append(chunk)
                left -= len(chunk)
        except TimeoutError:
            self._error(408, "request_timeout", "The request body did not arrive in time.")
            return None
        finally:
            self.connection.settimeout(self.timeout)
        return b"".join(chunks)

    def _proxy(self) -> None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._error(411, "length_required", "Send a Content-Length.")
            return
        body = None
        if length is not None:
            if not length.strip().isdigit():
                self._error(400, "bad_request", "The Content-Length header is not a number.")
                return
            if int(length) > MAX_BODY_BYTES:  # judged before reading a byte of it
                self._error(413, "payload_too_large", f"The body is over {MAX_BODY_BYTES} bytes.")
                return
            body = self._read_body(int(length))
            if body is None:
                return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["X-Forwarded-For"] = self.client_address[0]
        headers["X-Forwarded-Proto"] = "http"
        if self.origin_secret:  # like CloudFront's origin custom header, it replaces any the viewer sent
            headers = {k: v for k, v in headers.items() if k.lower() != ORIGIN_HEADER.lower()}
            headers[ORIGIN_HEADER] = self.origin_secret
        conn = http.client.HTTPConnection(self.api_host, self.api_port, timeout=30)
        try:
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the API answered before taking the whole body (a 413): relay that answer
            upstream = conn.getresponse()
            data = upstream.read()
        except OSError:
            self._reply(502, JSON_TYPE, json_error("bad_gateway", "The API origin is not answering."))
            return
        finally:
            conn.close()
        # The origin's own Server and Date pass through, as CloudFront passes them: each is sent once.
        self.send_response_only(upstream.status, upstream.reason)
        sent = set()
        for name, value in upstream.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
                sent.add(name.lower())
        if "server" not in sent:
            self.send_header("Server", self.version_string())
        if "date" not in sent:
            self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", str(len(data)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def make_server(host: str, port: int, root: Path, api: str, origin_secret: str | None = None) -> ThreadingHTTPServer:
    origin = urllib.parse.urlsplit(api)
    handler = type("Handler", (EdgeHandler,), {
        "root": root.resolve(), "api_host": origin.hostname, "api_port": origin.port or 80,
        "origin_secret": origin_secret,
    })
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent / "frontend")
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="API origin URL")
    parser.add_argument("--origin-secret", default=os.environ.get("ORIGIN_VERIFY_SECRET"),
                        help=f"sent as {ORIGIN_HEADER} (default: $ORIGIN_VERIFY_SECRET)")
    args = parser.parse_args(argv)
    try:
        server = make_server(args.host, args.port, args.root, args.api, args.origin_secret)
    except OSError as exc:
        print(f"edge: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    print(json.dumps({"message": "edge listening", "url": f"http://{args.host}:{args.port}/"}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
