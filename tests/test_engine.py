"""The semantics of LANGUAGE.md, one small rule book at a time, through the library front door."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from passendezorg import Decision, OutputDecision, RuleBook
from passendezorg.values import add_duration, age, to_json

MakeBook = Callable[..., RuleBook]


def out(book: RuleBook, case: dict[str, Any], name: str, on: dt.date | None = None) -> OutputDecision:
    return book.evaluate(case, on).outputs[name]


# ---------------------------------------------------------------- exceptions

NESTED = """
input day : date
input age : integer
input chronic : boolean
input session : integer
input palliative : boolean
peildatum day

output covered : boolean
  default true

rule adult
  "Adults are not covered"
  source "art. 1"
  when age >= 18
  then covered = false

rule chronic_adult
  "Chronic conditions are covered from session 21"
  exception to adult
  source "art. 2"
  when chronic and session > 20
  then covered = true

rule session_cap
  "Not beyond session 60"
  exception to chronic_adult
  source "art. 3"
  when session > 60
  then covered = false

rule palliative_care
  "Palliative care is always covered"
  exception to session_cap
  source "art. 4"
  when palliative
  then covered = true
"""


@pytest.mark.parametrize(
    ("facts", "value", "rule", "overridden"),
    [
        ({"age": 10, "chronic": False, "session": 1, "palliative": False}, True, None, []),
        ({"age": 40, "chronic": False, "session": 30, "palliative": False}, False, "adult", []),
        ({"age": 40, "chronic": True, "session": 30, "palliative": False}, True, "chronic_adult",
         [("adult", "chronic_adult")]),
        ({"age": 40, "chronic": True, "session": 61, "palliative": False}, False, "session_cap",
         [("chronic_adult", "session_cap"), ("adult", "session_cap")]),
        ({"age": 40, "chronic": True, "session": 61, "palliative": True}, True, "palliative_care",
         [("session_cap", "palliative_care"), ("chronic_adult", "palliative_care"), ("adult", "palliative_care")]),
    ],
    ids=["child-default", "adult", "chronic", "beyond-cap", "palliative"],
)
def test_exceptions_nest_three_levels(
    make_book: MakeBook, facts: dict[str, Any], value: bool, rule: str | None, overridden: list[tuple[str, str]]
) -> None:
    book = make_book(NESTED)
    assert book.warnings == []
    o = out(book, {"day": "2024-05-01", **facts}, "covered")
    assert o.value is value
    assert o.status == ("default" if rule is None else "value")
    assert (o.rule.name if o.rule else None) == rule
    assert [(ov.rule.name, ov.by) for ov in o.overridden] == overridden


def test_an_exception_decides_even_when_the_rule_it_overrides_does_not_apply(make_book: MakeBook) -> None:
    book = make_book(NESTED)
    o = out(book, {"day": "2024-05-01", "age": 10, "chronic": True, "session": 61, "palliative": False}, "covered")
    assert (o.status, o.value, o.rule.name if o.rule else None) == ("value", False, "session_cap")
    # `adult` does not apply, so it is not overridden; `chronic_adult` applies and is
    assert [(ov.rule.name, ov.by) for ov in o.overridden] == [("chronic_adult", "session_cap")]


def test_an_undecided_exception_makes_the_output_undetermined(make_book: MakeBook) -> None:
    book = make_book(NESTED)
    o = out(book, {"day": "2024-05-01", "age": 40, "session": 30, "palliative": False}, "covered")
    assert o.status == "undetermined"
    assert o.needs == ["chronic"]
    assert o.value is None


def test_an_undecided_exception_that_would_give_the_same_value_decides(make_book: MakeBook) -> None:
    """`palliative` is unknown, but session_cap does not apply: nothing it could override changes the answer."""
    book = make_book(NESTED)
    o = out(book, {"day": "2024-05-01", "age": 40, "chronic": True, "session": 30}, "covered")
    assert (o.status, o.value, o.rule.name if o.rule else None) == ("value", True, "chronic_adult")


# ---------------------------------------------------------------- conflicts and agreement

TWO_RULES = """
ruleset r
  source wet "De wet" url "https://example.org/wet"
input day : date
input kind : one of physio, dental
input referred : boolean
peildatum day
output covered : boolean
rule physio_yes
  "Physio is covered"
  source wet "art. 1"
  when kind = physio
  then covered = true
rule referred_no
  "Referred care is not covered"
  source wet "art. 2"
  when referred
  then covered = false
rule dental_yes
  source wet "art. 3"
  when referred and kind = dental
  then covered = false
"""


def test_two_unrelated_rules_with_different_values_give_a_conflict_naming_both(make_book: MakeBook) -> None:
    book = make_book(TWO_RULES)
    assert {w.code for w in book.warnings} == {"overlap"}
    o = out(book, {"day": "2024-01-01", "kind": "physio", "referred": True}, "covered")
    assert o.status == "conflict"
    assert o.value is None and o.rule is None
    assert [(c.rule.name, c.value) for c in o.conflict] == [("physio_yes", True), ("referred_no", False)]
    assert [s.detail for c in o.conflict for s in c.rule.sources] == ["art. 1", "art. 2"]
    assert all(s.url == "https://example.org/wet" for c in o.conflict for s in c.rule.sources)
    assert o.reason is not None and "physio_yes" in o.reason and "referred_no" in o.reason


def test_two_unrelated_rules_with_the_same_value_are_no_conflict(make_book: MakeBook) -> None:
    book = make_book(TWO_RULES)
    o = out(book, {"day": "2024-01-01", "kind": "dental", "referred": True}, "covered")
    assert (o.status, o.value) == ("value", False)
    assert o.rule is not None and o.rule.name == "referred_no"
    assert o.concurring == ["dental_yes"]
    assert o.conflict == []


def test_a_conflict_upstream_is_an_error_downstream(make_book: MakeBook) -> None:
    book = make_book(TWO_RULES + "output pay : boolean\nrule p\n  source wet\n  when covered\n  then pay = true\n")
    o = out(book, {"day": "2024-01-01", "kind": "physio", "referred": True}, "pay")
    assert o.status == "error"
    assert o.reason == "`covered` has a conflict"


# ---------------------------------------------------------------- defaults and missing facts

THREE_VALUED = """
input day : date
input a : boolean
input b : boolean
peildatum day
output and_ab : boolean
  default false
output and_ba : boolean
  default false
output or_ab : boolean
  default false
output or_ba : boolean
  default false
output none : integer
rule r_and_ab
  source "s"
  when a and b
  then and_ab = true
rule r_and_ba
  source "s"
  when b and a
  then and_ba = true
rule r_or_ab
  source "s"
  when a or b
  then or_ab = true
rule r_or_ba
  source "s"
  when b or a
  then or_ba = true
rule r_none
  source "s"
  when a and not a
  then none = 1
"""


def test_false_and_unknown_is_false(make_book: MakeBook) -> None:
    d = make_book(THREE_VALUED).evaluate({"day": "2024-01-01", "a": False})
    for name in ("and_ab", "and_ba"):
        assert (d.outputs[name].status, d.outputs[name].value) == ("default", False), name


def test_true_or_unknown_is_true(make_book: MakeBook) -> None:
    d = make_book(THREE_VALUED).evaluate({"day": "2024-01-01", "a": True})
    for name in ("or_ab", "or_ba"):
        o = d.outputs[name]
        assert (o.status, o.value) == ("value", True), name
        assert o.facts["a"] is True


def test_true_and_unknown_is_undetermined_with_the_input_needed(make_book: MakeBook) -> None:
    d = make_book(THREE_VALUED).evaluate({"day": "2024-01-01", "a": True})
    for name in ("and_ab", "and_ba"):
        o = d.outputs[name]
        assert (o.status, o.needs) == ("undetermined", ["b"]), name
        assert o.reason == "to decide, these inputs are needed: b"
    o = d.outputs["or_ab"]
    assert o.needs == []


def test_false_or_unknown_is_undetermined(make_book: MakeBook) -> None:
    d = make_book(THREE_VALUED).evaluate({"day": "2024-01-01", "a": False})
    assert (d.outputs["or_ab"].status, d.outputs["or_ab"].needs) == ("undetermined", ["b"])


def test_no_rule_and_no_default_is_undetermined_without_needs(make_book: MakeBook) -> None:
    d = make_book(THREE_VALUED).evaluate({"day": "2024-01-01", "a": True, "b": True})
    o = d.outputs["none"]
    assert (o.status, o.value, o.needs) == ("undetermined", None, [])
    assert o.reason == "no rule applies and there is no default"


def test_a_null_fact_counts_as_missing(make_book: MakeBook) -> None:
    d = make_book(THREE_VALUED).evaluate({"day": "2024-01-01", "a": True, "b": None})
    assert d.outputs["and_ab"].needs == ["b"]


CHAIN = """
input day : date
input birth : date
input kind : one of physio, dental
input chronic : boolean
peildatum day
derived years : integer = age(birth, day)
derived adult : boolean
  default false
output covered : boolean
  default true
output note : text
rule is_adult
  source "s"
  when years >= 18
  then adult = true
rule adult_physio
  source "s"
  when adult and kind = physio and not chronic
  then covered = false
rule note_rule
  source "s"
  when not covered
  then note = "not covered"
"""


def test_an_undetermined_derived_value_passes_its_needs_on(make_book: MakeBook) -> None:
    book = make_book(CHAIN)
    d = book.evaluate({"day": "2024-01-01", "kind": "physio", "chronic": False})
    assert (d.derived["years"].status, d.derived["years"].needs) == ("undetermined", ["birth"])
    assert d.derived["adult"].needs == ["birth"]
    assert (d.outputs["covered"].status, d.outputs["covered"].needs) == ("undetermined", ["birth"])
    assert (d.outputs["note"].status, d.outputs["note"].needs) == ("undetermined", ["birth"])


def test_needs_are_combined_and_sorted(make_book: MakeBook) -> None:
    d = make_book(CHAIN).evaluate({"day": "2024-01-01", "kind": "physio"})
    assert d.outputs["covered"].needs == ["birth", "chronic"]


def test_chaining_over_derived_values_and_outputs(make_book: MakeBook) -> None:
    d = make_book(CHAIN).evaluate({"day": "2024-01-01", "birth": "1990-06-01", "kind": "physio", "chronic": False})
    assert (d.derived["years"].value, d.derived["adult"].value) == (33, True)
    assert d.outputs["covered"].value is False
    assert d.outputs["covered"].facts == {"adult": True, "chronic": False, "kind": "physio"}
    assert (d.outputs["note"].value, d.outputs["note"].rule.name) == ("not covered", "note_rule")  # type: ignore[union-attr]


def test_is_known_and_is_missing(make_book: MakeBook) -> None:
    book = make_book(
        """
        input day : date
        input x : integer
        peildatum day
        output given : boolean
          default false
        output absent : boolean
          default false
        rule g
          source "s"
          when x is known
          then given = true
        rule m
          source "s"
          when x is missing
          then absent = true
        """
    )
    d = book.evaluate({"day": "2024-01-01"})
    assert (d.value("given"), d.value("absent")) == (False, True)
    assert d.outputs["absent"].status == "value"
    d = book.evaluate({"day": "2024-01-01", "x": 0})
    assert (d.value("given"), d.value("absent")) == (True, False)


# ---------------------------------------------------------------- dates: validity and parameters

VALIDITY = """
input day : date
peildatum day
output rate : integer
  default 0
rule year_2024
  source "s"
  valid from 2024-01-01 until 2024-12-31
  then rate = 24
rule from_2025
  source "s"
  valid from 2025-01-01
  then rate = 25
"""


@pytest.mark.parametrize(
    ("day", "rate", "status"),
    [
        ("2023-12-31", 0, "default"),
        ("2024-01-01", 24, "value"),
        ("2024-12-31", 24, "value"),
        ("2025-01-01", 25, "value"),
        ("2999-12-31", 25, "value"),
    ],
)
def test_validity_first_and_last_day(make_book: MakeBook, day: str, rate: int, status: str) -> None:
    o = out(make_book(VALIDITY), {"day": day}, "rate")
    assert (o.status, o.value) == (status, rate)


def test_the_date_can_be_given_instead_of_the_peildatum(make_book: MakeBook) -> None:
    book = make_book(VALIDITY)
    d = book.evaluate({"day": "2023-06-01"}, on=dt.date(2024, 12, 31))
    assert d.peildatum == dt.date(2024, 12, 31)
    assert d.value("rate") == 24
    d = book.evaluate({"input": {}, "on": "2025-01-01"})
    assert d.value("rate") == 25


PARAMETERS = """
input day : date
peildatum day
parameter deductible : money
  from 2016-01-01 until 2016-12-31 = € 375.00  source "Zvw 19"
  from 2017-01-01 = € 385.00  source "Zvw 19"
  from 2030-01-01 = unknown
output own_risk : money
rule r
  source "s"
  then own_risk = deductible
"""


@pytest.mark.parametrize(
    ("day", "value"),
    [("2016-01-01", "375.00"), ("2016-12-31", "375.00"), ("2017-01-01", "385.00"), ("2029-12-31", "385.00")],
)
def test_a_parameter_takes_the_value_in_force_on_the_date(make_book: MakeBook, day: str, value: str) -> None:
    o = out(make_book(PARAMETERS), {"day": day}, "own_risk")
    assert (o.status, o.value) == ("value", Decimal(value))
    assert o.facts == {"deductible": value}  # facts as in the JSON


@pytest.mark.parametrize("day", ["2030-01-01", "2031-06-15", "2015-12-31"])
def test_no_parameter_value_in_force_is_an_error_with_a_clear_reason(make_book: MakeBook, day: str) -> None:
    o = out(make_book(PARAMETERS), {"day": day}, "own_risk")
    assert o.status == "error"
    assert o.value is None
    assert o.reason == f"no value of `deductible` is in force on {day}"


# ---------------------------------------------------------------- tables

TABLE = """
input day : date
input code : text
peildatum day
table tariffs
  file "tariffs.csv"
  key code
  column code : text
  column tariff : money
  column note : text
  valid from column start until column end
output tariff : money
output listed : boolean
  default false
output note : text
rule t
  source "s"
  then tariff = tariffs[code].tariff
rule l
  source "s"
  when code in tariffs
  then listed = true
rule n
  source "s"
  then note = tariffs[code].note
"""
CSV = "code,tariff,note,start,end\nA,10.00,old,2020-01-01,2020-12-31\nA,12.50,new,2021-01-01,\nB,€ 7,,2020-01-01,\n"


@pytest.mark.parametrize(
    ("day", "tariff", "note"),
    [("2020-01-01", "10.00", "old"), ("2020-12-31", "10.00", "old"), ("2021-01-01", "12.50", "new")],
)
def test_table_rows_with_validity_columns(make_book: MakeBook, day: str, tariff: str, note: str) -> None:
    d = make_book({"r.pz": TABLE, "tariffs.csv": CSV}).evaluate({"day": day, "code": "A"})
    assert (d.value("tariff"), d.value("listed"), d.value("note")) == (Decimal(tariff), True, note)
    assert d.outputs["tariff"].facts == {"code": "A", "tariffs[A].tariff": tariff}


def test_a_missing_table_row_is_an_error_naming_the_table_and_key(make_book: MakeBook) -> None:
    book = make_book({"r.pz": TABLE, "tariffs.csv": CSV})
    d = book.evaluate({"day": "2024-01-01", "code": "Z"})
    o = d.outputs["tariff"]
    assert o.status == "error"
    assert o.reason == "table `tariffs` has no row for Z in force on 2024-01-01"
    assert (d.outputs["listed"].status, d.value("listed")) == ("default", False)
    d = book.evaluate({"day": "2019-12-31", "code": "A"})
    assert d.outputs["tariff"].reason == "table `tariffs` has no row for A in force on 2019-12-31"


def test_an_empty_table_cell_is_an_error_not_an_empty_value(make_book: MakeBook) -> None:
    d = make_book({"r.pz": TABLE, "tariffs.csv": CSV}).evaluate({"day": "2024-01-01", "code": "B"})
    assert d.value("tariff") == Decimal("7.00")
    o = d.outputs["note"]
    assert o.status == "error"
    assert o.reason is not None and "`tariffs`" in o.reason and "`note`" in o.reason


def test_a_table_with_a_two_column_key(make_book: MakeBook) -> None:
    book = make_book(
        {
            "r.pz": """
                input day : date
                input kind : one of physio, dental
                input level : integer
                peildatum day
                table t
                  file "t.csv"
                  key kind, level
                  column kind : one of physio, dental
                  column level : integer
                  column amount : money
                output amount : money
                output known : boolean
                  default false
                rule a
                  source "s"
                  then amount = t[kind, level].amount
                rule k
                  source "s"
                  when (kind, level) in t
                  then known = true
                """,
            "t.csv": "kind;level;amount\nphysio;1;10,00\nphysio;2;20,00\ndental;1;30,00\n",
        }
    )
    d = book.evaluate({"day": "2024-01-01", "kind": "physio", "level": 2})
    assert (d.value("amount"), d.value("known")) == (Decimal("20.00"), True)
    d = book.evaluate({"day": "2024-01-01", "kind": "dental", "level": 2})
    assert (d.outputs["amount"].status, d.value("known")) == ("error", False)


# ---------------------------------------------------------------- arithmetic

MONEY = """
input day : date
input amount : money
input share : decimal
input count : integer
peildatum day
output scaled : money
output shared : money
output per_item : money
output ratio : decimal
output exact : boolean
output rounded_down : money
output whole : integer
rule a
  source "s"
  then scaled = amount * 0.125
rule b
  source "s"
  then shared = amount * share
rule c
  source "s"
  then per_item = amount / count
rule d
  source "s"
  then ratio = amount / € 4.00
rule e
  source "s"
  then exact = € 0.10 + € 0.20 = € 0.30
rule f
  source "s"
  then rounded_down = round_down(amount * share)
rule g
  source "s"
  then whole = round(share * 10)
"""


@pytest.mark.parametrize(
    ("amount", "share", "count", "expect"),
    [
        ("10.00", "0.5", 3, {"scaled": "1.25", "shared": "5.00", "per_item": "3.33", "ratio": "2.5", "exact": True,
                             "rounded_down": "5.00", "whole": 5}),
        ("0.01", "0.5", 2, {"scaled": "0.00", "shared": "0.01", "per_item": "0.01", "ratio": "0.0025",
                            "rounded_down": "0.00", "whole": 5}),
        ("0.05", "0.25", 8, {"shared": "0.01", "per_item": "0.01", "rounded_down": "0.01", "whole": 3}),
        ("20.00", "0.15", 3, {"scaled": "2.50", "shared": "3.00", "per_item": "6.67", "whole": 2}),
        ("2.35", "0.5", 1, {"shared": "1.18", "rounded_down": "1.17", "whole": 5}),
    ],
)
def test_money_is_exact_and_rounds_half_up_to_the_cent(
    make_book: MakeBook, amount: str, share: str, count: int, expect: dict[str, Any]
) -> None:
    book = make_book(MONEY)
    d = book.evaluate({"day": "2024-01-01", "amount": amount, "share": share, "count": count})
    for name, value in expect.items():
        assert d.value(name) == (Decimal(value) if isinstance(value, str) else value), name
        assert to_json(d.value(name)) == value, name  # the exact digits, as the JSON writes them
    outcomes = book.outcomes({"day": "2024-01-01", "amount": amount, "share": share, "count": count})
    assert isinstance(outcomes["shared"].value, Decimal)
    assert outcomes["shared"].value.as_tuple().exponent == -2


def test_division_by_zero_is_an_error_status_not_an_exception(make_book: MakeBook) -> None:
    book = make_book(MONEY)
    d = book.evaluate({"day": "2024-01-01", "amount": "10.00", "share": "0.5", "count": 0})
    o = d.outputs["per_item"]
    assert o.status == "error"
    assert o.reason is not None and o.reason.startswith("division by zero")
    assert d.value("shared") == Decimal("5.00")  # the rest of the decision stands


def test_an_error_in_a_condition_is_an_error_of_the_output(make_book: MakeBook) -> None:
    book = make_book(
        """
        input day : date
        input n : integer
        peildatum day
        output big : boolean
          default false
        rule r
          source "s"
          when 100 / n > 10
          then big = true
        """
    )
    assert out(book, {"day": "2024-01-01", "n": 5}, "big").value is True
    o = out(book, {"day": "2024-01-01", "n": 0}, "big")
    assert o.status == "error" and o.reason is not None and "division by zero" in o.reason


DATES = """
input day : date
input birth : date
input start : date
peildatum day
output years : integer
output next_month : date
output last_year : date
output in_a_year : date
output later : date
output between : integer
output year_of : integer
rule a
  source "s"
  then years = age(birth, day)
rule b
  source "s"
  then next_month = start + 1 month
rule c
  source "s"
  then last_year = start - 1 year
rule d
  source "s"
  then in_a_year = start + 12 months
rule e
  source "s"
  then later = start + 30 days
rule f
  source "s"
  then between = days_between(start, day)
rule g
  source "s"
  then year_of = year(start)
"""


@pytest.mark.parametrize(
    ("birth", "day", "years"),
    [
        ("2006-03-15", "2024-03-14", 17),
        ("2006-03-15", "2024-03-15", 18),
        ("2006-03-15", "2024-03-16", 18),
        ("2006-12-31", "2024-01-01", 17),
        ("2024-01-01", "2024-01-01", 0),
    ],
)
def test_age_counts_from_the_birthday_itself(make_book: MakeBook, birth: str, day: str, years: int) -> None:
    d = make_book(DATES).evaluate({"day": day, "birth": birth, "start": day})
    assert d.value("years") == years


@pytest.mark.parametrize(
    ("start", "next_month", "last_year", "in_a_year", "later"),
    [
        ("2024-01-31", "2024-02-29", "2023-01-31", "2025-01-31", "2024-03-01"),
        ("2023-01-31", "2023-02-28", "2022-01-31", "2024-01-31", "2023-03-02"),
        ("2024-02-29", "2024-03-29", "2023-02-28", "2025-02-28", "2024-03-30"),
        ("2024-12-31", "2025-01-31", "2023-12-31", "2025-12-31", "2025-01-30"),
        ("2024-03-31", "2024-04-30", "2023-03-31", "2025-03-31", "2024-04-30"),
    ],
)
def test_date_arithmetic_keeps_to_the_end_of_the_month(
    make_book: MakeBook, start: str, next_month: str, last_year: str, in_a_year: str, later: str
) -> None:
    d = make_book(DATES).evaluate({"day": "2025-01-01", "birth": "2000-01-01", "start": start})
    assert (d.value("next_month"), d.value("last_year"), d.value("in_a_year"), d.value("later")) == tuple(
        dt.date.fromisoformat(x) for x in (next_month, last_year, in_a_year, later))
    assert d.value("year_of") == int(start[:4])
    assert d.value("between") == (dt.date(2025, 1, 1) - dt.date.fromisoformat(start)).days


def test_date_helpers_directly() -> None:
    assert age(dt.date(2000, 2, 29), dt.date(2018, 2, 28)) == 17
    assert age(dt.date(2000, 2, 29), dt.date(2018, 3, 1)) == 18
    assert add_duration(dt.date(2024, 3, 31), -1, "months") == dt.date(2024, 2, 29)
    assert add_duration(dt.date(2024, 1, 1), -1, "days") == dt.date(2023, 12, 31)


def test_lists_in_and_count(make_book: MakeBook) -> None:
    book = make_book(
        """
        input day : date
        input codes : list of text
        input kind : one of a, b, c
        peildatum day
        output many : boolean
          default false
        output ab : boolean
          default false
        rule m
          source "s"
          when count(codes) >= 2 and "X" in codes
          then many = true
        rule k
          source "s"
          when kind in [a, b] and kind not in [c]
          then ab = true
        """
    )
    d = book.evaluate({"day": "2024-01-01", "codes": ["X", "Y"], "kind": "b"})
    assert (d.value("many"), d.value("ab")) == (True, True)
    d = book.evaluate({"day": "2024-01-01", "codes": ["Y", "Z"], "kind": "c"})
    assert (d.value("many"), d.value("ab")) == (False, False)


# ---------------------------------------------------------------- the decision


def test_a_decision_names_the_rule_book_the_date_and_the_deciding_rule(make_book: MakeBook) -> None:
    book = make_book(TWO_RULES)
    d = book.evaluate({"day": "2024-02-03", "kind": "physio", "referred": False})
    assert isinstance(d, Decision)
    assert d.rulebook == book.content_hash
    assert d.rulebook.startswith("sha256:") and len(d.rulebook) == len("sha256:") + 64
    assert d.peildatum == dt.date(2024, 2, 3)
    o = d.outputs["covered"]
    assert o.rule is not None
    assert (o.rule.name, o.rule.title, o.rule.ruleset, o.rule.file, o.rule.line) == (
        "physio_yes", "Physio is covered", "r", "rules.pz", 8)
    (src,) = o.rule.sources
    assert (src.id, src.title, src.detail, src.url) == ("wet", "De wet", "art. 1", "https://example.org/wet")
    assert o.facts == {"kind": "physio"}


def test_evaluate_many_reports_a_bad_case_and_goes_on(make_book: MakeBook) -> None:
    book = make_book(VALIDITY)
    results = list(book.evaluate_many([{"day": "2024-01-01"}, {"day": "not a date"}, {"day": "2025-01-01"}]))
    assert [isinstance(r, Decision) for r in results] == [True, False, True]
    assert type(results[1]).__name__ == "CaseFailure"
    assert results[1].error == 'case: input.day: expected a date (YYYY-MM-DD), got "not a date"'
    assert [r.value("rate") for r in results if isinstance(r, Decision)] == [24, 25]


# ---------------------------------------------------------------- why not


def test_why_not_a_rule_not_in_force(make_book: MakeBook) -> None:
    text = make_book(VALIDITY).why_not("from_2025", {"day": "2024-06-01"})
    assert text == "rule from_2025 is not in force on 1 June 2024 (valid 1 January 2025 – …)"


def test_why_not_names_the_first_failing_condition_with_its_values(make_book: MakeBook) -> None:
    book = make_book(NESTED)
    text = book.why_not("chronic_adult", {"day": "2024-01-01", "age": 40, "chronic": True, "session": 12})
    assert text == "rule chronic_adult does not apply: the condition `session > 20` is false\n  with session = 12"


def test_why_not_for_a_condition_that_cannot_be_decided(make_book: MakeBook) -> None:
    book = make_book(NESTED)
    text = book.why_not("chronic_adult", {"day": "2024-01-01", "age": 40, "session": 30})
    assert text == "rule chronic_adult: the condition `chronic` cannot be decided; it needs: chronic"


def test_why_not_for_an_overridden_rule(make_book: MakeBook) -> None:
    book = make_book(NESTED)
    case = {"day": "2024-01-01", "age": 40, "chronic": True, "session": 30, "palliative": False}
    assert book.why_not("adult", case) == "rule adult applies, but the exception chronic_adult takes precedence over it"
    assert book.why_not("chronic_adult", case) == "rule chronic_adult applies and decided covered"


def test_why_not_as_data_says_which_answer_with_its_facts_needs_and_exceptions(make_book: MakeBook) -> None:
    book = make_book(NESTED)
    false = book.why_not_answer("chronic_adult", {"day": "2024-01-01", "age": 40, "chronic": True, "session": 12})
    assert (false.rule, false.peildatum, false.answer) == (
        "chronic_adult", dt.date(2024, 1, 1), book.why_not("chronic_adult", {"day": "2024-01-01", "age": 40,
                                                                             "chronic": True, "session": 12}))
    (r,) = false.reasons
    assert (r.record, r.kind, r.condition, r.facts, r.needs, r.by) == (
        None, "condition_false", "session > 20", {"session": 12}, [], [])
    (r,) = book.why_not_answer("chronic_adult", {"day": "2024-01-01", "age": 40, "session": 30}).reasons
    assert (r.kind, r.condition, r.needs) == ("condition_undetermined", "chronic", ["chronic"])
    case = {"day": "2024-01-01", "age": 40, "chronic": True, "session": 30, "palliative": False}
    (r,) = book.why_not_answer("adult", case).reasons
    assert (r.kind, r.by) == ("overridden", ["chronic_adult"])
    assert book.why_not_answer("chronic_adult", case).reasons[0].kind == "decided"
    (r,) = make_book(VALIDITY).why_not_answer("from_2025", {"day": "2024-06-01"}).reasons
    assert r.kind == "not_in_force" and r.text == "rule from_2025 is not in force on 1 June 2024 (valid 1 January 2025 – …)"
    assert json.loads(false.to_json())["reasons"][0]["facts"] == {"session": 12}
    assert json.loads(false.to_json())["format"] == "passendezorg.why-not/1"


def test_why_not_in_dutch(make_book: MakeBook) -> None:
    book = make_book(
        """
        taal nederlands
        invoer datum : datum
        invoer zitting : geheel getal
        peildatum datum
        uitvoer vergoed : janee
          standaard nee
        regel veel
          bron "lid 5"
          als zitting > 20
          dan vergoed = ja
        """
    )
    text = book.why_not("veel", {"datum": "2024-01-01", "zitting": 3})
    assert text == "regel veel is niet van toepassing: de voorwaarde `zitting > 20` is niet waar\n  met zitting = 3"


def test_why_not_an_unknown_rule_suggests_one(make_book: MakeBook) -> None:
    from passendezorg import UsageError

    with pytest.raises(UsageError, match="no rule named `adlt`; did you mean `adult`?"):
        make_book(NESTED).why_not("adlt", {"day": "2024-01-01"})


def test_a_rule_book_can_be_shared_between_threads(make_book: MakeBook) -> None:
    from concurrent.futures import ThreadPoolExecutor

    book = make_book(NESTED)
    cases = [
        {"day": f"2024-0{1 + i % 9}-1{i % 10}", "age": 10 + i % 30, "chronic": bool(i % 2), "session": i % 70,
         "palliative": i % 7 == 0}
        for i in range(120)
    ]
    cases += [{"day": "2024-01-01", "age": 40, "session": i} for i in range(15, 30)]  # undetermined ones
    expected = [book.evaluate(c).to_json() for c in cases]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda c: book.evaluate(c).to_json(), cases))
    assert got == expected
    assert len(set(expected)) > 3


MORE = """
input day : date
input amount : money
input count : integer
input special : boolean
peildatum day
parameter rate : decimal
  from 2020-01-01 = 0.5  source "s"
  from 2030-01-01 = unknown
derived per_item : money = amount / count
output pay : money
  default amount * rate
output shielded : money
output rate_known : boolean
  default false
output note : text
  default "none"
rule base_pay
  source "s"
  when amount > € 100.00
  then pay = per_item
rule shield_base
  source "s"
  when count = 0
  then shielded = amount / count
rule shield_special
  exception to shield_base
  source "s"
  when special
  then shielded = € 0.00
rule known
  source "s"
  when rate is known
  then rate_known = true
rule note_rule
  source "s"
  when amount > € 1000.00
  then note = "large"
"""


def test_a_default_that_needs_a_missing_input_is_undetermined(make_book: MakeBook) -> None:
    d = make_book(MORE).evaluate({"day": "2024-01-01", "count": 1})
    o = d.outputs["pay"]
    assert (o.status, o.needs) == ("undetermined", ["amount"])


def test_a_default_is_computed_on_the_date(make_book: MakeBook) -> None:
    book = make_book(MORE)
    o = out(book, {"day": "2024-01-01", "amount": "10.01", "count": 1}, "pay")
    assert (o.status, o.value) == ("default", Decimal("5.01"))  # 5.005 rounded half up
    o = out(book, {"day": "2030-01-01", "amount": "10.00", "count": 1}, "pay")
    assert (o.status, o.reason) == ("error", "no value of `rate` is in force on 2030-01-01")


def test_an_error_upstream_is_the_reason_downstream(make_book: MakeBook) -> None:
    d = make_book(MORE).evaluate({"day": "2024-01-01", "amount": "500.00", "count": 0})
    assert d.derived["per_item"].status == "error"
    o = d.outputs["pay"]
    assert o.status == "error"
    assert o.reason is not None and o.reason.startswith("division by zero")


def test_a_value_that_needs_a_missing_input_is_undetermined(make_book: MakeBook) -> None:
    d = make_book(MORE).evaluate({"day": "2024-01-01", "amount": "500.00"})
    o = d.outputs["pay"]
    assert (o.status, o.needs) == ("undetermined", ["count"])


def test_an_exception_that_applies_shields_the_rule_it_overrides_from_its_errors(make_book: MakeBook) -> None:
    book = make_book(MORE)
    o = out(book, {"day": "2024-01-01", "amount": "5.00", "count": 0, "special": True}, "shielded")
    assert (o.status, o.value, o.rule.name if o.rule else None) == ("value", Decimal("0.00"), "shield_special")
    o = out(book, {"day": "2024-01-01", "amount": "5.00", "count": 0, "special": False}, "shielded")
    assert o.status == "error" and o.reason is not None and "division by zero" in o.reason


def test_a_parameter_without_a_value_is_not_known(make_book: MakeBook) -> None:
    book = make_book(MORE)
    assert out(book, {"day": "2024-01-01", "amount": "1.00", "count": 1}, "rate_known").value is True
    o = out(book, {"day": "2031-01-01", "amount": "1.00", "count": 1}, "rate_known")
    assert (o.status, o.value) == ("default", False)


def test_a_text_default(make_book: MakeBook) -> None:
    d = make_book(MORE).evaluate({"day": "2024-01-01", "amount": "5000.00", "count": 1})
    assert (d.value("note"), d.outputs["note"].status) == ("large", "value")
    d = make_book(MORE).evaluate({"day": "2024-01-01", "amount": "5.00", "count": 1})
    assert (d.value("note"), d.outputs["note"].status) == ("none", "default")


def test_a_dated_row_out_of_force_is_not_in_the_table(make_book: MakeBook) -> None:
    d = make_book({"r.pz": TABLE, "tariffs.csv": CSV}).evaluate({"day": "2019-12-31", "code": "A"})
    assert (d.outputs["listed"].status, d.value("listed")) == ("default", False)


def test_an_exception_to_two_rules_is_named_once(make_book: MakeBook) -> None:
    """A rule may be an exception to two rules; when it decides, it does not also 'concur' with itself."""
    book = make_book(
        """
        input day : date
        input a : boolean
        input b : boolean
        input c : boolean
        peildatum day
        output x : integer
        rule ra
          source "s"
          when a
          then x = 1
        rule rb
          source "s"
          when b
          then x = 1
        rule both
          exception to ra
          exception to rb
          source "s"
          when c
          then x = 3
        """
    )
    o = out(book, {"day": "2024-01-01", "a": True, "b": True, "c": True}, "x")
    assert (o.status, o.value, o.rule.name if o.rule else None) == ("value", 3, "both")
    assert [(ov.rule.name, ov.by) for ov in o.overridden] == [("ra", "both"), ("rb", "both")]
    assert o.concurring == []
    o = out(book, {"day": "2024-01-01", "a": True, "b": True, "c": False}, "x")
    assert (o.value, o.rule.name if o.rule else None, o.concurring) == (1, "ra", ["rb"])


def test_decimals_are_written_in_plain_digits(make_book: MakeBook) -> None:
    """`10 / 0.1` is 100: a decision shows "100", not "1.0E+2"."""
    book = make_book(
        """
        input day : date
        input n : integer
        peildatum day
        output ratio : decimal
        rule r
          source "s"
          then ratio = n / 0.1
        """
    )
    d = book.evaluate({"day": "2024-01-01", "n": 10})
    assert d.value("ratio") == 100
    assert json.loads(d.to_json())["outputs"]["ratio"]["value"] == "100"


def test_a_dutch_decision_gives_the_engine_reasons_in_dutch(make_book: MakeBook) -> None:
    """The JSON keeps the engine's reason as it is; the Dutch rendering says it in Dutch."""
    from passendezorg.explain import render_decision

    book = make_book(
        "taal nederlands\n"
        "invoer dag : datum\n"
        "invoer n : geheel getal\n"
        "peildatum dag\n"
        "parameter prijs : bedrag\n"
        '  vanaf 2025-01-01 = € 10,00  bron "s"\n'
        "uitvoer totaal : bedrag\n"
        "uitvoer deel : decimaal\n"
        "regel r\n"
        '  bron "s"\n'
        "  dan totaal = prijs\n"
        "regel q\n"
        '  bron "s"\n'
        "  dan deel = 1 / n\n"
    )
    d = book.evaluate({"dag": "2024-06-01", "n": 0})
    assert d.outputs["totaal"].reason == "no value of `prijs` is in force on 2024-06-01"
    text = render_decision(d, "nederlands")
    assert "op 1 juni 2024 geldt er geen waarde voor `prijs`" in text
    assert "deling door nul op regel 14" in text
    assert "no value" not in text and "division" not in text


def test_rounding_a_very_large_amount_does_not_raise() -> None:
    from passendezorg.values import round_value

    huge = Decimal(12_500_000_000_000_000_000_000_000_000) / 3
    assert round_value(huge, "money", False) == Decimal("4166666666666666666666666667.00")
    assert round_value(Decimal("1e40") + Decimal("0.5"), "integer", True) == 10**40


def test_every_failure_message_of_the_engine_has_its_dutch_wording() -> None:
    """The Dutch rendering follows the engine's own message builders: a changed wording cannot slip through."""
    import datetime as dt
    from decimal import Decimal
    from types import SimpleNamespace

    from passendezorg.engines.semantics import Outcome, apply_binary, no_value_in_force, read_outcome, table_cell
    from passendezorg.explain import reason_text
    from passendezorg.nodes import Duration
    from passendezorg.values import OUT_OF_RANGE

    span_at_line = SimpleNamespace(span=SimpleNamespace(line=12))

    day = dt.date(2024, 6, 1)
    no_rows = SimpleNamespace(name="t", dated=True, row_on=lambda keys, day: None)
    undated = SimpleNamespace(name="t", dated=False, row_on=lambda keys, day: None)
    empty_cell = SimpleNamespace(name="t", dated=True, row_on=lambda keys, day: SimpleNamespace(values={"c": None}))
    messages = [
        no_value_in_force("p", day).reason,
        table_cell(no_rows, ("a", 1), "c", day).reason,
        table_cell(undated, ("a",), "c", day).reason,
        table_cell(empty_cell, ("a",), "c", day).reason,
        read_outcome("x", Outcome("conflict")).reason,
        read_outcome("x", Outcome("error")).reason,
        OUT_OF_RANGE,
        apply_binary("+", dt.date(9999, 12, 31), Duration(1, "days"), span_at_line).reason,
        apply_binary("-", dt.date(1, 1, 1), Duration(1, "years"), span_at_line).reason,
        apply_binary("*", Decimal("9E+999990"), Decimal("9E+999990"), span_at_line).reason,
    ]
    for message in messages:
        assert reason_text(message, "nederlands") != message, message
        assert reason_text(message, "english") == message


MONTHS = """
input day : date
input born : date
peildatum day
output first : date
output next_first : date
output premium_from : date
rule a
  source "s"
  then first = start_of_month(day)
rule b
  source "s"
  then next_first = start_of_month(day) + 1 month
rule c
  source "s"
  then premium_from = start_of_month(born + 18 years) + 1 month
"""


@pytest.mark.parametrize("engine", ["interpreter", "compiled", "rete", "columnar"])
@pytest.mark.parametrize(
    ("day", "born", "first", "next_first", "premium_from"),
    [
        ("2024-01-31", "2007-06-15", "2024-01-01", "2024-02-01", "2025-07-01"),
        ("2024-02-29", "2006-02-28", "2024-02-01", "2024-03-01", "2024-03-01"),
        ("2024-12-31", "2006-12-01", "2024-12-01", "2025-01-01", "2025-01-01"),
        ("2024-03-01", "2008-02-29", "2024-03-01", "2024-04-01", "2026-03-01"),  # 18 years after 29 Feb: 28 Feb
        ("9999-12-31", "1990-01-31", "9999-12-01", "9999-12-01", "2008-02-01"),  # no month after 9999-12
    ],
)
def test_start_of_month_and_the_first_day_of_the_next_month(
    make_book: MakeBook, engine: str, day: str, born: str, first: str, next_first: str, premium_from: str
) -> None:
    """start_of_month(d) + 1 month is the first day of the next month, whatever the day of d (a month end too)."""
    if engine == "rete":
        pytest.importorskip("durable", reason="the rete engine needs the extra `rete`")
    book = make_book(MONTHS)
    if engine == "columnar":
        pl = pytest.importorskip("polars", reason="the columnar engine needs the extra `columnar`")
        from passendezorg.frames import decide_frame

        row = decide_frame(book, pl.DataFrame({"day": [dt.date.fromisoformat(day)],
                                               "born": [dt.date.fromisoformat(born)]})).row(0, named=True)
        assert (row["first"], row["premium_from"]) == (dt.date.fromisoformat(first), dt.date.fromisoformat(premium_from))
        if day.startswith("9999-12"):
            assert row["next_first"] is None and row["next_first.status"] == "error"
        else:
            assert row["next_first"] == dt.date.fromisoformat(next_first)
        return
    d = book.evaluate({"day": day, "born": born}, engine=engine)
    assert d.value("first") == dt.date.fromisoformat(first)
    assert d.value("premium_from") == dt.date.fromisoformat(premium_from)
    if day.startswith("9999-12"):
        o = d.outputs["next_first"]
        assert o.status == "error" and o.reason is not None and "9999-12-31" in o.reason
    else:
        assert d.value("next_first") == dt.date.fromisoformat(next_first)
