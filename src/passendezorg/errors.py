"""One base error, its families, and the Diagnostic record the checker collects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .source import SourceRegistry, Span

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Diagnostic:
    """A finding about a rule book: what, where, and what to do about it."""

    severity: Severity
    code: str
    message: str
    span: Span
    hint: str | None = None
    related: tuple[tuple[str, Span], ...] = field(default=())
    language: str = "english"  # of the file it is about: the message is shown in it

    def render(self, sources: SourceRegistry | None = None, color: bool = False) -> str:
        label: str = self.severity
        if color:
            label = ("\x1b[1;31m" if self.severity == "error" else "\x1b[1;33m") + label + "\x1b[0m"
        out = [f"{self.span}: {label}[{self.code}]: {self.message}"]
        if sources is not None:
            excerpt = sources.excerpt(self.span)
            if excerpt:
                out.append(excerpt)
        for note, span in self.related:
            out.append(f"  note: {note} ({span})")
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)

    def as_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "hint": self.hint,
            "related": [{"note": n, "file": s.file, "line": s.line, "column": s.column} for n, s in self.related],
        }


class PassendeZorgError(Exception):
    """Base of every error passendezorg raises on purpose.

    ``exit_code`` is what the command line exits with when this error ends a
    command; the CLI catches this class once and shows ``str(error)``.
    """

    exit_code = 1


class UsageError(PassendeZorgError):
    """The command was called wrongly (a missing file, a bad option value)."""

    exit_code = 2


class RuleBookError(PassendeZorgError):
    """The rule book has errors; ``diagnostics`` lists all of them."""

    exit_code = 1

    def __init__(self, diagnostics: list[Diagnostic], sources: SourceRegistry | None = None) -> None:
        self.diagnostics = diagnostics
        self.sources = sources
        errors = [d for d in diagnostics if d.severity == "error"]
        super().__init__(f"the rule book has {len(errors)} error(s)")

    def __str__(self) -> str:
        errors = [d for d in self.diagnostics if d.severity == "error"]
        body = "\n\n".join(d.render(self.sources) for d in errors)
        return f"{body}\n\nthe rule book has {len(errors)} error(s); run `passendezorg check` for all findings"


class EngineUnavailable(PassendeZorgError):
    """An engine cannot run here (an optional extra is missing, or it does not run on this Python): says why
    and what to do."""

    exit_code = 2


class CaseError(PassendeZorgError):
    """A case is malformed: ``where`` names the file and the field path."""

    exit_code = 1

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")
