"""Shared fixtures (the real joe voice, loaded once per test process) and the
`integration` marker, given from tests/shape.py's sets."""

from pathlib import Path

import pytest
from shape import INTEGRATION_FIXTURES, INTEGRATION_MODULES

from voxflow.engine import Engine
from voxflow.settings import EngineSettings
from voxflow.voices import VoiceRegistry


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("voxflow-cache")


@pytest.fixture(scope="session")
def registry(cache_dir: Path) -> VoiceRegistry:
    return VoiceRegistry.default(cache_dir=cache_dir)


@pytest.fixture(scope="session")
def engine(registry: VoiceRegistry, cache_dir: Path) -> Engine:
    return Engine(registry, EngineSettings(cache_dir=cache_dir))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        if module in INTEGRATION_MODULES or INTEGRATION_FIXTURES & set(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.integration)
