"""The one exception the local stack raises, so callers catch one thing.

Every message says what to do next (install a tool, read a log file, run
``sendpipe stack down``), because the stack is usually started by someone who
just wants to run the tests.
"""

from __future__ import annotations


class StackError(RuntimeError):
    """The local stack could not be built, started, found or stopped."""
