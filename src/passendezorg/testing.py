"""Run cases' `expect` blocks against a rule book: readable diffs, and rule coverage."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

import click

from . import display
from . import nodes as n
from .cases import Case, convert
from .errors import CaseError
from .model import Decision, OutputDecision
from .rulebook import RuleBook
from .values import CENT

STATUS_WORDS = {
    "undetermined": "undetermined", "onbepaald": "undetermined", "conflict": "conflict",
    "error": "error", "fout": "error", "default": "default", "standaard": "default",
}


@dataclass(frozen=True)
class Difference:
    """One way a decision differs from what its case expects."""

    field: str  # the output, and what of it: `tarief`, `tarief (deciding rule)`
    expected: str
    got: str

    def text(self) -> str:
        return f"  {self.field}:\n    expected: {self.expected}\n    got:      {self.got}"


Status = Literal["passed", "failed", "error", "xfail", "xpass"]


@dataclass
class CaseResult:
    """How one case went: passed, failed (with its differences), error (it could not be read or run),
    xfail (failed, as its `xfail` mark says it will) or xpass (passed although marked to fail)."""

    path: str | None
    name: str | None
    status: Status
    differences: list[Difference] = field(default_factory=list)
    error: str | None = None
    reason: str | None = None  # why the case is expected to fail
    seconds: float = 0.0

    @property
    def title(self) -> str:
        if self.path and self.name:
            return f"{self.path} ({self.name})"
        return self.path or self.name or "case"

    def text(self) -> str:
        """The case's line in the text report, with the diff under it."""
        if self.status == "error":
            return f"ERROR {self.error}"
        if self.status == "xpass":
            return (f"XPASS {self.title}: passes, but is marked to fail ({self.reason}); "
                    "remove the `xfail` mark")
        head = "FAIL" if self.status == "failed" else "XFAIL"
        lines = [f"{head} {self.title}" + (f": {self.reason}" if self.status == "xfail" else "")]
        lines += [d.text() for d in self.differences]
        return "\n".join(lines)


@dataclass
class TestReport:
    results: list[CaseResult] = field(default_factory=list)
    decided: set[str] = field(default_factory=set)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def passed(self) -> int:
        return self.count("passed")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def errors(self) -> int:
        return self.count("error")

    @property
    def xfailed(self) -> int:
        return self.count("xfail")

    @property
    def xpassed(self) -> int:
        return self.count("xpass")

    @property
    def ok(self) -> bool:
        """No failure, no error, and no case that passes while marked to fail."""
        return self.failed == self.errors == self.xpassed == 0

    @property
    def messages(self) -> list[tuple[str, str]]:
        """(kind, text) of every case that did not simply pass: fail, error, xfail or xpass."""
        kinds = {"failed": "fail", "error": "error", "xfail": "xfail", "xpass": "xpass"}
        return [(kinds[r.status], r.text().split(" ", 1)[1]) for r in self.results if r.status != "passed"]

    def summary(self) -> str:
        total = len(self.results)
        text = f"{total} case(s): {self.passed} passed, {self.failed} failed, {self.errors} could not be read"
        if self.xfailed:
            text += f", {self.xfailed} failed as expected"
        if self.xpassed:
            text += f", {self.xpassed} passed unexpectedly"
        return text

    def lines(self, color: bool = False) -> list[str]:
        out = []
        for r in self.results:
            if r.status == "passed":
                continue
            text = r.text()
            if color:
                label, rest = text.split(" ", 1)
                label = click.style(label, fg="yellow" if r.status == "xfail" else "red", bold=True)
                text = f"{label} {rest}"
            out.append(text)
        out.append(self.summary())
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

    # ------------------------------------------------------------ for machines

    def to_json(self, book: RuleBook | None = None) -> dict[str, Any]:
        """The report as JSON (`test --format json`); with ``book``, the rule coverage too."""
        out: dict[str, Any] = {
            "cases": [
                {"file": r.path, "name": r.name, "status": r.status, "seconds": round(r.seconds, 6),
                 "reason": r.reason, "error": r.error,
                 "differences": [{"field": d.field, "expected": d.expected, "got": d.got} for d in r.differences]}
                for r in self.results
            ],
            "summary": {"cases": len(self.results), "passed": self.passed, "failed": self.failed,
                        "errors": self.errors, "xfailed": self.xfailed, "xpassed": self.xpassed, "ok": self.ok},
        }
        if book is not None:
            rules = book.program.rules
            counted = self.counted(book)
            out["coverage"] = {
                "rules": len(counted), "decided": len(counted) - len(self.uncovered(book)),
                "never_decided": [{"rule": r, "file": rules[r].span.file, "line": rules[r].span.line}
                                  for r in self.uncovered(book)],
            }
        return out

    def to_junit(self, book: RuleBook | None = None, suite: str = "passendezorg") -> str:
        """The report as JUnit XML (`test --format junit`), as CI servers read it: one testcase per case;
        a failure holds its diff; an expected failure is skipped with its reason; a case that passes while
        marked to fail is a failure. With ``book``, the rule coverage is one more testcase."""
        from xml.etree import ElementTree as ET

        cases = []
        for r in self.results:
            where = (r.path or "case").split(":")[0]
            classname = where.rsplit(".", 1)[0].replace("/", ".").replace("\\", ".").strip(".") or "case"
            case = ET.Element("testcase", {"name": r.name or where, "classname": classname, "file": where,
                                           "time": f"{r.seconds:.6f}"})
            if r.status == "failed":
                first = r.differences[0].field if r.differences else "the decision"
                child = ET.SubElement(case, "failure", {"message": f"{len(r.differences)} difference(s), first: {first}",
                                                        "type": "expectation"})
                child.text = "\n".join(d.text() for d in r.differences)
            elif r.status == "xpass":
                child = ET.SubElement(case, "failure", {"message": "passes, but is marked to fail", "type": "xpass"})
                child.text = r.text()
            elif r.status == "xfail":
                ET.SubElement(case, "skipped", {"message": f"expected failure: {r.reason}", "type": "xfail"})
            elif r.status == "error":
                child = ET.SubElement(case, "error", {"message": r.error or "", "type": "case"})
                child.text = r.error
            cases.append(case)
        if book is not None:
            missing = self.uncovered(book)
            case = ET.Element("testcase", {"name": "rule coverage", "classname": "coverage", "time": "0"})
            if missing:
                child = ET.SubElement(case, "failure", {"message": f"{len(missing)} rule(s) never decided anything",
                                                        "type": "coverage"})
                child.text = self.coverage_text(book)
            cases.append(case)
        failures = sum(1 for c in cases if c.find("failure") is not None)
        errors = sum(1 for c in cases if c.find("error") is not None)
        skipped = sum(1 for c in cases if c.find("skipped") is not None)
        seconds = f"{sum(r.seconds for r in self.results):.6f}"
        counts = {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors),
                  "skipped": str(skipped), "time": seconds}
        root = ET.Element("testsuites", {"name": suite, **counts})
        suite_element = ET.SubElement(root, "testsuite", {"name": suite, **counts})
        suite_element.extend(cases)
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def run_tests(book: RuleBook, cases: list[Case | CaseError], engine: str = "interpreter") -> TestReport:
    """Run every case; a case that cannot be read or run is an error and the others still run."""
    report = TestReport()
    for case in cases:
        started = time.perf_counter()
        result = _run_case(book, case, engine, report.decided)
        result.seconds = time.perf_counter() - started
        report.results.append(result)
    return report


def _run_case(book: RuleBook, case: Case | CaseError, engine: str, decided: set[str]) -> CaseResult:
    if isinstance(case, CaseError):
        return CaseResult(case.where.split(": ")[0], None, "error", error=str(case))
    try:
        decision = book.evaluate(case, engine=engine)
    except CaseError as e:
        return CaseResult(case.path, case.name, "error", error=str(e), reason=case.xfail)
    for o in [*decision.outputs.values(), *decision.derived.values()]:
        if o.rule is not None:
            decided.add(o.rule.name)
        decided.update(o.concurring)
    if not case.expect:
        if case.xfail is not None:
            return CaseResult(case.path, case.name, "error", reason=case.xfail,
                              error=f"{case.path}: xfail: a case marked to fail needs an `expect` block")
        return CaseResult(case.path, case.name, "passed")
    try:
        differences = differences_of(book, decision, case)
    except CaseError as e:  # a mistake in this case's `expect` block: report it, run the others
        return CaseResult(case.path, case.name, "error", error=str(e), reason=case.xfail)
    if case.xfail is not None:
        return CaseResult(case.path, case.name, "xfail" if differences else "xpass", differences, reason=case.xfail)
    return CaseResult(case.path, case.name, "failed" if differences else "passed", differences)


def compare(book: RuleBook, decision: Decision, case: Case) -> list[str]:
    """The differences between a decision and a case's expectations, one readable text each."""
    return [d.text() for d in differences_of(book, decision, case)]


def differences_of(book: RuleBook, decision: Decision, case: Case) -> list[Difference]:
    """The differences between a decision and a case's expectations.

    Values compare exactly at their type's precision: amounts to the cent, decimals exactly,
    dates as dates. An expectation more precise than its output's type (`1972.0549` for an
    amount) is a mistake in the case: CaseError naming the field.
    """
    assert case.expect is not None
    lang = book.program.language
    problems: list[Difference] = []
    for name, want in case.expect.items():
        where = f"{case.path}: expect.{name}"
        o = decision.outputs.get(name) or decision.derived.get(name)
        if o is None:
            raise CaseError(where, "not an output or derived value of the rule book")
        decl = book.program.values[name]
        # a value per record is expected as the list of the records' values (and rules)
        t = n.TypeRef("list", item=decl.type) if decl.group is not None else decl.type
        spec = want if isinstance(want, dict) else _scalar_spec(want, t.kind)
        for key, expected in spec.items():
            if key == "status":
                status = STATUS_WORDS.get(str(expected), str(expected))
                got_status = "value" if o.status == "default" and status == "value" else o.status
                if got_status != status:
                    problems.append(Difference(name, f"status {status}", f"{_describe(o, t.kind, lang)}"))
            elif key == "value":
                value_where = f"{where}.value" if isinstance(want, dict) else where
                # an output's amount is decided to the cent; a derived amount is exact, to any digit
                if decl.is_output:
                    check_precision(expected, t, value_where)
                try:
                    typed = convert(expected, t, value_where, cents=decl.is_output)
                except CaseError as e:
                    raise CaseError(value_where, e.message) from None
                got = None
                if o.status in ("value", "default") and o.value is not None:
                    got = _exact(o.value, t, where)
                if o.status not in ("value", "default") or got != typed:
                    problems.append(Difference(name, display.value(_json(typed), t.kind, lang),
                                               _describe(o, t.kind, lang)))
            elif key == "rule":
                got_rule: Any = o.rule.name if o.rule else None
                if o.records is not None:
                    got_rule = [r.rule.name if r.rule else None for r in o.records]
                if got_rule != expected:
                    problems.append(Difference(f"{name} (deciding rule)", str(expected), str(got_rule)))
            elif key == "needs":
                if sorted(expected or []) != o.needs:
                    problems.append(Difference(f"{name} (inputs needed)", ", ".join(sorted(expected or [])) or "-",
                                               ", ".join(o.needs) or "-"))
            elif key == "conflict":
                got_rules = sorted(c.rule.name for c in o.conflict)
                if sorted(expected or []) != got_rules:
                    problems.append(Difference(f"{name} (conflicting rules)", ", ".join(sorted(expected)),
                                               ", ".join(got_rules)))
            else:
                raise CaseError(f"{where}.{key}", "unknown expectation; use value, status, rule, needs or conflict")
    return problems


def check_precision(value: Any, t: n.TypeRef, where: str) -> None:
    """CaseError if an expected value says more than its type can hold: an amount below the cent,
    a date with a time of day. Never rounded: a case that expects € 1972,0549 expects something
    no amount is."""
    if t.kind == "list" and isinstance(value, list) and t.item is not None:
        for i, v in enumerate(value):
            check_precision(v, t.item, f"{where}[{i}]")
        return
    if t.kind == "date" and isinstance(value, dt.datetime):
        raise CaseError(where, f"a date has no time of day; write {value.date().isoformat()}")
    if t.kind == "money" and not isinstance(value, bool) and isinstance(value, (int, float, str, Decimal)):
        text = str(value).strip().lstrip("€").strip().replace(",", ".")
        try:
            d = Decimal(text)
        except InvalidOperation:
            return  # not a number: convert() says so
        if d.is_finite() and d != d.quantize(CENT, rounding=ROUND_HALF_UP):
            raise CaseError(where, f"{value} is more precise than an amount can be (whole cents); "
                            "write the amount the rule book decides, to the cent")


def _exact(value: Any, t: n.TypeRef, where: str) -> Any:
    """A decided value as a typed value, without rounding it again."""
    if t.kind == "money":
        return Decimal(str(value))
    if t.kind == "list" and isinstance(value, list) and t.item is not None:
        return [_exact(v, t.item, where) for v in value]
    return convert(value, t, where)


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
        return display.value(o.value, kind, lang) + by
    if o.status == "undetermined":
        return "undetermined" + (f", needs {', '.join(o.needs)}" if o.needs else "")
    if o.status == "conflict":
        return "conflict between " + ", ".join(c.rule.name for c in o.conflict)
    return f"error: {o.reason}"


