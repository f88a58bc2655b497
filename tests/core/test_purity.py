"""sendpipe.core imports no framework, transport or I/O library (the import-linter contract, checked directly)."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("kopf", "faust", "aiokafka", "httpx", "kubernetes", "aiosmtplib", "pydantic_settings", "yaml", "click")
MODULES = ("catalog", "crd", "generate", "health", "healthpolicy", "messages", "outcomes", "provider", "records", "routing", "schemas",
           "wire")


def test_importing_core_loads_no_forbidden_module() -> None:
    script = (
        "import sys\n"
        + "".join(f"import sendpipe.core.{name}\n" for name in MODULES)
        + f"print(','.join(sorted(m for m in {FORBIDDEN!r} if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "", f"sendpipe.core pulled in: {result.stdout.strip()}"
