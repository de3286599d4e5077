"""Reply targets: where a request may have its results sent, checked as it is parsed.

The functions send results to a request's ``reply_to`` with the service's own role, so
a target is held to what that role may reach on AWS (IAM: the reply prefixes, this
account, this region) and is never one of the stack's own queues or its bus: a request
naming ChunksQueue would feed it envelopes that dead-letter as malformed chunk tasks,
one naming the service's bus would double every event. A refused target fails the
request INVALID_REQUEST before any job is made, answered on the service's bus only
(docs/pipeline.md, "Reply targets").
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlsplit

from voxflow.errors import SettingsError
from voxflow.events import InvalidRequest, ParsedBatch, ReplyTo
from voxflow.regions import RegionConfig
from voxflow.service_settings import ServiceSettings

# sqs.REGION.amazonaws.com (and .com.cn), or the legacy REGION.queue.amazonaws.com
AWS_QUEUE_HOST = re.compile(r"^(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?$")
_BUS_ARN = re.compile(r"^arn:[a-z-]+:events:([a-z0-9-]+):([0-9]+):event-bus/(.+)$")
_TOPIC_ARN = re.compile(r"^arn:[a-z-]+:sns:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_-]+)$")
# A standard queue's name: a FIFO queue (.fifo) would refuse sends without a group id.
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# A custom bus's name: partner buses (with a slash) take no PutEvents.
_BUS_NAME = re.compile(r"^[A-Za-z0-9._-]{1,256}$")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_QUEUE_URL_SHAPE = "not an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"


def aws_queue_region(host: str) -> str | None:
    """The region an SQS endpoint's host names; None for a host that is not SQS's."""
    named = AWS_QUEUE_HOST.match(host)
    return (named.group(1) or named.group(2)) if named else None


def reply_bus_here(event_bus: str, region: str) -> str:
    """Reply buses are regional, as reply queues are: with two regions, an ARN of the
    other region names the bus of the same name in this one."""
    arn = _BUS_ARN.match(event_bus)
    return arn.group(3) if arn and arn.group(1) != region else event_bus


def queue_account_and_name(queue_url: str) -> tuple[str, str] | None:
    """The account and name a queue URL's path gives; None for another shape."""
    path = urlsplit(queue_url).path.strip("/").split("/")
    return (path[0], path[1]) if len(path) == 2 else None


def answered_here_as(
    reply_to: ReplyTo, region: str
) -> tuple[tuple[str, str] | str | None, str | None]:
    """Where a region of a two-region deployment sends a target's replies: the queue by
    its account and name (ReplyQueues sends to the queue of that name here, whichever
    region's URL was named) and the bus as reply_bus_here names it. Two targets with the
    same identity are one target: a client's request that reached both regions, each
    copy naming its own region's queue, is answered there once, not once per copy."""
    queue: tuple[str, str] | str | None = None
    if reply_to.queue_url is not None:
        queue = queue_account_and_name(reply_to.queue_url) or reply_to.queue_url
    bus = reply_bus_here(reply_to.event_bus, region) if reply_to.event_bus else None
    return queue, bus


class InvalidReplyTarget(InvalidRequest):
    """``reply_to`` names a target the rules refuse. Code INVALID_REQUEST; the message
    names the rule broken, never the target."""


@dataclass(frozen=True)
class ReplyTargetRules:
    queue_prefix: str
    bus_prefix: str
    account: str  # the stack's own
    # This region, and the other one of a two-region deployment: a region answers on
    # the queue of the same name here (ReplyQueues), so both regions accept both.
    regions: frozenset[str]
    own_queues: frozenset[str]  # names
    own_bus: str
    # The local stack: the host of the stack's own queues. Each local region is a moto
    # server on this machine, so a URL on this host (any port, any loopback name)
    # stands for a queue of one of them. None on AWS, where the host names the region.
    local_host: str | None = None
    # Polly's synthesis tasks: the buckets written to and the topics told (IAM's prefixes).
    bucket_prefix: str = "voxflow-output-"
    topic_prefix: str = "voxflow-replies-"

    @classmethod
    def from_settings(cls, service: ServiceSettings, region: RegionConfig) -> Self:
        """The rules of this deployment; the account is the one the stack's queues are in."""
        own_urls = [
            url
            for url in (
                service.chunks_queue_url,
                service.long_chunks_queue_url,
                service.recovery_chunks_queue_url,
                region.requests_queue_url,
                region.standby_queue_url,
            )
            if url
        ]
        parts = urlsplit(service.chunks_queue_url)
        path = parts.path.strip("/").split("/")
        if len(path) != 2 or not parts.hostname:
            raise SettingsError("VOXFLOW_CHUNKS_QUEUE_URL is not an SQS queue URL")
        return cls(
            queue_prefix=service.reply_queue_prefix,
            bus_prefix=service.reply_bus_prefix,
            account=path[0],
            regions=frozenset(
                (region.region, region.other_region) if region.regional else (region.region,)
            ),
            own_queues=service.own_queues
            | {url.rstrip("/").rsplit("/", 1)[-1] for url in own_urls},
            own_bus=_bus_name(service.bus_name),
            local_host=None if aws_queue_region(parts.hostname) else parts.hostname,
            bucket_prefix=service.output_bucket_prefix,
            topic_prefix=service.reply_topic_prefix,
        )

    def refusal(self, reply_to: ReplyTo) -> str | None:
        """The rule ``reply_to`` breaks, as a message; None if it may be used."""
        if reply_to.queue_url is not None:
            broken = self._queue_refusal(reply_to.queue_url)
            if broken is not None:
                return f"reply_to.queue_url: {broken}"
        if reply_to.event_bus is not None:
            broken = self._bus_refusal(reply_to.event_bus)
            if broken is not None:
                return f"reply_to.event_bus: {broken}"
        if reply_to.s3 is not None and not reply_to.s3.bucket.startswith(self.bucket_prefix):
            return f"reply_to.s3.bucket: the bucket's name must start with {self.bucket_prefix!r}"
        if reply_to.sns_topic_arn is not None:
            broken = self.topic_refusal(reply_to.sns_topic_arn)
            if broken is not None:
                return f"reply_to.sns_topic_arn: {broken}"
        return None

    def topic_refusal(self, topic_arn: str) -> str | None:
        arn = _TOPIC_ARN.match(topic_arn)
        if arn is None:
            return "not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME; FIFO topics are refused)"
        region, account, name = arn.groups()
        if region not in self.regions:
            return f"the topic must be in {' or '.join(sorted(self.regions))}"
        if account != self.account:
            return "the topic must be in the service's own account"
        if not name.startswith(self.topic_prefix):
            return f"the topic's name must start with {self.topic_prefix!r}"
        return None

    def _queue_refusal(self, url: str) -> str | None:
        parts = urlsplit(url)
        named = queue_account_and_name(url)
        host = parts.hostname
        if host is None or named is None or parts.query or parts.fragment or parts.username:
            return _QUEUE_URL_SHAPE
        region = aws_queue_region(host)
        if region is None:
            if not self._is_local(host):
                return _QUEUE_URL_SHAPE
        elif parts.scheme != "https":
            return "SQS queue URLs are https"
        elif region not in self.regions:
            return f"the queue must be in {' or '.join(sorted(self.regions))}"
        account, name = named
        if account != self.account:
            return "the queue must be in the service's own account"
        if not _QUEUE_NAME.match(name):
            return "not a standard queue's name (1-80 of A-Z a-z 0-9 - _; FIFO queues are refused)"
        if name in self.own_queues:
            return "the service's own queues are not reply targets"
        if not name.startswith(self.queue_prefix):
            return f"the queue's name must start with {self.queue_prefix!r}"
        return None

    def _bus_refusal(self, event_bus: str) -> str | None:
        arn = _BUS_ARN.match(event_bus)
        if arn is not None:
            region, account, name = arn.groups()
            if region not in self.regions:
                return f"the bus must be in {' or '.join(sorted(self.regions))}"
            if account != self.account:
                return "the bus must be in the service's own account"
        elif event_bus.startswith("arn:"):
            return "not an event bus name or ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME)"
        else:
            name = event_bus
        if not _BUS_NAME.match(name):
            return "not a custom event bus's name (1-256 of A-Z a-z 0-9 . - _)"
        if name == self.own_bus:
            return "the service's own bus is not a reply target"
        if not name.startswith(self.bus_prefix):
            return f"the bus's name must start with {self.bus_prefix!r}"
        return None

    def _is_local(self, host: str) -> bool:
        if self.local_host is None:
            return False
        return host == self.local_host or {host, self.local_host} <= _LOOPBACK


def parse_checked(parse: Callable[[], ParsedBatch], rules: ReplyTargetRules | None) -> ParsedBatch:
    """``parse()`` (a request parser, such as ``parse_request_items``), with the reply
    target checked (``rules`` None: unchecked).

    A request whose target the rules refuse fails whole, as InvalidReplyTarget without
    a target, so that its SynthesisFailed goes to the service's bus only. Failures that
    are answered anyway (an invalid body, a batch with no valid item) lose a refused
    target the same way and keep their own code."""
    try:
        parsed = parse()
    except InvalidRequest as error:
        if _refused(error.reply_to, rules):
            error.reply_to = None
        raise
    request = parsed.request
    if request is None:
        for rejected in parsed.rejected:
            if _refused(rejected.reply_to, rules):
                rejected.reply_to = None
        return parsed
    broken = rules.refusal(request.reply_to) if rules and request.reply_to else None
    if broken is None:
        return parsed
    raise InvalidReplyTarget(
        broken, request_id=request.request_id, tenant=request.tenant, metadata=request.metadata
    )


def _refused(reply_to: ReplyTo | None, rules: ReplyTargetRules | None) -> bool:
    return rules is not None and reply_to is not None and rules.refusal(reply_to) is not None


def _bus_name(event_bus: str) -> str:
    arn = _BUS_ARN.match(event_bus)
    return arn.group(3) if arn else event_bus
