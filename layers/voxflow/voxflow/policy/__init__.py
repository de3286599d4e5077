"""Content policy: a pluggable check of a request's text before any synthesis.

On when VOXFLOW_POLICY_FILE is set (a PatternPolicy over that file); any object with
``check(text, tenant) -> PolicyDecision`` can stand in for it.
"""

from voxflow.policy.patterns import PatternPolicy, normalize_for_matching, policy_of
from voxflow.policy.protocol import ContentPolicy, PolicyDecision

__all__ = [
    "ContentPolicy",
    "PatternPolicy",
    "PolicyDecision",
    "normalize_for_matching",
    "policy_of",
]
