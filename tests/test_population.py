"""The population generator: seeded, from a documented profile, decidable under the rule book, in three formats."""

from __future__ import annotations

import collections
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from passendezorg import load_rules
from passendezorg.batch import iter_fast
from passendezorg.claims import read_claims
from passendezorg.cli import main
from passendezorg.population import (
    BIRTH_INPUT,
    KIND_INPUT,
    Profile,
    ProfileError,
    default_profile_path,
    generate,
    nested,
    plan,
    write_claims,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def book() -> Any:
    return load_rules(ROOT / "rules")


@pytest.fixture(scope="module")
def claims(book: Any) -> list[dict[str, Any]]:
    return list(generate(book, 1500, seed=5))


def test_the_same_seed_gives_the_same_claims_and_another_seed_others(book: Any, tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    for path, seed in ((a, 9), (b, 9), (c, 10)):
        write_claims(generate(book, 200, seed=seed), path, book.program)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    # person k is drawn from its own stream: the first persons do not depend on how many follow
    fewer = tmp_path / "fewer.jsonl"
    write_claims(generate(book, 50, seed=9), fewer, book.program)
    assert a.read_bytes().startswith(fewer.read_bytes())


# what the generator leaves out on purpose: a person's judgement, and what only the insurer knows
NOT_GENERATED = {"verzekerde.zorgverzekeraar", "verzekerde.eigen_risico_jaarbedrag_vastgesteld"}


def test_every_claim_is_decided_under_the_rule_book(book: Any, claims: list[dict[str, Any]]) -> None:
    """The generator gives every fact of the care a rule needs: a claim the rule book cannot decide waits for a
    person's judgement or an insurer's fact (the year of the 18th birthday), or meets a value the rule book itself
    does not know (an empty cell)."""
    from decimal import Decimal

    from passendezorg.yearly import counters_for

    used = {c.input: "0" for c in counters_for(book.program)}
    cases = [{"input": nested({**c["input"], **used})} for c in claims]
    wrong = collections.Counter()
    waiting = 0
    for c, d in zip(claims, iter_fast(book, cases)):
        assert not hasattr(d, "error"), d
        for name, status in d.status.items():  # type: ignore[union-attr]
            reason = d.reason.get(name, "")  # type: ignore[union-attr]
            needs = set(d.needs.get(name, []))  # type: ignore[union-attr]
            if status in ("value", "default"):
                continue
            if status == "undetermined" and needs and all(n in NOT_GENERATED or n.endswith("_beoordelaar")
                                                           for n in needs):
                waiting += 1
            elif not (status == "error" and "no value is known" in reason):
                wrong[(c["input"][KIND_INPUT], name, status, tuple(sorted(needs)), reason)] += 1
        if not d.status:  # type: ignore[union-attr]
            assert isinstance(d.values["vergoeding"], Decimal)  # type: ignore[union-attr]
    assert not wrong
    assert waiting < len(claims) / 50  # the exception, not the rule


def test_claims_cover_the_kinds_of_care_persons_and_dates(book: Any, claims: list[dict[str, Any]]) -> None:
    checked = plan(book)
    kinds = set(book.program.inputs[KIND_INPUT].type.choices)
    assert checked.not_in_profile == ()  # the profile describes every kind of care the rule book knows
    assert checked.not_in_rulebook == ()
    seen = collections.Counter(c["input"][KIND_INPUT] for c in claims)
    assert len(seen) >= len(kinds) - 8  # the rarest kinds need more persons than a test draws
    assert {k for k, _n in seen.most_common(2)} == {"geneesmiddel", "huisartsenzorg"}  # prescriptions and the GP
    persons: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for c in claims:
        persons[c["insured_id"]].append(c)
    assert 1200 < len(persons) <= 1500  # a few persons have no claim in the year
    for mine in persons.values():
        dates = [c["input"]["behandeling.datum"] for c in mine]
        assert dates == sorted(dates) and all(d.startswith("2025-") for d in dates)
        assert len({c["input"][BIRTH_INPUT] for c in mine}) == 1
    ids = [c["claim_id"] for c in claims]
    assert len(ids) == len(set(ids))


def test_huisarts_type_care_in_hospitals_and_digital_consults(claims: list[dict[str, Any]], book: Any) -> None:
    hospital = [c["input"] for c in claims if c["input"][KIND_INPUT] == "medisch_specialistische_zorg"]
    huisarts_type = {k[0] for k in book.program.tables["zorg_bij_huisarts"].rows}
    with_verrichting = [f for f in hospital if f.get("behandeling.verrichting") in huisarts_type]
    assert 0 < len(with_verrichting) < len(hospital) / 10  # a few percent, as the profile assumes
    assert all(f["behandeling.plaats"] == "ziekenhuis" for f in with_verrichting)
    assert any(f.get("behandeling.digitaal") for f in hospital)


def test_sequences_count_per_person_kind_and_year(claims: list[dict[str, Any]]) -> None:
    fysio = collections.defaultdict(list)
    for c in claims:
        if c["input"][KIND_INPUT] == "fysiotherapie":
            fysio[c["insured_id"]].append(c["input"]["behandeling.behandelnummer"])
    assert fysio and all(numbers == list(range(1, len(numbers) + 1)) for numbers in fysio.values())


def test_csv_and_parquet_hold_the_same_claims(book: Any, claims: list[dict[str, Any]], tmp_path: Path) -> None:
    some = claims[:300]
    write_claims(some, tmp_path / "c.jsonl", book.program, plan(book).columns)
    write_claims(some, tmp_path / "c.csv", book.program, plan(book).columns)
    from_jsonl = list(read_claims(tmp_path / "c.jsonl", book))
    from_csv = list(read_claims(tmp_path / "c.csv", book))

    def typed(cl: Any) -> dict[str, Any]:
        return book.prepare({"input": cl.input})[1]  # type: ignore[no-any-return]

    assert [typed(a) for a in from_jsonl] == [typed(b) for b in from_csv]
    pq = pytest.importorskip("pyarrow.parquet")
    write_claims(some, tmp_path / "c.parquet", book.program, plan(book).columns)
    rows = pq.read_table(tmp_path / "c.parquet").to_pylist()
    assert [r["claim_id"] for r in rows] == [c["claim_id"] for c in some]
    assert str(rows[0]["behandeling.datum"]) == some[0]["input"]["behandeling.datum"]


def test_every_figure_of_the_shipped_profile_cites_a_source_or_says_it_is_an_assumption() -> None:
    profile = Profile.load()
    assert profile.sourced and profile.assumed
    data = yaml.safe_load(default_profile_path().read_text(encoding="utf-8"))
    for sid, source in data["sources"].items():
        assert source["url"].startswith("https://"), sid
    for f in profile.figures:
        assert f.source or f.assumption


def _profile(tmp_path: Path, care: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(textwrap.dedent("""
        format: passendezorg.population/1
        year: 2025
        sources:
          s: {title: "a source", url: "https://example.org/"}
        persons:
          age: {bands: [{ages: [0, 99], weight: 1}], source: s}
        care:
        """) + textwrap.indent(textwrap.dedent(care), "  "), encoding="utf-8")
    return path


@pytest.mark.parametrize("care, message", [
    ("huisartsenzorg: {users: {share: 0.5}, claims_per_user: {mean: 2, source: s}}",
     "care.huisartsenzorg.users: a figure needs `source`"),
    ("huisartsenzorg: {users: {share: 0.5, source: t}, claims_per_user: {mean: 2, source: s}}",
     "care.huisartsenzorg.users.source: no source `t`"),
    ("huisartsenzorg: {users: {share: 1.5, source: s}, claims_per_user: {mean: 2, source: s}}", "at most 1"),
    ("huisartsenzorg: {users: {share: 0.5, source: s}}", "care.huisartsenzorg: no claims_per_user"),
])
def test_a_profile_without_the_origin_of_a_figure_is_refused_with_where(tmp_path: Path, care: str,
                                                                        message: str) -> None:
    with pytest.raises(ProfileError, match=message.replace("`", "`").replace(".", r"\.")):
        Profile.load(_profile(tmp_path, care))


def test_a_kind_of_care_the_rule_book_does_not_know_is_left_out_and_named(tmp_path: Path, book: Any) -> None:
    path = _profile(tmp_path, """
        huisartsenzorg:
          users: {share: 0.5, source: s}
          claims_per_user: {mean: 2, source: s}
          facts:
            behandeling.prestatiecode: {value: "12001"}
        tandartsbezoek_volwassene:
          users: {share: 0.5, source: s}
          claims_per_user: {mean: 2, source: s}
          facts:
            behandeling.onbekend_feit: {value: 1}
        """)
    checked = plan(book, Profile.load(path))
    assert checked.not_in_rulebook == ("tandartsbezoek_volwassene",)
    assert "huisartsenzorg" not in checked.not_in_profile and "geneesmiddel" in checked.not_in_profile


@pytest.mark.parametrize("facts, message", [
    ("behandeling.prestatiecod: {value: '12001'}", "did you mean `behandeling.prestatiecode`"),
    ("behandeling.plaats: {choices: {zolder: 1}, assumption: x}", "does not fit the input"),
    ("behandeling.verrichting: {table: zorg_bij_huisart}", "did you mean `zorg_bij_huisarts`"),
    ("behandeling.plaats: {share: 0.5, assumption: x}", "a share draws ja or nee"),
])
def test_a_profile_is_checked_against_the_rule_book(tmp_path: Path, book: Any, facts: str, message: str) -> None:
    path = _profile(tmp_path, f"""
        huisartsenzorg:
          users: {{share: 0.5, source: s}}
          claims_per_user: {{mean: 2, source: s}}
          facts:
            {facts}
        """)
    with pytest.raises(ProfileError, match=message):
        plan(book, Profile.load(path))


def test_population_command_writes_a_file_and_says_what_the_profile_rests_on(tmp_path: Path) -> None:
    out = tmp_path / "pop.csv"
    result = CliRunner().invoke(main, ["population", "--persons", "20", "--seed", "3", "--out", str(out),
                                       "--rules", str(ROOT / "rules")])
    assert result.exit_code == 0, result.output
    assert "claim(s) of 20 insured person(s) in 2025 written to" in result.output
    assert "cite a public source" in result.output and "state an assumption" in result.output
    assert out.read_text(encoding="utf-8").startswith("claim_id,insured_id,verzekerde.geboortedatum")
    stdout = CliRunner().invoke(main, ["population", "--persons", "2", "--rules", str(ROOT / "rules")])
    assert json.loads(stdout.stdout.splitlines()[0])["insured_id"] == "V0000001"
    bad = CliRunner().invoke(main, ["population", "--persons", "2", "--out", str(tmp_path / "p.txt"),
                                    "--rules", str(ROOT / "rules")])
    assert bad.exit_code == 2 and "JSON lines (.jsonl), CSV (.csv) or Parquet (.parquet)" in bad.output
