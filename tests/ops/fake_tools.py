"""Stand-ins for the programs the deploy runs that cannot run here: sam deploy (no CloudFormation) and the
smoke suite (no deployment). Each records its command line and does to moto what the real one would do to
AWS. git runs for real. Anything else, docker above all (the stack builds its images), is an error."""
from __future__ import annotations

import subprocess
import sys

from tests.ops.conftest import create_deployment


class FakeTools:
    def __init__(self, session, desired: int = 0):
        self.session = session
        self.desired = desired  # moto never starts tasks: 0 is stable at once, 1 never is
        self.commands: list[list[str]] = []

    def __call__(self, args, **kwargs):
        if args[0] == "git":
            return subprocess.run(args, **kwargs)
        self.commands.append(list(args))
        if args[0] == sys.executable and "tests/smoke" in args:
            return subprocess.CompletedProcess(args, 0, "", "")  # the smoke suite needs a real deployment
        if args[0].endswith("sam") and args[1] == "deploy":
            stack = args[args.index("--stack-name") + 1]
            cfn = self.session.client("cloudformation")
            if not [s for s in cfn.list_stacks()["StackSummaries"]
                    if s["StackName"] == stack and s["StackStatus"] != "DELETE_COMPLETE"]:
                create_deployment(self.session, stack, desired=self.desired)
            return subprocess.CompletedProcess(args, 0, "", "")
        raise AssertionError(f"unexpected command {args}")

    def smoke_runs(self) -> int:
        return sum(1 for c in self.commands if c[0] == sys.executable and "tests/smoke" in c)

    def named(self, *prefix: str) -> list[list[str]]:
        return [c for c in self.commands if c[:len(prefix)] == list(prefix)
                or (prefix[0] == "sam" and c[0].endswith("sam") and c[1:len(prefix)] == list(prefix[1:]))]
