"""The service's settings: from command line options or environment variables, checked once at start.

Kept free of FastAPI so that the command line can read and check them (and say what to
install) before the web stack is imported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..errors import UsageError
from ..logs import ENV_LOG_LEVEL, LOG_LEVELS

ENV_RULES = "PASSENDEZORG_RULES"
ENV_DB = "PASSENDEZORG_DB"
ENV_API_KEY = "PASSENDEZORG_API_KEY"
ENV_MAX_BODY_BYTES = "PASSENDEZORG_MAX_BODY_BYTES"
ENV_SCENARIOS = "PASSENDEZORG_SCENARIOS"
ENV_MAX_BATCH_LINES = "PASSENDEZORG_MAX_BATCH_LINES"
ENV_TIMEOUT = "PASSENDEZORG_TIMEOUT"

DEFAULT_RULES = "rules"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_BATCH_LINES = 10_000
DEFAULT_TIMEOUT = 30.0
MIN_API_KEY_LENGTH = 16

T = TypeVar("T", int, float)


@dataclass(frozen=True)
class Settings:
    """What a running service needs to know.

    ``db``: a database URL or SQLite file for receipts, claims and the ledger; None serves
    decisions only. ``api_key``: the key that allows writes (claims); None keeps the
    service read-only. ``timeout``: seconds a request may take before it is answered 504.
    """

    rules: Path = Path(DEFAULT_RULES)
    scenarios: Path | None = None  # where the rule book's scenarios are (None: beside the rules folder)
    db: str | None = None
    api_key: str | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_batch_lines: int = DEFAULT_MAX_BATCH_LINES
    timeout: float = DEFAULT_TIMEOUT
    log_level: str = "info"

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise UsageError(f"the body size limit must be at least 1 byte, got {self.max_body_bytes}")
        if self.max_batch_lines < 1:
            raise UsageError(f"the batch size limit must be at least 1 line, got {self.max_batch_lines}")
        if not self.timeout > 0:
            raise UsageError(f"the time limit must be more than 0 seconds, got {self.timeout}")
        if self.log_level not in LOG_LEVELS:
            raise UsageError(f"unknown log level `{self.log_level}`; the levels are: {', '.join(LOG_LEVELS)}")
        if self.api_key is not None and len(self.api_key) < MIN_API_KEY_LENGTH:
            raise UsageError(f"the API key is too short to be safe: give at least {MIN_API_KEY_LENGTH} characters "
                             "(for example `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from the PASSENDEZORG_* environment variables (for `uvicorn --factory` and containers)."""
        env = os.environ if environ is None else environ
        return cls(
            rules=Path(env.get(ENV_RULES) or DEFAULT_RULES),
            scenarios=Path(env[ENV_SCENARIOS]) if env.get(ENV_SCENARIOS) else None,
            db=env.get(ENV_DB) or None,
            api_key=env.get(ENV_API_KEY) or None,
            max_body_bytes=_number(env, ENV_MAX_BODY_BYTES, int, DEFAULT_MAX_BODY_BYTES),
            max_batch_lines=_number(env, ENV_MAX_BATCH_LINES, int, DEFAULT_MAX_BATCH_LINES),
            timeout=_number(env, ENV_TIMEOUT, float, DEFAULT_TIMEOUT),
            log_level=(env.get(ENV_LOG_LEVEL) or "info").lower(),
        )


def _number(env: Mapping[str, str], name: str, kind: type[T], default: T) -> T:
    text = env.get(name)
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise UsageError(f"${name} must be {what}, got {text!r}") from None


def read_api_key(path: Path) -> str:
    """The API key in a file (its first line), e.g. a container secret; UsageError if there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"{path}: cannot read the API key file ({e.strerror or e})") from None
    key = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not key:
        raise UsageError(f"{path}: the API key file is empty")
    return key
