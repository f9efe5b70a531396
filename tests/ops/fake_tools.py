"""Stand-ins for the two programs the deploy runs that cannot run here: docker
(no engine) and sam deploy (no CloudFormation). Each records its command line
and does to moto what the real one would do to AWS. git runs for real."""
from __future__ import annotations

import json
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
        if args[:2] == ["docker", "login"]:
            return subprocess.CompletedProcess(args, 0, "Login Succeeded", "")
        if args[:3] == ["docker", "buildx", "build"]:
            ref = args[args.index("--tag") + 1]
            repo, tag = ref.split("/", 1)[1].rsplit(":", 1)
            manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "config": {"digest": "sha256:" + "c" * 64, "size": 1,
                                   "mediaType": "application/vnd.docker.container.image.v1+json"}, "layers": []}
            self.session.client("ecr").put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag=tag)
            return subprocess.CompletedProcess(args, 0, "", "")
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
