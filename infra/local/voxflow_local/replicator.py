"""Cross-region replication between two moto servers, as AWS would do it between regions.

moto has no S3 replication, no global-table replication and no global endpoint, so
this stands in for all three, each in its own thread per direction (on AWS they are
independent mechanisms: a backlog of objects never holds up events or items):

- S3: objects under ``audio/``, ``chunks/`` and ``voices/`` are copied to the peer's bucket
  (found by listing: keys are content hashes, so a key the peer already has is
  never copied again; copies carry the metadata ``voxflow-replica-of``).
- DynamoDB global tables: each table's stream (NEW_AND_OLD_IMAGES) is read and its
  puts and deletes are handed to the peer's moto, which applies each one unless its
  own item was written later (last writer wins, decided there atomically:
  voxflow_local.global_tables). A copy's record in the peer's stream is marked as the
  replicator's and not sent back.
- Events: a rule on each bus taps ``SynthesisRequested`` into a queue; each event is
  put on the peer's bus with a ``resources`` entry marking it as a replica, so it is
  not replicated again (what a global endpoint's event replication does).

Every change is delivered ``lag_s`` after it was seen, in order within its channel.
After an outage the channels' independence matters: the jobs a region took over
(their new owner, their completion) reach the recovered region while the many chunk
objects are still being copied, so its fresh functions leave those jobs alone; and
under load, request events reach the other region while job updates queue.

A peer that does not answer (its moto frozen) keeps its deliveries waiting, in order,
until it answers again; a source that does not answer is read again later. Nothing
here stops the threads but ``stop()``.
"""

import base64
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from voxflow.aws import AwsClients, AwsSettings
from voxflow.events import SOURCE_CLIENT, SOURCE_TENANT_PREFIX
from voxflow.store.audio import missing_key
from voxflow_local import stream_heads
from voxflow_local.global_tables import PATH as REPLICATE_ITEM_PATH
from voxflow_local.global_tables import REPLICA_PRINCIPAL, key_of
from voxflow_local.lifecycle import Lifecycle
from voxflow_local.s3_writes import PATH as WRITE_LOG_PATH

logger = logging.getLogger("voxflow_local.replicator")

REPLICATED_PREFIXES = ("audio/", "chunks/", "voices/")
REPLICA_METADATA = "voxflow-replica-of"  # on object copies: the region they came from
# On replicated events: resources = [EVENT_REPLICA_PREFIX + source region].
EVENT_REPLICA_PREFIX = "arn:aws:voxflow:replicator:"
TAP_NAME = "voxflow-replicator-tap"
# The requests RequestsRule routes: every tenant's.
TAP_PATTERN = {
    "source": [SOURCE_CLIENT, {"prefix": SOURCE_TENANT_PREFIX}],
    "detail-type": ["SynthesisRequested"],
}
DEFAULT_LAG_S = 0.5

# Short timeouts, one attempt: a frozen region must cost a round, not a minute.
_CLIENT_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 1}
)
# Unreachable (timeouts, refused connections): retry later. ClientError: the request
# itself was refused; retrying it unchanged cannot help.
# The write log is read over plain HTTP (urllib): a frozen moto times out there too.
_UNREACHABLE = (BotoCoreError, URLError, TimeoutError, ConnectionError)
# Small pages of stream records: a job's image holds its chunk keys, and a page moto
# cannot serialize within the read timeout is asked for again, forever, while the
# records behind it pile up (seen in the drill: moto at 90 % CPU, plan timing out).
_STREAM_PAGE = 100
_STREAM_PAGES_PER_ROUND = 10
# Events and item writes go only to a peer heard from this recently;
# otherwise a cheap probe goes first, and times out in its place.
_PROBE_AFTER_S = 1.0


@dataclass(frozen=True)
class ReplicaSite:
    """One region's replicated resources; the names of tables are the same in both."""

    region: str
    endpoint_url: str
    bucket: str
    bus_name: str
    tables: tuple[str, ...]


@dataclass
class ReplicationStats:
    objects: int = 0
    items: int = 0
    events: int = 0
    skipped_older: int = 0  # item writes lost to a newer write in the peer (last writer wins)
    refused: int = 0  # deliveries the peer refused (ClientError): logged and dropped


@dataclass
class _Delivery:
    due: float
    what: str
    apply: Callable[[], None]


@dataclass
class _Shared:
    """What both directions read and write, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    listed: dict[str, set[str]] = field(default_factory=dict)  # keys seen per region
    replicas: dict[str, set[str]] = field(default_factory=dict)  # keys we wrote there
    natives: dict[str, set[str]] = field(default_factory=dict)  # keys written there first
    stats: ReplicationStats = field(default_factory=ReplicationStats)


class _Site:
    def __init__(self, site: ReplicaSite) -> None:
        self.site = site
        self.region = site.region
        self.clients = AwsClients(
            AwsSettings.local(site.endpoint_url, site.region), config=_CLIENT_CONFIG
        )
        self.tap_url = ""
        self.streams: dict[str, str] = {}  # table → stream ARN

    def client(self, service: str) -> Any:
        return self.clients.client(service)

    def prepare(self) -> None:
        """The bus tap and the table streams; needs the region to answer."""
        sqs, events = self.client("sqs"), self.client("events")
        self.tap_url = sqs.create_queue(QueueName=TAP_NAME)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.tap_url, AttributeNames=["QueueArn"])
        events.put_rule(
            Name=TAP_NAME, EventBusName=self.site.bus_name, EventPattern=json.dumps(TAP_PATTERN)
        )
        events.put_targets(
            Rule=TAP_NAME,
            EventBusName=self.site.bus_name,
            Targets=[{"Id": "replicator", "Arn": arn["Attributes"]["QueueArn"]}],
        )
        dynamodb = self.client("dynamodb")
        for table in self.site.tables:
            description = dynamodb.describe_table(TableName=table)["Table"]
            if not description.get("StreamSpecification", {}).get("StreamEnabled"):
                # A global table always has its stream; turn it on where the deployment did not.
                logger.warning("%s %s: no stream; enabling NEW_AND_OLD_IMAGES", self.region, table)
                description = dynamodb.update_table(
                    TableName=table,
                    StreamSpecification={
                        "StreamEnabled": True,
                        "StreamViewType": "NEW_AND_OLD_IMAGES",
                    },
                )["TableDescription"]
            self.streams[table] = description["LatestStreamArn"]


@dataclass
class _Channel:
    """One replication mechanism in one direction: read and delivered by its own thread."""

    name: str  # events, items or objects
    read: Callable[[], None]
    # A request sent to a frozen region waits in its backlog and runs when it thaws,
    # after the replicator gave up on it: an event arrives twice, an item write lands
    # late on a newer one. Such channels send only to a peer heard from just now.
    probe_first: bool
    pending: deque[_Delivery] = field(default_factory=deque)
    source_retry_at: float = 0.0
    dest_retry_at: float = 0.0


class _Direction:
    """Reads one region's changes and delivers them to the other, in order per channel."""

    def __init__(
        self, source: _Site, dest: _Site, shared: _Shared, lag_s: float, object_poll_s: float
    ) -> None:
        self.source, self.dest, self.shared = source, dest, shared
        self.lag_s = lag_s
        self.object_poll_s = object_poll_s
        self.events = _Channel("events", self._read_events, probe_first=True)
        self.items = _Channel("items", self._read_streams, probe_first=True)
        # Objects are content-addressed: a late copy is the same copy.
        self.objects = _Channel("objects", self._read_objects_when_due, probe_first=False)
        self._iterators: dict[tuple[str, str], str] = {}  # (table, shard) → iterator
        self._last_listing = 0.0
        self._written_after: int | None = 0  # the source's S3 write log read so far
        # Each table's stream head when this direction last read it to the end (None:
        # the source has no stream-heads path, every table is read every round).
        self._heads_read: dict[str, int] | None = {}
        self._tap_heads = True  # False: the source cannot say whether its tap is empty
        self._dest_answered_at = 0.0

    @property
    def channels(self) -> tuple[_Channel, ...]:
        return (self.events, self.items, self.objects)

    # -- one round of one channel -------------------------------------------------

    def step(self, channel: _Channel) -> None:
        if time.monotonic() >= channel.source_retry_at:
            try:
                channel.read()
            except _UNREACHABLE as error:
                logger.info("%s unreachable (%s); read again later", self.source.region, error)
                channel.source_retry_at = time.monotonic() + 1.0
            except ClientError as error:
                logger.warning("reading %s: %s", self.source.region, error)
                channel.source_retry_at = time.monotonic() + 1.0
        if time.monotonic() >= channel.dest_retry_at:
            self._deliver_due(channel)

    def _deliver_due(self, channel: _Channel) -> None:
        """Delivers what is due, in order, until the peer stops answering."""
        queue = channel.pending
        while queue and queue[0].due <= time.monotonic():
            delivery = queue[0]
            try:
                if channel.probe_first:
                    self._make_sure_dest_answers()
                delivery.apply()
                self._dest_answered_at = time.monotonic()
            except _UNREACHABLE as error:
                logger.info(
                    "%s unreachable (%s); %d %s waiting",
                    self.dest.region,
                    error,
                    len(queue),
                    channel.name,
                )
                channel.dest_retry_at = time.monotonic() + 1.0
                return
            except ClientError as error:
                logger.warning("%s refused %s: %s", self.dest.region, delivery.what, error)
                with self.shared.lock:
                    self.shared.stats.refused += 1
            queue.popleft()

    def _make_sure_dest_answers(self) -> None:
        if time.monotonic() - self._dest_answered_at > _PROBE_AFTER_S:
            self.dest.client("events").describe_event_bus(Name=self.dest.site.bus_name)
            self._dest_answered_at = time.monotonic()

    def __len__(self) -> int:
        return sum(len(channel.pending) for channel in self.channels)

    def _later(self, channel: _Channel, what: str, apply: Callable[[], None]) -> None:
        channel.pending.append(_Delivery(time.monotonic() + self.lag_s, what, apply))

    # -- events -------------------------------------------------------------------

    def _read_events(self) -> None:
        if self._tap_is_empty():
            return
        sqs = self.source.client("sqs")
        for _ in range(10):  # at most 100 events a round, so deliveries keep up
            messages = sqs.receive_message(
                QueueUrl=self.source.tap_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                envelope = json.loads(message["Body"])
                if not any(
                    str(r).startswith(EVENT_REPLICA_PREFIX) for r in envelope.get("resources", [])
                ):
                    self._later(
                        self.events,
                        f"event {envelope.get('id')}",
                        self._event_delivery(envelope),
                    )
            sqs.delete_message_batch(
                QueueUrl=self.source.tap_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(messages)
                ],
            )

    def _event_delivery(self, envelope: dict[str, Any]) -> Callable[[], None]:
        entry: dict[str, Any] = {
            "Source": envelope["source"],
            "DetailType": envelope["detail-type"],
            "Detail": json.dumps(envelope["detail"]),
            "EventBusName": self.dest.site.bus_name,
            "Resources": [f"{EVENT_REPLICA_PREFIX}{self.source.region}"],
        }
        if isinstance(envelope.get("time"), str):
            # The copy keeps the event's time, as the global endpoint's replication does.
            entry["Time"] = datetime.fromisoformat(envelope["time"])

        def deliver() -> None:
            response = self.dest.client("events").put_events(Entries=[entry])
            if response.get("FailedEntryCount"):
                raise ClientError(
                    {"Error": {"Code": "FailedEntry", "Message": str(response["Entries"])}},
                    "PutEvents",
                )
            with self.shared.lock:
                self.shared.stats.events += 1

        return deliver

    # -- table streams ------------------------------------------------------------

    def _read_streams(self) -> None:
        streams = self.source.client("dynamodbstreams")
        heads = self._stream_heads()
        read = self._heads_read if self._heads_read is not None else {}
        for table, arn in self.source.streams.items():
            head = heads.get(table) if heads is not None else None
            if head is not None and head == read.get(table):
                continue  # nothing written since its last read: no GetRecords
            for shard in self._shards(streams, table, arn):
                for _ in range(_STREAM_PAGES_PER_ROUND):
                    iterator = self._iterators[table, shard]
                    response = streams.get_records(ShardIterator=iterator, Limit=_STREAM_PAGE)
                    records = response.get("Records", [])
                    for record in records:
                        self._on_record(table, record)
                    if response.get("NextShardIterator"):
                        self._iterators[table, shard] = response["NextShardIterator"]
                    if len(records) < _STREAM_PAGE:
                        break
            if head is not None:
                read[table] = head

    def _stream_heads(self) -> dict[str, int] | None:
        """Each table's stream head from the source's moto (voxflow_local.stream_heads);
        None where it has none (plain moto): then every table is read each round."""
        if self._heads_read is None:
            return None
        answer = self._heads()
        if answer is None:
            self._heads_read = None
            return None
        return {str(table): int(head) for table, head in answer["tables"].items()}

    def _tap_is_empty(self) -> bool:
        """True when the source's moto says its bus tap holds nothing to read (False when
        it cannot say: plain moto)."""
        if not self._tap_heads:
            return False
        answer = self._heads((TAP_NAME,))
        if answer is None:
            self._tap_heads = False
            return False
        return int(answer["queues"].get(TAP_NAME, 1)) == 0

    def _heads(self, queues: tuple[str, ...] = ()) -> dict[str, Any] | None:
        site = self.source.site
        try:
            with urlopen(
                stream_heads.url(site.endpoint_url, site.region, queues), timeout=5
            ) as answer:
                return dict(json.load(answer))
        except HTTPError as error:
            if error.code != 404:
                raise
            return None

    def _shards(self, streams: Any, table: str, arn: str) -> list[str]:
        known = [shard for (name, shard) in self._iterators if name == table]
        if known:
            return known
        description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
        for shard in description["Shards"]:
            self._iterators[table, shard["ShardId"]] = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        return [shard["ShardId"] for shard in description["Shards"]]

    def _on_record(self, table: str, record: dict[str, Any]) -> None:
        if record.get("userIdentity", {}).get("PrincipalId") == REPLICA_PRINCIPAL:
            return  # a copy this replicator wrote there: not a write of the service
        change = record["dynamodb"]
        image = change.get("NewImage") if record["eventName"] != "REMOVE" else None
        self._later(
            self.items,
            f"{record['eventName']} {table} {key_of(change['Keys'])}",
            self._item_delivery(
                table,
                change["Keys"],
                image,
                _as_datetime(change.get("ApproximateCreationDateTime")),
            ),
        )

    def _item_delivery(
        self,
        table: str,
        keys: dict[str, Any],
        image: dict[str, Any] | None,
        written_at: datetime,
    ) -> Callable[[], None]:
        """Hands the copy to the peer's moto, which applies it only if no newer write of
        the item is there (voxflow_local.global_tables): last writer wins, decided
        atomically where the item is, as a global table's replica decides it."""
        site = self.dest.site
        body = json.dumps(
            {
                "region": site.region,
                "table": table,
                "keys": keys,
                "image": image,
                "written_at": written_at.timestamp(),
            },
            default=_json_bytes,
        ).encode()

        def deliver() -> None:
            request = Request(
                f"{site.endpoint_url}{REPLICATE_ITEM_PATH}",
                data=body,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urlopen(request, timeout=_CLIENT_CONFIG.read_timeout) as answer:
                    applied = bool(json.load(answer)["applied"])
            except HTTPError as error:  # refused, not unreachable: logged and dropped
                raise ClientError(
                    {"Error": {"Code": str(error.code), "Message": error.read().decode()}},
                    "ReplicateItem",
                ) from error
            with self.shared.lock:
                if applied:
                    self.shared.stats.items += 1
                else:
                    self.shared.stats.skipped_older += 1
            if not applied:
                logger.info("%s: %s is newer in %s; not applied", table, keys, site.region)

        return deliver

    # -- objects ------------------------------------------------------------------

    def _read_objects_when_due(self) -> None:
        # A listing reads every key: once per object_poll_s, not every round.
        now = time.monotonic()
        if now - self._last_listing >= self.object_poll_s:
            self._read_objects()
            self._last_listing = now

    def _read_objects(self) -> None:
        region = self.source.region
        keys = self._new_keys()
        with self.shared.lock:
            listed = self.shared.listed.setdefault(region, set())
            fresh = keys - listed
            listed |= fresh
            replicas = self.shared.replicas.setdefault(region, set())
            natives = fresh - replicas
            self.shared.natives.setdefault(region, set()).update(natives)
        for key in sorted(natives):
            self._later(self.objects, f"object {key}", self._object_delivery(key))

    def _new_keys(self) -> set[str]:
        """Keys stored in the source bucket since the last read, from its moto's write
        log (voxflow_local.s3_writes); a whole listing where there is none (plain moto)."""
        site = self.source.site
        if self._written_after is not None:
            query = urlencode({"bucket": site.bucket, "after": self._written_after})
            try:
                with urlopen(f"{site.endpoint_url}{WRITE_LOG_PATH}?{query}", timeout=5) as answer:
                    log = json.load(answer)
            except HTTPError as error:
                if error.code != 404:
                    raise
                self._written_after = None
            else:
                self._written_after = int(log["next"])
                return {key for key in log["keys"] if key.startswith(REPLICATED_PREFIXES)}
        return set(_list_keys(self.source.client("s3"), site.bucket))

    def _object_delivery(self, key: str) -> Callable[[], None]:
        region = self.dest.region

        def deliver() -> None:
            with self.shared.lock:
                if key in self.shared.listed.get(region, set()):
                    return  # content-addressed: the peer has the same object already
            s3 = self.dest.client("s3")
            if _exists(s3, self.dest.site.bucket, key):
                return
            with self.shared.lock:
                self.shared.replicas.setdefault(region, set()).add(key)
            original = self.source.client("s3").get_object(Bucket=self.source.site.bucket, Key=key)
            s3.put_object(
                Bucket=self.dest.site.bucket,
                Key=key,
                Body=original["Body"].read(),
                ContentType=original.get("ContentType", "application/octet-stream"),
                Metadata={**original.get("Metadata", {}), REPLICA_METADATA: self.source.region},
            )
            with self.shared.lock:
                self.shared.stats.objects += 1

        return deliver


class Replicator(Lifecycle):
    """Replicates between two sites until stopped; a context manager."""

    def __init__(
        self,
        first: ReplicaSite,
        second: ReplicaSite,
        *,
        lag_s: float = DEFAULT_LAG_S,
        poll_s: float = 0.1,
        object_poll_s: float = 0.5,
    ) -> None:
        self.lag_s = lag_s
        self.poll_s = poll_s
        self._sites = (_Site(first), _Site(second))
        self._shared = _Shared()
        a, b = self._sites
        self._directions = (
            _Direction(a, b, self._shared, lag_s, object_poll_s),
            _Direction(b, a, self._shared, lag_s, object_poll_s),
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Self:
        for site in self._sites:
            site.prepare()
        self._stop.clear()
        for direction in self._directions:
            for channel in direction.channels:
                name = (
                    f"replicator-{direction.source.region}-to-{direction.dest.region}-"
                    f"{channel.name}"
                )
                thread = threading.Thread(
                    target=self._run, args=(direction, channel), name=name, daemon=True
                )
                thread.start()
                self._threads.append(thread)
        return self

    def _run(self, direction: _Direction, channel: _Channel) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                direction.step(channel)
            except Exception:  # the replicator must outlive anything a round runs into
                logger.exception("replication round failed; going on")
            self._stop.wait(max(0.0, self.poll_s - (time.monotonic() - started)))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            # A round waits at most a client timeout (2 s) per call it is in.
            thread.join(timeout=10.0)
        self._threads = []

    @property
    def stats(self) -> ReplicationStats:
        with self._shared.lock:
            return ReplicationStats(**vars(self._shared.stats))

    def backlog(self) -> dict[str, int]:
        """Deliveries waiting, by destination region."""
        return {d.dest.region: len(d) for d in self._directions}

    def backlog_by_kind(self) -> dict[str, dict[str, int]]:
        """Deliveries waiting, by destination region and channel."""
        return {
            d.dest.region: {channel.name: len(channel.pending) for channel in d.channels}
            for d in self._directions
        }

    def native_objects(self, region: str, prefix: str = "") -> set[str]:
        """Keys under ``prefix`` written in ``region`` by the service, not copied there."""
        with self._shared.lock:
            return {k for k in self._shared.natives.get(region, set()) if k.startswith(prefix)}

    def wait_idle(
        self,
        timeout_s: float,
        region: str | None = None,
        channels: tuple[str, ...] = ("events", "items", "objects"),
    ) -> bool:
        """True once nothing waits for delivery in ``channels`` (to ``region`` only, if
        given), after at least one more round."""
        deadline = time.monotonic() + timeout_s
        time.sleep(2 * self.poll_s + self.lag_s)
        while time.monotonic() < deadline:
            waiting = [
                count
                for dest, by_channel in self.backlog_by_kind().items()
                if region is None or dest == region
                for name, count in by_channel.items()
                if name in channels
            ]
            if not any(waiting):
                return True
            time.sleep(self.poll_s)
        return False


def _list_keys(s3: Any, bucket: str) -> Iterable[str]:
    for prefix in REPLICATED_PREFIXES:
        token: str | None = None
        while True:
            page = s3.list_objects_v2(
                Bucket=bucket, Prefix=prefix, **({"ContinuationToken": token} if token else {})
            )
            yield from (item["Key"] for item in page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not token:
                break


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if missing_key(error):
            return False
        raise
    return True


def _json_bytes(value: object) -> str:
    """Binary attribute values travel base64-encoded, as in DynamoDB's own JSON."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _as_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value).astimezone()
    return datetime.now().astimezone()
