"""How the worker's event loop decides a request is complete enough for a thread (api/server.py)."""
import logging
import selectors
import socket
from collections import deque

import pytest
from api.server import OVER_LIMIT, BufferedConn, DrainingThreadWorker, HeadLimits, request_buffered
from gunicorn.config import Config

HEAD = b"POST /api/notes HTTP/1.1\r\nHost: x\r\n"
LIMIT = 16 * 1024
FIELD = b"X-Field: " + b"v" * 700 + b"\r\n"  # gunicorn takes 100 fields of up to 8190 bytes


@pytest.mark.parametrize("data,expected", [
    (b"GET / HTTP/1.1\r\nHost: x", None),                                   # head not finished
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),                           # no body
    (b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", True),                       # one empty line first (RFC 9112 2.2)
    (b"GET / HTTP/1.1\nHost: x\n\n", True),                                 # bare LF: the parser refuses it
    (b"GET / HTTP/1.1\r\nHost: x\nX-More", True),                           # ... at once, without the rest
    (HEAD + b"Content-Length: 5\r\n\r\nhel", None),                          # body on its way
    (HEAD + b"Content-Length: 5\r\n\r\nhello", True),
    (HEAD + b"content-length:  5 \r\n\r\nhello", True),                       # any case, spaces
    (HEAD + b"Content-Length: %d\r\n\r\n" % (LIMIT + 1), False),              # over the limit: not buffered
    (HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n", True),        # a 400 from the head alone
    (HEAD + b"Content-Length: -1\r\n\r\n", True),
    (HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", True),
    (HEAD + b"Transfer-Encoding: gzip\r\n\r\n", True),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhel", None),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", None),   # the last empty line is missing
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", True),
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n4\r\n\r\n\r\n\r\n", None),      # CRLFs inside a chunk end nothing
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", True),  # extension, trailer
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", True),               # a 400 from the parser
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nab", True),             # never walks backwards
    (HEAD + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % (LIMIT + 70_000), False),
    (b"GET / HTTP/1.1\r\n" + FIELD * 95, False),                               # a head too big to buffer
    # gunicorn's limits (limit_request_line, limit_request_fields, limit_request_field_size)
    (b"GET /" + b"a" * 8200, OVER_LIMIT),                                     # the request line, unfinished
    (b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\n", OVER_LIMIT),
    (b"GET /" + b"a" * 8100 + b" HTTP/1.1\r\nHost: x\r\n\r\n", True),          # long, but within it
    (b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101, OVER_LIMIT),                 # fields, the head unfinished
    (b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 99 + b"\r\n", True),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 8190, OVER_LIMIT),                   # one field, unfinished
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 8180 + b"\r\n\r\n", True),
])
def test_request_buffered(data, expected):
    assert request_buffered(bytearray(data), LIMIT) is expected


# --- the event loop's work per recv ------------------------------------------------------------
class CountingBuffer(bytearray):
    """A receive buffer that counts the bytes each search and slice of it looks at."""
    work = 0

    def find(self, sub, start=0, end=None):
        end = len(self) if end is None else end
        found = super().find(sub, start, end)
        self.work += (found + len(sub) if found >= 0 else end) - min(start, end)
        return found

    def __getitem__(self, index):
        item = super().__getitem__(index)
        self.work += len(item) if isinstance(index, slice) else 1
        return item

    def _uncounted(self, *args, **kwargs):
        raise AssertionError("the framing code searched the buffer without find(): count it here")

    rfind = index = rindex = count = split = splitlines = partition = startswith = endswith = _uncounted


def loop_reader(max_body=LIMIT):
    """The real DrainingThreadWorker.read_request on one end of a socket pair, with the rest of the
    worker (gthread's loop, the threads) left out: what one recv costs the event loop."""
    worker = DrainingThreadWorker.__new__(DrainingThreadWorker)
    cfg = Config()
    worker.__dict__.update(cfg=cfg, log=logging.getLogger(__name__), poller=selectors.DefaultSelector(), reading=deque(),
                           buffered_bytes=0, nr_conns=1, max_body_bytes=max_body, client_timeout=5,
                           limits=HeadLimits.from_cfg(cfg), handed=[])
    worker.enqueue_req = worker.hand_over = worker.handed.append
    ours, theirs = socket.socketpair()
    conn = BufferedConn(cfg, ours, ("127.0.0.1", 1), ("127.0.0.1", 2), 5)
    worker.await_request(conn)
    conn.buffered = CountingBuffer()
    return worker, conn, theirs


def trickle(pieces, max_body=LIMIT) -> list[tuple[int, int]]:
    """Send `pieces` one recv at a time; (new bytes, bytes the loop looked at) for each recv."""
    worker, conn, client = loop_reader(max_body)
    costs = []
    try:
        for piece in pieces:
            assert not worker.handed, "handed to a thread before the request was complete"
            client.sendall(piece)
            before = conn.buffered.work
            worker.read_request(conn, conn.sock)
            costs.append((len(piece), conn.buffered.work - before))
        assert worker.handed == [conn] and conn.complete
    finally:
        client.close()
        conn.sock.close()
    return costs


def pieces_of(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def assert_linear(costs):
    sent = sum(new for new, _ in costs)
    looked = sum(work for _, work in costs)
    assert looked <= 4 * sent, f"the loop looked at {looked:,} bytes for {sent:,} received"
    for new, work in costs:
        assert work <= 4 * new + 8192, f"one recv of {new} bytes looked at {work:,}"  # one head line at most


def test_a_body_of_one_byte_chunks_is_walked_once():
    """The review's case: 1-byte chunks sent 60 bytes at a time (3.3 s of the loop's CPU, when every
    recv restarted the chunk walk from the first byte)."""
    body = b"1\r\nx\r\n" * 2500 + b"0\r\n\r\n"
    request = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + body
    assert_linear(trickle(pieces_of(request, 60)))


def test_a_big_head_then_a_trickled_body_is_scanned_once():
    """A 60 KB head (100 fields, gunicorn's limit) and a body 30 bytes at a time: each recv looks at
    its own bytes, not at the whole head again (for its end, its framing, Expect: 100-continue)."""
    body = b'{"text": "' + b"x" * 15000 + b'"}'
    head = HEAD + (b"X-Field: " + b"v" * 590 + b"\r\n") * 86 + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
    assert len(head) > 50_000
    assert_linear(trickle(pieces_of(head, 1000) + pieces_of(body, 30)))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 60])
def test_the_verdict_does_not_depend_on_how_the_request_is_cut(size):
    for request in [HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n4\r\n\r\n\r\n\r\n0\r\nT: 1\r\n\r\n",
                    b"\r\n" + HEAD + b"Content-Length: 5\r\n\r\nhello",
                    b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 100 + b"\r\n"]:
        trickle(pieces_of(request, size))


def test_too_many_fields_are_refused_by_the_loop_as_gunicorn_would():
    """12,000 short fields (the review's 60 KB head): 431 in JSON once the 101st is in, no thread."""
    worker, conn, client = loop_reader()
    errors = []
    worker.handle_error = lambda req, sock, addr, exc: errors.append(exc) or sock.send(b"431")
    try:
        sent = 0
        for piece in pieces_of(b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 12_000, 60):
            client.sendall(piece)
            sent += len(piece)
            worker.read_request(conn, conn.sock)
            if errors:
                break
        assert [type(e).__name__ for e in errors] == ["LimitRequestHeaders"] and not worker.handed
        assert sent < 1000 and not worker.reading and worker.nr_conns == 0
        assert client.recv(100) == b"431"
    finally:
        client.close()
