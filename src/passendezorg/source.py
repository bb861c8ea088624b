"""Source files and spans: where in a rule file something stands."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A place in a source file (1-based line and column)."""

    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NO_SPAN = Span("<unknown>", 0, 0)


class SourceRegistry:
    """Keeps the text of every loaded file so diagnostics can quote it."""

    def __init__(self) -> None:
        self._texts: dict[str, list[str]] = {}

    def add(self, name: str, text: str) -> None:
        self._texts[name] = text.splitlines()

    def lines(self, name: str) -> list[str] | None:
        """Every line of a loaded file, or None if it was not loaded."""
        lines = self._texts.get(name)
        return list(lines) if lines is not None else None

    def line(self, name: str, lineno: int) -> str | None:
        lines = self._texts.get(name)
        if lines is None or not 1 <= lineno <= len(lines):
            return None
        return lines[lineno - 1]

    def excerpt(self, span: Span) -> str:
        """The source line with a caret under the span, or '' if unknown."""
        text = self.line(span.file, span.line)
        if text is None:
            return ""
        width = 1
        if span.end_line == span.line and span.end_column > span.column:
            width = span.end_column - span.column
        gutter = f"{span.line:>4} | "
        pad = "".join("\t" if ch == "\t" else " " for ch in text[: max(span.column - 1, 0)])
        return f"{gutter}{text}\n{' ' * len(gutter)}{pad}{'^' * width}"
