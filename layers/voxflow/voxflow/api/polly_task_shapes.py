"""The shapes of Polly's task routes (voxflow.api.polly_tasks): SynthesisTask as shown,
its status read from the task's job, and ListSpeechSynthesisTasks' MaxResults and
NextToken (the task table's index key, opaque to the caller, checked on the way back)."""

import base64
import binascii
import json
from typing import Any

from voxflow.api.polly import PollyError, invalid
from voxflow.store.jobs import COMPLETED, FAILED, PENDING
from voxflow.store.models import Job
from voxflow.store.tasks import StoredTask


def document(task: StoredTask, job: Job | None) -> dict[str, Any]:
    """SynthesisTask as Polly shows it: the start's fields and the job's status."""
    status, reason = task_status(job)
    return {
        "TaskId": task.task_id,
        "TaskStatus": status,
        **({"TaskStatusReason": reason} if reason else {}),
        "CreationTime": task.created.timestamp(),  # rest-json: epoch seconds
        **task.fields,
    }


def task_status(job: Job | None) -> tuple[str, str | None]:
    """Polly's TaskStatus (and TaskStatusReason) of a task's job: none yet is scheduled
    (the request is on its way to plan)."""
    if job is None:
        return "scheduled", None
    if job.status == PENDING:
        return "inProgress", None
    result = json.loads(job.result_json or "{}")
    if job.status == COMPLETED and not result.get("degraded"):
        return "completed", None
    if job.status == COMPLETED:
        return "failed", "synthesis was impossible: only the service's fallback clip was made"
    assert job.status == FAILED
    return "failed", f"{result.get('code', 'INTERNAL')}: {result.get('message', '')}"


def max_results(raw: str | None, most: int) -> int:
    if raw is None:
        return most
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise invalid("maxResults", f"Member must be between 1 and {most}")
    return int(raw)


def next_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def start_key(token: str | None, tenant: str) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, UnicodeError, ValueError):
        key = None
    names = {"task_id", "tenant", "created"}
    if (
        not isinstance(key, dict)
        or set(key) != names
        or not all(
            isinstance(key[name], dict) and isinstance(key[name].get("S"), str) for name in names
        )
        or key["tenant"]["S"] != tenant
    ):
        raise PollyError("InvalidNextTokenException", "the NextToken is not one this API gave")
    return key
