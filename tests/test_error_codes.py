"""Every error code voxflow can put in a SynthesisFailed or print from the CLI is reachable,
and each is shown by a test: here for those a public function raises at once, and by
name for those that need a stack (the test named must exist, so renaming or deleting it
fails here)."""

import ast
import importlib
import pkgutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from voice_fixtures import MemoryVoiceFiles, entry_for, multi_speaker_voice

import voxflow
from voxflow.audio import AudioFormat
from voxflow.config import Config
from voxflow.engine import SynthesisParams
from voxflow.errors import VoxflowError
from voxflow.events import parse_chunk_task, parse_request
from voxflow.lexicons.pls import parse_lexicon
from voxflow.lexicons.store import resolve_lexicons
from voxflow.pipeline.failures import error_code
from voxflow.pipeline.identity import REQUEST_ID_CONFLICT
from voxflow.pipeline.publisher import EventPublisher
from voxflow.policy.patterns import PatternPolicy
from voxflow.service_settings import ServiceSettings
from voxflow.text import normalize_text
from voxflow.text.ssml import parse_ssml
from voxflow.voices import VoiceRegistry
from voxflow.voices.catalog import MemoryCatalog
from voxflow.voices.loader import VoiceLoader

TESTS = Path(__file__).resolve().parent


class _RefusingBus:
    def put_events(self, **_: Any) -> dict[str, Any]:
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}


def _publish_refused() -> None:
    from voxflow.events import SynthesisFailed

    event = SynthesisFailed(request_id="r", code="X", message="m")
    EventPublisher(_RefusingBus(), None, "bus").publish(event)


def _unknown_voice() -> None:
    VoiceRegistry().get("no-such-voice")


def _voice_files_missing() -> None:
    VoiceRegistry().add("missing", Path("/nonexistent/voice.onnx"))


def _disabled_voice(tmp: Path) -> None:
    model, config = multi_speaker_voice(tmp)
    entry = entry_for("off", model, config, enabled=False)
    loader = VoiceLoader(MemoryVoiceFiles(), tmp / "local")
    VoiceRegistry().with_catalog(MemoryCatalog([entry]), loader, 1 << 30).resolve("off")


def _id_taken(tmp: Path) -> None:
    model, config = multi_speaker_voice(tmp)
    catalog = MemoryCatalog([entry_for("taken", model, config)])
    catalog.register(entry_for("taken", model, config))


def _hash_mismatch(tmp: Path) -> None:
    model, config = multi_speaker_voice(tmp)
    files = MemoryVoiceFiles()
    entry = entry_for("tampered", model, config)
    files.upload(entry, model, config)
    files.objects[entry.model_key] += b"tampered"
    VoiceLoader(files, tmp / "local").model_file(entry)


def _in_tmp(make: Callable[[Path], None]) -> Callable[[], None]:
    def run() -> None:
        with tempfile.TemporaryDirectory() as folder:
            make(Path(folder))

    return run


class _NoLexicons:
    def get(self, _name: str) -> None:
        return None


def _rejected_by_policy() -> None:
    PatternPolicy([("rule-1", "forbidden")]).check("a forbidden word", "t").raise_if_rejected()


# Raised at once by a public function: (code, what raises it).
RAISED: dict[str, Callable[[], object]] = {
    "INVALID_INPUT": lambda: parse_chunk_task("{}"),
    "INVALID_REQUEST": lambda: parse_request("not json"),
    "EMPTY_TEXT": lambda: normalize_text("!!! ..."),
    "TEXT_TOO_LONG": lambda: parse_request({"text": "a" * 100_001}),
    "UNKNOWN_VOICE": _unknown_voice,
    "UNSUPPORTED_FORMAT": lambda: AudioFormat.parse("aiff"),
    "INVALID_PARAMETER": lambda: SynthesisParams(length_scale=99.0),
    "BAD_SETTINGS": lambda: ServiceSettings.of(Config.load({})),
    "VOICE_LOAD_FAILED": _voice_files_missing,
    "CONTENT_REJECTED": _rejected_by_policy,
    "PUBLISH_FAILED": _publish_refused,
    "INVALID_SSML": lambda: parse_ssml("<speak><audio/></speak>"),
    "VOICE_DISABLED": _in_tmp(_disabled_voice),
    "VOICE_EXISTS": _in_tmp(_id_taken),
    "VOICE_HASH_MISMATCH": _in_tmp(_hash_mismatch),
    "INVALID_LEXICON": lambda: parse_lexicon("L", "<lexicon"),
    "LEXICON_NOT_FOUND": lambda: resolve_lexicons(_NoLexicons(), ["Missing"]),
}
# Shown end to end by these tests (module, test function).
END_TO_END: dict[str, tuple[str, str]] = {
    "SYNTHESIS_FAILED": (
        "test_pipeline_e2e.py",
        "test_poison_chunk_ends_in_dlq_and_synthesis_failed",
    ),
    "THROTTLED": ("test_policy_audit.py", "test_quota_policy_and_audit_end_to_end"),
    "TIMEOUT": ("test_pipeline_e2e.py", "test_reply_arriving_during_another_wait_is_kept"),
    "STUCK": ("test_ops.py", "test_a_hopeless_job_fails_stuck_on_its_second_sweep"),
    REQUEST_ID_CONFLICT: (
        "test_request_identity.py",
        "test_another_tenant_reusing_an_id_gets_a_conflict_and_never_touches_the_owner",
    ),
    "TENANT_MISMATCH": (
        "test_tenants_e2e.py",
        "test_an_event_naming_another_tenant_fails_tenant_mismatch",
    ),
    "OUTPUT_WRITE_FAILED": (
        "test_api_tasks.py",
        "test_a_bucket_gone_before_the_write_fails_the_task",
    ),
}
# Shown end to end as well as raised above.
ALSO_END_TO_END = {
    "INVALID_SSML": ("test_pipeline_e2e.py", "test_ssml_request_end_to_end"),
    "TEXT_TOO_LONG": (
        "test_request_identity.py",
        "test_a_text_over_the_wire_limit_is_text_too_long",
    ),
    "LEXICON_NOT_FOUND": (
        "test_lexicons_e2e.py",
        "test_a_request_naming_an_unknown_lexicon_fails_lexicon_not_found",
    ),
}


def _declared_codes() -> set[str]:
    """The code of every VoxflowError class in the package, and the failure codes that
    are constants (STUCK, REQUEST_ID_CONFLICT)."""
    for module in pkgutil.walk_packages(voxflow.__path__, "voxflow."):
        emulation = any(f".{part}" in module.name for part in ("local", "drill", "faults"))
        if emulation or module.name.endswith("__main__"):
            continue  # raises nothing a client sees; a __main__ would run
        importlib.import_module(module.name)
    codes: set[str] = set()
    pending: list[type[VoxflowError]] = [VoxflowError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return codes | {"STUCK", REQUEST_ID_CONFLICT}


@pytest.mark.parametrize("code", sorted(RAISED))
def test_code_is_raised(code: str) -> None:
    with pytest.raises(VoxflowError) as raised:
        RAISED[code]()
    assert raised.value.code == code


def test_an_unexpected_error_is_internal() -> None:
    assert error_code(RuntimeError("boom")) == "INTERNAL"


@pytest.mark.parametrize("code", sorted(END_TO_END | ALSO_END_TO_END))
def test_code_has_an_end_to_end_test(code: str) -> None:
    module, name = (END_TO_END | ALSO_END_TO_END)[code]
    tree = ast.parse((TESTS / module).read_text())
    names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert name in names, f"{module} has no {name}"
    assert code in (TESTS / module).read_text() or code in {"TIMEOUT", REQUEST_ID_CONFLICT}


def test_every_code_is_shown() -> None:
    shown = set(RAISED) | set(END_TO_END) | {"INTERNAL"}
    assert _declared_codes() <= shown, sorted(_declared_codes() - shown)
