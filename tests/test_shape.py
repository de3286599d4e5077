"""The unit/integration split stays true: a module that starts a server, the local stack
or the real engine has those tests marked `integration` (tests/shape.py)."""

import textwrap
from pathlib import Path

import pytest
from conftest import pytest_collection_modifyitems
from shape import INTEGRATION_MODULES, uncovered

TESTS = Path(__file__).resolve().parent


def test_every_test_that_starts_a_server_is_an_integration_test() -> None:
    found = [str(u) for path in sorted(TESTS.glob("test_*.py")) for u in uncovered(path)]
    assert found == [], "start a server without the integration marker: " + ", ".join(found)


def test_the_integration_modules_exist() -> None:
    assert sorted(m for m in INTEGRATION_MODULES if not (TESTS / f"{m}.py").exists()) == []


def test_the_check_finds_a_server_started_in_a_helper_or_an_unlisted_fixture(
    tmp_path: Path,
) -> None:
    module = tmp_path / "test_example.py"
    module.write_text(
        textwrap.dedent(
            """
            import pytest

            def helper():
                with MotoServer() as moto:
                    return moto.url

            @pytest.fixture
            def server():
                yield helper()

            @pytest.fixture
            def moto():
                yield LocalStack()

            @pytest.fixture
            def uses_moto(moto):
                yield moto

            def test_inline():
                helper()

            @pytest.mark.integration
            def test_marked():
                helper()

            def test_through_a_listed_fixture(uses_moto):
                Engine(None)

            def test_pure():
                assert 1 + 1 == 2
            """
        )
    )
    assert [(u.function, u.line) for u in uncovered(module)] == [("server", 9), ("test_inline", 20)]


class Item:
    def __init__(self, module: str, fixturenames: list[str]) -> None:
        self.path = TESTS / f"{module}.py"
        self.fixturenames = fixturenames
        self.marks: list[str] = []

    def add_marker(self, mark: pytest.MarkDecorator) -> None:
        self.marks.append(mark.name)


def test_conftest_marks_by_module_and_by_fixture_in_the_closure() -> None:
    items = [
        Item("test_worker", ["tmp_path"]),  # a listed module
        Item("test_regions", ["regions", "moto", "tmp_path_factory"]),  # moto in the closure
        Item("test_regions", ["tmp_path"]),  # the pure decision table
        Item("test_fallback", ["engine", "registry", "cache_dir"]),
    ]
    pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    assert [item.marks for item in items] == [["integration"], ["integration"], [], ["integration"]]
