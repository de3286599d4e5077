"""``voxflow voices [list|show|add|disable|enable|remove]``: a stack's voice catalog.

The stack is found as ``publish`` finds it: the local stack's state file by default,
the CloudFormation stack with ``--aws`` or ``--endpoint-url``. ``voxflow voices`` alone
lists; without a stack to ask it lists the built-in voices only, and says so.
"""

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from voxflow.errors import SettingsError, UnknownVoice, VoiceLoadError, VoiceTaken

if TYPE_CHECKING:
    from voxflow.voices.catalog import CatalogEntry, VoicesTable
    from voxflow.voices.store import VoiceObjects

EXIT_NOT_FOUND = 1


def add_voices_commands(commands: Any, add_target_arguments: Any) -> None:
    voices = commands.add_parser("voices", help="the voices: list, show, add, disable, remove")
    # `voxflow voices` alone lists the local stack's voices (the subcommands take flags).
    voices.set_defaults(aws=False, endpoint_url=None, region=None, profile=None, stack="voxflow")
    actions = voices.add_subparsers(dest="voices_command")
    listing = actions.add_parser("list", help="every voice: built in and the stack's catalog")
    show = actions.add_parser("show", help="one voice's entry")
    show.add_argument("voice_id")
    add = actions.add_parser("add", help="check, upload and register a Piper voice")
    add.add_argument("model", type=Path, help="the voice's .onnx file")
    add.add_argument("--config", type=Path, help="its config (default: MODEL.onnx.json)")
    add.add_argument("--id", dest="voice_id", required=True, help="the id requests will use")
    disable = actions.add_parser("disable", help="new requests for it fail VOICE_DISABLED")
    disable.add_argument("voice_id")
    enable = actions.add_parser("enable", help="take a disabled voice back into use")
    enable.add_argument("voice_id")
    remove = actions.add_parser("remove", help="unregister a voice and delete its files")
    remove.add_argument("voice_id")
    for parser in (listing, show, add, disable, enable, remove):
        add_target_arguments(parser)


def run_voices(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    command = args.voices_command or "list"
    if command == "list":
        return _list(args, out)
    catalog, objects = _stack_catalog(args)
    if command == "add":
        entry = add_voice(catalog, objects, args.voice_id, args.model, args.config)
        out.write(_line(entry) + "\n")
        return 0
    if command == "show":
        found = catalog.entry(args.voice_id)
        if found is None:
            raise UnknownVoice(f"no voice {args.voice_id!r} in {catalog.table}")
        out.write(_details(found))
        return 0
    if command in ("disable", "enable"):
        changed = catalog.set_enabled(args.voice_id, command == "enable")
        if changed is None:
            raise UnknownVoice(f"no voice {args.voice_id!r} in {catalog.table}")
        out.write(_line(changed) + "\n")
        return 0
    removed = catalog.remove(args.voice_id)
    if removed is None:
        raise UnknownVoice(f"no voice {args.voice_id!r} in {catalog.table}")
    objects.delete(removed)
    out.write(f"{removed.voice_id}\tremoved\n")
    return 0


def add_voice(
    catalog: "VoicesTable",
    objects: "VoiceObjects",
    voice_id: str,
    model: Path,
    config: Path | None,
) -> "CatalogEntry":
    """Checks, uploads, registers: on any failure nothing stays registered or uploaded."""
    from voxflow.voices.check import check_voice
    from voxflow.voices.registry import BUILTIN_VOICE_ID, VOICE_ID_CHARS

    if not voice_id or len(voice_id) > 64 or set(voice_id) - VOICE_ID_CHARS:
        raise VoiceLoadError(f"voice id {voice_id!r} must be 1-64 letters, digits, '-' or '_'")
    if voice_id == BUILTIN_VOICE_ID or catalog.entry(voice_id) is not None:
        raise VoiceTaken(f"voice id {voice_id!r} is taken")
    config = config or model.with_name(model.name + ".json")
    entry = check_voice(voice_id, model, config)
    try:
        objects.upload(entry, model, config)
    except Exception as error:  # botocore's errors, OSError
        _delete_quietly(objects, entry)
        raise VoiceLoadError(f"upload failed: {_first_line(error)}") from None
    try:
        return catalog.register(entry)
    except Exception as error:
        existing = _entry_quietly(catalog, voice_id)
        # Another add of the same model under this id won the race: its objects are these.
        if existing is None or existing.model_sha256 != entry.model_sha256:
            _delete_quietly(objects, entry)
        if isinstance(error, VoiceTaken):
            raise
        raise VoiceLoadError(f"registering failed: {_first_line(error)}") from None


def _list(args: argparse.Namespace, out: TextIO) -> int:
    from voxflow.config import Config
    from voxflow.settings import EngineSettings
    from voxflow.voices import VoiceRegistry

    settings = EngineSettings.of(Config.load())
    for voice in VoiceRegistry.default(settings.voices_file, settings.cache_dir):
        config = voice.config
        speakers = ",".join(sorted(config.speaker_id_map)) or "-"
        out.write(
            f"{voice.voice_id}\t{config.espeak_voice}\t{config.sample_rate} Hz\t{speakers}\t"
            f"model {voice.model_version[:12]}\tbuilt in\t{voice.description}\n"
        )
    try:
        catalog, _ = _stack_catalog(args)
        entries = catalog.entries()
    except Exception as error:  # no stack state, or a stack that does not answer
        if args.aws or args.endpoint_url:
            raise SettingsError(f"cannot list the catalog: {_first_line(error)}") from None
        print(f"voxflow: built-in voices only: {_first_line(error)}", file=sys.stderr)
        return 0
    for entry in entries:
        out.write(_line(entry) + "\n")
    return 0


def _line(entry: "CatalogEntry") -> str:
    speakers = ",".join(sorted(entry.speakers)) or "-"
    state = "enabled" if entry.enabled else "disabled"
    return (
        f"{entry.voice_id}\t{entry.language_code}\t{entry.sample_rate} Hz\t{speakers}\t"
        f"model {entry.model_sha256[:12]}\t{state}\t{entry.language_name} {entry.quality}"
    )


def _details(entry: "CatalogEntry") -> str:
    speakers = ", ".join(f"{name}={sid}" for name, sid in sorted(entry.speakers.items()))
    rows = [
        ("id", entry.voice_id),
        ("language", f"{entry.language_code} ({entry.language_name})"),
        ("espeak voice", entry.espeak_voice),
        ("speakers", speakers or "one"),
        ("sample rate", f"{entry.sample_rate} Hz"),
        ("quality", entry.quality),
        ("model", f"{entry.model_sha256} ({entry.model_size} bytes)"),
        (
            "defaults",
            f"length_scale={entry.length_scale} noise_scale={entry.noise_scale} "
            f"noise_w={entry.noise_w}",
        ),
        ("state", "enabled" if entry.enabled else "disabled"),
        ("added", entry.added_at),
        ("files", f"{entry.model_key}, {entry.config_key}"),
    ]
    return "".join(f"{name}:\t{value}\n" for name, value in rows)


def _stack_catalog(args: argparse.Namespace) -> "tuple[VoicesTable, VoiceObjects]":
    # Imported here: the parser is built for `synth` too, which must not load boto3.
    from voxflow.aws import AwsClients
    from voxflow.cli.ops import global_table, stack_resources
    from voxflow.voices.catalog import VoicesTable
    from voxflow.voices.store import VoiceObjects

    try:
        aws, resources = stack_resources(args)
    except (OSError, ValueError) as error:
        raise SettingsError(f"no stack to ask: {_first_line(error)}") from None
    clients = AwsClients(aws)
    # The secondary has no VoicesTable of its own: it uses the primary's replica.
    table = global_table(args, resources, "VoicesTable")
    if "AudioBucket" not in resources:
        raise SettingsError(f"stack {args.stack!r} has no AudioBucket")
    return VoicesTable(clients.dynamodb, table), VoiceObjects(clients.s3, resources["AudioBucket"])


def _delete_quietly(objects: "VoiceObjects", entry: "CatalogEntry") -> None:
    try:
        objects.delete(entry)
    except Exception:  # best effort: the upload's own error is the one to report
        print(f"voxflow: could not delete {entry.model_key}", file=sys.stderr)


def _entry_quietly(catalog: "VoicesTable", voice_id: str) -> "CatalogEntry | None":
    try:
        return catalog.entry(voice_id)
    except Exception:
        return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
