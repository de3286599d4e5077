"""Amazon Polly's API as botocore models it (botocore/data/polly/*/service-2.json): the
contract the Polly routes keep, read from the installed botocore, never copied."""

from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.loaders


@dataclass(frozen=True)
class PollyContract:
    output_formats: frozenset[str]
    engines: frozenset[str]
    text_types: frozenset[str]
    speech_mark_types: frozenset[str]
    max_lexicons: int
    max_speech_mark_types: int
    task_statuses: frozenset[str]
    max_task_results: int
    # Shape name -> its modeled pattern, for the task fields botocore does not check
    # (OutputS3BucketName, OutputS3KeyPrefix, SnsTopicArn, TaskId).
    patterns: dict[str, str]
    # Modeled error code -> its HTTP status.
    errors: dict[str, int]
    # Operation name -> (method, URI).
    routes: dict[str, tuple[str, str]]

    def status_of(self, code: str) -> int:
        """A modeled error's status; AWS's common errors are 400s, or 403 for auth."""
        return self.errors.get(code, 403 if code in _AUTH_ERRORS else 400)


_AUTH_ERRORS = frozenset(
    {
        "AccessDeniedException",
        "IncompleteSignatureException",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
        "SignatureDoesNotMatchException",
        "UnrecognizedClientException",
    }
)


@cache
def polly_contract() -> PollyContract:
    model: dict[str, Any] = botocore.loaders.Loader().load_service_model("polly", "service-2")
    shapes = model["shapes"]
    return PollyContract(
        output_formats=frozenset(shapes["OutputFormat"]["enum"]),
        engines=frozenset(shapes["Engine"]["enum"]),
        text_types=frozenset(shapes["TextType"]["enum"]),
        speech_mark_types=frozenset(shapes["SpeechMarkType"]["enum"]),
        max_lexicons=int(shapes["LexiconNameList"]["max"]),
        max_speech_mark_types=int(shapes["SpeechMarkTypeList"]["max"]),
        task_statuses=frozenset(shapes["TaskStatus"]["enum"]),
        max_task_results=int(shapes["MaxResults"]["max"]),
        patterns={
            name: str(shapes[name]["pattern"])
            for name in ("OutputS3BucketName", "OutputS3KeyPrefix", "SnsTopicArn", "TaskId")
        },
        errors={
            name: int(shape["error"]["httpStatusCode"])
            for name, shape in shapes.items()
            if shape.get("exception") and "error" in shape
        },
        routes={
            name: (operation["http"]["method"], operation["http"]["requestUri"])
            for name, operation in model["operations"].items()
        },
    )
