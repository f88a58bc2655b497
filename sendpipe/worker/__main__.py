"""``python -m sendpipe.worker``: the same as ``sendpipe worker`` (logging set up by the CLI, from the environment)."""

from sendpipe.cli import main

if __name__ == "__main__":
    main(["worker"], prog_name="sendpipe")
