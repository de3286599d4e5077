"""benchmarks/cores.py: the engine's core apart, thread by thread, in real processes."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from cores import CoreSplit, pin_process

# A process with a second thread, started before it is pinned: the thread must move too.
_TWO_THREADS = (
    "import threading, time\n"
    "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
    "print('ready', flush=True)\n"
    "time.sleep(30)\n"
)


def _affinities(pid: int) -> list[set[int]]:
    return [os.sched_getaffinity(int(task.name)) for task in Path(f"/proc/{pid}/task").iterdir()]


def _split() -> CoreSplit:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("a split needs two cores")
    return CoreSplit.of_this_machine()


def test_a_process_is_pinned_with_every_thread_it_has() -> None:
    split = _split()
    child = subprocess.Popen([sys.executable, "-c", _TWO_THREADS], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        assert len(_affinities(child.pid)) == 2
        pin_process(child.pid, split.engine)
        assert _affinities(child.pid) == [set(split.engine)] * 2
        pin_process(child.pid, split.others)
        assert _affinities(child.pid) == [set(split.others)] * 2
    finally:
        child.kill()
        child.wait()
    pin_process(child.pid, split.engine)  # gone: nothing to pin, no error


def test_the_engine_core_is_apart_from_the_others_and_the_stack_is_placed_by_label() -> None:
    split = _split()
    assert split.engine
    assert split.others
    assert not split.engine & split.others
    assert split.engine | split.others == os.sched_getaffinity(0)
    runner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    moto = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.2)
        split.pin_stack(
            {runner.pid: "SynthesizeFunction/SynthesizeFunctionLongChunks#0", moto.pid: "moto"}
        )
        assert os.sched_getaffinity(runner.pid) == split.engine
        assert os.sched_getaffinity(moto.pid) == split.others
    finally:
        for process in (runner, moto):
            process.kill()
            process.wait()


def test_the_engine_alone_runs_on_its_core_and_the_caller_gets_its_cores_back() -> None:
    split = _split()
    before = os.sched_getaffinity(0)
    with split.engine_alone():
        assert os.sched_getaffinity(0) == split.engine
    assert os.sched_getaffinity(0) == before
