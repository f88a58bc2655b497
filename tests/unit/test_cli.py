"""The `sendpipe` command: every registered subcommand imports and documents itself; bad input exits non-zero."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from sendpipe.cli import SUBCOMMANDS, main

EXPECTED = {"up", "down", "send", "events", "providers", "operator", "worker", "simulator", "stack", "generate"}


def test_every_documented_command_is_registered() -> None:
    assert EXPECTED <= set(SUBCOMMANDS)


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_each_subcommand_imports_and_has_help(name: str) -> None:
    command = main.get_command(click.Context(main), name)
    assert isinstance(command, click.Command)
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert (command.help or "").strip(), f"`sendpipe {name}` has no help text"


def test_an_invalid_message_is_refused_with_the_field_named() -> None:
    result = CliRunner().invoke(main, ["send", "-n", "acme", "-c", "sms", "--to", "0712", "--text", "hi"])
    assert result.exit_code != 0
    assert "sms.to" in result.output and "E.164" in result.output
