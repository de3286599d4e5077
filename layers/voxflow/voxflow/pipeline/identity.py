"""Request identity: which job a message belongs to, and when a reused id is a conflict.

A request id belongs to the tenant that used it first, with the content it came with.
The same tenant, id and content again is a duplicate (answered with the job's result);
anything else under that id is a conflict, answered on its own and kept apart from the
owner's job (docs/pipeline.md, "Request identity").
"""

import hashlib
import json

from voxflow.events import ItemRequest
from voxflow.store import Job

REQUEST_ID_CONFLICT = "REQUEST_ID_CONFLICT"
# Not a character of request ids (events.models.RequestId): a derived key can never be
# a request's own.
_DERIVED = "#"


def _digest(document: dict[str, object]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def item_fingerprint(item: ItemRequest) -> str:
    """Everything the caller asked for but where the answer goes and the request id."""
    document: dict[str, object] = {
        "kind": "item",
        "tenant": item.tenant,
        "text": item.text,
        "voice": item.voice,
        "format": item.format.value,
        "params": item.params.model_dump(mode="json"),
        "metadata": item.metadata,
        "batch_id": item.batch_id,
    }
    if item.sample_rate is not None:
        # Only when asked for: requests without a rate keep the fingerprint they had.
        document["sample_rate"] = item.sample_rate
    if item.text_type != "text":  # plain requests keep the fingerprints they had
        document["text_type"] = item.text_type
    if item.lexicons:
        # Only when named, so the fingerprints of requests without lexicons stay.
        document["lexicons"] = item.lexicons
    if item.speech_marks:
        # Only when asked for: fingerprints of requests without marks stay as they were.
        document["speech_marks"] = list(item.speech_marks)
    return _digest(document)


def rejection_fingerprint(tenant: str, code: str, message: str) -> str:
    """A request refused before it became an item: the same body refuses the same way."""
    return _digest({"kind": "rejected", "tenant": tenant, "code": code, "message": message})


def conflicts(existing: Job, incoming: Job) -> bool:
    """True when ``incoming`` reuses ``existing``'s request id for something else."""
    if existing.tenant != incoming.tenant:
        return True
    if existing.fingerprint is None or incoming.fingerprint is None:
        # A job from before fingerprints, or a failure with nothing to compare: the
        # request key is what shapes the answer.
        return bool(existing.key and incoming.key and existing.key != incoming.key)
    return bool(existing.fingerprint != incoming.fingerprint)


def conflict_job_id(request_id: str, fingerprint: str | None) -> str:
    """Where the answer to a conflicting request is kept: one per id and content, so its
    redeliveries are recognized as such and answered once."""
    return f"{request_id}{_DERIVED}conflict{_DERIVED}{(fingerprint or 'none')[:32]}"


def copy_job_id(request_id: str, target: str) -> str:
    """Where a finished request's result is copied to one more reply target: once per
    target, however many duplicates name it."""
    digest = hashlib.sha256(target.encode()).hexdigest()[:32]
    return f"{request_id}{_DERIVED}copy{_DERIVED}{digest}"


def is_derived(job_id: str) -> bool:
    return _DERIVED in job_id
