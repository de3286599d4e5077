"""Every environment variable voxflow reads, each declared once: name, type, default,
meaning and the deployables that read it (docs/settings.md is generated from here)."""

from pathlib import Path
from typing import cast

from voxflow.config.choices import (
    CacheIsolation,
    ConvAlgoSearch,
    Device,
    ExecutionMode,
    QuotaMode,
    Role,
    UrlSigner,
)
from voxflow.config.model import (
    API,
    CLI,
    FUNCTIONS,
    HEALTH,
    PLAN,
    SWEEPER,
    SYNTHESIZE,
    WORKER,
    Config,
    Var,
    bit,
    declare,
    flag,
    integer,
    names,
    number,
    one_of,
    path,
    text,
)

# Who builds a Pipeline: plan, synthesize, the sweeper and the HTTP API; the worker runs
# synthesize's.
PIPELINE = (PLAN, SYNTHESIZE, SWEEPER, API, WORKER)
ENGINE = (*PIPELINE, CLI)
EVERYONE = (*FUNCTIONS, WORKER, CLI)
SERVERS = (*FUNCTIONS, WORKER)


def _device(raw: str) -> Device:
    return cast(Device, one_of(str, ("auto", "cpu", "cuda"))(raw))


def _conv_algo_search(raw: str) -> ConvAlgoSearch:
    return cast(ConvAlgoSearch, one_of(str, ("DEFAULT", "HEURISTIC", "EXHAUSTIVE"))(raw))


def _execution_mode(raw: str) -> ExecutionMode:
    return cast(ExecutionMode, one_of(str, ("sequential", "parallel"))(raw))


def _optional_path(raw: str) -> Path | None:
    return Path(raw)


def _optional_text(raw: str) -> str | None:
    return raw


def _optional_integer(raw: str) -> int | None:
    return integer(raw)


def _optional_number(raw: str) -> float | None:
    return number(raw)


# ------------------------------------------------------------------ engine (synthesis core)
DEVICE: Var[Device] = declare(
    "VOXFLOW_DEVICE", _device, "auto",
    "`auto` uses CUDA when onnxruntime offers it, else CPU; `cpu`, `cuda` force one "
    "(`cuda`: a session onnxruntime puts on the CPU, its CUDA provider failing to load, "
    "fails the voice's load; the GPU worker's task sets it)",
    ENGINE, "engine",
)  # fmt: skip
CUDA_CONV_ALGO_SEARCH: Var[ConvAlgoSearch] = declare(
    "VOXFLOW_CUDA_CONV_ALGO_SEARCH", _conv_algo_search, "DEFAULT",
    "how cuDNN picks each convolution's algorithm on CUDA: `DEFAULT` its default, "
    "`HEURISTIC` its heuristics, `EXHAUSTIVE` (onnxruntime's own default) times every "
    "algorithm once per new input shape, and each sentence is a new shape: under 1 second "
    "of audio per second on an H200 for new text, against 23 with `DEFAULT` "
    "(`benchmarks/gpu.py`)",
    ENGINE, "engine",
)  # fmt: skip
EXECUTION_MODE: Var[ExecutionMode] = declare(
    "VOXFLOW_EXECUTION_MODE", _execution_mode, "sequential",
    "onnxruntime execution mode; `parallel` builds its session ~4x faster but synthesizes "
    "at ~0.4x the speed on CPU (benchmarks/NOTES.md)",
    ENGINE, "engine",
)  # fmt: skip
FAST_START = declare(
    "VOXFLOW_FAST_START", flag, True,
    "serve the first inference from a quickly built parallel session, then build the "
    "sequential one when a second inference comes (cold start to first audio ~0.4x the "
    "piper CLI's)",
    ENGINE, "engine",
)  # fmt: skip
INTRA_OP_THREADS = declare(
    "VOXFLOW_INTRA_OP_THREADS", integer, 0,
    "onnxruntime threads within an operator (0 lets it choose: all cores); the local "
    "two-region stack sets 1, its engines sharing the machine's cores",
    ENGINE, "engine",
)  # fmt: skip
INTER_OP_THREADS = declare(
    "VOXFLOW_INTER_OP_THREADS", integer, 0,
    "onnxruntime threads across operators (0 lets it choose)",
    ENGINE, "engine",
)  # fmt: skip
ALLOW_SPINNING = declare(
    "VOXFLOW_ALLOW_SPINNING", flag, True,
    "onnxruntime threads spin while they wait: one engine alone is 7 % faster with it, "
    "three engines sharing two cores make 15 % more audio without it "
    "(`benchmarks/spinning.py`); the local stack sets `0`",
    ENGINE, "engine",
)  # fmt: skip
BATCH_SIZE = declare(
    "VOXFLOW_BATCH_SIZE", integer, 1,
    "utterances per inference run (1..64); >1 needs the model's durations "
    "(`VOXFLOW_ALIGNMENT`, patched as the voice loads, no `onnx` package needed)",
    ENGINE, "engine",
)  # fmt: skip
ALIGNMENT = declare(
    "VOXFLOW_ALIGNMENT", flag, True,
    "expose the voice model's per-phoneme durations as it loads, in ~0.3 s (speech "
    "marks need them; batches use them to trim padding)",
    ENGINE, "engine",
)  # fmt: skip
MAX_CHARS = declare(
    "VOXFLOW_MAX_CHARS", integer, 100_000, "longest accepted text", ENGINE, "engine",
)  # fmt: skip
CHUNK_MAX_CHARS = declare(
    "VOXFLOW_CHUNK_MAX_CHARS", integer, 400, "longest sentence chunk (20..5000)",
    ENGINE, "engine",
)  # fmt: skip
VOICES_FILE = declare(
    "VOXFLOW_VOICES_FILE", _optional_path, None,
    'JSON file adding Piper voices: `{"amy": {"model": "amy.onnx", "config": '
    '"amy.onnx.json"}}`',
    ENGINE, "engine",
)  # fmt: skip
CACHE_DIR = declare(
    "VOXFLOW_CACHE_DIR", _optional_path, None,
    "where model hashes are remembered (the functions and the worker: /tmp/voxflow)",
    ENGINE, "engine", shown_default="`$XDG_CACHE_HOME/voxflow`, else `~/.cache/voxflow`",
)  # fmt: skip
VOICE_DIR = declare(
    "VOXFLOW_VOICE_DIR", path, Path("/tmp/voices"),
    "where catalog voices are downloaded (Lambda: under /tmp, SynthesizeFunction's "
    "EphemeralStorage)",
    ENGINE, "engine",
)  # fmt: skip
VOICE_MEMORY_MB = declare(
    "VOXFLOW_VOICE_MEMORY_MB", integer, 1024,
    "memory the loaded catalog voices' sessions may hold, each counted at twice its model "
    "file; the least recently used is unloaded first, built-in voices never",
    ENGINE, "engine",
)  # fmt: skip
VOICE_CATALOG_TTL_S = declare(
    "VOXFLOW_VOICE_CATALOG_TTL_S", number, 10.0,
    "seconds a catalog entry (or its absence) read from the voices table is reused: a "
    "voice added, disabled or removed is seen within this; 0 reads the table per request",
    ENGINE, "engine",
)  # fmt: skip

# ------------------------------------------------------------------ the pipeline's resources
BUS_NAME = declare(
    "VOXFLOW_BUS_NAME", text, "", "the event bus's name (`!Ref EventBus`)",
    (*PIPELINE, HEALTH), "pipeline", required=True,
)  # fmt: skip
CHUNKS_QUEUE_URL = declare(
    "VOXFLOW_CHUNKS_QUEUE_URL", text, "", "the short lane's queue (`!Ref ChunksQueue`)",
    PIPELINE, "pipeline", required=True,
)  # fmt: skip
LONG_CHUNKS_QUEUE_URL = declare(
    "VOXFLOW_LONG_CHUNKS_QUEUE_URL", _optional_text, None,
    "the long lane's queue (`!Ref LongChunksQueue`); none: one lane, every chunk task on "
    "ChunksQueue",
    PIPELINE, "pipeline",
)  # fmt: skip
RECOVERY_CHUNKS_QUEUE_URL = declare(
    "VOXFLOW_RECOVERY_CHUNKS_QUEUE_URL", _optional_text, None,
    "the recovery lane's queue (`!Ref RecoveryChunksQueue`): chunk tasks of work resumed "
    "for a job another region or worker left (takeovers, the sweeper), served after new "
    "work; none: the long lane",
    PIPELINE, "pipeline",
)  # fmt: skip
SHORT_JOB_CHUNKS = declare(
    "VOXFLOW_SHORT_JOB_CHUNKS", integer, 3,
    "jobs with at most this many chunks to make use the short lane (`!Ref ShortJobChunks`, >= 1)",
    PIPELINE, "pipeline",
)  # fmt: skip
BUCKET = declare(
    "VOXFLOW_BUCKET", text, "", "the audio bucket (`!Ref AudioBucket`)",
    PIPELINE, "pipeline", required=True,
)  # fmt: skip
CACHE_ISOLATION = declare(
    "VOXFLOW_CACHE_ISOLATION", one_of(CacheIsolation, [c.value for c in CacheIsolation]),
    CacheIsolation.SHARED,
    "`shared`: every tenant's hits serve every tenant; `tenant`: keys salted per tenant "
    "(`!Ref CacheIsolation`; docs/operations.md)",
    PIPELINE, "pipeline",
)  # fmt: skip
CACHE_TABLE = declare(
    "VOXFLOW_CACHE_TABLE", text, "",
    'the cache table\'s name (`!Sub "${AWS::StackName}-cache"`, the same in both regions)',
    PIPELINE, "pipeline", required=True,
)  # fmt: skip
JOBS_TABLE = declare(
    "VOXFLOW_JOBS_TABLE", text, "", 'the jobs table\'s name (`!Sub "${AWS::StackName}-jobs"`)',
    (*PIPELINE, HEALTH), "pipeline", required=True,
)  # fmt: skip
URL_EXPIRY_S = declare(
    "VOXFLOW_URL_EXPIRY_S", integer, 3600,
    "presigned URL lifetime, 1..604800 (`!Ref UrlExpirySeconds`)", PIPELINE, "pipeline",
)  # fmt: skip
URL_SIGNER = declare(
    "VOXFLOW_URL_SIGNER", one_of(UrlSigner, [s.value for s in UrlSigner]), UrlSigner.S3,
    "`s3`: presigned GETs of this region's bucket; `cloudfront`: signed URLs of the edge "
    "distribution, which fails over to the other region's bucket (`EdgeDelivery`; "
    "docs/regions.md)",
    PIPELINE, "pipeline",
)  # fmt: skip
EDGE_URL = declare(
    "VOXFLOW_EDGE_URL", _optional_text, None,
    "`cloudfront` only: the distribution's base URL, `https://<domain>` (the primary's "
    "`EdgeDistribution`, `!Ref EdgeDomainName` in the secondary)",
    PIPELINE, "pipeline",
)  # fmt: skip
EDGE_KEY_ID = declare(
    "VOXFLOW_EDGE_KEY_ID", _optional_text, None,
    "`cloudfront` only: the id of the public key in the distribution's key group "
    "(`EdgePublicKey`, `!Ref EdgePublicKeyId` in the secondary)",
    PIPELINE, "pipeline",
)  # fmt: skip
EDGE_KEY_SECRET = declare(
    "VOXFLOW_EDGE_KEY_SECRET", _optional_text, None,
    "`cloudfront` only: the Secrets Manager secret holding the PEM private key, the same "
    "name in both regions (`!Ref EdgeSigningKeySecret`; docs/deploy.md)",
    PIPELINE, "pipeline",
)  # fmt: skip
CACHE_TTL_S = declare(
    "VOXFLOW_CACHE_TTL_S", integer, 30 * 86400, "how long a cached request's audio is indexed",
    PIPELINE, "pipeline",
)  # fmt: skip
JOB_TTL_S = declare(
    "VOXFLOW_JOB_TTL_S", integer, 7 * 86400, "how long a job record is kept",
    PIPELINE, "pipeline",
)  # fmt: skip
CHUNK_RETENTION_DAYS = declare(
    "VOXFLOW_CHUNK_RETENTION_DAYS", integer, 7,
    "the bucket's chunk lifecycle (`!Ref ChunkRetentionDays`): chunk index entries expire "
    "a day before it deletes the chunk audio",
    PIPELINE, "pipeline",
)  # fmt: skip
REGION_NAME = declare(
    "VOXFLOW_REGION_NAME", _optional_text, None,
    "the region the function runs in (`!Ref AWS::Region`; reported in results)",
    (*PIPELINE, HEALTH), "pipeline", shown_default="the AWS region",
)  # fmt: skip
MAX_RECEIVE_COUNT = declare(
    "VOXFLOW_MAX_RECEIVE_COUNT", integer, 3,
    "the queues' redrive maxReceiveCount: the last attempt reports the failure",
    PIPELINE, "pipeline",
)  # fmt: skip
TENANTS_TABLE = declare(
    "VOXFLOW_TENANTS_TABLE", _optional_text, None,
    "DynamoDB table of direct senders' tenants, hash key `principal` (S); none: no sender "
    "is bound (docs/operations.md)",
    PIPELINE, "controls",
)  # fmt: skip
TENANT_CACHE_TTL_S = declare(
    "VOXFLOW_TENANT_CACHE_TTL_S", number, 5.0,
    "seconds a sender's binding (or its absence) read from the tenants table is reused by a "
    "warm function: a principal bound, moved or unbound applies within this; 0 reads the "
    "table per message",
    PIPELINE, "controls",
)  # fmt: skip
VOICES_TABLE = declare(
    "VOXFLOW_VOICES_TABLE", _optional_text, None,
    "DynamoDB table of the voice catalog, hash key `voice_id` (S); none: the built-in "
    "voices only (docs/operations.md, \"Voices\")",
    PIPELINE, "pipeline",
)  # fmt: skip
CHUNK_CLAIMS_TABLE = declare(
    "VOXFLOW_CHUNK_CLAIMS_TABLE", _optional_text, None,
    "DynamoDB table of the chunks being made here and the jobs waiting for them, hash key "
    "`chunk_key` (S), regional; none: every job queues each chunk it lacks "
    "(docs/pipeline.md, \"Shared chunks\")",
    PIPELINE, "pipeline",
)  # fmt: skip
LEXICONS_TABLE = declare(
    "VOXFLOW_LEXICONS_TABLE", _optional_text, None,
    "DynamoDB table of stored pronunciation lexicons, hash key `name` (S); none: a request "
    "naming a lexicon fails LEXICON_NOT_FOUND (docs/lexicons.md)",
    PIPELINE, "controls",
)  # fmt: skip
REPLY_QUEUE_PREFIX = declare(
    "VOXFLOW_REPLY_QUEUE_PREFIX", text, "voxflow-replies-",
    "the name a `reply_to.queue_url` must start with (`!Ref ReplyQueuePrefix`)",
    PIPELINE, "pipeline",
)  # fmt: skip
REPLY_BUS_PREFIX = declare(
    "VOXFLOW_REPLY_BUS_PREFIX", text, "voxflow-replies-",
    "the name a `reply_to.event_bus` must start with (`!Ref ReplyBusPrefix`)",
    PIPELINE, "pipeline",
)  # fmt: skip
OUTPUT_BUCKET_PREFIX = declare(
    "VOXFLOW_OUTPUT_BUCKET_PREFIX", text, "voxflow-output-",
    "the name a `reply_to.s3.bucket` (Polly's OutputS3BucketName) must start with "
    "(`!Ref OutputBucketPrefix`)",
    PIPELINE, "pipeline",
)  # fmt: skip
REPLY_TOPIC_PREFIX = declare(
    "VOXFLOW_REPLY_TOPIC_PREFIX", text, "voxflow-replies-",
    "the name a `reply_to.sns_topic_arn` (Polly's SnsTopicArn) must start with "
    "(`!Ref ReplyTopicPrefix`)",
    PIPELINE, "pipeline",
)  # fmt: skip
OWN_QUEUES = declare(
    "VOXFLOW_OWN_QUEUES", names, frozenset[str](),
    "the names of every queue of the stack (`!GetAtt X.QueueName`, comma-separated): "
    "never reply targets",
    PIPELINE, "pipeline",
)  # fmt: skip
AWS_ENDPOINT_URL = declare(
    "VOXFLOW_AWS_ENDPOINT_URL", _optional_text, None,
    "local stack only: the moto server URL", EVERYONE, "pipeline",
)  # fmt: skip

# ------------------------------------------------------------------ two regions
ROLE = declare(
    "VOXFLOW_ROLE", one_of(Role, [r.value for r in Role]), Role.STANDALONE,
    "`standalone`, `primary` or `secondary` (`!Ref Role`; docs/regions.md)",
    PIPELINE, "regions",
)  # fmt: skip
PRIMARY_REGION = declare(
    "VOXFLOW_PRIMARY_REGION", text, "us-east-1", "the primary's region", PIPELINE, "regions",
)  # fmt: skip
SECONDARY_REGION = declare(
    "VOXFLOW_SECONDARY_REGION", text, "us-west-2", "the secondary's region",
    PIPELINE, "regions",
)  # fmt: skip
HEALTH_ALARM = declare(
    "VOXFLOW_HEALTH_ALARM", _optional_text, None,
    "the alarm whose state says whether the primary is healthy (needed by primary and "
    "secondary)",
    PIPELINE, "regions",
)  # fmt: skip
STANDBY_RETRY_S = declare(
    "VOXFLOW_STANDBY_RETRY_S", integer, 5,
    "first delay before a standby request is looked at again (0..900)", PIPELINE, "regions",
)  # fmt: skip
STANDBY_RETRY_MAX_S = declare(
    "VOXFLOW_STANDBY_RETRY_MAX_S", integer, 30,
    "longest such delay (VOXFLOW_STANDBY_RETRY_S..900)", PIPELINE, "regions",
)  # fmt: skip
STANDBY_MAX_S = declare(
    "VOXFLOW_STANDBY_MAX_S", integer, 900,
    "a request on standby this long is worked on here anyway", PIPELINE, "regions",
)  # fmt: skip
REQUESTS_QUEUE_URL = declare(
    "VOXFLOW_REQUESTS_QUEUE_URL", _optional_text, None,
    "where standby requests are sent again (`!Ref RequestsQueue`; needed by primary and "
    "secondary)",
    PIPELINE, "regions",
)  # fmt: skip
STANDBY_QUEUE_URL = declare(
    "VOXFLOW_STANDBY_QUEUE_URL", _optional_text, None,
    "where standby copies wait (`!Ref StandbyQueue`): plan serves it after RequestsQueue, "
    "so a failover's takeovers never hold up new requests; none: RequestsQueue",
    PIPELINE, "regions",
)  # fmt: skip
STALE_REQUEST_S = declare(
    "VOXFLOW_STALE_REQUEST_S", integer, 10,
    "a request published longer ago than this is planned only after the other region's jobs "
    "table says it has no job for it (0: off; docs/failover.md)",
    PIPELINE, "regions",
)  # fmt: skip
PEER_SILENT_MAX_S = declare(
    "VOXFLOW_PEER_SILENT_MAX_S", integer, 60,
    "a stale request this region has held on standby this long, while the other region's "
    "jobs table did not answer, is created here (0: at once; docs/failover.md)",
    PIPELINE, "regions",
)  # fmt: skip
CHUNK_STALL_S = declare(
    "VOXFLOW_CHUNK_STALL_S", integer, 120,
    "a parked chunk task reports a job owned elsewhere that has made no progress for this "
    "long (`JobsStalledElsewhere`; docs/failover.md)",
    PIPELINE, "regions",
)  # fmt: skip
PRIMARY_ENDPOINT_URL = declare(
    "VOXFLOW_PRIMARY_ENDPOINT_URL", _optional_text, None,
    "local stack only: where the primary region's CloudWatch answers", PIPELINE, "regions",
)  # fmt: skip
SECONDARY_ENDPOINT_URL = declare(
    "VOXFLOW_SECONDARY_ENDPOINT_URL", _optional_text, None,
    "local stack only: where the secondary region's jobs table answers (the stale-request "
    "guard)",
    PIPELINE, "regions",
)  # fmt: skip

# ------------------------------------------------------------------ controls (docs/operations.md)
QUOTAS_TABLE = declare(
    "VOXFLOW_QUOTAS_TABLE", _optional_text, None,
    "DynamoDB table of token buckets, hash key `tenant` (S), TTL `expires_at`; none: "
    "quotas off",
    PIPELINE, "controls",
)  # fmt: skip
QUOTAS_FILE = declare(
    "VOXFLOW_QUOTAS_FILE", _optional_path, None, "JSON file of limits (below)",
    PIPELINE, "controls",
)  # fmt: skip
QUOTA_MODE = declare(
    "VOXFLOW_QUOTA_MODE", one_of(QuotaMode, [m.value for m in QuotaMode]), QuotaMode.REJECT,
    "`reject`: over quota ends in `SynthesisFailed` `THROTTLED`, `retryable: true`; "
    "`delay`: the chunk tasks are queued with `DelaySeconds` until the tokens are there "
    "(the quota file's `mode` when unset)",
    PIPELINE, "controls",
)  # fmt: skip
QUOTA_MAX_DELAY_S = declare(
    "VOXFLOW_QUOTA_MAX_DELAY_S", number, 900.0,
    "delay mode: a request that would wait longer is `THROTTLED` instead (SQS allows 900 at "
    "most; the quota file's `max_delay_s` when unset)",
    PIPELINE, "controls",
)  # fmt: skip
QUOTA_CHARS_PER_S = declare(
    "VOXFLOW_QUOTA_CHARS_PER_S", number, 1000.0,
    "default characters bucket's refill rate, in spoken characters (the file's when unset)",
    PIPELINE, "controls",
)  # fmt: skip
QUOTA_CHARS_BURST = declare(
    "VOXFLOW_QUOTA_CHARS_BURST", number, 100_000.0,
    "default characters bucket's capacity: the longest request admitted (the file's when "
    "unset)",
    PIPELINE, "controls",
)  # fmt: skip
QUOTA_REQUESTS_PER_S = declare(
    "VOXFLOW_QUOTA_REQUESTS_PER_S", number, 10.0,
    "default requests bucket's refill rate (the file's when unset)", PIPELINE, "controls",
)  # fmt: skip
QUOTA_REQUESTS_BURST = declare(
    "VOXFLOW_QUOTA_REQUESTS_BURST", number, 50.0,
    "default requests bucket's capacity (the file's when unset)", PIPELINE, "controls",
)  # fmt: skip
POLICY_FILE = declare(
    "VOXFLOW_POLICY_FILE", _optional_path, None,
    "blocklist/pattern file; a rejection is `SynthesisFailed` `CONTENT_REJECTED`, final; "
    "none: policy off",
    PIPELINE, "controls",
)  # fmt: skip
AUDIT_TABLE = declare(
    "VOXFLOW_AUDIT_TABLE", _optional_text, None,
    "DynamoDB table of audit records (schema below); none: audit off", PIPELINE, "controls",
)  # fmt: skip
AUDIT_TEXT = declare(
    "VOXFLOW_AUDIT_TEXT", bit, False,
    "`1` stores the raw text in the audit record; otherwise only its sha256 and length",
    PIPELINE, "controls", shown_default="0",
)  # fmt: skip
AUDIT_TTL_DAYS = declare(
    "VOXFLOW_AUDIT_TTL_DAYS", integer, 90,
    "audit records expire this long after the request was first seen (>= 1)",
    PIPELINE, "controls",
)  # fmt: skip
FALLBACK_AUDIO = declare(
    "VOXFLOW_FALLBACK_AUDIO", bit, False,
    "`1`: when synthesis is impossible for now, answer with the pre-rendered busy clip",
    PIPELINE, "controls", shown_default="0",
)  # fmt: skip

# ------------------------------------------------------------------ the worker (ECS)
WORKER_BATCH_SIZE = declare(
    "VOXFLOW_WORKER_BATCH_SIZE", integer, 8,
    "messages per handler call, gathered over receives of up to 10 (1..100)",
    (WORKER,), "worker",
)  # fmt: skip
WORKER_BATCH_WAIT_S = declare(
    "VOXFLOW_WORKER_BATCH_WAIT_S", number, 0.05,
    "how long to gather after the first message (0..300)", (WORKER,), "worker",
)  # fmt: skip
WORKER_VISIBILITY_S = declare(
    "VOXFLOW_WORKER_VISIBILITY_S", integer, 60,
    "visibility of a received batch, extended every half of it while it runs (2..43200)",
    (WORKER,), "worker",
)  # fmt: skip
HEARTBEAT_S = declare(
    "VOXFLOW_HEARTBEAT_S", number, 10.0,
    "seconds between the worker's heartbeat metrics, after warm-up (> 0)",
    (WORKER,), "worker",
)  # fmt: skip
READY_FILE = declare(
    "VOXFLOW_READY_FILE", path, Path("/tmp/voxflow-worker-ready"),
    "written once warm, read by `--check-ready` (the container health check)",
    (WORKER,), "worker",
)  # fmt: skip
HANDLER_DIR = declare(
    "VOXFLOW_HANDLER_DIR", path, Path("/var/task"),
    "where functions/synthesize/app.py is", (WORKER,), "worker",
)  # fmt: skip
HANDLER = declare(
    "VOXFLOW_HANDLER", text, "app.handler",
    "module path, then attribute, as in a SAM Handler", (WORKER,), "worker",
)  # fmt: skip
WORKER_RETRY_VISIBILITY_S = declare(
    "VOXFLOW_WORKER_RETRY_VISIBILITY_S", _optional_integer, None,
    "local stack and tests only: failed messages come back after this many seconds instead "
    "of after their visibility timeout",
    (WORKER,), "worker",
)  # fmt: skip

# ------------------------------------------------------------------ one function each
CANARY_TIMEOUT_S = declare(
    "VOXFLOW_CANARY_TIMEOUT_S", number, 20.0,
    "a canary answer slower than this counts as a failure (0..600]", (HEALTH,), "functions",
)  # fmt: skip
SWEEP_OLDER_THAN_S = declare(
    "VOXFLOW_SWEEP_OLDER_THAN_S", number, 900.0,
    "jobs pending for longer than this count as stuck", (SWEEPER,), "functions",
)  # fmt: skip
LOCAL_STATE = declare(
    "VOXFLOW_LOCAL_STATE", path, Path("build/local-stack.json"),
    "the local stack's state file, where `voxflow publish`/`status` find its endpoint",
    (CLI,), "cli",
)  # fmt: skip

# ------------------------------------------------------- set by the platform, or for a library
AWS_REGION = declare(
    "AWS_REGION", _optional_text, None, "the region (Lambda and ECS set it)",
    EVERYONE, "platform", external=True,
)  # fmt: skip
AWS_DEFAULT_REGION = declare(
    "AWS_DEFAULT_REGION", _optional_text, None,
    "the region when AWS_REGION is unset (else us-east-1)", EVERYONE, "platform",
    external=True,
)  # fmt: skip
AWS_PROFILE = declare(
    "AWS_PROFILE", _optional_text, None, "the CLI's AWS profile", EVERYONE, "platform",
    external=True,
)  # fmt: skip
AWS_LAMBDA_FUNCTION_NAME = declare(
    "AWS_LAMBDA_FUNCTION_NAME", text, "voxflow-worker",
    "the function's name (Lambda sets it); the worker's handler context reports it, and "
    "where it is set every function freezes its cold-start heap (the worker, once warm)",
    SERVERS, "platform", external=True,
)  # fmt: skip
XDG_CACHE_HOME = declare(
    "XDG_CACHE_HOME", _optional_path, None,
    "where VOXFLOW_CACHE_DIR defaults to, when it is unset", ENGINE, "platform",
    external=True, shown_default="`~/.cache`",
)  # fmt: skip
POWERTOOLS_SERVICE_NAME = declare(
    "POWERTOOLS_SERVICE_NAME", text, "voxflow", "powertools' service name in every log line",
    SERVERS, "platform", external=True,
)  # fmt: skip
POWERTOOLS_METRICS_NAMESPACE = declare(
    "POWERTOOLS_METRICS_NAMESPACE", text, "voxflow", "powertools' metrics namespace",
    SERVERS, "platform", external=True,
)  # fmt: skip
LOG_LEVEL = declare(
    "LOG_LEVEL", text, "INFO", "powertools' log level (`!Ref LogLevel`)",
    SERVERS, "platform", external=True,
)  # fmt: skip

# The HTTP API (docs/api.md).
API_SYNC_MAX_CHARS = declare(
    "VOXFLOW_API_SYNC_MAX_CHARS", integer, 4096,
    "the longest normalized text the HTTP API synthesizes within one request; longer is "
    "refused (API Gateway's 30 s)", (API,), "functions",
)  # fmt: skip
API_TASKS_TABLE = declare(
    "VOXFLOW_API_TASKS_TABLE", _optional_text, None,
    "DynamoDB table of Polly's synthesis tasks, hash key `task_id` (S), index "
    "`tenant-created` (docs/api.md); none: the task routes answer ServiceFailureException",
    (API,), "functions",
)  # fmt: skip
API_DEFAULT_VOICE = declare(
    "VOXFLOW_API_DEFAULT_VOICE", text, "joe",
    "the voice that speaks OpenAI's voice names (alloy, nova, ...)", (API,), "functions",
)  # fmt: skip
API_SIGV4_CREDENTIALS = declare(
    "VOXFLOW_API_SIGV4_CREDENTIALS", text, "",
    "local stack only: `key:secret` pairs the function checks Polly's SigV4 against, "
    "besides the issued keys; unset on AWS", (API,), "functions",
    shown_default="none",
)  # fmt: skip
API_AUTH_CACHE_S = declare(
    "VOXFLOW_API_AUTH_CACHE_S", number, 5.0,
    "seconds the HTTP API keeps who a key is (a bearer key's tenant, an issued SigV4 key's "
    "secret and tenant, a settings key's binding): a revoked key or a changed binding holds "
    "within this; 0 reads the tenant table per request",
    (API,), "functions",
)  # fmt: skip
API_SIGV4_SECRET_PREFIX = declare(
    "VOXFLOW_API_SIGV4_SECRET_PREFIX", text, "",
    "name prefix of the Secrets Manager secrets of the SigV4 keys `voxflow keys create "
    "--sigv4` issues for Polly's routes (`<stack>/api-sigv4/`); empty: no issued keys",
    (API,), "functions", shown_default="none",
)  # fmt: skip
ACCOUNT_ID = declare(
    "VOXFLOW_ACCOUNT_ID", text, "",
    "the deployment's AWS account (`AWS::AccountId`), for the ARNs the API answers "
    "(Polly's LexiconArn); empty: none in them", (API,), "functions", shown_default="none",
)  # fmt: skip
API_WATCHED_QUEUES = declare(
    "VOXFLOW_API_WATCHED_QUEUES", text, "",
    "the queues GET /v1/health shows the depths of: `label=url` pairs, comma-separated, a "
    "label ending in `-dlq` a dead-letter queue (`!Sub` of the stack's queues and DLQs)",
    (API,), "functions", shown_default="none",
)  # fmt: skip

# Where nothing names a region (no VOXFLOW_REGION_NAME, AWS_REGION or AWS_DEFAULT_REGION).
DEFAULT_REGION = PRIMARY_REGION.default


def aws_region(config: Config) -> str:
    """The region AWS clients use: AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1."""
    return config[AWS_REGION] or config[AWS_DEFAULT_REGION] or DEFAULT_REGION


def this_region(config: Config) -> str:
    """The region this deployment runs in: VOXFLOW_REGION_NAME, else the AWS region."""
    return config[REGION_NAME] or aws_region(config)
