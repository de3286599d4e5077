"""The metrics catalogue (voxflow.metrics) against the code that emits and the template
that reads: what the package emits is exactly the catalogue, with its dimensions;
template.yaml's dashboard and alarms use no metric of the namespace the code does not
emit; every queue has its age alarm and every DLQ its not-empty alarm, each alarm
notifies the alarm topic and names a runbook section that exists; docs/operations.md
lists every metric.
"""

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from samtranslator.yaml_helper import yaml_parse

from voxflow import metrics
from voxflow.health.canary import Canary, CanaryResult, CanarySettings
from voxflow.pipeline.powertools import PowertoolsMeter
from voxflow.worker.heartbeat import Heartbeat
from voxflow_local.intrinsics import Key, apply_conditions, evaluate_conditions

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "layers" / "voxflow" / "voxflow"
TEMPLATE = ROOT / "template.yaml"
OPERATIONS = ROOT / "docs" / "operations.md"
PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "voxflow",
    "AWS::URLSuffix": "amazonaws.com",
}
WORKER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/voxflow-worker:1"
ROLES = ("standalone", "primary", "secondary")
METER_METHODS = {"count", "seconds", "ratio"}

# (namespace, metric name, {dimension name: value}) as a dashboard or an alarm reads it.
MetricUse = tuple[str, str, dict[str, str]]


# ---------------------------------------------------------------------------------
# What the code emits
# ---------------------------------------------------------------------------------


def _names(node: ast.expr, constants: dict[str, str]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _names(node.body, constants) + _names(node.orelse, constants)
    if isinstance(node, ast.Name) and node.id in constants:
        return [constants[node.id]]
    raise AssertionError(f"a metric named by {ast.unparse(node)}: name metrics with literals")


def emitted() -> dict[str, set[tuple[str, ...]]]:
    """Metric name → dimension sets, from the package's source: Meter calls on a
    ``meter`` (EMF through powertools, whose service dimension they all carry) and the
    MetricName of put_metric_data datums (their dimensions are checked by calling them)."""
    found: dict[str, set[tuple[str, ...]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver = ast.unparse(node.func.value)
                if not receiver.endswith("meter") or not node.args:
                    continue
                dims: tuple[str, ...]
                if node.func.attr in METER_METHODS:
                    dims = metrics.SERVICE
                elif node.func.attr == "count_by":
                    dims = (*metrics.SERVICE, *_names(node.args[1], constants))
                else:
                    continue
                for name in _names(node.args[0], constants):
                    found.setdefault(name, set()).add(dims)
            # A datum put_metric_data sends; a dict that also names the Namespace is a
            # metric a query reads (GetMetricData's MetricStat), not one emitted.
            keys = {k.value for k in getattr(node, "keys", []) if isinstance(k, ast.Constant)}
            if isinstance(node, ast.Dict) and "Namespace" not in keys:
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "MetricName":
                        for name in _names(value, constants):
                            found.setdefault(name, set())
    return found


def test_the_package_emits_exactly_the_catalogue() -> None:
    found = emitted()
    assert set(found) == set(metrics.BY_NAME)
    for name, dims in found.items():
        if dims:  # EMF: the dimensions are the Meter call's
            assert dims == set(metrics.BY_NAME[name].dimensions), name


def test_the_scan_sees_the_meter_calls_it_must() -> None:
    # A scan that found nothing would make the test above pass on an empty catalogue.
    found = emitted()
    assert {"CacheHits", "RequestDuration", "JobsTakenOver", "TakeOversLost"} <= set(found)
    assert found["FailuresByCode"] == {("service", "Code")}


def emf_dimensions(capsys: pytest.CaptureFixture[str]) -> dict[str, list[list[str]]]:
    seen: dict[str, list[list[str]]] = {}
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line)
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == metrics.NAMESPACE
        for metric in directive["Metrics"]:
            seen[metric["Name"]] = directive["Dimensions"]
    return seen


def test_powertools_meter_emits_the_catalogue_dimensions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    powertools = Metrics(namespace=metrics.NAMESPACE, service="voxflow")
    meter = PowertoolsMeter(powertools)
    meter.count("CacheHits")
    meter.seconds("RequestDuration", 1.5)
    meter.ratio("RealTimeFactor", 0.2)
    meter.count_by("FailuresByCode", "Code", "ENGINE_ERROR")
    powertools.flush_metrics()
    seen = emf_dimensions(capsys)
    for name in ("CacheHits", "RequestDuration", "RealTimeFactor", "FailuresByCode"):
        assert tuple(seen[name][0]) in metrics.BY_NAME[name].dimensions, name


class RecordingCloudWatch:
    def __init__(self) -> None:
        self.datums: list[dict[str, Any]] = []

    def put_metric_data(self, **request: Any) -> None:
        assert request["Namespace"] == metrics.NAMESPACE
        self.datums.extend(request["MetricData"])


def datum_dimensions(datums: list[dict[str, Any]]) -> dict[str, set[tuple[str, ...]]]:
    seen: dict[str, set[tuple[str, ...]]] = {}
    for datum in datums:
        names = tuple(dimension["Name"] for dimension in datum["Dimensions"])
        seen.setdefault(datum["MetricName"], set()).add(names)
    return seen


def test_heartbeat_and_canary_put_the_catalogue_dimensions(tmp_path: Path) -> None:
    cloudwatch = RecordingCloudWatch()
    ready = tmp_path / "ready"
    ready.touch()
    beat = Heartbeat(
        cloudwatch,
        region="us-east-1",
        provider="CUDAExecutionProvider",
        interval_s=1,
        ready_file=ready,
        gpu=lambda: 55.0,  # as nvidia-smi reads on a GPU host (tests/test_worker_gpu.py)
    )
    assert beat.beat()
    settings = CanarySettings(bus_name="bus", jobs_table="jobs", region="us-east-1")
    canary = Canary(SimpleNamespace(cloudwatch=cloudwatch), None, settings)  # type: ignore[arg-type]
    result = CanaryResult("canary-1", "Health check 1.", "completed", True, 2.0, "us-east-1")
    assert canary._put_metrics(result)
    seen = datum_dimensions(cloudwatch.datums)
    assert set(seen) == {"WorkerHeartbeat", "GpuUtilization", "CanarySuccess", "CanaryLatency"}
    for name, dims in seen.items():
        assert dims == set(metrics.BY_NAME[name].dimensions), name
    for datum in cloudwatch.datums:
        assert datum["Unit"] == metrics.BY_NAME[datum["MetricName"]].unit, datum


# ---------------------------------------------------------------------------------
# What the template reads
# ---------------------------------------------------------------------------------


def rendered(role: str) -> dict[str, Any]:
    """template.yaml as CloudFormation creates it for ``role``, workers on."""
    template: dict[str, Any] = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    values: dict[Key, str] = {(name, None): value for name, value in PSEUDO.items()}
    for name, spec in template["Parameters"].items():
        if "Default" in spec:
            values[name, None] = str(spec["Default"])
    values["Role", None] = role
    values["WorkerImageUri", None] = WORKER_IMAGE
    conditions = evaluate_conditions(template["Conditions"], values)
    result: dict[str, Any] = apply_conditions(template, conditions)
    return result


def _sub(text: str, parameters: dict[str, Any], variables: dict[str, str]) -> str:
    """Sub's variables, then parameters by their defaults, pseudo parameters by PSEUDO,
    anything else by its own name: ``${ChunksQueue.QueueName}`` reads "ChunksQueue.QueueName"."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return variables[name]
        if name in PSEUDO:
            return PSEUDO[name]
        if name in parameters:
            return str(parameters[name].get("Default", name))
        return name

    return re.sub(r"\$\{([^}!]+)\}", value, text)


def _text(node: Any, parameters: dict[str, Any]) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and "Fn::Sub" in node:
        argument = node["Fn::Sub"]
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: _text(value, parameters) for name, value in variables.items()}
        return _sub(text, parameters, values)
    raise AssertionError(f"not text: {node!r}")


def dashboards(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: json.loads(
            _text(resource["Properties"]["DashboardBody"], template["Parameters"])
        )
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Dashboard"
    }


SEARCH = re.compile(r"SEARCH\('\{([^}]*)\}\s+MetricName=\"(\w+)\"")


def dashboard_metrics(body: dict[str, Any]) -> Iterator[MetricUse]:
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], dict):
                for schema, name in SEARCH.findall(row[0]["expression"]):
                    namespace, *dimensions = (part.strip() for part in schema.split(","))
                    yield namespace, name, dict.fromkeys(dimensions, "*")
                continue
            fields = [item for item in row if not isinstance(item, dict)]
            namespace, name, *pairs = fields
            yield namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))


def _value(node: Any) -> str:
    """A dimension value: a literal, or the name of what it refers to."""
    if isinstance(node, str):
        return node
    if "Ref" in node:
        return str(PSEUDO.get(node["Ref"], node["Ref"]))
    if "Fn::GetAtt" in node:
        return ".".join(node["Fn::GetAtt"])
    raise AssertionError(f"a dimension value {node!r}")


def _metric(metric: dict[str, Any]) -> MetricUse:
    dims = {dim["Name"]: _value(dim["Value"]) for dim in metric.get("Dimensions", [])}
    return metric["Namespace"], metric["MetricName"], dims


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def alarm_metrics(properties: dict[str, Any]) -> Iterator[MetricUse]:
    if "MetricName" in properties:
        yield _metric(properties)
    for query in properties.get("Metrics", []):
        if "MetricStat" in query:
            yield _metric(query["MetricStat"]["Metric"])


def all_uses(template: dict[str, Any]) -> Iterator[tuple[str, MetricUse]]:
    for logical_id, body in dashboards(template).items():
        for use in dashboard_metrics(body):
            yield logical_id, use
    for logical_id, properties in alarms(template).items():
        for use in alarm_metrics(properties):
            yield logical_id, use


@pytest.fixture(scope="module", params=ROLES)
def template(request: pytest.FixtureRequest) -> dict[str, Any]:
    return rendered(request.param)


def test_every_role_has_a_dashboard(template: dict[str, Any]) -> None:
    assert len(dashboards(template)) == 1


def test_the_template_reads_only_metrics_the_code_emits(template: dict[str, Any]) -> None:
    service = template["Globals"]["Function"]["Environment"]["Variables"]
    assert service["POWERTOOLS_METRICS_NAMESPACE"] == metrics.NAMESPACE
    used = 0
    for where, (namespace, name, dims) in all_uses(template):
        if namespace != metrics.NAMESPACE:
            continue
        used += 1
        assert name in metrics.BY_NAME, f"{where}: {name} is not emitted"
        known = [set(dimensions) for dimensions in metrics.BY_NAME[name].dimensions]
        assert set(dims) in known, f"{where}: {name} has no dimensions {sorted(dims)}"
        if "service" in dims and dims["service"] != "*":
            assert dims["service"] == service["POWERTOOLS_SERVICE_NAME"], where
    assert used >= 10


def test_the_primarys_dashboard_charts_what_the_workers_put() -> None:
    # Every metric the worker's heartbeat puts is on the dashboard of the stack that
    # runs workers, with the dimensions the heartbeat gives it.
    (body,) = dashboards(rendered("primary")).values()
    charted = {(name, tuple(sorted(dims))) for _, name, dims in dashboard_metrics(body)}
    for name in ("WorkerHeartbeat", "GpuUtilization"):
        shapes = {tuple(sorted(dims)) for dims in metrics.BY_NAME[name].dimensions}
        assert any((name, shape) in charted for shape in shapes), name
    (standalone,) = dashboards(rendered("standalone")).values()
    assert "GpuUtilization" not in {name for _, name, _ in dashboard_metrics(standalone)}


def test_aws_metrics_name_resources_of_the_stack(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    kinds = {"QueueName": "AWS::SQS::Queue", "FunctionName": "AWS::Serverless::Function"}
    for where, (namespace, _name, dims) in all_uses(template):
        if namespace == metrics.NAMESPACE:
            continue
        for dimension, kind in kinds.items():
            if dimension in dims:
                logical_id = dims[dimension].split(".")[0]
                assert resources[logical_id]["Type"] == kind, f"{where}: {dims}"


def queues(template: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(work queues, dead-letter queues): a DLQ is some queue's or rule's dead letter."""
    resources = template["Resources"]
    all_queues = {lid for lid, res in resources.items() if res["Type"] == "AWS::SQS::Queue"}
    text = json.dumps(resources)
    dead = {
        lid
        for lid in all_queues
        if f'"deadLetterTargetArn": {{"Fn::GetAtt": ["{lid}", "Arn"]}}' in text
        or f'"DeadLetterConfig": {{"Arn": {{"Fn::GetAtt": ["{lid}", "Arn"]}}}}' in text
    }
    return all_queues - dead, dead


def test_every_queue_and_dlq_has_its_alarm(template: dict[str, Any]) -> None:
    work, dead = queues(template)
    assert work == {
        "RequestsQueue",
        "ChunksQueue",
        "LongChunksQueue",
        "StandbyQueue",
        "RecoveryChunksQueue",
    }
    assert dead == {"RequestsDLQ", "RequestsRuleDLQ", "ChunksDLQ", "LongChunksDLQ"}
    by_queue: dict[tuple[str, str], dict[str, Any]] = {}
    for props in alarms(template).values():
        if props.get("Namespace") == "AWS/SQS":
            (_, name, dims) = _metric(props)
            by_queue[dims["QueueName"].split(".")[0], name] = props
    # Standby copies wait by design (up to VOXFLOW_STANDBY_MAX_S): their age is no alarm.
    assert ("StandbyQueue", "ApproximateAgeOfOldestMessage") not in by_queue
    for queue in work - {"StandbyQueue"}:
        age = by_queue[queue, "ApproximateAgeOfOldestMessage"]
        assert age["Threshold"] == {"Ref": "OldestMessageAgeAlarmSeconds"}
        assert age["ComparisonOperator"] == "GreaterThanThreshold"
    for queue in dead:
        depth = by_queue[queue, "ApproximateNumberOfMessagesVisible"]
        assert (depth["Threshold"], depth["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    shown = {
        (dims["QueueName"].split(".")[0], name)
        for body in dashboards(template).values()
        for namespace, name, dims in dashboard_metrics(body)
        if namespace == "AWS/SQS"
    }
    assert {(queue, "ApproximateNumberOfMessagesVisible") for queue in work | dead} <= shown
    assert {(queue, "ApproximateAgeOfOldestMessage") for queue in work - {"StandbyQueue"}} <= shown


def slugs(markdown: str) -> set[str]:
    """GitHub's heading anchors."""
    found = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_every_alarm_notifies_the_topic_and_names_a_runbook(template: dict[str, Any]) -> None:
    assert alarms(template)
    for logical_id, props in alarms(template).items():
        assert {"Ref": "AlarmTopic"} in props["AlarmActions"], logical_id
        links = re.findall(r"Runbook: (docs/[\w.-]+\.md)#([\w-]+)", props["AlarmDescription"])
        assert links, f"{logical_id} names no runbook"
        for doc, anchor in links:
            assert anchor in slugs((ROOT / doc).read_text(encoding="utf-8")), (logical_id, anchor)


def test_primary_alarms_cover_canary_and_workers() -> None:
    names = set(alarms(rendered("primary")))
    assert {"CanaryAlarm", "WorkerStallAlarm", "FailureRateAlarm"} <= names
    assert "WorkerStallAlarm" not in alarms(rendered("secondary"))


def test_the_alarm_topic_is_encrypted_and_e_mail_is_optional() -> None:
    topic = rendered("standalone")["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmKey"}
    assert "Subscription" not in topic
    template: dict[str, Any] = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    values: dict[Key, str] = {(name, None): value for name, value in PSEUDO.items()}
    values.update({(n, None): str(s.get("Default", "")) for n, s in template["Parameters"].items()})
    values["AlarmEmail", None] = "ops@example.com"
    subscribed = apply_conditions(template, evaluate_conditions(template["Conditions"], values))
    (subscription,) = subscribed["Resources"]["AlarmTopic"]["Properties"]["Subscription"]
    assert subscription == {"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}


def test_operations_md_lists_every_metric_with_its_dimensions() -> None:
    text = OPERATIONS.read_text(encoding="utf-8").split("\n## Metrics\n")[1].split("\n## ")[0]
    rows = {
        cells[0].strip("` "): cells[2]
        for line in text.splitlines()
        if line.startswith("| `")
        for cells in [[cell.strip() for cell in line.strip("|").split("|")]]
    }
    for metric in metrics.CATALOGUE:
        assert metric.name in rows, f"docs/operations.md does not list {metric.name}"
        for dims in metric.dimensions:
            assert ", ".join(dims) in rows[metric.name], metric.name
