"""ECS checks the blueprint relies on (IDs CKV_BP_*). Each one guards a failure
users of Fargate stacks have reported: see ../../../shared/notes or the README."""
from __future__ import annotations

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

ROOT_USERS = {"root", "0", "0:0", "root:root"}


def _containers(conf) -> list[dict]:
    containers = conf.get("Properties", {}).get("ContainerDefinitions", [])
    return [c for c in containers if isinstance(c, dict)] if isinstance(containers, list) else []


class _ContainerCheck(BaseResourceCheck):
    """Passes when the task has containers and every one passes `container_ok`,
    which each subclass defines."""

    def __init__(self, name: str, check_id: str):
        super().__init__(name=name, id=check_id, categories=[CheckCategories.GENERAL_SECURITY],
                         supported_resources=["AWS::ECS::TaskDefinition"])

    def scan_resource_conf(self, conf):
        containers = _containers(conf)
        if containers and all(self.container_ok(c) for c in containers):
            return CheckResult.PASSED
        return CheckResult.FAILED


class NonRootUser(_ContainerCheck):
    def __init__(self):
        super().__init__("ECS containers run as a non-root user", "CKV_BP_1")

    def container_ok(self, container):
        user = container.get("User")
        return isinstance(user, str) and user.strip() not in ROOT_USERS and user.strip() != ""


class NonBlockingLogs(_ContainerCheck):
    def __init__(self):
        super().__init__("ECS containers log with awslogs in non-blocking mode", "CKV_BP_2")

    def container_ok(self, container):
        logging = container.get("LogConfiguration") or {}
        options = logging.get("Options") or {}
        return logging.get("LogDriver") == "awslogs" and options.get("mode") == "non-blocking" \
            and bool(options.get("awslogs-group"))


class HealthCheckWithoutCurl(_ContainerCheck):
    def __init__(self):
        super().__init__("ECS containers have a health check that does not need curl or wget", "CKV_BP_3")

    def scan_resource_conf(self, conf):
        # service.yml takes the command as a property (HealthCheckCommand): unknown in the source
        # template; the rendered templates, where it is the list each block gives, decide.
        if any(isinstance((c.get("HealthCheck") or {}).get("Command"), dict) for c in _containers(conf)):
            return CheckResult.UNKNOWN
        return super().scan_resource_conf(conf)

    def container_ok(self, container):
        command = (container.get("HealthCheck") or {}).get("Command")
        if isinstance(command, str):  # checkov puts a CommaDelimitedList parameter's default in as text
            command = command.split(",")
        if not isinstance(command, list) or not command:
            return False
        text = " ".join(str(part) for part in command)
        return "curl" not in text and "wget" not in text


class StopTimeoutBounded(_ContainerCheck):
    def __init__(self):
        super().__init__("ECS containers set a stopTimeout Fargate honours (1-120 s)", "CKV_BP_4")

    def scan_resource_conf(self, conf):
        # A value looked up per parameter (the App mapping's per-ingress StopTimeout) is
        # unknown in the source template; the rendered templates, where it is a number, decide.
        if any(isinstance(c.get("StopTimeout"), dict) for c in _containers(conf)):
            return CheckResult.UNKNOWN
        return super().scan_resource_conf(conf)

    def container_ok(self, container):
        timeout = container.get("StopTimeout")
        try:
            return 1 <= int(timeout) <= 120
        except (TypeError, ValueError):
            return False


class CircuitBreakerWithRollback(BaseResourceCheck):
    def __init__(self):
        super().__init__(name="ECS services roll back failed deployments (circuit breaker)", id="CKV_BP_5",
                         categories=[CheckCategories.GENERAL_SECURITY], supported_resources=["AWS::ECS::Service"])

    def scan_resource_conf(self, conf):
        breaker = (conf.get("Properties", {}).get("DeploymentConfiguration") or {}).get("DeploymentCircuitBreaker") or {}
        return CheckResult.PASSED if breaker.get("Enable") is True and breaker.get("Rollback") is True \
            else CheckResult.FAILED


class ExplicitPlatform(BaseResourceCheck):
    def __init__(self):
        super().__init__(name="ECS task definitions name their CPU architecture", id="CKV_BP_6",
                         categories=[CheckCategories.GENERAL_SECURITY],
                         supported_resources=["AWS::ECS::TaskDefinition"])

    def scan_resource_conf(self, conf):
        platform = conf.get("Properties", {}).get("RuntimePlatform") or {}
        if isinstance(platform.get("CpuArchitecture"), dict):
            # A parameter without a default (service.yml takes parent.yml's Architecture): unknown in
            # the source; the rendered templates, where it is a value, decide.
            return CheckResult.UNKNOWN
        return CheckResult.PASSED if platform.get("CpuArchitecture") in ("ARM64", "X86_64") else CheckResult.FAILED


check_non_root = NonRootUser()
check_logs = NonBlockingLogs()
check_health = HealthCheckWithoutCurl()
check_stop = StopTimeoutBounded()
check_breaker = CircuitBreakerWithRollback()
check_platform = ExplicitPlatform()
