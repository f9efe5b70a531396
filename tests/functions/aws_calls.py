"""The AWS calls the custom resources' code makes, read from its source: what their roles must grant.

A function's role is written in a template and its calls in Python; a call added without its grant
fails only in the deployed function (AccessDenied, at best a FAILED answer). `actions` reads a module's
calls on boto3 clients, made by `boto3.client("<service>")` or by a one-argument factory named `aws`
(image_build.aws), directly or through a name assigned from one, and names each call's IAM action as
botocore's service model does: the signing name and the operation (`get_paginator("op")` counts as op).
A template permission check compares them with the function's role."""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import botocore
import botocore.session

NOT_CALLS = {"exceptions", "meta", "can_paginate", "get_waiter", "close"}

# Operations whose IAM action is not named like them: IAM authorizes them as these actions (S3's API
# reference, "Permissions" of each operation: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html,
# API_ListObjectVersions.html, API_DeleteObjects.html: each key is authorized as DeleteObject, and as
# DeleteObjectVersion when it names a version). Reviewed by hand: a call of an operation listed here grants
# nothing by its own name.
IAM_ACTIONS = {
    "s3:ListObjectsV2": {"s3:ListBucket"},
    "s3:ListObjectVersions": {"s3:ListBucketVersions"},
    "s3:DeleteObjects": {"s3:DeleteObject", "s3:DeleteObjectVersion"},
    "s3:HeadObject": {"s3:GetObject"},
    "s3:HeadBucket": {"s3:ListBucket"},
}


@cache
def operations(service: str) -> tuple[str, dict[str, str]]:
    """(IAM prefix, {boto3 method name: operation name}) of a service."""
    model = botocore.session.get_session().get_service_model(service)
    return model.signing_name, {botocore.xform_name(op): op for op in model.operation_names}


def client_service(node: ast.AST) -> str | None:
    """The service of a client-making call (`aws("ecr")`, `boto3.client("ecr")`), else None."""
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
        return None
    func = node.func
    if (isinstance(func, ast.Name) and func.id == "aws") or (
            isinstance(func, ast.Attribute) and func.attr == "client"
            and isinstance(func.value, ast.Name) and func.value.id == "boto3"):
        return node.args[0].value
    return None


def actions(source: str) -> set[str]:
    """Every IAM action `source` calls ("ecr:DescribeImages"); ValueError for a method no operation has."""
    tree = ast.parse(source)
    aliases = {}  # a name assigned from a client-making call, anywhere in the module -> its service
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and client_service(node.value):
            aliases |= {t.id: client_service(node.value) for t in node.targets if isinstance(t, ast.Name)}
    found = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target, method = node.func.value, node.func.attr
        service = client_service(target) or (aliases.get(target.id) if isinstance(target, ast.Name) else None)
        if not service or method in NOT_CALLS:
            continue
        if method == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
            method = node.args[0].value
        prefix, methods = operations(service)
        if method not in methods:
            raise ValueError(f"{service} has no operation {method} (line {node.lineno})")
        operation = f"{prefix}:{methods[method]}"
        found |= IAM_ACTIONS.get(operation, {operation})
    return found


def module_actions(path: Path) -> set[str]:
    return actions(path.read_text())
