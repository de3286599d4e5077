"""What the console shows from CloudWatch, in one GetMetricData call: each watched
queue's age of the oldest message, and the cache hit ratio of the last hour.

The age is SQS's own ``AWS/SQS ApproximateAgeOfOldestMessage`` (it is not a queue
attribute): the latest minute's maximum. Locally, moto has no such metric; the local
stack's moto server publishes it from its queues' messages the way SQS does
(voxflow_local.sqs_metrics), so the page reads CloudWatch in both places.

The hit ratio is the functions' EMF counters (``CacheHits``/``CacheMisses`` of the
event path, ``ApiCacheHits``/``ApiCacheMisses`` of the HTTP API) summed over the last
hour: every request of the deployment, from every client and every function instance,
which neither one page's own requests nor one API instance's memory could count.
Locally the runner hands the functions' EMF lines to moto's CloudWatch as CloudWatch
Logs does on AWS (voxflow_local.emf).

A failed read is reported with the error's code, never as zeros.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from voxflow.metrics import NAMESPACE

AGE_METRIC = "ApproximateAgeOfOldestMessage"
AGE_WINDOW = timedelta(minutes=5)
CACHE_WINDOW = timedelta(hours=1)
_HITS = ("CacheHits", "ApiCacheHits")
_MISSES = ("CacheMisses", "ApiCacheMisses")


def queue_name(url: str) -> str:
    """A queue URL's last path segment: the QueueName dimension of its SQS metrics."""
    return url.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class ConsoleMetrics:
    cloudwatch: Any  # a boto3 CloudWatch client, injected
    queues: dict[str, str]  # label -> queue URL
    service: str = "voxflow"  # POWERTOOLS_SERVICE_NAME: the service dimension

    def read(self, now: datetime | None = None) -> dict[str, Any]:
        """``{"ages": {label: seconds or None}, "cache": {...}}``, or ``{"error": code}``."""
        # The end of the current minute: periods align to whole minutes, as CloudWatch
        # aligns them, and a datapoint put this second is inside the window.
        end = (now or datetime.now(UTC)).replace(second=0, microsecond=0) + timedelta(minutes=1)
        queries = self._age_queries() + self._cache_queries()
        try:
            results = self._query(queries, end - CACHE_WINDOW, end)
        except ClientError as error:
            return {"error": error.response.get("Error", {}).get("Code", "error")}
        except BotoCoreError as error:
            return {"error": type(error).__name__}
        ages = {
            label: _latest(results, f"age{i}", end - AGE_WINDOW)
            for i, label in enumerate(self.queues)
        }
        hits = sum(sum(results.get(f"c_{name}", {}).values()) for name in _HITS)
        misses = sum(sum(results.get(f"c_{name}", {}).values()) for name in _MISSES)
        total = hits + misses
        cache = {
            "window_s": int(CACHE_WINDOW.total_seconds()),
            "hits": int(hits),
            "misses": int(misses),
            "ratio": round(hits / total, 4) if total else None,
        }
        return {"ages": ages, "cache": cache}

    def annotate(self, queues: list[dict[str, Any]], now: datetime | None = None) -> dict[str, Any]:
        """Each of QueueDepths' rows given its ``oldest_age_s`` (None: no datapoint);
        returns what GET /v1/health adds: ``cache``, or ``metrics_error``."""
        read = self.read(now)
        if "error" in read:
            return {"metrics_error": read["error"]}
        for queue in queues:
            queue["oldest_age_s"] = read["ages"].get(queue["queue"])
        return {"cache": read["cache"]}

    def _age_queries(self) -> list[dict[str, Any]]:
        return [
            _stat(f"age{i}", ("AWS/SQS", AGE_METRIC, "QueueName", queue_name(url)), 60, "Maximum")
            for i, url in enumerate(self.queues.values())
        ]

    def _cache_queries(self) -> list[dict[str, Any]]:
        period = int(CACHE_WINDOW.total_seconds())
        return [
            _stat(f"c_{name}", (NAMESPACE, name, "service", self.service), period, "Sum")
            for name in (*_HITS, *_MISSES)
        ]

    def _query(
        self, queries: list[dict[str, Any]], start: datetime, end: datetime
    ) -> dict[str, dict[datetime, float]]:
        found: dict[str, dict[datetime, float]] = {}
        request: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start}
        request["EndTime"] = end
        while True:
            answer = self.cloudwatch.get_metric_data(**request)
            for result in answer.get("MetricDataResults", []):
                series = found.setdefault(result["Id"], {})
                series.update(zip(result["Timestamps"], result["Values"], strict=True))
            if not answer.get("NextToken"):
                return found
            request["NextToken"] = answer["NextToken"]


def _stat(
    query_id: str, metric: tuple[str, str, str, str], period: int, stat: str
) -> dict[str, Any]:
    """One MetricStat query: (namespace, name, dimension, its value), period, statistic."""
    namespace, name, dimension, value = metric
    metric_spec = {
        "Namespace": namespace,
        "MetricName": name,
        "Dimensions": [{"Name": dimension, "Value": value}],
    }
    return {
        "Id": query_id,
        "MetricStat": {"Metric": metric_spec, "Period": period, "Stat": stat},
        "ReturnData": True,
    }


def _latest(
    results: dict[str, dict[datetime, float]], query_id: str, since: datetime
) -> float | None:
    """The newest datapoint since ``since``; None when the queue has none (idle)."""
    recent = {t: v for t, v in results.get(query_id, {}).items() if _aware(t) >= since}
    return round(recent[max(recent)], 1) if recent else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
