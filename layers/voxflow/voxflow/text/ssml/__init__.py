"""SSML (Amazon Polly's neural-voice set) to a SpeechDocument."""

from voxflow.text.ssml.parse import MAX_DEPTH, MAX_SSML_CHARS, parse_ssml

__all__ = ["MAX_DEPTH", "MAX_SSML_CHARS", "parse_ssml"]
