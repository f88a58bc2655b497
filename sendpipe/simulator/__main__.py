"""``python -m sendpipe.simulator``: the simulator CLI without the rest of SendPipe (used to spawn it as a child)."""

from sendpipe.simulator.commands import simulator

if __name__ == "__main__":
    simulator()
