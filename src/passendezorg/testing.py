"""Run cases' `expect` blocks against a rule book: readable diffs, and rule coverage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click

from .cases import Case, convert
from .errors import CaseError
from .explain import show_value
from .model import Decision, OutputDecision
from .rulebook import RuleBook

STATUS_WORDS = {
    "undetermined": "undetermined", "onbepaald": "undetermined", "conflict": "conflict",
    "error": "error", "fout": "error", "default": "default", "standaard": "default",
}


@dataclass
class TestReport:
    passed: int = 0
    failed: int = 0
    errors: int = 0
    messages: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    decided: set[str] = field(default_factory=set)

    def lines(self, color: bool = False) -> list[str]:
        out = []
        for kind, text in self.messages:
            label = {"fail": "FAIL", "error": "ERROR"}[kind]
            if color:
                label = click.style(label, fg="red", bold=True)
            out.append(f"{label} {text}")
        total = self.passed + self.failed + self.errors
        out.append(f"{total} case(s): {self.passed} passed, {self.failed} failed, {self.errors} could not be read")
        return out

    @staticmethod
    def counted(book: RuleBook) -> list[str]:
        """The rules coverage counts: every rule, or under a scenario the rules the scenario adds."""
        sc = book.scenario
        return [r for r in book.program.rules if sc is None or r in sc.rules]

    def uncovered(self, book: RuleBook) -> list[str]:
        return [r for r in self.counted(book) if r not in self.decided]

    def coverage_text(self, book: RuleBook) -> str:
        rules = book.program.rules
        counted = self.counted(book)
        missing = self.uncovered(book)
        pct = 100.0 * (len(counted) - len(missing)) / len(counted) if counted else 100.0
        which = "rules" if book.scenario is None else f"rules of scenario {book.scenario.name}"
        lines = [f"rule coverage: {len(counted) - len(missing)} of {len(counted)} {which} decided something "
                 f"in at least one case ({pct:.1f} %)"]
        for r in missing:
            rule = rules[r]
            lines.append(f"  never decided: {r} ({rule.span})")
        return "\n".join(lines)


def run_tests(book: RuleBook, cases: list[Case | CaseError], engine: str = "interpreter") -> TestReport:
    report = TestReport()
    for case in cases:
        if isinstance(case, CaseError):
            report.errors += 1
            report.messages.append(("error", str(case)))
            continue
        try:
            decision = book.evaluate(case, engine=engine)
        except CaseError as e:
            report.errors += 1
            report.messages.append(("error", str(e)))
            continue
        for o in [*decision.outputs.values(), *decision.derived.values()]:
            if o.rule is not None:
                report.decided.add(o.rule.name)
            report.decided.update(o.concurring)
        if not case.expect:
            report.passed += 1
            continue
        try:
            problems = compare(book, decision, case)
        except CaseError as e:  # a mistake in this case's `expect` block: report it, run the others
            report.errors += 1
            report.messages.append(("error", str(e)))
            continue
        if problems:
            report.failed += 1
            report.messages.append(("fail", f"{case.path} ({case.name})\n" + "\n".join(problems)))
        else:
            report.passed += 1
    return report


def compare(book: RuleBook, decision: Decision, case: Case) -> list[str]:
    """The differences between a decision and a case's expectations, one readable line each."""
    assert case.expect is not None
    lang = book.program.language
    problems = []
    for name, want in case.expect.items():
        where = f"{case.path}: expect.{name}"
        o = decision.outputs.get(name) or decision.derived.get(name)
        if o is None:
            raise CaseError(where, "not an output or derived value of the rule book")
        decl = book.program.values[name]
        spec = want if isinstance(want, dict) else _scalar_spec(want, decl.type.kind)
        for key, expected in spec.items():
            if key == "status":
                status = STATUS_WORDS.get(str(expected), str(expected))
                got_status = "value" if o.status == "default" and status == "value" else o.status
                if got_status != status:
                    problems.append(_diff(name, f"status {status}", f"{_describe(o, decl.type.kind, lang)}"))
            elif key == "value":
                try:
                    typed = convert(expected, decl.type, where)
                except CaseError as e:
                    raise CaseError(where, e.message) from None
                got = None
                if o.status in ("value", "default"):
                    got = convert(o.value, decl.type, where) if o.value is not None else None
                if o.status not in ("value", "default") or got != typed:
                    problems.append(_diff(name, show_value(_json(typed), decl.type.kind, lang),
                                          _describe(o, decl.type.kind, lang)))
            elif key == "rule":
                got_rule = o.rule.name if o.rule else None
                if got_rule != expected:
                    problems.append(_diff(f"{name} (deciding rule)", str(expected), str(got_rule)))
            elif key == "needs":
                if sorted(expected or []) != o.needs:
                    problems.append(_diff(f"{name} (inputs needed)", ", ".join(sorted(expected or [])) or "-",
                                          ", ".join(o.needs) or "-"))
            elif key == "conflict":
                got_rules = sorted(c.rule.name for c in o.conflict)
                if sorted(expected or []) != got_rules:
                    problems.append(_diff(f"{name} (conflicting rules)", ", ".join(sorted(expected)), ", ".join(got_rules)))
            else:
                raise CaseError(f"{where}.{key}", "unknown expectation; use value, status, rule, needs or conflict")
    return problems


def _scalar_spec(want: Any, kind: str) -> dict[str, Any]:
    if isinstance(want, str) and want in STATUS_WORDS and kind not in ("text", "enum"):
        return {"status": want}
    return {"value": want}


def _json(v: Any) -> Any:
    from .values import to_json

    return to_json(v)


def _describe(o: OutputDecision, kind: str, lang: str) -> str:
    if o.status in ("value", "default"):
        by = f" (rule {o.rule.name})" if o.rule else " (default)"
        return show_value(o.value, kind, lang) + by
    if o.status == "undetermined":
        return "undetermined" + (f", needs {', '.join(o.needs)}" if o.needs else "")
    if o.status == "conflict":
        return "conflict between " + ", ".join(c.rule.name for c in o.conflict)
    return f"error: {o.reason}"


def _diff(name: str, expected: str, got: str) -> str:
    return f"  {name}:\n    expected: {expected}\n    got:      {got}"
