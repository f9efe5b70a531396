"""Notes in DynamoDB, reached with the task role through boto3's default
credential chain (no keys anywhere). The sample's settings are read here too.

Table layout (service.yml defines the same table; a template test checks it):
all notes share one partition, sorted by a time-ordered id, so "newest first"
is a single Query. That is right for a sample and for up to ~1,000 writes/s;
a service with more writes shards the partition key.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import time
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..dynamodb import new_client
from ..errors import ApiError, DatastoreUnavailable
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


class NotesSettings(BaseSettings):
    """The sample's configuration, from the environment (service.yml's block for the notes service)."""
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, populate_by_name=True)

    notes_table: str = Field("notes", min_length=3, max_length=255, description="DynamoDB table name.")
    aws_region: str = Field(
        "us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        description="ECS sets AWS_REGION in every task.")
    dynamodb_endpoint_url: str | None = Field(
        None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"),
        description="Local stand-in for DynamoDB (moto); unset in AWS.")
    datastore_retry_after: int = Field(5, ge=1, le=3600, description="Retry-After seconds on a 503.")
    note_ttl_days: int = Field(
        0, ge=0, le=3650,
        description="Days after which DynamoDB deletes a note (TTL on expiresAt); 0 keeps notes forever.")


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

    @classmethod
    def from_settings(cls, settings: NotesSettings) -> NotesStore:
        return cls(settings.notes_table, settings.aws_region, settings.dynamodb_endpoint_url,
                   settings.datastore_retry_after, settings.note_ttl_days)

    @property
    def client(self):
        # Built on first use, once, whichever of the worker's threads gets there first: boto3 is
        # imported then, not when the app loads, so the health check answers sooner after a start.
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = new_client(self.region, self.endpoint_url)
        return self._client

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
