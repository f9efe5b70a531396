"""`python -m scripts new-service NAME --prefix /api/NAME` (`make service NAME=...`): a new service.

Writes its block in parent.yml (resource, FrontendStack's DependsOn line, output: blueprint/services.py,
the generator the template checks render too), its build context services/NAME/ (app/ without the sample,
the API under the service's prefix, an example endpoint and its test), and docs/cost.md's generated table.
A bad name or prefix, or one parent.yml already has, is one line on stderr and nothing is written.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess

from blueprint import services
from blueprint.templates import parent
from scripts import cost
from scripts.common import ROOT, log
from scripts.errors import UsageError


def new_service(name: str, prefix: str | None = None, root=ROOT) -> str:
    """Add the service; returns its logical id (e.g. ReportsService)."""
    prefix = prefix or f"/api/{name}"
    parent_file = root / "parent.yml"
    text = parent_file.read_text()
    try:
        template = services.decode(text)
        services.check_name(name, template, root)
        services.check_prefix(prefix, template)
        new_text = services.add_to_parent(text, name, prefix)
    except services.ServiceError as exc:
        raise UsageError(str(exc)) from None
    context = root / services.SERVICES_DIR / name
    ignored = subprocess.run(["git", "check-ignore", "-q", str(context.relative_to(root))], cwd=root, check=False,
                             capture_output=True)
    if ignored.returncode == 0:
        raise UsageError(f"{context.relative_to(root)}/ is ignored by .gitignore: a build context must be committed")
    try:
        services.write_starter(root, name, prefix)
    except (services.ServiceError, OSError) as exc:
        shutil.rmtree(context, ignore_errors=True)
        raise UsageError(str(exc)) from None
    parent_file.write_text(new_text)
    parent.cache_clear()
    cost.write_readme(root / "docs" / "cost.md")
    key = services.key_of(name)
    log(f"wrote {key} in parent.yml and {context.relative_to(root)}/ (health check at {prefix}/health-check, "
        f"an example at {prefix}/hello); docs/cost.md's table now counts it. Next: its size, scaling and "
        f"environment in its block (docs/services.md), its code in {context.relative_to(root)}/api/")
    return key


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="lowercase letters and digits, starting with a letter (e.g. reports)")
    p.add_argument("--prefix", default=None, help="its paths, under /api (default /api/NAME)")


def run(args: argparse.Namespace) -> int:
    new_service(args.name, args.prefix)
    return 0
