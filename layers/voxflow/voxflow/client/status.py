"""``voxflow status``: a request's job record, as the Job model decodes it.

Read with the client's own DynamoDB client, so the region, endpoint, profile and retry
settings are the ones the rest of the client uses (a pynamodb connection of its own
would know no profile); the item is decoded by the model, not by hand: numbers come
back as numbers, lists as lists, the done set as sorted indices.
"""

from typing import Any

from voxflow.store.models import Job


def job_status(dynamodb: Any, table: str, request_id: str) -> dict[str, Any] | None:
    """The job item for ``request_id`` as plain JSON values; None if there is none."""
    item = dynamodb.get_item(
        TableName=table,
        Key={Job.request_id.attr_name: {Job.request_id.attr_type: request_id}},
        ConsistentRead=True,
    ).get("Item")
    if item is None:
        return None
    job = Job.from_raw_data(item)
    record: dict[str, Any] = job.to_simple_dict(force=True)
    # Stored packed (voxflow.store.chunk_keys): shown as the keys they are, not base64.
    record["chunk_keys"] = list(job.chunk_keys or [])
    if "done" in record:
        record["done"] = sorted(record["done"])  # a set: DynamoDB keeps no order
    return record
