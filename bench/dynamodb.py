"""A DynamoDB stand-in for `make bench`: the JSON protocol for exactly the calls
the app makes (PutItem, GetItem, Query, DeleteItem; readiness is a GetItem),
in memory, on one asyncio event loop of the standard library.

moto's server answers ~140 requests/s here, which made it the bottleneck of
every notes figure. This serves several thousand per second on one core, and
`make bench` proves it is not the limit in the same run: it reports the share
of a core this process used while the service ran flat out (the headroom).

Not a DynamoDB: one table layout (a partition and a sort key, both strings),
the one condition (`attribute_not_exists(<sort key>)`), the one key condition
(`<partition key> = :v`). Anything else is a 400 ValidationException, so a new
call in the app fails the stand-in's tests instead of being answered wrongly.

    python -m bench.dynamodb --port 8001 --table notes
"""
from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import re
import uuid
import zlib

PREFIX = "DynamoDB_20120810."
_KEY_CONDITION = re.compile(r"^\s*(#?\w+)\s*=\s*(:\w+)\s*$")
_NOT_EXISTS = re.compile(r"^\s*attribute_not_exists\(\s*(#?\w+)\s*\)\s*$")


class DynamoError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Table:
    """Items by partition key, each partition's sort keys kept sorted for Query."""

    def __init__(self, name: str, hash_key: str = "pk", range_key: str = "sk"):
        self.name, self.hash_key, self.range_key = name, hash_key, range_key
        self.partitions: dict[str, tuple[list[str], dict[str, dict]]] = {}

    def _key(self, key: dict) -> tuple[str, str]:
        try:
            if set(key) != {self.hash_key, self.range_key}:
                raise KeyError
            return key[self.hash_key]["S"], key[self.range_key]["S"]
        except (KeyError, TypeError):
            raise DynamoError("ValidationException",
                              "The provided key element does not match the schema") from None

    def get(self, key: dict) -> dict | None:
        pk, sk = self._key(key)
        part = self.partitions.get(pk)
        return part[1].get(sk) if part else None

    def put(self, item: dict) -> dict | None:
        pk, sk = self._key({self.hash_key: item.get(self.hash_key), self.range_key: item.get(self.range_key)})
        keys, items = self.partitions.setdefault(pk, ([], {}))
        old = items.get(sk)
        if old is None:
            bisect.insort(keys, sk)
        items[sk] = item
        return old

    def delete(self, key: dict) -> dict | None:
        pk, sk = self._key(key)
        part = self.partitions.get(pk)
        if not part or sk not in part[1]:
            return None
        keys, items = part
        del keys[bisect.bisect_left(keys, sk)]
        return items.pop(sk)

    def query(self, pk: str, forward: bool, limit: int, start: str | None) -> tuple[list[dict], str | None]:
        keys, items = self.partitions.get(pk, ([], {}))
        if forward:
            lo = bisect.bisect_right(keys, start) if start is not None else 0
            chosen = keys[lo:lo + limit]
            more = lo + limit < len(keys)
        else:
            hi = bisect.bisect_left(keys, start) if start is not None else len(keys)
            chosen = keys[max(0, hi - limit):hi][::-1]
            more = hi - limit > 0
        return [items[k] for k in chosen], (chosen[-1] if more and chosen else None)


class Store:
    def __init__(self, tables: dict[str, Table]):
        self.tables = tables

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
            if exists is not None and self._name(match.group(1), body) in exists:
                raise DynamoError("ConditionalCheckFailedException", "The conditional request failed")
        old = table.put(item)
        return {"Attributes": old} if old and body.get("ReturnValues") == "ALL_OLD" else {}

    def GetItem(self, body: dict) -> dict:
        item = self.table(body).get(body.get("Key") or {})
        return {"Item": item} if item is not None else {}

    def DeleteItem(self, body: dict) -> dict:
        old = self.table(body).delete(body.get("Key") or {})
        return {"Attributes": old} if old is not None and body.get("ReturnValues") == "ALL_OLD" else {}

    def Query(self, body: dict) -> dict:
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
        out = {"Items": items, "Count": len(items), "ScannedCount": len(items)}
        if last is not None:
            out["LastEvaluatedKey"] = {table.hash_key: {"S": pk}, table.range_key: {"S": last}}
        return out

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
            status, result = 200, getattr(self, operation)(body)
        except DynamoError as exc:
            status = exc.status
            result = {"__type": f"com.amazonaws.dynamodb.v20120810#{exc.code}", "message": exc.message}
        return status, json.dumps(result, separators=(",", ":")).encode()


_REASONS = {200: b"OK", 400: b"Bad Request"}


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, as botocore's urllib3 pool speaks it (no chunked bodies)."""

    def __init__(self, store: Store):
        self.store, self.buffer, self.transport = store, b"", None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            status, payload = self.store.handle(headers.get("x-amz-target", ""), body)
            close = headers.get("connection", "").lower() == "close"
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: %d\r\n"
                b"x-amzn-RequestId: %s\r\nx-amz-crc32: %d\r\n%s\r\n%s" % (
                    status, _REASONS.get(status, b"Error"), len(payload), uuid.uuid4().hex.encode(),
                    zlib.crc32(payload), b"Connection: close\r\n" if close else b"", payload))
            if close:
                self.transport.close()
                return


async def serve(host: str, port: int, tables: list[str], ready=None) -> None:
    store = Store({name: Table(name) for name in tables})
    server = await asyncio.get_running_loop().create_server(lambda: HttpProtocol(store), host, port, backlog=1024)
    if ready:
        ready(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dynamodb", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--table", action="append", default=[], help="a table to serve (pk/sk strings)")
    parser.add_argument("--cpu", type=int, help="pin to this CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        asyncio.run(serve(args.host, args.port, args.table or ["notes"]))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
