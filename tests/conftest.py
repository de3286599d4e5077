"""Shared fixtures: the real joe voice, loaded once per test process."""

from pathlib import Path

import pytest

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
