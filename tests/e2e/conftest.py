"""When an end-to-end test fails, its report ends with the tails of the system's logs.

CI keeps nothing but pytest's output: without these, a failure there (a
message not delivered, a status not shown) cannot be told apart from a
stalled worker or operator.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

LOG_TAIL_LINES = 60


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    system = getattr(item, "funcargs", {}).get("system")
    if report.failed and system is not None:
        for log in sorted(Path(system.state_dir, "logs").glob("*.log")):
            report.sections.append((f"{log.name} (last {LOG_TAIL_LINES} lines)", _tail(log)))
    return report


def _tail(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return "\n".join(line[:400] for line in lines)
