"""The service-linked roles a brand-new account does not have yet.

ECS creates `AWSServiceRoleForECS` itself on the first CreateCluster, then at
once tries to assume it; IAM is eventually consistent, so in an account that
never used ECS the cluster (with capacity providers) fails with "Unable to
assume the service linked role. Please verify that the ECS service linked role
exists." and a retry works. Application Auto Scaling's role for ECS services has
the same race. Public reports: cloudformation-coverage-roadmap#818,
containers-roadmap#631, 1Password/scim-examples#356.

So `make preflight` (and so `make deploy`) creates both before CloudFormation
needs them and waits until IAM returns them. Creating one that exists is success.
- https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using-service-linked-roles.html
- https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-service-linked-roles.html
- https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot.html#troubleshoot_general_eventual-consistency
"""
from __future__ import annotations

import time

from scripts.common import Target, aws_errors, log
from scripts.errors import AwsCallFailed

# The role each service creates for itself (the names AWS gives them, for messages and a denied list).
SETTLE_SECONDS = 15
sleep = time.sleep  # tests replace it

SERVICES = {"ecs.amazonaws.com": "AWSServiceRoleForECS",
            "ecs.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_ECSService"}


def existing_role(iam, service: str) -> str | None:
    """The name of the service-linked role for `service`, if the account has it (they live under
    /aws-service-role/<service>/)."""
    with aws_errors():
        for page in iam.get_paginator("list_roles").paginate(PathPrefix=f"/aws-service-role/{service}/"):
            for role in page["Roles"]:
                return role["RoleName"]
    return None


def ensure_role(iam, service: str, delay: int = 2, attempts: int = 30) -> tuple[str, bool]:
    """(role name, created now). A role created now is waited for with IAM's role_exists waiter.
    An identity that may not list roles (a narrow CI role) still works: it tries the create, and
    "has been taken" means the role is there."""
    try:
        name = existing_role(iam, service)
    except AwsCallFailed as exc:
        if exc.aws_code != "AccessDenied":
            raise
        name = None
    if name is not None:
        return name, False
    try:
        with aws_errors():
            name = iam.create_service_linked_role(AWSServiceName=service)["Role"]["RoleName"]
    except AwsCallFailed as exc:
        # Someone (or ECS itself) created it meanwhile: real IAM says InvalidInput "...has been taken"
        # (InvalidInput is IAM's code for any bad input: only its message tells this case apart).
        if exc.aws_code == "EntityAlreadyExists" or (exc.aws_code == "InvalidInput"
                                                      and "has been taken" in exc.aws_message):
            return SERVICES[service], False
        if exc.aws_code == "AccessDenied":
            raise AwsCallFailed(f"cannot create the service-linked role for {service}: the deploying identity needs "
                           f"iam:CreateServiceLinkedRole, or create it once: aws iam create-service-linked-role "
                           f"--aws-service-name {service}", exc.aws_code, exc.aws_message) from None
        raise
    log(f"created the service-linked role {name} for {service}")
    with aws_errors():
        iam.get_waiter("role_exists").wait(RoleName=name, WaiterConfig={"Delay": delay, "MaxAttempts": attempts})
    # GetRole answering is not the role being assumable everywhere yet: IAM is eventually consistent
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency),
    # and ECS's CreateCluster is the first to assume it. Only a role created just now waits.
    log(f"  waiting {SETTLE_SECONDS} s for IAM to propagate it")
    sleep(SETTLE_SECONDS)
    return name, True


def ensure_service_linked_roles(t: Target, delay: int = 2) -> list[tuple[str, bool]]:
    iam = t.client("iam")
    return [ensure_role(iam, service, delay) for service in SERVICES]
