"""The store and ClaimProcessor on a real database: SQLite always, PostgreSQL when $PASSENDEZORG_TEST_PG is set."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from passendezorg import UsageError, load_rules
from passendezorg.claims import ClaimError, ClaimProcessor, replay
from passendezorg.store import SCHEMA_VERSION, UPGRADES, Store, StoreError, database_url
from test_store_helpers import V1, V2, db_url, expected_totals_v1, make_claims  # noqa: F401  (db_url: fixture)


def claim(cid: str, insured: str, bedrag: str, datum: str = "2024-03-01", soort: str = "ziekenhuiszorg") -> dict:
    return {"claim_id": cid, "insured_id": insured,
            "input": {"behandeling": {"datum": datum, "soort": soort, "bedrag": bedrag}}}


@pytest.fixture
def v1():
    return load_rules(V1)


@pytest.fixture
def store(db_url: str):  # noqa: F811
    s = Store(db_url)
    yield s
    s.close()


# ------------------------------------------------------------------ schema


def test_a_new_database_gets_the_current_schema_and_opening_it_again_changes_nothing(db_url: str) -> None:  # noqa: F811
    with Store(db_url) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.counts() == {"receipts": 0, "claims": 0, "ledger_entries": 0, "rulebooks": 0}
    with Store(db_url) as s:
        assert s.schema_version() == SCHEMA_VERSION


def test_a_database_from_a_newer_version_is_refused_with_a_clear_message(db_url: str) -> None:  # noqa: F811
    with Store(db_url) as s, s.transaction() as conn:
        conn.execute(sa.text("UPDATE pz_schema SET version = :v"), {"v": SCHEMA_VERSION + 1})
    with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}, made by a newer passendezorg"):
        Store(db_url)


def test_an_older_schema_is_upgraded_step_by_step(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    with Store(db_url) as s, s.transaction() as conn:
        conn.execute(sa.text("UPDATE pz_schema SET version = :v"), {"v": SCHEMA_VERSION - 1})

    def step(conn: sa.Connection) -> None:
        conn.execute(sa.text("CREATE INDEX ix_pz_receipt_year ON pz_receipt (year)"))

    monkeypatch.setitem(UPGRADES, SCHEMA_VERSION - 1, step)
    with Store(db_url) as s:
        assert s.schema_version() == SCHEMA_VERSION
        indexes = {ix["name"] for ix in sa.inspect(s.engine).get_indexes("pz_receipt")}
        assert "ix_pz_receipt_year" in indexes
    with Store(db_url) as s:  # done once: the step is not run again
        assert s.schema_version() == SCHEMA_VERSION


def test_database_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PASSENDEZORG_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert database_url(None) == "sqlite:///passendezorg.db"
    assert database_url("claims.db") == f"sqlite:///{tmp_path / 'claims.db'}"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("PASSENDEZORG_DB", "sqlite:///x.db")
    assert database_url(None) == "sqlite:///x.db"
    assert database_url("sqlite:///y.db") == "sqlite:///y.db"
    with pytest.raises(UsageError, match="no driver for the database URL nonsense://"):
        Store("nonsense://")
    with pytest.raises(UsageError, match="not a database URL"):
        Store("://nothing")
    with pytest.raises(StoreError, match="does not exist"):
        Store(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}")
    with pytest.raises(StoreError, match=r"cannot open the database postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/x"):
        Store("postgresql://u:secret@127.0.0.1:1/x")


# ------------------------------------------------------------------ rule books


def test_rule_book_versions_are_kept_whole_and_load_again(store: Store, v1, tmp_path: Path) -> None:
    ClaimProcessor(v1, store)
    assert store.rulebook_files(v1.content_hash) == {"declaraties.pz": (V1 / "declaraties.pz").read_bytes()}
    again = store.load_rulebook(v1.content_hash)
    assert again.content_hash == v1.content_hash
    folder = store.materialise_rulebook(v1.content_hash, tmp_path / "old")
    assert load_rules(folder).content_hash == v1.content_hash
    ClaimProcessor(load_rules(V1), store)  # the same version again: kept once
    assert store.counts()["rulebooks"] == 1


# ------------------------------------------------------------------ processing


def test_a_claim_is_decided_recorded_and_charged_in_one_go(store: Store, v1) -> None:
    p = ClaimProcessor(v1, store)
    r = p.process(claim("D-1", "V-1", "120.50"))
    assert r.new and r.kind == "decision" and r.seq == 1 and r.supersedes is None
    assert (r.insured_id, r.year, str(r.peildatum)) == ("V-1", 2024, "2024-03-01")
    assert (r.deduction, r.payout) == (Decimal("120.50"), Decimal("0.00"))
    assert r.rulebook == v1.content_hash and r.engine_version
    assert r.input == {"behandeling.bedrag": "120.50", "behandeling.datum": "2024-03-01",
                       "behandeling.soort": "ziekenhuiszorg", "verzekerde.eigen_risico_verbruikt": "0.00"}
    assert r.outputs == {"eigen_risico_inhouding": "120.50", "vergoeding": "0.00"}
    decision = r.decision()
    assert decision is not None and decision.case == "D-1"
    assert r.explanation == v1.evaluate({"input": r.input, "name": "D-1"}).to_json()
    stored = store.receipt(r.id)
    assert stored == r and stored is not None and not stored.new
    [entry] = store.ledger("V-1")
    assert (entry.amount, entry.entry, entry.receipt_id, entry.claim_id) == (Decimal("120.50"), "deduction", r.id, "D-1")


def test_the_ledger_gives_each_claim_what_is_left_of_the_years_eigen_risico(store: Store, v1) -> None:
    p = ClaimProcessor(v1, store)
    got = [(r.deduction, r.payout, r.input["verzekerde.eigen_risico_verbruikt"]) for r in (
        p.process(claim("A", "V-1", "200.00")),
        p.process(claim("B", "V-1", "150.00")),
        p.process(claim("C", "V-1", "100.00")),
        p.process(claim("D", "V-1", "80.00")),
    )]
    assert got == [
        (Decimal("200.00"), Decimal("0.00"), "0.00"),
        (Decimal("150.00"), Decimal("0.00"), "200.00"),
        (Decimal("35.00"), Decimal("65.00"), "350.00"),
        (Decimal("0.00"), Decimal("80.00"), "385.00"),
    ]
    # another year and another person start from nothing
    assert p.process(claim("E", "V-1", "50.00", datum="2025-01-02")).deduction == Decimal("50.00")
    assert p.process(claim("F", "V-2", "50.00")).deduction == Decimal("50.00")
    assert store.eigen_risico_used("V-1", 2024) == Decimal("385.00")
    assert store.totals() == {("V-1", 2024): Decimal("385.00"), ("V-1", 2025): Decimal("50.00"),
                              ("V-2", 2024): Decimal("50.00")}
    assert store.check_integrity() == []


def test_the_same_claim_again_returns_the_stored_receipt_and_changes_nothing(store: Store, v1) -> None:
    p = ClaimProcessor(v1, store)
    first = p.process(claim("D-1", "V-1", "120.50"))
    before = store.counts()
    # the same facts, written differently (flat names, an amount without trailing zero)
    again = p.process({"claim_id": "D-1", "insured_id": "V-1", "input": {
        "behandeling.datum": "2024-03-01", "behandeling.soort": "ziekenhuiszorg", "behandeling.bedrag": 120.5}})
    assert again == first and not again.new
    assert store.counts() == before
    with pytest.raises(ClaimError, match=r"claim D-1 was decided before with other facts \(receipt \d+\)"):
        p.process(claim("D-1", "V-1", "99.00"))
    assert store.counts() == before


def test_a_batch_with_the_same_claim_twice_records_it_once(store: Store, v1) -> None:
    p = ClaimProcessor(v1, store)
    results = list(p.process_many([claim("D-1", "V-1", "100.00"), claim("D-1", "V-1", "100.00"),
                                   claim("D-1", "V-1", "1.00"), claim("D-2", "V-1", "300.00")]))
    assert [r.status for r in results] == ["recorded", "unchanged", "rejected", "recorded"]
    assert results[0].receipt_id == results[1].receipt_id
    assert "decided before with other facts (earlier in this batch)" in (results[2].reason or "")
    assert store.eigen_risico_used("V-1", 2024) == Decimal("385.00")
    assert store.counts()["receipts"] == 2


@pytest.mark.parametrize(("bad", "message"), [
    ({"claim_id": "X", "insured_id": "V-1", "input": {"behandeling": {"datum": "2024-01-01", "soort": "ziekenhuiszorg"}}},
     "eigen_risico_inhouding is undetermined: needs behandeling.bedrag"),
    ({"claim_id": "X", "insured_id": "V-1", "input": {"behandeling": {"datum": "2024-01-01", "bedrag": "abc"}}},
     'behandeling.bedrag: expected an amount like 12.34, got "abc"'),
    ({"claim_id": "X", "insured_id": "V-1", "input": {"behandeling": {"datum": "2024-01-01", "bedrag": "1"},
                                                      "verzekerde": {"eigen_risico_verbruikt": "0"}}},
     "verzekerde.eigen_risico_verbruikt is read from the eigen risico ledger; leave it out of the claim"),
    ({"claim_id": "X", "insured_id": "V-1", "input": {"behandeling": {"bedrag": "1"}}}, "the peildatum is missing"),
    ({"claim_id": "X", "input": {}}, "the claim has no insured_id"),
    ({"claim_id": "X", "insured": "V-1", "input": {}}, "unknown field `insured`"),
    ({"claim_id": "X", "insured_id": "V-1", "input": {"behandeling": {"datm": "2024-01-01"}}},
     "not an input of the rule book; did you mean"),
])
def test_a_claim_that_cannot_be_decided_is_rejected_and_nothing_is_recorded(store: Store, v1, bad, message) -> None:
    p = ClaimProcessor(v1, store)
    with pytest.raises(ClaimError) as e:
        p.process(bad)
    assert message in str(e.value)
    [result] = p.process_many([bad])
    assert result.status == "rejected" and message in (result.reason or "")
    assert store.counts()["receipts"] == 0 and store.counts()["ledger_entries"] == 0


def test_the_names_are_configurable_and_checked(store: Store, v1, make_rules) -> None:
    with pytest.raises(UsageError, match="no input `verzekerde.eigen_risico_verbuikt`.*did you mean"):
        ClaimProcessor(v1, store, used_input="verzekerde.eigen_risico_verbuikt")
    with pytest.raises(UsageError, match="`behandeling.datum` must be an amount"):
        ClaimProcessor(v1, store, used_input="behandeling.datum")
    english = load_rules(make_rules("""
        language english
        ruleset claims
          title "Claims"
          source zvw_19 "Zorgverzekeringswet, artikel 19"
        input care.date : date
        input care.amount : money
        input insured.deductible_used : money
        peildatum care.date
        parameter deductible : money
          from 2016-01-01 = € 385,00 source zvw_19 "lid 1"
        output deductible_charged : money
        rule charge
          source zvw_19 "lid 1"
          then deductible_charged = min(care.amount, max(deductible - insured.deductible_used, € 0,00))
    """))
    p = ClaimProcessor(english, store, used_input="insured.deductible_used", deduction_output="deductible_charged",
                       payout_output=None)
    r1 = p.process({"claim_id": "E-1", "insured_id": "P", "input": {"care": {"date": "2024-05-01", "amount": "300"}}})
    r2 = p.process({"claim_id": "E-2", "insured_id": "P", "input": {"care": {"date": "2024-06-01", "amount": "300"}}})
    assert (r1.deduction, r2.deduction, r2.payout) == (Decimal("300.00"), Decimal("85.00"), None)


# ------------------------------------------------------------------ corrections


def test_a_withdrawal_gives_back_only_the_withdrawn_claims_deduction(store: Store, v1) -> None:
    p = ClaimProcessor(v1, store)
    a = p.process(claim("A", "V-1", "300.00"))
    b = p.process(claim("B", "V-1", "200.00"))
    assert (a.deduction, b.deduction) == (Decimal("300.00"), Decimal("85.00"))
    w = p.withdraw("A", "ingediend bij de verkeerde verzekeraar")
    assert (w.kind, w.seq, w.supersedes, w.reason, w.new) == ("withdrawal", 2, a.id, "ingediend bij de verkeerde verzekeraar",
                                                              True)
    assert [(e.entry, e.amount) for e in store.ledger("V-1") if e.claim_id == "A"] == [
        ("deduction", Decimal("300.00")), ("reversal", Decimal("-300.00"))]
    # B keeps its deduction; the next claim takes what A gave back
    assert store.eigen_risico_used("V-1", 2024) == Decimal("85.00")
    assert p.process(claim("C", "V-1", "500.00")).deduction == Decimal("300.00")
    # withdrawing again, or sending A again, changes nothing; the original receipt is still there
    before = store.counts()
    assert p.withdraw("A") == w and not p.withdraw("A").new
    assert p.process(claim("A", "V-1", "300.00")).kind == "withdrawal"
    assert store.counts() == before
    assert store.receipt(a.id) == a
    assert store.check_integrity() == []
    with pytest.raises(ClaimError, match="no receipt for this claim"):
        p.withdraw("never-seen")


def test_a_correction_reverses_the_old_deduction_and_decides_again(store: Store, v1) -> None:
    p = ClaimProcessor(v1, store)
    a = p.process(claim("A", "V-1", "300.00"))
    p.process(claim("B", "V-1", "50.00"))
    c = p.replace(claim("A", "V-1", "100.00"))
    assert (c.kind, c.seq, c.supersedes, c.new) == ("correction", 2, a.id, True)
    # decided with B's 50 used, not A's own old 300
    assert c.input["verzekerde.eigen_risico_verbruikt"] == "50.00"
    assert c.deduction == Decimal("100.00")
    assert [(e.entry, e.amount, e.receipt_id) for e in store.ledger("V-1") if e.claim_id == "A"] == [
        ("deduction", Decimal("300.00"), a.id), ("reversal", Decimal("-300.00"), c.id),
        ("deduction", Decimal("100.00"), c.id)]
    assert store.eigen_risico_used("V-1", 2024) == Decimal("150.00")
    # the same correction again changes nothing; the original facts again change nothing either
    before = store.counts()
    assert p.replace(claim("A", "V-1", "100.00")) == c
    assert p.process(claim("A", "V-1", "300.00")) == c
    assert store.counts() == before
    assert [r.kind for r in store.claim_receipts("A")] == ["decision", "correction"]
    assert store.check_integrity() == []


def test_a_correction_can_move_a_claim_to_another_person_or_year(store: Store, v1) -> None:
    p = ClaimProcessor(v1, store)
    p.process(claim("A", "V-1", "100.00"))
    c = p.replace(claim("A", "V-2", "100.00", datum="2025-02-01"))
    assert (c.insured_id, c.year, c.deduction) == ("V-2", 2025, Decimal("100.00"))
    assert store.totals() == {("V-1", 2024): Decimal("0.00"), ("V-2", 2025): Decimal("100.00")}
    w = p.withdraw("A")
    assert (w.insured_id, w.year) == ("V-2", 2025)
    assert store.totals() == {("V-1", 2024): Decimal("0.00"), ("V-2", 2025): Decimal("0.00")}
    r = p.replace(claim("A", "V-1", "20.00"))  # a withdrawn claim reinstated by a correction
    assert (r.kind, r.seq, r.deduction) == ("correction", 4, Decimal("20.00"))
    assert store.check_integrity() == []


def test_integrity_check_finds_a_ledger_that_does_not_match_its_receipts(store: Store, v1) -> None:
    p = ClaimProcessor(v1, store)
    r = p.process(claim("A", "V-1", "100.00"))
    assert store.check_integrity() == []
    with store.transaction() as conn:  # damage the books behind the store's back
        insert = sa.text("INSERT INTO pz_eigen_risico_ledger (insured_id, year, claim_id, receipt_id, amount_cents,"
                         " entry, created_at) VALUES ('V-1', 2024, 'A', :r, 100, 'deduction', :t)")
        insert = insert.bindparams(sa.bindparam("t", type_=sa.DateTime(timezone=True)))
        conn.execute(insert, {"r": r.id, "t": r.created_at})
    assert store.check_integrity() == ["claim A: ledger holds 101.00, its receipt 1 deducted 100.00".replace(
        "receipt 1", f"receipt {r.id}")]


# ------------------------------------------------------------------ replay


def test_replay_reproduces_a_decision_made_under_an_older_rule_book(store: Store, v1) -> None:
    old = ClaimProcessor(v1, store).process(claim("H-1", "V-1", "40.00", soort="huisartsenzorg"))
    assert old.deduction == Decimal("40.00")  # v1 knows no exemption for huisartsenzorg
    # the rule book changes; claims go on under v2
    v2 = load_rules(V2)
    new = ClaimProcessor(v2, store).process(claim("H-2", "V-1", "40.00", soort="huisartsenzorg"))
    assert new.deduction == Decimal("0.00") and new.rulebook == v2.content_hash != old.rulebook
    result = replay(store, old.id)
    assert result.reproduced and result.differences == []
    assert result.decision.to_json() == old.explanation
    assert result.decision.value("eigen_risico_inhouding") == Decimal("40.00")
    # v2 would decide otherwise: the replay used the stored version, not the current one
    assert v2.evaluate({"input": old.input, "name": "H-1"}).value("eigen_risico_inhouding") == Decimal("0.00")
    assert replay(store, new.id).reproduced


def test_replay_says_what_differs_when_a_decision_is_not_reproduced(store: Store, v1) -> None:
    r = ClaimProcessor(v1, store).process(claim("A", "V-1", "40.00"))
    tampered = json.loads(r.explanation or "")
    tampered["outputs"]["eigen_risico_inhouding"]["value"] = "4.00"
    with store.transaction() as conn:
        conn.execute(sa.text("UPDATE pz_receipt SET explanation = :e WHERE id = :i"),
                     {"e": json.dumps(tampered, separators=(",", ":")), "i": r.id})
    result = replay(store, r.id)
    assert not result.reproduced
    assert result.differences == ["eigen_risico_inhouding: receipt value '4.00', now value '40.00'"]


def test_replay_of_a_withdrawal_or_an_unknown_receipt_is_a_usage_error(store: Store, v1) -> None:
    p = ClaimProcessor(v1, store)
    p.process(claim("A", "V-1", "40.00"))
    w = p.withdraw("A")
    with pytest.raises(UsageError, match="is a withdrawal: it records no decision"):
        replay(store, w.id)
    with pytest.raises(UsageError, match="no receipt 999"):
        replay(store, 999)


def test_many_claims_in_chunks_give_the_totals_of_one_by_one(store: Store, v1) -> None:
    claims = make_claims(300, 12, seed=3, years=(2024, 2025))
    p = ClaimProcessor(v1, store)
    results = list(p.process_many(claims, chunk=40))
    assert [r.status for r in results] == ["recorded"] * 300
    assert store.totals() == expected_totals_v1(claims)
    assert [r.status for r in p.process_many(claims, chunk=7)] == ["unchanged"] * 300
    assert store.counts()["receipts"] == 300
    assert store.check_integrity() == []
