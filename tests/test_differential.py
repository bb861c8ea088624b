"""Differential tests: the rete engine and the native engine give byte-identical decisions.

Hypothesis writes small random rule books as text (conditions, exceptions, validity
periods, defaults, parameters with unknown periods, a dated table) and random cases
for them, including missing inputs, and generates cases for the shipped rule book in
rules/. Every case file in cases/ runs through both engines too.

The default number of examples keeps this file well under a minute; set
PASSENDEZORG_DIFF_EXAMPLES (e.g. 3000) for a long run.
"""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passendezorg import nodes as n
from passendezorg.cases import read_case_file
from passendezorg.engines.compiled import CompiledProgram, compile_program
from passendezorg.engines.interpreter import Evaluation
from passendezorg.engines.rete import ReteEngine, unavailable_reason
from passendezorg.errors import CaseError
from passendezorg.program import Program
from passendezorg.rulebook import RuleBook, check_path
from passendezorg.testing import compare

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=unavailable_reason() or "")

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_RULES = ROOT / "rules"
SHIPPED_CASES = ROOT / "cases"
EXAMPLES = int(os.environ.get("PASSENDEZORG_DIFF_EXAMPLES", "0") or 0)


def examples(default: int) -> int:
    return EXAMPLES or default


def diff_settings(default: int) -> Callable[[Any], Any]:
    return settings(max_examples=examples(default), deadline=None, derandomize=not EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def decision_json(book: RuleBook, outcomes: Any, day: dt.date, name: str | None) -> str:
    return book.decision(outcomes, day, name).to_json()


def assert_same(book: RuleBook, engine: ReteEngine, inputs: dict[str, Any], day: dt.date, name: str | None) -> None:
    native = decision_json(book, Evaluation(book.program, inputs, day).run(), day, name)
    rete = decision_json(book, engine.run(inputs, day), day, name)
    assert rete == native, f"inputs {inputs!r} on {day}"


# ---------------------------------------------------------------- cases for any checked rule book


def _constants(program: Program) -> dict[str, set[Any]]:
    """Constants written in the rule book, by kind: inputs near them make conditions flip."""
    found: dict[str, set[Any]] = {}

    def walk(e: Any) -> None:
        if isinstance(e, n.Literal):
            found.setdefault(e.kind, set()).add(e.value)
        if e is not None:
            for x in n.children(e):
                walk(x)

    for r in program.rules.values():
        walk(r.when)
        walk(r.value)
    for v in program.values.values():
        walk(v.definition)
        walk(v.default)
    for t in program.tables.values():
        for key in t.rows:
            for k in key:
                kind = "text" if isinstance(k, str) else "integer" if isinstance(k, int) else "other"
                found.setdefault(kind, set()).add(k)
    for p in program.parameters.values():
        for period in p.periods:
            found.setdefault("date", set()).update(d for d in (period.start, period.end) if d)
    for r in program.rules.values():
        found.setdefault("date", set()).update(d for d in (r.valid_from, r.valid_until) if d)
    return found


ODD_TEXTS = ["", " ", "é", 'quo"te', "back\\slash", "ünï cödé ✓", "😀", "tab\there", "x" * 300, "1", "true"]


def value_strategy(t: n.TypeRef, consts: dict[str, set[Any]]) -> st.SearchStrategy[Any]:
    k = t.kind
    if k == "boolean":
        return st.booleans()
    if k == "integer":
        near = sorted({int(c) + d for c in consts.get("integer", set()) | {0} for d in (-1, 0, 1)
                       if isinstance(c, int) and abs(c) < 10**6})
        return st.one_of(st.sampled_from(near), st.integers(-5, 40),
                         st.sampled_from([2**53 + 1, -(2**53) - 1, 2**63 + 7, -(10**20)]))
    if k in ("decimal", "money"):
        base = [Decimal(c) for c in consts.get("decimal", set()) | consts.get("money", set()) | consts.get("integer", set())
                if isinstance(c, (int, Decimal)) and not isinstance(c, bool) and abs(c) < 10**6] or [Decimal(0)]
        delta = st.sampled_from([Decimal(0), Decimal("0.01"), Decimal("-0.01"), Decimal("0.005"), Decimal("1"),
                                 Decimal("-1"), Decimal("0.0000001")])
        near = st.builds(lambda b, d: b + d, st.sampled_from(base), delta)
        free = st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False, allow_infinity=False)
        huge = st.sampled_from([Decimal("1E+20"), Decimal("-123456789012345678.25")])
        s = st.one_of(near, free, huge)
        return s.map(n.money) if k == "money" else s
    if k == "date":
        near = sorted({d + dt.timedelta(days=x) for d in consts.get("date", set()) for x in (-1, 0, 1)})
        free = st.dates(dt.date(1940, 1, 1), dt.date(2030, 12, 31))
        return st.one_of(st.sampled_from(near), free) if near else free
    if k == "text":
        texts = sorted(c for c in consts.get("text", set()) if isinstance(c, str))
        odd = st.sampled_from(ODD_TEXTS)
        return st.one_of(st.sampled_from(texts), odd, st.text(max_size=5)) if texts else st.one_of(odd, st.text(max_size=5))
    if k == "enum":
        return st.sampled_from(t.choices)
    if k == "list":
        assert t.item is not None
        return st.lists(value_strategy(t.item, consts), max_size=3)
    raise AssertionError(k)


@st.composite
def case_for(draw: st.DrawFn, program: Program, missing: float = 0.2) -> tuple[dict[str, Any], dt.date]:
    """Typed inputs (some missing) and the date the case is read on."""
    consts = _constants(program)
    inputs: dict[str, Any] = {}
    for name, decl in program.inputs.items():
        if draw(st.floats(0, 1)) < missing:
            continue
        inputs[name] = draw(value_strategy(decl.type, consts))
    day = inputs.get(program.peildatum) if program.peildatum else None
    if not isinstance(day, dt.date):
        day = draw(value_strategy(n.TypeRef("date"), consts))
    return inputs, day


# ---------------------------------------------------------------- random rule books

CHOICES = ("alpha", "beta", "gamma")
INPUTS = {
    "c.day": "date", "c.n1": "integer", "c.n2": "integer", "c.dec": "decimal", "c.amt": "money",
    "c.flag": "boolean", "c.kind": "one of alpha, beta, gamma", "c.label": "text", "c.born": "date",
    "c.tags": "list of one of alpha, beta, gamma",
}
TABLE_CSV = """code,points,start,end,note
A1,3,2019-01-01,,row one
B2,,2019-01-01,2021-12-31,
B2,7,2022-01-01,,decision 7
é"x,1,2020-01-01,,
"""
LABELS = ['"A1"', '"é\\"x"', '""', '"B2"']
VALUE_TYPES = ("boolean", "integer", "money", "enum", "decimal", "date")
TYPE_TEXT = {"enum": "one of alpha, beta, gamma"}


class Gen:
    """Writes a random, well-typed rule book; ``values`` are (name, type) of values declared so far."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.values: list[tuple[str, str]] = []

    def pick(self, options: list[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    def chance(self, p: float) -> bool:
        return self.draw(st.floats(0, 1)) < p

    def refs(self, kind: str) -> list[str]:
        return [name for name, t in self.values if t == kind]

    # ------------------------------------------------------------ expressions by type

    def integer(self, depth: int = 2) -> str:
        simple = ["c.n1", "c.n2", str(self.draw(st.integers(-3, 30))), "p_limit", *self.refs("integer")]
        if depth <= 0 or self.chance(0.5):
            return self.pick(simple)
        return self.pick([
            f"{self.integer(depth - 1)} + {self.integer(depth - 1)}",
            f"{self.integer(depth - 1)} - {self.pick(simple)}",
            f"{self.pick(simple)} * 2",
            "age(c.born, c.day)", "year(c.day)", "count(c.tags)", "codes[c.label].points",
            "days_between(c.born, c.day)", "round(c.dec)", "round_down(c.dec * 1.5)", "round(c.dec, half even)",
            "round(c.dec * 2.5, towards zero)", f"({self.pick(simple)} if {self.condition(1)} else {self.pick(simple)})",
            f"min({self.pick(simple)}, {self.pick(simple)})", f"max({self.pick(simple)}, 3)",
            f"abs({self.pick(simple)})", f"-{self.pick(simple)}",
        ])

    def decimal(self, depth: int = 2) -> str:
        simple = ["c.dec", "p_rate", "1.5", "0.25", "25 %", "2", *self.refs("decimal")]
        if depth <= 0 or self.chance(0.5):
            return self.pick(simple)
        return self.pick([f"{self.integer(0)} / {self.integer(0)}", f"{self.pick(simple)} * 1.5",
                          f"{self.decimal(depth - 1)} + {self.decimal(depth - 1)}", "c.amt / c.amt",
                          f"({self.pick(simple)} if {self.condition(1)} else {self.integer(0)})"])

    def money(self, depth: int = 2) -> str:
        simple = ["c.amt", "p_amount", "€ 12,50", "€ 0", "€ 385,00", *self.refs("money")]
        if depth <= 0 or self.chance(0.5):
            return self.pick(simple)
        return self.pick([f"{self.pick(simple)} * 2", f"{self.money(depth - 1)} + {self.money(depth - 1)}",
                          f"round({self.pick(simple)} * 0.3)", f"round_down({self.pick(simple)} / 3)",
                          f"min({self.pick(simple)}, € 10,00)", f"{self.pick(simple)} * p_rate",
                          f"round({self.pick(simple)} * 0.333, to whole euros, down)",
                          f"round({self.pick(simple)} / 7, to cents, half even)", f"{self.pick(simple)} * 0.0325",
                          f"round({self.pick(simple)} * 1.5, up)",
                          f"({self.money(depth - 1)} if {self.condition(1)} else {self.pick(simple)})"])

    def date(self, depth: int = 1) -> str:
        simple = ["c.day", "c.born", "2021-06-30", "2000-02-29", *self.refs("date")]
        if depth <= 0 or self.chance(0.5):
            return self.pick(simple)
        return self.pick([f"{self.pick(simple)} + 18 years", "c.day - 30 days", "c.born + 2 months",
                          f"start_of_month({self.pick(simple)})", f"start_of_month({self.pick(simple)}) + 1 month"])

    def enum(self) -> str:
        return self.pick(["c.kind", *CHOICES, *self.refs("enum")])

    def value_of(self, kind: str) -> str:
        if kind == "boolean":
            return self.condition(1) if self.chance(0.4) else self.pick(["true", "false", "c.flag", *self.refs("boolean")])
        return {"integer": self.integer, "decimal": self.decimal, "money": self.money, "date": self.date,
                "enum": lambda: self.enum()}[kind]()

    # ------------------------------------------------------------ conditions

    def atom(self) -> str:
        op = self.pick(["=", "!=", "<", "<=", ">", ">="])
        eq = self.pick(["=", "!="])
        known = self.pick(["is known", "is missing"])
        options = [
            f"c.n1 {op} {self.draw(st.integers(-2, 25))}",
            f"{self.draw(st.integers(-2, 25))} {op} c.n2",
            f"c.n1 {op} -3",
            f"c.n1 {op} 2.5",
            f"{self.integer()} {op} {self.integer()}",
            f"c.dec {op} {self.pick(['1.5', '0', '0.333', '25 %', '1000000', '0.0000001'])}",
            f"{self.decimal()} {op} {self.decimal()}",
            f"c.amt {op} {self.pick(['€ 12,50', '€ 0', '€ 385', '€ 0,01'])}",
            f"{self.money()} {op} {self.money()}",
            f"c.born {op} {self.pick(['2000-01-01', '1980-05-31', '2021-06-30'])}",
            f"{self.date()} {op} {self.date()}",
            f"c.kind {eq} {self.pick(list(CHOICES))}",
            f"c.kind in [{', '.join(self.draw(st.lists(st.sampled_from(CHOICES), min_size=1, max_size=3)))}]",
            f"c.kind not in [{self.pick(list(CHOICES))}]",
            f"c.label {eq} {self.pick(LABELS)}",
            "c.label in [\"A1\", \"B2\"]",
            "c.label in codes", "c.label not in codes",
            f"{self.pick(list(CHOICES))} in c.tags",
            "c.flag", "not c.flag", f"c.flag {eq} {self.pick(['true', 'false'])}",
            f"{self.pick(list(INPUTS))} {known}",
            f"codes[c.label].points {known}",
            f"p_limit {op} {self.draw(st.integers(5, 25))}",
            f"p_limit {known}",
            f"c.n1 {op} p_limit",
            f"c.n1 / c.n2 {op} 1.5",
            f"age(c.born, c.day) {op} 18",
            f"c.born + 18 years {op} c.day",
            "true", "false",
        ]
        for name, kind in self.values:
            options.append(f"{name} {known}")
            if kind == "boolean":
                options += [name, f"not {name}", f"{name} = {self.pick(['true', 'false'])}"]
            elif kind == "integer":
                options.append(f"{name} {op} {self.draw(st.integers(-2, 25))}")
            elif kind == "enum":
                options.append(f"{name} {eq} {self.pick(list(CHOICES))}")
                options.append(f"{name} in [{self.pick(list(CHOICES))}, {self.pick(list(CHOICES))}]")
            elif kind == "money":
                options.append(f"{name} {op} € 20,00")
            elif kind == "decimal":
                options.append(f"{name} {op} 0.5")
            elif kind == "date":
                options.append(f"{name} {op} 2021-01-01")
        return self.pick(options)

    def condition(self, depth: int = 3) -> str:
        if depth <= 0 or self.chance(0.35):
            return self.atom()
        form = self.pick(["and", "or", "not", "and", "or", "chain"])
        if form == "not":
            return f"not ({self.condition(depth - 1)})"
        if form == "chain":
            # `a or b or c …` unparenthesised: the parser builds a balanced tree
            op = self.pick(["and", "or"])
            parts = [self.atom() if self.chance(0.7) else f"({self.condition(depth - 1)})"
                     for _ in range(self.draw(st.integers(3, 9)))]
            return f" {op} ".join(parts)
        return f"({self.condition(depth - 1)}) {form} ({self.condition(depth - 1)})"

    # ------------------------------------------------------------ the book

    def book(self) -> str:
        out = [
            "language english",
            "ruleset random",
            '  title "A random rule book"',
            '  source src "The source" url "https://example.org/"',
            "",
        ]
        out += [f"input {name} : {t}" for name, t in INPUTS.items()]
        out += [
            "peildatum c.day",
            "",
            "parameter p_limit : integer",
            '  from 2019-01-01 = 10 source src "a"',
            "  from 2021-01-01 = unknown",
            '  from 2021-07-01 = 20 source src "b"',
            "parameter p_rate : decimal",
            '  from 2015-01-01 = 0.5 source src "c"',
            "parameter p_amount : money",
            '  from 2019-01-01 until 2023-12-31 = € 385,00 source src "d"',
            "",
            'table codes "Codes" file "codes.csv" key code',
            "  column code : text",
            "  column points : integer",
            "  valid from column start until column end",
            '  source src "annex"',
            "  source column note",
            "",
        ]
        count = self.draw(st.integers(1, 5))
        rule_no = 0
        for i in range(count):
            kind = self.pick(list(VALUE_TYPES))
            name = f"v{i}"
            type_text = TYPE_TEXT.get(kind, kind)
            defined = kind != "date" and self.chance(0.2)
            is_output = not defined and self.chance(0.6)
            default = f" default {self.value_of(kind)}" if not defined and self.chance(0.4) else ""
            if defined:
                out.append(f"derived {name} : {type_text} = {self.value_of(kind)}")
                if self.chance(0.5):
                    out.append(f'  source src "definition of {name}"')
            else:
                out.append(f"{'output' if is_output else 'derived'} {name} : {type_text}{default}")
            if not defined:
                mine: list[str] = []
                for _ in range(self.draw(st.integers(1, 4))):
                    rule = f"r{rule_no}"
                    rule_no += 1
                    lines = [f'rule {rule} "Rule {rule}"', f'  source src "art. {rule_no}"']
                    if mine and self.chance(0.5):
                        lines.append(f"  exception to {self.pick(mine)}")
                    if self.chance(0.3):
                        start = self.pick(["2019-01-01", "2021-01-01", "2022-06-01"])
                        end = self.pick(["", " until 2021-12-31", " until 2024-12-31"])
                        if not end or end[-10:] > start:
                            lines.append(f"  valid from {start}{end}")
                    if self.chance(0.85):
                        lines.append(f"  when {self.condition()}")
                    lines.append(f"  then {name} = {self.value_of(kind)}")
                    out += ["", *lines]
                    mine.append(rule)
            out.append("")
            self.values.append((name, kind))
        return "\n".join(out) + "\n"


@st.composite
def rule_books(draw: st.DrawFn) -> str:
    return Gen(draw).book()


_BOOKS: dict[str, tuple[RuleBook, ReteEngine]] = {}


def compiled(text: str, folder: Path) -> tuple[RuleBook, ReteEngine]:
    """Check a generated rule book (it must be clean) and build both engines, cached by text."""
    if text in _BOOKS:
        return _BOOKS[text]
    if len(_BOOKS) > 8:
        for _book, engine in _BOOKS.values():
            engine.close()
        _BOOKS.clear()
    path = folder / f"book{len(os.listdir(folder))}"
    path.mkdir()
    (path / "codes.csv").write_text(TABLE_CSV, encoding="utf-8")
    (path / "book.pz").write_text(text, encoding="utf-8")
    report = check_path(path)
    errors = [d.render(report.sources) for d in report.errors]
    assert report.program is not None, "the generator wrote a rule book with errors:\n" + "\n".join(errors) + \
        "\n\n" + textwrap.indent(text, "  ")
    book = RuleBook(report.program)
    _BOOKS[text] = (book, ReteEngine(report.program))
    return _BOOKS[text]


@pytest.fixture(scope="module")
def book_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("random_books")
    for _book, engine in _BOOKS.values():
        engine.close()
    _BOOKS.clear()


@diff_settings(30)
@given(data=st.data(), text=rule_books())
def test_random_rule_books(book_folder: Path, data: st.DataObject, text: str) -> None:
    book, engine = compiled(text, book_folder)
    for i in range(8):
        inputs, day = data.draw(case_for(book.program, missing=data.draw(st.sampled_from([0.0, 0.1, 0.4]))))
        assert_same(book, engine, inputs, day, f"case {i}")



_COMPILED: dict[str, CompiledProgram] = {}


def compiled_engine(text: str, folder: Path) -> CompiledProgram:
    """The compiled engine of a generated rule book, cached by text."""
    if text not in _COMPILED:
        if len(_COMPILED) > 8:
            _COMPILED.clear()
        _COMPILED[text] = compile_program(compiled(text, folder)[0].program)
    return _COMPILED[text]


def assert_compiled_same(cp: CompiledProgram, inputs: dict[str, Any], day: dt.date) -> None:
    """Every value of the compiled engine is the interpreter's: status, value, deciding rule, and for the values
    the two-valued blocks could not decide, the needed inputs, the reason and the conflicting rules. Those
    are decided by the three-valued blocks alone: the interpreter is not needed."""
    fast = cp.run(inputs, day)
    reference = Evaluation(cp.program, inputs, day, trace=False).run()
    assert fast is not None, f"inputs {inputs!r} on {day}"
    decided = fast.decided
    for k, (name, status, value, rule) in enumerate(zip(cp.names, fast.statuses, fast.values, fast.rules)):
        o = reference[name]
        want = o.value if o.known else None
        assert (status, rule, type(value), repr(value)) == (o.status, o.rule, type(want), repr(want)), \
            (name, inputs, day)
        d = decided.get(k)
        if d is not None:
            assert (d.needs, d.reason, d.conflict, d.overridden, d.concurring) == \
                (o.needs, o.reason, o.conflict, o.overridden, o.concurring), (name, inputs, day)
    assert fast[3] is None or fast[3].ev is None, f"the interpreter decided a value: inputs {inputs!r} on {day}"


@diff_settings(30)
@given(data=st.data(), text=rule_books())
def test_random_rule_books_compiled(book_folder: Path, data: st.DataObject, text: str) -> None:
    """Random rule books and cases that leave random inputs out: the compiled engine's three-valued blocks."""
    cp = compiled_engine(text, book_folder)
    for _ in range(8):
        inputs, day = data.draw(case_for(cp.program, missing=data.draw(st.sampled_from([0.0, 0.1, 0.4, 0.7]))))
        assert_compiled_same(cp, inputs, day)


# ---------------------------------------------------------------- the shipped rule book and cases


def _shipped() -> tuple[RuleBook | None, str]:
    if not SHIPPED_RULES.is_dir() or not any(SHIPPED_RULES.rglob("*.pz")):
        return None, f"no shipped rule book in {SHIPPED_RULES}"
    report = check_path(SHIPPED_RULES)
    if report.program is None:
        return None, (f"`passendezorg check rules` reports {len(report.errors)} error(s); the shipped rule book is "
                      "compared once it checks clean")
    return RuleBook(report.program, report.warnings), ""


SHIPPED, SHIPPED_WHY = _shipped()


@pytest.fixture(scope="module")
def shipped() -> Iterator[tuple[RuleBook, ReteEngine]]:
    if SHIPPED is None:
        pytest.skip(SHIPPED_WHY)
    engine = ReteEngine(SHIPPED.program)
    yield SHIPPED, engine
    engine.close()


@diff_settings(150)
@given(data=st.data())
def test_shipped_rule_book(shipped: tuple[RuleBook, ReteEngine], data: st.DataObject) -> None:
    book, engine = shipped
    inputs, day = data.draw(case_for(book.program, missing=data.draw(st.sampled_from([0.0, 0.05, 0.3]))))
    assert_same(book, engine, inputs, day, "generated")


def _case_files() -> list[Path]:
    if not SHIPPED_CASES.is_dir():
        return []
    return sorted(p for p in SHIPPED_CASES.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file())


@pytest.mark.parametrize("path", _case_files(), ids=lambda p: str(p.relative_to(SHIPPED_CASES)))
def test_case_files(shipped: tuple[RuleBook, ReteEngine], path: Path) -> None:
    book, engine = shipped
    try:
        case, inputs, day = book.prepare(read_case_file(path))
    except CaseError as e:
        pytest.skip(f"not a valid case for this rule book: {e}")
    assert_same(book, engine, inputs, day, case.name)
    # what `passendezorg test cases/ --engine rete` checks: the case's expectations hold
    decision = book.decision(engine.run(inputs, day), day, case.name)
    assert compare(book, decision, case) == []
