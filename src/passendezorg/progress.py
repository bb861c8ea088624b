"""The one progress display of long runs: a line on standard error, redrawn in place.

Shown only where someone watches (standard error is a terminal), unless asked
for; at most five redraws a second, so it costs nothing measurable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Progress of a run towards ``total`` (claims, cases, bytes of input: whatever ``unit`` says)."""

    def __init__(self, total: int, label: str = "", *, unit: str = "", show: bool | None = None,
                 stream: TextIO | None = None) -> None:
        self.total = max(1, total)
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if show is None else show
        self.done = 0
        self.began = time.perf_counter()
        self.last = 0.0

    def add(self, n: int) -> None:
        """``n`` more units done."""
        self.done += n
        self.draw()

    def set(self, done: int) -> None:
        """``done`` units done in all."""
        self.done = done
        self.draw()

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        pct = min(100.0, 100.0 * self.done / self.total)
        width = 30
        filled = int(width * pct / 100)
        label = f"{self.label} " if self.label else ""
        count = f"  {self.done:,}/{self.total:,} {self.unit}".rstrip() if self.unit else ""
        self.stream.write(f"\r{label}[{'#' * filled}{'-' * (width - filled)}] {pct:5.1f} %{count}"
                          f"  {now - self.began:6.1f} s")
        self.stream.flush()

    def finish(self, complete: bool = True) -> None:
        """Draw the end state (all done, unless the run stopped early) and leave the line."""
        if not self.enabled:
            return
        if complete:
            self.done = max(self.done, self.total)
        self.draw(force=True)
        self.stream.write("\n")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        self.finish(complete=kind is None)
