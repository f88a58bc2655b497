"""The local development stack: real Kafka (KRaft) and a real kube-apiserver on loopback.

Built from registry packages (Maven Central jars, Go modules) into a cache
outside the repo and started as plain processes, because the project's
machines have no Docker. ``ensure_stack`` starts or reuses a stack and says
how to reach it; ``stop_stack`` stops it. The ``sendpipe stack`` command and
the pytest fixtures are thin layers over these.
"""

from __future__ import annotations

from sendpipe.stack.errors import StackError
from sendpipe.stack.lifecycle import build, ensure_stack, find_stack, is_built, stack_status, stop_stack
from sendpipe.stack.sessions import shared_stack
from sendpipe.stack.state import StackInfo

__all__ = [
    "StackError",
    "StackInfo",
    "build",
    "ensure_stack",
    "find_stack",
    "is_built",
    "shared_stack",
    "stack_status",
    "stop_stack",
]
