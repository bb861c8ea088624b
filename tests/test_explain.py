"""The text of a decision: the answers first, the chain behind each, defaults in one line, facts by
their description, one amount and one date format in the rule book's language, precedence as a
sentence naming every exception; and the one formatter of amounts, dates and numbers behind it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from passendezorg import RuleBook, display, load_rules
from passendezorg.cli import main
from passendezorg.explain import description_lead, render_decision
from passendezorg.format import Formatter

ROOT = Path(__file__).resolve().parent.parent
MakeBook = Callable[[str], RuleBook]

ENGLISH = """
language english

input claim.date : date "Day the care was given"
input claim.amount : money "Amount charged; as on the invoice"
input claim.kind : one of physio, dental "Kind of care (physio includes exercise therapy)"
input patient.birth : date "Birth date of the patient"
input claim.chronic : boolean

peildatum claim.date

derived age : integer "Age of the patient on the day of care"
  = age(patient.birth, claim.date)

output covered : boolean "Is the care covered?"
  default true

output paid : money "What the insurer pays"

output flagged : boolean "Flagged for review"
  default false

output note : text
  default ""

parameter ceiling : money "Most paid per claim"
  from 2020-01-01 = € 1500.00  source "Act art. 9"

rule physio_excluded
  "Physiotherapy is not covered"
  source "Act art. 1"
  when claim.kind = physio
  then covered = false

rule children
  "Children are covered"
  exception to physio_excluded
  source "Act art. 2"
  because "The act covers children"
  when age < 18
  then covered = true

rule chronic
  "Chronic conditions are covered"
  exception to physio_excluded
  source "Act art. 3"
  when claim.chronic
  then covered = true

rule pay_up_to_ceiling
  "The insurer pays the amount, up to the ceiling"
  source "Act art. 4"
  then paid = min(claim.amount, ceiling)
"""

CASE = {"claim": {"date": "2024-03-01", "amount": "2345.50", "kind": "physio", "chronic": True},
        "patient": {"birth": "2010-07-15"}}


def evaluate(*args: str | Path) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


# ---------------------------------------------------------------- the shipped rule book


def test_the_decisive_rule_of_a_derived_value_is_named_without_verbose() -> None:
    """Issue 15: a child's 19th treatment: `binnen_aanspraak` decided `verzekerd`, and its rule is named."""
    text = evaluate("evaluate", ROOT / "cases" / "fysiotherapie" / "17-jaar-19e-behandeling.yaml")
    lines = text.splitlines()
    assert lines[:4] == ["Beslissing — casus 17 jaar, de dag vóór de verjaardag: 19e behandeling",
                         lines[1], "", "verzekerd = nee"]
    assert lines[1].startswith("peildatum 14 juni 2025 · regelboek sha256:")
    # the answers lead; the reasons follow under `Waarom`
    why = lines.index("Waarom")
    answers = lines[3:why - 1]
    assert answers[:3] == ["verzekerd = nee", "domein = geen", "tarief = € 35,00"]
    assert all(" = " in a or ": " in a for a in answers)
    # the chain of `verzekerd`: its rule, the derived value it used, that value's rule, down to the facts
    chain = text[text.index("\nverzekerd = nee\n", text.index("Waarom")):]
    assert chain.index("regel niet_verzekerd_buiten_aanspraak") < chain.index("(binnen_aanspraak) = nee") \
        < chain.index("regel fysio_kind_na_18_behandelingen") < chain.index("(leeftijd) = 17") \
        < chain.index("(verzekerde.geboortedatum) = 15 juni 2007")
    assert "    Regel niet_verzekerd_buiten_aanspraak gaat voor regel verzekerde_zorg." in lines
    # facts by their description, with the name kept
    assert "        Leeftijd van de verzekerde op de dag van de zorg (leeftijd) = 17" in lines
    # the outputs that took their default: one line
    defaults = [line for line in lines if line.startswith("geen regel van toepassing, de standaard: ")]
    assert len(defaults) == 1
    assert "beoordeling_reden = (leeg)" in defaults[0] and "abonnementstarief_wmo = € 0,00" in defaults[0]
    assert "\nabonnementstarief_wmo = " not in text and "geen regel van toepassing: de standaard" not in text
    # one amount and one date format: no amount or date in its JSON form anywhere
    values = "\n".join(line for line in lines if " = " in line)  # answers and facts (not sources, which cite)
    assert not re.search(r"\b\d+\.\d\d\b", values), "an amount not in the Dutch format"
    assert not re.search(r"\b\d{4}-\d\d-\d\d\b", values), "a date not in the Dutch format"
    assert "€ 35,00" in values and "14 juni 2025" in values
    assert len(lines) < 110


def test_verbose_shows_every_output_and_every_derived_value() -> None:
    case = ROOT / "cases" / "fysiotherapie" / "17-jaar-19e-behandeling.yaml"
    text = evaluate("evaluate", "-v", case)
    lines = text.splitlines()
    assert "abonnementstarief_wmo = € 0,00" in lines  # an answer of its own
    assert "\nabonnementstarief_wmo = € 0,00\n  geen regel van toepassing: de standaard\n" in text
    assert not any(line.startswith("geen regel van toepassing, de standaard: ") for line in lines)
    assert "gebruikte waarden" in lines
    assert "  achttiende_verjaardag = 15 juni 2025" in lines
    # sources in full with -v
    assert any(line.strip().startswith("bron: Zorgverzekeringswet art. 11: de zorgplicht") for line in lines)


def test_a_scenario_decision_keeps_its_marks_in_the_new_layout() -> None:
    text = evaluate("evaluate", "--scenario", "eerstelijnstarief",
                    ROOT / "cases" / "juiste_plek" / "varices-in-ziekenhuis-1-januari-2025.yaml")
    lines = text.splitlines()
    assert lines[1].startswith("onder scenario eerstelijnstarief — ") and lines[1].endswith("(niet het geldende recht)")
    assert "tarief = € 24,85" in lines[:12]
    block = text[text.index("\ntarief = € 24,85\n", text.index("Waarom")):]
    assert block.index("regel tarief_eerstelijnstarief") < block.index(
        "  door het scenario: regel tarief_eerstelijnstarief van het scenario") < block.index("op grond van:")
    assert "    Regel tarief_eerstelijnstarief gaat voor regel tarief_gedeclareerd." in lines


# ---------------------------------------------------------------- an English rule book


def test_an_english_decision(make_book: MakeBook) -> None:
    book = make_book(ENGLISH)
    text = render_decision(book.evaluate(CASE), program=book.program)
    assert text.splitlines()[:8] == [
        "Decision",
        "peildatum 1 March 2024 · rule book " + book.content_hash[:19] + "…",
        "",
        "covered = yes",
        "paid = € 1500.00",
        "no rule applies, the default: flagged = no, note = (empty)",
        "",
        "Why",
    ]
    assert text.endswith(
        "covered = yes\n"
        '  rule children "Children are covered"\n'
        "    because: The act covers children\n"
        "    source: Act art. 2\n"
        "    Rule children and rule chronic take precedence over rule physio_excluded.\n"
        "  also decided by: chronic\n"
        "  based on:\n"
        "    Age of the patient on the day of care (age) = 13\n"
        "      based on:\n"
        "        Day the care was given (claim.date) = 1 March 2024\n"
        "        Birth date of the patient (patient.birth) = 15 July 2010\n"
        "\n"
        "paid = € 1500.00\n"
        '  rule pay_up_to_ceiling "The insurer pays the amount, up to the ceiling"\n'
        "    source: Act art. 4\n"
        "  based on:\n"
        "    Most paid per claim (ceiling) = € 1500.00\n"
        "      source: Act art. 9\n"
        "    Amount charged (claim.amount) = € 2345.50"
    )


def test_a_dutch_decision_names_every_exception_that_went_before(make_book: MakeBook) -> None:
    book = make_book(
        "taal nederlands\n"
        "invoer dag : datum\n"
        "invoer kind : janee\n"
        "invoer chronisch : janee\n"
        "peildatum dag\n"
        "uitvoer verzekerd : janee\n"
        "  standaard ja\n"
        "regel algemeen\n"
        '  bron "art. 1"\n'
        "  dan verzekerd = nee\n"
        "regel kinderen\n"
        "  uitzondering op algemeen\n"
        '  bron "art. 2"\n'
        "  als kind\n"
        "  dan verzekerd = ja\n"
        "regel chronisch_\n"
        "  uitzondering op algemeen\n"
        '  bron "art. 3"\n'
        "  als chronisch\n"
        "  dan verzekerd = ja\n"
    )
    case = {"dag": "2024-01-01", "kind": True, "chronisch": True}
    text = render_decision(book.evaluate(case), program=book.program)
    assert "    Regel kinderen en regel chronisch_ gaan voor regel algemeen." in text.splitlines()
    assert book.why_not("algemeen", case) == \
        "regel algemeen is van toepassing, maar de uitzonderingen kinderen en chronisch_ gaan voor"
    # one exception: `gaat voor`
    one = render_decision(book.evaluate({**case, "chronisch": False}), program=book.program)
    assert "    Regel kinderen gaat voor regel algemeen." in one.splitlines()


def test_an_exception_to_an_exception_goes_before_both(make_book: MakeBook) -> None:
    from test_engine import NESTED

    book = make_book(NESTED)
    case = {"day": "2024-01-01", "age": 40, "chronic": True, "session": 70, "palliative": True}
    text = render_decision(book.evaluate(case), program=book.program)
    assert "    Rule palliative_care takes precedence over rule session_cap, rule chronic_adult and rule adult." \
        in text.splitlines()


def test_without_the_rule_book_a_decision_reads_by_names(make_book: MakeBook) -> None:
    """A stored decision whose rule book is gone: names instead of descriptions, values by their JSON type."""
    book = make_book(ENGLISH)
    text = render_decision(book.evaluate(CASE), "english")
    assert "    age = 13" in text.splitlines() and "    claim.amount = 2345.50" in text.splitlines()
    assert "    Rule children takes precedence over rule physio_excluded." in text.splitlines()


def test_why_not_prints_its_answer_only_in_english(make_rules: Callable[[str], Path], tmp_path: Path) -> None:
    rules = make_rules(ENGLISH)
    case = tmp_path / "case.yaml"
    case.write_text("input:\n  claim: {date: 2024-03-01, amount: '12.00', kind: dental, chronic: false}\n"
                    "  patient: {birth: 1980-01-01}\n", encoding="utf-8")
    assert evaluate("evaluate", "--rules", rules, case, "--why-not", "children") == (
        "rule children does not apply: the condition `age < 18` is false\n"
        "  with Age of the patient on the day of care (age) = 44\n")


# ---------------------------------------------------------------- one formatter


def test_amounts_dates_and_numbers_in_each_language() -> None:
    assert display.money(Decimal("1234.5"), "nederlands") == "€ 1.234,50"
    assert display.money(Decimal("1234.5"), "english") == "€ 1234.50"
    assert display.money(Decimal("-0.0325"), "nederlands") == "€ -0,0325"
    assert display.money(Decimal("12.345"), "nederlands") == "€ 12,3450"  # never `12,345`: a thousands group
    assert display.date(dt.date(2025, 1, 1), "nederlands") == "1 januari 2025"
    assert display.date(dt.date(2025, 1, 1), "english") == "1 January 2025"
    assert display.number(Decimal("0.5"), "nederlands") == "0,5"
    assert display.number(2025, "nederlands") == "2025"  # a year is not grouped
    assert display.number(12345, "nederlands", grouped=True) == "12.345"
    assert display.value("24.85", "money", "nederlands") == "€ 24,85"
    assert display.value("2025-06-14", "date", "english") == "14 June 2025"
    assert display.value(["1.00", "2.50"], "money", "nederlands") == "[€ 1,00, € 2,50]"
    assert display.value("", "text", "nederlands") == "(leeg)"
    # the rule-file formatter writes amounts with the same function
    assert Formatter("nederlands").money(Decimal("1234.5")) == "€ 1.234,50"
    assert Formatter("english").money(Decimal("1234.5")) == "€ 1234.50"


@given(st.decimals(min_value=-10**12, max_value=10**12, places=2, allow_nan=False, allow_infinity=False),
       st.sampled_from(["nederlands", "english"]))
def test_an_amount_reads_back_as_itself(v: Decimal, language: str) -> None:
    text = display.money(v, language)
    assert text.startswith("€ ")
    digits = text[2:].replace(".", "").replace(",", ".") if language == "nederlands" else text[2:]
    assert Decimal(digits) == v
    assert re.fullmatch(r"-?\d{1,3}(\.\d{3})*,\d\d" if language == "nederlands" else r"-?\d+\.\d\d", text[2:])


def test_the_lead_of_a_description() -> None:
    assert description_lead("Soort zorg (huisartsenzorg omvat de huisartsenpost; donorzorg is …)") == "Soort zorg"
    assert description_lead("Zorgregio (geen regel gebruikt haar; voor analyses); mag ontbreken") == "Zorgregio"
    assert description_lead("Datum waarop de zorg is geleverd. Bij één rekening: de eerste dag") == \
        "Datum waarop de zorg is geleverd"
    assert description_lead("Is de zorg digitaal (op afstand) geleverd? (geen regel gebruikt het)") == \
        "Is de zorg digitaal (op afstand) geleverd?"
    assert description_lead("Verblijfsdag (Bzv art. 2.12 lid 2)") == "Verblijfsdag"
    assert description_lead("Uren volgens Bzv art. 2.5 lid 1") == "Uren volgens Bzv art. 2.5 lid 1"


def test_the_shipped_rule_book_reads_by_short_names() -> None:
    """Every fact of the shipped rule book gets a lead of its description that is not empty and not cut in a bracket."""
    book = load_rules(ROOT / "rules")
    p = book.program
    for decl in [*p.inputs.values(), *p.values.values(), *p.parameters.values()]:
        if decl.description:
            lead = description_lead(decl.description)
            assert lead and lead.count("(") == lead.count(")"), (decl.name, lead)
