"""How the worker's event loop decides a request is complete enough for a thread (api/server.py)."""
import pytest
from api.server import MAX_HEAD_BYTES, request_buffered

HEAD = b"POST /api/notes HTTP/1.1\r\nHost: x\r\n"
LIMIT = 16 * 1024


@pytest.mark.parametrize("data,expected", [
    (b"GET / HTTP/1.1\r\nHost: x", None),                                   # head not finished
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),                           # no body
    (b"GET / HTTP/1.1\nHost: x\n\n", True),                                 # bare LF: the parser decides
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
    (b"GET /" + b"a" * MAX_HEAD_BYTES, False),                                 # a head too big to buffer
])
def test_request_buffered(data, expected):
    assert request_buffered(bytearray(data), LIMIT) is expected
