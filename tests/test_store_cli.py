"""The `claims`, `receipts` and `ledger` commands."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from passendezorg.cli import Group
from passendezorg.cli_claims import register
from passendezorg.store import Store
from test_store_helpers import V1, V2, db_url, write_jsonl  # noqa: F401  (db_url: fixture)


@click.group(cls=Group)
def root() -> None:
    """The claim commands on a group of their own (the main CLI registers them the same way)."""


register(root)


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(root, [str(a) for a in args], env=env)


def claim(cid: str, insured: str, bedrag: str | None, soort: str = "ziekenhuiszorg", datum: str = "2024-03-01") -> dict:
    behandeling = {"datum": datum, "soort": soort}
    if bedrag is not None:
        behandeling["bedrag"] = bedrag
    return {"claim_id": cid, "insured_id": insured, "input": {"behandeling": behandeling}}


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'claims.db'}"


def test_a_batch_with_bad_claims_records_the_rest_and_reports_each_rejection(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "claims.jsonl"
    write_jsonl(path, [claim("A", "V-1", "300.00"), claim("B", "V-1", "200.00"), claim("C", "V-2", "20.00")])
    with path.open("a", encoding="utf-8") as fh:
        fh.write("{not json\n")
        fh.write("\n")
        fh.write(json.dumps(claim("D", "V-2", None)) + "\n")
        fh.write(json.dumps(claim("E", "V-2", "12,5x")) + "\n")
        fh.write(json.dumps({"claim_id": "F", "input": {}}) + "\n")
    first = run("claims", "process", path, "--rules", V1, "--db", db_url)
    assert first.exit_code == 1, first.output
    assert first.output.splitlines() == [
        f"{path}: 7 claim(s) for 2 insured person(s)",
        "  recorded now           3",
        "  already recorded       0",
        "  rejected               4",
        "  eigen risico deducted  € 405.00",
        "  paid                   € 115.00",
        "",
        "rejected claims:",
        f"  {path}:4: not valid JSON (column 2): Expecting property name enclosed in double quotes",
        f"  {path}:6: claim D: eigen_risico_inhouding is undetermined: needs behandeling.bedrag",
        f"  {path}:7: claim E: behandeling.bedrag: expected an amount like 12.34, got \"12,5x\"",
        f"  {path}:8: the claim has no insured_id",
    ]
    again = run("claims", "process", path, "--rules", V1, "--db", db_url)
    assert again.output.splitlines()[1:6] == [
        "  recorded now           0",
        "  already recorded       3",
        "  rejected               4",
        "  eigen risico deducted  € 405.00",
        "  paid                   € 115.00",
    ]
    with Store(db_url) as store:
        assert store.counts()["receipts"] == 3


def test_claims_from_csv_are_read_with_the_rule_books_types(db: str, tmp_path: Path) -> None:
    path = tmp_path / "claims.csv"
    path.write_text(
        "claim_id,insured_id,behandeling.datum,behandeling.soort,behandeling.bedrag\n"
        "C-1,V-1,2024-02-01,ziekenhuiszorg,250.00\n"
        "C-2,V-1,2024-03-01,fysiotherapie,\n"
        "C-3,V-1,2024-04-01,ziekenhuiszorg\n"
        "C-4,V-1,2024-05-01,huisartsenzorg,150\n", encoding="utf-8")
    result = run("claims", "process", path, "--rules", V1, "--db", db, "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert {k: data[k] for k in ("claims", "recorded", "rejected", "insured", "eigen_risico_deducted", "paid")} == {
        "claims": 4, "recorded": 2, "rejected": 2, "insured": 1, "eigen_risico_deducted": "385.00", "paid": "15.00"}
    assert data["rejections"] == [
        {"where": f"{path}:3", "claim_id": "C-2",
         "reason": "eigen_risico_inhouding is undetermined: needs behandeling.bedrag"},
        {"where": f"{path}:4", "claim_id": None, "reason": "4 cells where the header has 5 columns"},
    ]


def test_show_replay_withdraw_correct_and_ledger(db: str, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "claims.jsonl", [claim("A", "V-1", "300.00"), claim("H", "V-1", "60.00", "huisartsenzorg")])
    assert run("claims", "process", path, "--rules", V1, "--db", db).exit_code == 0

    shown = run("receipts", "show", "2", "--db", db)
    assert shown.exit_code == 0, shown.output
    text = shown.output
    # in the language of the receipt's rule book (Dutch), amounts and dates in its one format
    assert text.startswith("bewijsstuk 2 · beslissing · declaratie H (#1)\nverzekerde  V-1, 2024\n"
                           "peildatum   1 maart 2024\nregelboek   sha256:")
    assert "ingehouden  € 60,00; betaald € 0,00" in text
    assert "  Eigen risico dat dit kalenderjaar al is ingehouden (verzekerde.eigen_risico_verbruikt) = € 300,00" in text
    assert "eigen-risicoregister\n  inhouding         € 60,00  V-1 2024" in text
    assert "Beslissing — casus H" in text and "eigen_risico_inhouding = € 60,00" in text
    for english in ("receipt", "insured", "deducted", "facts", "ledger", "deduction", "60.00"):
        assert english not in text
    data = json.loads(run("receipts", "show", "2", "--db", db, "--format", "json").output)
    assert data["decision"]["outputs"]["eigen_risico_inhouding"]["value"] == "60.00"
    assert data["rulebook"].startswith("sha256:")

    # the rule book changes (huisartsenzorg exempt); the old decision still replays exactly
    later = write_jsonl(tmp_path / "later.jsonl", [claim("H2", "V-2", "60.00", "huisartsenzorg")])
    assert run("claims", "process", later, "--rules", V2, "--db", db).exit_code == 0
    replayed = run("receipts", "replay", "2", "--db", db)
    assert replayed.exit_code == 0, replayed.output
    assert replayed.output.startswith("receipt 2: reproduced — the decision is identical byte for byte")

    # a correction and a withdrawal, each a new receipt; the ledger shows every entry
    fixed = write_jsonl(tmp_path / "fixed.jsonl", [claim("A", "V-1", "100.00")])
    corrected = run("claims", "correct", fixed, "--rules", V1, "--db", db)
    assert corrected.exit_code == 0 and "recorded now           1" in corrected.output
    assert "recorded now           0" in run("claims", "correct", fixed, "--rules", V1, "--db", db).output
    withdrawn = run("claims", "withdraw", "H", "--reason", "dubbel ingediend", "--rules", V1, "--db", db)
    assert withdrawn.output == "claim H withdrawn: receipt 5 (supersedes receipt 2)\n"
    assert run("claims", "withdraw", "H", "--rules", V1, "--db", db).output.startswith("claim H already withdrawn")
    chain = run("receipts", "show", "--claim", "H", "--db", db).output
    assert "bewijsstuk 5 · intrekking · declaratie H (#2) · vervangt bewijsstuk 2" in chain
    assert "reden       dubbel ingediend" in chain
    ledger = run("ledger", "V-1", "--db", db).output.splitlines()
    assert [" ".join(line.split()[2:]) for line in ledger[:-1]] == [
        "deduction € 300.00 claim A (receipt 1)",
        "deduction € 60.00 claim H (receipt 2)",
        "reversal € -300.00 claim A (receipt 4)",
        "deduction € 100.00 claim A (receipt 4)",
        "reversal € -60.00 claim H (receipt 5)",
    ]
    assert ledger[-1] == "2024  eigen risico used: € 100.00"

    not_a_decision = run("receipts", "replay", "5", "--db", db)
    assert not_a_decision.exit_code == 2
    assert "receipt 5 is a withdrawal: it records no decision to replay" in not_a_decision.output


def test_errors_are_shown_once_without_a_traceback(db: str, tmp_path: Path) -> None:
    missing = run("receipts", "show", "42", "--db", db)
    assert missing.exit_code == 1 and "error: no receipt 42 in sqlite:///" in missing.output
    bad_url = run("receipts", "show", "1", "--db", "://nowhere")
    assert bad_url.exit_code == 2 and "not a database URL" in bad_url.output
    no_file = run("claims", "process", tmp_path / "none.jsonl", "--rules", V1, "--db", db)
    assert no_file.exit_code == 2 and "no such claims file" in no_file.output
    (tmp_path / "claims.txt").write_text("x\n")
    wrong_kind = run("claims", "process", tmp_path / "claims.txt", "--rules", V1, "--db", db)
    assert wrong_kind.exit_code == 2 and "a claims file is JSON lines (.jsonl) or CSV (.csv)" in wrong_kind.output
    wrong_name = run("claims", "process", tmp_path / "claims.txt", "--rules", V1, "--db", db,
                     "--deduction-output", "inhouding")
    assert wrong_name.exit_code == 2 and "the rule book has no output `inhouding`" in wrong_name.output
    for r in (missing, bad_url, no_file, wrong_kind, wrong_name):
        assert "Traceback" not in r.output
        assert r.exception is None or isinstance(r.exception, SystemExit)


def test_the_database_comes_from_the_environment_when_not_given(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "claims.jsonl", [claim("A", "V-1", "10.00")])
    env = {"PASSENDEZORG_DB": str(tmp_path / "from-env.db"), "PASSENDEZORG_RULES": str(V1)}
    assert run("claims", "process", path, env=env).exit_code == 0
    assert (tmp_path / "from-env.db").exists()
    assert "declaratie A" in run("receipts", "show", "1", env=env).output


def test_the_commands_load_the_store_only_when_they_run() -> None:
    import subprocess
    import sys

    import passendezorg.claims as claims
    import passendezorg.cli_claims as cli_claims

    assert (cli_claims.USED_INPUT, cli_claims.DEDUCTION_OUTPUT, cli_claims.PAYOUT_OUTPUT) == (
        claims.USED_INPUT, claims.DEDUCTION_OUTPUT, claims.PAYOUT_OUTPUT)
    probe = ("import sys, click; from passendezorg.cli_claims import register; register(click.Group()); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel', 'psycopg')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_database_failure_stops_the_batch_with_a_clear_message(db: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy.exc

    def fail(*args: object) -> None:
        raise sqlalchemy.exc.OperationalError("INSERT INTO pz_eigen_risico_ledger", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Store, "add_entries", fail)
    path = write_jsonl(tmp_path / "claims.jsonl", [claim("A", "V-1", "10.00")])
    result = run("claims", "process", path, "--rules", V1, "--db", db)
    assert result.exit_code == 1
    assert "error: the database " in result.output and "cannot be written: disk I/O error" in result.output
    assert "The batch stopped after 0 claim(s)" in result.output and "running the same command again" in result.output
    monkeypatch.undo()
    with Store(db) as store:
        assert store.counts()["receipts"] == 0
