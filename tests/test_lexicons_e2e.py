"""Lexicons end to end: `voxflow lexicons` (the real CLI process) stores a lexicon in the
local stack's table, and a request naming it through the event contract gets the
alias's audio from the real plan and synthesize handlers."""

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import StartStack
from plan_harness import plan_harness
from stack_cli import voxflow_cli

from voxflow.aws import AwsClients, AwsSettings
from voxflow.client import StackTarget, VoxflowClient
from voxflow.events import SynthesisCompleted, SynthesisFailed
from voxflow.lexicons.store import LexiconTable, create_lexicons_table
from voxflow.text.document import Piece, decode_chunk
from voxflow.voices import VoiceRegistry
from voxflow_local.stack import LocalStack

pytestmark = pytest.mark.slow
SILENT = {"noise_scale": 0.0, "noise_w": 0.0}  # deterministic audio, comparable bytes
PLS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
    'alphabet="ipa" xml:lang="en-US">\n'
    "  <lexeme><grapheme>W3C</grapheme><alias>{alias}</alias></lexeme>\n"
    "</lexicon>\n"
)
PHONEMES = PLS.format(alias="").replace("<alias></alias>", "<phoneme>wˌɜːldwˌaɪdwˈɛb</phoneme>")


@pytest.fixture(scope="module")
def stack(local_stack: StartStack) -> LocalStack:
    return local_stack(retry_visibility_s=1, functions=["PlanFunction", "SynthesizeFunction"])


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> Iterator[VoxflowClient]:
    clients = AwsClients(AwsSettings.local(stack.url, stack.region))
    with VoxflowClient(clients, StackTarget.from_resources(stack.stack.resources)) as voxflow:
        yield voxflow


def put(stack: LocalStack, tmp_path: Path, name: str, alias: str, content: str = "") -> str:
    path = tmp_path / f"{name}-{len(alias)}.pls"
    path.write_text(content or PLS.format(alias=alias), encoding="utf-8")
    stored = voxflow_cli(stack, "lexicons", "put", name, str(path))
    assert stored.returncode == 0, stored.stderr
    return stored.stdout.split("\t")[1]  # its sha256


def speak(client: VoxflowClient, text: str, **fields: object) -> tuple[SynthesisCompleted, bytes]:
    outcome = client.synthesize(text, timeout_s=120, format="wav", params=SILENT, **fields)
    assert isinstance(outcome.terminal, SynthesisCompleted), outcome.terminal
    with urllib.request.urlopen(outcome.terminal.url, timeout=30) as response:
        return outcome.terminal, response.read()


def test_a_stored_lexicons_alias_is_what_the_request_says(
    stack: LocalStack, client: VoxflowClient, tmp_path: Path
) -> None:
    first_hash = put(stack, tmp_path, "W3C", "World Wide Web Consortium")
    listed = voxflow_cli(stack, "lexicons", "list")
    assert listed.stdout.split("\t")[:2] == ["W3C", first_hash], listed.stdout
    fetched = voxflow_cli(stack, "lexicons", "get", "W3C")
    assert fetched.stdout == PLS.format(alias="World Wide Web Consortium")

    with_lexicon, audio = speak(client, "The W3C met.", lexicons=["W3C"])
    plain, plain_audio = speak(client, "The W3C met.")
    spelled, spelled_audio = speak(client, "The World Wide Web Consortium met.")
    assert audio != plain_audio
    assert audio == spelled_audio
    # The lexicon's hash is in the request key, whatever the text became.
    assert len({with_lexicon.key, plain.key, spelled.key}) == 3

    # A phoneme entry sounds as the same IPA given through SSML.
    put(stack, tmp_path, "Ipa", "", content=PHONEMES)
    _, ipa_audio = speak(client, "The W3C met.", lexicons=["Ipa"])
    ssml = '<speak>The <phoneme alphabet="ipa" ph="wˌɜːldwˌaɪdwˈɛb">W3C</phoneme> met.</speak>'
    _, ssml_audio = speak(client, ssml, text_type="ssml")
    assert ipa_audio == ssml_audio
    assert ipa_audio not in (plain_audio, audio)

    # Editing the lexicon changes the key and the speech.
    assert put(stack, tmp_path, "W3C", "the consortium") != first_hash
    edited, edited_audio = speak(client, "The W3C met.", lexicons=["W3C"])
    assert edited.key != with_lexicon.key
    assert edited_audio != audio


def test_a_lexicon_requests_word_marks_are_the_words_written(
    stack: LocalStack, client: VoxflowClient, tmp_path: Path
) -> None:
    put(stack, tmp_path, "Marked", "World Wide Web Consortium")
    text = "The W3C's café met."
    done, _ = speak(client, text, lexicons=["Marked"], speech_marks=["word"])
    assert done.marks_url is not None
    with urllib.request.urlopen(done.marks_url, timeout=30) as response:
        marks = [json.loads(line) for line in response.read().decode().splitlines()]
    assert [m["value"] for m in marks] == ["The", "W3C's", "café", "met"]
    assert all(text.encode()[m["start"] : m["end"]].decode() == m["value"] for m in marks)
    # "World Wide Web Consortium's" is spoken for one mark: well over a second.
    assert marks[2]["time"] - marks[1]["time"] > 1000


def test_a_request_naming_an_unknown_lexicon_fails_lexicon_not_found(
    stack: LocalStack, client: VoxflowClient, tmp_path: Path
) -> None:
    put(stack, tmp_path, "Known", "known")
    outcome = client.synthesize("Hi there.", timeout_s=120, lexicons=["Known", "Missing"])
    assert isinstance(outcome.terminal, SynthesisFailed), outcome.terminal
    assert outcome.terminal.code == "LEXICON_NOT_FOUND"
    assert "Missing" in outcome.terminal.message
    assert "Hi there" not in outcome.terminal.message

    deleted = voxflow_cli(stack, "lexicons", "delete", "Known")
    assert deleted.returncode == 0, deleted.stderr
    gone = client.synthesize("Hi there.", timeout_s=120, lexicons=["Known"])
    assert isinstance(gone.terminal, SynthesisFailed)
    assert gone.terminal.code == "LEXICON_NOT_FOUND"
    assert voxflow_cli(stack, "lexicons", "get", "Known").returncode == 1


def test_plan_changes_only_the_affected_chunk_and_keys_the_lexicons_hash(
    stack: LocalStack, registry: VoiceRegistry
) -> None:
    harness = plan_harness(stack.url, registry)
    dynamodb = stack.client("dynamodb")
    table_name = f"lexicons-{uuid.uuid4().hex[:8]}"
    create_lexicons_table(dynamodb, table_name)
    table = LexiconTable(dynamodb, table_name)
    harness.pipeline.lexicons = table
    text = "The W3C met on Monday. Nobody else was there that day."

    table.put("Web", PLS.format(alias="World Wide Web Consortium"))
    table.put("Unused", PLS.format(alias="unused").replace("W3C", "Zyx"))
    plain = harness.plan(text)
    aliased = harness.plan(text, lexicons=["Web"])
    assert aliased.chunk_texts is not None
    assert aliased.chunk_texts[0].startswith("The World Wide Web Consortium met")
    assert aliased.chunk_keys[0] != plain.chunk_keys[0]
    assert aliased.chunk_keys[1:] == plain.chunk_keys[1:]  # unaffected: still shared
    assert aliased.key != plain.key

    # A lexicon that matches nothing still names its content in the request key.
    unused = harness.plan(text, lexicons=["Unused"])
    assert unused.chunk_keys == plain.chunk_keys
    assert unused.key != plain.key
    # Order matters: it is part of the request key.
    both = harness.plan(text, lexicons=["Web", "Unused"])
    assert both.key != harness.plan(text, lexicons=["Unused", "Web"]).key

    table.put("Web", PLS.format(alias="the consortium"))
    edited = harness.plan(text, lexicons=["Web"])
    assert edited.key != aliased.key
    assert edited.chunk_keys[0] != aliased.chunk_keys[0]

    # A phoneme entry reaches the chunk as IPA, as SSML's <phoneme> does.
    table.put("Ipa", PHONEMES)
    ipa = harness.plan(text, lexicons=["Ipa"])
    assert decode_chunk(ipa.chunk_texts[0]) == (
        Piece("text", "The"),
        Piece("phonemes", "wˌɜːldwˌaɪdwˈɛb"),
        Piece("text", "met on Monday."),
    )
    ssml = '<speak>The <phoneme alphabet="ipa" ph="wˌɜːldwˌaɪdwˈɛb">W3C</phoneme> met on Monday.'
    via_ssml = harness.plan(ssml + " Nobody else was there that day.</speak>", text_type="ssml")
    assert via_ssml.chunk_keys == ipa.chunk_keys
