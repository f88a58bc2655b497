"""Fixtures for the Helm chart tests: the pinned helm binary and rendering the chart with given values.

helm is built from its Go module into the cache on first use (minutes, once
per version); that happens after collection, outside the per-test timeout,
and only when a chart test is selected. Rendering needs no cluster, so only
the tests that apply the result to the kube-apiserver are integration tests.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from sendpipe.settings import StackSettings
from sendpipe.stack import helm as helm_build

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "sendpipe"
HERE = Path(__file__).resolve().parent


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build helm before any test runs when a chart test is selected and the cache lacks it."""
    settings = StackSettings()
    if not any(Path(str(item.path)).is_relative_to(HERE) for item in session.items):
        return
    if helm_build.cached_helm(settings.resolved_cache_dir, settings.helm_version) is None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"sendpipe: building helm {settings.helm_version} (first build takes minutes)")
        helm_build.ensure_helm(settings.resolved_cache_dir, settings.helm_version)


@dataclass(frozen=True)
class Helm:
    """The pinned helm binary, run against the repository's chart."""

    binary: Path
    workdir: Path

    def run(self, *args: str, values: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        """Run helm with an optional values file; return the completed process whatever its exit code."""
        extra: list[str] = []
        if values is not None:
            path = self.workdir / f"values-{abs(hash(yaml.safe_dump(values)))}.yaml"
            path.write_text(yaml.safe_dump(values))
            extra = ["--values", str(path)]
        return subprocess.run(
            [str(self.binary), *args, *extra], capture_output=True, text=True, timeout=120, check=False,
            cwd=self.workdir,
        )

    def template(
        self, *, values: dict[str, Any] | None = None, release: str = "sp", namespace: str = "sendpipe",
        include_crds: bool = True,
    ) -> list[dict[str, Any]]:
        """The chart's rendered objects (``helm template``), parsed; raises with helm's stderr on failure."""
        args = ["template", release, str(CHART), "--namespace", namespace]
        if include_crds:
            args.append("--include-crds")
        result = self.run(*args, values=values)
        assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    def template_text(self, *, values: dict[str, Any] | None = None, release: str = "sp",
                      namespace: str = "sendpipe") -> str:
        result = self.run("template", release, str(CHART), "--namespace", namespace, "--include-crds",
                          values=values)
        assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
        return result.stdout


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    settings = StackSettings()
    binary = helm_build.ensure_helm(settings.resolved_cache_dir, settings.helm_version)
    return Helm(binary=binary, workdir=tmp_path_factory.mktemp("helm"))


def find(objects: list[dict[str, Any]], kind: str, name_suffix: str = "") -> list[dict[str, Any]]:
    """The rendered objects of ``kind`` whose name ends with ``name_suffix``."""
    return [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(name_suffix)]


def one(objects: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    found = find(objects, kind, name_suffix)
    assert len(found) == 1, f"expected one {kind} *{name_suffix}, found {[o['metadata']['name'] for o in found]}"
    return found[0]
