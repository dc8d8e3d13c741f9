"""Logs are JSON lines and never carry secrets."""

from __future__ import annotations

import json
import logging

import pytest

from stockbridge.logs import RedactingFilter, _JsonFormatter, redact


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer sbt_abcdefghijklmnop",
        "refresh_token=AB12cd34EF56 expired",
        '{"client_secret": "s3cr3t-value", "x": 1}',
        "X-Auth-Token: 0123456789abcdef",
        "X-Stockbridge-Secret=zzzzzzzzzzzzzzzzzzzz",
        "token sbt_AAAAAAAAAAAAAAAAAAAAAA leaked",
    ],
)
def test_secrets_are_redacted(text: str) -> None:
    out = redact(text)
    assert "[redacted]" in out
    for secret in (
        "sbt_abcdefghijklmnop",
        "AB12cd34EF56",
        "s3cr3t-value",
        "0123456789abcdef",
        "zzzzzzzzzzzzzzzzzzzz",
        "sbt_AAAAAAAAAAAAAAAAAAAAAA",
    ):
        assert secret not in out


def test_records_become_redacted_json_lines() -> None:
    record = logging.LogRecord(
        "stockbridge.x",
        logging.WARNING,
        __file__,
        1,
        "refresh failed for %s",
        ("refresh_token=RT-123456",),
        None,
    )
    assert RedactingFilter().filter(record)
    line = json.loads(_JsonFormatter().format(record))
    assert line["level"] == "warning" and line["logger"] == "stockbridge.x"
    assert "RT-123456" not in line["message"] and "[redacted]" in line["message"]
    assert redact("GET /v3/catalog/products 200 12ms") == "GET /v3/catalog/products 200 12ms"
