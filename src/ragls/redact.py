"""Keep secrets out of every text ragls shows or logs: URL credentials and API keys.

One helper, `redact(text)`, used for log records (a logging filter installed by the CLI and the
server), error messages, completion details, showContext and the settings JSON. API keys are
registered with `remember_secret` when a backend reads them from the environment, so a key that
a server echoes back in an error body is masked too.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "***"
_MIN_SECRET = 4  # shorter values would mask ordinary words

# scheme://user:password@host or scheme://token@host: the part before "@" is a credential
_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<cred>[^/\s@'\"<>]+)@")
# "Bearer sk-..." in echoed headers; query parameters that name keys or tokens
_BEARER = re.compile(r"(?i)\b(Bearer\s+)[A-Za-z0-9._~+/=-]{4,}")
_KEY_PARAM = re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access_token|password)=)[^&\s'\"]+")

_lock = threading.Lock()
_secrets: set[str] = set()


def remember_secret(value: str | None) -> None:
    """Mask `value` wherever it appears from now on (API keys read from the environment)."""
    if value and len(value) >= _MIN_SECRET:
        with _lock:
            _secrets.add(value)


def redact_url(url: str | None) -> str | None:
    """`url` without the user name and password (``https://***@host/v1``)."""
    return None if url is None else redact(url)


def redact(text: str) -> str:
    """`text` with URL credentials, bearer tokens, key parameters and known API keys masked."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    if "earer" in text:
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    if "=" in text:
        text = _KEY_PARAM.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact_obj(obj: Any) -> Any:
    """A JSON-like value with every string redacted (settings JSON, showContext records)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_obj(v) for v in obj]
    return obj


class RedactingFilter(logging.Filter):
    """A handler filter: the formatted message (and exception text) with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler's own error path
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add a RedactingFilter to every handler of `logger` (default: the root logger)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
