"""Every metric voxflow puts in CloudWatch, in one catalogue.

The emitters (the handlers' Meter, the worker's heartbeat, the canary) name their
metrics with literals; tests/test_metrics.py scans the package and checks that the
names it emits are exactly these, with these dimensions, and that template.yaml's
dashboard and alarms use no other metric of the namespace. docs/operations.md
("Metrics") lists them for operators.
"""

from dataclasses import dataclass

NAMESPACE = "voxflow"

# powertools' Metrics adds the service (POWERTOOLS_SERVICE_NAME) to every EMF metric.
SERVICE = ("service",)
REGION = ("Region",)


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    dimensions: tuple[tuple[str, ...], ...]
    meaning: str


def _emf(name: str, unit: str, meaning: str, *extra: str) -> Metric:
    return Metric(name, unit, ((*SERVICE, *extra),), meaning)


CATALOGUE: tuple[Metric, ...] = (
    _emf("CacheHits", "Count", "requests answered from the cache (plan)"),
    _emf("CacheMisses", "Count", "requests that needed synthesis (plan)"),
    _emf("ApiCacheHits", "Count", "HTTP API requests answered from the cache (api)"),
    _emf("ApiCacheMisses", "Count", "HTTP API requests that needed synthesis (api)"),
    _emf("RequestDuration", "Seconds", "end to end, request to assembled audio (synthesize)"),
    _emf("VoiceDownload", "Seconds", "time to fetch a custom voice model from S3"),
    _emf("VoiceLoad", "Seconds", "a voice's load: download, hash and session (synthesize)"),
    _emf("RealTimeFactor", "None", "synthesis seconds per second of audio, per chunk"),
    _emf("ChunksSynthesized", "Count", "chunks spoken into S3"),
    _emf("ChunksDropped", "Count", "chunk tasks dropped (their job ended or expired)"),
    _emf("ChunksShared", "Count", "chunks reported to a job that waited on another's"),
    _emf("RequestsFailed", "Count", "requests that ended in SynthesisFailed"),
    _emf("FailuresByCode", "Count", "the same failures, by error code", "Code"),
    _emf("RequestsThrottled", "Count", "requests refused over their tenant's quota"),
    _emf("RequestsDelayed", "Count", "requests queued later by their tenant's quota"),
    _emf("RequestsOnStandby", "Count", "requests the secondary held while on standby"),
    _emf("RequestIdConflicts", "Count", "request ids reused with different content"),
    _emf("JobsTakenOver", "Count", "jobs this region took over from the other"),
    _emf("TakeOversLost", "Count", "take-overs the other region won"),
    _emf(
        "ChunksParked",
        "Count",
        "chunk tasks parked while their job is owned by the other region",
    ),
    _emf(
        "JobsStalledElsewhere",
        "Count",
        "jobs owned by the other region that make no progress (a warning)",
    ),
    _emf(
        "StaleRequestsAnsweredElsewhere",
        "Count",
        "stale requests the other region had already answered",
    ),
    _emf(
        "StaleRequestsPendingElsewhere",
        "Count",
        "stale requests still pending in the other region",
    ),
    _emf(
        "StaleRequestPeerUnavailable",
        "Count",
        "stale-request checks the other region did not answer (standby)",
    ),
    _emf(
        "StaleRequestsCreatedPeerSilent",
        "Count",
        "stale requests created here after the other region stayed silent too long",
    ),
    _emf(
        "RequestsDeferred",
        "Count",
        "requests plan sent back to the queue: its invocation's time would not fit them",
    ),
    _emf("TerminalEventsResent", "Count", "terminal events sent again (a lost put)"),
    _emf("ReplyDeliveryFailed", "Count", "results the reply target did not accept"),
    _emf("RequestsStuck", "Count", "requests the sweeper failed as stuck"),
    Metric(
        "WorkerHeartbeat",
        "Count",
        (REGION, (*REGION, "Provider")),
        "one per GPU worker per beat (the primary's health alarm)",
    ),
    Metric(
        "GpuUtilization",
        "Percent",
        (REGION,),
        "the GPU's utilization, per worker per beat, where the driver reports it",
    ),
    Metric("CanarySuccess", "Count", (REGION,), "1 if the canary request completed, else 0"),
    Metric("CanaryLatency", "Seconds", (REGION,), "the canary request's round trip"),
)

BY_NAME = {metric.name: metric for metric in CATALOGUE}
