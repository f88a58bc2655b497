"""The stack's own kubectl, bound to the stack's admin kubeconfig.

Tests and the later ``sendpipe up`` drive the API server with kubectl exactly
as a user would (``kubectl apply -f``), so this wraps the version-matched
binary from the cache rather than whatever kubectl is on PATH.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from sendpipe.stack.errors import StackError


class Kubectl:
    """Run kubectl against one stack: ``kubectl("get", "ns")`` returns stdout or raises."""

    def __init__(self, *, binary: Path, kubeconfig: Path, timeout: float = 120.0) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.timeout = timeout

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run kubectl and return the completed process, whatever its exit code."""
        return subprocess.run(
            [str(self.binary), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )

    def __call__(self, *args: str, input: str | None = None) -> str:
        """Run kubectl; return its stdout, or raise StackError carrying its stderr."""
        result = self.run(*args, input=input)
        if result.returncode != 0:
            raise StackError(
                f"kubectl {' '.join(args)} failed (exit {result.returncode}): {result.stderr.strip()}"
            )
        return result.stdout
