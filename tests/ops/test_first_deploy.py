"""A first deploy into a brand-new account, and the deploys after it: service-linked roles, a failed
first create, the root cause of a failure, parameters that would silently revert, a stopped service."""
from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from moto.cloudformation.models import cloudformation_backends

from scripts import cost, deploy, image, preflight, scale, service_roles, smoke, stack_failures
from scripts.common import Target
from scripts.errors import AwsCallFailed, DeployFailed, NotConfirmed, OpsError, StackNotDeployable, UsageError
from tests.ops.conftest import REGION, STACK, create_deployment, make_target, service_arn, stubbed, use_clients
from tests.ops.fake_tools import FakeTools
from tests.ops.test_deploy import ONLY_AWS_CHECKS

ACCOUNT = "123456789012"


def arn(name: str, uid: str = "11111111-2222-3333-4444-555555555555") -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/{uid}"


# ---------------------------------------------------------------- 1. service-linked roles

def test_preflight_creates_both_service_linked_roles_once_and_waits_for_them(aws):
    """A brand-new account has neither role; ECS and Application Auto Scaling would race their creation
    (cloudformation-coverage-roadmap#818, containers-roadmap#631)."""
    iam = aws.client("iam")
    assert iam.list_roles(PathPrefix="/aws-service-role/")["Roles"] == []
    t = make_target(aws)
    first = preflight.check_service_linked_roles(t, {})
    assert first.count("(created)") == 2
    paths = {r["Path"] for r in iam.list_roles(PathPrefix="/aws-service-role/")["Roles"]}
    assert paths == {f"/aws-service-role/{s}/" for s in service_roles.SERVICES}
    assert preflight.check_service_linked_roles(t, {}).count("(exists)") == 2  # idempotent
    assert len(iam.list_roles(PathPrefix="/aws-service-role/")["Roles"]) == 2
    assert "service-linked roles" in preflight.CHECKS


def stubbed_iam():
    return stubbed("iam", activate=False)


ECS_ROLE = {"Path": "/aws-service-role/ecs.amazonaws.com/", "RoleName": "AWSServiceRoleForECS",
            "RoleId": "AROAEXAMPLEEXAMPLE123", "CreateDate": datetime(2026, 1, 1, tzinfo=UTC),
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"}
LIST_ECS = {"PathPrefix": "/aws-service-role/ecs.amazonaws.com/"}


def test_a_new_role_is_waited_for_until_iam_returns_it(iam_settles):
    """IAM is eventually consistent: the role_exists waiter retries GetRole on NoSuchEntity, then the
    new role gets time to propagate before ECS first assumes it."""
    iam, stub = stubbed_iam()
    stub.add_response("list_roles", {"Roles": []}, LIST_ECS)
    stub.add_response("create_service_linked_role", {"Role": ECS_ROLE}, {"AWSServiceName": "ecs.amazonaws.com"})
    stub.add_client_error("get_role", "NoSuchEntity", "The role with name AWSServiceRoleForECS cannot be found.", 404)
    # The waiter succeeds on HTTP 200, which a Stubber response carries only when told.
    stub.add_response("get_role", {"Role": ECS_ROLE, "ResponseMetadata": {"HTTPStatusCode": 200}},
                      {"RoleName": "AWSServiceRoleForECS"})
    with stub:
        assert service_roles.ensure_role(iam, "ecs.amazonaws.com", delay=0) == ("AWSServiceRoleForECS", True)
    stub.assert_no_pending_responses()
    assert iam_settles == [service_roles.SETTLE_SECONDS]


def test_an_existing_role_is_not_waited_for(aws, iam_settles):
    service_roles.ensure_service_linked_roles(make_target(aws), delay=0)
    iam_settles.clear()
    assert [created for _, created in service_roles.ensure_service_linked_roles(make_target(aws), delay=0)] == [
        False, False]
    assert iam_settles == []


def test_a_role_created_by_someone_else_meanwhile_is_success():
    """Real IAM answers a second create with InvalidInput "...has been taken in this account"."""
    iam, stub = stubbed_iam()
    stub.add_response("list_roles", {"Roles": []}, LIST_ECS)
    stub.add_client_error("create_service_linked_role", "InvalidInput", "Service role name AWSServiceRoleForECS has "
                          "been taken in this account, please try a different suffix.", 400)
    with stub:
        assert service_roles.ensure_role(iam, "ecs.amazonaws.com") == ("AWSServiceRoleForECS", False)
    stub.assert_no_pending_responses()


def test_an_identity_that_may_not_list_roles_still_gets_them_or_a_clear_line():
    iam, stub = stubbed_iam()
    stub.add_client_error("list_roles", "AccessDenied", "not authorized to perform: iam:ListRoles", 403)
    stub.add_client_error("create_service_linked_role", "InvalidInput", "Service role name AWSServiceRoleForECS has "
                          "been taken in this account, please try a different suffix.", 400)
    stub.add_client_error("list_roles", "AccessDenied", "not authorized to perform: iam:ListRoles", 403)
    stub.add_client_error("create_service_linked_role", "AccessDenied", "not authorized", 403)
    with stub:
        assert service_roles.ensure_role(iam, "ecs.amazonaws.com") == ("AWSServiceRoleForECS", False)
        with pytest.raises(AwsCallFailed, match="^cannot create the service-linked role for ecs.amazonaws.com: the "
                                           "deploying identity needs iam:CreateServiceLinkedRole"):
            service_roles.ensure_role(iam, "ecs.amazonaws.com")


# ---------------------------------------------------------------- 4. MinTasks > MaxTasks

def notes_block(monkeypatch, tmp_path, every: bool = False, **settings) -> dict:
    """parent.yml with the notes service's block changed (code a fork edits), or `every` service's (those
    that share its image must share its architecture), for image.builds and preflight."""
    import copy
    import json

    from blueprint.templates import parent, plain, service_resources
    changed = copy.deepcopy(plain(parent()))
    for name in (service_resources(changed) if every else ["NotesService"]):
        changed["Resources"][name]["Properties"]["Parameters"].update(settings)
    path = tmp_path / "parent.json"
    path.write_text(json.dumps(changed))
    monkeypatch.setattr(image, "PARENT", path)
    monkeypatch.setattr(preflight, "parent", lambda: changed)
    return changed


def test_preflight_and_cost_refuse_min_tasks_above_max_tasks(aws, monkeypatch, tmp_path):
    """A service's task range is code in its block: CloudFormation's Rules cannot compare numbers, so
    preflight (and make cost) refuse it before anything is created."""
    t = make_target(aws)
    assert "NotesService: 1-2 tasks" in preflight.check_task_counts(t, {}).split("; ")
    assert "NotesService: 2-4 tasks" in preflight.check_task_counts(t, {"Profile": "prod"}).split("; ")
    changed = notes_block(monkeypatch, tmp_path, MinTasks=3)
    with pytest.raises(UsageError, match="^NotesService: MinTasks=3 is more than MaxTasks=2: set MinTasks <= "
                                         "MaxTasks in its block in parent.yml$"):
        preflight.check_task_counts(t, {})
    with pytest.raises(UsageError, match="^NotesService: MinTasks=5 is more than MaxTasks=4"):
        cost.validate({**cost.configuration("prod", ""), "MinTasks": "5"}, changed)


# ---------------------------------------------------------------- 2. a failed first create

def rolled_back(session, stack: str = STACK) -> None:
    """A stack whose first create failed: moto cannot fail a create, so set the state CloudFormation
    leaves (ROLLBACK_COMPLETE: all its resources already deleted)."""
    session.client("cloudformation").create_stack(StackName=stack, TemplateBody='{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}')
    backend = cloudformation_backends[ACCOUNT][REGION]
    next(s for s in backend.stacks.values() if s.name == stack).status = "ROLLBACK_COMPLETE"


def test_a_deploy_in_ci_deletes_a_failed_first_create_and_creates_again(aws, capsys):
    rolled_back(aws)
    t = make_target(aws)
    tools = FakeTools(aws)
    result = deploy.deploy(t, run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0, interactive=False)
    out = capsys.readouterr().out
    assert ("stack fargate-blueprint-test is ROLLBACK_COMPLETE: its first create failed and CloudFormation can only "
            "delete it, not update it") in out
    assert "deleting it (the rollback removed what it created; not a terminal, so not asking)" in out
    assert "deleting failed stack fargate-blueprint-test: done" in out
    assert result["outputs"].services["NotesService"].name == "api"
    statuses = [s["StackStatus"] for s in aws.client("cloudformation").list_stacks()["StackSummaries"]]
    assert sorted(statuses) == ["CREATE_COMPLETE", "DELETE_COMPLETE"]


def test_at_a_terminal_the_failed_stack_is_deleted_only_when_confirmed(aws):
    rolled_back(aws)
    t = make_target(aws)
    tools = FakeTools(aws)
    with pytest.raises(NotConfirmed, match="^not confirmed: stack fargate-blueprint-test stays ROLLBACK_COMPLETE"):
        deploy.deploy(t, run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0, interactive=True,
                      ask=lambda _q: "n")
    assert tools.commands == []
    cfn = aws.client("cloudformation")
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    assert stack_failures.clear_failed_create(t, True, ask=lambda _q: "y", delay=0) is True
    assert stack_failures.stack_status(cfn, STACK) is None


@pytest.mark.parametrize("state, message", [
    ("UPDATE_IN_PROGRESS", r"is busy \(UPDATE_IN_PROGRESS\): wait for it to finish"),
    ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback --stack-name fargate-blueprint-test"),
    ("DELETE_FAILED", "is DELETE_FAILED: run make destroy"),
])
def test_stacks_a_deploy_cannot_go_through_are_one_line(aws, state, message):
    rolled_back(aws)
    next(s for s in cloudformation_backends[ACCOUNT][REGION].stacks.values()).status = state
    with pytest.raises(StackNotDeployable, match=message):
        stack_failures.clear_failed_create(make_target(aws), False, delay=0)


def test_a_stack_whose_first_change_set_never_ran_is_a_first_create_to_every_check(aws, capsys):
    """A declined or interrupted `sam deploy` of a new stack (prod's samconfig confirms change sets) leaves it
    REVIEW_IN_PROGRESS, with no template, until its change set runs; SAM then deploys it with a CREATE change
    set, sending no UsePreviousValue (samcli/lib/deploy/deployer.py, has_stack: "we treat like this stack does
    not exist"; https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html).
    So it is a first create to the Free-plan check, the lost-value check, the changed-parameter list and
    `make plan STACK=`, whatever parameters DescribeStacks shows for it (a REVIEW_IN_PROGRESS stack is set as
    CloudFormation leaves it: moto cannot decline a change set)."""
    from scripts import free_plan, upgrade
    from scripts import plan as plan_command
    from scripts.errors import OneWayDoor
    from tests.ops.conftest import create_stack
    create_stack(aws, STACK, [], {"CloudFrontPlan": "Free", "VpcCidr": "10.1.0.0/16", "Ingress": "HttpApi"})
    next(s for s in cloudformation_backends[ACCOUNT][REGION].stacks.values()).status = "REVIEW_IN_PROGRESS"
    t = make_target(aws)
    with pytest.raises(OneWayDoor, match="^a first create with CloudFrontPlan=Free starts the plan"):
        free_plan.check(t, {"CloudFrontPlan": "Free"})
    assert upgrade.check_deployed(t, {}) == [], "nothing deployed: no value to lose"
    assert deploy.parameter_changes(t, [("PARAMS", {"Ingress": "LoadBalancer"})]) == [], "nothing deployed to change"
    said: list[str] = []
    assert plan_command.run("dev", STACK, REGION, "CloudFrontPlan=Free", session=aws, out=said.append) == 1
    assert said[1].startswith(f"note: stack {STACK} is REVIEW_IN_PROGRESS, not created yet")
    assert [line for line in said if line.startswith("REFUSED: ")][0].startswith(
        "REFUSED: a first create with CloudFrontPlan=Free starts the plan")
    assert all(line.startswith("  + add ") for line in said if line.startswith("  ")), "a first deploy: all adds"


# ---------------------------------------------------------------- 3. the root cause

T0 = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
PARENT, SERVICE, CLUSTER_STACK = (arn(STACK, "p"), arn(f"{STACK}-ServiceStack-1AB2C3D4E5F6", "s"),
                                  arn(f"{STACK}-ServiceStack-1AB2C3D4E5F6-ClusterStack-9XYZ", "c"))
SLR = ('Resource handler returned message: "Invalid request provided: CreateCluster Invalid Request: Unable to assume '
       'the service linked role. Please verify that the ECS service linked role exists. (Service: AmazonECS; Status '
       'Code: 400; Error Code: InvalidParameterException; Request ID: 0e1f; Proxy: null)" (RequestToken: 7a1b, '
       'HandlerErrorCode: InvalidRequest)')


def event(stack_id: str, logical: str, rtype: str, status: str, seconds: int, reason: str | None = None,
          physical: str | None = None) -> dict:
    """One StackEvent as describe_stack_events returns it."""
    name = stack_failures.NESTED_STACK.match(stack_id).group(1)
    e = {"StackId": stack_id, "EventId": f"{logical}-{status}-{seconds}", "StackName": name,
         "LogicalResourceId": logical, "PhysicalResourceId": physical if physical is not None else "",
         "ResourceType": rtype, "Timestamp": T0 + timedelta(seconds=seconds), "ResourceStatus": status}
    if reason is not None:
        e["ResourceStatusReason"] = reason
    return e


def stack_self(stack_id, status, seconds, reason=None):
    name = stack_failures.NESTED_STACK.match(stack_id).group(1)
    return event(stack_id, name, "AWS::CloudFormation::Stack", status, seconds, reason, physical=stack_id)


NESTED = "AWS::CloudFormation::Stack"
# Newest first, as CloudFormation returns them. The parent: a previous failed operation (older, ignored),
# then this create: VpcStack done, ServiceStack failed (cascade), FrontendStack cancelled, rollback.
PARENT_EVENTS = [
    stack_self(PARENT, "ROLLBACK_COMPLETE", 400),
    event(PARENT, "ServiceStack", NESTED, "DELETE_COMPLETE", 390, physical=SERVICE),
    stack_self(PARENT, "ROLLBACK_IN_PROGRESS", 300, "The following resource(s) failed to create: [FrontendStack, "
               "ServiceStack]. Rollback requested by user."),
    event(PARENT, "FrontendStack", NESTED, "CREATE_FAILED", 299, "Resource creation cancelled",
          physical=arn(f"{STACK}-FrontendStack-QWE", "f")),
    event(PARENT, "ServiceStack", NESTED, "CREATE_FAILED", 298, f"Embedded stack {SERVICE} was not successfully "
          "created: The following resource(s) failed to create: [ClusterStack]. ", physical=SERVICE),
    event(PARENT, "ServiceStack", NESTED, "CREATE_IN_PROGRESS", 120, "Resource creation Initiated", physical=SERVICE),
    event(PARENT, "VpcStack", NESTED, "CREATE_COMPLETE", 110, physical=arn(f"{STACK}-VpcStack-ZZZ", "v")),
    stack_self(PARENT, "CREATE_IN_PROGRESS", 0, "User Initiated"),
    event(PARENT, "OldThing", "AWS::SNS::Topic", "CREATE_FAILED", -3600, "an older operation's failure"),
]
SERVICE_EVENTS = [
    stack_self(SERVICE, "ROLLBACK_COMPLETE", 380),
    event(SERVICE, "Service", "AWS::ECS::Service", "CREATE_FAILED", 297, "Resource creation cancelled"),
    event(SERVICE, "ClusterStack", NESTED, "CREATE_FAILED", 296, f"Embedded stack {CLUSTER_STACK} was not "
          "successfully created: The following resource(s) failed to create: [Cluster].", physical=CLUSTER_STACK),
    stack_self(SERVICE, "CREATE_IN_PROGRESS", 121),
]
CLUSTER_EVENTS = [
    event(CLUSTER_STACK, "CapacityProviders", "AWS::ECS::ClusterCapacityProviderAssociations", "CREATE_FAILED", 295,
          "Resource creation cancelled"),
    event(CLUSTER_STACK, "Cluster", "AWS::ECS::Cluster", "CREATE_FAILED", 200, SLR),
    event(CLUSTER_STACK, "Cluster", "AWS::ECS::Cluster", "CREATE_IN_PROGRESS", 190),
    stack_self(CLUSTER_STACK, "CREATE_IN_PROGRESS", 122),
]


def stubbed_cfn(*histories: tuple[str, list[dict]]):
    cfn, stub = stubbed("cloudformation", activate=False)
    for stack, events in histories:
        stub.add_response("describe_stack_events", {"StackEvents": events}, {"StackName": stack})
    stub.activate()
    return cfn, stub


def test_root_cause_walks_nested_stacks_past_the_cascade_messages():
    cfn, stub = stubbed_cfn((STACK, PARENT_EVENTS), (SERVICE, SERVICE_EVENTS), (CLUSTER_STACK, CLUSTER_EVENTS),
                            (arn(f"{STACK}-FrontendStack-QWE", "f"), []))
    cause = stack_failures.root_cause(cfn, STACK)
    stub.assert_no_pending_responses()
    assert (cause.resource, cause.resource_type, cause.stack_id) == ("Cluster", "AWS::ECS::Cluster", CLUSTER_STACK)
    assert "Unable to assume the service linked role" in cause.line()
    assert "service-linked role was not ready yet" in stack_failures.hint(cause.reason)


def failed_sam_deploy(t, monkeypatch, now, *histories: tuple[str, list[dict]], status: str = "ROLLBACK_COMPLETE"):
    """A `sam deploy` that exits 1 after CloudFormation wrote these event histories (their times moved to `now`)
    and left the parent in `status`: the DeployFailed it raises."""
    for _, events in histories:
        for e in events:
            e["Timestamp"] = now + (e["Timestamp"] - T0)
    cfn, stub = stubbed_cfn(*histories)
    stub.add_response("describe_stacks", {"Stacks": [{"StackName": STACK, "StackId": PARENT, "CreationTime": now,
                                                      "StackStatus": status}]}, {"StackName": STACK})
    real_client = t.client
    monkeypatch.setattr(t, "client", lambda s, region=None: cfn if s == "cloudformation" else real_client(s, region))

    def failing(args, **kwargs):
        if args[0].endswith("sam"):
            return subprocess.CompletedProcess(args, 1, "", "")
        raise AssertionError(args)
    with pytest.raises(DeployFailed) as info:
        deploy.sam_deploy(t, {"MinTasks": "1"}, run=failing)
    return info


def test_a_failed_sam_deploy_names_the_root_cause_what_to_do_and_where_to_read_more(aws, monkeypatch, capsys):
    create_deployment(aws)
    t = make_target(aws)
    frontend = arn(f"{STACK}-FrontendStack-QWE", "f")
    verify = ("Resource handler returned message: \"Access denied for operation 'AWS::CloudFront::Distribution: Your "
              "account must be verified before you can add new CloudFront resources. To verify your account, please "
              "contact AWS Support (https://console.aws.amazon.com/support/home#/) and include this error message.'\"")
    now = datetime.now(UTC)
    parent = [stack_self(PARENT, "ROLLBACK_COMPLETE", 30),
              event(PARENT, "FrontendStack", NESTED, "CREATE_FAILED", 20, f"Embedded stack {frontend} was not "
                    "successfully created: The following resource(s) failed to create: [Distribution].",
                    physical=frontend),
              stack_self(PARENT, "CREATE_IN_PROGRESS", 0, "User Initiated")]
    nested = [event(frontend, "Distribution", "AWS::CloudFront::Distribution", "CREATE_FAILED", 10, verify)]
    info = failed_sam_deploy(t, monkeypatch, now, (STACK, parent), (frontend, nested))
    assert str(info.value).startswith("sam deploy failed: Distribution (AWS::CloudFront::Distribution) in stack "
                                      f"{STACK}-FrontendStack-QWE: Resource handler returned message")
    assert "\n" not in str(info.value)
    out = capsys.readouterr().out.splitlines()
    assert out[-3].startswith("what to do: AWS has not verified this account for CloudFront yet: open a case with "
                              "AWS Support")
    assert out[-2] == f"more: aws cloudformation describe-stack-events --stack-name {frontend} --region {REGION}"
    assert out[-1] == "the first create failed: the next make deploy deletes the empty stack and creates it again"


BUILD_LOG = ["#9 [build 4/6] RUN pip install --no-cache-dir -r requirements.txt",
             "#9 1.912 ERROR: No matching distribution found for flask==99.0",
             "ERROR: failed to solve: process \"/bin/sh -c pip install\" did not complete successfully: exit code: 1",
             "[Container] 2026/12/07 18:02:11.402 Command did not exit successfully docker build exit status 1"]
LOG_LINK = ("https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/"
            "fargate-blueprint-test-BuildStack-1-builds/log-events/3f1c")


def test_a_failed_image_build_prints_its_log_lines_and_link_in_full(aws, monkeypatch, capsys):
    """The image-build custom resource answers FAILED with the build's last log lines and the link to the whole
    log (functions/image_build.py); CloudFormation reports it as "Received response status [FAILED] from custom
    resource. Message returned: ..." (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html).
    make deploy prints every line of it, then the build's what-to-do (not the deploying identity's, though the
    log says "failed"), and ends with one line."""
    create_deployment(aws)
    t = make_target(aws)
    service = arn(f"{STACK}-NotesService-1AB2C3", "n")
    phase = ("BUILD (COMMAND_EXECUTION_ERROR: Error while executing command: docker build --build-arg "
             "APP_VERSION=3f2a9c1b0d4e -t x . Reason: exit status 1)")
    reason = (f"Received response status [FAILED] from custom resource. Message returned: image build FAILED in {phase}: "
              + " | ".join(BUILD_LOG) + f" (full log: {LOG_LINK}) (RequestId: 5b0c)")
    now = datetime.now(UTC)
    parent = [stack_self(PARENT, "UPDATE_ROLLBACK_COMPLETE", 30),
              event(PARENT, "NotesService", NESTED, "UPDATE_FAILED", 20, f"Embedded stack {service} was not "
                    "successfully updated. Currently in UPDATE_ROLLBACK_IN_PROGRESS with reason: The following "
                    "resource(s) failed to update: [Image].", physical=service),
              stack_self(PARENT, "UPDATE_IN_PROGRESS", 0, "User Initiated")]
    nested = [event(service, "Image", "Custom::ImageBuild", "UPDATE_FAILED", 10, reason)]
    info = failed_sam_deploy(t, monkeypatch, now, (STACK, parent), (service, nested), status="UPDATE_ROLLBACK_COMPLETE")
    first = (f"Image (Custom::ImageBuild) in stack {STACK}-NotesService-1AB2C3: Received response status [FAILED] "
             f"from custom resource. Message returned: image build FAILED in {phase}:")
    assert str(info.value) == f"sam deploy failed: {first} (+5 lines above)"
    out = capsys.readouterr().out.splitlines()
    start = out.index(f"cause: {first}")
    assert out[start + 1:start + 6] == [*(f"  {line}" for line in BUILD_LOG), f"  (full log: {LOG_LINK}) (RequestId: 5b0c)"]
    assert out[start + 6].startswith("what to do: the image build in CodeBuild failed: its last log lines are above")
    # A reason of several lines (another custom resource's) is printed line by line too; other reasons whole.
    lines = stack_failures.Failure(service, "Site", "Custom::SitePublish", "one\n  two \n\nthree", now).lines()
    assert lines == [f"Site (Custom::SitePublish) in stack {STACK}-NotesService-1AB2C3: one", "two", "three"]
    plain = stack_failures.Failure(service, "Image", "Custom::ImageBuild", "image build not started: x | y", now)
    assert plain.lines() == [plain.line()]


@pytest.mark.parametrize("reason, advice", [
    ("Received response status [FAILED] from custom resource. Message returned: image build FAILED in POST_BUILD: "
     "denied: User: arn:aws:sts::1:assumed-role/b/x is not authorized to perform: ecr:PutImage (full log: https://x)",
     "the image build in CodeBuild failed"),
    ("Received response status [FAILED] from custom resource. Message returned: image build not started: ClientError: "
     "An error occurred (AccountLimitExceededException) when calling the StartBuild operation: Cannot have more than "
     "0 builds in queue for the account (RequestId: 9a8b)", "CodeBuild's build quota for this account is reached"),
    ("CloudFormation did not receive a response from your Custom Resource. Please check your logs for requestId "
     "[0e1f].", "did not answer within its ServiceTimeout"),
    ("Resource handler returned message: \"The maximum number of VPCs has been reached. (Service: Ec2, Status Code: "
     "400, Request ID: 1)\" (HandlerErrorCode: ServiceLimitExceeded)", "a region holds five VPCs by default"),
    ("The maximum number of addresses has been reached. (Service: AmazonEC2; Status Code: 400; Error Code: "
     "AddressLimitExceeded)", "five Elastic IPs"),
    ("Subnet subnet-0abc is in Availability Zone use1-az3 which is not supported for VPC links", "AvailabilityZoneIds"),
    ("Value (us-east-1e) for parameter availabilityZone is invalid. Subnets can currently only be created in the "
     "following availability zones: us-east-1a, us-east-1b.", "AvailabilityZoneIds"),
    ("User: arn:aws:iam::1:user/ci is not authorized to perform: iam:CreateRole", "lacks a permission"),
])
def test_known_refusals_get_a_what_to_do_line(reason, advice):
    assert advice in stack_failures.hint(reason)


# ---------------------------------------------------------------- 7. parameters that silently revert

def test_a_plain_deploy_says_which_parameters_it_reverts_and_from_where(aws, capsys):
    create_deployment(aws, parameters={"Ingress": "LoadBalancer", "Profile": "dev", "ImageUri": "old"})
    t = Target("dev", STACK, REGION, {"Ingress": "HttpApi", "Profile": "dev"}, aws)
    deploy.deploy(t, {"Profile": "prod"}, run=FakeTools(aws), checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0,
                  interactive=False)
    lines = capsys.readouterr().out.splitlines()
    start = lines.index(f"parameters that change on {STACK}:")
    assert lines[start + 1] == "  Ingress: LoadBalancer -> HttpApi  (samconfig.toml [default])"
    assert lines[start + 2] == "  Profile: dev -> prod  (PARAMS)"
    assert lines[start + 3].startswith("  ImageUri: old -> ") and lines[start + 3].endswith("(computed by make deploy)")
    assert "lasting choices belong in samconfig.toml" in lines[start + 4]


def test_interactive_prod_asks_before_changing_parameters(aws):
    create_deployment(aws, parameters={"Ingress": "LoadBalancer"})
    t = Target("prod", STACK, REGION, {"Ingress": "HttpApi"}, aws)
    sources = [("samconfig.toml [prod]", t.parameters), ("PARAMS", {}), (deploy.COMPUTED, {})]
    questions = []

    def no(question):
        questions.append(question)
        return ""
    with pytest.raises(NotConfirmed, match="^not confirmed; nothing was deployed$"):
        deploy.confirm_parameter_changes(t, sources, interactive=True, ask=no)
    assert questions == [f"Deploy {STACK} with these parameter changes? [y/N] "]
    assert deploy.confirm_parameter_changes(t, sources, interactive=True, ask=lambda _q: "y")
    assert deploy.confirm_parameter_changes(t, sources, interactive=False, ask=no)  # CI / YES=1: shown, not asked
    image_only = [("samconfig.toml [prod]", {"Ingress": "LoadBalancer"}), ("PARAMS", {}),
                  (deploy.COMPUTED, {"ImageUri": "new"})]
    deploy.confirm_parameter_changes(t, image_only, interactive=True, ask=no)  # a new image alone is not asked
    assert len(questions) == 1


def test_yes_passes_no_confirm_changeset_to_sam(aws):
    tools = FakeTools(aws)
    deploy.deploy(make_target(aws), run=tools, checks=ONLY_AWS_CHECKS, skip_smoke=True, delay=0, yes=True)
    assert "--no-confirm-changeset" in tools.named("sam", "deploy")[0]


# ---------------------------------------------------------------- 6. deploy while stopped

def test_a_deploy_while_stopped_keeps_it_stopped_says_so_and_skips_the_smoke_tests(aws, capsys, monkeypatch):
    monkeypatch.setattr(smoke, "wait_healthy", lambda url, timeout: None)  # moto's CloudFront URL answers nothing
    t = make_target(aws)
    tools = FakeTools(aws)
    deploy.deploy(t, run=tools, checks=ONLY_AWS_CHECKS, delay=0, interactive=False)
    assert tools.smoke_runs() == 1
    scale.stop(t, delay=0)
    capsys.readouterr()
    deploy.deploy(t, run=tools, checks=ONLY_AWS_CHECKS, delay=0, interactive=False)
    assert tools.smoke_runs() == 1
    assert ("service api is stopped (make stop recorded 0 tasks, autoscaling 1-3): the new version is deployed and "
            "runs on `make start`; smoke tests skipped") in capsys.readouterr().out


def test_a_deploy_inside_the_stop_schedule_window_says_so_and_skips_the_smoke_tests(deployed, capsys):
    t, out = deployed
    aas = t.client("application-autoscaling")
    common = {"ServiceNamespace": "ecs", "ResourceId": out.services["NotesService"].scalable_target,
              "ScalableDimension": "ecs:service:DesiredCount"}
    aas.register_scalable_target(**common, MinCapacity=0, MaxCapacity=0)  # what the stop action did at 19:00
    aas.put_scheduled_action(**common, ScheduledActionName="stop-outside-hours", Schedule="cron(0 19 ? * MON-FRI *)",
                             ScalableTargetAction={"MinCapacity": 0, "MaxCapacity": 0})
    aas.put_scheduled_action(**common, ScheduledActionName="start-working-hours", Schedule="cron(0 7 ? * MON-FRI *)",
                             ScalableTargetAction={"MinCapacity": 1, "MaxCapacity": 3})
    tools = FakeTools(t.session)
    deploy.deploy(t, run=tools, checks=ONLY_AWS_CHECKS, delay=0, interactive=False)
    assert tools.smoke_runs() == 0
    assert ("service api is inside its StopSchedule window (autoscaling held at 0 until cron(0 7 ? * MON-FRI *)): "
            "the new version runs then; smoke tests skipped") in capsys.readouterr().out


def test_a_deploy_that_restored_autoscaling_forgets_the_stale_stop_record(deployed):
    t, out = deployed
    scale.stop(t, delay=0)
    t.client("application-autoscaling").register_scalable_target(  # a deploy that changed MaxTasks did this
        ServiceNamespace="ecs", ResourceId=out.services["NotesService"].scalable_target, ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1, MaxCapacity=4)
    t.client("ecs").update_service(cluster="cluster", service="api", desiredCount=1)
    assert scale.stopped_reasons(t, out) == []
    tags = t.client("ecs").list_tags_for_resource(resourceArn=service_arn(t.session, out))["tags"]
    assert not [x for x in tags if x["key"].startswith(scale.TAG_PREFIX)]


def test_why_each_service_is_stopped_is_asked_with_one_client_per_aws_service(two_services, monkeypatch):
    """A deploy checks every service of the stack: the ECS and autoscaling clients are made once for all."""
    t, out = two_services
    scale.stop(t, delay=0)
    made: list[str] = []
    real = t.client
    monkeypatch.setattr(t, "client", lambda s, region=None: made.append(s) or real(s, region))
    reasons = scale.stopped_reasons(t, out)
    assert [r.split(" is stopped ")[0] for r in reasons] == ["service api", "service reports"]
    assert sorted(made) == ["application-autoscaling", "ecs"]


def test_when_no_event_says_more_the_cascade_message_is_the_cause():
    """A nested stack whose events cannot be read: better the parent's message than nothing."""
    cfn, stub = stubbed("cloudformation", activate=False)
    stub.add_response("describe_stack_events", {"StackEvents": PARENT_EVENTS[:-1]}, {"StackName": STACK})
    stub.add_client_error("describe_stack_events", "ValidationError", f"Stack [{SERVICE}] does not exist", 400)
    stub.add_client_error("describe_stack_events", "ValidationError", "Stack does not exist", 400)
    with stub:
        cause = stack_failures.root_cause(cfn, STACK)
    assert (cause.resource, cause.cascade) == ("ServiceStack", True)
    assert "Embedded stack" in cause.line()


DATA_STACK = arn(f"{STACK}-ServiceStack-7KEPT", "d")


FRONTEND_STACK = arn(f"{STACK}-FrontendStack-QWE", "f")
# FrontendStack fails after ServiceStack completed: the parent's rollback deletes ServiceStack,
# and its RetainExceptOnCreate table is DELETE_SKIPPED (not the operation that created it).
KEPT_PARENT_EVENTS = [
    stack_self(PARENT, "ROLLBACK_COMPLETE", 400),
    event(PARENT, "ServiceStack", NESTED, "DELETE_COMPLETE", 390, physical=DATA_STACK),
    event(PARENT, "FrontendStack", NESTED, "CREATE_FAILED", 299, "Your account must be verified",
          physical=FRONTEND_STACK),
    event(PARENT, "ServiceStack", NESTED, "CREATE_COMPLETE", 200, physical=DATA_STACK),
    stack_self(PARENT, "CREATE_IN_PROGRESS", 0, "User Initiated"),
]
KEPT_SERVICE_EVENTS = [
    stack_self(DATA_STACK, "DELETE_COMPLETE", 389),
    event(DATA_STACK, "NotesTable", "AWS::DynamoDB::Table", "DELETE_SKIPPED", 388, physical="notes-kept"),
    event(DATA_STACK, "NotesTable", "AWS::DynamoDB::Table", "CREATE_COMPLETE", 150, physical="notes-kept"),
    stack_self(DATA_STACK, "CREATE_IN_PROGRESS", 100),
]


def history_reads(cfn) -> list[str]:
    """The StackName of every DescribeStackEvents call `cfn` makes from now on (each page counts)."""
    reads: list[str] = []
    # The event botocore emits first, before the Stubber checks (or refuses) the call.
    cfn.meta.events.register("provide-client-params.cloudformation.DescribeStackEvents",
                             lambda params, **_: reads.append(params["StackName"]))
    return reads


def test_a_failed_create_finds_the_tables_a_deleted_nested_stack_kept():
    cfn, stub = stubbed_cfn((STACK, KEPT_PARENT_EVENTS), (DATA_STACK, KEPT_SERVICE_EVENTS), (FRONTEND_STACK, []))
    assert stack_failures.retained_after_rollback(cfn, STACK) == [("AWS::DynamoDB::Table", "notes-kept")]
    stub.assert_no_pending_responses()


def test_clearing_a_failed_create_reads_each_stack_history_once(aws, monkeypatch, capsys):
    """The cause and the tables the rollback kept come from the same events: one read of each stack's
    history serves both (the Stubber has one answer for each, in the order they are first read)."""
    t = make_target(aws)
    ddb = aws.client("dynamodb")
    ddb.create_table(TableName="notes-kept", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    cfn, stub = stubbed("cloudformation", activate=False)
    stub.add_response("describe_stacks", {"Stacks": [{"StackName": STACK, "StackId": PARENT, "CreationTime": T0,
                                                      "StackStatus": "ROLLBACK_COMPLETE"}]}, {"StackName": STACK})
    for stack, events in ((STACK, KEPT_PARENT_EVENTS), (FRONTEND_STACK, []), (DATA_STACK, KEPT_SERVICE_EVENTS)):
        stub.add_response("describe_stack_events", {"StackEvents": events}, {"StackName": stack})
    stub.add_response("delete_stack", {}, {"StackName": STACK})
    stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist", 400)
    reads = history_reads(cfn)
    use_clients(monkeypatch, t, cloudformation=cfn)
    with stub:
        assert stack_failures.clear_failed_create(t, False, delay=0) is True
    stub.assert_no_pending_responses()
    assert sorted(reads) == sorted([STACK, FRONTEND_STACK, DATA_STACK])
    assert "cause: FrontendStack (AWS::CloudFormation::Stack) in stack" in capsys.readouterr().out
    assert ddb.list_tables()["TableNames"] == []  # the empty table the rollback kept


def test_a_nested_stack_that_failed_twice_in_one_operation_is_read_once():
    """A rollback that could not delete a nested stack it failed to create: CREATE_FAILED, then DELETE_FAILED."""
    parent = [stack_self(PARENT, "ROLLBACK_FAILED", 500),
              event(PARENT, "ServiceStack", NESTED, "DELETE_FAILED", 490, "Embedded stack "
                    f"{SERVICE} was not successfully deleted: The following resource(s) failed to delete: [Cluster].",
                    physical=SERVICE)] + PARENT_EVENTS[2:-1]
    cfn, stub = stubbed_cfn((STACK, parent), (SERVICE, SERVICE_EVENTS), (CLUSTER_STACK, CLUSTER_EVENTS),
                            (FRONTEND_STACK, []))
    reads = history_reads(cfn)
    cause = stack_failures.root_cause(cfn, STACK)
    stub.assert_no_pending_responses()
    assert reads == [STACK, SERVICE, CLUSTER_STACK, FRONTEND_STACK]
    assert (cause.resource, cause.stack_id) == ("Cluster", CLUSTER_STACK)


def test_an_empty_table_a_failed_create_left_is_deleted_one_with_items_is_named(aws, capsys):
    ddb = aws.client("dynamodb")
    for name in ("left-empty", "left-used"):
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    ddb.put_item(TableName="left-used", Item={"pk": {"S": "x"}})
    stack_failures.dispose_of_retained_tables(make_target(aws), [("AWS::DynamoDB::Table", "left-empty"),
                                                                 ("AWS::DynamoDB::Table", "left-used"),
                                                                 ("AWS::DynamoDB::Table", "gone-already")], delay=0)
    assert ddb.list_tables()["TableNames"] == ["left-used"]
    assert 'make deploy PARAMS="ExistingTableName=left-used"' in capsys.readouterr().out


def test_preflight_checks_an_adopted_table_and_says_when_its_bounds_are_missing(aws):
    """The ceiling and the note expiry are set by the template only on a table it creates."""
    t, ddb = make_target(aws), aws.client("dynamodb")
    assert preflight.check_adopted_table(t, {}) == "the stack creates its table"
    with pytest.raises(OpsError, match="^ExistingTableName=gone: no such table in"):
        preflight.check_adopted_table(t, {"ExistingTableName": "gone"})
    keys = {"AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}
    ddb.create_table(TableName="old-notes", **keys)
    bare = preflight.check_adopted_table(t, {"ExistingTableName": "old-notes"})
    assert "WARNING: no OnDemandThroughput maximums" in bare and "no TTL on expiresAt" in bare
    # moto leaves OnDemandThroughput out of DescribeTable: the real answer's shape, checked by botocore.
    ddb_stub, stub = stubbed("dynamodb", activate=False)
    stub.add_response("describe_table", {"Table": {"TableName": "bounded-notes", "OnDemandThroughput": {
        "MaxReadRequestUnits": 20, "MaxWriteRequestUnits": 5}}}, {"TableName": "bounded-notes"})
    stub.add_response("describe_time_to_live", {"TimeToLiveDescription": {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}}, {"TableName": "bounded-notes"})
    t.client = lambda service, region=None: ddb_stub
    with stub:
        assert preflight.check_adopted_table(t, {"ExistingTableName": "bounded-notes"}) == (
            "adopting bounded-notes, with its throughput maximums and TTL")
