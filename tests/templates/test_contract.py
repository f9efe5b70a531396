"""One contract, several files: the app, the image, the task definition, the
target group, the local edge and CloudFront must agree. Templates are read with
cfn-lint's decoder; app values come from the app's own code."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from api.config import API_PREFIX, Settings
from api.errors import HTTP_CODES
from api.health import HEALTH_PATH
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from checks.render import PARENT, template
from local import edge
from tests.support.dockerfile import dockerfile
from tests.templates.conftest import IMAGE, ROOT, container, environment, service, stack

SERVICE = template("service.yml")
PARENT_TEMPLATE = template("parent.yml")
FRONTEND = template("frontend.yml")
# What the parent tells the sample's service.yml about the app: its port and health path.
NOTES = template(PARENT)["Resources"]["NotesService"]["Properties"]["Parameters"]
CONTRACT = {**SERVICE["Mappings"]["App"]["Container"], "Port": NOTES["ContainerPort"],
            "GracefulTimeout": NOTES.get("GracefulTimeout", SERVICE["Parameters"]["GracefulTimeout"]["Default"]),
            "HealthCheckPath": NOTES["HealthCheckPath"]}
INGRESSES = template(PARENT)["Parameters"]["Ingress"]["AllowedValues"]
PER_INGRESS = {ingress: SERVICE["Mappings"]["App"][ingress] for ingress in INGRESSES}


def app_settings() -> dict:
    """Every setting the app reads: the fields of each BaseSettings class in app/api/ (the platform's
    config.py, and each blueprint's own, e.g. the sample's)."""
    import importlib
    import inspect
    import pkgutil

    import api
    from pydantic_settings import BaseSettings
    fields = dict(Settings.model_fields)
    for module in pkgutil.walk_packages(api.__path__, "api."):
        for _, cls in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(cls, BaseSettings) and cls is not BaseSettings:
                fields.update(cls.model_fields)
    return fields


APP_SETTINGS = app_settings()
DEFAULTS = {name: field.default for name, field in APP_SETTINGS.items()}
ALB_IDLE_TIMEOUT = 60
FARGATE_MAX_STOP_TIMEOUT = 120  # also the notice a Fargate Spot interruption gives
STOP_MARGIN = 10  # seconds between the end of the drain and SIGKILL


def service_for(ingress: str) -> dict:
    """The notes service's resources for `ingress`, running tasks."""
    return service(Ingress=ingress, ImageUri=IMAGE)


@pytest.fixture(scope="module")
def lb_service():
    return service_for("LoadBalancer")


def test_container_port_matches_the_app_and_the_image(lb_service):
    port = int(CONTRACT["Port"])
    assert port == DEFAULTS["port"]
    assert dockerfile().envs["PORT"] == str(port)
    c = container(lb_service)
    assert c["PortMappings"][0]["ContainerPort"] == port
    assert {"Name": "PORT", "Value": port} in c["Environment"]
    assert int(SERVICE["Parameters"]["ContainerPort"]["Default"]) == port, "a service that sets none runs the app's"
    tg = lb_service["TargetGroup"]["Properties"]
    assert tg["Port"] == port


def test_one_health_contract_image_task_and_target_group(lb_service):
    assert CONTRACT["HealthCheckPath"] == HEALTH_PATH == SERVICE["Parameters"]["HealthCheckPath"]["Default"]
    assert lb_service["TargetGroup"]["Properties"]["HealthCheckPath"] == HEALTH_PATH
    assert HEALTH_PATH.startswith(NOTES["PathPrefix"] + "/"), "the health check goes through the service's own rule"
    task_check = container(lb_service)["HealthCheck"]["Command"]
    assert task_check == ["CMD", *dockerfile().exec_form("HEALTHCHECK")]
    assert f'PATH = "{HEALTH_PATH}"' in (ROOT / "app" / "healthcheck.py").read_text()


def test_the_api_prefix_is_the_apps_everywhere():
    """The app sets its prefix once (api.config.API_PREFIX); the health path derives from it, and
    CloudFront's API behaviour and the local edge that stands in for it route exactly that prefix."""
    assert HEALTH_PATH.startswith(API_PREFIX + "/") and CONTRACT["HealthCheckPath"].startswith(API_PREFIX + "/")
    config = FRONTEND["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    assert [b["PathPattern"] for b in config["CacheBehaviors"]] == [f"{API_PREFIX}/*"]
    assert edge.API_PREFIX == API_PREFIX + "/"


@pytest.mark.parametrize("ingress", INGRESSES)
def test_shutdown_timing_per_ingress(ingress):
    """The whole stop sequence, for each ingress: the task keeps accepting for DRAIN_DELAY
    after SIGTERM, drains for GRACEFUL_TIMEOUT, and ECS waits StopTimeout before SIGKILL."""
    rendered = service_for(ingress)
    env, per = environment(rendered), PER_INGRESS[ingress]
    drain, graceful = int(per["DrainDelay"]), int(CONTRACT["GracefulTimeout"])
    stop = int(container(rendered)["StopTimeout"])
    assert int(env["DRAIN_DELAY"]) == drain and int(env["GRACEFUL_TIMEOUT"]) == graceful
    assert graceful == DEFAULTS["graceful_timeout"]
    assert stop == int(per["StopTimeout"])
    assert drain + graceful + STOP_MARGIN <= stop <= FARGATE_MAX_STOP_TIMEOUT


def test_http_api_keeps_serving_while_api_gateway_still_routes_to_a_stopping_task():
    """ECS deregisters from Cloud Map and sends SIGTERM together; API Gateway keeps using the
    SRV records it resolved (aws/containers-roadmap#1639), so the drain outlasts their TTL."""
    rendered = service_for("HttpApi")
    (record,) = rendered["CloudMapService"]["Properties"]["DnsConfig"]["DnsRecords"]
    assert int(environment(rendered)["DRAIN_DELAY"]) > record["TTL"]


def test_load_balancer_keeps_serving_until_health_checks_can_take_a_spot_task_out(lb_service):
    """On a deploy ECS deregisters the target and waits the deregistration delay before SIGTERM
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/load-balancer-connection-draining.html);
    on a Fargate Spot interruption SIGTERM comes first and the target may stay registered until
    the task stops (https://repost.aws/knowledge-center/fargate-spot-termination-notice), so the
    drain lasts until the target group's health checks can have marked the task unhealthy."""
    tg = lb_service["TargetGroup"]["Properties"]
    attrs = {a["Key"]: a["Value"] for a in tg["TargetGroupAttributes"]}
    dereg = int(attrs["deregistration_delay.timeout_seconds"])
    assert dereg == int(PER_INGRESS["LoadBalancer"]["DeregistrationDelay"]) > 0
    # A request that began just before deregistration finishes within the delay or the drain.
    assert dereg <= int(CONTRACT["GracefulTimeout"])
    detection = tg["UnhealthyThresholdCount"] * tg["HealthCheckIntervalSeconds"] + tg["HealthCheckTimeoutSeconds"]
    assert int(environment(lb_service)["DRAIN_DELAY"]) >= detection


@pytest.mark.parametrize("ingress", INGRESSES)
def test_every_variable_the_task_sets_is_read_by_the_app(ingress):
    """A renamed setting on either side would otherwise be ignored silently (pydantic's extra=ignore)."""
    read = {name.upper() for name in APP_SETTINGS}
    for field in APP_SETTINGS.values():
        aliases = getattr(field.validation_alias, "choices", [])
        read |= {a.upper() for a in aliases if isinstance(a, str)}
    unread = set(environment(service_for(ingress))) - read
    assert unread == set(), f"set by service.yml but not read by any settings class in app/api/: {sorted(unread)}"


EXPECTED_TRUST = {
    # API Gateway's integration overwrites X-Request-Id with $context.requestId.
    # CloudFront appends the viewer to X-Forwarded-For; API Gateway's HTTP proxy adds its peer to
    # the Forwarded header instead, so the viewer is the last X-Forwarded-For entry.
    "HttpApi": {"REQUEST_ID_HEADER": "X-Request-Id", "TRUSTED_PROXY_HOPS": 1},
    # CloudFront includes X-Amz-Cf-Id in every origin request, whatever the origin request policy
    # (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_OriginRequestPolicy.html); the
    # ALB only adds a Self field to a client's X-Amzn-Trace-Id, keeping the client's Root
    # (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-request-tracing.html).
    "LoadBalancer": {"REQUEST_ID_HEADER": "X-Amz-Cf-Id", "TRUSTED_PROXY_HOPS": 2},
}


@pytest.mark.parametrize("ingress", INGRESSES)
def test_request_id_and_client_address_come_from_headers_a_client_cannot_set(ingress):
    """CloudFront appends the viewer's address to X-Forwarded-For
    (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RequestAndResponseBehaviorCustomOrigin.html#RequestCustomIPAddresses);
    the ALB appends CloudFront's after it, so the viewer is second from the right
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html).
    An HTTP API reports its peer in Forwarded, not X-Forwarded-For, so there the viewer is last.
    Counting one hop too few can only log a proxy's address, never a value the client wrote."""
    rendered = service_for(ingress)
    env = environment(rendered)
    assert {k: env[k] for k in EXPECTED_TRUST[ingress]} == EXPECTED_TRUST[ingress]
    assert env["REQUEST_ID_HEADER"] == PER_INGRESS[ingress]["RequestIdHeader"]
    assert env["TRUSTED_PROXY_HOPS"] == PER_INGRESS[ingress]["TrustedProxyHops"]
    assert env["REQUEST_ID_HEADER"].lower() not in {"x-amzn-trace-id", "x-amzn-requestid"}
    if ingress == "HttpApi":  # the header trusted is the one the integration overwrites
        mapping = rendered["HttpApiIntegration"]["Properties"]["RequestParameters"]
        assert mapping[f"overwrite:header.{env['REQUEST_ID_HEADER']}"] == "$context.requestId"


def test_keepalive_outlasts_the_load_balancer_idle_timeout():
    balancer = stack("IngressStack", Ingress="LoadBalancer")["Resources"]["LoadBalancer"]
    attrs = {a["Key"]: a["Value"] for a in balancer["Properties"]["LoadBalancerAttributes"]}
    assert int(attrs["idle_timeout.timeout_seconds"]) == ALB_IDLE_TIMEOUT < DEFAULTS["keepalive"]


# Files a worker has open besides its connections: the listener, the heartbeat file, logs, the
# DynamoDB client's pool, Python's own imports; generous.
OTHER_OPEN_FILES = 256


@pytest.mark.parametrize("ingress", INGRESSES)
def test_the_task_may_open_every_connection_gunicorn_holds(ingress):
    """gunicorn holds up to WORKER_CONNECTIONS sockets per worker; its own default (1000) let about
    1,000 silent connections starve the health check. The container's nofile limit is set (Fargate's
    default has changed: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Ulimit.html) and
    leaves room for every worker's connections."""
    gunicorn_conf = (ROOT / "app" / "gunicorn.conf.py").read_text()
    assert re.search(r"^worker_connections = settings\.worker_connections$", gunicorn_conf, re.M)
    assert DEFAULTS["worker_connections"] >= 2048
    c = container(service_for(ingress))
    (nofile,) = [u for u in c.get("Ulimits", []) if u["Name"] == "nofile"]
    assert nofile["SoftLimit"] == nofile["HardLimit"]
    env = environment(service_for(ingress))
    workers = int(env.get("WEB_CONCURRENCY", DEFAULTS["web_concurrency"]))
    connections = int(env.get("WORKER_CONNECTIONS", DEFAULTS["worker_connections"]))
    assert workers * connections + OTHER_OPEN_FILES <= nofile["SoftLimit"]
    largest = next(m.le for m in Settings.model_fields["worker_connections"].metadata if hasattr(m, "le"))
    assert largest + OTHER_OPEN_FILES <= nofile["SoftLimit"], \
        "even the largest WORKER_CONNECTIONS the settings accept fits"


def test_task_runs_as_the_images_user_read_only(lb_service):
    user = dockerfile().one("USER")
    c = container(lb_service)
    assert c["User"] == user
    assert c["ReadonlyRootFilesystem"] is True
    assert {"SourceVolume": "tmp", "ContainerPath": "/tmp", "ReadOnly": False} in c["MountPoints"]


def test_the_apps_writable_path_is_writable_by_the_app_user(lb_service):
    """A Fargate bind mount starts root-owned 0755 (UID 10001 cannot write it) unless the image
    declares its path as a VOLUME: then ECS copies the image's directory, owner and mode
    included (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html).
    compose's tmpfs hides this locally, so it is pinned here."""
    uid = dockerfile().one("USER").split(":")[0]
    volumes = dockerfile().volumes
    runs = " && ".join(dockerfile().values("RUN"))
    writable = [m["ContainerPath"] for m in container(lb_service)["MountPoints"] if not m["ReadOnly"]]
    assert writable == ["/tmp"]
    for path in writable:
        assert path in volumes, f"{path} must be a VOLUME in app/Dockerfile, or ECS mounts it root-owned"
        assert re.search(rf"chown {uid}(:\d+)? {re.escape(path)}(\s|$)", runs), f"{path} is not owned by {uid}"


def test_local_edge_sends_the_same_security_headers_as_cloudfront():
    """Every header the ResponseHeadersPolicy adds, dedicated field or custom header, and nothing else
    (HSTS aside: CloudFront is always HTTPS, the local edge never is)."""
    config = FRONTEND["Resources"]["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    headers = config["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    cloudfront = {
        "Content-Security-Policy": headers["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "X-Frame-Options": headers["FrameOptions"]["FrameOption"],
        "Referrer-Policy": headers["ReferrerPolicy"]["ReferrerPolicy"],
        "X-Content-Type-Options": "nosniff",  # the field has no value: CloudFront always sends nosniff
        **{item["Header"]: item["Value"] for item in config["CustomHeadersConfig"]["Items"]},
    }
    assert set(headers) == {"StrictTransportSecurity", "ContentSecurityPolicy", "FrameOptions", "ReferrerPolicy",
                            "ContentTypeOptions"}, "a new SecurityHeadersConfig field: add it to the mapping above"
    assert all(field.get("Override") for field in headers.values())
    assert all(item["Override"] for item in config["CustomHeadersConfig"]["Items"])
    assert edge.SECURITY_HEADERS == cloudfront
    for required in ("form-action 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'"):
        assert required in cloudfront["Content-Security-Policy"]
    assert cloudfront["Cross-Origin-Opener-Policy"] == cloudfront["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "camera=()" in cloudfront["Permissions-Policy"]


SPA_CASES = ["/", "/notes/abc", "/notes/abc/", "/index.html", "/assets/app.js", "/favicon.ico",
             "/deep/link/with-dash", "/v1.2/thing", "/a.b/c"]


def test_cloudfront_function_and_local_edge_rewrite_the_same_paths():
    node = shutil.which("node")
    assert node, "node is needed to run the CloudFront Function's JavaScript (Debian: apt-get install nodejs)"
    code = FRONTEND["Resources"]["SpaRewriteFunction"]["Properties"]["FunctionCode"]
    script = code + "\nconst cases = JSON.parse(process.argv[1]);\n" \
        "console.log(JSON.stringify(cases.map(u => handler({request: {uri: u}}).uri)));\n"
    result = subprocess.run([node, "-e", script, json.dumps(SPA_CASES)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [edge.spa_rewrite(p) for p in SPA_CASES]
    assert edge.spa_rewrite("/notes/abc") == "/index.html"


def test_spa_rewrite_runs_only_on_the_static_behaviour():
    config = FRONTEND["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["FunctionAssociations"][0]["EventType"] == "viewer-request"
    (api,) = config["CacheBehaviors"]
    assert api["PathPattern"] == f"{API_PREFIX}/*" and "FunctionAssociations" not in api
    assert not [e for e in config.get("CustomErrorResponses", []) if "ResponsePagePath" in e or "ResponseCode" in e]
    assert api["TargetOriginId"] == "api" and "DELETE" in api["AllowedMethods"]


# Returned by API Gateway or the ALB themselves while tasks are replaced or unreachable.
INGRESS_ERRORS = {502, 503, 504}


def app_status_codes() -> set[int]:
    """Every error status the app can answer: werkzeug's, and each ApiError raised in app/api."""
    codes = set(HTTP_CODES)
    for path in (ROOT / "app" / "api").glob("*.py"):
        text = path.read_text()
        codes |= {int(c) for c in re.findall(r"(?:ApiError|super\(\).__init__)\(\s*(\d{3})\b", text)}
    return codes


def test_cloudfront_never_caches_an_api_error():
    """CloudFront caches origin errors for 10 s by default, CachingDisabled or not, so a single 503
    during a deploy would be served to everyone asking for that URL
    (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/custom-error-pages-expiration.html).
    Every code the app or the ingress can return that CloudFront lets us configure (the
    schema's enum, from cfn-lint) has ErrorCachingMinTTL 0; 416 CloudFront never caches."""
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::CloudFront::Distribution").schema
    configurable = set(schema["definitions"]["CustomErrorResponse"]["properties"]["ErrorCode"]["enum"]) - {416}
    config = FRONTEND["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    entries = config.get("CustomErrorResponses", [])
    uncached = {int(e["ErrorCode"]) for e in entries if int(e["ErrorCachingMinTTL"]) == 0}
    emitted = app_status_codes() | INGRESS_ERRORS
    assert {400, 404, 413, 415, 503} <= emitted  # the scan finds what the app raises
    assert sorted((emitted & configurable) - uncached) == []
    # Error caching only: a page or status override would turn API errors into something else.
    assert all(set(e) == {"ErrorCode", "ErrorCachingMinTTL"} for e in entries)


def test_what_the_docs_say_of_the_drain_delay_is_what_the_template_sets():
    """The setting's description, the entrypoint and docs/performance.md name each ingress's DRAIN_DELAY as
    service.yml's App mapping sets it (a reader sizing a stop reads these, not the mapping)."""
    description = APP_SETTINGS["drain_delay"].description
    entrypoint = (ROOT / "app" / "entrypoint.py").read_text()
    stops = (ROOT / "docs" / "performance.md").read_text().split("### Stops", 1)[1]
    for text in (description, entrypoint, stops):
        assert "0 behind the ALB" not in text and "stays 0" not in text
        for ingress, per in PER_INGRESS.items():
            assert re.search(rf"\b{int(per['DrainDelay'])}\b", text), (ingress, text[:300])
