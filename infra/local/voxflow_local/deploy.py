"""Deploys template.yaml into a moto server, with no hand-kept list of resources.

The SAM template is translated offline (voxflow_local.template), and the
resulting CloudFormation goes to moto's CloudFormation as one stack, minus what
Lambda would run: functions, layers, event source mappings and permissions.
The functions come back as data (``LocalFunction``) with their environment
resolved to the local physical ids, their SQS event sources and their scheduled
rules (SAM's ``Type: Schedule`` events: an ``AWS::Events::Rule`` whose target is
the function), for the runner processes to run.

Values moto resolves but never shows (a queue's ARN, a bus name) are read back
through extra stack outputs named ``VoxflowLocal*``; ``Resolver`` then uses them
for the function environments and the resources moto cannot create
(voxflow_local.moto_gaps).

The template's ``Conditions`` are evaluated first, from the parameters (``Role``
above all, docs/regions.md): the stack holds what CloudFormation would create
for them. Resources moto cannot create whose properties need nothing from moto
(global tables, alarms) are created before the stack, so the stack's own
references to them get their real names. ``region_endpoints`` names the other
regions' moto servers, for global table replicas.
"""

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from voxflow_local import moto_gaps
from voxflow_local._clients import _client
from voxflow_local.intrinsics import (
    IntrinsicError,
    Key,
    Resolver,
    apply_conditions,
    evaluate_conditions,
    failed_rules,
    references,
    replace_references,
)
from voxflow_local.model import DeployedStack, LocalFunction, ScheduleSource, SqsEventSource
from voxflow_local.scheduler import UnsupportedScheduleError, schedule_period_s
from voxflow_local.template import TranslatedTemplate, translate_template

logger = logging.getLogger("voxflow_local.deploy")

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
DEFAULT_STACK_NAME = "voxflow"
HIDDEN_OUTPUT_PREFIX = "VoxflowLocal"

# Lambda runs these; locally the runner processes do, so moto never sees them.
NOT_DEPLOYED_TYPES = {
    "AWS::Lambda::Function": "runs in local runner processes (voxflow_local.runner)",
    "AWS::Lambda::EventSourceMapping": "emulated by voxflow_local.poller",
    "AWS::Lambda::LayerVersion": "the local venv holds what the layers ship",
    "AWS::Lambda::Permission": "nothing invokes the functions through Lambda locally",
    "AWS::Lambda::Version": "functions run from their source folders",
    "AWS::Lambda::Alias": "functions run from their source folders",
}
_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class LocalDeployError(RuntimeError):
    pass


class RulesFailed(LocalDeployError):
    """The parameters fail the template's Rules: CloudFormation refuses such a stack."""

    def __init__(self, failed: list[str]) -> None:
        super().__init__("; ".join(failed))
        self.failed = failed


def deploy_stack(
    endpoint_url: str,
    region: str,
    stack_name: str = DEFAULT_STACK_NAME,
    template_path: Path = DEFAULT_TEMPLATE,
    parameters: Mapping[str, str] | None = None,
    *,
    region_endpoints: Mapping[str, str] | None = None,
) -> DeployedStack:
    """``region_endpoints``: region → moto URL of the other regions (global table replicas)."""
    translated = translate_template(template_path, region, dict(parameters or {}))
    deployment = _Deployment(
        endpoint_url,
        region,
        stack_name,
        translated,
        parameters or {},
        region_endpoints=region_endpoints or {},
    )
    return deployment.run()


class _Deployment:
    def __init__(
        self,
        endpoint_url: str,
        region: str,
        stack_name: str,
        translated: TranslatedTemplate,
        parameters: Mapping[str, str],
        *,
        region_endpoints: Mapping[str, str],
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.stack_name = stack_name
        self.translated = translated
        self.parameters = dict(parameters)
        self.region_endpoints = dict(region_endpoints)
        # Until the conditions are applied (run), the template as translated.
        self.cfn: dict[str, Any] = translated.cfn
        self.resources: dict[str, Any] = translated.cfn["Resources"]
        self.types = {logical_id: r["Type"] for logical_id, r in self.resources.items()}
        self.warnings: list[str] = []
        self._clients: dict[str, Any] = {}

    @property
    def region_clients(self) -> "_RegionClients":
        return _RegionClients(self)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = _client(service, self.endpoint_url, self.region)
        return self._clients[service]

    def client_in(self, region: str, service: str) -> Any | None:
        if region == self.region:
            return self.client(service)
        endpoint = self.region_endpoints.get(region)
        return None if endpoint is None else _client(service, endpoint, region)

    def run(self) -> DeployedStack:
        account_id: str = self.client("sts").get_caller_identity()["Account"]
        self._apply_conditions(self._pseudo_parameters(account_id, None))
        not_deployed, not_emulated, missing = self._partition()
        left_out = not_deployed | not_emulated
        local_values = self._not_deployed_values(left_out, missing, account_id)
        early = self._create_early(missing, local_values, account_id)
        late = {lid: create for lid, create in missing.items() if lid not in early}
        needed = self._needed_references(left_out, missing)
        template, hidden = self._moto_template(left_out | missing.keys(), local_values, needed)
        stack_id, outputs = self._create_stack(template)

        values: dict[Key, str] = {
            **self._pseudo_parameters(account_id, stack_id),
            **{key: outputs.pop(name) for name, key in hidden.items() if name in outputs},
            **local_values,
        }
        physical = self._physical_ids(values)
        physical.update(early)
        values.update(
            {(logical_id, None): physical_id for logical_id, physical_id in physical.items()}
        )
        resolver = Resolver(values)
        physical.update(self._create_missing(late, resolver))
        self._complete(physical, resolver)
        reasons = {
            **{lid: NOT_DEPLOYED_TYPES[self.types[lid]] for lid in not_deployed},
            **{
                lid: f"not emulated locally: {moto_gaps.NOT_EMULATED[self.types[lid]]}"
                for lid in not_emulated
            },
        }
        return DeployedStack(
            endpoint_url=self.endpoint_url,
            region=self.region,
            account_id=account_id,
            stack_name=self.stack_name,
            stack_id=stack_id,
            resources=physical,
            resource_types=dict(self.types),
            outputs=self._outputs(resolver, outputs),
            functions=self._functions(resolver, physical),
            not_deployed=dict(sorted(reasons.items())),
            warnings=tuple(self.warnings),
            template=self.cfn,
        )

    def _apply_conditions(self, values: Mapping[Key, str]) -> None:
        """The template of this Role: resources whose condition is false are gone. As
        CloudFormation does, the template's Rules are checked first: nothing is created
        when an assertion fails."""
        failed = failed_rules(self.translated.cfn.get("Rules", {}), values)
        if failed:
            raise RulesFailed(failed)
        conditions = evaluate_conditions(self.translated.cfn.get("Conditions", {}), values)
        self.cfn = apply_conditions(self.translated.cfn, conditions)
        self.resources = self.cfn["Resources"]
        self.types = {logical_id: r["Type"] for logical_id, r in self.resources.items()}

    def _partition(self) -> tuple[set[str], set[str], dict[str, moto_gaps.Creator]]:
        supported = moto_gaps.moto_cloudformation_types()
        not_deployed = {lid for lid, kind in self.types.items() if kind in NOT_DEPLOYED_TYPES}
        not_emulated = {lid for lid, kind in self.types.items() if kind in moto_gaps.NOT_EMULATED}
        self.warnings.extend(
            f"{lid} ({self.types[lid]}): not emulated locally, "
            f"{moto_gaps.NOT_EMULATED[self.types[lid]]}"
            for lid in sorted(not_emulated)
        )
        missing = {
            lid: moto_gaps.CREATE_MISSING[kind]
            for lid, kind in self.types.items()
            if kind not in supported and kind in moto_gaps.CREATE_MISSING
        }
        unsupported = sorted(
            f"{lid} ({kind})"
            for lid, kind in self.types.items()
            if kind not in supported
            and lid not in not_deployed
            and lid not in not_emulated
            and lid not in missing
        )
        if unsupported:
            raise LocalDeployError(
                "moto cannot create these resources and voxflow_local.moto_gaps has no "
                f"workaround for them: {', '.join(unsupported)}"
            )
        return not_deployed, not_emulated, missing

    def _create_early(
        self,
        missing: Mapping[str, moto_gaps.Creator],
        local_values: dict[Key, str],
        account_id: str,
    ) -> dict[str, str]:
        """Creates what needs nothing from moto's stack; its values go into ``local_values``."""
        resolver = Resolver({**self._pseudo_parameters(account_id, None), **local_values})
        created: dict[str, str] = {}
        for logical_id, create in missing.items():
            try:
                properties = resolver.resolve(self.resources[logical_id].get("Properties", {}))
            except IntrinsicError:  # it refers to something in the stack: after the stack
                continue
            result = create(self.region_clients, logical_id, properties)
            self.warnings.extend(result.warnings)
            created[logical_id] = result.physical_id
            local_values[logical_id, None] = result.physical_id
            for attribute, value in result.attributes.items():
                local_values[logical_id, attribute] = value
        return created

    def _not_deployed_values(
        self, not_deployed: set[str], missing: Iterable[str], account_id: str
    ) -> dict[Key, str]:
        """Local stand-ins for what Ref and GetAtt return on resources moto never sees."""
        values: dict[Key, str] = {}
        for logical_id in [*not_deployed, *missing]:
            values[logical_id, None] = logical_id
        prefix = f"arn:{_partition(self.region)}:lambda:{self.region}:{account_id}"
        for logical_id in not_deployed:
            kind = self.types[logical_id]
            if kind == "AWS::Lambda::Function":
                name = self._function_name(logical_id)
                values[logical_id, None] = name
                values[logical_id, "Arn"] = f"{prefix}:function:{name}"
            elif kind == "AWS::Lambda::LayerVersion":
                values[logical_id, None] = f"{prefix}:layer:{self.stack_name}-{logical_id}:1"
        return values

    def _function_name(self, logical_id: str) -> str:
        name = self.resources[logical_id].get("Properties", {}).get("FunctionName")
        return name if isinstance(name, str) else f"{self.stack_name}-{logical_id}"

    def _needed_references(self, not_deployed: set[str], missing: Iterable[str]) -> set[Key]:
        """What the local side resolves itself: functions, event sources, moto's gaps."""
        local_side = [*not_deployed, *missing]
        local_side += [lid for lid, kind in self.types.items() if kind in moto_gaps.COMPLETE]
        needed = references([self.resources[lid].get("Properties", {}) for lid in local_side])
        needed |= references(self.cfn.get("Outputs", {}))
        # A bus has no physical id in moto: its name comes back through an output.
        needed |= {
            (lid, None) for lid, kind in self.types.items() if kind in moto_gaps.REF_ATTRIBUTE
        }
        return {
            key
            for key in needed
            if key[0] in self.resources and key[0] not in not_deployed and key[0] not in missing
        }

    def _moto_template(
        self, removed: set[str], local_values: Mapping[Key, str], needed: set[Key]
    ) -> tuple[dict[str, Any], dict[str, Key]]:
        cfn = self.cfn
        resources = {}
        for logical_id, resource in self.resources.items():
            if logical_id in removed:
                continue
            kept = dict(resource)
            depends_on = kept.get("DependsOn")
            if depends_on is not None:
                depends = [depends_on] if isinstance(depends_on, str) else list(depends_on)
                kept["DependsOn"] = [name for name in depends if name not in removed]
            resources[logical_id] = kept
        hidden = {
            f"{HIDDEN_OUTPUT_PREFIX}{n}": key for n, key in enumerate(sorted(needed, key=str))
        }
        # An output on what moto never sees (a GetAtt of the global endpoint) would fail the
        # stack; _outputs resolves those locally where it can.
        outputs = {
            name: output
            for name, output in cfn.get("Outputs", {}).items()
            if not {lid for lid, _ in references(replace_references(output, local_values))}
            & removed
        }
        for name, (logical_id, attribute) in hidden.items():
            value = (
                {"Ref": logical_id}
                if attribute is None
                else {"Fn::GetAtt": [logical_id, attribute]}
            )
            outputs[name] = {"Value": value}
        template = {key: value for key, value in cfn.items() if key not in ("Resources", "Outputs")}
        template.update(Resources=resources, Outputs=outputs)
        template = replace_references(template, local_values)
        return moto_gaps.use_attribute_for_ref(template), hidden

    def _create_stack(self, template: dict[str, Any]) -> tuple[str, dict[str, str]]:
        cloudformation = self.client("cloudformation")
        cloudformation.create_stack(
            StackName=self.stack_name,
            TemplateBody=json.dumps(template),
            Parameters=[
                {"ParameterKey": key, "ParameterValue": value}
                for key, value in self.parameters.items()
            ],
            Capabilities=_CAPABILITIES,
        )
        # moto creates a stack synchronously: the status is final already.
        stack = cloudformation.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise LocalDeployError(
                f"stack {self.stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason')}"
            )
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return str(stack["StackId"]), outputs

    def _pseudo_parameters(self, account_id: str, stack_id: str | None) -> dict[Key, str]:
        """Parameters and pseudo parameters; AWS::StackId only once the stack exists."""
        defaults = {
            name: str(spec["Default"])
            for name, spec in self.translated.cfn.get("Parameters", {}).items()
            if "Default" in spec
        }
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": account_id,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": _partition(self.region),
            "AWS::URLSuffix": "amazonaws.com",
        }
        if stack_id is not None:
            pseudo["AWS::StackId"] = stack_id
        return {
            (name, None): value for name, value in {**defaults, **self.parameters, **pseudo}.items()
        }

    def _outputs(self, resolver: Resolver, from_moto: Mapping[str, str]) -> dict[str, str]:
        """The template's outputs with local values (queue URLs that point at moto)."""
        outputs = {}
        for name, spec in self.cfn.get("Outputs", {}).items():
            try:
                outputs[name] = str(resolver.resolve(spec["Value"]))
            except IntrinsicError:  # a condition or a function the resolver lacks
                if name in from_moto:
                    outputs[name] = from_moto[name]
        return outputs

    def _physical_ids(self, values: Mapping[Key, str]) -> dict[str, str]:
        rows = self.client("cloudformation").describe_stack_resources(StackName=self.stack_name)
        physical: dict[str, str] = {}
        for row in rows["StackResources"]:
            logical_id = row.get("LogicalResourceId")
            if logical_id is None:
                continue
            physical_id = row.get("PhysicalResourceId") or values.get((logical_id, None))
            if physical_id is None:
                raise LocalDeployError(f"moto reports no physical id for {logical_id}")
            if self.types.get(logical_id) == "AWS::SQS::Queue":
                physical_id = self._local_queue_url(physical_id)
            physical[logical_id] = physical_id
        return physical

    def _local_queue_url(self, url_or_arn: str) -> str:
        # moto's CloudFormation gives https://sqs.<region>.amazonaws.com/... URLs; the ones
        # the server itself hands out point at it, so a copied URL works from a shell too.
        name = url_or_arn.rstrip("/").rpartition("/")[2].rpartition(":")[2]
        url: str = self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        return url

    def _create_missing(
        self, missing: Mapping[str, moto_gaps.Creator], resolver: Resolver
    ) -> dict[str, str]:
        created = {}
        for logical_id, create in missing.items():
            properties = resolver.resolve(self.resources[logical_id].get("Properties", {}))
            result = create(self.region_clients, logical_id, properties)
            created[logical_id] = result.physical_id
            self.warnings.extend(result.warnings)
        return created

    def _complete(self, physical: Mapping[str, str], resolver: Resolver) -> None:
        for logical_id, physical_id in physical.items():
            complete = moto_gaps.COMPLETE.get(self.types[logical_id])
            if complete is not None:
                properties = resolver.resolve(self.resources[logical_id].get("Properties", {}))
                self.warnings.extend(complete(self.client, physical_id, properties))

    def _functions(
        self, resolver: Resolver, physical: Mapping[str, str]
    ) -> tuple[LocalFunction, ...]:
        queues = {url: lid for lid, url in physical.items() if self.types[lid] == "AWS::SQS::Queue"}
        functions = []
        for logical_id, code_dir in self.translated.code_dirs.items():
            if logical_id not in self.resources:  # its condition is false in this Role
                continue
            properties = self.resources[logical_id]["Properties"]
            variables = properties.get("Environment", {}).get("Variables", {})
            functions.append(
                LocalFunction(
                    logical_id=logical_id,
                    name=resolver.resolve({"Ref": logical_id}),
                    arn=resolver.resolve({"Fn::GetAtt": [logical_id, "Arn"]}),
                    code_dir=code_dir,
                    handler=properties["Handler"],
                    runtime=properties.get("Runtime", ""),
                    timeout_s=int(properties.get("Timeout", 3)),
                    memory_mb=int(properties.get("MemorySize", 128)),
                    environment={k: str(v) for k, v in resolver.resolve(variables).items()},
                    event_sources=self._event_sources(logical_id, resolver, queues),
                    schedules=self._schedules(logical_id, resolver, physical),
                    serves_http=self._serves_http(logical_id),
                )
            )
        return tuple(functions)

    def _serves_http(self, function_id: str) -> bool:
        """API Gateway may invoke it: SAM gives each HttpApi event a Lambda permission."""
        return any(
            kind == "AWS::Lambda::Permission"
            and self.resources[logical_id]["Properties"].get("Principal")
            == "apigateway.amazonaws.com"
            and self.resources[logical_id]["Properties"].get("FunctionName") == {"Ref": function_id}
            for logical_id, kind in self.types.items()
        )

    def _event_sources(
        self, function_id: str, resolver: Resolver, queues: Mapping[str, str]
    ) -> tuple[SqsEventSource, ...]:
        sources = []
        for logical_id, kind in self.types.items():
            if kind != "AWS::Lambda::EventSourceMapping":
                continue
            properties = resolver.resolve(self.resources[logical_id]["Properties"])
            if properties["FunctionName"] != resolver.resolve({"Ref": function_id}):
                continue
            arn = str(properties.get("EventSourceArn", ""))
            if ":sqs:" not in arn:
                self.warnings.append(f"{logical_id}: only SQS event sources run locally ({arn})")
                continue
            queue_url = self._local_queue_url(arn)
            sources.append(
                self._sqs_source(logical_id, properties, queues[queue_url], queue_url, arn)
            )
        return tuple(sources)

    def _schedules(
        self, function_id: str, resolver: Resolver, physical: Mapping[str, str]
    ) -> tuple[ScheduleSource, ...]:
        """The scheduled rules that target the function: SAM's ``Type: Schedule`` events."""
        arn = resolver.resolve({"Fn::GetAtt": [function_id, "Arn"]})
        schedules = []
        for logical_id, kind in self.types.items():
            properties = self.resources[logical_id].get("Properties", {})
            if kind != "AWS::Events::Rule" or "ScheduleExpression" not in properties:
                continue
            try:
                targets = resolver.resolve(properties.get("Targets", []))
                expression = str(resolver.resolve(properties["ScheduleExpression"]))
                state = str(resolver.resolve(properties.get("State", "ENABLED")))
            except IntrinsicError as error:
                self._warn(f"{logical_id}: schedule not run locally, {error}")
                continue
            if arn not in [target.get("Arn") for target in targets]:
                continue
            try:
                schedule_period_s(expression)
            except UnsupportedScheduleError as error:
                self._warn(f"{logical_id}: {error}")
                continue
            schedules.append(
                ScheduleSource(
                    logical_id=logical_id,
                    event_id=logical_id.removeprefix(function_id) or logical_id,
                    expression=expression,
                    rule_arn=self._rule_arn(physical.get(logical_id, logical_id), resolver),
                    enabled=state.upper() != "DISABLED",
                )
            )
        return tuple(schedules)

    def _rule_arn(self, physical_id: str, resolver: Resolver) -> str:
        if physical_id.startswith("arn:"):
            return physical_id
        # A scheduled rule is always on the default bus: rule/<name>.
        account_id = resolver.resolve({"Ref": "AWS::AccountId"})
        return f"arn:{_partition(self.region)}:events:{self.region}:{account_id}:rule/{physical_id}"

    def _warn(self, warning: str) -> None:
        logger.warning("%s", warning)
        self.warnings.append(warning)

    def _sqs_source(
        self, logical_id: str, properties: dict[str, Any], queue_id: str, queue_url: str, arn: str
    ) -> SqsEventSource:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["All"]
        )["Attributes"]
        redrive = json.loads(attributes.get("RedrivePolicy", "{}"))
        dead_letter_arn = redrive.get("deadLetterTargetArn")
        return SqsEventSource(
            logical_id=logical_id,
            queue_logical_id=queue_id,
            queue_url=queue_url,
            queue_arn=arn,
            batch_size=int(properties.get("BatchSize", 10)),
            maximum_batching_window_s=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
            function_response_types=tuple(properties.get("FunctionResponseTypes", ())),
            enabled=str(properties.get("Enabled", True)).lower() == "true",
            visibility_timeout_s=int(attributes["VisibilityTimeout"]),
            dead_letter_queue_url=self._local_queue_url(dead_letter_arn)
            if dead_letter_arn
            else None,
            max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
        )


class _RegionClients:
    """moto_gaps.RegionClients over a deployment's clients and region endpoints."""

    def __init__(self, deployment: _Deployment) -> None:
        self.region = deployment.region
        self._deployment = deployment

    def __call__(self, service: str) -> Any:
        return self._deployment.client(service)

    def in_region(self, region: str, service: str) -> Any | None:
        return self._deployment.client_in(region, service)


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
