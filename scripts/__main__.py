"""Operations commands, one per Makefile target:

    python -m scripts deploy|preflight|plan|publish|smoke|status|logs|exec|stop|start|destroy

Common options come from the environment the Makefile passes: ENV (dev|prod,
the samconfig.toml environment), STACK (another stack name), PARAMS
("Key=Value ..." parameter overrides), YES=1, DELETE_TABLE=1, FOLLOW=1, URL.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

from scripts import deploy, destroy, ops, plan, preflight, publish, scale
from scripts.common import ROOT, OpsError, parse_overrides, run_cli, target

COMMANDS = ["deploy", "preflight", "plan", "publish", "smoke", "status", "logs", "exec", "stop", "start", "destroy"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--env", default=os.environ.get("ENV") or "dev")
    parser.add_argument("--stack", default=os.environ.get("STACK") or None)
    parser.add_argument("--region", default=os.environ.get("REGION") or None)
    parser.add_argument("--params", default=os.environ.get("PARAMS", ""))
    parser.add_argument("--url", default=os.environ.get("URL") or None)
    parser.add_argument("--yes", action="store_true", default=os.environ.get("YES") == "1")
    parser.add_argument("--delete-table", action="store_true", default=os.environ.get("DELETE_TABLE") == "1")
    parser.add_argument("--follow", action="store_true", default=os.environ.get("FOLLOW") == "1")
    args = parser.parse_args(argv)

    if args.command == "smoke":
        return smoke(args)
    if args.command == "plan":  # offline unless STACK= names a deployed stack
        return plan.run(args.env, args.stack, args.region, args.params)
    t = target(args.env, args.stack, args.region)
    extra = parse_overrides(args.params)
    if args.command == "deploy":
        deploy.deploy(t, extra, yes=args.yes)
    elif args.command == "preflight":
        preflight.preflight(t, {**t.parameters, **extra})
    elif args.command == "publish":
        publish.publish(t)
    elif args.command == "status":
        ops.status(t)
    elif args.command == "logs":
        ops.logs(t, follow=args.follow)
    elif args.command == "exec":
        ops.exec_shell(t)
    elif args.command == "stop":
        scale.stop(t)
    elif args.command == "start":
        scale.start(t)
    elif args.command == "destroy":
        destroy.destroy(t, yes=args.yes, delete_table=args.delete_table)
    return 0


def smoke(args) -> int:
    """The smoke suite against URL=, or against the stack (STACK= or samconfig's)."""
    env = dict(os.environ)
    if args.url:
        env["SMOKE_URL"] = args.url
    else:
        t = target(args.env, args.stack, args.region)
        env.update(SMOKE_STACK=t.stack_name, AWS_REGION=t.region)
    result = subprocess.run([sys.executable, "-m", "pytest", "tests/smoke", "-p", "no:cacheprovider"], cwd=ROOT,
                            env=env, check=False)
    if result.returncode != 0:
        raise OpsError("smoke tests failed; the report is above")
    return 0


if __name__ == "__main__":
    run_cli(main)
