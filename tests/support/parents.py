"""Parent templates the tests build from parent.yml: the two-service rendering with a block changed."""
from __future__ import annotations

import copy


def with_secrets(arns: str) -> dict:
    """The two-service parent whose generated second service reads the secrets `arns` (comma-separated),
    each under a name of its own."""
    from checks.render import SECOND, two_service_parent
    parent = copy.deepcopy(two_service_parent())
    names = ",".join(f"SECRET_{i}" for i, _ in enumerate(arns.split(",")))
    parent["Resources"][SECOND]["Properties"]["Parameters"].update(SecretNames=names, SecretArns=arns)
    return parent
