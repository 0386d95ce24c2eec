"""Logging that cannot leak a token: every handler's final text is redacted.

Redaction happens on the *formatted* string (message, `%s` args, exception traceback,
stack), so a token inside an exception's message or a local repr is covered too; a filter
on each handler also redacts the record itself, for handlers with their own formatter.
httpx and httpcore never log header values at any level, and as a second line of
defence their loggers get the same filter.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType
from typing import TextIO

from tray.core.redact import redact

__all__ = [
    "DEFAULT_FORMAT",
    "RedactingFilter",
    "RedactingFormatter",
    "configure_logging",
    "install_crash_redaction",
    "protect_handler",
]

DEFAULT_FORMAT = "%(levelname)s %(name)s: %(message)s"
_HTTP_LOGGERS = ("httpx", "httpcore", "h11", "hpack")


class RedactingFormatter(logging.Formatter):
    """A `Formatter` whose output (message + traceback) has every secret replaced."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))

    def formatException(
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        return redact(super().formatException(ei))


class RedactingFilter(logging.Filter):
    """Redacts the record in place (message with its args, cached traceback text), so a
    handler with any formatter, or a later handler sharing the record, sees no secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format: logging reports it, we must not hide it
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def protect_handler(handler: logging.Handler) -> logging.Handler:
    """Make an existing handler (a file log, Qt's) redact what it writes."""
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())
    current = handler.formatter
    if not isinstance(current, RedactingFormatter):
        fmt = current._fmt if current is not None else DEFAULT_FORMAT
        datefmt = current.datefmt if current is not None else None
        handler.setFormatter(RedactingFormatter(fmt, datefmt))
    return handler


def configure_logging(
    level: int | str = logging.WARNING,
    *,
    stream: TextIO | None = None,
    fmt: str = DEFAULT_FORMAT,
) -> logging.Handler:
    """Replace the root logger's handlers with one redacting stream handler (stderr by
    default) at `level`; returns it so a caller may add more handlers the same way."""
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(RedactingFormatter(fmt))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in _HTTP_LOGGERS:
        http_logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in http_logger.filters):
            http_logger.addFilter(RedactingFilter())
    return handler


def install_crash_redaction(stream: TextIO | None = None) -> None:
    """An uncaught exception prints its traceback redacted (crash output is output too)."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        (stream if stream is not None else sys.stderr).write(redact(text))

    sys.excepthook = hook
