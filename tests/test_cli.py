"""The voxflow CLI as a user runs it: a real process, real files, real audio."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voxflow.audio import AudioFormat, decode, encode

CLI = [sys.executable, "-m", "voxflow"]


def run_cli(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*CLI, *args],
        input=stdin.encode() if stdin is not None else None,
        capture_output=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def test_synth_mp3_holds_speech(tmp_path: Path) -> None:
    out = tmp_path / "hello.mp3"
    result = run_cli("synth", "Hello from voxflow. This is a test.", "-o", str(out))
    assert result.returncode == 0, result.stderr
    pcm, rate = decode(out.read_bytes())
    assert rate == 22050
    assert 2.0 < len(pcm) / rate < 6.0
    assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 1000  # speech, not silence
    assert b"wrote" in result.stderr


def test_marks_beside_the_audio_and_marks_only(tmp_path: Path) -> None:
    text = "It costs $49.95. Café au lait, please!"
    out = tmp_path / "speech.mp3"
    exact = ["--noise-scale", "0", "--noise-w", "0"]  # the same timings both times
    result = run_cli("synth", text, "-o", str(out), "--marks", "word,sentence", *exact)
    assert result.returncode == 0, result.stderr
    pcm, rate = decode(out.read_bytes())
    lines = [json.loads(line) for line in (tmp_path / "speech.marks.json").read_text().splitlines()]
    words = [line for line in lines if line["type"] == "word"]
    assert [w["value"] for w in words] == ["It", "costs", "$49.95", "Café", "au", "lait", "please"]
    assert [line["value"] for line in lines if line["type"] == "sentence"] == [
        "It costs $49.95.",
        "Café au lait, please!",
    ]
    assert all(text.encode()[w["start"] : w["end"]].decode() == w["value"] for w in words)
    assert words[-1]["time"] < len(pcm) * 1000 / rate

    only = tmp_path / "only.json"
    result = run_cli("synth", text, "-o", str(only), "--format", "json", "--marks", "word", *exact)
    assert result.returncode == 0, result.stderr
    assert only.read_text().splitlines() == [
        json.dumps(w, separators=(",", ":"), ensure_ascii=False) for w in words
    ]
    assert not (tmp_path / "only.marks.json").exists()


def test_marks_of_ssml_and_of_a_lexicon_request(tmp_path: Path) -> None:
    ssml = (
        '<speak>Hi <sub alias="World Wide Web">WWW</sub> <mark name="pause"/>'
        '<break time="500ms"/>fans of W3C!</speak>'
    )
    lexicon = tmp_path / "w3c.pls"
    lexicon.write_text(
        '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
        'alphabet="ipa" xml:lang="en-US"><lexeme><grapheme>W3C</grapheme>'
        "<alias>World Wide Web Consortium</alias></lexeme></lexicon>"
    )
    out = tmp_path / "ssml.json"
    marks = "word,ssml"
    args = ["--ssml", "--lexicon", str(lexicon), "--format", "json", "--marks", marks]
    result = run_cli("synth", ssml, "-o", str(out), *args)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(line["type"], line["value"]) for line in lines] == [
        ("word", "Hi"),
        ("word", "WWW"),
        ("ssml", "pause"),
        ("word", "fans"),
        ("word", "of"),
        ("word", "W3C"),
    ]
    raw = ssml.encode()
    assert raw[lines[2]["start"] : lines[2]["end"]] == b'<mark name="pause"/>'
    assert all(
        raw[w["start"] : w["end"]].decode() == w["value"] for w in lines if w["type"] == "word"
    )
    times = [line["time"] for line in lines]
    assert times == sorted(times)
    assert times[3] - times[2] >= 500  # the word after the break, after the break


def test_text_from_file_and_stdin_give_the_same_audio(tmp_path: Path) -> None:
    text = "Reading from a file works too."
    (tmp_path / "in.txt").write_text(text)
    from_file = run_cli(
        "synth",
        "-f",
        str(tmp_path / "in.txt"),
        "-o",
        str(tmp_path / "a.wav"),
        "--noise-scale",
        "0",
        "--noise-w",
        "0",
    )
    from_stdin = run_cli(
        "synth", "-o", str(tmp_path / "b.wav"), "--noise-scale", "0", "--noise-w", "0", stdin=text
    )
    assert from_file.returncode == 0, from_file.stderr
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_raw_stream_equals_the_wav_samples(tmp_path: Path) -> None:
    args = ["Two sentences. Streamed as raw samples.", "--noise-scale", "0", "--noise-w", "0"]
    raw = run_cli("synth", *args, "--raw")
    wav = run_cli("synth", *args, "-o", str(tmp_path / "c.wav"))
    assert raw.returncode == 0, raw.stderr
    assert wav.returncode == 0, wav.stderr
    pcm, _ = decode((tmp_path / "c.wav").read_bytes())
    assert np.array_equal(np.frombuffer(raw.stdout, dtype=np.int16), pcm)


def test_telephony_formats_are_the_voices_samples(tmp_path: Path) -> None:
    """pcm is the engine's own int16 samples (at zero noise, as --raw streams them);
    mulaw from a .ulaw suffix or --format is those samples resampled to 8 kHz."""
    args = ["Press one for sales.", "--noise-scale", "0", "--noise-w", "0"]
    raw = run_cli("synth", *args, "--raw")
    runs = {
        "out.pcm": [],
        "out16.raw": ["--sample-rate", "16000"],
        "out.ulaw": [],
        "call.bin": ["--format", "mulaw", "--sample-rate", "8000"],
        "call.alaw": [],
    }
    for name, extra in runs.items():
        result = run_cli("synth", *args, "-o", str(tmp_path / name), *extra)
        assert result.returncode == 0, result.stderr
    samples = np.frombuffer(raw.stdout, dtype=np.int16)
    assert samples.size > 10_000
    assert (tmp_path / "out.pcm").read_bytes() == samples.astype("<i2").tobytes()
    pcm16 = encode(samples, 22050, AudioFormat.PCM, output_rate=16000)
    assert (tmp_path / "out16.raw").read_bytes() == pcm16.data
    assert len(pcm16.data) == 2 * round(samples.size * 16000 / 22050)
    mulaw = encode(samples, 22050, AudioFormat.MULAW).data
    assert len(mulaw) == round(samples.size * 8000 / 22050)
    assert (tmp_path / "out.ulaw").read_bytes() == mulaw
    assert (tmp_path / "call.bin").read_bytes() == mulaw
    alaw = (tmp_path / "call.alaw").read_bytes()
    assert alaw == encode(samples, 22050, AudioFormat.ALAW).data
    decoded, rate = decode(alaw, AudioFormat.ALAW)
    assert rate == 8000
    assert np.sqrt(np.mean(decoded.astype(np.float64) ** 2)) > 1000  # speech, not silence


def test_rate_makes_speech_faster(tmp_path: Path) -> None:
    for name, rate in (("normal", "1.0"), ("fast", "2.0")):
        result = run_cli(
            "synth",
            "Some words to say quickly.",
            "--rate",
            rate,
            "--noise-w",
            "0",
            "-o",
            str(tmp_path / f"{name}.flac"),
        )
        assert result.returncode == 0, result.stderr
    normal, _ = decode((tmp_path / "normal.flac").read_bytes())
    fast, _ = decode((tmp_path / "fast.flac").read_bytes())
    assert len(fast) / len(normal) == pytest.approx(0.5, abs=0.12)


def test_ssml_break_lengthens_the_file_by_its_time(tmp_path: Path) -> None:
    quiet = ["--noise-scale", "0", "--noise-w", "0"]
    for name, pause in (("short", "1ms"), ("long", "2001ms")):
        ssml = f"<speak>Before the pause <break time='{pause}'/> and after it.</speak>"
        result = run_cli("synth", "--ssml", ssml, *quiet, "-o", str(tmp_path / f"{name}.wav"))
        assert result.returncode == 0, result.stderr
    short, rate = decode((tmp_path / "short.wav").read_bytes())
    long, _ = decode((tmp_path / "long.wav").read_bytes())
    assert (len(long) - len(short)) / rate == pytest.approx(2.0, abs=1 / rate)


@pytest.mark.parametrize(
    ("args", "stdin", "code"),
    [
        (["synth", "   "], None, "EMPTY_TEXT"),
        (["synth", "-"], "", "EMPTY_TEXT"),
        (["synth", "Hi.", "--voice", "nobody"], None, "UNKNOWN_VOICE"),
        (["synth", "Hi.", "--format", "aiff"], None, "UNSUPPORTED_FORMAT"),
        (["synth", "Hi.", "-o", "x.xyz"], None, "UNSUPPORTED_FORMAT"),
        (["synth", "Hi.", "--rate", "0"], None, "INVALID_PARAMETER"),
        (["synth", "Hi.", "--pause", "-1"], None, "INVALID_PARAMETER"),
        (["synth", "Hi.", "-o", "a.ulaw", "--sample-rate", "16000"], None, "INVALID_PARAMETER"),
        (["synth", "Hi.", "--format", "opus", "--sample-rate", "44100"], None, "INVALID_PARAMETER"),
        (["synth", "Hi.", "--raw", "--sample-rate", "8000"], None, "INVALID_PARAMETER"),
        (["synth", "Hi.", "--format", "json"], None, "UNSUPPORTED_FORMAT"),
        (["synth", "--ssml", "<speak>Hi.<audio/></speak>"], None, "INVALID_SSML"),
        (["synth", "--ssml", "Hi."], None, "INVALID_SSML"),
        (["synth", "Hi.", "--marks", "words"], None, "INVALID_PARAMETER"),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, args: list[str], stdin: str | None, code: str
) -> None:
    result = run_cli(*args, stdin=stdin, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"voxflow: error [{code}]")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_text_too_long(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "synth", "-"],
        input=b"word " * 30,
        capture_output=True,
        timeout=60,
        env={"VOXFLOW_MAX_CHARS": "100", "PATH": "/usr/bin"},
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert b"[TEXT_TOO_LONG]" in result.stderr


def test_voices_lists_joe() -> None:
    result = run_cli("voices")
    assert result.returncode == 0
    first = result.stdout.decode().splitlines()[0].split("\t")
    assert first[0] == "joe"
    assert first[2] == "22050 Hz"
