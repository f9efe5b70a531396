"""The parent stack's outputs as one typed object, read once per command.

Every operations command starts from these: the shared outputs name the site, the bucket, the
distribution and the cluster; one output per service (`NotesService`, `ReportsService`, ...,
Description "Service: ...") carries that service's descriptor, a compact JSON object service.yml
builds (review/contract11.md):

    {"name": ECS service, "container": container name, "logGroup": log group,
     "scalableTarget": "service/<cluster>/<service>", "pathPrefix": "/api",
     "healthCheckPath": "/api/health-check", "architecture": "ARM64", "version": "3f2a9c1b0d4e"}

A service that runs on Lambda (its block's Compute, issue 20) says so: "compute": "lambda", "function":
its function's name (also its "name"), "container" and "scalableTarget" "" (no task, no autoscaling), and
"reservedConcurrency": its block's ReservedConcurrency ("" : none), which `make start` restores. A
descriptor without "compute" is from a stack deployed before Lambda mode: Fargate.

"version" is what the stack built the service's image from (the first 12 hex digits of its source
layer's SHA-256, which the image reports in its health check); "" when the stack runs an ImageUri given
to it (nothing to compare), and absent in a stack deployed before the stack built its images.

A stack without one of them is not a stack of this blueprint (or of an older version of it): that is
one line (NotABlueprintStack), not a KeyError deep in a command. tests/ops/test_outputs.py holds
these fields equal to parent.yml's Outputs, so a renamed output fails a test, not a deploy.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields

from scripts.common import Target, describe_stack
from scripts.errors import NotABlueprintStack, ServiceNotChosen, UnknownService

SERVICE_SUFFIX = "Service"  # the logical id of a service in parent.yml, and of its output: <Key>Service
SERVICE_DESCRIPTION = "Service:"
FARGATE, LAMBDA = "fargate", "lambda"  # the descriptor's "compute"


@dataclass(frozen=True)
class ServiceOutputs:
    """One service, from its descriptor output."""

    key: str  # the output's (and parent.yml resource's) name, e.g. NotesService
    name: str  # the ECS service name (Lambda: the function's name)
    container: str  # "" on Lambda
    log_group: str
    scalable_target: str  # Application Auto Scaling resource id: service/<cluster>/<service> ("" on Lambda)
    path_prefix: str
    health_check_path: str
    architecture: str = "ARM64"  # its block's Architecture (what its image must be built for)
    version: str = ""  # the version its health check must report ("" : not known, not compared)
    compute: str = FARGATE  # FARGATE or LAMBDA
    function: str = ""  # the Lambda function's name ("" on Fargate)
    reserved_concurrency: str = ""  # its block's ReservedConcurrency ("" : none reserved)

    # descriptor JSON key -> field
    DESCRIPTOR = {"name": "name", "container": "container", "logGroup": "log_group",
                  "scalableTarget": "scalable_target", "pathPrefix": "path_prefix",
                  "healthCheckPath": "health_check_path", "architecture": "architecture", "version": "version",
                  "compute": "compute", "function": "function", "reservedConcurrency": "reserved_concurrency"}
    # "" with an explicit ImageUri, or absent in an older stack (version; compute, function, reservedConcurrency)
    OPTIONAL = frozenset({"version", "compute", "function", "reservedConcurrency"})
    FARGATE_ONLY = frozenset({"container", "scalableTarget"})  # "" on Lambda

    @property
    def on_lambda(self) -> bool:
        return self.compute == LAMBDA

    @property
    def short(self) -> str:
        """What SERVICE= takes: the key without "Service", lower case (NotesService -> notes)."""
        return self.key[:-len(SERVICE_SUFFIX)].lower() if self.key.endswith(SERVICE_SUFFIX) else self.key.lower()

    @property
    def health_check_is_its_own(self) -> bool:
        """Its health check lies under its own prefix. The shared ingress routes by prefix, so a path
        outside it reaches another service, which answers for this one: a smoke check that proves nothing."""
        return self.health_check_path.startswith(self.path_prefix.rstrip("/") + "/")

    def descriptor(self) -> str:
        """The descriptor as service.yml's Output writes it (tests build fake stacks from this)."""
        return json.dumps({k: getattr(self, f) for k, f in self.DESCRIPTOR.items()}, separators=(",", ":"))


@dataclass(frozen=True)
class ParentOutputs:
    """The parent stack's outputs. Every field is an output of parent.yml (OUTPUT_NAMES), services aside."""

    frontend_url: str
    api_url: str
    bucket_name: str
    distribution_id: str
    cluster_name: str
    ingress: str
    profile: str
    services: dict[str, ServiceOutputs]
    table_name: str | None = None  # the sample's data stack; a fork without it has no table
    smoke_test: str | None = None  # the command for a person after `sam deploy --guided` (older stacks lack it)
    alert_topic_arn: str | None = None  # the stack's SNS topic (scripts/alerts.py); a stack from before alerts lacks it

    # parent.yml output name -> field (services apart)
    OUTPUT_NAMES = {"FrontendUrl": "frontend_url", "ApiUrl": "api_url", "BucketName": "bucket_name",
                    "DistributionId": "distribution_id", "ClusterName": "cluster_name", "Ingress": "ingress",
                    "Profile": "profile", "TableName": "table_name", "SmokeTest": "smoke_test",
                    "AlertTopicArn": "alert_topic_arn"}
    OPTIONAL = frozenset({"TableName", "SmokeTest", "AlertTopicArn"})

    @classmethod
    def parse(cls, outputs: list[dict], stack: str = "the stack") -> ParentOutputs:
        """From describe_stacks' Outputs (OutputKey, OutputValue, Description)."""
        values = {o["OutputKey"]: o.get("OutputValue", "") for o in outputs}
        missing = [name for name in cls.OUTPUT_NAMES if not values.get(name) and name not in cls.OPTIONAL]
        if missing:
            raise NotABlueprintStack(f"{stack} has no output {', '.join(missing)}: is it a stack of this blueprint?")
        services = {}
        for o in outputs:
            if o["OutputKey"].endswith(SERVICE_SUFFIX) and o.get("Description", "").startswith(SERVICE_DESCRIPTION):
                service = parse_service(o["OutputKey"], o.get("OutputValue", ""), stack)
                services[service.key] = service
        if not services:
            raise NotABlueprintStack(f"{stack} has no service outputs (<Name>Service, Description \"Service: ...\"): "
                                     "is it a stack of this blueprint?")
        shared = {field: values.get(name) or None for name, field in cls.OUTPUT_NAMES.items()}
        return cls(services=services, **shared)

    def as_outputs(self) -> list[dict]:
        """The other way round: describe_stacks' Outputs for these values (the ops tests' fake stacks)."""
        shared = [{"OutputKey": name, "OutputValue": getattr(self, field), "Description": name}
                  for name, field in self.OUTPUT_NAMES.items() if getattr(self, field) is not None]
        return shared + [{"OutputKey": s.key, "OutputValue": s.descriptor(), "Description": f"Service: {s.key}"}
                         for s in self.services.values()]

    def select(self, wanted: str | None) -> list[ServiceOutputs]:
        """Every service, or the one SERVICE= names (NotesService, notesservice or notes)."""
        if not wanted:
            return list(self.services.values())
        for service in self.services.values():
            if wanted.lower() in (service.key.lower(), service.short):
                return [service]
        raise UnknownService(f"no service {wanted} in this stack: use SERVICE= with one of {self.names()}")

    def one(self, wanted: str | None, ask=None) -> ServiceOutputs:
        """One service for a command that acts on one (exec): the one named, the only one, or (with a
        terminal, `ask`) the one the user picks; otherwise a one-line refusal listing them."""
        chosen = self.select(wanted)
        if len(chosen) == 1:
            return chosen[0]
        if ask is not None:
            try:
                answer = ask(f"Which service? ({self.names()}) ").strip()
            except EOFError:
                answer = ""
            if answer:
                return self.select(answer)[0]
        raise ServiceNotChosen(f"this stack has {len(chosen)} services: pick one with SERVICE= ({self.names()})")

    def names(self) -> str:
        return ", ".join(s.short for s in self.services.values())


def parse_service(key: str, value: str, stack: str = "the stack") -> ServiceOutputs:
    try:
        descriptor = json.loads(value)
    except json.JSONDecodeError:
        raise NotABlueprintStack(f"{stack}: output {key} is not a service descriptor (JSON): "
                                 "is it a stack of this blueprint?") from None
    if not isinstance(descriptor, dict):
        descriptor = {}
    compute = str(descriptor.get("compute") or FARGATE)
    if compute not in (FARGATE, LAMBDA):
        raise NotABlueprintStack(f"{stack}: output {key} says compute {compute!r}, neither {FARGATE} nor {LAMBDA}: "
                                 "is it a stack of a newer version of this blueprint?")
    required = set(ServiceOutputs.DESCRIPTOR) - ServiceOutputs.OPTIONAL
    if compute == LAMBDA:
        required = (required - ServiceOutputs.FARGATE_ONLY) | {"function"}
    missing = [k for k in ServiceOutputs.DESCRIPTOR if k in required and not descriptor.get(k)]
    if missing:
        raise NotABlueprintStack(f"{stack}: output {key} lacks {', '.join(missing)}: is it a stack of this blueprint?")
    values = {f: str(descriptor.get(k) or "") for k, f in ServiceOutputs.DESCRIPTOR.items()}
    return ServiceOutputs(key=key, **{**values, "compute": compute})


def read(t: Target) -> ParentOutputs:
    """The deployed parent's outputs (one describe_stacks call; StackNotFound when there is none)."""
    return ParentOutputs.parse(describe_stack(t).get("Outputs", []), f"stack {t.stack_name}")


FIELDS = tuple(f.name for f in fields(ParentOutputs))
