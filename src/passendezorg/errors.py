"""One base error, its families, and the Diagnostic record the checker collects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .messages import label as word
from .messages import translate
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

    def shown(self, language: str | None = None) -> tuple[str, str | None, tuple[tuple[str, Span], ...]]:
        """The message, hint and notes in ``language`` (by default the language of the file it is about)."""
        lang = language or self.language
        return (
            translate(self.message, lang),
            translate(self.hint, lang) if self.hint is not None else None,
            tuple((translate(note, lang), span) for note, span in self.related),
        )

    def render(self, sources: SourceRegistry | None = None, color: bool = False, language: str | None = None) -> str:
        """As text: location, severity, code and message; the source line with a caret; notes and hint."""
        lang = language or self.language
        message, hint, related = self.shown(lang)
        label: str = self.severity
        if color:
            label = ("\x1b[1;31m" if self.severity == "error" else "\x1b[1;33m") + label + "\x1b[0m"
        out = [f"{self.span}: {label}[{self.code}]: {message}"]
        if sources is not None:
            excerpt = sources.excerpt(self.span)
            if excerpt:
                out.append(excerpt)
        for note, span in related:
            out.append(f"  {word('note', lang)}: {note} ({span})")
        if hint:
            out.append(f"  {word('hint', lang)}: {hint}")
        return "\n".join(out)

    def as_dict(self) -> dict[str, object]:
        """As JSON (``check --format json``): ``message`` and ``hint`` in the file's language, ``message_en`` and
        ``hint_en`` in English, and the end of the span for editors."""
        message, hint, related = self.shown()
        span = self.span
        end_line, end_column = (span.end_line, span.end_column) if span.end_line >= span.line > 0 and \
            (span.end_line, span.end_column) > (span.line, span.column) else (span.line, span.column + 1)
        return {
            "severity": self.severity,
            "code": self.code,
            "message": message,
            "file": span.file,
            "line": span.line,
            "column": span.column,
            "end_line": end_line,
            "end_column": end_column,
            "hint": hint,
            "related": [{"note": note, "file": s.file, "line": s.line, "column": s.column} for note, s in related],
            "language": self.language,
            "message_en": self.message,
            "hint_en": self.hint,
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


def internal_error(where: str | None, e: BaseException) -> str:
    """The message of a failure passendezorg did not foresee, for one case of a batch (the others go on).

    It should never be seen: the fuzz tests look for it. It names the case and the exception.
    """
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{where or 'case'}: internal error: {type(e).__name__}: {text[:200]}; please report it"
