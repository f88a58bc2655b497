"""``python -m sendpipe.worker``: the same as ``sendpipe worker``, logging set up from the environment as the CLI does."""

import os

from sendpipe import logs
from sendpipe.worker.commands import worker

if __name__ == "__main__":
    log_format: logs.LogFormat = "json" if os.environ.get("SENDPIPE_LOG_FORMAT") == "json" else "text"
    logs.configure(level=os.environ.get("SENDPIPE_LOG_LEVEL", "INFO"), fmt=log_format)
    worker()
