import json
import subprocess

import pytest

from blueprint.templates import parent
from scripts import deploy, image, preflight
from scripts.common import parse_overrides
from scripts.errors import DeployFailed, OpsError, PreflightFailed, WaitTimedOut
from tests.ops.conftest import make_target
from tests.ops.fake_tools import FakeTools

ONLY_AWS_CHECKS = {"credentials": preflight.check_credentials, "region": preflight.check_region,
                   "availability zones": preflight.check_zones, "certificates": preflight.check_certificates}


def test_repository_is_created_with_scanning_immutable_tags_and_a_lifecycle(aws):
    t = make_target(aws)
    uri = image.ensure_repository(t)
    ecr = aws.client("ecr")
    repo = ecr.describe_repositories(repositoryNames=[image.repository_name(t)])["repositories"][0]
    assert repo["repositoryUri"] == uri
    assert repo["imageTagMutability"] == "IMMUTABLE" and repo["imageScanningConfiguration"]["scanOnPush"]
    policy = json.loads(ecr.get_lifecycle_policy(repositoryName=repo["repositoryName"])["lifecyclePolicyText"])
    assert policy["rules"][0]["selection"]["countNumber"] == image.KEEP_IMAGES
    assert image.ensure_repository(t) == uri  # idempotent


def test_first_deploy_into_an_empty_account_then_a_redeploy_that_rebuilds_nothing(aws, capsys):
    t = make_target(aws)
    tools = FakeTools(aws)
    first = deploy.deploy(t, {"Ingress": "HttpApi"}, run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0)
    builds = tools.named("docker", "buildx", "build")
    assert len(builds) == 1 and "linux/arm64" in builds[0]  # the notes block's Architecture
    # The version travels in the image (app/Dockerfile's ARG APP_VERSION), not as a stack parameter.
    assert f"APP_VERSION={first['version']}" in builds[0] and first["version"] == image.source_tag()
    (sam,) = tools.named("sam", "deploy")
    params = parse_overrides(" ".join(sam[sam.index("--parameter-overrides") + 1:]))
    assert params["ImageUri"] == first["images"]["ImageUri"] and "@sha256:" in first["images"]["ImageUri"]
    assert "AppVersion" not in params and set(params) <= set(parent()["Parameters"])
    assert params["Ingress"] == "HttpApi" and params["Profile"] == "dev"  # samconfig's set, plus PARAMS
    assert "--no-fail-on-empty-changeset" in sam
    bucket = first["outputs"].bucket_name
    assert "index.html" in {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=bucket)["Contents"]}
    assert "Frontend: https://" in capsys.readouterr().out

    second = deploy.deploy(t, run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0)
    assert len(tools.named("docker", "buildx", "build")) == 1, "an image already in ECR is not rebuilt"
    assert second["images"] == first["images"]
    assert len(tools.named("sam", "deploy")) == 2


def test_deploy_stops_before_creating_anything_when_preflight_fails(aws):
    t = make_target(aws)
    tools = FakeTools(aws)
    with pytest.raises(PreflightFailed, match="preflight: 1 of 4 checks failed"):
        deploy.deploy(t, {"AvailabilityZoneIds": "use1-az3,use1-az1"}, run=tools, checks=ONLY_AWS_CHECKS,
                      skip_smoke=True, delay=0)
    assert tools.commands == []
    assert aws.client("ecr").describe_repositories()["repositories"] == []


def test_deploy_reports_a_service_that_never_becomes_stable(aws, capsys):
    t = make_target(aws)
    with pytest.raises(WaitTimedOut, match=r"ECS service api did not finish within 2 s \(last state: running 0/1"):
        deploy.deploy(t, run=FakeTools(aws, desired=1), checks=ONLY_AWS_CHECKS, skip_smoke=True,
                      service_timeout=2, delay=0.5)
    assert "ECS service api: running 0/1, deployments: PRIMARY IN_PROGRESS" in capsys.readouterr().out


def test_a_failing_sam_deploy_is_one_line(aws):
    t = make_target(aws)

    def failing(args, **kwargs):
        if args[0].endswith("sam"):
            return subprocess.CompletedProcess(args, 1, "", "")
        return FakeTools(aws)(args, **kwargs)
    with pytest.raises(DeployFailed, match=r"sam deploy failed \(exit 1\)"):
        deploy.deploy(t, run=failing, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0)


def test_a_failed_preflight_that_made_the_service_linked_roles_says_nothing_else_was_created(aws, capsys):
    """Preflight's one creation shows as `ok service-linked roles: ... (created)`: its last line must not then
    say "nothing was created"."""
    checks = {**ONLY_AWS_CHECKS, "service-linked roles": preflight.check_service_linked_roles}
    with pytest.raises(PreflightFailed, match=r"1 of 5 checks failed; nothing else was created \(the service-linked"):
        preflight.preflight(make_target(aws), {"CertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"},
                            checks=checks)
    assert any(line.startswith("ok   service-linked roles: ") and "(created)" in line
               for line in capsys.readouterr().out.splitlines())


def test_preflight_reports_every_failure_in_one_line_each(aws, capsys):
    t = make_target(aws)
    params = {"AvailabilityZoneIds": "use1-az3,use1-az1",
              "CertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}
    with pytest.raises(PreflightFailed, match="2 of 4 checks failed; nothing was created"):
        preflight.preflight(t, params, checks=ONLY_AWS_CHECKS)
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "FAIL availability zones: AZ use1-az3 does not support API Gateway VPC links: pick others in "
        "AvailabilityZoneIds",
        "FAIL certificates: CertificateArn (CloudFront) is in eu-west-1; it must be in us-east-1",
    ]


def self_signed(domain: str) -> tuple[bytes, bytes]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()))


def test_preflight_passes_with_the_default_zones_and_an_issued_certificate(aws):
    t = make_target(aws)
    cert, key = self_signed("app.example.com")
    arn = aws.client("acm", region_name="us-east-1").import_certificate(Certificate=cert, PrivateKey=key)[
        "CertificateArn"]
    results = {r.check: r for r in preflight.preflight(t, {"CertificateArn": arn}, checks=ONLY_AWS_CHECKS)}
    assert results["availability zones"].detail.startswith("use1-az1 (")
    assert results["certificates"].detail == "app.example.com"


def test_preflight_refuses_a_certificate_still_pending_validation(aws):
    t = make_target(aws)
    arn = aws.client("acm", region_name="us-east-1").request_certificate(DomainName="app.example.com")[
        "CertificateArn"]
    with pytest.raises(OpsError, match="is PENDING_VALIDATION, not ISSUED"):
        preflight.check_certificates(t, {"CertificateArn": arn})


def test_preflight_docker_check_says_the_engine_is_not_running_here(aws):
    fake = lambda args, **kw: subprocess.CompletedProcess(args, 1, "", "Cannot connect to the Docker daemon")  # noqa: E731
    with pytest.raises(OpsError, match="Docker engine is not running"):
        preflight.check_docker(make_target(aws), {}, run=fake)


def test_preflight_lint_runs_cfn_lint_on_the_templates(aws):
    assert preflight.check_lint(make_target(aws), {}) == "cfn-lint clean"


def test_preflight_needs_azs_in_an_unmapped_region(aws):
    t = make_target(aws)
    t.region = "af-south-1"  # Fargate, but no API Gateway VPC links: vpc.yml's VpcLinkAzIds entry is empty
    with pytest.raises(OpsError, match="set AvailabilityZoneIds"):
        preflight.chosen_zone_ids(t, {})


def test_sam_cli_reads_our_parameter_overrides_back(tmp_path):
    """The overrides `make deploy` passes, parsed by the SAM CLI's own parameter type (in .venv-sam)."""
    import json as _json

    from scripts.common import ROOT, format_overrides
    from tests.templates.conftest import venv_tool
    params = {"StopSchedule": "cron(0 19 ? * MON-FRI *)", "ImageUri": "", "AppVersion": "abc-dirty-1",
              "ImageUri2": "1.dkr.ecr.us-east-1.amazonaws.com/x@sha256:" + "a" * 64}
    code = ("import json, sys; from samcli.cli.types import CfnParameterOverridesType; "
            "print(json.dumps(CfnParameterOverridesType().convert(tuple(sys.argv[1:]), None, None)))")
    result = subprocess.run([venv_tool(".venv-sam", "python"), "-c", code, *format_overrides(params)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert _json.loads(result.stdout) == params


TWO_CONTEXTS = """
Resources:
  NotesService:
    Type: AWS::Serverless::Application
    Metadata: {Build: {Context: app, ImageParameter: ImageUri}}
    Properties: {Location: service.yml}
  AdminService:
    Type: AWS::Serverless::Application
    Metadata: {Build: {Context: app, ImageParameter: ImageUri}}
    Properties: {Location: service.yml}
  ReportsService:
    Type: AWS::Serverless::Application
    Metadata: {Build: {Context: reports, ImageParameter: ReportsImageUri}}
    Properties: {Location: ./service.yml}
  VpcStack:
    Type: AWS::Serverless::Application
    Properties: {Location: vpc.yml}
"""


def test_each_context_is_built_once_whatever_number_of_services_share_it(tmp_path):
    from blueprint.templates import load
    (tmp_path / "parent.yml").write_text(TWO_CONTEXTS)
    for context in ("app", "reports"):
        (tmp_path / context).mkdir()
        (tmp_path / context / "Dockerfile").write_text("FROM scratch\n")
    assert image.builds(load(tmp_path / "parent.yml"), root=tmp_path) == [
        image.Build("app", ("ImageUri",), ("NotesService", "AdminService")),
        image.Build("reports", ("ReportsImageUri",), ("ReportsService",))]


@pytest.mark.parametrize("metadata, says", [
    ("", "service NotesService has no Metadata.Build with Context and ImageParameter"),
    ("Metadata: {Build: {Context: nowhere, ImageParameter: ImageUri}}", "builds nowhere/, which has no Dockerfile"),
])
def test_a_service_without_a_usable_recipe_is_one_line(tmp_path, metadata, says):
    from blueprint.templates import load
    from scripts.errors import UsageError
    (tmp_path / "parent.yml").write_text(f"""
Resources:
  NotesService:
    Type: AWS::Serverless::Application
    {metadata}
    Properties: {{Location: service.yml}}
""")
    with pytest.raises(UsageError, match=says):
        image.builds(load(tmp_path / "parent.yml"))


def test_a_two_service_deploy_builds_the_shared_image_once_and_waits_for_both(aws, parent_template, capsys):
    from tests.ops.conftest import create_deployment
    parent_template.write_text(TWO_CONTEXTS.replace("Context: reports", "Context: app"))  # both from app/
    t = make_target(aws)
    tools = FakeTools(aws)
    real = tools.__call__

    def two_services(args, **kwargs):  # sam deploy creates a stack with two services
        if args[0].endswith("sam"):
            tools.commands.append(list(args))
            create_deployment(aws, services=("Notes", "Reports"))
            return subprocess.CompletedProcess(args, 0, "", "")
        return real(args, **kwargs)
    result = deploy.deploy(t, run=two_services, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0,
                           interactive=False)
    assert len(tools.named("docker", "buildx", "build")) == 1, "one Context, one build"
    (sam,) = tools.named("sam", "deploy")
    params = parse_overrides(" ".join(sam[sam.index("--parameter-overrides") + 1:]))
    assert params["ImageUri"] == params["ReportsImageUri"] == result["images"]["ImageUri"]
    assert "ECS service api, reports: done" in capsys.readouterr().out


def test_preflight_reads_the_build_recipes_before_anything_is_created(aws, parent_template):
    assert preflight.check_images(make_target(aws), {}) == "app/ -> ImageUri (NotesService)"
    assert "images" in preflight.CHECKS
    parent_template.write_text(TWO_CONTEXTS)  # reports/ has no Dockerfile in this repository
    with pytest.raises(OpsError, match="service ReportsService builds reports/, which has no Dockerfile"):
        preflight.check_images(make_target(aws), {})


def test_a_name_parent_yml_no_longer_declares_is_refused_before_anything_happens(aws):
    """SAM CLI sends only the template's parameters and drops the rest without a word: an old samconfig's
    MinTasks would quietly become the profile's value. `make deploy` says so instead."""
    from scripts.common import Target
    from scripts.errors import UsageError
    tools = FakeTools(aws)
    old = Target("prod", "old-stack", "us-east-1", {"Profile": "prod", "MinTasks": "2", "LogRetentionDays": "365"}, aws)
    with pytest.raises(UsageError, match=r"^samconfig.toml \[prod\] sets LogRetentionDays, MinTasks, which parent.yml "
                                         r"does not declare"):
        deploy.deploy(old, run=tools, checks={}, skip_smoke=True, delay=0, interactive=False)
    with pytest.raises(UsageError, match="^PARAMS sets Cpu, which parent.yml does not declare"):
        deploy.deploy(make_target(aws), {"Cpu": "512"}, run=tools, checks={}, skip_smoke=True, delay=0,
                      interactive=False)
    assert tools.named("docker") == [] and tools.named("sam") == [], "nothing was built or deployed"
