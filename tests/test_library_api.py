"""The library as an integrator meets it: what it exports, the types mypy sees, and one Python type per output
type in every call (evaluate, evaluate_many, decide_many, a decision read back from its JSON)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import passendezorg
from passendezorg import Decision, FastDecision, RuleBook

MakeBook = Callable[..., RuleBook]

EVERY_TYPE = """
input day : date
input amount : money
input share : decimal
input count : integer
input kind : one of small, large
peildatum day

output covered : boolean
output times : integer
output ratio : decimal
output payout : money
output until : date
output note : text
output size : one of small, large
output clash : money

rule set_covered
  source "s"
  then covered = amount > € 10
rule set_times
  source "s"
  then times = count * 2
rule set_ratio
  source "s"
  then ratio = share / 4
rule set_payout
  source "s"
  then payout = amount * share
rule set_until
  source "s"
  then until = day + 1 month
rule set_note
  source "s"
  then note = "24.85"
rule set_size
  source "s"
  then size = kind
rule clash_a
  source "s"
  then clash = amount
rule clash_b
  source "s"
  then clash = amount + € 1
"""

CASE = {"day": "2024-01-31", "amount": "24.85", "share": "0.5", "count": 3, "kind": "large"}

EXPECTED: dict[str, Any] = {
    "covered": True, "times": 6, "ratio": Decimal("0.125"), "payout": Decimal("12.43"),
    "until": dt.date(2024, 2, 29), "note": "24.85", "size": "large",
}
JSON_FORM = {"covered": True, "times": 6, "ratio": "0.125", "payout": "12.43", "until": "2024-02-29",
             "note": "24.85", "size": "large"}


@pytest.fixture
def book(make_book: MakeBook) -> RuleBook:
    return make_book(EVERY_TYPE)


def same(got: Any, want: Any) -> bool:
    return bool(got == want and type(got) is type(want))


def test_evaluate_gives_python_values_and_the_json_gives_text(book: RuleBook) -> None:
    d = book.evaluate(CASE)
    for name, want in EXPECTED.items():
        assert same(d.value(name), want), name
        assert same(d.outputs[name].value, want), name
    data = json.loads(d.to_json())
    assert {name: data["outputs"][name]["value"] for name in JSON_FORM} == JSON_FORM
    clash = d.outputs["clash"]
    assert clash.status == "conflict" and clash.value is None
    assert sorted(c.value for c in clash.conflict) == [Decimal("24.85"), Decimal("25.85")]
    assert all(type(c.value) is Decimal for c in clash.conflict)
    assert sorted(c["value"] for c in data["outputs"]["clash"]["conflict"]) == ["24.85", "25.85"]
    assert d.model_dump()["outputs"]["payout"]["value"] == Decimal("12.43")
    assert d.model_dump(mode="json")["outputs"]["payout"]["value"] == "12.43"


def test_a_decision_read_back_from_its_json_has_the_same_values_and_bytes(book: RuleBook) -> None:
    d = book.evaluate(CASE)
    again = Decision.model_validate_json(d.to_json())
    assert again == d
    for name, want in EXPECTED.items():
        assert same(again.value(name), want), name
    assert all(type(c.value) is Decimal for c in again.outputs["clash"].conflict)
    assert again.to_json() == d.to_json()


def test_every_library_call_gives_the_same_python_type(book: RuleBook) -> None:
    cases = [CASE] * 3
    full = [r for r in book.evaluate_many(cases) if isinstance(r, Decision)]
    fast = [r for r in book.decide_many(cases) if isinstance(r, FastDecision)]
    assert len(full) == len(fast) == 3
    for d, f in zip(full, fast):
        for name, want in EXPECTED.items():
            assert same(d.value(name), want), name
            assert same(f.values[name], want), name
        assert {name: f.as_json()["values"][name] for name in JSON_FORM} == JSON_FORM
        assert json.loads(f.to_json())["values"]["until"] == "2024-02-29"


def test_fast_decision_is_exported_without_the_compiler(tmp_path: Path) -> None:
    """`from passendezorg import FastDecision` is a real name (no lazy attribute), and importing the package does
    not import the compiler or the parser."""
    import subprocess
    import sys

    code = ("import sys, passendezorg; from passendezorg import FastDecision; "
            "print(FastDecision.__module__, 'passendezorg.engines.compiled' in sys.modules, 'lark' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["passendezorg.model", "False", "False"]
    assert "FastDecision" in passendezorg.__all__ and passendezorg.FastDecision is FastDecision


def test_mypy_sees_the_attributes_of_fast_decision(tmp_path: Path) -> None:
    """An integrator's code that reads a FastDecision type-checks under mypy --strict; a misspelt attribute does not."""
    api = pytest.importorskip("mypy.api")
    good = tmp_path / "good.py"
    good.write_text(textwrap.dedent("""
        from decimal import Decimal

        from passendezorg import CaseFailure, FastDecision, load_rules

        def payouts(path: str) -> list[Decimal]:
            out: list[Decimal] = []
            for d in load_rules(path).decide_many([{"input": {}}]):
                if isinstance(d, FastDecision):
                    reveal_type(d.values)
                    reveal_type(d.rules)
                    out.append(Decimal(d.values["payout"]))
                else:
                    reveal_type(d)
                    print(d.index, d.error)
            return out
        """), encoding="utf-8")
    bad = tmp_path / "bad.py"
    bad.write_text("from passendezorg import FastDecision\n\ndef f(d: FastDecision) -> object:\n    return d.valuez\n",
                   encoding="utf-8")
    cache = ["--cache-dir", str(tmp_path / "cache"), "--strict"]
    stdout, stderr, status = api.run([*cache, str(good)])
    assert status == 0, stdout + stderr
    assert 'Revealed type is "builtins.dict[builtins.str, Any]"' in stdout or 'Revealed type is "dict[str, Any]"' in stdout
    assert "dict[str, str | None]" in stdout or "builtins.dict[builtins.str, Union[builtins.str, None]]" in stdout
    assert "CaseFailure" in stdout
    stdout, _, status = api.run([*cache, str(bad)])
    assert status == 1 and '"FastDecision" has no attribute "valuez"' in stdout


# ---------------------------------------------------------------- where a failed case is


def test_every_failure_says_where_the_case_is(book: RuleBook, tmp_path: Path) -> None:
    from passendezorg import CaseFailure
    from passendezorg.batch import evaluate_file

    bad = {"day": "2024-01-31", "count": "three"}
    cases = [CASE, bad, CASE, {"input": bad, "name": "named"}]
    for results in (list(book.evaluate_many(cases)), book.decide_many(cases)):
        failures = [r for r in results if isinstance(r, CaseFailure)]
        assert [(f.index, f.case) for f in failures] == [(1, None), (3, "named")]
        assert all(f.line is None and "count" in f.error for f in failures)
    # a file of lines: the line a case is on
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in cases) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    evaluate_file(book, path, out)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    failed = [CaseFailure.model_validate(r) for r in records if r.get("format") == "passendezorg.failure/1"]
    assert [(f.line, f.case, f.index) for f in failed] == [(2, None, None), (4, "named", None)]
    assert failed[0].to_json() == json.dumps(records[1], ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- logging


def test_the_library_logs_through_logging_and_configures_no_handler() -> None:
    import subprocess
    import sys

    code = ("import logging, passendezorg; "
            "print([type(h).__name__ for h in logging.getLogger('passendezorg').handlers], "
            "logging.getLogger().handlers, logging.getLogger('passendezorg').level)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "['NullHandler'] [] 0"


def test_loading_a_rule_book_and_the_cache_are_logged(make_rules: Callable[..., Path], tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    from passendezorg.rulebook import load_cached

    caplog.set_level(logging.DEBUG, logger="passendezorg")
    rules = make_rules(EVERY_TYPE)
    passendezorg.load_rules(rules)
    load_cached(rules, tmp_path / "cache")
    load_cached(rules, tmp_path / "cache")
    got = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    expected = [("INFO", f"rule book {rules} checked in "), ("INFO", f"cache miss for rule book {rules}: not checked"),
                ("INFO", f"rule book {rules} checked in "), ("DEBUG", "cache stored: "),
                ("INFO", f"rule book {rules} from the cache in "), ("DEBUG", "cache hit: ")]
    assert len(got) == len(expected), got
    for (name, level, message), (want_level, start) in zip(got, expected):
        assert (name, level) == ("passendezorg.rulebook", want_level) and message.startswith(start), message
    assert "8 outputs" in caplog.records[0].getMessage()


def test_a_batch_logs_its_summary(book: RuleBook, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from passendezorg.batch import evaluate_file

    caplog.set_level(logging.INFO, logger="passendezorg")
    src = tmp_path / "cases.jsonl"
    src.write_text(json.dumps(CASE) + "\n{}\n", encoding="utf-8")
    evaluate_file(book, src, tmp_path / "out.jsonl")
    book.decide_many([CASE, {"day": "x"}])
    messages = [r.getMessage() for r in caplog.records if r.name == "passendezorg.batch"]
    assert len(messages) == 2
    assert messages[0].startswith(f"batch {src}: 2 case(s) in ") and "1 could not be evaluated" in messages[0]
    assert messages[1].startswith("batch of 2 case(s) in ") and "1 could not be evaluated" in messages[1]
