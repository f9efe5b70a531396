"""make deploy's preflight refuses, before anything is built, a service's secret its execution role could not
read: under the permissions boundary CI deploys with, a name outside the stack's own (tests/cost has the forms
every deploy refuses)."""
from __future__ import annotations

import pytest

from scripts import cost, preflight
from scripts.common import OpsError
from tests.ops.conftest import make_target
from tests.support.parents import with_secrets

BOUNDARY = "arn:aws:iam::123456789012:policy/permissions-boundary-shop"


@pytest.mark.parametrize("arn, refused", [
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-db-AbCdEf", False),
    ("arn:aws:ssm:us-east-1:123456789012:parameter/shop/db", False),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:other-db-AbCdEf", True),
    ("arn:aws:ssm:us-east-1:123456789012:parameter/other/db", True),
])
def test_under_a_boundary_preflight_wants_the_stacks_own_secret_names(monkeypatch, arn, refused):
    monkeypatch.setattr(preflight, "parent", lambda: with_secrets(arn))
    params = {**cost.template_defaults(), "PermissionsBoundaryArn": BOUNDARY}
    t = make_target(None, stack="shop")
    if refused:
        with pytest.raises(OpsError, match=r"is outside .*shop.* permissions boundary"):
            preflight.check_task_counts(t, params)
    else:
        preflight.check_task_counts(t, params)
    preflight.check_task_counts(t, cost.template_defaults())  # no boundary: any full ARN
