"""Shared fixtures (the real joe voice, loaded once per test process, and joe with its
noise off; a module's moto server, local stack, bus tap, plan harness and HTTP API) and
the `integration` marker, given from tests/shape.py's sets."""

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest
from api_harness import ApiHarness, quiet_registry, serving
from bus_tap import tap_bus
from plan_harness import PlanHarness, plan_harness
from shape import INTEGRATION_FIXTURES, INTEGRATION_MODULES

from voxflow.client import StackTarget
from voxflow.engine import Engine
from voxflow.settings import EngineSettings
from voxflow.voices import VoiceRegistry
from voxflow_local.moto_server import MotoServer
from voxflow_local.stack import LocalStack


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("voxflow-cache")


@pytest.fixture(scope="session")
def registry(cache_dir: Path) -> VoiceRegistry:
    return VoiceRegistry.default(cache_dir=cache_dir)


@pytest.fixture(scope="session")
def engine(registry: VoiceRegistry, cache_dir: Path) -> Engine:
    return Engine(registry, EngineSettings(cache_dir=cache_dir))


@pytest.fixture(scope="session")
def quiet_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """joe with its noise at zero: its audio compares byte for byte with the API's."""
    cache_dir = tmp_path_factory.mktemp("quiet-voice")
    return Engine(quiet_registry(cache_dir), EngineSettings(cache_dir=cache_dir))


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    """A moto server over HTTP for the module's tests."""
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="module")
def api(moto: MotoServer, quiet_engine: Engine) -> Iterator[ApiHarness]:
    """The HTTP API in this process (api_harness) over the module's moto server, speaking
    with ``quiet_engine``."""
    with serving(moto.url, quiet_engine.registry, quiet_engine) as harness:
        yield harness


@pytest.fixture
def voiced_plan(moto: MotoServer, registry: VoiceRegistry, engine: Engine) -> PlanHarness:
    """A plan harness on new tables of the module's moto server, its synthesis on the
    session's loaded voice."""
    harness = plan_harness(moto.url, registry)
    harness.pipeline._engine = engine
    return harness


# `make check` runs the property tests on a tenth of their examples (the first tenth of
# the same derandomized cases); `make test` and a plain pytest run all of them.
FUZZ_SCALE = float(os.environ.get("VOXFLOW_FUZZ_SCALE", "1"))


def examples(count: int) -> int:
    """``count`` property-test examples, scaled by VOXFLOW_FUZZ_SCALE (at least 10)."""
    return max(10, round(count * FUZZ_SCALE))


class StartStack(Protocol):
    def __call__(
        self,
        *,
        retry_visibility_s: int | None = None,
        functions: Iterable[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        parameters: Mapping[str, str] | None = None,
        **options: Any,
    ) -> LocalStack: ...


@pytest.fixture(scope="module")
def local_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartStack]:
    """Starts a LocalStack (its own moto server, its logs in a folder named after the
    module) that stops when the module's tests are done. Module scope, never shared
    across modules: tests assert on stack-wide state (queue depths, dead letters, logs)."""
    module = request.module.__name__
    with contextlib.ExitStack() as running:

        def start(
            *,
            retry_visibility_s: int | None = None,
            functions: Iterable[str] | None = None,
            extra_env: Mapping[str, str] | None = None,
            parameters: Mapping[str, str] | None = None,
            **options: Any,
        ) -> LocalStack:
            stack = LocalStack(
                retry_visibility_s=retry_visibility_s,
                functions=functions,
                extra_env=extra_env,
                parameters=parameters,
                log_dir=tmp_path_factory.mktemp(f"{module}-logs"),
                **options,
            )
            return running.enter_context(stack)

        yield start


@pytest.fixture(scope="module")
def bus_tap(stack: LocalStack, request: pytest.FixtureRequest) -> str:
    """The URL of a queue that sees every voxflow event on the bus of the module's
    ``stack``, as a subscriber would (read it with bus_tap.tapped)."""
    bus = StackTarget.from_resources(stack.stack.resources).bus_name
    return tap_bus(stack, bus, f"{request.module.__name__}-tap".replace("_", "-"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        if module in INTEGRATION_MODULES or INTEGRATION_FIXTURES & set(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.integration)
