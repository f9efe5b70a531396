"""gunicorn integration: the worker class and JSON for gunicorn's own errors.

Both are set in gunicorn.conf.py.

DrainingThreadWorker is gunicorn's gthread worker plus two things:

1. Stopping (SIGTERM from ECS on a deploy, a scale-in or a Spot reclaim).
   a. Drain delay (DRAIN_DELAY, 0 by default). API Gateway's VPC link keeps
      sending requests to a task for a while after ECS removes it from Cloud
      Map, and ECS sends SIGTERM right after that removal
      (https://github.com/aws/containers-roadmap/issues/1639). So for
      DRAIN_DELAY seconds after SIGTERM the worker carries on as before: it
      accepts and serves new connections, but answers with "Connection: close"
      so the proxy stops reusing its connections to us. Behind the ALB the
      target group's deregistration delay does this job, and the delay is 0.
   b. Drain. Then the worker closes its listener at once: a late client is
      refused (and can retry elsewhere) instead of waiting in the kernel's
      backlog to be reset when the process exits, while accepted requests get
      up to GRACEFUL_TIMEOUT seconds to finish.
   gunicorn's master SIGKILLs workers `graceful_timeout` seconds after it
   forwards SIGTERM (Arbiter.stop), so gunicorn.conf.py gives the master the
   whole budget, graceful_timeout = DRAIN_DELAY + GRACEFUL_TIMEOUT, and the
   worker spends what is left of it after the delay on the drain. No master
   hook or Arbiter subclass is needed: the master only waits longer.
   The health check keeps answering 200 during the delay. Nothing would act
   on a "draining" answer (ECS already stops the task, and API Gateway does
   not health-check), while a failing container health check would only add
   noise to a stop that is going as planned.

2. Slow clients (CLIENT_TIMEOUT, 5 s by default). gthread hands a connection to
   a thread as soon as it is readable, and the thread then blocks until the
   whole request has arrived: 8 clients that send half a request and stall
   hold all 8 threads, the health check stops answering and ECS replaces the
   task. Here the event loop reads each request into memory first (headers,
   and a body of at most MAX_BODY_BYTES) and only a complete request gets a
   thread. A client that has not sent its whole request within CLIENT_TIMEOUT
   of connecting (or of starting its next request on a kept-alive connection)
   gets a 408 in the API's JSON shape, or a plain close if it sent nothing.
   Idle kept-alive connections wait in the event loop, as in gthread, until
   `keepalive`. A request the loop does not buffer (a body over MAX_BODY_BYTES,
   which the app refuses with 413 without reading it; pipelined requests; any
   request once half-received ones hold BUFFER_BUDGET) is read by its thread
   with a CLIENT_TIMEOUT socket timeout as a backstop.

write_json_error: requests that never reach Flask (a request line over the
limit, an invalid header, a bad chunked body) are answered by gunicorn with a
small HTML page. The API promises JSON for every response, so this replaces
gunicorn.util.write_error, the one function gunicorn uses for those replies.
Status codes and logging stay gunicorn's.
"""
from __future__ import annotations

import errno
import json
import re
import selectors
import socket
import threading
import time
from collections import deque
from functools import partial

from gunicorn import util
from gunicorn.workers.gthread import TConn, ThreadWorker

from .config import Settings
from .errors import HTTP_CODES

# The most the event loop buffers for the request line and headers; a bigger
# head goes to gunicorn's parser, which enforces its own limits (431, 414).
MAX_HEAD_BYTES = 64 * 1024
RECV_BYTES = 64 * 1024
# The most all half-received requests may hold together (the task has 512 MB). Past it, a
# request goes to a thread as soon as its head is in, as in stock gthread, so many large
# bodies sent at once cannot run the task out of memory.
BUFFER_BUDGET = 32 * 1024 * 1024


def json_error(status_int: int, reason: str) -> bytes:
    body = json.dumps(
        {"error": {"code": HTTP_CODES.get(status_int, "bad_request"), "message": reason}}
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    return head + body


REQUEST_TIMEOUT = json_error(408, "The request did not arrive in time.")
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_EXPECT_CONTINUE = re.compile(rb"\nexpect[ \t]*:[ \t]*100-continue[ \t]*\r?\n", re.IGNORECASE)


def expects_continue(data: bytes | bytearray) -> bool:
    """An HTTP/1.1 head (complete in `data`) that waits for "100 Continue" before its body (RFC 9110 10.1.1)."""
    end = data.find(b"\r\n\r\n")
    head = bytes(data[:end + 2])
    return end >= 0 and head.split(b"\r\n", 1)[0].endswith(b"HTTP/1.1") and bool(_EXPECT_CONTINUE.search(head))


def request_buffered(data: bytes | bytearray, max_body: int) -> bool | None:
    """Whether `data` (the start of one HTTP/1.x request) can go to a thread.

    None: not yet, more is needed. True: the whole request is here. False: the
    head is here but the body will not be buffered (over max_body, or framing
    gunicorn's parser will refuse anyway); its thread reads or refuses it.
    """
    end = data.find(b"\r\n\r\n")
    head_end = end + 4 if end >= 0 else -1
    if end < 0:
        lf = data.find(b"\n\n")  # bare LF: gunicorn's parser decides what to do with it
        if lf < 0:
            return False if len(data) > MAX_HEAD_BYTES else None
        head_end = lf + 2
    lengths, codings = set(), []
    for line in bytes(data[:head_end]).splitlines()[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            lengths.add(value.strip())
        elif name == b"transfer-encoding":
            codings += [c.strip().lower() for c in value.split(b",")]
    if codings:
        if lengths or codings[-1] != b"chunked":
            return True  # a 400 or 501 from the head alone
        return _chunked_complete(data, head_end, max_body)
    if not lengths:
        return True
    if len(lengths) > 1 or not next(iter(lengths)).isdigit():
        return True  # a 400 from the head alone
    length = int(next(iter(lengths)))
    if length > max_body:
        return False
    return True if len(data) - head_end >= length else None


def _chunked_complete(data: bytes | bytearray, start: int, max_body: int) -> bool | None:
    """Walk the chunks (RFC 9112 section 7.1) from `start` to find the end of the body."""
    pos = start
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return False if len(data) - pos > 1024 else None  # a chunk-size line is short
        try:
            size = int(bytes(data[pos:eol]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            return True  # a 400 from gunicorn's parser
        if size < 0:
            return True
        if size == 0:
            # Trailer fields, then an empty line.
            return True if data.find(b"\r\n\r\n", eol) >= 0 else None
        pos = eol + 2 + size + 2
        if pos - start > max_body + 64 * 1024:
            return False
        if pos > len(data):
            return None


class BufferedConn(TConn):
    """A connection whose next request the event loop reads before a thread takes it."""

    def __init__(self, cfg, sock, client, server, client_timeout: float):
        super().__init__(cfg, sock, client, server)
        self.client_timeout = client_timeout
        self.buffered = bytearray()
        self.complete = True
        self.deadline = 0.0
        self.sent_continue = False

    def init(self):
        super().init()
        if self.buffered:
            self.parser.unreader.unread(bytes(self.buffered))
            self.buffered = bytearray()
        # The backstop for whatever the thread still reads from the socket.
        self.sock.settimeout(self.client_timeout)


class DrainingThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = Settings()
        self.drain_delay = settings.drain_delay
        self.client_timeout = settings.client_timeout
        self.max_body_bytes = settings.max_body_bytes
        self.reading: deque[BufferedConn] = deque()  # oldest deadline first
        self.buffered_bytes = 0  # held by the connections in self.reading
        self.stop_requested_at: float | None = None

    # --- 1. stopping -----------------------------------------------------
    def handle_exit(self, sig, frame):
        if self.stop_requested_at is not None:
            return  # already stopping
        self.stop_requested_at = time.monotonic()
        if self.alive and self.drain_delay:
            self.log.info("SIGTERM: accepting for %s s more, then draining", self.drain_delay)
            timer = threading.Timer(self.drain_delay, self.method_queue.defer, args=(self.end_drain_delay,))
            timer.daemon = True
            timer.start()
            return
        super().handle_exit(sig, frame)

    def end_drain_delay(self) -> None:
        """Runs on the main loop: leave the rest of the master's budget to the drain."""
        left = self.stop_requested_at + self.cfg.graceful_timeout - time.monotonic()
        self.cfg.set("graceful_timeout", max(1, int(left)))  # read by gthread's drain loop
        super().handle_exit(None, None)

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:  # shutting down, not merely at worker_connections
            for listener in self.sockets:
                listener.close()

    def handle_request(self, req, conn):
        if self.stop_requested_at is not None or not conn.complete:
            # Stopping: the proxy should not reuse this connection. A body left
            # unread: the next request's start is unknown, so do not drain it.
            req.must_close = True
        if conn.sent_continue:
            req._expected_100_continue = False  # sent already: gunicorn would send a second one
            conn.sent_continue = False
        return super().handle_request(req, conn)

    # --- 2. requests are read by the event loop --------------------------
    def accept(self, listener):
        try:
            sock, addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self.await_request(BufferedConn(self.cfg, sock, addr, listener.getsockname(), self.client_timeout))

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection starts its next request."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.await_request(conn)
        self.read_request(conn, client)

    def await_request(self, conn: BufferedConn) -> None:
        conn.sock.setblocking(False)
        conn.deadline = time.monotonic() + self.client_timeout
        conn.sent_continue = False
        self.reading.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.read_request, conn))

    def read_request(self, conn: BufferedConn, client) -> None:
        try:
            data = conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self.drop(conn)
            return
        conn.buffered += data
        self.buffered_bytes += len(data)
        try:
            ready = request_buffered(conn.buffered, self.max_body_bytes)
        except Exception:  # an exception here would end the worker: let gunicorn's parser judge instead
            self.log.exception("could not frame a request; handing it to the parser")
            ready = False
        if ready is None and self.buffered_bytes > BUFFER_BUDGET:
            ready = False
        if ready is None:
            if not conn.sent_continue and expects_continue(conn.buffered):
                # The client waits for this before it sends the body we wait for.
                conn.sent_continue = True
                try:
                    conn.sock.send(CONTINUE)
                except OSError:
                    pass
            return
        self.leave_loop(conn)
        conn.complete = ready
        conn.data_ready = True  # no need for gthread's wait for a first byte
        self.enqueue_req(conn)

    def leave_loop(self, conn: BufferedConn) -> None:
        self.poller.unregister(conn.sock)
        self.reading.remove(conn)
        self.buffered_bytes -= len(conn.buffered)

    def drop(self, conn: BufferedConn, reply: bytes = b"") -> None:
        self.leave_loop(conn)
        self.nr_conns -= 1
        if reply:
            try:
                conn.sock.send(reply)  # small enough for the socket buffer: never blocks the loop
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        conn.close()

    def murder_pending(self):
        """Called by gthread's loop at least once a second: end requests past their deadline."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading and self.reading[0].deadline <= now:
            conn = self.reading[0]
            if conn.buffered:
                self.log.debug("request timeout from %s", conn.client)
            # Half a request is told why; a connection that sent nothing is simply closed.
            self.drop(conn, REQUEST_TIMEOUT if conn.buffered else b"")


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    util.write_nonblock(sock, json_error(status_int, reason))


def install_json_errors() -> None:
    util.write_error = write_json_error
