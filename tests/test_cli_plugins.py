"""The CLI loads the development packages' commands only when they are asked for: a
built-in command (synth above all, whose cold start is measured) never pays their imports."""

import argparse
import importlib
from typing import Any

import pytest

# voxflow.cli re-exports main(), which shadows the module of the same name.
cli_main = importlib.import_module("voxflow.cli.main")


class FakePlugin:
    """An entry point whose command is `fake`; counts how often it is loaded."""

    def __init__(self) -> None:
        self.loads = 0

    def load(self) -> Any:
        self.loads += 1

        def add(commands: Any) -> None:
            parser: argparse.ArgumentParser = commands.add_parser("fake", help="a plugin")
            parser.set_defaults(run_plugin=lambda _args: 7)

        return add


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> FakePlugin:
    fake = FakePlugin()
    monkeypatch.setattr(cli_main, "_plugins", lambda: [fake])
    return fake


def test_a_built_in_command_is_parsed_without_loading_plugins(plugin: FakePlugin) -> None:
    args = cli_main._parse(["synth", "Hello.", "--raw"])

    assert args.command == "synth"
    assert args.raw
    assert plugin.loads == 0


def test_a_plugin_command_loads_the_plugins_and_runs(plugin: FakePlugin) -> None:
    assert cli_main.main(["fake"]) == 7
    assert plugin.loads == 1


def test_help_and_unknown_commands_see_the_plugins(
    plugin: FakePlugin, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli_main._parse(["--help"])
    assert "fake" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli_main._parse(["no-such-command"])
    assert plugin.loads == 2
