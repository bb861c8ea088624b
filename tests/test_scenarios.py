"""Scenarios: the law in force apart from proposals, the overlay a scenario makes, and what a decision says of it.

The shipped rule book states the law only; each shipped scenario checks clean, its cases pass on every engine,
and a decision under it says so and marks what its changes decided. Small rule books show each kind of change:
new dated parameter values, rows added to a table or a table replaced from a date, rules switched off, and the
checker's diagnostics pointing into the scenario's files.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from conftest import write_files
from passendezorg import CaseError, RuleBookError, UsageError, check_path, load_rules
from passendezorg.cases import iter_case_paths, read_case_file
from passendezorg.cli import main
from passendezorg.engines.interpreter import Evaluation
from passendezorg.rulebook import RuleBook
from passendezorg.testing import compare
from test_differential import case_for, diff_settings  # the generator of cases for any checked rule book

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
SCENARIOS = ROOT / "scenarios"
SHIPPED = ["bundelprijs_zorgpad", "digitale_zorg", "eerstelijnstarief", "eigen_risico_150_per_behandeling", "eigen_risico_165",
           "zorg_zonder_bewezen_waarde"]
VARICES = ROOT / "cases" / "juiste_plek" / "varices-in-ziekenhuis-1-januari-2025.yaml"


def run(*args: Any) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return load_rules(RULES)


# ---------------------------------------------------------------- the shipped rule book and its scenarios


def test_the_rule_book_in_force_rests_on_no_proposal() -> None:
    report = check_path(RULES)
    assert [d.render() for d in report.diagnostics] == []
    program = report.program
    assert program is not None and program.scenario is None
    for rule in program.rules.values():
        assert not rule.sources or not all(s.proposal for s in rule.sources), rule.name
    titles = [s.title for rs in program.rulesets.values() for s in rs.sources]
    titles += [s.title for r in program.rules.values() for s in r.sources]
    for title in titles:  # no source of the law in force is a programme, a discussion note or a plan
        for proposal in ("d66", "contourennota", "verkiezingsprogramma", "coalitieakkoord", "voorstel", "zorgplan"):
            assert proposal not in title.lower(), title


def test_the_shipped_scenarios(book: RuleBook) -> None:
    assert [s.name for s in book.scenarios()] == SHIPPED
    for s in book.scenarios():
        assert s.title, s.name
        assert any(src.proposal for src in s.sources), f"{s.name} cites no proposal"


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_scenario_checks_clean_and_its_cases_pass(book: RuleBook, name: str) -> None:
    report = check_path(RULES, scenario=SCENARIOS / name)
    assert [d.render() for d in report.diagnostics] == []
    under = book.with_scenario(name)
    paths = list(iter_case_paths([SCENARIOS / name / "cases"]))
    assert len(paths) >= 2
    for path in paths:
        case = read_case_file(path)
        decision = under.evaluate(case)
        assert compare(under, decision, case) == [], path
        assert decision.scenario is not None and decision.scenario.name == name
        rete = pytest.importorskip("passendezorg.engines.rete")
        if rete.unavailable_reason() is None:
            assert under.evaluate(case, engine="rete").to_json() == decision.to_json(), path


@pytest.mark.parametrize("name", SHIPPED)
def test_the_fast_path_agrees_under_a_scenario(book: RuleBook, name: str) -> None:
    under = book.with_scenario(name)
    cases = [read_case_file(p) for p in iter_case_paths([SCENARIOS / name / "cases", ROOT / "cases"])]
    for case, fast in zip(cases, under.decide_many(cases)):
        full = under.evaluate(case)
        for output, o in full.outputs.items():
            assert fast.rules[output] == (o.rule.name if o.rule else None), (case.path, output)  # type: ignore[union-attr]


def test_the_varices_case_in_force_and_under_the_first_line_scenario(book: RuleBook) -> None:
    """Done when: in force the declared tariff, still not at the right place; under the scenario the GP rate."""
    case = read_case_file(VARICES)
    law = book.evaluate(case)
    assert law.value("tarief") == Decimal("450.00") and law.outputs["tarief"].rule.name == "tarief_gedeclareerd"  # type: ignore[union-attr]
    assert law.value("zorg_op_juiste_plek") is False
    assert law.value("vergoeding") == Decimal("450.00")
    assert law.scenario is None
    text = law.to_json()
    assert '"scenario' not in text  # the law in force reads as it always has

    under = book.with_scenario("eerstelijnstarief").evaluate(case)
    assert under.value("tarief") == Decimal("24.85") and under.value("vergoeding") == Decimal("24.85")
    assert under.value("zorg_op_juiste_plek") is False
    assert under.scenario is not None and under.scenario.name == "eerstelijnstarief"
    assert "D66" in under.scenario.sources[0].title
    data = json.loads(under.to_json())
    assert data["scenario"]["name"] == "eerstelijnstarief"
    assert data["outputs"]["tarief"]["scenario_changes"] == [{"kind": "rule", "name": "tarief_eerstelijnstarief"}]
    assert data["outputs"]["zorg_op_juiste_plek"]["scenario_changes"] == []
    assert {"kind": "value", "name": "vergoedbaar_bedrag"} in data["outputs"]["vergoeding"]["scenario_changes"]
    code, out = run("evaluate", "--rules", RULES, "--scenario", "eerstelijnstarief", VARICES)
    assert code == 0
    assert out.splitlines()[1].startswith("onder scenario eerstelijnstarief — Eerstelijnstarief")
    assert "door het scenario: regel tarief_eerstelijnstarief van het scenario" in out


def test_a_decision_never_pays_a_proposal_unless_asked(book: RuleBook) -> None:
    """Every shipped case, evaluated on the rule book in force, names no rule of any scenario."""
    scenario_rules = set()
    for name in SHIPPED:
        sc = book.with_scenario(name).scenario
        assert sc is not None
        scenario_rules |= sc.rules
    for path in iter_case_paths([ROOT / "cases", SCENARIOS]):
        try:
            decision = book.evaluate(read_case_file(path))
        except CaseError as e:  # a fact only a scenario declares is no input of the law in force
            assert "not an input of the rule book" in str(e), e
            continue
        used = {o.rule.name for o in [*decision.outputs.values(), *decision.derived.values()] if o.rule}
        assert not used & scenario_rules, path


def test_a_scenario_book_is_a_rule_book_of_its_own(book: RuleBook) -> None:
    under = book.with_scenario("eerstelijnstarief")
    assert under is book.with_scenario("eerstelijnstarief")  # kept
    assert under.content_hash != book.content_hash
    assert under.content_hash == load_rules(RULES).with_scenario("eerstelijnstarief").content_hash
    assert "scenarios/eerstelijnstarief/eerstelijnstarief.pz" in under.program.files
    assert under.scenario is not None and book.scenario is None
    assert under.scenario.rules == frozenset({"tarief_eerstelijnstarief"})
    with pytest.raises(UsageError, match="already under scenario"):
        under.with_scenario("digitale_zorg")
    with pytest.raises(UsageError, match="did you mean `eerstelijnstarief`"):
        book.with_scenario("eerstelijnstarif")
    # the rule book in force is not changed by having been asked for a scenario
    assert book.evaluate(read_case_file(VARICES)).value("tarief") == Decimal("450.00")


@diff_settings(120)
@given(data=st.data())
def test_an_output_that_differs_from_the_law_is_marked(book: RuleBook, data: st.DataObject) -> None:
    """Whatever the case: an output whose value or deciding rule differs from the law in force is marked."""
    name = data.draw(st.sampled_from(SHIPPED))
    under = book.with_scenario(name)
    inputs, day = data.draw(case_for(under.program, missing=data.draw(st.sampled_from([0.0, 0.05, 0.3]))))
    base_inputs = {k: v for k, v in inputs.items() if k in book.program.inputs}
    law = book.decision(Evaluation(book.program, base_inputs, day).run(), day, None)
    decision = under.decision(Evaluation(under.program, inputs, day).run(), day, None, inputs)
    for output, o in law.outputs.items():
        s = decision.outputs[output]
        differs = (o.status, o.value, o.rule.name if o.rule else None) != \
            (s.status, s.value, s.rule.name if s.rule else None)
        if differs and s.status in ("value", "default"):
            assert s.scenario_changes, (name, output, inputs, day)


# ---------------------------------------------------------------- changes, on small rule books

BASE = """
language english
ruleset base
  title "Base"
  source law "The law"

input c.day : date
input c.kind : text
input c.amount : money
peildatum c.day

parameter rate : money "A rate"
  from 2020-01-01 = € 10.00  source law "2020"
  from 2023-01-01 until 2023-12-31 = € 12.00  source law "2023"
  from 2024-01-01 = unknown

table caps "Caps per kind"
  file "data/caps.csv"
  key kind
  column kind : text
  column cap : money
  valid from column start until column end

output paid : money
output rated : money

rule pay_all
  "Pay the amount"
  source law "1"
  then paid = c.amount

rule pay_capped
  "Pay up to the cap"
  exception to pay_all
  source law "2"
  when c.kind in caps
  then paid = min(c.amount, caps[c.kind].cap)

rule nothing_for_gifts
  "Gifts are not paid"
  exception to pay_capped
  source law "3"
  when c.kind = "gift"
  then paid = € 0.00

rule rated_rule
  "The rate of the day"
  source law "4"
  then rated = rate
"""

CAPS = "kind,cap,start,end\ntravel,100.00,2020-01-01,\ngift,1.00,2020-01-01,\nglasses,60.00,2020-01-01,2024-12-31\n"


@pytest.fixture
def small(tmp_path: Path) -> Callable[[dict[str, str]], RuleBook]:
    """The small rule book, and a scenario `s` of the given files (its rule file is `scenarios/s/s.pz`)."""

    def make(files: dict[str, str]) -> RuleBook:
        write_files(tmp_path, {"rules/base.pz": BASE, "rules/data/caps.csv": CAPS,
                               **{f"scenarios/s/{k}": v for k, v in files.items()}})
        return load_rules(tmp_path / "rules").with_scenario("s")

    return make


def decide(book: RuleBook, day: str, kind: str = "travel", amount: str = "150") -> dict[str, Any]:
    d = book.evaluate({"c": {"day": day, "kind": kind, "amount": amount}})
    return json.loads(d.to_json())["outputs"]  # type: ignore[no-any-return]


def test_new_parameter_values_hold_in_their_periods_only(small: Callable[[dict[str, str]], RuleBook]) -> None:
    book = small({"s.pz": """
        language english
        scenario s
          title "A higher rate for a year"
          source plan "A plan" proposal
        change parameter rate
          from 2022-07-01 until 2023-06-30 = € 20.00  source plan "the year"
    """})
    rated = {day: decide(book, day)["rated"] for day in ("2021-01-01", "2022-07-01", "2023-06-30", "2023-07-01",
                                                          "2025-01-01")}
    assert {d: o["value"] for d, o in rated.items()} == {
        "2021-01-01": "10.00", "2022-07-01": "20.00", "2023-06-30": "20.00", "2023-07-01": "12.00",
        "2025-01-01": None}
    assert rated["2025-01-01"]["status"] == "error"  # the rule book's `unknown` holds outside the scenario's period
    assert rated["2022-07-01"]["scenario_changes"] == [{"kind": "parameter", "name": "rate"}]
    assert rated["2021-01-01"]["scenario_changes"] == rated["2023-07-01"]["scenario_changes"] == []
    assert book.scenario is not None and book.scenario.parameters["rate"] == ((dt.date(2022, 7, 1),
                                                                               dt.date(2023, 6, 30)),)


def test_rows_added_to_a_table_replace_its_rows_where_their_periods_meet(
        small: Callable[[dict[str, str]], RuleBook]) -> None:
    book = small({"s.pz": """
        language english
        scenario s
          title "More caps"
          source plan "A plan" proposal
        add to table caps
          file "data/more.csv"
          source plan
    """, "data/more.csv": "kind,cap,start,end\ntravel,80.00,2022-01-01,2022-12-31\ntaxi,30.00,2020-01-01,\n"})
    assert decide(book, "2021-06-01")["paid"]["value"] == "100.00"  # the rule book's row before the new one
    new = decide(book, "2022-06-01")["paid"]
    assert new["value"] == "80.00" and new["scenario_changes"] == [{"kind": "table", "name": "caps"}]
    assert decide(book, "2023-06-01")["paid"]["value"] == "100.00"  # and after it
    assert decide(book, "2023-06-01")["paid"]["scenario_changes"] == []
    assert decide(book, "2023-06-01", "taxi")["paid"]["value"] == "30.00"


def test_a_table_replaced_from_a_date(small: Callable[[dict[str, str]], RuleBook]) -> None:
    book = small({"s.pz": """
        language english
        scenario s
          title "Fewer caps"
          source plan "A plan" proposal
        replace table caps
          from 2024-01-01
          file "data/caps_2024.csv"
          source plan
    """, "data/caps_2024.csv": "kind,cap,start,end\ntravel,50.00,2010-01-01,\n"})
    assert decide(book, "2023-12-31", "glasses", "80")["paid"]["value"] == "60.00"
    glasses = decide(book, "2024-01-01", "glasses", "80")["paid"]
    assert glasses["value"] == "80.00" and glasses["rule"]["name"] == "pay_all"
    assert glasses["scenario_changes"] == [{"kind": "table", "name": "caps"}]  # the scenario's table left it out
    assert decide(book, "2024-01-01")["paid"]["value"] == "50.00"
    assert decide(book, "2023-01-01")["paid"]["scenario_changes"] == []


def test_a_rule_switched_off_from_a_date_and_entirely(small: Callable[[dict[str, str]], RuleBook]) -> None:
    book = small({"s.pz": """
        language english
        scenario s
          title "No caps"
          source plan "A plan" proposal
        switch rule pay_capped off from 2025-01-01
          source plan "no caps"
    """})
    assert decide(book, "2024-12-31")["paid"]["value"] == "100.00"
    off = decide(book, "2025-01-01")["paid"]
    assert off["value"] == "150.00" and off["scenario_changes"] == [{"kind": "switch_off", "name": "pay_capped"}]
    gift = decide(book, "2025-01-01", "gift")["paid"]  # its exception still applies: the switched rule would not decide
    assert gift["value"] == "0.00" and gift["scenario_changes"] == []
    assert decide(book, "2025-01-01", "books")["paid"]["scenario_changes"] == []  # it would not have applied
    entirely = small({"s.pz": """
        language english
        scenario s
          title "No caps at all"
          source plan "A plan" proposal
        switch rule pay_capped off
          source plan
    """})
    assert decide(entirely, "2020-06-01")["paid"]["value"] == "150.00"
    code, out = run("evaluate", "--rules", entirely.path, "--scenario", "s", "--why-not", "pay_capped",
                    _case(entirely.path.parent, "2020-06-01"))
    assert "rule pay_capped is switched off by scenario s" in out


def _case(where: Path, day: str) -> Path:
    path = where / "case.yaml"
    path.write_text(f"input: {{c: {{day: {day}, kind: travel, amount: 150}}}}\n", encoding="utf-8")
    return path


def test_a_scenario_rule_that_cannot_decide_is_marked_where_it_is_in_play(
        small: Callable[[dict[str, str]], RuleBook]) -> None:
    book = small({"s.pz": """
        language english
        scenario s
          title "Bonus"
          source plan "A plan" proposal
        parameter bonus : money "Not known yet"
          from 2020-01-01 = unknown
        rule bonus_for_travel
          "Travel gets the bonus"
          exception to pay_capped
          source plan
          when c.kind = "travel"
          then paid = c.amount + bonus
    """})
    travel = decide(book, "2022-01-01")["paid"]
    assert travel["status"] == "error" and "bonus" in travel["reason"]
    assert travel["scenario_changes"] == [{"kind": "rule", "name": "bonus_for_travel"}]
    assert decide(book, "2022-01-01", "glasses")["paid"]["scenario_changes"] == []


# ---------------------------------------------------------------- what the checker says of a scenario


def check_scenario(tmp_path: Path, files: dict[str, str]) -> tuple[int, str]:
    write_files(tmp_path, {"rules/base.pz": BASE, "rules/data/caps.csv": CAPS,
                           **{f"scenarios/s/{k}": v for k, v in files.items()}})
    return run("check", tmp_path / "rules", "--scenario", "s")


def test_the_checker_finds_a_scenarios_mistakes_in_its_files(tmp_path: Path) -> None:
    code, out = check_scenario(tmp_path, {"s.pz": """
        language english
        scenario t
          title "Mistakes"
          source plan "A plan" proposal
        change parameter rat
          from 2025-01-01 = € 1.00  source plan
        change parameter rate
          from 2025-01-01 = true  source plna
        add to table cap
          file "x.csv"
        replace table caps
          file "data/bad.csv"
          source plan
        switch rule pay_cap off
        switch rule bonus off
        rule bonus
          "Bonus"
          exception to pay_caped
          source plan
          then paid = € 1.00
    """, "data/bad.csv": "kind,cap,start,end\ntravel,lots,2020-01-01,\n"})
    assert code == 1
    s = str(tmp_path / "scenarios" / "s" / "s.pz")
    expected = [
        (f"{s}:2:1: error[scenario]: this file calls its scenario `t`, but it is in the folder of scenario `s`", None),
        (f"{s}:5:18: error[unknown-name]: `rat` is not a parameter of the rule book in force",
         "did you mean `rate`?"),
        (f"{s}:8:21: error[type]: `rate` is an amount of money, but this value is a boolean", None),
        (f"{s}:8:27: error[unknown-source]: unknown source `plna`", "did you mean `plan`?"),
        (f"{s}:9:14: error[unknown-name]: `cap` is not a table of the rule book in force", "did you mean `caps`?"),
        (f"{s}:14:13: error[unknown-name]: `pay_cap` is not a rule of the rule book in force",
         "did you mean `pay_capped`?"),
        (f"{s}:15:13: error[unknown-name]: `bonus` is a rule of this scenario: leave it out instead of switching it "
         "off", None),
        (f"{s}:18:16: error[exception]: rule `bonus` is an exception to `pay_caped`, which does not exist",
         "did you mean `pay_capped`?"),
    ]
    for message, hint in expected:
        assert message in out, out
        if hint:
            assert out[out.index(message):].split("\n\n")[0].rstrip().endswith(hint), message
    assert "bad.csv, row 2, column `cap`: expected an amount, got `lots`" in out
    assert out.count("unknown source `plna`") == 1


def test_check_shows_what_the_scenario_brings(tmp_path: Path) -> None:
    """A warning of the rule book in force is not repeated; a new overlap is the scenario's."""
    code, out = check_scenario(tmp_path, {"s.pz": """
        language english
        scenario s
          title "Another rule"
          source plan "A plan" proposal
        rule flat
          "A flat amount"
          source plan
          when c.kind = "taxi"
          then paid = € 5.00
    """})
    assert code == 0
    assert "warning[overlap]: rules `pay_all` and `flat` both decide `paid`" in out
    assert out.strip().endswith("scenario s: 1 file(s): 0 error(s), 2 warning(s); 1 rule(s) added, 0 switched off, "
                                "0 parameter(s) and 0 table(s) changed, 0 declaration(s) added")
    code, out = run("check", tmp_path / "rules", "--all-scenarios", "--format", "json")
    data = json.loads(out)
    assert data["errors"] == 0 and [s["scenario"] for s in data["scenarios"]] == ["s"]
    assert data["scenarios"][0]["warnings"] == 2


def test_a_file_of_a_scenario_without_its_header(tmp_path: Path) -> None:
    code, out = check_scenario(tmp_path, {"s.pz": """
        language english
        ruleset s
          title "Not a scenario header"
          source plan "A plan" proposal
    """})
    assert code == 1
    assert "error[scenario]: a file of scenario `s` must start with `scenario s`" in out


def test_the_rule_book_changed_since_it_was_loaded(tmp_path: Path) -> None:
    write_files(tmp_path, {"rules/base.pz": BASE, "rules/data/caps.csv": CAPS, "scenarios/s/s.pz": """
        language english
        scenario s
          title "Nothing"
          source plan "A plan" proposal
    """})
    book = load_rules(tmp_path / "rules")
    (tmp_path / "rules" / "data" / "caps.csv").write_text(CAPS + "taxi,5.00,2020-01-01,\n", encoding="utf-8")
    with pytest.raises(Exception, match="changed since it was loaded"):
        book.with_scenario("s")


def test_scenario_errors_are_a_rule_book_error(small: Callable[[dict[str, str]], RuleBook]) -> None:
    with pytest.raises(RuleBookError):
        small({"s.pz": "language english\nscenario s\n  title \"x\"\nswitch rule nope off\n"})


# ---------------------------------------------------------------- the command line


def test_the_command_line_under_a_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run("scenarios", "--rules", RULES)
    assert code == 0 and out.startswith("bundelprijs_zorgpad: Eén prijs per bundel")
    assert "digitale_zorg: Geen eigen risico voor digitale zorg\n  proposal: VWS" in out
    code, out = run("test", "--rules", RULES, "--scenario", "eigen_risico_150_per_behandeling", "--coverage")
    assert code == 0, out
    assert "rule coverage: 1 of 1 rules of scenario eigen_risico_150_per_behandeling" in out
    code, out = run("check", RULES, "--scenario", "nope")
    assert code == 2 and "no scenario `nope`" in out
    # another folder of scenarios, by option and by environment
    (tmp_path / "elsewhere").mkdir()
    code, out = run("scenarios", "--rules", RULES, "--scenarios", tmp_path / "elsewhere")
    assert out.strip() == f"no scenarios in {tmp_path / 'elsewhere'}"
    monkeypatch.setenv("PASSENDEZORG_SCENARIOS", str(tmp_path / "elsewhere"))
    code, out = run("evaluate", "--rules", RULES, "--scenario", "eerstelijnstarief", VARICES)
    assert code == 2 and "no scenario `eerstelijnstarief`" in out
    monkeypatch.delenv("PASSENDEZORG_SCENARIOS")
    code, out = run("evaluate", "--rules", RULES, "--scenario", "eerstelijnstarief", "--format", "json", VARICES)
    assert json.loads(out)["outputs"]["tarief"]["value"] == "24.85"


def test_a_batch_under_a_scenario(tmp_path: Path) -> None:
    case = json.dumps({"id": "v", **json.loads(json.dumps(read_case_file(VARICES).input, default=str))})
    (tmp_path / "cases.jsonl").write_text(case + "\n", encoding="utf-8")
    code, out = run("evaluate", "--rules", RULES, "--scenario", "eerstelijnstarief", "--jobs", "1",
                    "--format", "jsonl", tmp_path / "cases.jsonl")
    assert code == 0, out
    line = json.loads(out.strip().splitlines()[0])
    assert line["scenario"]["name"] == "eerstelijnstarief" and line["outputs"]["tarief"]["value"] == "24.85"
    # the compact lines (values and deciding rules) name the scenario too
    code, out = run("evaluate", "--rules", RULES, "--scenario", "eerstelijnstarief", "--jobs", "1",
                    tmp_path / "cases.jsonl")
    line = json.loads(out.strip().splitlines()[0])
    assert line["scenario"] == "eerstelijnstarief" and line["values"]["tarief"] == "24.85"
    code, out = run("evaluate", "--rules", RULES, "--jobs", "1", tmp_path / "cases.jsonl")
    assert "scenario" not in json.loads(out.strip().splitlines()[0])
    fast = load_rules(RULES).with_scenario("eerstelijnstarief").decide_many([read_case_file(VARICES)])[0]
    assert fast.as_json()["scenario"] == "eerstelijnstarief"  # type: ignore[union-attr]


def test_claims_are_never_paid_under_a_scenario(book: RuleBook, tmp_path: Path) -> None:
    from passendezorg.claims import ClaimProcessor

    with pytest.raises(UsageError, match="under the law in force, not under scenario `eerstelijnstarief`"):
        ClaimProcessor(book.with_scenario("eerstelijnstarief"), f"sqlite:///{tmp_path / 'claims.db'}")


def test_a_scenario_without_title_or_sources_is_warned_of(tmp_path: Path) -> None:
    code, out = check_scenario(tmp_path, {"s.pz": """
        language english
        scenario s
        switch rule pay_capped off
        replace table caps
          file "data/none.csv"
    """, "data/none.csv": "kind,cap,start,end\n"})
    assert code == 0
    assert "warning[scenario]: scenario `s` has no title" in out
    assert "warning[no-source]: switching rule `pay_capped` off has no source" in out
    assert "warning[no-source]: the change of table `caps` has no source" in out
