"""Write the generated files (the Provider CRD and the message JSON Schemas) into the repository.

Why it exists: generated files are checked in so that ``kubectl apply`` and
producers in other languages need no Python; this is the one command that
writes them (``python -m sendpipe.core.generate [ROOT]``), and
``tests/core/test_generated_drift.py`` fails when they are stale.

The CRD is written as YAML by a tiny emitter here, because ``core`` imports no
YAML library. The emitter handles exactly what the CRD contains (mappings,
lists, strings, numbers, booleans) and quotes every string that is not plainly
safe, using JSON escapes, which YAML double-quoted scalars accept.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sendpipe.core.crd import build_crd
from sendpipe.core.schemas import GENERATED_SCHEMAS

__all__ = ["CRD_PATH", "SCHEMAS_DIR", "main", "render_all", "to_yaml", "write_generated"]

CRD_PATH = Path("crds/provider.yaml")
SCHEMAS_DIR = Path("schemas")
COMMAND = "python -m sendpipe.core.generate"

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        lines = []
        for key, child in value.items():
            head = f"{pad}{_scalar(key)}:"
            if isinstance(child, dict | list) and child:
                lines.append(head)
                lines.extend(_lines(child, indent + 2))
            else:
                lines.append(f"{head} {_inline(child)}")
        return lines
    if isinstance(value, list):
        if not value:
            return [pad + "[]"]
        lines = []
        for item in value:
            nested = _lines(item, indent + 2)
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines.extend(nested[1:])
        return lines
    return [pad + _scalar(value)]


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def to_yaml(document: Any) -> str:
    """Block-style YAML for plain data (what ``yaml.safe_load`` reads back to the same value)."""
    return "\n".join(_lines(document, 0)) + "\n"


def render_all() -> dict[Path, str]:
    """Every generated file's path (relative to the repository root) and exact content."""
    header = f"# Generated from sendpipe/core/provider.py and the catalog by `{COMMAND}`. Do not edit.\n"
    files = {CRD_PATH: header + "---\n" + to_yaml(build_crd())}
    for name, build in GENERATED_SCHEMAS.items():
        files[SCHEMAS_DIR / name] = json.dumps(build(), indent=2, sort_keys=False) + "\n"
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


def main(argv: list[str] | None = None, *, echo: Callable[[str], object] = print) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path.cwd()
    changed = write_generated(root)
    for path in changed:
        echo(f"wrote {path}")
    if not changed:
        echo("generated files are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
