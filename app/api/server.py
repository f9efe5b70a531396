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
   which the app refuses with 413 without reading it; pipelined requests; a head
   over MAX_HEAD_BYTES; any request once half-received ones hold BUFFER_BUDGET)
   is read by its thread under the same deadline (DeadlineUnreader): every read
   waits only until then, so trickling a byte at a time does not hold a thread.
   The loop must stay cheap, since while it works nothing else is accepted or
   dispatched: RequestScanner keeps its place per connection and looks at each
   received byte once, and a head over gunicorn's limits (limit_request_line,
   limit_request_fields, limit_request_field_size) is answered by the loop
   with gunicorn's own 414/431 as soon as it is seen, not when it ends.

write_json_error: requests that never reach Flask (a request line over the
limit, an invalid header, a bad chunked body) are answered by gunicorn with a
small HTML page. The API promises JSON for every response, so this replaces
gunicorn.util.write_error, the one function gunicorn uses for those replies.
Status codes and logging stay gunicorn's.
"""
from __future__ import annotations

import errno
import json
import selectors
import socket
import threading
import time
from collections import deque
from functools import partial
from typing import NamedTuple

from gunicorn import util
from gunicorn.http.errors import ParseException
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader, SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker
from werkzeug.exceptions import RequestTimeout

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
# What RequestScanner.feed returns for a head that breaks gunicorn's limits (too long a request
# line or header field, too many fields): the loop answers it (414/431) with no thread involved.
OVER_LIMIT = "over limit"


class HeadLimits(NamedTuple):
    """gunicorn's limits on a request head, normalised as its parser does (http/message.py)."""
    line: int = 8190          # limit_request_line; 0: none
    fields: int = 100         # limit_request_fields
    field_size: int = 8190    # limit_request_field_size

    @classmethod
    def from_cfg(cls, cfg) -> HeadLimits:
        line = cfg.limit_request_line
        line = 8190 if line < 0 or line >= 8190 else line
        fields = cfg.limit_request_fields
        fields = 32768 if fields <= 0 or fields > 32768 else fields
        field_size = cfg.limit_request_field_size if cfg.limit_request_field_size > 0 else 8190
        return cls(line, fields, field_size)


GUNICORN_DEFAULTS = HeadLimits()


class RequestScanner:
    """Where one HTTP/1.x request ends, found by looking at each received byte once.

    The event loop calls feed() after every recv with the whole buffer so far; the scanner
    remembers how far it got (the head's lines, then the body's framing and the chunk walk),
    so a request trickled in tiny pieces costs the loop time in proportion to its size, not
    to its size squared. feed() returns None: more is needed. True: the whole request is here
    (or the head alone is enough for gunicorn's parser to refuse it). False: the head is here
    but the body will not be buffered (over max_body), or the head is over MAX_HEAD_BYTES; its
    thread reads or refuses the rest.
    OVER_LIMIT: the head breaks gunicorn's limits.

    Only find() and short slices touch the buffer (tests/unit/test_request_framing.py counts them).
    """

    HEAD, LENGTH, CHUNK_SIZE, TRAILER, DONE = range(5)

    def __init__(self, max_body: int, limits: HeadLimits = GUNICORN_DEFAULTS):
        self.max_body = max_body
        self.limits = limits
        self.stage = self.HEAD
        self.verdict: bool | str | None = None
        self.scanned = 0           # bytes already searched for the next line end (HEAD, CHUNK_SIZE, TRAILER)
        self.line_start = 0        # HEAD: the start of the line being received
        self.request_line = False  # HEAD: the request line is in
        self.fields = 0
        self.http11 = False
        self.lengths: set[bytes] = set()
        self.codings: list[bytes] = []
        self.expect_continue = False  # an HTTP/1.1 head with "Expect: 100-continue" (RFC 9110 10.1.1)
        self.head_end = -1
        self.over_limit_head = b""  # OVER_LIMIT: the head so far, closed off for gunicorn's parser
        self.pos = 0               # body: the next chunk-size line, or where the body ends

    def feed(self, data: bytes | bytearray) -> bool | str | None:
        if self.stage == self.DONE:
            return self.verdict
        if self.stage == self.HEAD:
            verdict = self._head(data)
            if verdict is not None or self.stage == self.HEAD:
                return self._done(verdict)
        if self.stage == self.LENGTH:
            return self._done(True) if len(data) >= self.pos else None
        return self._done(self._chunks(data))

    def _done(self, verdict):
        if verdict is not None:
            self.stage, self.verdict = self.DONE, verdict
        return verdict

    def _over(self, head: bytes) -> str:
        self.over_limit_head = head
        return OVER_LIMIT

    def _head(self, data) -> bool | str | None:
        limits = self.limits
        while True:
            eol = data.find(b"\n", self.scanned)
            if eol < 0:
                self.scanned = len(data)
                partial = len(data) - self.line_start
                if not self.request_line:
                    if limits.line and partial - 2 > limits.line:
                        return self._over(bytes(data[:self.line_start + limits.line + 3]))
                elif partial > limits.field_size:
                    start = self.line_start
                    return self._over(bytes(data[:start + limits.field_size + 1]).rstrip(b"\r") + b"\r\n\r\n")
                return False if len(data) > MAX_HEAD_BYTES else None
            self.scanned = eol + 1
            if eol == 0 or data[eol - 1] != 13:  # a bare LF: gunicorn's parser refuses the head at once
                return True
            start, end = self.line_start, eol - 1
            self.line_start = eol + 1
            if not self.request_line:
                if start == 0 and end == 0:
                    continue  # one empty line before the request line is allowed (RFC 9112 2.2)
                if limits.line and end - start > limits.line:
                    return self._over(bytes(data[:eol + 1]))
                if end == start:
                    return True  # an empty request line: refused by the parser
                self.request_line = True
                self.http11 = bytes(data[max(start, end - 8):end]) == b"HTTP/1.1"
                continue
            if end == start:
                self.head_end = eol + 1
                return self._framing()
            self.fields += 1
            if end - start + 2 > limits.field_size or self.fields > limits.fields:
                return self._over(bytes(data[:eol + 1]) + b"\r\n")
            name, _, value = bytes(data[start:end]).partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self.lengths.add(value.strip())
            elif name == b"transfer-encoding":
                self.codings += [c.strip().lower() for c in value.split(b",")]
            elif name == b"expect" and value.strip().lower() == b"100-continue":
                self.expect_continue = self.http11

    def _framing(self) -> bool | None:
        """The head is in: how the body is framed (RFC 9112 6)."""
        if self.codings:
            if self.lengths or self.codings[-1] != b"chunked":
                return True  # a 400 or 501 from the head alone
            self.stage, self.pos = self.CHUNK_SIZE, self.head_end
            self.scanned = self.head_end
            return None
        if not self.lengths:
            return True
        if len(self.lengths) > 1 or not next(iter(self.lengths)).isdigit():
            return True  # a 400 from the head alone
        length = int(next(iter(self.lengths)))
        if length > self.max_body:
            return False
        self.stage, self.pos = self.LENGTH, self.head_end + length
        return None

    def _chunks(self, data) -> bool | None:
        """Walk the chunks (RFC 9112 7.1), from where the last call stopped."""
        while self.stage == self.CHUNK_SIZE:
            if self.pos > len(data):
                return None  # inside a chunk's data
            eol = data.find(b"\r\n", max(self.pos, self.scanned - 1))
            if eol < 0:
                self.scanned = len(data)
                return False if len(data) - self.pos > 1024 else None  # a chunk-size line is short
            try:
                size = int(bytes(data[self.pos:eol]).split(b";", 1)[0].strip(), 16)
            except ValueError:
                return True  # a 400 from gunicorn's parser
            if size < 0:
                return True
            if size == 0:
                # Trailer fields, then an empty line.
                self.stage, self.pos, self.scanned = self.TRAILER, eol, eol
                break
            self.pos = eol + 2 + size + 2
            if self.pos - self.head_end > self.max_body + 64 * 1024:
                return False
        end = data.find(b"\r\n\r\n", max(self.scanned - 3, self.pos))
        if end >= 0:
            return True
        self.scanned = len(data)
        return None


def request_buffered(data: bytes | bytearray, max_body: int, limits: HeadLimits = GUNICORN_DEFAULTS) -> bool | str | None:
    """RequestScanner's verdict on `data`, the start of one HTTP/1.x request, all at once."""
    return RequestScanner(max_body, limits).feed(data)


def gunicorn_verdict(cfg, head: bytes, client) -> Exception | None:
    """What gunicorn's own parser says about a head the scanner found over the limits: the same
    error (and so the same status) a thread would have answered, or None if it accepts it."""
    try:
        Request(cfg, IterUnreader([head]), client)
    except ParseException as exc:
        return exc
    except Exception:  # noqa: BLE001 - NoMoreData or anything unforeseen: let a thread's parser judge
        return None
    return None


class RequestTimedOut(RequestTimeout):
    """A request a thread reads did not arrive by its deadline.

    A werkzeug HTTPException, not an OSError: werkzeug would turn an OSError from the body
    into a 400 "client disconnected", while this reaches Flask's error handler as a 408 in
    the API's JSON. Raised while a thread reads the head, gunicorn hands it to
    DrainingThreadWorker.handle_error, which answers the same 408 when `reply` is set.
    """
    description = "The request did not arrive in time."

    def __init__(self, reply: bool):
        super().__init__()
        self.reply = reply


class DeadlineUnreader(SocketUnreader):
    """gunicorn's socket reader, with the request's deadline on every read.

    gunicorn's parser has no deadline for a head or a body, and a plain socket timeout
    restarts with every byte: a client could trickle one byte every (CLIENT_TIMEOUT - 1) s
    for ever. Each read here waits at most until conn.deadline, and the socket's own timeout
    (the one responses are written with) is put back afterwards.
    """

    def __init__(self, conn: BufferedConn):
        super().__init__(conn.sock)
        self.conn = conn

    def chunk(self, size_hint=None):
        left = self.conn.deadline - time.monotonic()
        if left <= 0:
            raise self.timed_out()
        prior = self.sock.gettimeout()
        self.sock.settimeout(left if prior is None else min(prior, left))
        try:
            return super().chunk(size_hint)
        except TimeoutError:
            if time.monotonic() >= self.conn.deadline:
                raise self.timed_out() from None
            raise  # a shorter timeout of gunicorn's own (its drain of an unread body)
        finally:
            self.sock.settimeout(prior)

    def timed_out(self) -> RequestTimedOut:
        req = self.conn.req
        if req is not None:
            req.must_close = True  # the rest of the body is unknown: the 408 closes the connection
        return RequestTimedOut(reply=req is None)


class BufferedConn(TConn):
    """A connection whose next request the event loop reads before a thread takes it."""

    def __init__(self, cfg, sock, client, server, client_timeout: float):
        super().__init__(cfg, sock, client, server)
        self.client_timeout = client_timeout
        self.buffered = bytearray()
        self.scanner: RequestScanner | None = None
        self.complete = True
        self.deadline = 0.0
        self.sent_continue = False
        self.req = None  # the request its thread serves, once its head is parsed

    def init(self):
        super().init()
        if type(self.parser.unreader) is SocketUnreader:  # HTTP/1.x, just created
            self.parser.unreader = DeadlineUnreader(self)
        if self.buffered:
            self.parser.unreader.unread(bytes(self.buffered))
            self.buffered = bytearray()
        # For the responses (and for any read without the deadline, which DeadlineUnreader adds).
        self.sock.settimeout(self.client_timeout)


class DrainingThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = Settings()
        self.drain_delay = settings.drain_delay
        self.client_timeout = settings.client_timeout
        self.max_body_bytes = settings.max_body_bytes
        self.limits = HeadLimits.from_cfg(self.cfg)
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
        conn.req = req
        return super().handle_request(req, conn)

    def handle_error(self, req, client, addr, exc):
        if isinstance(exc, RequestTimedOut):  # while a thread read the head (or drained a body)
            self.log.debug("request timeout from %s", addr)
            if exc.reply:
                try:
                    util.write_nonblock(client, REQUEST_TIMEOUT)
                except OSError:
                    pass
            return
        super().handle_error(req, client, addr, exc)

    def enqueue_req(self, conn):
        """gthread's finish_request: the last request's thread read ahead into a pipelined one.

        Its thread reads the rest of it, by a deadline from now.
        """
        conn.deadline = time.monotonic() + self.client_timeout
        self.hand_over(conn)

    def hand_over(self, conn: BufferedConn) -> None:
        conn.req = None
        super().enqueue_req(conn)

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
        conn.scanner = RequestScanner(self.max_body_bytes, self.limits)
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
            ready = conn.scanner.feed(conn.buffered)
        except Exception:  # an exception here would end the worker: let gunicorn's parser judge instead
            self.log.exception("could not frame a request; handing it to the parser")
            ready = False
        if ready is OVER_LIMIT:
            error = gunicorn_verdict(self.cfg, conn.scanner.over_limit_head, conn.client)
            if error is not None:
                self.refuse(conn, error)
                return
            ready = False  # gunicorn's parser accepts it after all: a thread reads the rest
        if ready is None and self.buffered_bytes > BUFFER_BUDGET:
            ready = False
        if ready is None:
            if not conn.sent_continue and conn.scanner.expect_continue:
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
        self.hand_over(conn)

    def refuse(self, conn: BufferedConn, error: Exception) -> None:
        """A head over gunicorn's limits: answered here, as gunicorn's parser would, without a thread."""
        self.leave_loop(conn)
        self.nr_conns -= 1
        self.handle_error(None, conn.sock, conn.client, error)  # logs it; util.write_error is write_json_error
        self.close_after_reply(conn)

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
            except OSError:
                pass
            self.close_after_reply(conn)
        else:
            conn.close()

    @staticmethod
    def close_after_reply(conn: BufferedConn) -> None:
        """Send FIN, and read what the client already sent: closing with unread bytes would
        send a reset, which can destroy the reply before the client reads it."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            for _ in range(16):
                if not conn.sock.recv(RECV_BYTES):
                    break
        except OSError:  # BlockingIOError: nothing more to read now
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
