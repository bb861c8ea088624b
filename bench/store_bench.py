#!/usr/bin/env python3
"""Claims per second, end to end: evaluation + receipt + eigen risico ledger, on SQLite and PostgreSQL.

Usage: python bench/store_bench.py [N] [--workers W] [--rules DIR]

--rules rules measures the shipped rule book (medisch-specialistische claims); the default is
the small rule book of the store tests.

Processes N seeded claims (default 2,000, for 200 insured persons) into a fresh database, once
in one process and once with W worker processes (default 2), and prints claims/s for each.
SQLite is a temporary file; PostgreSQL is used when $PASSENDEZORG_TEST_PG (or
$PASSENDEZORG_BENCH_PG) names a database — its store tables are dropped first, so never point
it at a database you want to keep. Start a throwaway server with `eval "$(bash .ci/postgres.sh)"`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
DEFAULT_RULES = HERE.parent / "tests" / "rulebooks_store" / "v1"


def claims(n: int, insured: int, seed: int = 2024, shipped: bool = False) -> list[dict[str, object]]:
    """Seeded claims for the store tests' rule book, or (``shipped``) for the rule book in rules/."""
    rnd = random.Random(seed)
    out: list[dict[str, object]] = []
    for i in range(n):
        datum = f"{2024 if not shipped else 2025}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
        amount = f"{rnd.randint(100, 40_000) / 100:.2f}"
        if shipped:
            facts: dict[str, object] = {
                "verzekerde": {"geboortedatum": f"{rnd.randint(1940, 2005)}-{rnd.randint(1, 12):02d}-15"},
                "behandeling": {"datum": datum, "soort": "medisch_specialistische_zorg", "gedeclareerd_bedrag": amount},
            }
        else:
            facts = {"behandeling": {"datum": datum, "soort": rnd.choice(["ziekenhuiszorg", "fysiotherapie",
                                                                          "huisartsenzorg"]), "bedrag": amount}}
        out.append({"claim_id": f"B-{i:07d}", "insured_id": f"V-{rnd.randrange(insured):05d}", "input": facts})
    return out


def reset(url: str) -> None:
    from passendezorg.store import TABLES

    if url.startswith("sqlite"):
        return
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in reversed(TABLES):
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
    engine.dispose()


def one_process(url: str, rules: Path, batch: list[dict[str, object]]) -> float:
    from passendezorg import load_rules
    from passendezorg.claims import ClaimProcessor

    reset(url)
    book = load_rules(rules)
    with ClaimProcessor(book, url) as processor:
        start = time.perf_counter()
        for _ in processor.process_many(batch):
            pass
        elapsed = time.perf_counter() - start
    return len(batch) / elapsed


def workers(url: str, rules: Path, batch: list[dict[str, object]], n: int, tmp: Path) -> float:
    from passendezorg.cli_claims import run_batch

    reset(url)
    path = tmp / "claims.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in batch), encoding="utf-8")
    names = {"used_input": "verzekerde.eigen_risico_verbruikt", "deduction_output": "eigen_risico_inhouding",
             "payout_output": "vergoeding"}
    start = time.perf_counter()
    summary = run_batch(path, rules, url, n, names)
    elapsed = time.perf_counter() - start
    assert summary.recorded == len(batch), summary.lines()
    return len(batch) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    args = ap.parse_args()
    from passendezorg import load_rules

    shipped = "behandeling.gedeclareerd_bedrag" in load_rules(args.rules).program.inputs
    batch = claims(args.n, max(1, args.n // 10), shipped=shipped)
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite (WAL, file)", f"sqlite:///{Path(tmp) / 'bench.db'}")]
        pg = os.environ.get("PASSENDEZORG_BENCH_PG") or os.environ.get("PASSENDEZORG_TEST_PG")
        if pg:
            targets.append(("PostgreSQL", pg))
        else:
            print("PostgreSQL: skipped (set PASSENDEZORG_TEST_PG; see .ci/postgres.sh)", file=sys.stderr)
        print(f"{args.n} claims for {max(1, args.n // 10)} insured persons; rule book {args.rules}")
        print(f"{'database':<22} {'1 process':>12} {f'{args.workers} workers':>12}   (claims/s, end to end)")
        for name, url in targets:
            if url.startswith("sqlite"):
                Path(tmp, "bench.db").unlink(missing_ok=True)
            single = one_process(url, args.rules, batch)
            if url.startswith("sqlite"):
                for suffix in ("", "-wal", "-shm"):
                    Path(tmp, "bench.db" + suffix).unlink(missing_ok=True)
            multi = workers(url, args.rules, batch, args.workers, Path(tmp))
            print(f"{name:<22} {single:>12,.0f} {multi:>12,.0f}")


if __name__ == "__main__":
    main()
