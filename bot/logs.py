"""Logging: event keys with structured fields; `LOG_FORMAT=json` for one JSON object a line.

Secrets never reach the output: a filter scrubs token-shaped strings from every record.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from bot.observability.request_id import RequestIdFilter

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}
_SECRET_PATTERNS = [
    re.compile(r"xox[abeprs]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)((?:access|refresh)_token|client_secret|code_verifier|code|state|response_url)=([^&\s]+)"
    ),
    re.compile(r'(?i)("(?:access|refresh)_token"\s*:\s*")[^"]+'),
    # OAuth states and codes, and Slack response URLs, quoted in JSON or a Python repr (debug logs).
    re.compile(r"""(?i)(["']?(?:state|code|response_url)["']?\s*:\s*["'])[A-Za-z0-9_\-.~%:/\\]+"""),
    re.compile(r"https?:(?:\\?/){2}hooks\.slack(?:-gov)?\.com(?:\\?/)[^\s\"'&,}]+"),
]
_SECRET_KEYS = re.compile(
    r"(?i)token|secret|password|verifier|authorization|cookie|^state$|^code$|response_url"
)
# Characters that would let a logged value forge a line or hide in one.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029"\\]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NEEDS_QUOTES = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029\"\\=]")


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        if pattern.groups == 0:
            text = pattern.sub("[redacted]", text)
        elif pattern.groups == 1:
            text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
        else:
            text = pattern.sub(lambda m: m.group(1) + "=[redacted]", text)
    return text


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in vars(record).items():
        if key in _STANDARD or key.startswith("_"):
            continue
        if _SECRET_KEYS.search(key):
            value = "[redacted]"
        elif isinstance(value, str):
            value = redact(value)
        fields[key] = value
    return fields


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep what we can
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        payload.update(_extras(record))
        if record.exc_info:
            payload["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


def _escape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        char = match.group(0)
        if char in '"\\':
            return "\\" + char
        named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
        return named.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")

    return _UNSAFE.sub(one, text)


def quote_value(value: Any) -> str:
    """A text log value as it is, or in double quotes with escapes when it holds spaces, control
    characters, quotes or `=`: one record is one line, and `key=value` pairs cannot be forged."""
    text = value if isinstance(value, str) else str(value)
    if text and not _NEEDS_QUOTES.search(text):
        return text
    return f'"{_escape(text)}"'


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        fields = " ".join(f"{k}={quote_value(v)}" for k, v in _extras(record).items())
        # The message keeps its quotes; control characters are escaped, so a record stays one line.
        message = _CONTROL.sub(lambda m: _escape(m.group(0)), record.getMessage())
        line = f"{stamp} {record.levelname.lower():7} {message}"
        if fields:
            line = f"{line} {fields}"
        if record.exc_info:
            line = f"{line}\n{redact(self.formatException(record.exc_info))}"
        return line


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    handler.addFilter(RequestIdFilter())  # request_id=… on every line a request causes
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party request logs can carry payloads: keep them at warning unless debugging.
    if level.lower() != "debug":
        for noisy in (
            "slack_bolt",
            "slack_sdk",
            "httpx",
            "httpcore",
            "apscheduler",
            "aiosqlite",
            "alembic",
            "uvicorn.access",
        ):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


def error_origin(error: BaseException) -> str:
    """`file.py:line` where an exception was raised: one log field instead of a whole traceback."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return "?"
    return f"{frame.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.tb_lineno}"
