"""The event contract: what clients send, what the pipeline passes on, what it publishes.

Every model carries ``schema_version`` so a consumer can tell a future shape from a
malformed one. Inbound and internal models forbid unknown fields, so a typo such as
``lenght_scale`` fails instead of being silently ignored; outbound models ignore
them, so consumers keep working when the service adds a field.
"""

import dataclasses
import math
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self, get_args
from uuid import uuid4

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from voxflow.audio.formats import POLLY_ALIASES, SAMPLE_RATES, AudioFormat
from voxflow.engine.params import PARAM_LIMITS, ResolvedParams, SynthesisParams
from voxflow.lexicons.model import MAX_LEXICONS_PER_REQUEST, NAME_PATTERN

SOURCE_CLIENT = "voxflow.client"  # requests of the default tenant
SOURCE_SERVICE = "voxflow"
# Requests of any other tenant: the source names it, so IAM's events:source condition
# can bind a publisher to its tenant (docs/operations.md, "Tenants").
SOURCE_TENANT_PREFIX = "voxflow.tenant."
DEFAULT_VOICE = "joe"
DEFAULT_TENANT = "default"
# A hard ceiling for the wire format; the deployment's own limit is applied later by
# normalize_text, which also counts characters after normalization.
MAX_TEXT_CHARS = 100_000
MAX_BATCH_ITEMS = 50
MAX_METADATA_KEYS = 20
# Metadata is echoed into every result event, and EventBridge caps an event at 256 KiB.
MAX_METADATA_KEY_CHARS = 128
MAX_METADATA_VALUE_CHARS = 1024
MAX_MESSAGE_CHARS = 1000

RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
# No colon in an item id, so the last colon of a derived id always separates the two.
ItemId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
# What results and chunk tasks carry: a request id, or "<request_id>:<item id or index>".
ResultId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,193}$")]
_TENANT_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
Tenant = Annotated[str, StringConstraints(pattern=rf"^{_TENANT_PATTERN.pattern}$")]
VoiceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
LexiconName = Annotated[str, StringConstraints(pattern=rf"^{NAME_PATTERN.pattern}$")]


def _distinct(names: list[str]) -> list[str]:
    if len(set(names)) != len(names):
        raise ValueError("a lexicon is named twice")
    return names


LexiconNames = Annotated[
    list[LexiconName],
    Field(
        max_length=MAX_LEXICONS_PER_REQUEST,
        description="Stored pronunciation lexicons (voxflow lexicons put), applied in "
        "this order before normalization: the first that matches a word wins.",
    ),
    AfterValidator(_distinct),
]
# Strict: JSON numbers only, so "1.5" and true are errors rather than quietly coerced.
Number = Annotated[float, Field(strict=True)]
Count = Annotated[int, Field(strict=True, ge=0)]
TextType = Literal["text", "ssml"]
_TEXT_TYPE_DESCRIPTION = (
    "How text is read: plain text, or SSML (Amazon Polly's neural-voice set, docs/ssml.md)."
)
SpeechMarkType = Literal["sentence", "word", "ssml", "viseme"]  # voxflow.marks.MarkType


def _mark_types(value: object) -> object:
    # One order and no repeats, so equal requests have equal fingerprints and keys.
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        order = list(get_args(SpeechMarkType))
        return sorted(set(value), key=lambda item: order.index(item) if item in order else -1)
    return value


SpeechMarks = Annotated[
    list[SpeechMarkType],
    BeforeValidator(_mark_types),
    Field(
        max_length=4,
        description="Speech marks to make beside the audio (Amazon Polly's types): the "
        "result's marks_url has them as JSON lines.",
    ),
]


def request_source(tenant: str) -> str:
    """The EventBridge source a tenant's requests are published with."""
    return SOURCE_CLIENT if tenant == DEFAULT_TENANT else f"{SOURCE_TENANT_PREFIX}{tenant}"


def source_tenant(source: object) -> str | None:
    """The tenant a request source stands for; None for any other source."""
    if source == SOURCE_CLIENT:
        return DEFAULT_TENANT
    if not isinstance(source, str) or not source.startswith(SOURCE_TENANT_PREFIX):
        return None
    tenant = source.removeprefix(SOURCE_TENANT_PREFIX)
    return tenant if _TENANT_PATTERN.fullmatch(tenant) else None


def _audio_format(value: object) -> object:
    # Anything but a string falls through to the enum's own error message.
    return AudioFormat.parse(value) if isinstance(value, str) else value


# Polly's names are accepted too: the schema lists them, so schema-driven clients do not
# refuse what the service takes.
_FORMAT_NAMES = [*(member.value for member in AudioFormat), *POLLY_ALIASES]

Format = Annotated[
    AudioFormat,
    BeforeValidator(_audio_format),
    WithJsonSchema({"type": "string", "enum": _FORMAT_NAMES}),
    Field(
        description="Audio format; any letter case is accepted, and Polly's names "
        "ogg_vorbis and ogg_opus. pcm (signed 16-bit little-endian mono), mulaw and alaw "
        "(G.711, 8000 Hz) are raw, without a header."
    ),
]


def _offered_rate(value: int) -> int:
    if value not in SAMPLE_RATES:
        raise ValueError(f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))}")
    return value


SampleRate = Annotated[
    int,
    Field(
        strict=True,
        description="Output sample rate in Hz (default: the format's; the voice's own rate "
        "for wav, flac, pcm, ogg and mp3, 48000 for opus, 8000 for mulaw and alaw). opus "
        "takes 8000, 16000, 24000 or 48000; mulaw and alaw only 8000.",
        json_schema_extra={"enum": list(SAMPLE_RATES)},
    ),
    AfterValidator(_offered_rate),
]
Speaker = Annotated[
    Annotated[int, Field(strict=True, ge=0, le=9_999)]
    | Annotated[str, StringConstraints(min_length=1, max_length=128)],
    Field(
        description="A multi-speaker voice's speaker, by name or id (its config's "
        "speaker_id_map; 'voxflow voices show ID' lists them). Default: the voice's "
        "default speaker; a one-speaker voice takes none."
    ),
]


def _metadata_value(value: object) -> object:
    # Checked up front so a bad value gives one clear error, not one per union member.
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and len(value) <= MAX_METADATA_VALUE_CHARS:
        return value
    raise ValueError(
        f"metadata values must be strings of at most {MAX_METADATA_VALUE_CHARS} characters, "
        "finite numbers, booleans or null"
    )


MetadataValue = Annotated[
    Annotated[str, StringConstraints(max_length=MAX_METADATA_VALUE_CHARS)]
    | int
    | float
    | bool
    | None,
    BeforeValidator(_metadata_value),
]
Metadata = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_METADATA_KEY_CHARS)],
        MetadataValue,
    ],
    Field(max_length=MAX_METADATA_KEYS, description="Echoed back unchanged in the results."),
]


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


def _truncate_message(value: object) -> object:
    if isinstance(value, str) and len(value) > MAX_MESSAGE_CHARS:
        return value[: MAX_MESSAGE_CHARS - 1] + "…"
    return value


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    schema_version: Literal[1] = 1


class _Outbound(_Contract):
    model_config = ConfigDict(extra="ignore")


def _param_field(name: str, default: float | None, description: str) -> Any:
    low, high = PARAM_LIMITS[name]
    return Field(default=default, ge=low, le=high, strict=True, description=description)


_LENGTH_LOW, _LENGTH_HIGH = PARAM_LIMITS["length_scale"]


class SynthesisParamsModel(_Contract):
    """Synthesis parameters; any left out take the voice's own defaults."""

    length_scale: float | None = _param_field(
        "length_scale", None, "Inverse speaking rate: 0.5 speaks twice as fast."
    )
    noise_scale: float | None = _param_field("noise_scale", None, "Variation in the voice.")
    noise_w: float | None = _param_field("noise_w", None, "Variation in phoneme lengths.")
    sentence_pause_s: float = _param_field(
        "sentence_pause_s",
        SynthesisParams.sentence_pause_s,
        "Silence between sentence chunks, in seconds.",
    )
    rate: float | None = Field(
        default=None,
        ge=1 / _LENGTH_HIGH,
        le=1 / _LENGTH_LOW,
        strict=True,
        description="Speaking rate, 1.0 normal: an alternative to length_scale.",
    )

    @model_validator(mode="after")
    def _engine_accepts(self) -> Self:
        if self.rate is not None and self.length_scale is not None:
            raise ValueError("give rate or length_scale, not both")
        # The engine's own checks, so the contract and the engine can never disagree.
        self.to_params()
        return self

    def to_params(self) -> SynthesisParams:
        others = {
            "noise_scale": self.noise_scale,
            "noise_w": self.noise_w,
            "sentence_pause_s": self.sentence_pause_s,
        }
        if self.rate is not None:
            return SynthesisParams.from_rate(self.rate, **others)
        return SynthesisParams(
            length_scale=self.length_scale,
            noise_scale=self.noise_scale,
            noise_w=self.noise_w,
            sentence_pause_s=self.sentence_pause_s,
        )


class S3Output(_Contract):
    """An object the result is written to as well (Polly's synthesis tasks): the request's
    audio, or with ``marks`` its speech marks, copied there before it completes."""

    # S3's bucket-name rule; what a deployment lets its role write is a prefix of it.
    bucket: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    key: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    marks: Annotated[bool, Field(strict=True)] = False


class ReplyTo(_Contract):
    """Where results go besides the service's own bus."""

    queue_url: Annotated[str, StringConstraints(pattern=r"^https?://\S{1,2040}$")] | None = None
    event_bus: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9/._:-]{1,1600}$")] | None = (
        Field(default=None, description="An event bus name or ARN.")
    )
    s3: S3Output | None = Field(
        default=None,
        description="Write the result there before completing; the request fails if that "
        "write fails. One item only: a batch's items would share the object.",
    )
    sns_topic_arn: (
        Annotated[
            str,
            StringConstraints(
                pattern=r"^arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"
            ),
        ]
        | None
    ) = Field(
        default=None,
        description="An SNS topic told of the outcome (Polly's synthesis task notification).",
    )


class SynthesisItem(_Contract):
    """One text to speak; a batch request lists several."""

    item_id: ItemId | None = Field(
        default=None,
        description="Names the item's result: request_id:item_id (default: its index).",
    )
    text: Text
    text_type: TextType = Field(default="text", description=_TEXT_TYPE_DESCRIPTION)
    voice: VoiceId = DEFAULT_VOICE
    format: Format = AudioFormat.WAV
    sample_rate: SampleRate | None = None
    speaker: Speaker | None = None
    params: SynthesisParamsModel = Field(default_factory=SynthesisParamsModel)
    metadata: Metadata = Field(default_factory=dict)
    lexicons: LexiconNames = Field(default_factory=list)
    speech_marks: SpeechMarks = Field(default_factory=list)


class ItemRequest(_Contract):
    """One item of a request, with everything the pipeline needs to answer it."""

    request_id: ResultId
    tenant: Tenant
    reply_to: ReplyTo | None
    text: Text
    voice: VoiceId
    format: Format
    params: SynthesisParamsModel
    metadata: Metadata
    batch_id: RequestId | None = Field(description="The batch request's id; None for one item.")
    # Last and defaulted: items made before requests could ask for a rate stay valid.
    sample_rate: SampleRate | None = None
    text_type: TextType = "text"
    requested_at: UtcDatetime | None = None  # SynthesisRequested.requested_at
    speaker: Speaker | None = None
    lexicons: LexiconNames = Field(default_factory=list)
    speech_marks: SpeechMarks = Field(default_factory=list)


_ITEM_FIELDS = (
    "text",
    "text_type",
    "voice",
    "format",
    "sample_rate",
    "speaker",
    "params",
    "metadata",
    "lexicons",
    "speech_marks",
)


def _new_request_id() -> str:
    return uuid4().hex


def _one_shape_schema(schema: dict[str, Any]) -> None:
    # Mirrors the validator below, so schema-driven clients learn the same rule.
    schema["oneOf"] = [
        {
            "title": "One item",
            "required": ["text"],
            "properties": {"text": {"type": "string"}, "items": {"type": "null"}},
        },
        {
            "title": "Batch",
            "required": ["items"],
            "properties": {
                "items": {"type": "array"},
                **{name: {"type": "null"} for name in _ITEM_FIELDS},
            },
        },
    ]


class SynthesisRequested(_Contract):
    """A request: one item's fields (text, text_type, voice, format, sample_rate, params,
    metadata, lexicons) or ``items``."""

    model_config = ConfigDict(json_schema_extra=_one_shape_schema)

    request_id: RequestId = Field(
        default_factory=_new_request_id, description="Default: a random uuid4 hex."
    )
    tenant: Tenant = DEFAULT_TENANT
    reply_to: ReplyTo | None = None
    text: Text | None = None
    text_type: TextType | None = Field(
        default=None, description=f"{_TEXT_TYPE_DESCRIPTION} Default: text."
    )
    voice: VoiceId | None = Field(default=None, description=f"Default: {DEFAULT_VOICE}.")
    format: Format | None = Field(
        default=None, description="Default: wav; any letter case is accepted."
    )
    sample_rate: SampleRate | None = None
    speaker: Speaker | None = None
    params: SynthesisParamsModel | None = None
    metadata: Metadata | None = None
    lexicons: LexiconNames | None = None
    speech_marks: SpeechMarks | None = None
    items: (
        Annotated[list[SynthesisItem], Field(min_length=1, max_length=MAX_BATCH_ITEMS)] | None
    ) = Field(default=None, description="A batch: one result per item.")
    # Why: a region that sees a request long after it was published (replicated to a
    # primary that just came back, redelivered) asks the other region whether it
    # answered it already (docs/failover.md, "The stale-request guard").
    requested_at: UtcDatetime | None = Field(
        default=None,
        description=(
            "When the request was published (the clients set it; an EventBridge event's "
            "time stands in when absent). Not part of the request's identity."
        ),
    )

    @model_validator(mode="after")
    def _one_shape(self) -> Self:
        if self.items is None:
            if self.text is None:
                raise ValueError("give text (one item) or items (a batch)")
            return self
        if self.reply_to is not None and self.reply_to.s3 is not None:
            raise ValueError("reply_to.s3 names one object: a batch cannot write to it")
        beside = [name for name in _ITEM_FIELDS if getattr(self, name) is not None]
        if beside:
            raise ValueError(f"a batch sets {', '.join(beside)} per item, not beside items")
        ids = Counter(self._item_id(index, item) for index, item in enumerate(self.items))
        repeated = sorted(item_id for item_id, uses in ids.items() if uses > 1)
        if repeated:
            raise ValueError(f"batch items share result ids: {', '.join(repeated[:3])}")
        return self

    @property
    def is_batch(self) -> bool:
        return self.items is not None

    def expand(self) -> list[ItemRequest]:
        """One request per item, each answered by its own result event."""
        if self.items is None:
            # Validating the top-level fields as an item fills in the item defaults.
            fields = {name: getattr(self, name) for name in _ITEM_FIELDS}
            item = SynthesisItem.model_validate(
                {name: value for name, value in fields.items() if value is not None}
            )
            return [self._item_request(item, self.request_id, batch_id=None)]
        return [
            self._item_request(item, self._item_id(index, item), batch_id=self.request_id)
            for index, item in enumerate(self.items)
        ]

    def _item_id(self, index: int, item: SynthesisItem) -> str:
        return f"{self.request_id}:{item.item_id if item.item_id is not None else index}"

    def _item_request(
        self, item: SynthesisItem, request_id: str, batch_id: str | None
    ) -> ItemRequest:
        return ItemRequest(
            request_id=request_id,
            tenant=self.tenant,
            reply_to=self.reply_to,
            text=item.text,
            text_type=item.text_type,
            voice=item.voice,
            format=item.format,
            params=item.params,
            metadata=item.metadata,
            batch_id=batch_id,
            sample_rate=item.sample_rate,
            requested_at=self.requested_at,
            speaker=item.speaker,
            lexicons=item.lexicons,
            speech_marks=item.speech_marks,
        )


_SPEAKER_ID = "speaker_id"  # present for multi-speaker voices only
_RESOLVED_NAMES = frozenset(
    field.name for field in dataclasses.fields(ResolvedParams) if field.name != _SPEAKER_ID
)


class ChunkTask(_Contract):
    """One chunk of a request to synthesize: the body of a chunks-queue message."""

    request_id: ResultId
    index: Count
    count: Annotated[int, Field(strict=True, ge=1)]
    text: Text = Field(description="The chunk's text, already normalized.")
    chunk_key: Name
    voice: VoiceId
    model_version: Name
    params: dict[str, Number] = Field(description="Resolved parameters, as ResolvedParams.")
    sample_rate: Annotated[int, Field(strict=True, gt=0)]
    # The request's own reply target, so each chunk event needs no job lookup.
    reply_to: ReplyTo | None = None
    # Set while the task waits for a job another region owns (voxflow.pipeline.handover):
    # when it was first parked, since when the job has made no progress, and how many of
    # its chunks were stored then (epoch seconds; all None for a task never parked).
    parked_at: Annotated[float, Field(ge=0)] | None = None
    stalled_since: Annotated[float, Field(ge=0)] | None = None
    parked_done: Annotated[int, Field(ge=0)] | None = None
    # The request wants speech marks: a cached chunk without its timings is made again.
    timing: Annotated[bool, Field(strict=True)] = False
    # The job holds the chunk's claim (voxflow.store.claims): once the chunk is stored,
    # the synthesize step reports it to the jobs that wait on it too.
    claimed: Annotated[bool, Field(strict=True)] = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.index >= self.count:
            raise ValueError(f"chunk index {self.index} is not below count {self.count}")
        if set(self.params) - {_SPEAKER_ID} != _RESOLVED_NAMES:
            raise ValueError(f"params must have exactly {', '.join(sorted(_RESOLVED_NAMES))}")
        return self

    def resolved_params(self) -> ResolvedParams:
        params: dict[str, Any] = dict(self.params)
        if _SPEAKER_ID in params:
            params[_SPEAKER_ID] = int(params[_SPEAKER_ID])
        return ResolvedParams(**params)


class SynthesisCompleted(_Outbound):
    """An item's audio is ready at ``url`` until ``expires_at``."""

    request_id: ResultId
    url: Name
    expires_at: UtcDatetime
    key: Name = Field(description="The audio's object key in the service's bucket.")
    duration_s: Annotated[Number, Field(ge=0)]
    bytes: Count
    format: Format
    sample_rate: Annotated[int, Field(strict=True, gt=0)]
    cache: Literal["hit", "miss"]
    region: Name
    timings: dict[str, Number] = Field(default_factory=dict, description="Stage durations in s.")
    metadata: Metadata = Field(default_factory=dict)
    tenant: Tenant = DEFAULT_TENANT
    batch_id: RequestId | None = None
    degraded: Annotated[bool, Field(strict=True)] = Field(
        default=False,
        description="True: synthesis was impossible and url is the pre-rendered "
        "'service busy' clip, not the requested speech.",
    )
    marks_url: Name | None = Field(
        default=None,
        description="The speech marks the request asked for (JSON lines, Polly's format), "
        "until expires_at; None when it asked for none.",
    )


class ChunkSynthesized(_Outbound):
    """One chunk of a request is ready: lets clients start playing before the whole."""

    request_id: ResultId
    index: Count
    count: Annotated[int, Field(strict=True, ge=1)]
    url: Name
    expires_at: UtcDatetime
    duration_s: Annotated[Number, Field(ge=0)]


class SynthesisFailed(_Outbound):
    """An item could not be synthesized; ``code`` is stable, ``message`` is for people."""

    request_id: ResultId
    code: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")] = Field(
        description="A VoxflowError code, or INVALID_REQUEST, THROTTLED, INTERNAL."
    )
    message: Annotated[
        str, BeforeValidator(_truncate_message), StringConstraints(max_length=MAX_MESSAGE_CHARS)
    ]
    tenant: Tenant = DEFAULT_TENANT
    metadata: Metadata = Field(default_factory=dict)
    batch_id: RequestId | None = None
    retryable: Annotated[bool, Field(strict=True)] = False


EventModel = SynthesisRequested | SynthesisCompleted | ChunkSynthesized | SynthesisFailed

DETAIL_TYPES: dict[str, type[EventModel]] = {
    "SynthesisRequested": SynthesisRequested,
    "SynthesisCompleted": SynthesisCompleted,
    "ChunkSynthesized": ChunkSynthesized,
    "SynthesisFailed": SynthesisFailed,
}


def detail_type(model: BaseModel | type[BaseModel]) -> str:
    """The EventBridge detail-type of an event model or instance."""
    cls = model if isinstance(model, type) else type(model)
    for name, known in DETAIL_TYPES.items():
        if cls is known:
            return name
    raise ValueError(f"{cls.__name__} is not an event model")
