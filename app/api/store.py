"""Notes in DynamoDB, reached with the task role through boto3's default
credential chain (no keys anywhere).

Table layout (service.yml defines the same table; a template test checks it):
all notes share one partition, sorted by a time-ordered id, so "newest first"
is a single Query. That is right for a sample and for up to ~1,000 writes/s;
a service with more writes shards the partition key.
"""
from __future__ import annotations

import base64
import binascii
import gc
import json
import logging
import re
import secrets
import threading
import time
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from .dynamodb import new_client
from .errors import ApiError, DatastoreUnavailable
from .schemas import NOTE_ID_PATTERN

# The table's key schema: the contract with service.yml (checked by tests/templates).
PARTITION_KEY = "pk"
SORT_KEY = "sk"
KEY_SCHEMA = {PARTITION_KEY: "HASH", SORT_KEY: "RANGE"}
NOTES_PARTITION = "NOTE"
# The table's TTL attribute (service.yml's TimeToLiveSpecification): epoch seconds after which
# DynamoDB deletes the item, free of charge, usually within a few days of the time.
TTL_ATTRIBUTE = "expiresAt"
# Readiness reads this key: it never exists, so the check costs one eventually consistent read.
READINESS_KEY = {PARTITION_KEY: {"S": "READINESS"}, SORT_KEY: {"S": "probe"}}

_ID = re.compile(NOTE_ID_PATTERN)
log = logging.getLogger(__name__)


def new_note_id(now_ms: int | None = None) -> str:
    """28 hex digits: 12 of milliseconds since the epoch, then 16 random."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{ms:012x}{secrets.token_hex(8)}"


def is_note_id(value: str) -> bool:
    return bool(_ID.match(value))


def encode_cursor(last_key: dict) -> str:
    raw = json.dumps({"sk": last_key[SORT_KEY]["S"]}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_after(note_id: str) -> str:
    """The cursor of a page that ends with this note: the next page starts right after it."""
    return encode_cursor({SORT_KEY: {"S": note_id}})


def decode_cursor(cursor: str) -> dict:
    """The inverse of encode_cursor; anything else is a 400, never a 500."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        sort_key = data["sk"]
        if not isinstance(sort_key, str) or not is_note_id(sort_key):
            raise ValueError(sort_key)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "invalid_cursor", "The cursor is not one this API returned.", field="cursor") from None
    return {PARTITION_KEY: {"S": NOTES_PARTITION}, SORT_KEY: {"S": sort_key}}


def _expired(item: dict, now: float) -> bool:
    """Past its TTL: DynamoDB has not deleted it yet, but it is gone for the API."""
    expires = item.get(TTL_ATTRIBUTE, {}).get("N")
    return expires is not None and int(expires) <= now


def _note(item: dict) -> dict:
    return {"id": item[SORT_KEY]["S"], "text": item["text"]["S"], "createdAt": item["createdAt"]["S"]}


class NotesStore:
    def __init__(self, table: str, region: str, endpoint_url: str | None, retry_after: int, ttl_days: int = 0):
        self.table = table
        self.ttl_days = ttl_days
        self.region = region
        self.endpoint_url = endpoint_url
        self.retry_after = retry_after
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        # Created on first use, in the worker process: a boto3 client must not
        # cross a fork (gunicorn preloads the app in the master).
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = new_client(self.region, self.endpoint_url)
        return self._client

    def warm_up(self) -> threading.Thread:
        """Builds the client (and imports boto3) in a background thread: gunicorn's
        post_worker_init calls this, so the first request finds it ready and the
        health check does not wait for it.

        Then everything loaded so far (the app, boto3 and its service models: ~90,000
        objects that live as long as the process) leaves the garbage collector's
        care (gc.freeze): a full collection no longer walks them on every pass, which
        took ~15 ms per pass, a pause every request in flight waited for."""
        def build():
            try:
                _ = self.client
            except Exception:  # logged; the first request that needs the client tries again
                log.warning("DynamoDB client warm-up failed", exc_info=True)
                return
            gc.freeze()
        thread = threading.Thread(target=build, name="dynamodb-warm-up", daemon=True)
        thread.start()
        return thread

    def _call(self, operation: str, **kwargs) -> dict:
        try:
            return getattr(self.client, operation)(TableName=self.table, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise
            raise DatastoreUnavailable(self.retry_after, f"{operation}: {code}") from exc
        except BotoCoreError as exc:
            raise DatastoreUnavailable(self.retry_after, f"{operation}: {type(exc).__name__}") from exc

    def ping(self) -> None:
        self._call("get_item", Key=READINESS_KEY)

    def create(self, text: str) -> dict:
        note_id = new_note_id()
        created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        item = {
            PARTITION_KEY: {"S": NOTES_PARTITION},
            SORT_KEY: {"S": note_id},
            "text": {"S": text},
            "createdAt": {"S": created},
        }
        if self.ttl_days:
            item[TTL_ATTRIBUTE] = {"N": str(int(time.time()) + self.ttl_days * 86400)}
        # The condition guards against the (astronomically unlikely) id collision.
        self._call("put_item", Item=item, ConditionExpression="attribute_not_exists(sk)")
        return _note(item)

    def get(self, note_id: str) -> dict | None:
        if not is_note_id(note_id):
            return None
        item = self._call("get_item", Key=self._key(note_id), ConsistentRead=True).get("Item")
        return _note(item) if item and not _expired(item, time.time()) else None

    def delete(self, note_id: str) -> bool:
        if not is_note_id(note_id):
            return False
        result = self._call("delete_item", Key=self._key(note_id), ReturnValues="ALL_OLD")
        return "Attributes" in result

    def list(self, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        kwargs = {}
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor)
        result = self._call(
            "query",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": NOTES_PARTITION}},
            ScanIndexForward=False,
            Limit=limit,
            **kwargs,
        )
        last = result.get("LastEvaluatedKey")
        now = time.time()
        items = [_note(i) for i in result.get("Items", []) if not _expired(i, now)]
        return items, encode_cursor(last) if last else None

    @staticmethod
    def _key(note_id: str) -> dict:
        return {PARTITION_KEY: {"S": NOTES_PARTITION}, SORT_KEY: {"S": note_id}}
