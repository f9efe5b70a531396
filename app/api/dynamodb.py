"""A DynamoDB client for a blueprint's store (the sample's: notes/store.py). No Flask here.

boto3 is imported on the first call, not when the app is loaded: the health check
does not need it, and the worker answers its first 200 that much sooner.
"""
from __future__ import annotations

# Connections kept open to DynamoDB per process. By Little's law the calls in flight are the call rate
# times the call's latency: a 0.25 vCPU task serves a few hundred calls/s (`make bench`) at ~5-10 ms each,
# a handful at once; 64 also covers a burst of a few requests per ms, or calls slowed to ~100 ms, without
# closing connections. More only matters when DynamoDB is slow, where a new handshake is not the cost that
# counts. An idle connection costs one socket and its TLS state (~40 KB), at most ~2.5 MB here.
MAX_POOL_CONNECTIONS = 64


def new_client(region: str, endpoint_url: str | None):
    """A client for one process (a boto3 client must not cross a fork), configured, not patched
    (https://docs.aws.amazon.com/botocore/latest/reference/config.html):
    - fail fast (a readiness check must not hang on a slow DynamoDB), and retry throttling and 5xx
      with backoff;
    - a fixed User-Agent: botocore otherwise rebuilds it twice per call, sanitising every
      character (~100 us), only to report feature metrics to AWS; about a quarter of boto3's CPU
      per call (`make bench ARGS=--profile`);
    - no client-side parameter validation: our calls are fixed shapes, and DynamoDB validates
      anyway (an invalid call is then a ClientError, not a ParamValidationError: both are a 503);
    - a connection pool of MAX_POOL_CONNECTIONS, not botocore's 10: the gevent worker runs up to
      WORKER_CONNECTIONS requests at once, each holding a connection for its call, and urllib3 closes
      every connection returned to a full pool (a new TLS handshake for the next call on AWS).
    """
    import boto3
    import botocore.session
    from botocore.config import Config

    core = botocore.session.get_session()
    session = boto3.session.Session(botocore_session=core)  # boto3 names itself in core's User-Agent
    # botocore appends the session's own extra (its version) to a fixed User-Agent: once is enough.
    user_agent = core.user_agent().removesuffix(f" {core.user_agent_extra}")
    config = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "max_attempts": 3},
                    parameter_validation=False, user_agent=user_agent,
                    max_pool_connections=MAX_POOL_CONNECTIONS)
    return session.client("dynamodb", region_name=region, endpoint_url=endpoint_url, config=config)
