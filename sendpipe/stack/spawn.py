"""A tiny launcher that starts one stack process detached, prints its pid and exits.

Starting the daemons through this intermediate process means they are
re-parented to init: they outlive `sendpipe stack up`, and a long-lived caller
(a pytest session) never holds a ``Popen`` for them, so it neither leaks a
ResourceWarning nor collects zombies that would look alive to ``kill(pid, 0)``.

Usage: ``python -m sendpipe.stack.spawn <log file> <cwd> <program> [args...]``
"""

from __future__ import annotations

import subprocess
import sys


def main(argv: list[str]) -> int:
    log_path, cwd, *command = argv
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    print(proc.pid, flush=True)
    # Forget the child without waiting: it belongs to init once we exit.
    proc.returncode = 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
