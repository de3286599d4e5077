"""voxflow synth | voices | publish | status | redrive | sweep | tenants | keys | lexicons
| top | console (and `drill` when the development package voxflow-local is installed): argument
parsing; the work is elsewhere."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from voxflow.cli.console import add_console_commands
from voxflow.cli.keys import add_keys_commands
from voxflow.cli.lexicons import add_lexicons_commands
from voxflow.cli.ops import add_ops_commands
from voxflow.cli.tenants import add_tenants_commands
from voxflow.cli.top import add_top_command
from voxflow.cli.voices import add_voices_commands
from voxflow.errors import VoxflowError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

EXIT_BAD_INPUT = 2
# Each entry point is a callable taking the subparsers; the parser it adds sets
# ``run_plugin`` (a callable of the parsed arguments) as its default.
PLUGIN_GROUP = "voxflow.cli"


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--aws", action="store_true", help="target AWS, not the local stack")
    parser.add_argument("--endpoint-url", help="AWS endpoint (default: the local stack's)")
    parser.add_argument("--region", help="AWS region")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument("--stack", default="voxflow", help="stack name (default voxflow)")


def _speaker(raw: str) -> str | int:
    """A speaker id when it is a number, else a name."""
    return int(raw) if raw.isdigit() else raw


def build_parser(*, plugins: bool = True) -> argparse.ArgumentParser:
    """``plugins``: add the development packages' commands too (their imports cost
    about 0.4 s of a cold start; voxflow-local's pulls in boto3 and the local stack)."""
    parser = argparse.ArgumentParser(prog="voxflow", description="Neural text-to-speech.")
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="synthesize text to an audio file")
    synth.add_argument("text", nargs="?", help="text to speak; '-' or nothing reads stdin")
    synth.add_argument("-f", "--file", type=Path, help="read the text from this file")
    synth.add_argument("-o", "--output", type=Path, help="audio file to write (default out.wav)")
    synth.add_argument(
        "--ssml", action="store_true", help="the text is SSML (Amazon Polly's neural set)"
    )
    synth.add_argument("--voice", default="joe", help="voice id (see 'voxflow voices')")
    synth.add_argument(
        "--format",
        help="wav, flac, ogg, mp3, opus, pcm, mulaw or alaw (default: from -o; the raw "
        "formats also from .pcm/.raw, .ulaw and .alaw); json writes speech marks only",
    )
    synth.add_argument(
        "--sample-rate",
        type=int,
        help="output rate in Hz: 8000, 16000, 22050, 24000, 44100 or 48000 as the format "
        "allows (default: the format's)",
    )
    synth.add_argument(
        "--marks",
        help="speech marks to write beside the audio as OUTPUT.marks.json (JSON lines): "
        "a comma-separated list of word, sentence, ssml, viseme",
    )
    synth.add_argument("--rate", type=float, default=1.0, help="speaking rate, 1.0 is normal")
    synth.add_argument("--noise-scale", type=float, help="generator noise (voice default)")
    synth.add_argument("--noise-w", type=float, help="phoneme width noise (voice default)")
    synth.add_argument("--speaker", type=_speaker, help="a multi-speaker voice's speaker")
    synth.add_argument("--pause", type=float, default=0.2, help="seconds between sentences")
    synth.add_argument(
        "--raw", action="store_true", help="stream 16-bit mono PCM to stdout as it is made"
    )
    synth.add_argument(
        "--lexicon",
        type=Path,
        action="append",
        default=[],
        help="a PLS lexicon file to apply; repeat for up to five (the first match wins)",
    )
    synth.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")

    add_voices_commands(commands, add_target_arguments)

    publish = commands.add_parser("publish", help="publish a SynthesisRequested event")
    publish.add_argument("text", nargs="?", help="text to speak; '-' or nothing reads stdin")
    publish.add_argument("-f", "--file", type=Path, help="read the text from this file")
    publish.add_argument("--ssml", action="store_true", help="the text is SSML")
    publish.add_argument("--voice", default="joe")
    publish.add_argument("--format", default="mp3")
    publish.add_argument("--sample-rate", type=int, help="output rate in Hz")
    publish.add_argument("--speaker", type=_speaker, help="a multi-speaker voice's speaker")
    publish.add_argument("--request-id", help="your own request id (default: generated)")
    publish.add_argument("--wait", action="store_true", help="wait for the terminal event")
    publish.add_argument("--timeout", type=float, default=300.0, help="seconds to wait")
    publish.add_argument("--save", type=Path, help="with --wait: download the audio here")
    publish.add_argument(
        "--endpoint-id",
        help="with --aws: publish through this EventBridge global endpoint (the stack's "
        "GlobalEndpointId output; needs the voxflow[global-endpoint] extra)",
    )
    add_target_arguments(publish)

    status = commands.add_parser("status", help="show a request's job record")
    status.add_argument("request_id")
    add_target_arguments(status)

    add_ops_commands(commands, add_target_arguments)
    add_tenants_commands(commands, add_target_arguments)
    add_keys_commands(commands, add_target_arguments)
    add_console_commands(commands, add_target_arguments)
    add_lexicons_commands(commands, add_target_arguments)
    add_top_command(commands, add_target_arguments)
    if plugins:
        for plugin in _plugins():
            plugin.load()(commands)
    return parser


def _plugins() -> list["EntryPoint"]:
    """Commands that development packages add (voxflow-local's `drill`): the product
    knows them only by this entry point group, never by import."""
    from importlib.metadata import entry_points  # reads every installed package's metadata

    return sorted(entry_points(group=PLUGIN_GROUP), key=lambda plugin: plugin.name)


def _read_text(args: argparse.Namespace) -> str:
    if args.file is not None:
        try:
            return str(args.file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise VoxflowError(f"cannot read {args.file}: {error}") from error
    if args.text is None or args.text == "-":
        if sys.stdin.isatty():
            raise VoxflowError("no text: give it as an argument, with --file, or on stdin")
        return sys.stdin.read()
    return str(args.text)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """A built-in command is parsed without loading the plugins; anything else (a
    plugin's command, help, a typo) with them, so that help lists them all."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(plugins=False)
    if not words or words[0] not in _command_names(parser):
        parser = build_parser()
    return parser.parse_args(words)


def _command_names(parser: argparse.ArgumentParser) -> set[str]:
    return {
        name
        for action in parser._actions  # argparse lists subcommands nowhere else
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    # Imported per command: `synth` must not pay for boto3 and pydantic at cold start.
    try:
        run_plugin = getattr(args, "run_plugin", None)
        if run_plugin is not None:
            return int(run_plugin(args))
        if args.command == "lexicons":
            from voxflow.cli.lexicons import run_lexicons

            return run_lexicons(args)
        if args.command == "top":
            from voxflow.cli.top import run_top

            return run_top(args)
        if args.command == "tenants":
            from voxflow.cli.tenants import run_tenants

            return run_tenants(args)
        if args.command == "console":
            from voxflow.cli.console import run_console

            return run_console(args)
        if args.command == "keys":
            from voxflow.cli.keys import run_keys

            return run_keys(args)
        if args.command in ("redrive", "sweep"):
            from voxflow.cli.ops import run_redrive, run_sweep

            return run_redrive(args) if args.command == "redrive" else run_sweep(args)
        if args.command in ("publish", "status"):
            from voxflow.cli.remote import run_publish, run_status

            if args.command == "status":
                return run_status(args)
            return run_publish(args, _read_text(args))
        if args.command == "voices":
            from voxflow.cli.voices import run_voices

            return run_voices(args)
        from voxflow.cli.engine_start import start_engine

        # First: the session builds on its own thread while voxflow.cli.synth imports.
        start = start_engine(args.voice)
        from voxflow.cli.synth import run_synth

        return run_synth(args, _read_text(args), start)
    except VoxflowError as error:
        print(f"voxflow: error [{error.code}]: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
