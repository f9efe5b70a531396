"""One contract, several files: the app, the image, the task definition, the
target group, the local edge and CloudFront must agree. Templates are read with
cfn-lint's decoder; app values come from the app's own code."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from api.config import Settings
from api.health import HEALTH_PATH
from api.store import KEY_SCHEMA
from dockerfile_parse import DockerfileParser

from checks.render import load, render_file
from local import edge
from local.dynamodb_table import table_definition
from tests.templates.conftest import ROOT

SERVICE = load(ROOT / "service.yml")
FRONTEND = load(ROOT / "frontend.yml")
CONTRACT = SERVICE["Mappings"]["App"]["Container"]
DEFAULTS = {name: field.default for name, field in Settings.model_fields.items()}
ALB_IDLE_TIMEOUT = 60


def container(rendered_service: dict) -> dict:
    (definition,) = rendered_service["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    return definition


@pytest.fixture(scope="module")
def lb_service():
    return render_file(ROOT / "service.yml", {"Ingress": "LoadBalancer", "ImageUri": "x@sha256:" + "0" * 64})


def test_container_port_matches_the_app_and_the_image(lb_service):
    port = int(CONTRACT["Port"])
    assert port == DEFAULTS["port"]
    assert DockerfileParser(path=str(ROOT / "app" / "Dockerfile")).envs["PORT"] == str(port)
    c = container(lb_service)
    assert c["PortMappings"][0]["ContainerPort"] == port
    assert {"Name": "PORT", "Value": port} in c["Environment"]
    tg = lb_service["Resources"]["TargetGroup"]["Properties"]
    assert tg["Port"] == port


def test_one_health_contract_image_task_and_target_group(lb_service):
    assert CONTRACT["HealthCheckPath"] == HEALTH_PATH
    assert lb_service["Resources"]["TargetGroup"]["Properties"]["HealthCheckPath"] == HEALTH_PATH
    task_check = container(lb_service)["HealthCheck"]["Command"]
    image_check = DockerfileParser(path=str(ROOT / "app" / "Dockerfile")).structure
    (healthcheck,) = [i["value"] for i in image_check if i["instruction"] == "HEALTHCHECK"]
    assert task_check == ["CMD", *json.loads(healthcheck.split("CMD", 1)[1])]
    assert f'PATH = "{HEALTH_PATH}"' in (ROOT / "app" / "healthcheck.py").read_text()


def test_shutdown_timing_deregistration_then_graceful_then_stop(lb_service):
    dereg = int(CONTRACT["DeregistrationDelay"])
    graceful = int(CONTRACT["GracefulTimeout"])
    stop = int(container(lb_service)["StopTimeout"])
    assert graceful == DEFAULTS["graceful_timeout"]
    assert {"Name": "GRACEFUL_TIMEOUT", "Value": graceful} in container(lb_service)["Environment"]
    attrs = {a["Key"]: a["Value"] for a in lb_service["Resources"]["TargetGroup"]["Properties"]["TargetGroupAttributes"]}
    assert int(attrs["deregistration_delay.timeout_seconds"]) == dereg
    assert dereg < graceful < stop <= 120  # 120 s: Fargate's maximum, and Spot's warning


def test_keepalive_outlasts_the_load_balancer_idle_timeout(lb_service):
    attrs = {a["Key"]: a["Value"] for a in lb_service["Resources"]["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]}
    assert int(attrs["idle_timeout.timeout_seconds"]) == ALB_IDLE_TIMEOUT < DEFAULTS["keepalive"]


def test_task_runs_as_the_images_user_read_only(lb_service):
    parsed = DockerfileParser(path=str(ROOT / "app" / "Dockerfile"))
    (user,) = [i["value"] for i in parsed.structure if i["instruction"] == "USER"]
    c = container(lb_service)
    assert c["User"] == user
    assert c["ReadonlyRootFilesystem"] is True
    assert {"SourceVolume": "tmp", "ContainerPath": "/tmp", "ReadOnly": False} in c["MountPoints"]


def test_table_key_matches_the_store():
    definition = table_definition()
    assert {k["AttributeName"]: k["KeyType"] for k in definition["KeySchema"]} == KEY_SCHEMA
    props = SERVICE["Resources"]["NotesTable"]["Properties"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert SERVICE["Resources"]["NotesTable"]["DeletionPolicy"] == "Retain"


def test_task_role_reaches_only_the_table_with_the_calls_the_store_makes():
    statements = SERVICE["Resources"]["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    table_statement = statements[0]
    assert table_statement["Resource"] == {"Fn::GetAtt": ["NotesTable", "Arn"]}
    used = set(re.findall(r'_call\(\s*"(\w+)"', (ROOT / "app" / "api" / "store.py").read_text()))
    allowed = {a.split(":")[1] for a in table_statement["Action"]}
    to_api = {"get_item": "GetItem", "put_item": "PutItem", "delete_item": "DeleteItem", "query": "Query"}
    assert {to_api[u] for u in used} == allowed


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
    assert api["PathPattern"] == "/api/*" and "FunctionAssociations" not in api
    assert "CustomErrorResponses" not in config
    assert api["TargetOriginId"] == "api" and "DELETE" in api["AllowedMethods"]


def test_note_expiry_the_table_deletes_on_is_the_attribute_the_store_writes(lb_service):
    from api.store import TTL_ATTRIBUTE
    props = SERVICE["Resources"]["NotesTable"]["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    env = {e["Name"]: str(e["Value"]) for e in container(lb_service)["Environment"]}
    assert env["NOTE_TTL_DAYS"] == "30"
    assert "note_ttl_days" in DEFAULTS and DEFAULTS["note_ttl_days"] == 0  # local runs keep notes
