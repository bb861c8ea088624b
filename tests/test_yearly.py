"""The yearly state per insured person: what each claim is given, and what its decision adds."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from passendezorg import load_rules
from passendezorg.errors import UsageError
from passendezorg.yearly import EIGEN_RISICO, STANDARD_COUNTERS, Counter, YearlyLedger, counters_for

ROOT = Path(__file__).resolve().parents[1]

D = Decimal


def test_a_person_year_starts_at_zero_and_adds_each_decision() -> None:
    ledger = YearlyLedger([EIGEN_RISICO])
    assert ledger.inputs("V-1", 2025) == {"verzekerde.eigen_risico_verbruikt": D("0.00")}
    ledger.record("V-1", 2025, {}, {"eigen_risico_inhouding": D("100.00")}.get)
    ledger.record("V-1", 2025, {}, {"eigen_risico_inhouding": D("50.50")}.get)
    assert ledger.used("V-1", 2025) == (D("150.50"),)
    # another year and another person start again
    assert ledger.used("V-1", 2026) == (D("0.00"),)
    assert ledger.used("V-2", 2025) == (D("0.00"),)


def test_an_amount_that_is_not_known_adds_nothing() -> None:
    ledger = YearlyLedger([EIGEN_RISICO])
    ledger.record("V-1", 2025, {}, {}.get)  # the deduction could not be decided
    assert ledger.used("V-1", 2025) == (D("0.00"),)


def test_a_counter_counts_only_the_claims_it_names_and_can_take_an_input() -> None:
    hours = Counter("verzekerde.dietetiek_uren_verbruikt", "behandeling.uren",
                    when=(("behandeling.soort", "dietetiek"), ("behandeling.binnen_ketenzorg", False)))
    vervoer = STANDARD_COUNTERS[1]
    ledger = YearlyLedger([vervoer, hours])
    decided = {"eigen_bijdrage_vervoer": D("40.00")}.get
    ledger.record("V-1", 2025, {"behandeling.soort": "zittend_ziekenvervoer"}, decided)
    ledger.record("V-1", 2025, {"behandeling.soort": "dietetiek", "behandeling.binnen_ketenzorg": False,
                                "behandeling.uren": D("1.5")}, {}.get)
    ledger.record("V-1", 2025, {"behandeling.soort": "dietetiek", "behandeling.binnen_ketenzorg": True,
                                "behandeling.uren": D("2")}, {}.get)  # within ketenzorg: does not count
    ledger.record("V-1", 2025, {"behandeling.soort": "mondzorg", "behandeling.uren": D("3")}, {}.get)
    assert ledger.used("V-1", 2025) == (D("40.00"), D("1.5"))


def test_the_fast_charger_adds_what_charge_adds() -> None:
    counters = STANDARD_COUNTERS
    names = ("eigen_risico_inhouding", "eigen_bijdrage_vervoer", "gvs_eigen_bijdrage", "behandeluren_geteld")
    slow, fast = YearlyLedger(counters), YearlyLedger(counters)
    charge = fast.charger(names)
    claims = [({"behandeling.soort": "zittend_ziekenvervoer"}, (D("12.00"), D("30.00"), D("0.00"), D("0"))),
              ({"behandeling.soort": "dietetiek"}, (D("7.00"), D("0.00"), D("0.00"), D("0.5"))),
              ({"behandeling.soort": "ergotherapie"}, (D("0.00"), D("0.00"), D("0.00"), D("2"))),
              ({"behandeling.soort": "geneesmiddel"}, (D("20.00"), D("0.00"), D("9.50"), D("0"))),
              ({"behandeling.soort": "huisartsenzorg"}, (None, D("0.00"), D("0.00"), D("0")))]
    for inputs, values in claims:
        slow.record("V", 2025, inputs, dict(zip(names, values)).get)
        charge(fast.account("V", 2025), inputs, values)
    assert slow.used("V", 2025) == fast.used("V", 2025) == (D("39.00"), D("30.00"), D("9.50"), D("0.5"), D("2"))


def test_seed_starts_a_year_from_what_was_used_before() -> None:
    ledger = YearlyLedger([EIGEN_RISICO])
    ledger.seed("V-1", 2025, [D("300.00")])
    assert ledger.inputs("V-1", 2025)["verzekerde.eigen_risico_verbruikt"] == D("300.00")
    with pytest.raises(ValueError):
        ledger.seed("V-1", 2025, [])


def test_the_shipped_rule_book_keeps_all_its_caps() -> None:
    program = load_rules(ROOT / "rules").program
    assert [c.input for c in counters_for(program)] == [c.input for c in STANDARD_COUNTERS]


def test_a_cap_on_something_that_is_not_a_number_is_refused() -> None:
    counter = Counter("verzekerde.regio", "eigen_risico_inhouding")  # a text input cannot hold an amount
    with pytest.raises(UsageError, match="must be a number"):
        counters_for(load_rules(ROOT / "rules").program, [counter])
