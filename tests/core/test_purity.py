"""sendpipe.core imports no framework, transport or I/O library (the import-linter contract, checked directly)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

FORBIDDEN = ("kopf", "faust", "aiokafka", "httpx", "kubernetes", "aiosmtplib", "pydantic_settings", "yaml", "click")


def _core_modules() -> list[str]:
    import sendpipe.core

    return [info.name for info in pkgutil.walk_packages(sendpipe.core.__path__, "sendpipe.core.")]


def test_importing_core_loads_no_forbidden_module() -> None:
    script = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in _core_modules())
        + f"print(','.join(sorted(m for m in {FORBIDDEN!r} if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "", f"sendpipe.core pulled in: {result.stdout.strip()}"
