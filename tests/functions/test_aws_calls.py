"""The IAM actions the custom resources' code needs, read from the code (aws_calls.py).

Pinned here so that a call added to a handler shows up in review with the grant it needs: the image
builder's role (build.yml, ISSUE18.md) must allow each one, on the resources the handler names."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.functions.aws_calls import actions, module_actions

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def test_the_image_builder_makes_exactly_these_calls():
    assert module_actions(FUNCTIONS / "image_build.py") == {
        "lambda:GetLayerVersion",  # the source layer's CodeSha256 (the image's version)
        "ecr:DescribeImages",  # an existing tag, and the pushed image's digest
        "ecr:BatchGetImage",  # the pushed tag's manifest: an image index is refused (Lambda runs none)
        "codebuild:StartBuild", "codebuild:ListBuildsForProject", "codebuild:BatchGetBuilds",
        "codebuild:StopBuild",  # the build, its completion, and stopping it on Delete
        "logs:GetLogEvents",  # the failed build's last lines
        "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem",  # the request waiting for its build
    }


def test_the_site_publisher_makes_exactly_these_calls():
    """frontend.yml's PublisherRole grants each (tests/templates/test_build.py compares them)."""
    assert module_actions(FUNCTIONS / "site_publish.py") == {
        "lambda:GetLayerVersion",  # the site's layer
        "s3:ListBucket", "s3:PutObject", "s3:DeleteObject",  # publish: list the ETags, upload, remove
        "s3:ListBucketVersions", "s3:DeleteObjectVersion",  # empty the bucket on delete
        "cloudfront:CreateInvalidation",  # the changed pages
        "cloudformation:DescribeStacks", "cloudformation:DescribeStackResources",  # does the bucket go away?
    }


def test_the_prefix_list_lookup_makes_exactly_this_call():
    """ingress.yml's PrefixListRole grants it (tests/templates/test_build.py compares them)."""
    assert module_actions(FUNCTIONS / "prefix_list.py") == {"ec2:DescribeManagedPrefixLists"}


def test_the_namespace_guard_makes_exactly_this_call():
    """cluster.yml's NamespaceGuardRole grants it (tests/templates/test_build.py compares them)."""
    assert module_actions(FUNCTIONS / "namespace_guard.py") == {"servicediscovery:ListServices"}


def test_the_concurrency_cap_makes_exactly_these_calls():
    """service.yml's ConcurrencyCapRole grants them on the service's function (tests/templates/test_build.py)."""
    assert module_actions(FUNCTIONS / "concurrency_cap.py") == {
        "lambda:GetFunctionConcurrency",  # a stopped function (0) is left stopped
        "lambda:PutFunctionConcurrency",  # the block's ReservedConcurrency
        "lambda:DeleteFunctionConcurrency",  # the block reserves none
    }


def test_answering_cloudformation_needs_no_permission():
    """The response goes to a presigned URL: no AWS call, no grant."""
    assert module_actions(FUNCTIONS / "custom_resource.py") == set()


def test_the_reader_follows_aliases_and_paginators_and_refuses_unknown_methods():
    source = '''
import boto3
s3 = boto3.client("s3")
def f():
    codebuild = aws("codebuild")
    codebuild.stop_build(id="x")
    aws("logs").get_log_events(logGroupName="g", logStreamName="s")
    s3.get_paginator("list_object_versions").paginate(Bucket="b")
    codebuild.exceptions.ResourceNotFoundException
'''
    # an operation IAM authorizes under another name is read as that action (IAM_ACTIONS)
    assert actions(source) == {"codebuild:StopBuild", "logs:GetLogEvents", "s3:ListBucketVersions"}
    with pytest.raises(ValueError, match="codebuild has no operation stop_builds"):
        actions('aws("codebuild").stop_builds(id="x")')
