"""moto's hottest paths without work that gives the same answer every time.

On the local stack one moto process stands in for all of a region's services, and every
call of every function waits behind it: in a failover drill the secondary's moto was the
busiest process on the machine, 80 CPU s over 17,000 calls (issue 17). Measured
in-process with werkzeug's test client (one moto, the local stack's middlewares):

- ``moto.backends.list_of_moto_modules`` lists moto's package directory and stats each
  entry (~180 ``stat`` calls) to route every request to a backend, and
  ``moto.core.responses.method_names_from_class`` walks the response class's members
  with ``inspect.getmembers`` to find the action's method: 1.4 of the 2.1 ms of CPU
  that the cheapest call (SQS GetQueueUrl) took. Both are computed once (the second
  once per class).
- SQS asks each message of a queue whether it is visible and not delayed, through
  ``unix_time_millis``, which builds two ``datetime`` objects per call. A SendMessage
  computes the queue's attributes, three such scans, and a ReceiveMessage scans the
  queue: both cost time in proportion to the messages waiting, ~10 µs each, and a
  failover's backlog holds hundreds. ``time.time()`` gives the same number.
  Those attributes are built with three scans of the queue and a snake-case conversion
  per name, and a ReceiveMessage builds them three times for each message it returns to
  read the retention period: one scan, names converted once, the period read directly.
  A send, receive and delete against a queue with 500 parked messages: 13.9 → 8.8 ms
  of CPU (in-process, both sides).
- moto's JSON responses are built member by member from the service model: for each
  DynamoDB ``AttributeValue`` it asks the value for all ten of its members, each through
  an alias lookup. A job item's chunk keys and texts made an UpdateItem 9 ms and a
  stream page 31-38 ms. moto's items are already in DynamoDB's JSON, so each
  ``AttributeValue`` is copied as it is (binary values base64-encoded, as the model's
  serializer encodes them); anything else takes moto's own path.

- EventBridge builds each target's input from its event with ``jsonpath_ng``'s
  ``parse`` (eight paths of the default template), which makes a new parser each call
  (ply's yacc): 4-5 % of the drill secondary's moto samples (py-spy). A path is parsed
  once; its parsed form only reads the event.
- a full garbage collection walks every object moto holds (its models, every item
  and message): ``no_full_collections`` leaves the young ones only.
- werkzeug writes a line per request to moto.log, through ``logging`` and colorama:
  8 % of moto's samples under load (py-spy). ``quiet_request_handler`` drops that line;
  errors are still logged, and the call tally (voxflow_local.call_tally) counts every
  call by operation.

moto's answers are unchanged; only the CPU per call changes. On AWS nothing like this
exists: each service answers for itself, whatever the other services' load.
``VOXFLOW_MOTO_HOT_PATHS=0`` leaves moto as it is (benchmarks/moto_calls.py's baseline).
"""

import functools
import gc
import json
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

HOT_PATHS_ENV = "VOXFLOW_MOTO_HOT_PATHS"


def enabled() -> bool:
    """False where ``HOT_PATHS_ENV`` is "0" (moto as it is: a benchmark's baseline)."""
    return os.environ.get(HOT_PATHS_ENV, "1") != "0"


def install() -> None:
    """Patch this process's moto (the local moto server's)."""
    from moto import backends
    from moto.core import responses
    from moto.sqs import models as sqs_models

    if getattr(backends.list_of_moto_modules, "voxflow_cached", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> Iterable[str]:
        return modules

    list_of_moto_modules.voxflow_cached = True  # type: ignore[attr-defined]
    setattr(backends, "list_of_moto_modules", list_of_moto_modules)  # noqa: B010
    # moto exports none of these names: they are read and set as attributes.
    names_of = functools.cache(getattr(responses, "method_names_from_class"))  # noqa: B009
    setattr(responses, "method_names_from_class", names_of)  # noqa: B010

    slow_seconds = getattr(sqs_models, "unix_time")  # noqa: B009
    slow_millis = getattr(sqs_models, "unix_time_millis")  # noqa: B009

    def unix_time(dt: datetime | None = None) -> float:
        return time.time() if dt is None else slow_seconds(dt)

    def unix_time_millis(dt: datetime | None = None) -> float:
        return time.time() * 1000.0 if dt is None else slow_millis(dt)

    setattr(sqs_models, "unix_time", unix_time)  # noqa: B010
    setattr(sqs_models, "unix_time_millis", unix_time_millis)  # noqa: B010
    _queue_attributes_in_one_scan(sqs_models)
    _copy_attribute_values()
    _parse_json_paths_once()


def _queue_attributes_in_one_scan(sqs_models: Any) -> None:
    # Queue.attributes scans the queue's messages three times (its approximate counts) and
    # converts each attribute's name to snake case: SendMessage asks for it once, and a
    # ReceiveMessage three times for every message it returns, to read one number (the
    # retention period). Here the names are converted once, the counts come from one scan,
    # and the retention check reads its number.
    queue_class, backend_class = sqs_models.Queue, sqs_models.SQSBackend
    snake = functools.cache(sqs_models.camelcase_to_underscores)
    counted = (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
    )

    def attributes(self: Any) -> dict[str, Any]:
        ready = delayed = not_visible = 0
        for message in self._messages:
            is_delayed, is_visible = message.delayed, message.visible
            delayed += is_delayed
            not_visible += not is_visible
            ready += is_visible and not is_delayed
        counts = dict(zip(counted, (ready, delayed, not_visible), strict=True))
        names = list(self.BASE_ATTRIBUTES)
        if self.fifo_queue:
            names += self.FIFO_ATTRIBUTES
        if self.kms_master_key_id:
            names += self.KMS_ATTRIBUTES
        result = {
            name: counts[name] if name in counts else getattr(self, snake(name)) for name in names
        }
        if self.policy:
            result["Policy"] = self.policy
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy)
        return {
            name: str(value).lower() if isinstance(value, bool) else value
            for name, value in result.items()
        }

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        period = self.get_queue(queue_name).message_retention_period
        return bool(period + message.sent_timestamp / 1000 > sqs_models.unix_time())

    setattr(queue_class, "attributes", property(attributes))  # noqa: B010
    setattr(backend_class, "is_message_valid_based_on_retention_period", retained)  # noqa: B010


def _parse_json_paths_once() -> None:
    # moto's EventBridge builds every target's input (its default template's eight paths)
    # with jsonpath_ng.ext.parse, which makes a new ply parser each call: imported inside
    # moto's function, so the module's attribute is what it calls.
    from jsonpath_ng import ext

    parse = getattr(ext, "parse")  # noqa: B009
    setattr(ext, "parse", functools.lru_cache(maxsize=256)(parse))  # noqa: B010


def _copy_attribute_values() -> None:
    from moto.core.serialize import BaseJSONSerializer

    by_the_model = BaseJSONSerializer._serialize_type_structure

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and type(value) is dict:
            copied = _attribute_value(value, self._base64)
            if copied is not None:
                self._default_serialize(serialized, copied, shape, key)
                return
        by_the_model(self, serialized, value, shape, key)

    setattr(BaseJSONSerializer, "_serialize_type_structure", serialize_structure)  # noqa: B010


def _attribute_value(value: Any, base64: Callable[[Any], str]) -> Any:
    """An AttributeValue as DynamoDB's JSON; None where it holds something else."""
    if type(value) is not dict:
        return None
    copied: dict[str, Any] = {}
    for kind, inner in value.items():
        if inner is None:
            continue
        if kind in ("S", "N"):
            copied[kind] = inner if type(inner) is str else str(inner)
        elif kind in ("BOOL", "NULL"):
            copied[kind] = inner
        elif kind in ("SS", "NS"):
            copied[kind] = [item if type(item) is str else str(item) for item in inner]
        elif kind == "B":
            copied[kind] = base64(inner)
        elif kind == "BS":
            copied[kind] = [base64(item) for item in inner]
        elif kind in ("L", "M"):
            copied[kind] = _container(kind, inner, base64)
            if copied[kind] is None:
                return None
        else:
            return None
    return copied


def _container(kind: str, inner: Any, base64: Callable[[Any], str]) -> Any:
    """A list's or a map's AttributeValues, copied; None if one of them is not one."""
    if kind == "L":
        items = [_attribute_value(item, base64) for item in inner]
        return None if any(item is None for item in items) else items
    members = {name: _attribute_value(item, base64) for name, item in inner.items()}
    return None if any(item is None for item in members.values()) else members


def quiet_request_handler[H](handler: type[H]) -> type[H]:
    """``handler`` without werkzeug's access-log line per request."""

    def log_request(self: Any, code: int | str = "-", size: int | str = "-") -> None:
        del self, code, size

    return type(f"Quiet{handler.__name__}", (handler,), {"log_request": log_request})


# Collections of the youngest two generations as Python runs them; a full one only after
# this many of the second (never, in practice).
_FULL_COLLECTION_AFTER = 1_000_000


def no_full_collections() -> None:
    """Free cyclic garbage young, and never pause the server for a full collection.

    A full collection walks every object moto holds: its models, every item, message
    and datapoint a run has stored. In a pipeline run they paused the server for
    74-178 ms (a ``gc`` callback's timings), every request waiting behind them. moto's
    cyclic garbage is each request's own (werkzeug's and Flask's request objects,
    closures) and dies in the young generations, which are still collected as usual;
    what outlives them stays until the process ends, minutes to hours here."""
    gc.collect()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, _FULL_COLLECTION_AFTER)
