"""`make preflight`: everything that would make a deploy fail, checked before
anything is created. Each failure is one line; any failure exits non-zero.
No Docker, buildx or QEMU: the stack builds its images in CodeBuild.
The one thing it creates: the service-linked roles a brand-new account lacks
(ECS's and Application Auto Scaling's), which the first deploy would race."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

from blueprint.templates import links_in, load, nested_parameters, packaged_folders, parent, service_resources
from scripts import free_plan, image, origin_secret, service_roles
from scripts.common import ROOT, OpsError, Target, aws_errors, check_task_range
from scripts.errors import AwsCallFailed, AwsUnreachable, CredentialsRejected, NoCredentials, PreflightFailed, ToolMissing, UsageError

_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/")


@dataclass
class Result:
    check: str
    ok: bool
    detail: str


def check_credentials(t: Target, params: dict) -> str:
    with aws_errors():
        identity = t.client("sts").get_caller_identity()
    return f"account {identity['Account']} as {identity['Arn'].rsplit(':', 1)[-1]}"


def check_region(t: Target, params: dict) -> str:
    with aws_errors():
        regions = {r["RegionName"] for r in t.client("ec2").describe_regions()["Regions"]}
    if t.region not in regions:
        raise OpsError(f"region {t.region} is not enabled for this account")
    return t.region


def vpc_link_zone_ids(region: str) -> list[str]:
    """The AZ IDs where API Gateway can place an HTTP API VPC link in `region`, first the default pair:
    vpc.yml's VpcLinkAzIds mapping, the one allow-list the template and this check share
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-vpc-links.html)."""
    mapping = load(ROOT / "vpc.yml")["Mappings"]["VpcLinkAzIds"]
    return [z for z in str(mapping.get(region, {}).get("Ids", "")).split(",") if z]


def chosen_zone_ids(t: Target, params: dict) -> list[str]:
    """The two AZ IDs the VPC stack will use: the pinned ones, else the region's default pair."""
    pinned = [z.strip() for z in params.get("AvailabilityZoneIds", "").split(",") if z.strip()]
    if pinned:
        return pinned
    supported = vpc_link_zone_ids(t.region)
    if len(supported) < 2:
        raise OpsError(f"{t.region} has no default AZs (API Gateway offers no VPC link there): "
                       "set AvailabilityZoneIds to two AZ IDs and use Ingress=LoadBalancer")
    return supported[:2]


def check_zones(t: Target, params: dict) -> str:
    zones = chosen_zone_ids(t, params)
    if len(zones) != 2 or zones[0] == zones[1]:
        raise OpsError(f"AvailabilityZoneIds needs exactly two different AZ IDs, got {zones}")
    http_api = params.get("Ingress", "HttpApi") == "HttpApi"
    supported = vpc_link_zone_ids(t.region)
    if http_api and not supported:
        raise OpsError(f"API Gateway offers no HTTP API VPC links in {t.region}: use Ingress=LoadBalancer")
    with aws_errors():
        available = {z["ZoneId"]: z["ZoneName"] for z in t.client("ec2").describe_availability_zones(
            Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"]}
    for zone in zones:
        if zone not in available:
            raise OpsError(f"AZ {zone} is not available in {t.region} (available: {', '.join(sorted(available))})")
        if http_api and zone not in supported:
            raise OpsError(f"AZ {zone} does not support API Gateway VPC links: pick others in AvailabilityZoneIds")
    return ", ".join(f"{z} ({available[z]})" for z in zones)


def _certificate(t: Target, arn: str, region: str, what: str) -> str:
    match = _ARN_REGION.match(arn)
    if not match:
        raise OpsError(f"{what} is not an ACM certificate ARN: {arn}")
    if match.group(1) != region:
        raise OpsError(f"{what} is in {match.group(1)}; it must be in {region}")
    with aws_errors():
        cert = t.client("acm", region=region).describe_certificate(CertificateArn=arn)["Certificate"]
    if cert["Status"] != "ISSUED":
        raise OpsError(f"{what} is {cert['Status']}, not ISSUED: finish its DNS validation")
    return cert["DomainName"]


def check_certificates(t: Target, params: dict) -> str:
    found = []
    if params.get("CertificateArn"):
        found.append(_certificate(t, params["CertificateArn"], "us-east-1", "CertificateArn (CloudFront)"))
    if params.get("ApiCertificateArn"):
        found.append(_certificate(t, params["ApiCertificateArn"], t.region, "ApiCertificateArn"))
    return ", ".join(found) if found else "none configured"


def check_lint(t: Target, params: dict, run=subprocess.run) -> str:
    cfn_lint = shutil.which("cfn-lint", path=str(ROOT / ".venv" / "bin")) or shutil.which("cfn-lint")
    if not cfn_lint:
        raise ToolMissing("cfn-lint is not installed: run `make venv`")
    result = run([cfn_lint], cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        first = (result.stdout or result.stderr).strip().splitlines()[:1]
        raise OpsError(f"cfn-lint found problems in the templates: {first}")
    return "cfn-lint clean"


def check_service_linked_roles(t: Target, params: dict) -> str:
    """The one thing preflight creates: ECS's and Application Auto Scaling's service-linked roles,
    which a brand-new account lacks and CloudFormation would race (see scripts/service_roles.py)."""
    roles = service_roles.ensure_service_linked_roles(t)
    return ", ".join(f"{name} ({'created' if created else 'exists'})" for name, created in roles)


def check_task_counts(t: Target, params: dict) -> str:
    """Each service's MinTasks <= MaxTasks and a Fargate size, as its block in parent.yml sets them for
    these parameters (the profile's values included): code the parent's Rules cannot see."""
    from scripts import cost
    template = parent()
    known = {k: v for k, v in params.items() if k in template["Parameters"]}
    cost.validate(known, template, t.stack_name)
    return "; ".join(check_task_range(nested_parameters(template, name, known), name)
                     for name in service_resources(template))


def check_adopted_table(t: Target, params: dict) -> str:
    """ExistingTableName must name a table in this region. The template's bounds (OnDemandThroughput
    maximums, the TTL on expiresAt) apply only to a table it creates: say plainly when an adopted table
    lacks them, since `make cost`'s ceiling then does not hold."""
    name = params.get("ExistingTableName")
    if not name:
        return "the stack creates its table"
    ddb = t.client("dynamodb")
    try:
        with aws_errors():
            table = ddb.describe_table(TableName=name)["Table"]
            ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    except AwsCallFailed as exc:
        if exc.aws_code == "ResourceNotFoundException":
            raise UsageError(f"ExistingTableName={name}: no such table in {t.region} (make destroy printed the "
                             "name of the one it kept)") from None
        raise
    missing = []
    limits = table.get("OnDemandThroughput", {})
    if not (limits.get("MaxReadRequestUnits", -1) > 0 and limits.get("MaxWriteRequestUnits", -1) > 0):
        missing.append("no OnDemandThroughput maximums (aws dynamodb update-table --on-demand-throughput ...)")
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING") or ttl.get("AttributeName") != "expiresAt":
        missing.append("no TTL on expiresAt (aws dynamodb update-time-to-live ...)")
    if missing:
        return f"adopting {name}; WARNING: {'; '.join(missing)}: make cost's ceiling assumes them"
    return f"adopting {name}, with its throughput maximums and TTL"


def check_images(t: Target, params: dict) -> str:
    """parent.yml names, for each service, a Context with a Dockerfile (what the stack's CodeBuild project
    builds) and the parameter that can take an image built elsewhere instead; one architecture per Context."""
    return "; ".join(f"{b.context}/ has a Dockerfile, built for {', '.join(b.services)} unless "
                     f"{' or '.join(b.parameters)} gives an image" for b in image.builds(params=params))


def check_packaged_folders(t: Target, params: dict, root=ROOT) -> str:
    """No symbolic link in a folder `sam deploy` zips and uploads (blueprint/templates.py, PACKAGED): SAM CLI
    follows links and uploads what they point to, from anywhere on this machine. On disk, untracked files too."""
    folders = packaged_folders(root)
    found = [link for folder in folders for link in links_in(folder, root)]
    if found:
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        raise OpsError(f"{found[0]}{more}: a symbolic link where sam deploy uploads, which would upload what it "
                       "points to; replace it with the file itself or remove it")
    return ", ".join(f"{f.relative_to(root)}/" for f in folders) + ": no links"


# Set by CI (and anyone deploying as CI does): the stack's roles then get deploy/'s policies, which name it.
CI_VARIABLES = ("CLOUDFORMATION_ROLE_ARN", "PERMISSIONS_BOUNDARY_ARN")


def check_stack_name(t: Target, params: dict, environ=os.environ) -> str:
    """deploy/'s policies scope repositories and buckets by `STACK-*`, but CloudFormation names those in lower
    case and IAM matches ARNs case-sensitively: under CI's roles a stack named with upper case could not create
    its repository, push, pull or publish. Without those roles nothing scopes by the name."""
    ci = [name for name in CI_VARIABLES if environ.get(name, "").strip()]
    if ci and t.stack_name != t.stack_name.lower():
        raise OpsError(f"stack name {t.stack_name} has upper case, and {ci[0]} is set: CloudFormation names the "
                       "stack's repositories and buckets in lower case, which deploy/'s STACK-* policies "
                       f"(case-sensitive) would not match; use a lower-case name ({t.stack_name.lower()}) and "
                       "put it in the policies (docs/security.md)")
    return f"{t.stack_name}" + (f" (lower case, as {ci[0]} needs)" if ci else "")


CHECKS = {
    "stack name": check_stack_name,
    "credentials": check_credentials,
    "region": check_region,
    "images": check_images,
    "packaged folders": check_packaged_folders,
    "availability zones": check_zones,
    "certificates": check_certificates,
    "task counts": check_task_counts,
    "adopted table": check_adopted_table,
    "flat-rate plan": free_plan.check,  # a change CloudFront refuses while the distribution is on a plan
    "origin secret": origin_secret.check,  # a secret named before it had a Name: the two-step upgrade
    "service-linked roles": check_service_linked_roles,
    "templates": check_lint,
}


def left_behind(results: list[Result]) -> str:
    """What a failed preflight leaves: the service-linked roles, when that check ran (the one thing it creates,
    kept: every deploy needs them, and they cost nothing), and nothing else."""
    if any(r.ok and r.check == "service-linked roles" for r in results):
        return "nothing else was created (the service-linked roles above are kept: every deploy needs them)"
    return "nothing was created"


def preflight(t: Target, params: dict, checks: dict = CHECKS, out=print) -> list[Result]:
    results = []
    for name, check in checks.items():
        try:
            results.append(Result(name, True, check(t, params)))
        except (NoCredentials, CredentialsRejected, AwsUnreachable):
            raise  # every check that calls AWS would fail with the same line: say it once
        except OpsError as exc:
            results.append(Result(name, False, str(exc)))
    for r in results:
        out(f"{'ok  ' if r.ok else 'FAIL'} {r.check}: {r.detail}", file=sys.stdout if r.ok else sys.stderr)
    failed = [r for r in results if not r.ok]
    if failed:
        raise PreflightFailed(f"preflight: {len(failed)} of {len(results)} checks failed; {left_behind(results)}")
    return results
