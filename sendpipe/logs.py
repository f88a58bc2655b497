"""Structured logs for every SendPipe process, with credentials redacted as a last line of defence.

Records are one JSON object per line (``--log-format json``, the default in
containers) or ``key=value`` text for people. Fields passed with ``extra=``
become top-level keys. Code never logs credentials; on top of that, every
secret value the process has handled is registered with ``redact()`` and
masked from any record that would still contain it.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["json", "text"]

_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_MASK = "***"
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def redact(*values: str | None) -> None:
    """Register secret values that must never appear in a log record."""
    with _secrets_lock:
        _secrets.update(value for value in values if value and len(value) >= _MIN_SECRET_LENGTH)


def scrub(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, default=str))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        fields = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        line = f"{time} {record.levelname:<7} {record.name}: {record.getMessage()}" + (f" {fields}" if fields else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return scrub(line)


def configure(*, level: str = "INFO", fmt: LogFormat = "text") -> None:
    """Route every logger to stderr in the chosen format. Noisy client libraries log warnings only."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "kubernetes", "urllib3", "httpx", "httpcore", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
