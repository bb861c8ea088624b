"""Explained decisions from compiled code are the interpreter's, byte for byte.

``RuleBook.evaluate`` runs the compiled engine by default: generated code that records what the
explanation needs, and the decision JSON written from its records (decisions.py). Every shipped case
file, random cases for the shipped rule book and random rule books with random cases (inputs left
out, values not in force, conflicts, exceptions, validity periods, dated tables) give the same JSON
as the reference interpreter. PASSENDEZORG_DIFF_EXAMPLES raises the number of examples.
"""

from __future__ import annotations

import copy
import datetime as dt
import pickle
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passendezorg import Decision, RuleBook, load_rules
from passendezorg.cases import read_case_file
from passendezorg.decisions import CompiledDecision
from passendezorg.engines.interpreter import Evaluation
from passendezorg.rulebook import check_path
from test_differential import TABLE_CSV, case_for, diff_settings, rule_books

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_RULES = ROOT / "rules"
SHIPPED_CASES = ROOT / "cases"


def reference(book: RuleBook, inputs: dict[str, Any], day: dt.date, name: str | None) -> str:
    return book.decision(Evaluation(book.program, inputs, day).run(), day, name, inputs).to_json()


def assert_same(book: RuleBook, inputs: dict[str, Any], day: dt.date, name: str | None) -> None:
    got = book.compiled_decisions().decision(inputs, day, name)
    want = reference(book, inputs, day, name)
    assert got.to_json() == want, f"inputs {inputs!r} on {day}"


@pytest.fixture(scope="module")
def shipped() -> RuleBook:
    if not SHIPPED_RULES.is_dir():
        pytest.skip("no shipped rule book")
    return load_rules(SHIPPED_RULES)


def _case_files() -> list[Path]:
    return sorted(p for p in SHIPPED_CASES.rglob("*.yaml")) if SHIPPED_CASES.is_dir() else []


def test_every_shipped_case_file(shipped: RuleBook) -> None:
    files = _case_files()
    assert files, "no case files"
    for path in files:
        case = read_case_file(path)
        try:
            interpreted = shipped.evaluate(case, engine="interpreter")
        except Exception:  # noqa: BLE001 - a case file that is malformed on purpose: both engines refuse it
            with pytest.raises(Exception):  # noqa: B017,PT011
                shipped.evaluate(case)
            continue
        compiled = shipped.evaluate(case)
        assert isinstance(compiled, CompiledDecision)
        assert compiled.to_json() == interpreted.to_json(), path
        assert compiled.model_dump_json() == interpreted.to_json(), path


@diff_settings(150)
@given(data=st.data())
def test_random_cases_for_the_shipped_book(shipped: RuleBook, data: st.DataObject) -> None:
    inputs, day = data.draw(case_for(shipped.program, missing=data.draw(st.sampled_from([0.0, 0.1, 0.3]))))
    assert_same(shipped, inputs, day, "random")


_BOOKS: dict[str, RuleBook] = {}


def book_of(text: str, folder: Path) -> RuleBook:
    if text not in _BOOKS:
        if len(_BOOKS) > 8:
            _BOOKS.clear()
        path = folder / f"book{len(_BOOKS)}_{abs(hash(text))}"
        path.mkdir()
        (path / "codes.csv").write_text(TABLE_CSV, encoding="utf-8")
        (path / "book.pz").write_text(text, encoding="utf-8")
        report = check_path(path)
        assert report.program is not None, "the generator wrote a rule book with errors:\n" + \
            textwrap.indent(text, "  ")
        _BOOKS[text] = RuleBook(report.program)
    return _BOOKS[text]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("explained_books")


@diff_settings(40)
@given(data=st.data(), text=rule_books())
def test_random_rule_books(folder: Path, data: st.DataObject, text: str) -> None:
    book = book_of(text, folder)
    for i in range(8):
        inputs, day = data.draw(case_for(book.program, missing=data.draw(st.sampled_from([0.0, 0.1, 0.4, 0.7]))))
        assert_same(book, inputs, day, f"case {i}")


def test_the_decision_is_a_decision_when_touched(shipped: RuleBook) -> None:
    """The models are built when read: equal to the interpreter's, and the same in every use."""
    path = next(p for p in _case_files() if "eigen_risico" in str(p))
    case = read_case_file(path)
    interpreted = shipped.evaluate(case, engine="interpreter")
    compiled = shipped.evaluate(case)
    name = next(iter(interpreted.outputs))
    assert compiled.value(name) == interpreted.value(name)
    assert compiled == interpreted and interpreted == compiled
    assert compiled.outputs == interpreted.outputs and compiled.derived == interpreted.derived
    assert compiled.model_dump() == interpreted.model_dump()
    assert repr(compiled).endswith(repr(interpreted).removeprefix("Decision"))
    again = pickle.loads(pickle.dumps(shipped.evaluate(case)))
    assert type(again) is Decision and again.to_json() == interpreted.to_json()
    assert copy.deepcopy(compiled).to_json() == interpreted.to_json()
    assert hash(compiled) == hash(shipped.evaluate(case))


SHARED = """language english
ruleset shared
  title "An exception below two rules, with an exception of its own"
  source src "The source" url "https://example.org/"

input c.day : date
input c.a : boolean
input c.b : boolean
input c.x : boolean
input c.y : boolean
peildatum c.day

output v : integer default 0

rule ra "A"
  source src "1"
  when c.a
  then v = 1

rule rb "B"
  source src "2"
  exception to ra
  when c.b
  then v = 2

rule rc "C"
  source src "3"
  exception to ra
  then v = 3

rule rx "X"
  source src "4"
  exception to rb
  exception to rc
  when c.x
  then v = 4

rule ry "Y"
  source src "5"
  exception to rx
  when c.y
  then v = 5
"""


@pytest.mark.parametrize("given", [
    {"a": True, "b": True, "x": True, "y": True},
    {"a": True, "b": True, "x": True, "y": False},
    {"a": True, "b": False, "x": True, "y": True},
    {"a": True, "b": True, "x": False, "y": True},
    {"a": True, "x": True, "y": True},
    {"b": True, "x": True},
    {"a": False, "b": True, "x": True, "y": True},
])
def test_an_exception_below_two_rules(tmp_path: Path, given: dict[str, bool]) -> None:
    """The interpreter walks an exception below two rules once for each: what it overrides is reported twice."""
    (tmp_path / "book.pz").write_text(SHARED, encoding="utf-8")
    report = check_path(tmp_path)
    assert report.program is not None, [d.message for d in report.errors]
    book = RuleBook(report.program)
    inputs: dict[str, Any] = {"c.day": dt.date(2024, 1, 1), **{f"c.{k}": v for k, v in given.items()}}
    assert_same(book, inputs, dt.date(2024, 1, 1), "shared")
    if all(given.get(k) for k in "abxy"):
        o = book.compiled_decisions().decision(inputs, dt.date(2024, 1, 1), None).outputs["v"]
        assert [(x.rule.name, x.by) for x in o.overridden] == [
            ("rx", "ry"), ("rb", "ry"), ("rx", "ry"), ("rc", "ry"), ("ra", "ry")]
