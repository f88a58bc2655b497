"""``python -m sendpipe.worker``: the same as ``sendpipe worker``."""

from sendpipe.worker.commands import worker

if __name__ == "__main__":
    worker()
