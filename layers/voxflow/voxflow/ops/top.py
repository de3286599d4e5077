"""``voxflow top``: a stack's live numbers in one frame of text.

Queue depths (every queue and DLQ of the stack), the newest jobs of the job table
(status, cache, region, age; never their text: the scan projects only those
attributes), the hit ratio among them, and the primary health alarm's state with the
region it makes serve. The job table is read with one page of a scan: on a large table
the "recent" jobs are the newest of a sample, which a dashboard (docs/operations.md)
shows exactly.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

HEALTH_ALARM = "PrimaryHealthAlarm"
JOBS_TABLE = "JobsTable"
SCAN_LIMIT = 1000
_PROJECTION = "request_id, #status, #cache, owner_region, created_at"
_NAMES = {"#status": "status", "#cache": "cache"}


@dataclass(frozen=True)
class QueueDepth:
    name: str  # the logical id
    visible: int
    in_flight: int

    @property
    def dead_letters(self) -> bool:
        return self.name.endswith("DLQ")


@dataclass(frozen=True)
class RecentJob:
    request_id: str
    status: str
    cache: str
    region: str
    age_s: float


@dataclass(frozen=True)
class Frame:
    stack: str
    region: str
    queues: list[QueueDepth]
    recent: list[RecentJob]
    statuses: dict[str, int]
    hit_ratio: float | None  # among the sampled completed jobs
    sampled: int
    health: str  # the alarm's state, or why there is none
    serving: str
    errors: list[str] = field(default_factory=list)


def queue_ids(resources: dict[str, str]) -> list[str]:
    """The stack's queues: logical ids naming a queue whose physical id is its URL."""
    return sorted(
        logical_id
        for logical_id, physical in resources.items()
        if logical_id.endswith(("Queue", "DLQ")) and physical.startswith(("http://", "https://"))
    )


def take_frame(
    stack: str,
    region: str,
    resources: dict[str, str],
    clients: Any,
    *,
    recent: int = 10,
    now: datetime | None = None,
) -> Frame:
    """One frame; ``clients`` has .sqs, .dynamodb and .cloudwatch (voxflow.aws.AwsClients)."""
    now = now or datetime.now(UTC)
    errors: list[str] = []
    queues = []
    for logical_id in queue_ids(resources):
        try:
            attributes = clients.sqs.get_queue_attributes(
                QueueUrl=resources[logical_id],
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
        except Exception as error:  # botocore raises per-service error classes
            errors.append(f"{logical_id}: {type(error).__name__}")
            continue
        queues.append(
            QueueDepth(
                logical_id,
                int(attributes.get("ApproximateNumberOfMessages", 0)),
                int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            )
        )
    items = _scan_jobs(resources, clients, errors)
    jobs = sorted(items, key=lambda item: item.get("created_at", {}).get("S", ""), reverse=True)
    completed = [item for item in items if _text(item, "status") == "completed"]
    hits = sum(_text(item, "cache") == "hit" for item in completed)
    health, serving = _health(resources, clients, errors)
    return Frame(
        stack=stack,
        region=region,
        queues=queues,
        recent=[_recent(item, now) for item in jobs[:recent]],
        statuses=dict(Counter(_text(item, "status") for item in items)),
        hit_ratio=hits / len(completed) if completed else None,
        sampled=len(items),
        health=health,
        serving=serving,
        errors=errors,
    )


def _scan_jobs(resources: dict[str, str], clients: Any, errors: list[str]) -> list[dict[str, Any]]:
    table = resources.get(JOBS_TABLE)
    if table is None:
        errors.append("no JobsTable in this stack (a secondary reads the primary's)")
        return []
    try:
        page = clients.dynamodb.scan(
            TableName=table,
            ProjectionExpression=_PROJECTION,
            ExpressionAttributeNames=_NAMES,
            Limit=SCAN_LIMIT,
        )
    except Exception as error:  # botocore raises per-service error classes
        errors.append(f"{JOBS_TABLE}: {type(error).__name__}")
        return []
    items: list[dict[str, Any]] = page.get("Items", [])
    return items


def _text(item: dict[str, Any], name: str) -> str:
    value = item.get(name, {})
    return str(value.get("S", "")) if isinstance(value, dict) else ""


def _recent(item: dict[str, Any], now: datetime) -> RecentJob:
    created = _text(item, "created_at")
    try:
        age_s = (now - datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%f%z")).total_seconds()
    except ValueError:
        age_s = float("nan")
    return RecentJob(
        request_id=_text(item, "request_id"),
        status=_text(item, "status") or "?",
        cache=_text(item, "cache") or "-",
        region=_text(item, "owner_region") or "-",
        age_s=age_s,
    )


def _health(resources: dict[str, str], clients: Any, errors: list[str]) -> tuple[str, str]:
    alarm = resources.get(HEALTH_ALARM)
    if alarm is None:
        return "no health alarm here (standalone or secondary)", "this region"
    try:
        alarms = clients.cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    except Exception as error:  # botocore raises per-service error classes
        errors.append(f"{HEALTH_ALARM}: {type(error).__name__}")
        return "unreachable", "the secondary"
    state = alarms[0]["StateValue"] if alarms else "missing"
    return state, "the primary" if state == "OK" else "the secondary"


def render(frame: Frame, *, taken_at: datetime | None = None) -> str:
    taken = (taken_at or datetime.now(UTC)).strftime("%H:%M:%S")
    lines = [f"voxflow top: stack {frame.stack} in {frame.region}  {taken} UTC", ""]
    lines.append(f"{'queue':<22}{'visible':>9}{'in flight':>11}")
    for queue in frame.queues:
        flag = "  <- dead letters" if queue.dead_letters and queue.visible else ""
        lines.append(f"{queue.name:<22}{queue.visible:>9}{queue.in_flight:>11}{flag}")
    ratio = "n/a" if frame.hit_ratio is None else f"{100 * frame.hit_ratio:.0f}%"
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(frame.statuses.items())) or "none"
    lines += [
        "",
        f"jobs (newest of {frame.sampled} read): {statuses}; cache hit ratio {ratio}",
        f"health alarm: {frame.health}; serving: {frame.serving}",
        "",
        f"{'request id':<38}{'status':<11}{'cache':<7}{'region':<12}{'age':>8}",
    ]
    for job in frame.recent:
        lines.append(
            f"{job.request_id[:37]:<38}{job.status:<11}{job.cache:<7}{job.region:<12}"
            f"{job.age_s:>7.0f}s"
        )
    lines += [f"! {error}" for error in frame.errors]
    return "\n".join(lines)
