"""The DynamoDB client, with the settings `make bench` measured.

No Flask here: the benchmark's reference apps build their client with this function too.

boto3 is imported here, on the first call, not when the app is loaded: the
health check does not need it, and gunicorn answers its first 200 that much
sooner (`make bench`, 0.25 vCPU quota: 1.6 s before, 0.9 s after, on a busy
machine). The cost is not moved into
a user's first request: the worker builds its client in the background as soon
as it starts (NotesStore.warm_up, from gunicorn.conf.py's post_worker_init).
"""
from __future__ import annotations

# What every client of ours needs: fail fast (a health check must not hang on a
# slow DynamoDB) and retry throttling and 5xx with backoff.
TIMEOUTS_AND_RETRIES = {"connect_timeout": 1, "read_timeout": 3, "retries": {"mode": "standard", "max_attempts": 3}}


def new_client(region: str, endpoint_url: str | None, tuned: bool = True):
    """A client for one process (a boto3 client must not cross a fork).

    Tuned, it saves about a quarter of boto3's CPU per call (`make bench ARGS=--profile`):
    - a fixed User-Agent: botocore otherwise rebuilds it twice per call, sanitising
      every character (~100 us), only to report feature metrics to AWS;
    - no client-side parameter validation: our calls are fixed shapes, and DynamoDB
      validates anyway (an invalid call is then a ClientError, not a
      ParamValidationError: both are a 503 in store.py).
    https://docs.aws.amazon.com/botocore/latest/reference/config.html
    """
    import boto3
    import botocore.session
    from botocore.config import Config

    core = botocore.session.get_session()
    session = boto3.session.Session(botocore_session=core)  # boto3 names itself in core's User-Agent
    settings = dict(TIMEOUTS_AND_RETRIES)
    if tuned:
        # botocore appends the session's own extra (its version) to a fixed User-Agent: once is enough.
        user_agent = core.user_agent().removesuffix(f" {core.user_agent_extra}")
        settings.update(parameter_validation=False, user_agent=user_agent)
    return session.client("dynamodb", region_name=region, endpoint_url=endpoint_url, config=Config(**settings))
