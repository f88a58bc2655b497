"""How helm is built and found in the cache (no Go run here; the `helm` fixture does the real build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sendpipe.stack import helm
from sendpipe.stack.errors import StackError


def test_install_pins_the_version_and_stamps_it() -> None:
    args = helm.install_args(Path("/usr/bin/go"), "v3.22.0")
    assert args[:2] == ["/usr/bin/go", "install"]
    assert args[-1] == "helm.sh/helm/v3/cmd/helm@v3.22.0"
    assert f"-X {helm.VERSION_VARIABLE}=v3.22.0" in next(a for a in args if a.startswith("-ldflags="))
    assert helm.GO_ENV["CGO_ENABLED"] == "0" and helm.GO_ENV["GOTOOLCHAIN"] == "local"


@pytest.mark.parametrize("version", ["latest", "3.22.0", "v4.0.0", "v3.22", "v3.22.0; rm -rf /"])
def test_only_helm3_tags_are_accepted(version: str) -> None:
    with pytest.raises(StackError, match="Helm 3 tag"):
        helm.install_args(Path("go"), version)


def test_cache_is_per_version_and_needs_the_binary(tmp_path: Path) -> None:
    assert helm.cached_helm(tmp_path, "v3.22.0") is None
    binary = helm.helm_home(tmp_path, "v3.22.0") / "bin" / "helm"
    binary.parent.mkdir(parents=True)
    binary.write_text("")
    assert helm.cached_helm(tmp_path, "v3.22.0") == binary
    assert helm.cached_helm(tmp_path, "v3.21.4") is None
    # a cached binary is returned without Go on PATH
    assert helm.ensure_helm(tmp_path, "v3.22.0") == binary
