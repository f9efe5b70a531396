"""A DynamoDB stand-in for `make bench`: the JSON protocol for exactly the calls
the app makes (PutItem, GetItem, Query, DeleteItem; readiness is a GetItem),
in memory, in the standard library's threading TCP server.

moto's server answers ~140 requests/s here, which made it the bottleneck of
every notes figure. This serves several thousand per second on one core, and
`make bench` proves it is not the limit in the same run: it reports the share
of a core this process used while the service ran flat out (the headroom).

Not a DynamoDB: one table layout (a partition and a sort key, both strings),
the one condition (`attribute_not_exists(<sort key>)`), the one key condition
(`<partition key> = :v`). Anything else is refused with a 400 (an unknown
operation, a ValidationException), so a new call in the app fails the
stand-in's tests instead of being answered wrongly.

    python -m bench.dynamodb --port 8001 --table notes
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import socket
import socketserver
import threading
import uuid
import zlib

PREFIX = "DynamoDB_20120810."
_KEY_CONDITION = re.compile(r"^\s*(#?\w+)\s*=\s*(:\w+)\s*$")
_NOT_EXISTS = re.compile(r"^\s*attribute_not_exists\(\s*(#?\w+)\s*\)\s*$")
# The three request headers the stand-in reads, found in the raw head (cheaper than parsing them all).
_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.I)
_TARGET = re.compile(rb"\r\nx-amz-target:[ \t]*([^\r]*)", re.I)
_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.I)


class DynamoError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class Table:
    """Items by partition key, each partition's sort keys kept sorted for Query; each item is kept
    with its JSON, so GetItem and Query answer without serialising items again."""

    def __init__(self, name: str, hash_key: str = "pk", range_key: str = "sk"):
        self.name, self.hash_key, self.range_key = name, hash_key, range_key
        self.partitions: dict[str, tuple[list[str], dict[str, tuple[dict, bytes]]]] = {}

    def _key(self, key: dict) -> tuple[str, str]:
        try:
            if set(key) != {self.hash_key, self.range_key}:
                raise KeyError
            return key[self.hash_key]["S"], key[self.range_key]["S"]
        except (KeyError, TypeError):
            raise DynamoError("ValidationException",
                              "The provided key element does not match the schema") from None

    def get(self, key: dict) -> tuple[dict, bytes] | None:
        pk, sk = self._key(key)
        part = self.partitions.get(pk)
        return part[1].get(sk) if part else None

    def put(self, item: dict) -> tuple[dict, bytes] | None:
        pk, sk = self._key({self.hash_key: item.get(self.hash_key), self.range_key: item.get(self.range_key)})
        keys, items = self.partitions.setdefault(pk, ([], {}))
        old = items.get(sk)
        if old is None:
            bisect.insort(keys, sk)
        items[sk] = (item, _dumps(item))
        return old

    def delete(self, key: dict) -> tuple[dict, bytes] | None:
        pk, sk = self._key(key)
        part = self.partitions.get(pk)
        if not part or sk not in part[1]:
            return None
        keys, items = part
        del keys[bisect.bisect_left(keys, sk)]
        return items.pop(sk)

    def query(self, pk: str, forward: bool, limit: int, start: str | None) -> tuple[list[bytes], str | None]:
        keys, items = self.partitions.get(pk, ([], {}))
        if forward:
            lo = bisect.bisect_right(keys, start) if start is not None else 0
            chosen = keys[lo:lo + limit]
            more = lo + limit < len(keys)
        else:
            hi = bisect.bisect_left(keys, start) if start is not None else len(keys)
            chosen = keys[max(0, hi - limit):hi][::-1]
            more = hi - limit > 0
        return [items[k][1] for k in chosen], (chosen[-1] if more and chosen else None)


class Store:
    def __init__(self, tables: dict[str, Table]):
        self.tables = tables
        self.lock = threading.Lock()  # one request at a time: a connection's thread holds it while answering

    def table(self, body: dict) -> Table:
        try:
            return self.tables[body["TableName"]]
        except KeyError:
            raise DynamoError("ResourceNotFoundException", "Requested resource not found") from None

    @staticmethod
    def _name(name: str, body: dict) -> str:
        return body.get("ExpressionAttributeNames", {}).get(name, name) if name.startswith("#") else name

    def PutItem(self, body: dict) -> dict:
        table, item = self.table(body), body.get("Item") or {}
        condition = body.get("ConditionExpression")
        if condition:
            match = _NOT_EXISTS.match(condition)
            if not match:
                raise DynamoError("ValidationException", f"unsupported ConditionExpression: {condition}")
            exists = table.get({table.hash_key: item.get(table.hash_key), table.range_key: item.get(table.range_key)})
            if exists is not None and self._name(match.group(1), body) in exists[0]:
                raise DynamoError("ConditionalCheckFailedException", "The conditional request failed")
        old = table.put(item)
        return b'{"Attributes":%s}' % old[1] if old and body.get("ReturnValues") == "ALL_OLD" else b"{}"

    def GetItem(self, body: dict) -> bytes:
        item = self.table(body).get(body.get("Key") or {})
        return b'{"Item":%s}' % item[1] if item is not None else b"{}"

    def DeleteItem(self, body: dict) -> bytes:
        old = self.table(body).delete(body.get("Key") or {})
        return b'{"Attributes":%s}' % old[1] if old is not None and body.get("ReturnValues") == "ALL_OLD" else b"{}"

    def Query(self, body: dict) -> bytes:
        table = self.table(body)
        match = _KEY_CONDITION.match(body.get("KeyConditionExpression", ""))
        if not match or self._name(match.group(1), body) != table.hash_key:
            raise DynamoError("ValidationException",
                              f"unsupported KeyConditionExpression: {body.get('KeyConditionExpression')}")
        try:
            pk = body["ExpressionAttributeValues"][match.group(2)]["S"]
        except (KeyError, TypeError):
            raise DynamoError("ValidationException", "missing ExpressionAttributeValues") from None
        start = body.get("ExclusiveStartKey")
        start_sk = table._key(start)[1] if start else None
        limit = int(body.get("Limit") or 1_000_000)
        items, last = table.query(pk, body.get("ScanIndexForward", True), limit, start_sk)
        out = b'{"Items":[%s],"Count":%d,"ScannedCount":%d' % (b",".join(items), len(items), len(items))
        if last is not None:
            out += b',"LastEvaluatedKey":%s' % _dumps({table.hash_key: {"S": pk}, table.range_key: {"S": last}})
        return out + b"}"

    OPERATIONS = ("PutItem", "GetItem", "DeleteItem", "Query")

    def handle(self, target: str, raw: bytes) -> tuple[int, bytes]:
        """(status, JSON body) for one call, as DynamoDB answers it."""
        operation = target[len(PREFIX):] if target.startswith(PREFIX) else ""
        try:
            if operation not in self.OPERATIONS:
                raise DynamoError("UnknownOperationException", f"unsupported operation: {target or '-'}")
            try:
                body = json.loads(raw)
            except ValueError:
                raise DynamoError("SerializationException", "the body is not JSON") from None
            try:
                return 200, getattr(self, operation)(body)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a malformed call, not a crash
                raise DynamoError("ValidationException", f"malformed {operation}: {exc!r}") from None
        except DynamoError as exc:
            return exc.status, _dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{exc.code}", "message": exc.message})


_REASONS = {200: b"OK", 400: b"Bad Request"}


class Connection:
    """HTTP/1.1 with keep-alive, as botocore's urllib3 pool speaks it (no chunked bodies)."""

    def __init__(self, store: Store):
        self.store, self.buffer = store, b""
        self.id_prefix, self.requests = uuid.uuid4().hex[:24].encode(), 0  # x-amzn-RequestId: unique, cheap

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(the answers to the requests `data` completes, whether to close the connection)."""
        self.buffer += data
        out = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return b"".join(out), False
            head = self.buffer[:end]
            length = _LENGTH.search(head)
            length = int(length.group(1)) if length else 0
            if len(self.buffer) < end + 4 + length:
                return b"".join(out), False
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            target = _TARGET.search(head)
            status, payload = self.store.handle(target.group(1).decode("latin-1").strip() if target else "", body)
            close = _CLOSE.search(head) is not None
            self.requests += 1
            out.append(
                b"HTTP/1.1 %d %s\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: %d\r\n"
                b"x-amzn-RequestId: %s\r\nx-amz-crc32: %d\r\n%s\r\n%s" % (
                    status, _REASONS.get(status, b"Error"), len(payload), b"%s%08x" % (self.id_prefix, self.requests),
                    zlib.crc32(payload), b"Connection: close\r\n" if close else b"", payload))
            if close:
                return b"".join(out), True


class Server(socketserver.ThreadingTCPServer):
    """A thread per connection, blocking reads: botocore keeps a few connections open per worker,
    and this costs fewer system calls and callbacks per request than an event loop."""
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], tables: list[str]):
        self.store = Store({name: Table(name) for name in tables})
        super().__init__(address, Handler)


class Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock, connection = self.request, Connection(self.server.store)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := sock.recv(65536):
            with self.server.store.lock:
                answer, close = connection.feed(data)
            if answer:
                sock.sendall(answer)
            if close:
                return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dynamodb", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--table", action="append", default=[], help="a table to serve (pk/sk strings)")
    parser.add_argument("--cpu", type=int, help="pin to this CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    with Server((args.host, args.port), args.table or ["notes"]) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
