"""A function's handler module (functions/<name>/app.py) imported as Lambda imports it,
with an environment that names made-up resources behind an endpoint nothing listens on:
its cold start builds its clients and reaches nothing."""

import importlib.util
import logging
import sys
from pathlib import Path
from types import ModuleType

import pytest

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"

OFFLINE_ENV = {
    "VOXFLOW_BUS_NAME": "bus",
    "VOXFLOW_CHUNKS_QUEUE_URL": "http://127.0.0.1:1/123456789012/chunks",
    "VOXFLOW_BUCKET": "bucket",
    "VOXFLOW_CACHE_TABLE": "cache",
    "VOXFLOW_JOBS_TABLE": "jobs",
    "VOXFLOW_AWS_ENDPOINT_URL": "http://127.0.0.1:1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "voxflow",
    "POWERTOOLS_METRICS_NAMESPACE": "voxflow",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def import_handler(function: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """functions/<function>/app.py under OFFLINE_ENV, as a module of its own (undone
    with ``monkeypatch``)."""
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location(
        f"{function}_app_under_test", FUNCTIONS / function / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    # powertools configures the service's logger once per process: a handler module
    # imported by an earlier test left its StreamHandler writing to the stdout that
    # test's capture had, so this test's capture would see nothing.
    service = logging.getLogger(OFFLINE_ENV["POWERTOOLS_SERVICE_NAME"])
    for handler in service.handlers:
        if isinstance(handler, logging.StreamHandler):
            # Not setStream: it flushes the old stream, which that capture has closed.
            handler.stream = sys.stdout
    return module
