"""The HTTP API's settings, read once at cold start (voxflow.config declares them)."""

from dataclasses import dataclass, field

from voxflow.api.sigv4 import parse_credentials
from voxflow.config import Config
from voxflow.config.variables import (
    ACCOUNT_ID,
    API_AUTH_CACHE_S,
    API_DEFAULT_VOICE,
    API_SIGV4_CREDENTIALS,
    API_SIGV4_SECRET_PREFIX,
    API_SYNC_MAX_CHARS,
    API_TASKS_TABLE,
    API_WATCHED_QUEUES,
)
from voxflow.console.queues import parse_watched
from voxflow.errors import SettingsError

DEFAULT_SYNC_MAX_CHARS = API_SYNC_MAX_CHARS.default


@dataclass(frozen=True)
class ApiSettings:
    # The longest normalized text synthesized within one request (Lambda's time limit,
    # API Gateway's 30 s): longer ones are refused, not cut.
    sync_max_chars: int = DEFAULT_SYNC_MAX_CHARS
    default_voice: str = API_DEFAULT_VOICE.default
    # Access key id -> secret (the local stack's dummy `testing`/`testing`); unset on AWS.
    sigv4_credentials: dict[str, str] = field(default_factory=dict, repr=False)
    # Where the issued SigV4 keys' secrets are (voxflow.tenants.sigv4_keys); "": none.
    sigv4_secret_prefix: str = ""
    account_id: str = ""  # for the ARNs answered (LexiconArn)
    # Label -> URL of the queues whose depths GET /v1/health shows (the console's).
    watched_queues: dict[str, str] = field(default_factory=dict)
    # Polly's synthesis tasks (voxflow.store.tasks); None: the task routes refuse.
    tasks_table: str | None = None
    # Seconds who a key is stays known to the warm function (voxflow.ttl_cache).
    auth_cache_s: float = 0.0

    @classmethod
    def of(cls, config: Config) -> "ApiSettings":
        max_chars = config[API_SYNC_MAX_CHARS]
        if max_chars < 1:
            raise SettingsError("VOXFLOW_API_SYNC_MAX_CHARS must be positive")
        if config[API_AUTH_CACHE_S] < 0:
            raise SettingsError("VOXFLOW_API_AUTH_CACHE_S must not be negative")
        try:
            credentials = parse_credentials(config[API_SIGV4_CREDENTIALS])
        except ValueError as error:
            raise SettingsError(str(error)) from None
        try:
            watched = parse_watched(config[API_WATCHED_QUEUES])
        except ValueError as error:
            raise SettingsError(f"VOXFLOW_API_WATCHED_QUEUES: {error}") from None
        return cls(
            max_chars,
            config[API_DEFAULT_VOICE],
            credentials,
            sigv4_secret_prefix=config[API_SIGV4_SECRET_PREFIX],
            account_id=config[ACCOUNT_ID],
            watched_queues=watched,
            tasks_table=config[API_TASKS_TABLE],
            auth_cache_s=config[API_AUTH_CACHE_S],
        )
