"""What a content policy is: one method, one decision."""

from dataclasses import dataclass
from typing import Protocol

from voxflow.errors import ContentRejected


@dataclass(frozen=True)
class PolicyDecision:
    allowed: bool
    # Names the rule that matched (never the text it matched), for operators and the error.
    rule: str | None = None

    @classmethod
    def allow(cls) -> "PolicyDecision":
        return cls(True)

    @classmethod
    def reject(cls, rule: str) -> "PolicyDecision":
        return cls(False, rule)

    def raise_if_rejected(self) -> None:
        if not self.allowed:
            raise ContentRejected(self.rule or "unnamed")


class ContentPolicy(Protocol):
    def check(self, text: str, tenant: str) -> PolicyDecision: ...
