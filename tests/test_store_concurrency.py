"""Several worker processes at once, and workers killed mid-batch: the eigen risico is never charged twice or lost.

Runs on SQLite always and on PostgreSQL when $PASSENDEZORG_TEST_PG is set (see .ci/postgres.sh).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from passendezorg import load_rules
from passendezorg.claims import ClaimProcessor
from passendezorg.store import Store
from test_store_helpers import (  # noqa: F401  (db_url: fixture)
    CLI,
    V1,
    db_url,
    expected_totals_v1,
    make_claims,
    run_cli,
    write_jsonl,
)

CLAIMS = make_claims(1000, 50, seed=11, years=(2024, 2025))


@pytest.fixture(scope="module")
def sequential_totals() -> dict[tuple[str, int], Decimal]:
    """The eigen risico per person and year after one sequential run: one process, the claims in file order."""
    with Store("sqlite://") as store:
        processor = ClaimProcessor(load_rules(V1), store)
        assert [r.status for r in processor.process_many(CLAIMS)] == ["recorded"] * len(CLAIMS)
        assert store.check_integrity() == []
        return store.totals()


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_the_sequential_reference_run_deducts_what_the_rules_say(sequential_totals) -> None:
    assert sequential_totals == expected_totals_v1(CLAIMS)
    assert len(sequential_totals) > 50  # two years, fifty persons


def test_four_workers_twice_give_the_totals_of_one_sequential_run(db_url: str, tmp_path: Path,  # noqa: F811
                                                                  sequential_totals) -> None:
    path = write_jsonl(tmp_path / "claims.jsonl", CLAIMS)
    args = ["claims", "process", str(path), "--rules", str(V1), "--db", db_url, "--workers", "4", "--format", "json"]
    first = summary(run_cli(*args))
    assert (first["claims"], first["recorded"], first["already_recorded"], first["rejected"]) == (1000, 1000, 0, 0)
    assert first["insured"] == 50
    second = summary(run_cli(*args))
    assert (second["recorded"], second["already_recorded"], second["rejected"]) == (0, 1000, 0)
    assert second["eigen_risico_deducted"] == first["eigen_risico_deducted"]
    with Store(db_url) as store:
        assert store.totals() == sequential_totals
        assert store.counts()["receipts"] == store.counts()["claims"] == 1000  # no receipt twice
        assert store.counts()["ledger_entries"] == 1000
        assert store.check_integrity() == []
    assert Decimal(first["eigen_risico_deducted"]) == sum(sequential_totals.values())


def _one_person(url: str, claims: list[dict[str, Any]], start: Any) -> None:
    store = Store(url)
    processor = ClaimProcessor(load_rules(V1), store)
    start.wait()
    for c in claims:
        processor.process(c)
    store.close()


def test_workers_charging_one_person_at_once_never_over_or_under_charge(db_url: str) -> None:  # noqa: F811
    Store(db_url).close()  # the tables exist before the workers start
    claims = [{"claim_id": f"P-{i:03d}", "insured_id": "V-1",
               "input": {"behandeling": {"datum": "2024-06-01", "soort": "ziekenhuiszorg", "bedrag": "30.00"}}}
              for i in range(120)]
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(4)
    workers = [ctx.Process(target=_one_person, args=(db_url, claims[i::4], start)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(300)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    with Store(db_url) as store:
        assert store.totals() == {("V-1", 2024): Decimal("385.00")}
        receipts = store.receipts("V-1")
        assert len(receipts) == 120
        assert sum(r.deduction for r in receipts) == Decimal("385.00")
        assert sum(r.payout or 0 for r in receipts) == Decimal("3600.00") - Decimal("385.00")
        # each decision saw exactly what the receipts before it had deducted
        used = Decimal("0.00")
        for r in sorted(receipts, key=lambda r: r.id):
            assert Decimal(r.input["verzekerde.eigen_risico_verbruikt"]) == used
            used += r.deduction
        assert store.check_integrity() == []


KILL_INSIDE_A_TRANSACTION = """
import os, signal, sys
from passendezorg import load_rules
from passendezorg.claims import ClaimProcessor
from passendezorg.store import Store

calls = 0
add_entries = Store.add_entries

def add_entries_then_die(self, conn, entries):
    # the fifth chunk: its receipts are written, its ledger entries and commit are not
    global calls
    calls += 1
    if calls == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    add_entries(self, conn, entries)

Store.add_entries = add_entries_then_die
import json
claims = [json.loads(line) for line in open(sys.argv[2])]
processor = ClaimProcessor(load_rules(sys.argv[3]), sys.argv[1])
for result in processor.process_many(claims, chunk=25):
    pass
"""


def test_a_worker_killed_inside_a_transaction_leaves_nothing_half_done(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    claims = CLAIMS[:300]
    path = write_jsonl(tmp_path / "claims.jsonl", claims)
    killed = subprocess.run([sys.executable, "-c", KILL_INSIDE_A_TRANSACTION, db_url, str(path), str(V1)],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with Store(db_url) as store:
        # four whole chunks, and nothing of the fifth: not its receipts, not its ledger entries
        assert store.counts()["receipts"] == store.counts()["ledger_entries"] == 100
        assert store.check_integrity() == []
        assert store.totals() == expected_totals_v1(claims[:100])
        again = [r.status for r in ClaimProcessor(load_rules(V1), store).process_many(claims, chunk=25)]
        assert again == ["unchanged"] * 100 + ["recorded"] * 200
        assert store.totals() == expected_totals_v1(claims)
        assert store.counts()["receipts"] == store.counts()["claims"] == 300
        assert store.check_integrity() == []


def _workers_of(pid: int) -> list[int]:
    """The worker processes a CLI process forked (children running the same command line)."""
    def cmdline(p: int | str) -> bytes:
        try:
            return Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            return b""

    own = cmdline(pid)
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and cmdline(entry) == own:
            children.append(int(entry))
    return children


N_KILL = 3000


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the worker processes through /proc")
def test_a_batch_whose_worker_is_killed_can_be_run_again_without_double_counting(db_url: str,  # noqa: F811
                                                                                   tmp_path: Path) -> None:
    claims = make_claims(N_KILL, 100, seed=5)
    path = write_jsonl(tmp_path / "claims.jsonl", claims)
    args = ["claims", "process", str(path), "--rules", str(V1), "--db", db_url, "--workers", "2"]
    Store(db_url).close()
    batch = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with Store(db_url) as store:
            deadline = time.monotonic() + 120
            workers: list[int] = []
            while len(workers) < 2 or store.counts()["receipts"] < 100:
                assert batch.poll() is None, "the batch ended before its workers could be stopped"
                assert time.monotonic() < deadline, "the batch recorded nothing"
                workers = _workers_of(batch.pid) or workers
                time.sleep(0.02)
            # the workers are frozen where they are (in a transaction, deciding, or waiting for claims): the batch
            # cannot go on, so the kill surely lands in the middle of it, with claims still to be recorded
            stopped = []
            for w in workers:
                try:
                    os.kill(w, signal.SIGSTOP)
                    stopped.append(w)
                except ProcessLookupError:  # pragma: no cover - a worker ends only when the pool closes
                    pass
            assert stopped and batch.poll() is None
            assert store.counts()["receipts"] < N_KILL
        for w in stopped:  # every worker dies: whichever gets the next claims fails them, and the batch stops
            os.kill(w, signal.SIGKILL)
        out, err = batch.communicate(timeout=300)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.communicate()
    assert batch.returncode == 1, out + err
    assert "a worker process stopped unexpectedly" in err
    assert "Run the same command again to finish the batch" in err
    assert "Traceback" not in err
    with Store(db_url) as store:
        interrupted = store.counts()["receipts"]
        assert 100 <= interrupted < N_KILL
        assert store.check_integrity() == []
    again = run_cli(*args, "--format", "json")
    result = summary(again)
    assert result["recorded"] + result["already_recorded"] == N_KILL
    assert result["already_recorded"] == interrupted
    with Store(db_url) as store:
        assert store.totals() == expected_totals_v1(claims)
        assert store.counts()["receipts"] == store.counts()["claims"] == N_KILL
        assert store.check_integrity() == []
