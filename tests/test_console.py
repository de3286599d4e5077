"""The web console's server side, in-process: its files served with their types and
content security policy (nothing from another origin, no inline script, values written as
text only), any other name not found, and GET /v1/health's view of both regions behind a
bearer key. The page itself runs in a real browser in test_console_browser.py."""

import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from voxflow.api.routes import Api, build_resolver
from voxflow.api.settings import ApiSettings
from voxflow.api.speech import SpeechService
from voxflow.config.choices import Role
from voxflow.console import asset, regions_health
from voxflow.console.assets import CONTENT_SECURITY_POLICY
from voxflow.console.metrics import AGE_METRIC, ConsoleMetrics
from voxflow.console.queues import QueueDepths, parse_watched
from voxflow.regions import RegionConfig, Regions, StaticHealth
from voxflow.tenants.api_keys import ApiKeys, KeyCheck
from voxflow_local.http_api import payload_v2_event

KEY = "vfk_console"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class OneKey:
    def check(self, key: str) -> KeyCheck:
        return KeyCheck("acme" if key == KEY else None)


def primary(healthy: bool = True) -> Regions:
    config = RegionConfig(
        role=Role.PRIMARY,
        region="us-east-1",
        primary_region="us-east-1",
        secondary_region="us-west-2",
        health_alarm="voxflow-primary-health",
        requests_queue_url="https://sqs.us-east-1.amazonaws.com/1/requests",
    )
    return Regions(config=config, health=StaticHealth(healthy))


def get(path: str, regions: Regions, key: str | None = None) -> dict[str, Any]:
    speech = cast(SpeechService, SimpleNamespace(pipeline=SimpleNamespace(regions=regions)))
    keys = cast(ApiKeys, OneKey())
    resolver = build_resolver(Api(speech, ApiSettings(), keys))
    headers = [("Authorization", f"Bearer {key}")] if key else []
    event = payload_v2_event("GET", path, headers, b"", "127.0.0.1")
    return resolver.resolve(event, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/console", "text/html; charset=utf-8"),
        ("/console/console.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
        # On the API the page calls its own origin; a static site's config names the API.
        ("/console/config.json", "application/json"),
    ],
)
def test_the_files_are_served_with_their_type_and_policy(path: str, content_type: str) -> None:
    answer = get(path, Regions())
    assert answer["statusCode"] == 200
    headers = answer["headers"]
    assert headers["Content-Type"] == content_type
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert answer["body"].strip()


@pytest.mark.parametrize(
    "path", ["/console/assets.py", "/console/..%2F__init__.py", "/console/static", "/console/x.js"]
)
def test_any_other_name_is_not_found(path: str) -> None:
    answer = get(path, Regions())
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"]) == {"message": "Not Found"}


def test_the_page_loads_nothing_from_elsewhere_and_runs_no_inline_script() -> None:
    files = {name: asset(name) for name in ("index.html", "console.js", "console.css")}
    page = files["index.html"]
    assert page is not None
    for name, found in files.items():
        assert found is not None
        assert not re.search(r"(https?:)?//[a-z0-9]", found.body), name
    scripts = re.findall(r"<script\b[^>]*>", page.body)
    assert scripts == ['<script src="console/console.js" defer>']
    assert "</script>" in page.body
    assert not re.search(r"\son[a-z]+=", page.body)  # no inline handlers
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_values_from_the_api_are_written_as_text_only() -> None:
    script = asset("console.js")
    assert script is not None
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script.body, sink
    assert "textContent" in script.body


def test_health_needs_a_key() -> None:
    for key in (None, "vfk_other"):
        answer = get("/v1/health", primary(), key)
        assert answer["statusCode"] == 401
        assert json.loads(answer["body"])["error"]["code"] in {
            "missing_api_key",
            "invalid_api_key",
        }


def test_health_shows_both_regions_through_the_route() -> None:
    answer = get("/v1/health", primary(), KEY)
    assert answer["statusCode"] == 200
    assert answer["headers"]["Cache-Control"] == "no-store"
    document = json.loads(answer["body"])
    assert [r["region"] for r in document["regions"]] == ["us-east-1", "us-west-2"]
    assert document["serving"] == "us-east-1"


@pytest.mark.parametrize(
    ("healthy", "serving", "primary_health"),
    [(True, "us-east-1", "healthy"), (False, "us-west-2", "unhealthy")],
)
def test_the_secondary_serves_while_the_primary_is_unhealthy(
    healthy: bool, serving: str, primary_health: str
) -> None:
    document = regions_health(primary(healthy), NOW)
    assert document == {
        "region": "us-east-1",
        "serving": serving,
        "checked_at": "2026-12-03T12:00:00+00:00",
        "regions": [
            {
                "region": "us-east-1",
                "role": "primary",
                "health": primary_health,
                "serving": healthy,
                "here": True,
            },
            {
                "region": "us-west-2",
                "role": "secondary",
                "health": "not measured",
                "serving": not healthy,
                "here": False,
            },
        ],
    }


def test_a_standalone_deployment_is_one_region_always_serving() -> None:
    document = regions_health(Regions(), NOW)
    (region,) = document["regions"]
    assert region["role"] == "standalone"
    assert region["serving"] is True
    assert document["serving"] == region["region"]


class FakeSqs:
    """GetQueueAttributes as SQS answers it; a queue not here is refused as SQS does."""

    def __init__(self, queues: dict[str, dict[str, str]]) -> None:
        self.queues = queues

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:  # noqa: N803
        if QueueUrl not in self.queues:
            raise ClientError(
                {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue"}},
                "GetQueueAttributes",
            )
        return {
            "Attributes": {k: v for k, v in self.queues[QueueUrl].items() if k in AttributeNames}
        }


def test_the_watched_queues_are_labelled_urls_in_order() -> None:
    raw = " requests=https://sqs.x/1/r, requests-dlq=https://sqs.x/1/rd ,"
    assert list(parse_watched(raw).items()) == [
        ("requests", "https://sqs.x/1/r"),
        ("requests-dlq", "https://sqs.x/1/rd"),
    ]
    assert parse_watched("") == {}
    for bad in ("requests", "=https://sqs.x/1/r", "requests=sqs.x/1/r"):
        with pytest.raises(ValueError, match="label=url"):
            parse_watched(bad)


def test_queue_depths_are_read_per_queue_and_an_unreadable_one_says_why() -> None:
    sqs = FakeSqs(
        {
            "https://q/requests": {
                "ApproximateNumberOfMessages": "7",
                "ApproximateNumberOfMessagesNotVisible": "2",
                "ApproximateNumberOfMessagesDelayed": "0",
            },
            "https://q/chunks-dlq": {"ApproximateNumberOfMessages": "1"},
        }
    )
    depths = QueueDepths(
        sqs,
        {
            "requests": "https://q/requests",
            "chunks-dlq": "https://q/chunks-dlq",
            "gone": "https://q/gone",
        },
    )
    assert depths.read() == [
        {"queue": "requests", "dead_letter": False, "waiting": 7, "in_flight": 2, "delayed": 0},
        {"queue": "chunks-dlq", "dead_letter": True, "waiting": 1, "in_flight": 0, "delayed": 0},
        {"queue": "gone", "dead_letter": False, "error": "AWS.SimpleQueueService.NonExistentQueue"},
    ]


def test_health_carries_the_queue_depths_under_the_key() -> None:
    speech = cast(SpeechService, SimpleNamespace(pipeline=SimpleNamespace(regions=primary())))
    sqs = FakeSqs({"https://q/r": {"ApproximateNumberOfMessages": "3"}})
    resolver = build_resolver(
        Api(
            speech,
            ApiSettings(),
            cast(ApiKeys, OneKey()),
            queues=QueueDepths(sqs, {"requests": "https://q/r"}),
        )
    )
    event = payload_v2_event("GET", "/v1/health", [("Authorization", f"Bearer {KEY}")], b"", "::1")
    answer = resolver.resolve(event, None)  # type: ignore[arg-type]
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["queues"] == [
        {"queue": "requests", "dead_letter": False, "waiting": 3, "in_flight": 0, "delayed": 0}
    ]
    # Without the key, nothing of the queues.
    refused = resolver.resolve(payload_v2_event("GET", "/v1/health", [], b"", "::1"), None)  # type: ignore[arg-type]
    assert refused["statusCode"] == 401
    assert "queues" not in refused["body"]


class FakeCloudWatch:
    """GetMetricData as CloudWatch answers it: each query's datapoints, newest first;
    ``refuse``: the error code of a role without cloudwatch:GetMetricData."""

    def __init__(self, series: dict[str, list[tuple[datetime, float]]], refuse: str = "") -> None:
        self.series = series
        self.refuse = refuse
        self.queries: list[dict[str, Any]] = []

    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        if self.refuse:
            raise ClientError({"Error": {"Code": self.refuse}}, "GetMetricData")
        self.queries = request["MetricDataQueries"]
        results = []
        for query in self.queries:
            name = query["MetricStat"]["Metric"]["MetricName"]
            dimension = query["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
            points = self.series.get(f"{name}/{dimension}", [])
            results.append(
                {
                    "Id": query["Id"],
                    "Timestamps": [t for t, _ in points],
                    "Values": [v for _, v in points],
                }
            )
        return {"MetricDataResults": results}


def test_queue_ages_and_the_hit_ratio_come_from_cloudwatch() -> None:
    minute = timedelta(minutes=1)
    cloudwatch = FakeCloudWatch(
        {
            # The newest minute's maximum is the age shown.
            f"{AGE_METRIC}/prod-requests": [(NOW - minute, 42.0), (NOW - 3 * minute, 7.0)],
            # Older than the age window: the queue has no current datapoint.
            f"{AGE_METRIC}/prod-chunks": [(NOW - 30 * minute, 900.0)],
            "CacheHits/voxflow": [(NOW - 60 * minute, 6.0)],
            "ApiCacheHits/voxflow": [(NOW - 60 * minute, 3.0)],
            "ApiCacheMisses/voxflow": [(NOW - 60 * minute, 1.0)],
        }
    )
    watched = {"requests": "https://q/1/prod-requests", "chunks": "https://q/1/prod-chunks"}
    rows: list[dict[str, Any]] = [{"queue": "requests"}, {"queue": "chunks"}]
    added = ConsoleMetrics(cloudwatch, watched).annotate(rows, NOW)
    assert rows == [
        {"queue": "requests", "oldest_age_s": 42.0},
        {"queue": "chunks", "oldest_age_s": None},
    ]
    assert added == {"cache": {"window_s": 3600, "hits": 9, "misses": 1, "ratio": 0.9}}
    stats = {
        q["MetricStat"]["Metric"]["MetricName"]: q["MetricStat"]["Stat"] for q in cloudwatch.queries
    }
    assert stats[AGE_METRIC] == "Maximum"
    assert stats["CacheHits"] == "Sum"


def test_a_refused_cloudwatch_read_is_reported_not_shown_as_zero() -> None:
    rows: list[dict[str, Any]] = [{"queue": "requests"}]
    metrics = ConsoleMetrics(FakeCloudWatch({}, refuse="AccessDenied"), {"requests": "https://q/r"})
    assert metrics.annotate(rows, NOW) == {"metrics_error": "AccessDenied"}
    assert rows == [{"queue": "requests"}]


def test_health_carries_the_ages_and_the_hit_ratio() -> None:
    speech = cast(SpeechService, SimpleNamespace(pipeline=SimpleNamespace(regions=primary())))
    sqs = FakeSqs({"https://q/1/r": {"ApproximateNumberOfMessages": "3"}})
    now = datetime.now(UTC)
    cloudwatch = FakeCloudWatch(
        {f"{AGE_METRIC}/r": [(now, 12.0)], "CacheMisses/voxflow": [(now, 4.0)]}
    )
    watched = {"requests": "https://q/1/r"}
    resolver = build_resolver(
        Api(
            speech,
            ApiSettings(),
            cast(ApiKeys, OneKey()),
            queues=QueueDepths(sqs, watched),
            metrics=ConsoleMetrics(cloudwatch, watched),
        )
    )
    event = payload_v2_event("GET", "/v1/health", [("Authorization", f"Bearer {KEY}")], b"", "::1")
    document = json.loads(resolver.resolve(event, None)["body"])  # type: ignore[arg-type]
    assert document["queues"][0]["oldest_age_s"] == 12.0
    assert document["cache"] == {"window_s": 3600, "hits": 0, "misses": 4, "ratio": 0.0}
