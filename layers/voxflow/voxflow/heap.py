"""A function's cold-start heap, kept out of the garbage collector's full passes.

A handler's imports and settings (boto3's models, pydantic's validators, Powertools, the
voice's session) leave over 100,000 objects that live as long as the execution environment,
and every full collection walks all of them: in one run of `benchmarks/pipeline.py` the
local stack's runners paused 130-365 ms for each of eight (benchmarks/NOTES.md, session
15). ``freeze_cold_start`` moves everything alive into the permanent generation
(``gc.freeze``), which collections skip; objects made afterwards are collected as usual.
It does not collect first: that would add a full pass (~65 ms) to every cold start, to
free the few cycles the imports leave behind.
"""

import gc

from voxflow.config import Config
from voxflow.config import variables as env


def freeze_cold_start(config: Config) -> None:
    """Call once, at the end of a handler module's initialization. Only in a function's
    execution environment (Lambda sets ``AWS_LAMBDA_FUNCTION_NAME``, and so do the local
    stack's runners): a test or a tool that imports a handler keeps its heap as it is."""
    if config.is_set(env.AWS_LAMBDA_FUNCTION_NAME):
        gc.freeze()


def freeze_warm_process() -> int:
    """Freeze now: for a long-running process once it is warm (the GPU worker, after its
    warm-up phrase), which is no Lambda environment. The objects frozen so far."""
    gc.freeze()
    return gc.get_freeze_count()
