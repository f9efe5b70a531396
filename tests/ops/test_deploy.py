import os
import shutil
import subprocess
import sys

import pytest

from blueprint.templates import parent
from scripts import deploy, image, preflight
from scripts.common import parse_overrides
from scripts.errors import DeployFailed, OpsError, PreflightFailed, WaitTimedOut
from tests.ops.conftest import make_target
from tests.ops.fake_tools import FakeTools

ONLY_AWS_CHECKS = {"credentials": preflight.check_credentials, "region": preflight.check_region,
                   "availability zones": preflight.check_zones, "certificates": preflight.check_certificates}


def sent_parameters(tools: FakeTools, index: int = -1) -> dict:
    sam = tools.named("sam", "deploy")[index]
    return parse_overrides(" ".join(sam[sam.index("--parameter-overrides") + 1:]))


def test_first_deploy_into_an_empty_account_then_a_redeploy_runs_no_docker_and_uploads_nothing(aws, capsys):
    """The stack builds its images and publishes its site (build.yml, frontend.yml): the deploy is preflight,
    sam deploy, the wait and the smoke tests. FakeTools refuses any command but sam, git and the smoke suite."""
    t = make_target(aws)
    tools = FakeTools(aws)
    first = deploy.deploy(t, {"Ingress": "HttpApi"}, run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0)
    assert tools.named("docker") == [] and [c[0].rsplit("/", 1)[-1] for c in tools.commands] == ["sam"]
    params = sent_parameters(tools)
    assert params["ImageUri"] == "", "empty: the stack builds every service's image"
    assert "AppVersion" not in params and set(params) <= set(parent()["Parameters"])
    assert params["Ingress"] == "HttpApi" and params["Profile"] == "dev"  # samconfig's set, plus PARAMS
    (sam,) = tools.named("sam", "deploy")
    assert "--no-fail-on-empty-changeset" in sam
    bucket = first["outputs"].bucket_name
    assert "Contents" not in aws.client("s3").list_objects_v2(Bucket=bucket), "the stack publishes the site"
    assert aws.client("ecr").describe_repositories()["repositories"] == [], "the stack owns the repositories"
    out = capsys.readouterr().out
    assert "Frontend: https://" in out and "notes:    image built from version 3f2a9c1b0d4e" in out

    deploy.deploy(t, run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0)
    assert len(tools.named("sam", "deploy")) == 2 and tools.named("docker") == []


def test_an_image_uri_given_in_params_is_passed_as_given(aws):
    """A pipeline that builds and scans its images itself passes them by digest; the services it names skip
    the stack's build (service.yml's BuildsImage condition)."""
    given = "app=123456789012.dkr.ecr.us-east-1.amazonaws.com/notes@sha256:" + "a" * 64
    tools = FakeTools(aws)
    deploy.deploy(make_target(aws), {"ImageUri": given}, run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0)
    assert sent_parameters(tools)["ImageUri"] == given and tools.named("docker") == []


def test_a_stack_last_deployed_with_an_image_goes_back_to_building_and_says_so(aws, capsys):
    """sam deploy keeps a parameter it is not sent (UsePreviousValue): without an explicit empty ImageUri, a stack
    an older make deploy (or a PARAMS=ImageUri=...) gave an image would run it for ever and never build."""
    from tests.ops.conftest import create_deployment
    old = "app=123456789012.dkr.ecr.us-east-1.amazonaws.com/fargate-blueprint-test@sha256:" + "b" * 64
    create_deployment(aws, parameters={"ImageUri": old, "Profile": "dev"})
    tools = FakeTools(aws)
    deploy.deploy(make_target(aws), run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0, interactive=False)
    assert sent_parameters(tools)["ImageUri"] == ""
    assert f'  ImageUri: {old} -> ""  (computed by make deploy)' in capsys.readouterr().out


def test_deploy_stops_before_creating_anything_when_preflight_fails(aws):
    t = make_target(aws)
    tools = FakeTools(aws)
    with pytest.raises(PreflightFailed, match="preflight: 1 of 4 checks failed"):
        deploy.deploy(t, {"AvailabilityZoneIds": "use1-az3,use1-az1"}, run=tools, checks=ONLY_AWS_CHECKS,
                      skip_smoke=True, delay=0)
    assert tools.commands == []


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


def test_preflight_checks_no_docker_and_deploy_needs_none():
    """No engine, no buildx, no QEMU: CodeBuild builds the images (docs/deploy.md)."""
    assert not [name for name in preflight.CHECKS if "docker" in name or "platform" in name]
    assert not [name for name in dir(preflight) if "docker" in name or "build_platform" in name]


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


def test_a_two_service_deploy_waits_for_both_and_names_what_each_runs(aws, parent_template, capsys):
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
    deploy.deploy(t, run=two_services, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0, interactive=False)
    assert tools.named("docker") == [] and sent_parameters(tools)["ImageUri"] == ""
    out = capsys.readouterr().out
    assert "ECS service api, reports: done" in out
    assert "notes:    image built from version 3f2a9c1b0d4e" in out and "reports:  the ImageUri given" in out


def test_preflight_reads_the_build_recipes_before_anything_is_created(aws, parent_template):
    assert preflight.check_images(make_target(aws), {}) == \
        "app/ has a Dockerfile, built for NotesService unless ImageUri gives an image"
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


PACKAGING_PARENT = """
Resources:
  SiteSource: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: site}}
  Uploaded: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: s3://bucket/key.zip}}
  Service:
    Type: AWS::Serverless::Application
    Metadata: {Build: {Context: services/reports, ImageParameter: ImageUri}}
    Properties: {Location: nested/child.yml}
"""


def test_preflight_refuses_a_symbolic_link_where_sam_deploy_uploads(aws, tmp_path):
    """sam deploy follows links and uploads their targets: a link in any packaged folder (a layer's
    ContentUri, a nested template's function Code, relative to that template, a service's build Context)
    stops the deploy in one line before anything is uploaded; the repository's own folders have none."""
    assert preflight.CHECKS["packaged folders"] is preflight.check_packaged_folders
    assert preflight.check_packaged_folders(make_target(aws), {}) == "app/, frontend/, functions/: no links"
    (tmp_path / "parent.yml").write_text(PACKAGING_PARENT)
    (tmp_path / "nested" / "code").mkdir(parents=True)
    (tmp_path / "nested" / "child.yml").write_text(
        "Resources:\n  Fn: {Type: AWS::Lambda::Function, Properties: {Code: code/}}\n")
    for folder in ("site", "services/reports"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "index.html").write_text("<p>hi</p>")
    assert preflight.check_packaged_folders(make_target(aws), {}, root=tmp_path) == (
        "nested/code/, services/reports/, site/: no links")
    outside = tmp_path.parent / "secret.txt"
    outside.write_text("API_KEY=1")
    (tmp_path / "services/reports/.env").symlink_to(outside)
    with pytest.raises(OpsError) as refused:
        preflight.check_packaged_folders(make_target(aws), {}, root=tmp_path)
    assert str(refused.value) == ("services/reports/.env: a symbolic link where sam deploy uploads, which would "
                                  "upload what it points to; replace it with the file itself or remove it")
    (tmp_path / "nested/code/lib").symlink_to(tmp_path / "site")  # a folder, even one inside the repository
    (tmp_path / "site/copy.html").symlink_to("index.html")
    with pytest.raises(OpsError, match=r"^nested/code/lib and 2 more: a symbolic link") as refused:
        preflight.check_packaged_folders(make_target(aws), {}, root=tmp_path)
    assert "\n" not in str(refused.value)


def test_a_stack_name_with_upper_case_is_refused_when_deployed_as_ci_does(aws, monkeypatch):
    """deploy/'s policies scope repositories and buckets by `STACK-*`; CloudFormation names them in lower case
    and IAM matches ARNs case-sensitively (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html),
    so under CI's roles (CLOUDFORMATION_ROLE_ARN or PERMISSIONS_BOUNDARY_ARN set) `Notes-dev` could create no
    repository: `make preflight` and `make deploy` refuse it in one line, before sam deploy runs."""
    assert preflight.CHECKS["stack name"] is preflight.check_stack_name
    upper, lower = make_target(aws, stack="Notes-dev"), make_target(aws, stack="notes-dev")
    assert preflight.check_stack_name(upper, {}, environ={}) == "Notes-dev", "no CI roles: nothing scopes by name"
    for variable in preflight.CI_VARIABLES:
        environ = {variable: "arn:aws:iam::123456789012:role/x"}
        with pytest.raises(OpsError) as refused:
            preflight.check_stack_name(upper, {}, environ=environ)
        assert str(refused.value).startswith(f"stack name Notes-dev has upper case, and {variable} is set:")
        assert "(notes-dev)" in str(refused.value) and "\n" not in str(refused.value)
        assert preflight.check_stack_name(lower, {}, environ=environ).startswith("notes-dev")
    monkeypatch.setenv("PERMISSIONS_BOUNDARY_ARN", "arn:aws:iam::123456789012:policy/permissions-boundary-notes-dev")
    tools = FakeTools(aws)
    with pytest.raises(OpsError, match="^stack name Notes-dev has upper case"):
        deploy.deploy(upper, run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0)
    assert tools.commands == []


def test_deploy_removes_bytecode_from_the_folders_sam_deploy_uploads(aws, tmp_path, capsys):
    """sam deploy zips each packaged folder as it is and names the layer by a hash of every file in it
    (docs/deploy.md, "What the stack builds"): a __pycache__ a plain python run left in app/ would rebuild the
    image for nothing. make deploy removes them there (never tracked), says so in one line, and nowhere else."""
    (tmp_path / "parent.yml").write_text(PACKAGING_PARENT)
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "child.yml").write_text(
        "Resources:\n  Fn: {Type: AWS::Lambda::Function, Properties: {Code: code/}}\n")
    strays = [tmp_path / "services/reports/api/__pycache__", tmp_path / "site/__pycache__",
              tmp_path / "nested/code/__pycache__"]
    kept = tmp_path / "scripts/__pycache__"  # not uploaded: left alone
    for cache in (*strays, kept):
        cache.mkdir(parents=True)
        (cache / "x.cpython-313.pyc").write_bytes(b"\0")
    assert deploy.remove_bytecode(tmp_path) == (
        "removed 3 __pycache__ folders from nested/code/, services/reports/, site/ (sam deploy uploads them; "
        "bytecode would change the hash and rebuild for nothing)")
    assert not any(c.exists() for c in strays) and kept.exists()
    assert (tmp_path / "services/reports/api").is_dir(), "only the bytecode goes"
    assert deploy.remove_bytecode(tmp_path) == ""

    stray = deploy.ROOT / "app" / "api" / "__pycache__"  # what a plain `python -c 'import api'` leaves
    stray.mkdir(exist_ok=True)
    try:
        deploy.sam_deploy(make_target(aws), {}, run=lambda *a, **k: subprocess.CompletedProcess(a, 0))
        assert not stray.exists()
        assert "removed 1 __pycache__ folder from app/ " in capsys.readouterr().out
    finally:
        if stray.exists():
            stray.rmdir()


def test_the_tests_keep_bytecode_out_of_the_source_tree_without_make(tmp_path):
    """A plain `pytest` (no make, nothing in the environment) writes no __pycache__ next to what it imports, in
    its own process or in the ones it starts (gunicorn, the tools, copies): the root conftest turns writing off
    before any test imports the app. Without it, this same probe writes one (the control)."""
    from scripts.common import ROOT
    (tmp_path / "probe_module.py").write_text("X = 1\n")
    child = "import probe_module"
    probe = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); {{}}import probe_module, subprocess; "
             f"subprocess.run([sys.executable, '-c', {child!r}], check=True, cwd={str(tmp_path)!r})")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    control = subprocess.run([sys.executable, "-c", probe.format("")], cwd=ROOT, env=env, capture_output=True,
                             text=True)
    assert control.returncode == 0 and (tmp_path / "__pycache__").is_dir(), control.stderr
    shutil.rmtree(tmp_path / "__pycache__")
    ran = subprocess.run([sys.executable, "-c", probe.format("import tests.conftest; ")], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert ran.returncode == 0 and not (tmp_path / "__pycache__").exists(), ran.stderr
