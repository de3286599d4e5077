"""The HTTP API's settings, read once at cold start."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from voxflow.api.sigv4 import parse_credentials
from voxflow.errors import SettingsError
from voxflow.events.models import DEFAULT_VOICE

DEFAULT_SYNC_MAX_CHARS = 4096


@dataclass(frozen=True)
class ApiSettings:
    # The longest normalized text synthesized within one request (Lambda's time limit,
    # API Gateway's 30 s): longer ones are refused, not cut.
    sync_max_chars: int = DEFAULT_SYNC_MAX_CHARS
    default_voice: str = DEFAULT_VOICE
    # Access key id -> secret, checked in the function (the local stack's dummy
    # `testing`/`testing`). Unset on AWS: API Gateway's IAM authorizer checks signatures.
    sigv4_credentials: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ApiSettings":
        env = os.environ if environ is None else environ
        try:
            max_chars = int(env.get("VOXFLOW_API_SYNC_MAX_CHARS", DEFAULT_SYNC_MAX_CHARS))
            credentials = parse_credentials(env.get("VOXFLOW_API_SIGV4_CREDENTIALS", ""))
        except ValueError as error:
            raise SettingsError(f"API settings: {error}") from None
        if max_chars < 1:
            raise SettingsError("VOXFLOW_API_SYNC_MAX_CHARS must be positive")
        return cls(
            sync_max_chars=max_chars,
            default_voice=env.get("VOXFLOW_API_DEFAULT_VOICE", DEFAULT_VOICE),
            sigv4_credentials=credentials,
        )
