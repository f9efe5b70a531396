"""What reaches the app on Lambda (service.yml, Compute=Lambda), for the real-server tier to send it.

The same image runs there: the AWS Lambda Web Adapter (app/Dockerfile) turns each invocation into an HTTP
request to gunicorn on PORT. Neither the adapter's binary nor Lambda runs here (no registry this machine
reaches serves it, and no Docker daemon), so this module writes down the two steps in Python, from their
documentation, and tests/server/test_lambda_config.py sends the result to the real server started with the
function's environment. It tests OUR side of that contract, not the adapter's: only a deploy proves the
adapter does what is written here.

1. `http_api_event`: the event an HTTP API Lambda integration with payload format 2.0 sends: header names in
   lower case, repeated headers joined with commas, cookies in their own list, the body as text or base64,
   the request id in requestContext
   (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
2. `adapter_request`: what the adapter makes of it (aws-lambda-web-adapter 0.9.1, src/lib.rs, and
   docs/guide/src/features/request-context.md): the raw path and query string, every event header, the
   cookies back in one `cookie` header, the body as bytes, and two headers of its own, inserted over any a
   client sent: `x-amzn-request-context` (the event's requestContext as JSON) and `x-amzn-lambda-context`
   (the invocation's context as JSON). HTTP/1.1 to 127.0.0.1:AWS_LWA_PORT.
"""
from __future__ import annotations

import base64
import http.client
import json
import time
import uuid

# The function's Environment as service.yml renders it (Compute=Lambda, the parent's first service), read
# from the template so the server tier runs with exactly what a deploy sets; less the origin secret (a
# dynamic reference: the test gives its own) and the block's own variables (tokens of other stacks' outputs;
# tests/templates/test_compute.py checks the entrypoint sets them). Every value as the text Lambda passes.
# And the variables Lambda itself sets in every execution environment
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
# PORT and AWS_LWA_PORT are ContainerPort (8000); a test gives both a free port instead.
NOT_FROM_THE_TEMPLATE = ("ORIGIN_VERIFY_SECRET", "SERVICE_ENVIRONMENT_NAMES", "SERVICE_ENVIRONMENT_VALUES")


def function_environment() -> dict[str, str]:
    from checks.evaluate import nested_stacks
    from checks.render import PARENT, render_stack, template
    first = next(name for name, location in nested_stacks(template(PARENT)).items() if location == "service.yml")
    rendered = render_stack(first, {"Compute": "Lambda", "ImageUri": "app=x@sha256:" + "0" * 64})
    variables = rendered["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    return {name: str(value) for name, value in variables.items() if name not in NOT_FROM_THE_TEMPLATE}


FUNCTION_ENVIRONMENT = function_environment()
LAMBDA_RUNTIME_ENVIRONMENT = {
    "AWS_LAMBDA_FUNCTION_NAME": "notes-NotesService-Function-1A2B3C4D",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_LAMBDA_LOG_GROUP_NAME": "notes-NotesService-LogGroup-1A2B3C4D",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/08/[$LATEST]0123456789abcdef0123456789abcdef",
    "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "TZ": ":UTC",
}
API_DOMAIN = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"


def http_api_event(method: str, path: str, headers: dict[str, str], body: bytes | None = None,
                   request_id: str | None = None, source_ip: str = "130.176.1.1") -> dict:
    """The payload format 2.0 event API Gateway sends for a request from CloudFront (`source_ip`: CloudFront's
    address). `headers` are the request's as they reach API Gateway, in any case; API Gateway adds its own."""
    raw_path, _, query = path.partition("?")
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        name = name.lower()
        lowered[name] = f"{lowered[name]},{value}" if name in lowered else value
    cookies = [c.strip() for c in lowered.pop("cookie", "").split(";") if c.strip()]
    request_id = request_id or base64.b32encode(uuid.uuid4().bytes).decode()[:16]  # the shape of $context.requestId
    lowered.update({"host": API_DOMAIN, "x-forwarded-port": "443", "x-forwarded-proto": "https",
                    "x-amzn-trace-id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
                    "content-length": str(len(body or b""))})
    # The integration's parameter mapping, as on Fargate: overwrite:header.X-Request-Id = $context.requestId.
    # That API Gateway applies it to a Lambda integration is for a deploy to prove (ISSUE20 research, open point 1).
    lowered["x-request-id"] = request_id
    text = (body or b"").decode("utf-8", "strict") if _is_text(body) else None
    event = {
        "version": "2.0", "routeKey": "ANY /api/{proxy+}", "rawPath": raw_path, "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012", "apiId": API_DOMAIN.split(".")[0], "domainName": API_DOMAIN,
            "domainPrefix": API_DOMAIN.split(".")[0], "requestId": request_id, "routeKey": "ANY /api/{proxy+}",
            "stage": "$default", "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": lowered.get("user-agent", "")},
        },
        "isBase64Encoded": body is not None and text is None,
    }
    if cookies:
        event["cookies"] = cookies
    if body is not None:
        event["body"] = text if text is not None else base64.b64encode(body).decode()
    return event


def _is_text(body: bytes | None) -> bool:
    try:
        (body or b"").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def adapter_request(event: dict) -> tuple[str, str, dict[str, str], bytes]:
    """(method, target, headers, body) of the HTTP request the adapter sends the app for `event`."""
    context = event["requestContext"]
    target = event["rawPath"] + (f"?{event['rawQueryString']}" if event["rawQueryString"] else "")
    headers = dict(event["headers"])
    if event.get("cookies"):
        headers["cookie"] = "; ".join(event["cookies"])
    body = event.get("body") or ""
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers["content-length"] = str(len(data))
    headers["x-amzn-request-context"] = json.dumps(context)
    headers["x-amzn-lambda-context"] = json.dumps({
        "request_id": str(uuid.uuid4()), "deadline": int(time.time() * 1000) + 29_000,
        "invoked_function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:notes-NotesService-Function-1A2B3C4D",
        "xray_trace_id": headers.get("x-amzn-trace-id", ""), "env_config": {
            "function_name": "notes-NotesService-Function-1A2B3C4D", "memory": 512, "version": "$LATEST"}})
    return context["http"]["method"], target, headers, data


def send(host: str, port: int, method: str, target: str, headers: dict[str, str], body: bytes,
         timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request as given (header names as given, no header added but Host when absent)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host="host" in {k.lower() for k in headers},
                        skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders(body or None)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()
