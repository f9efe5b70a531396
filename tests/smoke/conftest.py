"""Post-deploy smoke tests: the deployment seen from outside, as a user sees it.

Target, in order: SMOKE_URL (any base URL), SMOKE_STACK (a deployed stack: its
outputs are read with boto3 as scripts/outputs.py parses them, region from
AWS_REGION; SMOKE_SERVICE picks one of its services), or, with neither, the
local stack that `make run` starts (this is how `make test` runs them).
scripts/smoke.py is what runs them for `make smoke` and `make deploy`.
Every service of the stack must answer its own health check (healthCheckPath)
through CloudFront.
Checks that mean something only in AWS (marked aws_only: HTTPS redirect,
direct S3 access, the API's own URL) are reported as not applicable against a
plain-HTTP URL. Each service whose descriptor carries a "version" (the stack built its image) must report
it in its health check; against a URL (or the local stack), SMOKE_VERSION, when set, is the version the
sample's health check must report.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import boto3
import pytest

from local.stack import LocalStack, free_port
from scripts.errors import WaitTimedOut
from scripts.outputs import ParentOutputs
from scripts.smoke import SAMPLE_HEALTH, WAIT_LOCAL, wait_healthy, wait_seconds


@dataclass
class Deployment:
    frontend_url: str
    api_url: str | None = None
    bucket: str | None = None
    version: str | None = None
    ingress: str | None = None  # HttpApi or LoadBalancer (the stack's Ingress output)
    health_paths: dict[str, str] | None = None  # service -> its healthCheckPath (None: the sample's alone)
    versions: dict[str, str] | None = None  # service -> the version its descriptor says it runs (stack only)

    @property
    def health_checks(self) -> dict[str, str]:
        """service -> the URL of its health check, through the frontend's domain (CloudFront)."""
        return {name: self.frontend_url + path for name, path in (self.health_paths or {"api": SAMPLE_HEALTH}).items()}

    @property
    def expected_versions(self) -> dict[str, str]:
        """health check URL -> the version it must report: each service's from its descriptor (a stack), or
        SMOKE_VERSION for the sample's (a URL); empty when nothing is known."""
        if self.versions is not None:
            return {self.health_checks[name]: v for name, v in self.versions.items() if v}
        return {self.frontend_url + SAMPLE_HEALTH: self.version} if self.version else {}

    @property
    def https(self) -> bool:
        return self.frontend_url.startswith("https://")


def from_stack(stack: dict, service: str | None = None) -> Deployment:
    """The deployment a parent stack's description names (every service, or the one SMOKE_SERVICE names),
    with the version each service's descriptor says its image was built from."""
    out = ParentOutputs.parse(stack.get("Outputs", []), f"stack {stack.get('StackName', '')}")
    stray = [f"{s.key} ({s.health_check_path} outside {s.path_prefix})" for s in out.select(service)
             if not s.health_check_is_its_own]
    if stray:
        raise ValueError(f"health check outside the service's prefix, so another service would answer it: "
                         f"{', '.join(stray)}; set HealthCheckPath under PathPrefix (docs/services.md)")
    chosen = out.select(service)
    return Deployment(out.frontend_url.rstrip("/"), out.api_url.rstrip("/") or None, out.bucket_name, None,
                      out.ingress, {s.short: s.health_check_path for s in chosen}, {s.short: s.version for s in chosen})


def wrong_versions(deployment: Deployment, get) -> list[str]:
    """One line per health check that does not report the version it must (Deployment.expected_versions);
    `get(url)` answers like requests.get."""
    wrong = []
    for url, version in deployment.expected_versions.items():
        reported = get(url).json().get("version")
        if reported != version:
            wrong.append(f"GET {url}: version {reported}, the stack built {version}")
    return wrong


def local_mode() -> bool:
    url = os.environ.get("SMOKE_URL")
    return not os.environ.get("SMOKE_STACK") and (url is None or url.startswith("http://"))


def pytest_configure(config):
    config.addinivalue_line("markers", "aws_only(reason): meaningful only against a deployed HTTPS stack")


def pytest_collection_modifyitems(config, items):
    if not local_mode():
        return
    keep, not_applicable = [], []
    for item in items:
        (not_applicable if item.get_closest_marker("aws_only") else keep).append(item)
    if not_applicable:
        config.hook.pytest_deselected(items=not_applicable)
        items[:] = keep
        config._smoke_not_applicable = [(i.name, i.get_closest_marker("aws_only").args[0]) for i in not_applicable]


def pytest_terminal_summary(terminalreporter, config):
    for name, reason in getattr(config, "_smoke_not_applicable", []):
        terminalreporter.write_line(f"not applicable against a plain-HTTP URL: {name} ({reason})")


def wait_ready(url: str, timeout: float) -> None:
    """scripts/smoke.py's bounded wait (the runner has already waited, so this is one request when run by
    `make smoke`; against the local stack it is the wait)."""
    try:
        wait_healthy(url, timeout)
    except WaitTimedOut as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def deployment(tmp_path_factory):
    version = os.environ.get("SMOKE_VERSION") or None
    if os.environ.get("SMOKE_URL"):
        d = Deployment(os.environ["SMOKE_URL"].rstrip("/"), version=version)
        wait_ready(d.frontend_url + SAMPLE_HEALTH, wait_seconds(d.frontend_url))
        yield d
    elif os.environ.get("SMOKE_STACK"):
        cfn = boto3.client("cloudformation", region_name=os.environ.get("AWS_REGION"))
        stack = cfn.describe_stacks(StackName=os.environ["SMOKE_STACK"])["Stacks"][0]
        d = from_stack(stack, os.environ.get("SMOKE_SERVICE"))
        for url in d.health_checks.values():
            wait_ready(url, wait_seconds())
        yield d
    else:
        with LocalStack(port=free_port(), log=tmp_path_factory.mktemp("smoke") / "stack.log") as stack:
            wait_ready(stack.url + SAMPLE_HEALTH, WAIT_LOCAL)
            yield Deployment(stack.url, stack.api_url, None, version)
