"""Structured logging: fields become keys, and registered secrets never reach the output."""

from __future__ import annotations

import json
import logging

from sendpipe import logs


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "sendpipe.test", "levelno": logging.INFO, "levelname": "INFO", "msg": message})
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_extra_fields() -> None:
    line = logs.JsonFormatter().format(_record("sent", provider="ses", attempts=2))
    entry = json.loads(line)
    assert entry["message"] == "sent"
    assert entry["provider"] == "ses"
    assert entry["attempts"] == 2
    assert entry["level"] == "info"


def test_registered_secrets_are_masked_in_both_formats() -> None:
    secret = "sk-live-0123456789abcdef"
    logs.redact(secret)
    record = _record(f"calling with {secret}", header=f"Bearer {secret}")
    for formatter in (logs.JsonFormatter(), logs.TextFormatter()):
        output = formatter.format(record)
        assert secret not in output
        assert "***" in output


def test_short_values_are_not_registered() -> None:
    logs.redact("abc")
    assert logs.scrub("abc def") == "abc def"
