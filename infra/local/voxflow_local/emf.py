"""CloudWatch Logs' embedded metric format (EMF) extraction, locally.

On AWS a function's EMF lines (powertools' Metrics prints one document per flush) reach
CloudWatch Logs, which turns each into metric datapoints. The local stack has no
CloudWatch Logs, so each runner passes its stdout through ``EmfTee``: every line still
reaches the function's log, and every EMF document among them is put in moto's
CloudWatch with its namespace, dimension sets, values, units and timestamp. A line that
is not EMF is left alone; a put that fails is reported on stderr and dropped, as a
malformed document is on AWS: metrics never stop a function.

On AWS the extraction happens in CloudWatch Logs, after the function has moved on; the
runners put through ``BackgroundForwarder`` likewise, so that a put does not hold the
next invocation of the function (its poller receives only after the flush; on the
event-path hit's benchmark that was a round of every request's wait, issue 17).
"""

import io
import json
import queue
import sys
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

_MAX_DATUMS = 1000  # PutMetricData's limit per call


def datums_of(document: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    """(namespace, PutMetricData's MetricData) of one EMF document, or None if it is
    not one. One directive per document: powertools writes one."""
    directives = (document.get("_aws") or {}).get("CloudWatchMetrics")
    if not isinstance(directives, list) or len(directives) != 1:
        return None
    (directive,) = directives
    stamp = document["_aws"].get("Timestamp")
    when = datetime.fromtimestamp(stamp / 1000, UTC) if isinstance(stamp, int | float) else None
    data: list[dict[str, Any]] = []
    for names in directive.get("Dimensions") or [[]]:
        dimensions = [{"Name": name, "Value": str(document[name])} for name in names]
        for metric in directive.get("Metrics", []):
            value: Any = document[metric["Name"]]
            values: list[Any] = value if isinstance(value, list) else [value]
            datum: dict[str, Any] = {
                "MetricName": metric["Name"],
                "Dimensions": dimensions,
                "Values": [float(v) for v in values],
                "Unit": metric.get("Unit", "None"),
            }
            if when is not None:
                datum["Timestamp"] = when
            data.append(datum)
    return str(directive["Namespace"]), data


class EmfForwarder:
    def __init__(self, cloudwatch: Any) -> None:
        self._cloudwatch = cloudwatch
        self.put = 0

    def line(self, text: str) -> bool:
        """Put the metrics of ``text`` if it is an EMF document; True if it was."""
        if '"_aws"' not in text:
            return False
        try:
            extracted = datums_of(json.loads(text))
        except (ValueError, KeyError, TypeError):
            return False
        if extracted is None:
            return False
        namespace, data = extracted
        for start in range(0, len(data), _MAX_DATUMS):
            self._cloudwatch.put_metric_data(
                Namespace=namespace, MetricData=data[start : start + _MAX_DATUMS]
            )
        self.put += len(data)
        return True


class BackgroundForwarder:
    """``forwarder``'s puts on a thread of their own, in order; ``close`` waits for them."""

    def __init__(self, forwarder: EmfForwarder) -> None:
        self._forwarder = forwarder
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="emf-forwarder", daemon=True)
        self._thread.start()

    def line(self, text: str) -> bool:
        """Queue ``text`` if it may be an EMF document; True if it was queued."""
        if '"_aws"' not in text:
            return False
        self._lines.put(text)
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        self._lines.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while (text := self._lines.get()) is not None:
            try:
                self._forwarder.line(text)
            except Exception as error:  # botocore raises per-service error classes
                print(f"emf: metrics not put: {type(error).__name__}", file=sys.stderr)


class EmfTee(io.TextIOBase):
    """A text stream that writes through to ``stream`` and hands each complete line to
    ``forwarder``: ``sys.stdout = EmfTee(sys.stdout, forwarder)``."""

    def __init__(self, stream: TextIO, forwarder: EmfForwarder | BackgroundForwarder) -> None:
        self._stream = stream
        self._forwarder = forwarder
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            try:
                self._forwarder.line(line)
            except Exception as error:  # botocore raises per-service error classes
                print(f"emf: metrics not put: {type(error).__name__}", file=sys.stderr)
        return written

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()
