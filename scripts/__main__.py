"""python -m scripts COMMAND [flags]: the operations behind the Makefile's targets.

Each command reads the parent stack's outputs once (scripts/outputs.py) and acts on every service of
the stack, or on one with --service (SERVICE=notes in make). The flags default to the variables the
Makefile passes (ENV, STACK, REGION, PARAMS, SERVICE, YES, DELETE_TABLE, FOLLOW, URL, ALARM, ...), so
`make logs SERVICE=notes FOLLOW=1` and `python -m scripts logs --service notes --follow` are the same.
`python -m scripts COMMAND --help` lists a command's flags.

Bad input is refused before a command acts, in one line on stderr and a non-zero exit: an unknown flag
or a flag's wrong value (argparse's refusals, exit 2), a parameter parent.yml does not declare or a value
it does not allow, an unknown ENV, STACK, AWS profile or region, no credentials, an opt-in region the
account has not enabled, AWS out of reach, a stack that is not there or a SERVICE it lacks (exit 1;
tests/ops/test_bad_input.py drives every command with each). Then every command says which region it uses,
and where that came from, in one line on stderr: `region: eu-west-1 (from AWS_REGION)`.
"""
from __future__ import annotations

import argparse
import os
import sys

from scripts import alerts, cost, deploy, destroy, image, new_service, ops, plan, preflight, scale, upgrade
from scripts import outputs as stack_outputs
from scripts import smoke as smoke_runner
from scripts.common import (
    DEFAULT_REGION,
    ENVIRONMENTS,
    Parser,
    check_parameters,
    describe_stack,
    load_samconfig,
    not_created,
    parse_overrides,
    region_enabled,
    require_credentials,
    resolve_region,
    run_cli,
    say_region,
    stack_parameters,
    target,
)
from scripts.errors import UsageError
from scripts.stack_failures import stack_or_none

PROG = "python -m scripts"


def _env(name: str, default=None):
    return os.environ.get(name) or default


class BadVariable:
    """A Makefile variable's value a flag cannot take (YES=yes): the flag's default, refused by main() only
    when the chosen command has that flag, so `make status YES=yes` is not refused for a flag it lacks."""

    def __init__(self, name: str, value: str, wanted: str):
        self.message = f"{name}={value} is not {wanted}"


def _flag(name: str) -> bool | BadVariable:
    value = os.environ.get(name, "")
    if value not in ("", "0", "1"):
        return BadVariable(name, value, "1 (or 0, or unset)")
    return value == "1"


def whole_number(name: str):
    """An argparse type for a count of NAME= (--minutes, ...): a whole number above zero, else one line."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name}={text} is not a whole number above zero")
        return value
    return parse


# ---------------------------------------------------------------- flags shared by several commands

def stack_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default=_env("ENV", "dev"), metavar="{dev,prod}",
                   help="samconfig.toml environment (ENV=; default dev)")
    p.add_argument("--stack", default=_env("STACK"), help="another stack name than samconfig's (STACK=)")
    p.add_argument("--region", default=_env("REGION"), help="AWS region (REGION=; else samconfig's, AWS_REGION, the AWS profile's)")


def service_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--service", default=_env("SERVICE"), metavar="NAME",
                   help="one service of the stack, e.g. notes for NotesService (SERVICE=; default every service)")


def params_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--params", default=_env("PARAMS", ""), metavar='"KEY=VALUE ..."', help=f"{what} (PARAMS=)")


def yes_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--yes", action="store_true", default=_flag("YES"), help=f"{what} (YES=1)")


def _target(args):
    return target(args.env, args.stack, args.region, service=getattr(args, "service", None))


def other_environment(env: str, stack: str | None) -> None:
    """STACK= naming another environment's stack (samconfig.toml's stack_name there) without its ENV=: a command
    that sends samconfig's values would send this environment's to it (prod's stack, dev's values)."""
    for other, section in ENVIRONMENTS.items():
        if stack and other != env and load_samconfig(other).get("stack_name") == stack:
            raise UsageError(f"STACK={stack} is samconfig.toml [{section}]'s stack: add ENV={other} (without it "
                             f"[{ENVIRONMENTS[env]}]'s values would be sent to it)")


def ready(args, deployed: bool = False, samconfig: bool = False, stack: bool = False, extra: dict | None = None):
    """What every AWS command checks before it acts, each a one-line refusal: ENV, STACK, the AWS profile,
    the region, samconfig.toml's parameters for a command that sends them (`samconfig`, with PARAMS'
    `extra`: then also parent.yml's Rules and bounds on what it would send, in this region, as
    CloudFormation checks them before it changes anything, and as `make plan` asks them: before credentials
    those that read only sent values, after them all, on the deployed stack's values with the sent ones on
    top), credentials, the stack for a command that reads one (`stack`), and for a command on this
    blueprint's stack (`deployed`) its outputs and SERVICE=. Then the region line; then the command.
    (Target, the outputs or None.)"""
    t = _target(args)
    if samconfig:  # before credentials: the refusals no deployed value can change (they read only what is sent)
        other_environment(t.env, args.stack)
        config = f"samconfig.toml [{ENVIRONMENTS[t.env]}]"
        check_parameters(t.parameters, config)
        check_parameters(deploy.boundary_parameter(), "PERMISSIONS_BOUNDARY_ARN")
        sent, source = {**t.parameters, **(extra or {})}, f"{config} with PARAMS" if extra else config
        plan.check_rules(sent, t.region, "the values to deploy", source, settled=set(sent))
    require_credentials(t)
    with region_enabled(t):  # the first call to AWS: an opt-in region that is off answers like bad credentials
        if samconfig:
            # An update keeps the deployed value of every parameter it does not send (SAM sends UsePreviousValue
            # for it, scripts/deploy.py), so the Rules see deployed < samconfig.toml < PARAMS; a create, the defaults.
            found = stack_or_none(t.client("cloudformation"), t.stack_name)
            previous = {} if not_created(found) else stack_parameters(found)
            plan.check_rules({**previous, **sent}, t.region, "the values to deploy",
                             f"{source} over stack {t.stack_name}'s deployed values" if previous else source)
        outputs = None
        if deployed:
            outputs = stack_outputs.read(t)
            outputs.select(t.service)
        elif stack:
            describe_stack(t)
    say_region(t.region, t.region_source)
    return t, outputs


def overrides(args) -> dict[str, str]:
    """PARAMS, checked against parent.yml's parameters before anything reads AWS."""
    extra = parse_overrides(args.params, "PARAMS")
    check_parameters(extra, "PARAMS")
    return extra


# ---------------------------------------------------------------- the commands

def do_deploy(args) -> int:
    extra = overrides(args)
    t, _ = ready(args, samconfig=True, extra=extra)
    deploy.deploy(t, extra, yes=args.yes, accept=upgrade.parse_accept(args.accept))
    return 0


def do_preflight(args) -> int:
    extra = overrides(args)
    t, _ = ready(args, samconfig=True, extra=extra)
    preflight.preflight(t, {**t.parameters, **extra, **deploy.boundary_parameter()})  # as make deploy sends it
    return 0


def do_plan(args) -> int:
    plan.parse_change(args.params)
    # The samconfig values a plan starts from (or, with STACK=, sends on top of the deployed ones): as make
    # deploy, a name parent.yml no longer declares is refused, not planned.
    check_parameters(plan.samconfig_values(args.env),
                     f"samconfig.toml [{ENVIRONMENTS[args.env]}]")
    other_environment(args.env, args.stack)
    if args.stack:
        t, _ = ready(args, stack=True)
        return plan.run(args.env, args.stack, t.region, args.params, session=t.session)
    config = load_samconfig(args.env)
    region, source = resolve_region(args.region, config, default=DEFAULT_REGION)
    checked = plan.sides(args.env, None, region, args.params, region_source=source)  # the Rules' refusal: one line
    say_region(region, source)
    return plan.run(args.env, None, region, args.params, checked=checked)


def do_destroy(args) -> int:
    t, _ = ready(args, deployed=True)
    destroy.destroy(t, yes=args.yes, delete_table=args.delete_table)
    return 0


def do_stop(args) -> int:
    t, outputs = ready(args, deployed=True)
    scale.stop(t, outputs=outputs)
    return 0


def do_start(args) -> int:
    t, outputs = ready(args, deployed=True)
    scale.start(t, outputs=outputs)
    return 0


def do_exec(args) -> int:
    t, outputs = ready(args, deployed=True)
    ops.exec_shell(t, args.command, outputs=outputs, ask=input if sys.stdin.isatty() else None)
    return 0


def do_smoke(args) -> int:
    smoke_runner.check_input(args.url)
    if args.url:
        smoke_runner.refuse_service_with_url(args.service, args.url)
        smoke_runner.smoke(None, url=args.url)
        return 0
    t, outputs = ready(args, deployed=True)
    smoke_runner.smoke(t, outputs=outputs)
    return 0


def do_image(args) -> int:
    image.build_locally(args.context)
    return 0


def do_status(args) -> int:
    t, outputs = ready(args, deployed=True)
    ops.status(t, outputs)
    return 0


def do_alert_test(args) -> int:
    t, outputs = ready(args, deployed=True)
    alerts.alert_test(t, outputs, args.alarm)
    return 0


def do_logs(args) -> int:
    t, outputs = ready(args, deployed=True)
    ops.logs(t, minutes=args.minutes, follow=args.follow, outputs=outputs)
    return 0


def setup_deploy(p):
    stack_flags(p)
    params_flag(p, "parameter overrides on top of samconfig.toml's")
    yes_flag(p, "deploy without asking (no change set confirmation, no questions)")
    p.add_argument("--accept", default=_env("ACCEPT", ""), metavar="KEY,...",
                   help="removed parameters whose deployed value this deploy may lose (ACCEPT=)")


def setup_preflight(p):
    stack_flags(p)
    params_flag(p, "the parameters the deploy would add")


def setup_plan(p):
    stack_flags(p)
    params_flag(p, "the change to preview, e.g. Ingress=LoadBalancer")


def setup_destroy(p):
    stack_flags(p)
    yes_flag(p, "delete without asking for the stack name")
    p.add_argument("--delete-table", action="store_true", default=_flag("DELETE_TABLE"),
                   help="also delete the retained notes table and its data (DELETE_TABLE=1)")


def setup_image(p):
    p.add_argument("--context", default=_env("CONTEXT"), metavar="DIR",
                   help="the build Context in parent.yml to build (CONTEXT=; needed when there are several)")


def setup_services(p):
    stack_flags(p)
    service_flag(p)


def setup_exec(p):
    setup_services(p)
    p.add_argument("--command", default="/bin/sh", help="what to run in the container (default /bin/sh)")


def setup_smoke(p):
    setup_services(p)
    p.add_argument("--url", default=_env("URL"), help="any base URL instead of the stack (URL=)")


def setup_alert_test(p):
    setup_services(p)
    p.add_argument("--alarm", default=_env("ALARM"), metavar="NAME",
                   help="the alarm to set off (ALARM=); default: the deployment alarm of SERVICE=, or of the "
                        "first service (a service on Lambda has none: its ErrorRateAlarm)")


def setup_logs(p):
    setup_services(p)
    p.add_argument("--follow", action="store_true", default=_flag("FOLLOW"), help="keep tailing (FOLLOW=1)")
    p.add_argument("--minutes", type=whole_number("MINUTES"), default=_env("MINUTES", "10"),
                   help="how far back (MINUTES=; 10)")


# (group, command, one line, flags, action): the help lists them in this order, by group.
COMMANDS = [
    ("deploy", "deploy", "sam deploy (the stack builds the images and publishes the site), wait, smoke test",
     setup_deploy, do_deploy),
    ("deploy", "preflight", "check credentials, AZs, certificates, build contexts, templates; create the "
     "service-linked roles", setup_preflight, do_preflight),
    ("deploy", "plan", "what PARAMS would add, remove, update or replace (offline; --stack reads a deployed one)",
     setup_plan, do_plan),
    ("deploy", "destroy", "delete the stack (its bucket, image repositories and logs go with it); the table is kept",
     setup_destroy, do_destroy),
    ("operate", "stop", "scale every service (or --service) to zero, remembering its scale (Lambda: reserved "
     "concurrency 0)", setup_services, do_stop),
    ("operate", "start", "scale back to what stop recorded (Lambda: the block's reserved concurrency, or none)",
     setup_services, do_start),
    ("operate", "exec", "a shell in a running task of one service", setup_exec, do_exec),
    ("operate", "smoke", "the smoke tests against the stack (each service's health check) or --url",
     setup_smoke, do_smoke),
    ("operate", "alert-test", "put one alarm in ALARM to prove the alerts reach you (CloudWatch resets it)",
     setup_alert_test, do_alert_test),
    ("inspect", "status", "URLs, services, deployments, recent events, VPC link warnings, alerts and alarms",
     setup_services, do_status),
    ("inspect", "logs", "the services' recent log lines", setup_logs, do_logs),
    ("inspect", "cost", "the monthly estimate, a deploy's build and the ceiling of a configuration (offline)",
     cost.add_arguments,
     cost.run),
    ("develop", "image", "docker build of one build Context on this machine (optional; needs Docker)", setup_image,
     do_image),
    ("develop", "new-service", "a new service: its block in parent.yml and its build context services/NAME/",
     new_service.add_arguments, new_service.run),
]
GROUPS = {"deploy": "deploy (check, ship, remove)", "operate": "operate (a running stack)",
          "inspect": "inspect (read only)", "develop": "develop (this repository, offline)"}


def commands_help() -> str:
    lines = []
    for group, title in GROUPS.items():
        lines.append(f"{title}:")
        lines += [f"  {name:<10} {line}" for g, name, line, _, _ in COMMANDS if g == group]
        lines.append("")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    doc = __doc__.split("\n", 2)
    top = Parser(prog=PROG, usage="%(prog)s COMMAND [flags]", description=doc[2].strip() + "\n\n" + commands_help(),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True, help=argparse.SUPPRESS)
    for _group, name, line, setup, action in COMMANDS:
        p = sub.add_parser(name, prog=f"{PROG} {name}", help=line, description=line[0].upper() + line[1:] + ".")
        setup(p)
        p.set_defaults(action=action)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for value in vars(args).values():
        if isinstance(value, BadVariable):
            raise UsageError(value.message)
    return args.action(args)


if __name__ == "__main__":
    run_cli(main)
