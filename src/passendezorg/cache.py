"""Where passendezorg keeps what it can rebuild: built parsers and checked rule books."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$PASSENDEZORG_CACHE``, else ``$XDG_CACHE_HOME/passendezorg``, else ``~/.cache/passendezorg``."""
    own = os.environ.get("PASSENDEZORG_CACHE")
    if own:
        return Path(own)
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "passendezorg"
