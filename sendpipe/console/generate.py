"""`sendpipe generate`: write the files generated from the models into the repository.

Generated files are checked in so that ``kubectl apply``, ``helm install`` and
producers in other languages need no Python: the Provider CRD (also copied
into the Helm chart's ``crds/``) and the JSON Schemas of the message
contracts. ``tests/core/test_generated_drift.py`` fails when they are stale.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from sendpipe.core.crd import build_crd
from sendpipe.core.schemas import GENERATED_SCHEMAS

COMMAND = "sendpipe generate"
CRD_PATHS = (Path("crds/provider.yaml"), Path("charts/sendpipe/crds/provider.yaml"))
SCHEMAS_DIR = Path("schemas")


def render_all() -> dict[Path, str]:
    """Every generated file's path (relative to the repository root) and exact content."""
    header = f"# Generated from sendpipe/core/provider.py and the catalog by `{COMMAND}`. Do not edit.\n"
    crd = header + yaml.safe_dump(build_crd(), sort_keys=False, width=120, allow_unicode=True)
    files = {path: crd for path in CRD_PATHS}
    for name, build in GENERATED_SCHEMAS.items():
        files[SCHEMAS_DIR / name] = json.dumps(build(), indent=2) + "\n"
    return files


def write_generated(root: Path) -> list[Path]:
    """Write every generated file under ``root``; return the paths whose content changed."""
    changed = []
    for relative, content in render_all().items():
        target = root / relative
        if target.exists() and target.read_text(encoding="utf-8") == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        changed.append(target)
    return changed


@click.command("generate")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
def generate(root: Path) -> None:
    """Regenerate the CRD and JSON Schemas from the models (run in the repository root)."""
    changed = write_generated(root)
    for path in changed:
        click.echo(f"wrote {path}")
    if not changed:
        click.echo("generated files are up to date")
