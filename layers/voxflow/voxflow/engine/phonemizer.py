"""espeak-ng phonemization, serialized.

espeak-ng keeps its state in process globals (voice, buffers), so concurrent
calls from threads corrupt each other: every call goes through one lock.
"""

import threading
import unicodedata
from pathlib import Path

from piper.phoneme_ids import phonemes_to_ids
from piper.phonemize_espeak import (
    ESPEAK_DATA_DIR,
    EspeakPhonemizer,
    _merge_known_vowel_clusters,  # what piper does to espeak's phonemes, done to IPA too
)

from voxflow.voices.config import VoiceConfig

_lock = threading.Lock()
_phonemizer: EspeakPhonemizer | None = None


def phonemize(text: str, config: VoiceConfig, data_dir: Path = ESPEAK_DATA_DIR) -> list[list[str]]:
    """Text to phonemes, one list per sentence as espeak splits it."""
    global _phonemizer  # noqa: PLW0603 - one espeak instance per process, by espeak's design
    with _lock:
        if _phonemizer is None:
            _phonemizer = EspeakPhonemizer(data_dir)
        sentences = _phonemizer.phonemize(
            config.espeak_voice, text, vowel_clusters=config.vowel_clusters
        )
    return [sentence for sentence in sentences if sentence]


def phoneme_ids(text: str, config: VoiceConfig) -> list[list[int]]:
    """Text to model input ids, one list per sentence."""
    return [ids for _, ids in utterances(text, config)]


def utterances(text: str, config: VoiceConfig) -> list[tuple[list[str], list[int]]]:
    """Text to (phonemes, model input ids), one pair per sentence: the phonemes are what
    speech marks time."""
    return [
        (sentence, phonemes_to_ids(sentence, config.phoneme_id_map))
        for sentence in phonemize(text, config)
    ]


def ipa_phonemes(ipa: str, config: VoiceConfig) -> list[str]:
    """IPA given directly (SSML <phoneme>, a lexicon entry) as the voice's phonemes,
    split into code points as piper splits espeak's. Symbols the voice has no id for
    are left out here (piper would log each one, and the phonemes are request text)."""
    phonemes = list(unicodedata.normalize("NFD", ipa))
    if config.vowel_clusters:
        phonemes = _merge_known_vowel_clusters(phonemes, config.vowel_clusters)
    return [phoneme for phoneme in phonemes if phoneme in config.phoneme_id_map]
