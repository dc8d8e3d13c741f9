"""Structured logs (one JSON object a line) with secrets redacted.

Partner request lines never carry query strings (the transport logs the path only); this
filter is the second line of defence for anything else that might reach a log: bearer
tokens, Stockbridge API tokens, secret-looking key=value pairs and JSON fields.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

__all__ = ["RedactingFilter", "configure_logging", "redact"]

_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"\bsbt_[A-Za-z0-9_-]{8,}"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|webhook_secret|password|secret|"
        r"token|x-auth-token|x-stockbridge-secret)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"
    ),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr, redacted, for ``serve`` and the worker."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
