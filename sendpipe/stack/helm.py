"""Building the Helm CLI from its published Go module, once per version.

The chart tests need ``helm lint`` and ``helm template`` and nothing else of
Helm; there is no cluster to install into. ``go install
helm.sh/helm/v3/cmd/helm@<version>`` builds it from the Go module proxy like
the Kubernetes binaries (no release tarball, no Docker), into
``<cache>/helm/<version>/bin``; a cached binary is reused without touching
Go at all. The version is pinned in ``StackSettings.helm_version``.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

from sendpipe.stack import tools
from sendpipe.stack.errors import StackError

logger = logging.getLogger(__name__)

HELM_MAIN = "helm.sh/helm/v3/cmd/helm"
# Helm's own release build stamps the version here; `go install` would leave the bare default.
VERSION_VARIABLE = "helm.sh/helm/v3/internal/version.version"
GO_ENV = {"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false"}

_VERSION = re.compile(r"v3\.\d+\.\d+")


def helm_home(cache_dir: Path, version: str) -> Path:
    return cache_dir / "helm" / version


def cached_helm(cache_dir: Path, version: str) -> Path | None:
    """The cached helm binary of ``version``, or None when it is not built yet."""
    binary = helm_home(cache_dir, version) / "bin" / "helm"
    return binary if binary.is_file() else None


def install_args(go: Path, version: str) -> list[str]:
    """The ``go install`` command line for ``version`` (a Helm 3 tag such as v3.22.0)."""
    if _VERSION.fullmatch(version) is None:
        raise StackError(f"helm version {version!r} is not a Helm 3 tag of the form v3.<minor>.<patch>")
    return [
        str(go), "install", "-trimpath",
        f"-ldflags=-s -w -X {VERSION_VARIABLE}={version}",
        f"{HELM_MAIN}@{version}",
    ]


def ensure_helm(cache_dir: Path, version: str) -> Path:
    """Build helm ``version`` into the cache unless it is there; return the binary's path.

    The first build downloads Helm's modules and compiles for a few minutes;
    its output goes to ``<cache>/helm/<version>/build.log`` with a heartbeat.
    """
    home = helm_home(cache_dir, version)
    with tools.file_lock(home.parent / f".{version}.lock"):
        cached = cached_helm(cache_dir, version)
        if cached is not None:
            return cached
        go = tools.require_tool("go")
        home.mkdir(parents=True, exist_ok=True)
        partial = home / "bin.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        log = home / "build.log"
        logger.info("helm_version=%s status=building log=%s (first build takes a few minutes)", version, log)
        # go install with pkg@version ignores any go.mod around it; run it from the cache directory.
        tools.run_logged(
            install_args(go, version), log_path=log, step=f"go-install-helm-{version}", cwd=home,
            env=tools.child_env({**GO_ENV, "GOBIN": str(partial)}),
        )
        bin_dir = home / "bin"
        shutil.rmtree(bin_dir, ignore_errors=True)
        partial.rename(bin_dir)
        built = cached_helm(cache_dir, version)
        if built is None:
            raise StackError(f"go install finished but {bin_dir} has no helm binary; see {log}")
        return built


def helm_version(binary: Path) -> str:
    """What the binary says its version is (``v3.22.0``)."""
    out = subprocess.run(
        [str(binary), "version", "--template", "{{.Version}}"], capture_output=True, text=True, check=True, timeout=30
    )
    return out.stdout.strip()
