"""Simulation: every claim under the law in force and under each scenario, each person replayed in date order.

The totals are checked against a small population computed by hand (a cap per treatment changes who
reaches the yearly eigen risico, and when), and against evaluating the same claims directly, one by
one, with the interpreter and the same replay (and, for the law in force, against claim processing).
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passendezorg import Case, RuleBook, load_rules
from passendezorg.errors import UsageError
from passendezorg.population import generate, nested, plan, write_claims
from passendezorg.report import render_html, simulation_json, tables, write_report
from passendezorg.simulate import BASE, Simulation, simulate
from passendezorg.yearly import USED_INPUT, YearlyLedger, counters_for

ROOT = Path(__file__).resolve().parents[1]
BOOKS = ROOT / "tests" / "rulebooks_simulation"
D = Decimal


@pytest.fixture(scope="module")
def small() -> tuple[RuleBook, RuleBook]:
    return load_rules(BOOKS / "in_force"), load_rules(BOOKS / "cap_165_50")


def claim(cid: str, who: str, born: str, day: str, kind: str, amount: str) -> dict[str, Any]:
    return {"claim_id": cid, "insured_id": who, "input": {
        "verzekerde": {"geboortedatum": born},
        "behandeling": {"datum": day, "soort": kind, "bedrag": amount}}}


ADULT, CHILD = "1980-06-01", "2015-06-01"
MSZ, DIAG, GP = "medisch_specialistische_zorg", "eerstelijnsdiagnostiek", "huisartsenzorg"

# A population worked out by hand. In force: € 385 a year. The proposal: € 165, at most € 50 per treatment
# in hospital care. The file is not in date order: each person's claims are replayed by date.
HAND = [
    claim("A2", "A", ADULT, "2025-06-05", MSZ, "200.00"),   # in force: 85 (385 reached in June); cap: 50
    claim("C3", "C", ADULT, "2025-03-30", MSZ, "500.00"),   # in force: 185 (reached in March); cap: 0
    claim("A1", "A", ADULT, "2025-03-10", MSZ, "300.00"),   # in force: 300; cap: 50
    claim("B1", "B", ADULT, "2025-02-01", MSZ, "1000.00"),  # in force: 385 (reached in February); cap: 50
    claim("C1", "C", ADULT, "2025-01-15", DIAG, "100.00"),  # both: 100
    claim("C2", "C", ADULT, "2025-02-20", DIAG, "100.00"),  # in force: 100; cap: 65 (165 reached in February)
    claim("D1", "D", CHILD, "2025-04-01", MSZ, "800.00"),   # a child: nothing
    claim("E1", "E", ADULT, "2025-05-05", GP, "30.00"),     # huisartsenzorg: exempt
]


def test_a_cap_per_treatment_changes_who_reaches_the_yearly_eigen_risico_and_when(
        small: tuple[RuleBook, RuleBook], tmp_path: Path) -> None:
    in_force, cap = small
    sim = simulate(in_force, HAND, {"cap": cap}, by=["behandeling.soort", "month"], jobs=1)
    assert (sim.claims, sim.persons, sim.person_years, sim.rejected) == (8, 5, 5, 0)
    ded, pay = sim.outputs["eigen_risico_inhouding"], sim.outputs["vergoeding"]
    assert ded.totals == {BASE: D("1155.00"), "cap": D("315.00")}
    assert pay.totals == {BASE: D("1875.00"), "cap": D("2715.00")}
    assert ded.change("cap") == D("-840.00") and pay.change("cap") == D("840.00")
    assert sim.changed_claims == {"cap": 5} and sim.changed_persons == {"cap": 3}
    assert ded.changed == {"cap": 5} and sim.rule_only == {"cap": 0}

    [er] = sim.yearly
    assert er.input == "verzekerde.eigen_risico_verbruikt" and er.person_years == 5
    assert er.reached[BASE] == [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]  # B in February, C in March, A in June
    assert er.reached["cap"] == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # only C, and a month earlier
    assert er.moved["cap"] == {"both": 1, "only_in_force": 2, "only_scenario": 0, "earlier": 1, "later": 0,
                               "same_month": 0}

    rules = {(r.output, r.before, r.after): (r.claims, r.before_total, r.after_total) for r in sim.rules["cap"]}
    assert rules == {
        ("eigen_risico_inhouding", "inhouding", "inhouding_ten_hoogste_50_per_behandeling"):
            (4, D("955.00"), D("150.00")),
        ("eigen_risico_inhouding", "inhouding", "inhouding"): (1, D("100.00"), D("65.00")),
        ("vergoeding", "vergoeding_na_inhouding", "vergoeding_na_inhouding"): (5, D("1045.00"), D("1885.00")),
    }
    kinds = {b.value: b for b in sim.breakdowns["behandeling.soort"]}
    assert (kinds[MSZ].claims, kinds[MSZ].changed["cap"]) == (5, 4)
    assert kinds[MSZ].totals["vergoeding"] == {BASE: D("1845.00"), "cap": D("2650.00")}
    assert kinds[DIAG].totals["vergoeding"] == {BASE: D("0.00"), "cap": D("35.00")}
    assert kinds[GP].totals["vergoeding"] == {BASE: D("30.00"), "cap": D("30.00")}
    months = {b.value: b.claims for b in sim.breakdowns["month"]}
    assert months == {"2025-01": 1, "2025-02": 2, "2025-03": 2, "2025-04": 1, "2025-05": 1, "2025-06": 1}

    # every changed claim is in the sample, explained under both rule books with the amount used by then
    sampled = {c.claim_id: c for c in sim.sample["cap"]}
    assert set(sampled) == {"A1", "A2", "B1", "C2", "C3"}
    c3 = sampled["C3"]
    assert c3.changed == ["eigen_risico_inhouding", "vergoeding"]
    assert c3.used_before == {"verzekerde.eigen_risico_verbruikt": D("200.00")}
    assert c3.used_after == {"verzekerde.eigen_risico_verbruikt": D("165.00")}
    assert c3.before.outputs["eigen_risico_inhouding"].value == Decimal("185.00")
    assert c3.after.outputs["eigen_risico_inhouding"].rule.name == "inhouding_ten_hoogste_50_per_behandeling"
    assert c3.after.outputs["eigen_risico_inhouding"].value == Decimal("0.00")


def test_the_result_does_not_depend_on_the_workers_or_the_file_format(small: tuple[RuleBook, RuleBook],
                                                                     tmp_path: Path) -> None:
    in_force, cap = small
    claims = list(_random_claims(random.Random(7), 300))
    jsonl = tmp_path / "claims.jsonl"
    jsonl.write_text("".join(json.dumps(c) + "\n" for c in claims), encoding="utf-8")
    flat = [{"claim_id": c["claim_id"], "insured_id": c["insured_id"],
             "input": {f"{group}.{k}": v for group, facts in c["input"].items() for k, v in facts.items()}}
            for c in claims]
    write_claims(flat, tmp_path / "claims.csv", in_force.program)
    results = [_comparable(simulate(in_force, jsonl, {"cap": cap}, jobs=1)),
               _comparable(simulate(in_force, jsonl, {"cap": cap}, jobs=2)),
               _comparable(simulate(in_force, tmp_path / "claims.csv", {"cap": cap}, jobs=2)),
               _comparable(simulate(in_force, claims, {"cap": cap}, jobs=1))]
    pytest.importorskip("pyarrow")
    write_claims(flat, tmp_path / "claims.parquet", in_force.program)
    results.append(_comparable(simulate(in_force, tmp_path / "claims.parquet", {"cap": cap}, jobs=2)))
    for other in results[1:]:
        assert other == results[0]


def _comparable(sim: Simulation) -> dict[str, Any]:
    data = simulation_json(sim)
    del data["run"], data["claims_file"]
    for lst in data["sample"].values():  # where a claim is read from differs between the files
        for c in lst:
            del c["where"]
    return data


def _random_claims(rnd: random.Random, n: int) -> Iterator[dict[str, Any]]:
    for k in range(n):
        who = f"P{rnd.randrange(40)}"
        born = ADULT if int(who[1:]) % 5 else CHILD
        yield claim(f"K{k}", who, born, f"{rnd.choice([2024, 2025])}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
                    rnd.choice([MSZ, MSZ, DIAG, GP]), f"{rnd.randint(1, 90000) / 100:.2f}")


def direct(book: RuleBook, claims: list[dict[str, Any]]) -> dict[str, Any]:
    """The oracle: each person's claims in date order (then file order), one by one with the interpreter."""
    counters = counters_for(book.program)
    ledger = YearlyLedger(counters)
    totals: dict[str, Decimal] = {}
    decided: dict[str, dict[str, Any]] = {}
    reached: dict[str, set[tuple[str, int]]] = {c.input: set() for c in counters if c.limit}
    order = sorted(range(len(claims)), key=lambda i: (claims[i]["insured_id"], _date_of(claims[i]), i))
    for i in order:
        c = claims[i]
        facts = json.loads(json.dumps(c["input"]))
        year = int(_date_of(c)[:4])
        for name, amount in ledger.inputs(c["insured_id"], year).items():
            group, key = name.split(".", 1)
            facts.setdefault(group, {})[key] = str(amount)
        case = Case({g: {k: v for k, v in f.items() if f"{g}.{k}" in book.program.inputs} for g, f in facts.items()},
                    c["claim_id"])
        _, inputs, day = book.prepare(case)
        d = book.evaluate(case)
        values = {name: (Decimal(o.value) if o.type in ("money", "decimal") and o.value is not None else o.value)
                  for name, o in {**d.derived, **d.outputs}.items()}
        ledger.record(c["insured_id"], year, inputs, values.get)
        decided[c["claim_id"]] = {name: (o.status, o.value) for name, o in d.outputs.items()}
        for name, o in d.outputs.items():
            if o.type == "money" and o.status in ("value", "default"):
                totals[name] = totals.get(name, D("0.00")) + Decimal(o.value)  # type: ignore[arg-type]
        used = ledger.used(c["insured_id"], year)
        for k, counter in enumerate(counters):
            if counter.limit is None:
                continue
            limit = values.get(counter.limit)
            if limit is None and counter.limit in book.program.parameters:
                period = book.program.parameters[counter.limit].period_on(day)
                limit = period.value if period is not None else None
            if limit is not None and used[k] >= limit:
                reached[counter.input].add((c["insured_id"], year))
    return {"totals": totals, "decided": decided, "reached": {k: len(v) for k, v in reached.items()}}


def _date_of(c: dict[str, Any]) -> str:
    return str(c["input"]["behandeling"]["datum"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32 - 1), st.integers(1, 60))
def test_totals_equal_deciding_each_claim_directly_small_book(small: tuple[RuleBook, RuleBook], seed: int,
                                                               n: int) -> None:
    in_force, cap = small
    claims = list(_random_claims(random.Random(seed), n))
    sim = simulate(in_force, claims, {"cap": cap}, jobs=1, sample=0)
    _agrees(sim, claims, {BASE: in_force, "cap": cap})


SCENARIO_GUARDED = """taal nederlands
scenario ten_hoogste_50
  titel "Ten hoogste € 50 per behandeling"
  bron voorstel "Voorstel: ten hoogste € 50 per behandeling in de medisch-specialistische zorg" voorstel

regel ten_hoogste_50
  "In de medisch-specialistische zorg wordt per behandeling ten hoogste € 50 ingehouden"
  uitzondering op inhouding
  bron voorstel
  als behandeling.soort = medisch_specialistische_zorg en leeftijd >= 18
  dan eigen_risico_inhouding = min(resterend_eigen_risico, behandeling.bedrag, € 50,00)
"""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> tuple[RuleBook, RuleBook]:
    """The small rule book with a scenario that only adds a rule for hospital care: out of its reach, a claim of a
    person whose year stands as in force is decided once."""
    folder = tmp_path_factory.mktemp("scenarios")
    (folder / "ten_hoogste_50").mkdir()
    (folder / "ten_hoogste_50" / "cap.pz").write_text(SCENARIO_GUARDED, encoding="utf-8")
    book = load_rules(BOOKS / "in_force", scenarios=folder)
    return book, book.with_scenario("ten_hoogste_50")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32 - 1), st.integers(1, 60))
def test_totals_equal_deciding_each_claim_directly_under_a_scenario_with_a_reach(guarded: tuple[RuleBook, RuleBook],
                                                                                 seed: int, n: int) -> None:
    in_force, scenario = guarded
    claims = list(_random_claims(random.Random(seed), n))
    sim = simulate(in_force, claims, ["ten_hoogste_50"], jobs=1, sample=0)
    _agrees(sim, claims, {BASE: in_force, "ten_hoogste_50": scenario})


def _agrees(sim: Simulation, claims: list[dict[str, Any]], books: dict[str, RuleBook]) -> None:
    oracle = {k: direct(b, claims) for k, b in books.items()}
    for name, o in sim.outputs.items():
        if o.money:
            for k in books:
                assert o.totals[k] == oracle[k]["totals"].get(name, D("0.00")), (name, k)
    for k in books:
        if k == BASE:
            continue
        changed = [cid for cid, out in oracle[BASE]["decided"].items() if out != oracle[k]["decided"][cid]]
        assert sim.changed_claims[k] == len(changed)
        assert sim.changed_persons[k] == len({c["insured_id"] for c in claims if c["claim_id"] in changed})
    assert {y.input for y in sim.yearly} == set(oracle[BASE]["reached"])
    for y in sim.yearly:
        for k in books:
            assert y.total(k) == oracle[k]["reached"][y.input], (y.input, k)


# ------------------------------------------------------------------ the shipped rule book


PROPOSAL_CAP = """taal nederlands
regelset voorstel_per_behandeling
  titel "Voorstel voor de test: ten hoogste € 50 eigen risico per behandeling in de medisch-specialistische zorg"
  bron test_voorstel_50 "Voorstel (test): ten hoogste € 50 per behandeling"

regel test_eigen_risico_per_behandeling
  "Ten hoogste € 50 eigen risico per behandeling in de medisch-specialistische zorg"
  uitzondering op eigen_risico_inhouding_berekend
  bron test_voorstel_50
  als eigen_risico_van_toepassing en behandeling.soort = medisch_specialistische_zorg
  dan eigen_risico_inhouding = min(resterend_eigen_risico, vergoedbaar_bedrag, € 50,00)
"""

PROPOSAL_DIGITAL = """taal nederlands
regelset voorstel_digitaal
  titel "Voorstel voor de test: geen eigen risico voor digitale zorg"
  bron test_voorstel_digitaal "Voorstel (test): geen eigen risico voor digitale zorg"

regel test_geen_eigen_risico_digitaal
  "Geen eigen risico voor digitaal geleverde medisch-specialistische zorg en ggz"
  uitzondering op eigen_risico_geldt
  bron test_voorstel_digitaal
  als behandeling.soort in [medisch_specialistische_zorg, ggz] en behandeling.digitaal
  dan eigen_risico_van_toepassing = nee
"""


def variant_of_rules(folder: Path, extra: str) -> RuleBook:
    """The shipped rule book with one file of proposed rules added: a variant rule book for the tests."""
    import shutil

    shutil.copytree(ROOT / "rules", folder)
    (folder / "voorstel_test.pz").write_text(extra, encoding="utf-8")
    return load_rules(folder)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("shipped")
    book = load_rules(ROOT / "rules")
    variants = {"cap": variant_of_rules(tmp / "cap", PROPOSAL_CAP),
                "digital": variant_of_rules(tmp / "digital", PROPOSAL_DIGITAL)}
    claims = list(generate(book, 120, seed=11))
    path = tmp / "claims.jsonl"
    write_claims(claims, path, book.program, plan(book).columns)
    nested_claims = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    sim = simulate(book, path, variants, jobs=2, sample=5)
    return {"book": book, "variants": variants, "path": path, "claims": nested_claims, "sim": sim, "tmp": tmp}


def test_totals_equal_deciding_each_claim_directly_shipped_book(shipped: dict[str, Any]) -> None:
    sim: Simulation = shipped["sim"]
    assert sim.claims == len(shipped["claims"]) and sim.rejected == 0
    assert sim.changed_claims["cap"] > 0 and sim.changed_claims["digital"] > 0
    _agrees(sim, shipped["claims"], {BASE: shipped["book"], **shipped["variants"]})


def test_totals_under_the_shipped_scenarios_equal_deciding_each_claim_directly(shipped: dict[str, Any]) -> None:
    """Under scenarios the simulation decides a claim out of a scenario's reach once (see reach); the oracle decides
    every claim under every rule book."""
    book: RuleBook = shipped["book"]
    names = ["eigen_risico_150_per_behandeling", "digitale_zorg"]
    sim = simulate(book, shipped["path"], names, jobs=2, sample=3)
    assert all(sim.changed_claims[n] > 0 for n in names)
    _agrees(sim, shipped["claims"], {BASE: book, **{n: book.with_scenario(n) for n in names}})


def test_the_reach_of_a_scenario_is_the_kinds_of_care_its_changes_name() -> None:
    from passendezorg.simulate import reach

    book = load_rules(ROOT / "rules")
    kind = "behandeling.soort"
    assert reach(book.with_scenario("digitale_zorg"), book, kind) == {"medisch_specialistische_zorg", "ggz"}
    assert reach(book.with_scenario("eigen_risico_150_per_behandeling"), book, kind) == {"medisch_specialistische_zorg"}
    assert reach(book.with_scenario("eigen_risico_165"), book, kind) is None  # a parameter of the law in force
    assert reach(book, book, kind) is None and reach(book.with_scenario("digitale_zorg"), book, None) is None


def test_totals_in_force_equal_claim_processing(shipped: dict[str, Any]) -> None:
    from passendezorg.claims import ClaimProcessor

    book: RuleBook = shipped["book"]
    persons = sorted({c["insured_id"] for c in shipped["claims"]})[:40]  # a database transaction per claim: fewer
    claims = sorted((c for c in shipped["claims"] if c["insured_id"] in persons),
                    key=lambda c: (c["insured_id"], _date_of(c)))
    # claim processing keeps the eigen risico in its ledger; the other yearly caps (seated transport, dietary
    # advice) are facts the insurer gives, here kept with the same helper the simulation uses
    others = YearlyLedger([c for c in counters_for(book.program) if c.input != USED_INPUT])
    deducted, paid = D("0.00"), D("0.00")
    with ClaimProcessor(book, f"sqlite:///{shipped['tmp'] / 'claims.db'}") as processor:
        for c in claims:
            year = int(_date_of(c)[:4])
            facts = json.loads(json.dumps(c["input"]))
            for name, amount in others.inputs(c["insured_id"], year).items():
                group, key = name.split(".", 1)
                facts[group][key] = str(amount)
            receipt = processor.process({**c, "input": facts})
            _, inputs, _ = book.prepare(Case(facts))
            outputs = {k: Decimal(v) if isinstance(v, str) and k in ("eigen_bijdrage",) else v
                       for k, v in receipt.outputs.items()}
            others.record(c["insured_id"], year, inputs, outputs.get)
            deducted += receipt.deduction
            paid += receipt.payout or D("0.00")
    sim = simulate(book, claims, shipped["variants"], jobs=1, sample=0)
    assert sim.claims == len(claims) > 300
    assert deducted == sim.outputs["eigen_risico_inhouding"].totals[BASE]
    assert paid == sim.outputs["vergoeding"].totals[BASE]


def test_breakdowns_add_up_to_the_totals(shipped: dict[str, Any]) -> None:
    sim: Simulation = shipped["sim"]
    assert [f.name for f in sim.fields] == ["behandeling.soort", "age_band"]
    for buckets in sim.breakdowns.values():
        assert sum(b.claims for b in buckets) == sim.claims
        for k in ("cap", "digital"):
            assert sum(b.changed[k] for b in buckets) == sim.changed_claims[k]
        for name, o in sim.outputs.items():
            if o.money:
                for k in (BASE, "cap", "digital"):
                    assert sum((b.totals[name][k] for b in buckets), D("0.00")) == o.totals[k]
    bands = {b.value for b in sim.breakdowns["age_band"]}
    assert bands <= {"0-17", "18-34", "35-49", "50-64", "65-74", "75+"} and "0-17" in bands


def test_the_report_is_written_as_html_json_and_csv(shipped: dict[str, Any], tmp_path: Path) -> None:
    sim: Simulation = shipped["sim"]
    files = write_report(sim, tmp_path / "report")
    names = {f.name for f in files}
    assert {"report.html", "report.json", "totals.csv", "rules.csv", "yearly.csv", "sample.csv",
            "breakdown-behandeling.soort.csv", "breakdown-age_band.csv"} <= names
    data = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert data["format"] == "passendezorg.simulation/1"
    assert data["outputs"]["vergoeding"]["totals"]["cap"] == str(sim.outputs["vergoeding"].totals["cap"])
    with (tmp_path / "report" / "totals.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    total = next(r for r in rows if r["output"] == "vergoeding" and r["variant"] == "cap")
    assert Decimal(total["total_or_claims"]) == sim.outputs["vergoeding"].totals["cap"]
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg class='pz-chart'") >= 3
    assert page.count("class=\"pz-sample\"") == sum(len(v) for v in sim.sample.values()) > 0
    # nothing is fetched: no script, no stylesheet, image or frame from anywhere
    assert "<script" not in page and " src=" not in page and "<link" not in page
    assert "Content-Security-Policy" in page


def test_parquet_tables_when_pyarrow_is_there(shipped: dict[str, Any], tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    sim: Simulation = shipped["sim"]
    write_report(sim, tmp_path, parquet=True)
    table = pq.read_table(tmp_path / "totals.parquet").to_pylist()
    row = next(r for r in table if r["output"] == "vergoeding" and r["variant"] == BASE)
    assert Decimal(row["total_or_claims"]) == sim.outputs["vergoeding"].totals[BASE]


def test_without_pyarrow_parquet_says_what_to_install(shipped: dict[str, Any], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_pyarrow(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(UsageError, match=r'pip install "passendezorg\[simulate\]"'):
        write_report(shipped["sim"], tmp_path, parquet=True)
    (tmp_path / "claims.parquet").write_bytes(b"PAR1")
    with pytest.raises(UsageError, match="reading Parquet claims needs pyarrow, which is not installed"):
        simulate(shipped["book"], tmp_path / "claims.parquet", shipped["variants"])


# ------------------------------------------------------------------ bad input


def test_a_bad_claim_is_reported_with_its_line_and_the_rest_go_on(small: tuple[RuleBook, RuleBook],
                                                                  tmp_path: Path) -> None:
    in_force, cap = small
    lines = [json.dumps(c) for c in HAND]
    lines.insert(2, "{not json")
    lines.insert(4, json.dumps(claim("X1", "X", ADULT, "2025-13-01", MSZ, "1.00")))
    lines.insert(6, json.dumps({**claim("X2", "X", ADULT, "2025-01-01", MSZ, "1.00"), "insured": "X"}))
    used = claim("X3", "X", ADULT, "2025-01-01", MSZ, "1.00")
    used["input"]["verzekerde"]["eigen_risico_verbruikt"] = "10.00"
    lines.insert(8, json.dumps(used))
    lines.insert(9, "")
    lines.append(json.dumps(HAND[0]))  # the same claim again: decided once
    path = tmp_path / "claims.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sim = simulate(in_force, path, {"cap": cap}, jobs=2)
    assert sim.claims == 8 and sim.rejected == 5
    where = dict(sim.rejections)
    assert where[f"{path}:{len(lines)}"] == "claim A2 of A was read before (line 1); a claim id is decided once, as in " \
        "claim processing"
    assert where[f"{path}:3"].startswith("not valid JSON")
    assert "expected a date" in where[f"{path}:5: input.behandeling.datum"]
    assert "unknown field `insured`" in where[f"{path}:7"]
    assert "leave it out of the claim" in where[f"{path}:9"]
    assert sim.outputs["vergoeding"].totals[BASE] == D("1875.00")  # the good claims, as computed by hand


def test_fields_and_scenarios_are_checked_before_anything_runs(small: tuple[RuleBook, RuleBook],
                                                               tmp_path: Path) -> None:
    in_force, cap = small
    with pytest.raises(UsageError, match="did you mean `behandeling.soort`"):
        simulate(in_force, HAND, {"cap": cap}, by=["behandeling.sort"])
    with pytest.raises(UsageError, match="at least one scenario"):
        simulate(in_force, HAND, {})
    with pytest.raises(UsageError, match="no such claims file"):
        simulate(in_force, tmp_path / "missing.jsonl", {"cap": cap})
    with pytest.raises(UsageError, match="JSON lines"):
        simulate(in_force, tmp_path / "claims.txt", {"cap": cap})
    with pytest.raises(UsageError, match="no scenario `eigen_risico_165`: there is no folder of scenarios"):
        simulate(in_force, HAND, ["eigen_risico_165"])
    shipped = load_rules(ROOT / "rules")
    with pytest.raises(UsageError, match="did you mean `eigen_risico_165`"):
        simulate(shipped, HAND, ["eigen_risico_15"])
    with pytest.raises(UsageError, match="not the one under scenario `digitale_zorg`"):
        simulate(shipped.with_scenario("digitale_zorg"), HAND, ["eigen_risico_165"])


def test_the_html_report_escapes_what_it_shows(small: tuple[RuleBook, RuleBook]) -> None:
    in_force, cap = small
    evil = [claim("<b>x</b>", "<i>p</i>", ADULT, "2025-01-01", MSZ, "500.00")]
    page = render_html(simulate(in_force, evil, {"cap": cap}, jobs=1))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert tables(simulate(in_force, evil, {"cap": cap}, jobs=1))["sample"][1][0][1] == "<b>x</b>"


def test_claims_in_memory_take_nested_or_flat_facts(small: tuple[RuleBook, RuleBook]) -> None:
    in_force, cap = small
    flat = [{"claim_id": c["claim_id"], "insured_id": c["insured_id"],
             "input": {f"{g}.{k}": v for g, facts in c["input"].items() for k, v in facts.items()}} for c in HAND]
    assert nested(flat[0]["input"]) == HAND[0]["input"]
    sim = simulate(in_force, flat, {"cap": cap}, jobs=1)
    assert sim.outputs["vergoeding"].totals == {BASE: D("1875.00"), "cap": D("2715.00")}


# ------------------------------------------------------------------ the command line


def test_the_summary_says_totals_changes_and_who_reaches_the_yearly_maximum(small: tuple[RuleBook, RuleBook]) -> None:
    from passendezorg.cli_simulate import summary_lines

    in_force, cap = small
    text = "\n".join(summary_lines(simulate(in_force, HAND, {"cap": cap}, jobs=1)))
    assert "8 claim(s) of 5 insured person(s)" in text
    assert "changed: 5 claim(s) of 3 person(s)" in text
    assert "€ 1.875,00" in text and "€ +840,00" in text
    assert "reached the yearly eigen risico (of 5 person-years with claims)" in text
    assert "(2 no longer, 0 newly; 1 earlier, 0 later)" in text


def test_simulate_command_says_what_is_wrong_with_its_arguments(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from passendezorg.cli import main

    path = tmp_path / "claims.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in HAND), encoding="utf-8")
    args = ["simulate", str(path), "--rules", str(ROOT / "rules")]
    result = CliRunner().invoke(main, [*args, "--scenario", "digitale_zorg", "--parquet"])
    assert result.exit_code == 2 and "--parquet writes the report's tables: give --out DIR" in result.output
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "Missing option '--scenario'" in result.output
    result = CliRunner().invoke(main, [*args, "--scenario", "digitale_zorg", "--by", "regio"])
    assert result.exit_code == 2 and "did you mean `verzekerde.regio`" in result.output
    result = CliRunner().invoke(main, [*args, "--scenario", "digitale_zorg", "--scenarios", str(tmp_path)])
    assert result.exit_code == 2 and "no scenario `digitale_zorg`" in result.output


def test_simulate_command_on_the_hand_computed_claims_under_a_scenario_folder(tmp_path: Path) -> None:
    """A scenario of one's own, in a folder given with --scenarios: the cap of the small rule book as a scenario."""
    from click.testing import CliRunner

    from passendezorg.cli import main

    folder = tmp_path / "scenarios" / "cap_165_50"
    folder.mkdir(parents=True)
    (folder / "cap.pz").write_text(SCENARIO_CAP, encoding="utf-8")
    path = tmp_path / "claims.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in HAND), encoding="utf-8")
    result = CliRunner().invoke(main, ["simulate", str(path), "--rules", str(BOOKS / "in_force"), "--scenarios",
                                       str(tmp_path / "scenarios"), "--scenario", "cap_165_50", "--jobs", "1",
                                       "--format", "json", "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["outputs"]["vergoeding"]["totals"] == {BASE: "1875.00", "cap_165_50": "2715.00"}
    assert data["yearly"][0]["reached"]["cap_165_50"]["by_month"][1] == 1  # C, in February
    assert data["variants"][1]["title"] == "€ 165, ten hoogste € 50 per behandeling"
    sample = data["sample"]["cap_165_50"]
    assert {c["claim_id"] for c in sample} == {"A1", "A2", "B1", "C2", "C3"}
    c3 = next(c for c in sample if c["claim_id"] == "C3")
    assert c3["scenario"]["scenario"]["name"] == "cap_165_50"  # the explanation says it was made under the scenario
    changes = c3["scenario"]["outputs"]["eigen_risico_inhouding"]["scenario_changes"]
    assert {"kind": "rule", "name": "inhouding_ten_hoogste_50_per_behandeling"} in changes
    assert (tmp_path / "report" / "report.html").is_file()


SCENARIO_CAP = """taal nederlands
scenario cap_165_50
  titel "€ 165, ten hoogste € 50 per behandeling"
  bron voorstel "Voorstel: € 165 per jaar, ten hoogste € 50 per behandeling in de medisch-specialistische zorg" voorstel

wijzig parameter verplicht_eigen_risico
  vanaf 2025-01-01 = € 165,00  bron voorstel

regel inhouding_ten_hoogste_50_per_behandeling
  "In de medisch-specialistische zorg wordt per behandeling ten hoogste € 50 ingehouden"
  uitzondering op inhouding
  bron voorstel
  als behandeling.soort = medisch_specialistische_zorg en leeftijd >= 18
  dan eigen_risico_inhouding = min(resterend_eigen_risico, behandeling.bedrag, € 50,00)
"""


def test_the_readme_commands_write_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's "Simulate a proposal" commands, as written, only with fewer persons."""
    import re
    import shlex

    from click.testing import CliRunner

    from passendezorg.cli import main

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Simulate a proposal", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands = [shlex.split(line)[1:] for line in block.group(1).splitlines() if line.strip()]
    assert [c[0] for c in commands] == ["population", "simulate"]
    book = load_rules(ROOT / "rules")
    scenarios = [c[i + 1] for c in commands for i, a in enumerate(c) if a == "--scenario"]
    available = {s.name for s in book.scenarios()} if hasattr(book, "scenarios") else set()
    if not set(scenarios) <= available:
        pytest.skip(f"the rule book has no scenarios {', '.join(scenarios)} (yet)")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PASSENDEZORG_RULES", str(ROOT / "rules"))
    for args in commands:
        args = ["300" if args[i - 1] == "--persons" else a for i, a in enumerate(args)]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    report = tmp_path / "report"
    data = json.loads((report / "report.json").read_text(encoding="utf-8"))
    assert [v["key"] for v in data["variants"]] == [BASE, *scenarios]
    assert all(data["changed"][s]["claims"] > 0 for s in scenarios)
    assert (report / "totals.csv").is_file() and (report / "yearly.csv").is_file()
    assert (report / "report.html").read_text(encoding="utf-8").count("<svg class='pz-chart'") >= 3


def test_facts_only_a_scenario_reads_are_given_to_it_and_an_amount_it_cannot_decide_is_counted_apart() -> None:
    """bundelprijs_zorgpad adds the input behandeling.zorgpad; its bundle prices are not known (an error, no 0)."""
    book = load_rules(ROOT / "rules")
    ketenzorg = {"claim_id": "K1", "insured_id": "P", "input": {
        "verzekerde": {"geboortedatum": "1950-02-02", "wlz_indicatie": False},
        "behandeling": {"datum": "2025-03-03", "soort": "ketenzorg", "gedeclareerd_bedrag": "240.00",
                        "plaats": "huisartsenpraktijk", "zorgpad": "ketenzorg_copd", "aantal_activiteiten": 4}}}
    other = json.loads(json.dumps(ketenzorg))
    other["claim_id"] = "K2"
    del other["input"]["behandeling"]["zorgpad"], other["input"]["behandeling"]["aantal_activiteiten"]
    sim = simulate(book, [ketenzorg, other], ["bundelprijs_zorgpad"], jobs=1)
    tarief = sim.outputs["tarief"]
    assert tarief.totals == {BASE: D("480.00"), "bundelprijs_zorgpad": D("240.00")}
    assert tarief.counts["bundelprijs_zorgpad"] == {"(error)": 1} and tarief.counts[BASE] == {}
    assert sim.changed_claims == {"bundelprijs_zorgpad": 1}
    [c] = sim.sample["bundelprijs_zorgpad"]
    assert c.claim_id == "K1" and "tarief" in c.changed
    assert c.before.outputs["tarief"].value == Decimal("240.00")
    assert c.after.outputs["tarief"].status == "error" and "bundelprijs" in (c.after.outputs["tarief"].reason or "")


def test_the_guide_shows_the_summary_of_its_own_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/guide/simulation.md: the summary it shows is what its two commands print (the run time aside)."""
    import re

    from click.testing import CliRunner

    from passendezorg.cli import main

    guide = (ROOT / "docs" / "guide" / "simulation.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(passendezorg population .*?)```", guide, re.S)
    shown = re.search(r"```text\n(\d+ claim\(s\) of .*?)```", guide, re.S)
    assert block is not None and shown is not None
    commands = [line.split()[1:] for line in block.group(1).splitlines() if line.strip()]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PASSENDEZORG_RULES", str(ROOT / "rules"))
    population = CliRunner().invoke(main, commands[0])
    assert population.exit_code == 0, population.output
    summary = CliRunner().invoke(main, [a for a in commands[1] if a not in ("--out", "report")])
    assert summary.exit_code == 0, summary.output
    got = re.sub(r"in [0-9.]+ s \(\d+ worker", "in … s (2 worker", summary.stdout)
    assert got.strip() == shown.group(1).strip()
    # the library example of the guide, on the same claims, beside the rule book and its scenarios
    library = re.search(r"```python\n(.*?)```", guide.split("## As a library", 1)[1], re.S)
    assert library is not None
    (tmp_path / "rules").symlink_to(ROOT / "rules")
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    namespace: dict[str, Any] = {}
    exec(compile(library.group(1), "docs/guide/simulation.md", "exec"), namespace)  # noqa: S102 - the guide's code
    assert namespace["sim"].claims == int(shown.group(1).split()[0])
    assert (tmp_path / "report" / "report.html").is_file()
