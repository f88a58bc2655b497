"""The Dockerfile agrees with the package and the chart (no Docker here, so what can be checked statically).

A clean-checkout `pip wheel .` from exactly the files the Dockerfile copies
was verified by hand (see docs/kind.md); these tests keep the pieces from
drifting apart: the copied paths, the entrypoint, the user, the commands.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import click
import pytest

from sendpipe import cli
from tests.chart.conftest import REPO, Helm, one

DOCKERFILE = (REPO / "Dockerfile").read_text()


def _instructions(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in DOCKERFILE.splitlines() if line.startswith(f"{name} ")]


def test_copied_sources_exist_and_are_what_the_wheel_needs() -> None:
    copied = [path for line in _instructions("COPY") if not line.startswith("--from")
              for path in line.split()[:-1]]
    assert copied == ["pyproject.toml", "README.md", "sendpipe"]
    assert all((REPO / path).exists() for path in copied)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["readme"] == "README.md"
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["sendpipe*"]
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def test_entrypoint_is_the_packages_command() -> None:
    (entrypoint,) = _instructions("ENTRYPOINT")
    assert json.loads(entrypoint) == ["sendpipe"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["sendpipe"] == "sendpipe.cli:main"


@pytest.mark.parametrize("component", ["operator", "worker"])
def test_chart_args_are_cli_commands_and_user_matches(helm: Helm, component: str) -> None:
    objects = helm.template()
    (container,) = one(objects, "Deployment", f"-{component}")["spec"]["template"]["spec"]["containers"]
    (command,) = container["args"]
    with click.Context(cli.main) as ctx:
        found: Any = cli.main.get_command(ctx, command)
    assert isinstance(found, click.Command) and not isinstance(found, click.Group)
    (user,) = _instructions("USER")
    assert user == f"{container['securityContext']['runAsUser']}:{container['securityContext']['runAsGroup']}"
    assert re.search(rf"useradd --uid {container['securityContext']['runAsUser']} ", DOCKERFILE)
