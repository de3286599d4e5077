"""Polly's speech marks, lexicons and their routes through clients nobody here wrote:
boto3's polly client and the AWS CLI (`aws polly ...`, a subprocess), pointed at the
local API server over moto server and the real voice (noise off)."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_harness import ApiHarness
from botocore.exceptions import ClientError

from voxflow.audio import decode
from voxflow.engine import Engine
from voxflow.marks import SpeechMark, from_json_lines
from voxflow.marks.speech import speech_marks
from voxflow.settings import EngineSettings
from voxflow.text import normalize_mapped, split_into_chunks

TEXT = "Zoë met 3 friends at the café. They talked until dusk."
PAUSE_S = 0.2  # joe's sentence pause
AWS = Path(sys.executable).with_name("aws")

W3C = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
    alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>
  <lexeme><grapheme>tomato</grapheme><phoneme>təˈmɑːtoʊ</phoneme></lexeme>
</lexicon>"""


def core_marks(engine: Engine, text: str, types: tuple[Any, ...]) -> list[SpeechMark]:
    """The core's marks for ``text``, made in this process as the CLI makes them."""
    mapped = normalize_mapped(text)
    chunks = list(
        engine.synthesize(split_into_chunks(mapped.text, EngineSettings().chunk_max_chars), "joe")
    )
    return speech_marks(text, mapped, chunks, PAUSE_S, types)


def check_marks(marks: list[SpeechMark], text: str, duration_ms: float) -> None:
    """Word marks are the written words in order, their byte offsets slice them out of
    the UTF-8 text, and times never go back and stay inside the audio."""
    raw = text.encode("utf-8")
    words = [mark for mark in marks if mark.type == "word"]
    assert [mark.value for mark in words] == [
        "Zoë",
        "met",
        "3",
        "friends",
        "at",
        "the",
        "café",
        "They",
        "talked",
        "until",
        "dusk",
    ]
    for mark in words:
        assert mark.start is not None
        assert mark.end is not None
        assert raw[mark.start : mark.end].decode("utf-8") == mark.value
    times = [mark.time for mark in marks]
    assert times == sorted(times)
    assert words[0].time < words[-1].time <= duration_ms
    sentences = [mark for mark in marks if mark.type == "sentence"]
    assert [raw[m.start : m.end].decode() for m in sentences] == [
        "Zoë met 3 friends at the café.",
        "They talked until dusk.",
    ]


# ---------------------------------------------------------------------------------
# Speech marks through boto3
# ---------------------------------------------------------------------------------


def test_marks_are_the_cores_as_polly_sends_them(api: ApiHarness, quiet_engine: Engine) -> None:
    client = api.polly()
    answer = client.synthesize_speech(
        Text=TEXT, VoiceId="joe", OutputFormat="json", SpeechMarkTypes=["sentence", "word"]
    )
    assert answer["ContentType"] == "application/x-json-stream"
    assert answer["RequestCharacters"] == len(TEXT)
    body = answer["AudioStream"].read()
    marks = from_json_lines(body)
    assert marks == core_marks(quiet_engine, TEXT, ("sentence", "word"))
    audio, rate = decode(
        client.synthesize_speech(Text=TEXT, VoiceId="joe", OutputFormat="mp3")["AudioStream"].read()
    )
    check_marks(marks, TEXT, len(audio) * 1000 / rate)
    # Polly's line format: time, type, start, end, value; visemes without offsets.
    first = json.loads(body.splitlines()[0])
    assert list(first) == ["time", "type", "start", "end", "value"]
    visemes = client.synthesize_speech(
        Text=TEXT, VoiceId="joe", OutputFormat="json", SpeechMarkTypes=["viseme"]
    )["AudioStream"].read()
    parsed = [json.loads(line) for line in visemes.splitlines()]
    assert parsed
    assert all(set(v) == {"time", "type", "value"} for v in parsed)


def test_marks_are_one_cache_with_the_event_path(api: ApiHarness) -> None:
    text = "Marks made once, by the events."
    job = api.through_events(text, "mp3", speech_marks=["word"])
    assert job.status == "completed"
    answer = api.polly().synthesize_speech(
        Text=text, VoiceId="joe", OutputFormat="json", SpeechMarkTypes=["word"]
    )
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-voxflow-cache"] == "hit"
    assert [m.value for m in from_json_lines(answer["AudioStream"].read())] == [
        "Marks",
        "made",
        "once",
        "by",
        "the",
        "events",
    ]
    # And the reverse: marks the API made are a hit on the event path.
    made = "Marks made once, by the API."
    api.polly().synthesize_speech(
        Text=made, VoiceId="joe", OutputFormat="json", SpeechMarkTypes=["word"]
    )
    assert api.through_events(made, "mp3", speech_marks=["word"]).cache == "hit"


def test_ssml_marks_point_into_the_markup_as_sent(api: ApiHarness) -> None:
    """TextType=ssml with marks: word offsets slice the SSML's own bytes (a <sub> is one
    word over its written text), and a <mark/> after a break is heard where it ends."""
    ssml = (
        '<speak>Hello <sub alias="World Wide Web">WWW</sub> fans.'
        '<break time="600ms"/><mark name="after"/>Welcome back.</speak>'
    )
    body = (
        api.polly()
        .synthesize_speech(
            Text=ssml,
            TextType="ssml",
            VoiceId="joe",
            OutputFormat="json",
            SpeechMarkTypes=["word", "ssml"],
        )["AudioStream"]
        .read()
    )
    marks = from_json_lines(body)
    raw = ssml.encode("utf-8")
    words = [mark for mark in marks if mark.type == "word"]
    assert [raw[m.start : m.end].decode() for m in words] == [
        "Hello",
        "WWW",
        "fans",
        "Welcome",
        "back",
    ]
    (mark,) = [m for m in marks if m.type == "ssml"]
    assert mark.value == "after"
    fans, welcome = words[2], words[3]
    assert fans.time < mark.time <= welcome.time
    assert mark.time - fans.time >= 600  # the break lies between them


def test_marks_errors_are_the_models(api: ApiHarness) -> None:
    client = api.polly()
    cases: dict[str, dict[str, Any]] = {
        "MarksNotSupportedForFormatException": {
            "OutputFormat": "ogg_vorbis",
            "SpeechMarkTypes": ["word"],
        },
        "SsmlMarksNotSupportedForTextTypeException": {
            "OutputFormat": "json",
            "SpeechMarkTypes": ["ssml"],
        },
        "ValidationException": {"OutputFormat": "json"},
    }
    for code, fields in cases.items():
        with pytest.raises(ClientError) as refused:
            client.synthesize_speech(Text=TEXT, VoiceId="joe", **fields)
        assert refused.value.response["Error"]["Code"] == code, fields
        assert "café" not in str(refused.value)


# ---------------------------------------------------------------------------------
# Lexicons through boto3: the four routes, then a request naming one
# ---------------------------------------------------------------------------------


def test_lexicon_routes_keep_pollys_contract(api: ApiHarness) -> None:
    client = api.polly()
    client.put_lexicon(Name="acme", Content=W3C)
    got = client.get_lexicon(Name="acme")
    assert got["Lexicon"] == {"Name": "acme", "Content": W3C}
    attributes = got["LexiconAttributes"]
    assert (attributes["Alphabet"], attributes["LanguageCode"]) == ("ipa", "en-US")
    assert (attributes["LexemesCount"], attributes["Size"]) == (2, len(W3C))
    # The deployment's account (moto's here; VOXFLOW_ACCOUNT_ID, AWS::AccountId, on AWS).
    assert attributes["LexiconArn"] == f"arn:aws:polly:us-east-1:{api.account}:lexicon/acme"
    assert attributes["LastModified"].year >= 2025  # a datetime: botocore parsed it
    client.put_lexicon(Name="zeta", Content=W3C)
    listed = client.list_lexicons()["Lexicons"]
    assert [lexicon["Name"] for lexicon in listed] == ["acme", "zeta"]
    assert listed[0]["Attributes"]["LexemesCount"] == 2
    client.delete_lexicon(Name="zeta")
    assert [lexicon["Name"] for lexicon in client.list_lexicons()["Lexicons"]] == ["acme"]
    with pytest.raises(client.exceptions.LexiconNotFoundException):
        client.get_lexicon(Name="zeta")
    with pytest.raises(client.exceptions.LexiconNotFoundException):
        client.delete_lexicon(Name="zeta")


def test_lexicon_list_pages_with_next_token(api: ApiHarness) -> None:
    client = api.polly()
    names = [f"page{index:02d}" for index in range(30)]
    for name in names:
        api.pipeline.lexicons.put(name, W3C)  # type: ignore[union-attr]
    try:
        pages = client.get_paginator("list_lexicons").paginate()
        seen = [lexicon["Name"] for page in pages for lexicon in page["Lexicons"]]
        assert [name for name in seen if name.startswith("page")] == names
        with pytest.raises(client.exceptions.InvalidNextTokenException):
            client.list_lexicons(NextToken="not a token")
    finally:
        for name in names:
            api.pipeline.lexicons.delete(name)  # type: ignore[union-attr]


def test_bad_lexicons_are_refused_with_pollys_errors(api: ApiHarness) -> None:
    client = api.polly()
    alphabet = W3C.replace('alphabet="ipa"', 'alphabet="arpabet"')
    long_alias = W3C.replace("World Wide Web Consortium", "word " * 30)
    cases = {
        "InvalidLexiconException": "<lexicon>not pls</lexicon>",
        "UnsupportedPlsAlphabetException": alphabet,
        "LexiconSizeExceededException": W3C + " " * 4000,
        "MaxLexemeLengthExceededException": long_alias,
    }
    for code, content in cases.items():
        with pytest.raises(ClientError) as refused:
            client.put_lexicon(Name="bad", Content=content)
        assert refused.value.response["Error"]["Code"] == code
    with pytest.raises(client.exceptions.LexiconNotFoundException):
        client.get_lexicon(Name="bad")  # nothing was stored


def test_a_request_naming_a_lexicon_speaks_its_alias(api: ApiHarness, quiet_engine: Engine) -> None:
    client = api.polly()
    client.put_lexicon(Name="w3c", Content=W3C)

    def pcm(text: str, **fields: Any) -> np.ndarray:
        answer = client.synthesize_speech(
            Text=text, VoiceId="joe", OutputFormat="pcm", SampleRate="22050", **fields
        )
        return np.frombuffer(answer["AudioStream"].read(), dtype="<i2")

    named = pcm("The W3C met.", LexiconNames=["w3c"])
    spelled = pcm("The W3C met.")
    alias = pcm("The World Wide Web Consortium met.")
    assert np.array_equal(named, alias)  # the alias is spoken as if written
    assert len(named) > len(spelled) * 1.2  # the alias is longer to say than "W 3 C"
    with pytest.raises(client.exceptions.LexiconNotFoundException):
        client.synthesize_speech(
            Text="The W3C met.", VoiceId="joe", OutputFormat="mp3", LexiconNames=["nosuch"]
        )


# ---------------------------------------------------------------------------------
# The AWS CLI, as a subprocess
# ---------------------------------------------------------------------------------


def aws(api: ApiHarness, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(cwd),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(cwd / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "none"),
    }
    return subprocess.run(
        [str(AWS), "--endpoint-url", api.url, "polly", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_aws_cli_synthesizes_audio_and_marks(
    api: ApiHarness, quiet_engine: Engine, tmp_path: Path
) -> None:
    done = aws(
        api,
        "synthesize-speech",
        "--text", TEXT,
        "--voice-id", "joe",
        "--output-format", "mp3",
        "out.mp3",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ContentType"] == "audio/mpeg"
    audio, rate = decode((tmp_path / "out.mp3").read_bytes())
    duration_s = len(audio) / rate
    assert 2.5 < duration_s < 6.0  # two sentences of speech
    samples = audio.astype(np.float64)
    frames = samples[: len(samples) // 2205 * 2205].reshape(-1, 2205)  # 0.1 s frames
    loud = np.sqrt((frames**2).mean(axis=1)) > 500
    assert loud.mean() > 0.5  # mostly speech, not silence
    marked = aws(
        api,
        "synthesize-speech",
        "--text", TEXT,
        "--voice-id", "joe",
        "--output-format", "json",
        "--speech-mark-types", "sentence", "word",
        "--",
        "marks.json",
        cwd=tmp_path,
    )  # fmt: skip
    assert marked.returncode == 0, marked.stderr
    marks = from_json_lines((tmp_path / "marks.json").read_bytes())
    assert marks == core_marks(quiet_engine, TEXT, ("sentence", "word"))
    check_marks(marks, TEXT, duration_s * 1000)


def test_aws_cli_describes_voices_and_reports_modeled_errors(
    api: ApiHarness, tmp_path: Path
) -> None:
    done = aws(api, "describe-voices", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    voices = json.loads(done.stdout)["Voices"]
    assert [(voice["Id"], voice["LanguageCode"]) for voice in voices] == [("joe", "en-US")]
    refused = aws(
        api,
        "synthesize-speech",
        "--text", TEXT,
        "--voice-id", "joe",
        "--output-format", "mp3",
        "--lexicon-names", "nosuch",
        "--",
        "out.mp3",
        cwd=tmp_path,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "LexiconNotFoundException" in refused.stderr
    assert not (tmp_path / "out.mp3").exists()
