"""The DynamoDB client's configuration (app/api/dynamodb.py), measured by `make bench`: what it changes on
the wire (the sample's store with it: tests/unit/notes/test_notes_store_client.py)."""
from __future__ import annotations

import boto3
from api.dynamodb import new_client
from moto import mock_aws


def sent_user_agents(client) -> list[str]:
    seen = []
    client.meta.events.register("before-send", lambda request, **_: seen.append(request.headers["User-Agent"]))
    return seen


def test_the_client_sends_one_fixed_user_agent():
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        client = new_client("us-east-1", None)
        seen = sent_user_agents(client)
        for _ in range(2):
            client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert len(set(seen)) == 1
    agent = seen[0].decode() if isinstance(seen[0], bytes) else seen[0]
    assert agent.startswith("Boto3/") and agent.count("Botocore/") == 1
    assert " m/" not in agent  # no per-call feature metrics: that is what costs the CPU


def test_loading_the_app_does_not_import_boto3():
    """The health check answers before boto3 is imported (make bench: start to first 200)."""
    import subprocess
    import sys
    from pathlib import Path
    code = "import sys; import api.wsgi; print('boto3' in sys.modules, 'botocore.client' in sys.modules)"
    app_dir = Path(__file__).resolve().parents[2] / "app"
    out = subprocess.run([sys.executable, "-c", code], cwd=app_dir, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr
