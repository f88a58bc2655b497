"""The `sendpipe` command.

Each subcommand lives next to the component it drives and is imported only
when invoked, so `sendpipe --help` stays fast and a worker process never
imports the operator (or the other way round).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from sendpipe import logs

# name -> "module:attribute" of a click command or group.
SUBCOMMANDS: dict[str, str] = {
    "stack": "sendpipe.stack.commands:stack",
    "operator": "sendpipe.operator.commands:operator",
    "providers": "sendpipe.operator.commands:providers",
    "send": "sendpipe.console.messages:send",
    "events": "sendpipe.console.messages:events",
    "generate": "sendpipe.console.generate:generate",
    "worker": "sendpipe.worker.commands:worker",
    "up": "sendpipe.console.up:up",
    "down": "sendpipe.console.up:down",
    "simulator": "sendpipe.simulator.commands:simulator",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module_name, _, attribute = self._lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sendpipe")
@click.option("--log-level", default="INFO", show_default=True, envvar="SENDPIPE_LOG_LEVEL",
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--log-format", default="text", show_default=True, envvar="SENDPIPE_LOG_FORMAT",
              type=click.Choice(["text", "json"]), help="json: one object per line, for log collectors.")
@click.option("--instance", hidden=True, help="A label in the command line that marks processes `sendpipe up` started.")
def main(log_level: str, log_format: logs.LogFormat, instance: str | None) -> None:
    """SendPipe: deliver email, SMS and WhatsApp through your own providers."""
    logs.configure(level=log_level, fmt=log_format)


if __name__ == "__main__":
    main()
