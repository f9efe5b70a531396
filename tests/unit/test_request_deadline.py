"""A request its thread reads is cut off at the request's deadline, not after an idle gap
(api/server.py DeadlineUnreader): gunicorn's parser has no deadline of its own."""
import socket
import threading
import time
from contextlib import contextmanager

import pytest
from api.server import BufferedConn, DeadlineUnreader, RequestTimedOut
from gunicorn.config import Config
from gunicorn.http.message import Request


@contextmanager
def connection(deadline_in: float):
    """(the worker's connection, the client's socket) over a socket pair; both closed after."""
    ours, theirs = socket.socketpair()
    conn = BufferedConn(Config(), ours, ("127.0.0.1", 1), ("127.0.0.1", 2), client_timeout=5)
    conn.deadline = time.monotonic() + deadline_in
    conn.init()
    try:
        yield conn, theirs
    finally:
        theirs.close()
        conn.sock.close()


def trickle(sock: socket.socket, data: bytes, every: float, stop: threading.Event) -> None:
    for byte in data:
        if stop.wait(every):
            return
        try:
            sock.send(bytes([byte]))
        except OSError:
            return


def test_a_trickled_head_is_cut_at_the_deadline_and_the_timeout_is_put_back():
    with connection(deadline_in=1.0) as (conn, client):
        stop = threading.Event()
        sender = threading.Thread(target=trickle, args=(client, b"GET / HTTP/1.1\r\nX-Slow: " + b"x" * 100, 0.2, stop))
        started = time.monotonic()
        sender.start()
        try:
            assert isinstance(conn.parser.unreader, DeadlineUnreader)
            with pytest.raises(RequestTimedOut) as raised:
                Request(conn.cfg, conn.parser.unreader, conn.client)  # what next(conn.parser) does
            assert time.monotonic() - started < 1.8  # a 5 s socket timeout would never fire at 0.2 s a byte
            assert raised.value.reply and raised.value.code == 408  # no response begun: the worker answers 408
            assert conn.sock.gettimeout() == 5  # responses are still written with the usual timeout
        finally:
            stop.set()
            sender.join()


def test_a_body_read_by_the_app_past_the_deadline_closes_the_connection():
    with connection(deadline_in=0.5) as (conn, client):
        client.sendall(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        req = next(conn.parser)
        conn.req = req  # as DrainingThreadWorker.handle_request records it
        with pytest.raises(RequestTimedOut) as raised:
            req.body.read()
        assert not raised.value.reply and req.must_close  # the app answers the 408, with Connection: close


def test_a_request_that_arrives_in_time_is_read_whole():
    with connection(deadline_in=2.0) as (conn, client):
        client.sendall(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
        req = next(conn.parser)
        assert req.body.read() == b"hello" and not req.must_close
