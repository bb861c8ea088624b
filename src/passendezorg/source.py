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
        # lines as the parser and the CSV reader count them: only "\n" ends a line
        self._texts[name] = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]

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
        """The source line with a caret under the span, or '' if unknown; a long line is cut to a window around it."""
        text = self.line(span.file, span.line)
        if text is None:
            return ""
        width = 1
        if span.end_line == span.line and span.end_column > span.column:
            width = span.end_column - span.column
        column = max(span.column - 1, 0)
        if len(text) > MAX_EXCERPT:
            start = max(0, column - MAX_EXCERPT // 3)
            end = start + MAX_EXCERPT
            text = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
            column = column - start + (1 if start else 0)
            width = max(1, min(width, len(text) - column))
        gutter = f"{span.line:>4} | "
        pad = "".join("\t" if ch == "\t" else " " for ch in text[:column])
        return f"{gutter}{text}\n{' ' * len(gutter)}{pad}{'^' * width}"


def undecodable(name: str, data: bytes, error: UnicodeDecodeError) -> tuple[Span, str]:
    """Where a file stops being UTF-8 (the first bad byte), and its text with that byte replaced, to quote."""
    before = data[: error.start]
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", errors="replace")) + 1
    return Span(name, line, column, line, column + 1), data.decode("utf-8", errors="replace")


def cell_spans(line: str, delimiter: str) -> list[tuple[int, int]]:
    """Where each cell of one CSV line stands: (first column, column after it), 1-based, without the
    spaces around it; a quoted cell includes its quotes."""
    spans = []
    i = 0
    while True:
        start = i
        if i < len(line) and line[i] == '"':
            i += 1
            while i < len(line):
                if line[i] == '"' and line[i + 1: i + 2] == '"':
                    i += 2
                elif line[i] == '"':
                    i += 1
                    break
                else:
                    i += 1
        while i < len(line) and line[i] != delimiter:
            i += 1
        text = line[start:i]
        lead = len(text) - len(text.lstrip())
        spans.append((start + lead + 1, start + len(text.rstrip()) + 1))
        if i >= len(line):
            return spans
        i += 1


MAX_EXCERPT = 120
"""The most characters of a source line an excerpt shows."""
