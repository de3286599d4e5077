"""Scheduled rules, as EventBridge runs them: ``rate(...)`` periods and the event sent.

SAM turns a function's ``Type: Schedule`` event into an ``AWS::Events::Rule`` with a
``ScheduleExpression`` whose target is the function. Locally a runner process
(``python -m voxflow_local.runner --schedule``) stands in for the rule: it invokes
the function one period after it starts, as AWS does, then every period. A failed
invocation is logged and the next one runs all the same.

Only ``rate(...)`` is run; ``cron(...)`` would need a cron parser (a dependency) and
the deployer skips it with a warning. Invocations run one at a time in the process:
one that outlasts the period makes the ticks it overran be skipped, where AWS would
start them concurrently.
"""

import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("voxflow_local.scheduler")

_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
# How often a waiting schedule looks at its stop flag.
_STOP_POLL_S = 0.25


class UnsupportedScheduleError(ValueError):
    pass


def schedule_period_s(expression: str) -> float:
    """Seconds between the invocations of ``rate(N unit)``; raises for anything else."""
    text = expression.strip()
    if text.startswith("cron("):
        raise UnsupportedScheduleError(f"{expression}: cron schedules are not run locally")
    match = _RATE.fullmatch(text)
    if match is None or int(match[1]) == 0:
        raise UnsupportedScheduleError(
            f"{expression}: not rate(N minute|minutes|hour|hours|day|days)"
        )
    return float(int(match[1]) * _UNIT_S[match[2].removesuffix("s")])


def scheduled_event(
    rule_arn: str, account_id: str, region: str, now: datetime | None = None
) -> dict[str, Any]:
    """The event a scheduled rule sends its target."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class ScheduleLoop:
    """Invokes ``invoke`` with a scheduled event every ``period_s``, the first time one
    period after ``run`` starts, until ``stop()`` says so."""

    def __init__(
        self,
        invoke: Callable[[dict[str, Any]], object],
        rule_arn: str,
        account_id: str,
        region: str,
        period_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if period_s <= 0:
            raise ValueError(f"a schedule's period must be positive, not {period_s}")
        self.invoke = invoke
        self.rule_arn = rule_arn
        self.account_id = account_id
        self.region = region
        self.period_s = period_s
        self._clock = clock
        self._sleep = sleep
        self.invocations = 0
        self.failures = 0

    def run(self, stop: Callable[[], bool]) -> None:
        due = self._clock() + self.period_s
        while self._wait_until(due, stop):
            self._invoke_once()
            due += self.period_s
            now = self._clock()
            if due <= now:  # the invocation overran: the ticks it covered are gone
                skipped = int((now - due) // self.period_s) + 1
                logger.warning("invocation outlasted the period: %d tick(s) skipped", skipped)
                due += skipped * self.period_s

    def _wait_until(self, due: float, stop: Callable[[], bool]) -> bool:
        """False once ``stop()`` is true; True when ``due`` has come."""
        while not stop():
            left = due - self._clock()
            if left <= 0:
                return True
            self._sleep(min(left, _STOP_POLL_S))
        return False

    def _invoke_once(self) -> None:
        self.invocations += 1
        started = self._clock()
        event = scheduled_event(self.rule_arn, self.account_id, self.region)
        try:
            self.invoke(event)
        except Exception:  # the rule fires again next period, whatever this one did
            self.failures += 1
            logger.exception("scheduled invocation %s failed", event["id"])
            return
        logger.info("scheduled invocation %s done in %.1f s", event["id"], self._clock() - started)
