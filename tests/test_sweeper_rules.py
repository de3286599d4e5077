"""The sweeper's rules (voxflow.ops.sweeper.rule, owned_here) without a table: which
stuck jobs are assembled, given their lost chunks again, or failed STUCK."""

import pytest

from voxflow.ops.sweeper import REQUEUE_SWEEPS, Step, owned_here, rule


def test_every_chunk_done_is_assembled_whatever_the_sweeps() -> None:
    for sweeps in (0, REQUEUE_SWEEPS, 5):
        assert rule(3, [2, 0, 1], sweeps).step is Step.ASSEMBLE


def test_missing_chunks_on_the_first_sweep_are_queued_again_in_order() -> None:
    found = rule(5, [1, 3], 0)
    assert (found.step, found.missing) == (Step.REQUEUE, [0, 2, 4])


def test_missing_chunks_after_the_requeue_sweeps_fail_with_the_count() -> None:
    found = rule(4, [0], REQUEUE_SWEEPS)
    assert (found.step, found.missing) == (Step.FAIL, [1, 2, 3])
    assert found.message == f"stuck: 3 of 4 chunks not done after {REQUEUE_SWEEPS} sweeps"


@pytest.mark.parametrize("sweeps", [0, REQUEUE_SWEEPS])
def test_a_job_planned_without_chunks_fails_at_once(sweeps: int) -> None:
    found = rule(0, [], sweeps)
    assert (found.step, found.message) == (Step.FAIL, "stuck: planned without chunks")


def test_done_indices_beyond_the_count_do_not_make_a_job_complete() -> None:
    assert rule(2, [1, 2], 0).missing == [0]


@pytest.mark.parametrize(
    ("owner", "here", "ours"),
    [
        (None, "us-east-1", True),
        ("us-east-1", "us-east-1", True),
        ("us-west-2", "us-east-1", False),
    ],
)
def test_each_region_sweeps_only_the_jobs_it_owns(owner: str | None, here: str, ours: bool) -> None:
    assert owned_here(owner, here) is ours
