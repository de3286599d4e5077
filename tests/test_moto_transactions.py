"""voxflow_local.moto_transactions: moto's TransactWriteItems keeping only the items a
transaction names for its rollback, with the same outcomes (in-process moto backend)."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from voxflow_local import moto_transactions


@pytest.fixture
def table() -> object:
    with mock_aws():
        moto_transactions.install()
        client = boto3.client("dynamodb", region_name="us-east-1")
        for name in ("jobs", "quotas"):
            client.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        for n in range(50):
            client.put_item(TableName="jobs", Item={"id": {"S": f"old-{n}"}, "v": {"N": "1"}})
        client.put_item(TableName="quotas", Item={"id": {"S": "acme"}, "version": {"N": "1"}})
        yield client


def put_new(job: str, version: str) -> list[dict[str, object]]:
    return [
        {
            "Put": {
                "TableName": "jobs",
                "Item": {"id": {"S": job}, "v": {"N": "2"}},
                "ConditionExpression": "attribute_not_exists(id)",
            }
        },
        {
            "Update": {
                "TableName": "quotas",
                "Key": {"id": {"S": "acme"}},
                "UpdateExpression": "SET version = :next",
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": {"N": version}, ":next": {"N": "2"}},
            }
        },
    ]


def item(client: object, name: str, key: str) -> dict[str, object] | None:
    found = client.get_item(TableName=name, Key={"id": {"S": key}})  # type: ignore[attr-defined]
    return dict(found["Item"]) if "Item" in found else None


def test_a_transaction_writes_all_its_items(table: object) -> None:
    table.transact_write_items(TransactItems=put_new("new", "1"))  # type: ignore[attr-defined]
    assert item(table, "jobs", "new") == {"id": {"S": "new"}, "v": {"N": "2"}}
    assert item(table, "quotas", "acme") == {"id": {"S": "acme"}, "version": {"N": "2"}}


def test_a_cancelled_transaction_leaves_every_table_as_it_was(table: object) -> None:
    with pytest.raises(ClientError) as cancelled:
        # The job's put passes and is applied by moto before the quota's condition fails.
        table.transact_write_items(TransactItems=put_new("new", "7"))  # type: ignore[attr-defined]
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert item(table, "jobs", "new") is None
    assert item(table, "quotas", "acme") == {"id": {"S": "acme"}, "version": {"N": "1"}}
    assert item(table, "jobs", "old-3") == {"id": {"S": "old-3"}, "v": {"N": "1"}}
    scanned = table.scan(TableName="jobs")["Items"]  # type: ignore[attr-defined]
    assert len(scanned) == 50


def test_an_existing_item_changed_then_cancelled_is_put_back(table: object) -> None:
    items = put_new("old-4", "1")  # the job exists: its put's condition fails
    items[0]["Put"]["ConditionExpression"] = "attribute_exists(id)"  # type: ignore[index]
    items[1]["Update"]["ExpressionAttributeValues"][":read"] = {"N": "9"}  # type: ignore[index]
    with pytest.raises(ClientError):
        table.transact_write_items(TransactItems=items)  # type: ignore[attr-defined]
    assert item(table, "jobs", "old-4") == {"id": {"S": "old-4"}, "v": {"N": "1"}}
