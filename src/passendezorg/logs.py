"""Logging: passendezorg logs through Python's ``logging``, under the ``passendezorg`` logger.

The loggers: ``passendezorg.rulebook`` (loading and checking a rule book, the cache of checked
rule books: hits and misses), ``passendezorg.batch`` (what a batch did), ``passendezorg.claims``
(what a batch of claims did), ``passendezorg.workers`` (a worker process that crashed or ran past
its time), ``passendezorg.server`` (the HTTP API). The library configures no handler (the
package adds a ``NullHandler``): an application decides where its logs go. The command line
writes them to standard error from the level of ``--log-level`` or ``$PASSENDEZORG_LOG_LEVEL``
(``warning`` unless given); ``passendezorg serve`` writes JSON lines.
"""

from __future__ import annotations

import logging
import sys

ROOT = "passendezorg"
ENV_LOG_LEVEL = "PASSENDEZORG_LOG_LEVEL"
LOG_LEVELS = ("debug", "info", "warning", "error")


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to standard error as it is when a record comes (a test runner swaps it per command)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname.lower()}: {record.getMessage()} [{record.name}]"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def log_to_stderr(level: str) -> None:
    """The command line's logging: records of ``level`` and above on standard error, one line each.

    Calling it again replaces the handler it added before (one handler, whatever the number of calls)."""
    logger = logging.getLogger(ROOT)
    for handler in list(logger.handlers):
        if isinstance(handler, _StandardError):
            logger.removeHandler(handler)
    handler = _StandardError()
    handler.setFormatter(_Formatter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
