"""``python -m sendpipe.operator``: run the operator (same as ``sendpipe operator``), text logs at INFO."""

from sendpipe import logs
from sendpipe.operator.commands import operator

if __name__ == "__main__":
    logs.configure(level="INFO", fmt="text")
    operator()
