"""The default policy: a file of blocklisted words, phrases and regular expressions.

One rule a line; blank lines and lines starting with ``#`` are skipped.
- ``re:PATTERN``: a Python regular expression, searched in the normalized text;
- anything else: a word or phrase, matched whole (not inside a longer word), with up to
  three spaces or punctuation marks allowed between its letters, so "b a d" and
  "b.a.d" match "bad".
Both sides are normalized first: NFKC (full-width and other compatibility forms become
plain letters) and case-folded. A rule is named by its line number, so neither logs
nor errors ever repeat the text that matched.
"""

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from voxflow.config import Config
from voxflow.config import variables as env
from voxflow.errors import SettingsError
from voxflow.policy.protocol import PolicyDecision

_REGEX_PREFIX = "re:"
# Letters of a blocklisted word may be split by this much filler: "b-a-d", "b  a  d".
_FILLER = r"[\W_]{0,3}"


def normalize_for_matching(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]


def _word_pattern(entry: str) -> str:
    letters = [char for char in normalize_for_matching(entry) if not char.isspace()]
    body = _FILLER.join(re.escape(char) for char in letters)
    # Whole words only: no letter or digit right before or after.
    return rf"(?<![^\W_]){body}(?![^\W_])"


class PatternPolicy:
    def __init__(self, rules: list[tuple[str, str]]) -> None:
        """``rules``: (name, line) pairs in the file's syntax."""
        self._rules = []
        for name, line in rules:
            if line.startswith(_REGEX_PREFIX):
                source = line[len(_REGEX_PREFIX) :]
            else:
                source = _word_pattern(line)
            try:
                pattern = re.compile(source)
            except re.error as error:
                raise SettingsError(f"content policy {name}: bad pattern: {error}") from error
            self._rules.append(_Rule(name, pattern))

    @classmethod
    def from_file(cls, path: Path) -> "PatternPolicy":
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise SettingsError(f"content policy file {str(path)!r}: {error}") from error
        rules = [
            (f"{path.name}:{number}", line.strip())
            for number, line in enumerate(lines, start=1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
        return cls(rules)

    def __len__(self) -> int:
        return len(self._rules)

    def check(self, text: str, tenant: str) -> PolicyDecision:  # noqa: ARG002 (one list for all)
        normalized = normalize_for_matching(text)
        for rule in self._rules:
            if rule.pattern.search(normalized):
                return PolicyDecision.reject(rule.name)
        return PolicyDecision.allow()


def policy_of(config: Config) -> PatternPolicy | None:
    """None when VOXFLOW_POLICY_FILE is unset: no policy."""
    path = config[env.POLICY_FILE]
    return PatternPolicy.from_file(path) if path else None
