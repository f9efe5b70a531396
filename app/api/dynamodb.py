"""The DynamoDB client, with the settings `make bench` measured.

No Flask here: bench/baseline_app.py builds its client with this same function,
so the benchmark's boto3 ceiling and the service differ only by the web stack.
"""
from __future__ import annotations

import boto3
from botocore.config import Config


def new_client(region: str, endpoint_url: str | None):
    """A client for one process (a boto3 client must not cross a fork)."""
    return boto3.session.Session().client(
        "dynamodb",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(
            connect_timeout=1,
            read_timeout=3,
            retries={"mode": "standard", "max_attempts": 3},
        ),
    )
