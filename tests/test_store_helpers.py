"""Shared pieces of the store tests: databases (SQLite always, PostgreSQL when configured), claims, oracles."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from passendezorg.store import TABLES

RULEBOOKS = Path(__file__).resolve().parent / "rulebooks_store"
V1 = RULEBOOKS / "v1"  # the eigen risico is deducted from every kind of care
V2 = RULEBOOKS / "v2"  # huisartsenzorg is exempt
EIGEN_RISICO = Decimal("385.00")
PG_ENV = "PASSENDEZORG_TEST_PG"
PG_SKIP = (f"PostgreSQL tests need ${PG_ENV}; start a throwaway server with "
           '`eval "$(bash .ci/postgres.sh)"`')

# the full CLI with the claim commands, for tests that run it in a separate process
CLI = [sys.executable, "-c",
       "import sys; from passendezorg.cli import main; from passendezorg.cli_claims import register; "
       "register(main); main()"]


def reset_postgres(url: str) -> None:
    """Drop the store's tables, so that a test starts from an empty database."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in reversed(TABLES):
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store database: a SQLite file, or the test PostgreSQL database (emptied)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'claims.db'}"
        return
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(PG_SKIP)
    reset_postgres(url)
    yield url


def make_claims(n: int, insured: int, seed: int = 7, years: tuple[int, ...] = (2024,)) -> list[dict[str, Any]]:
    """``n`` claims spread over ``insured`` persons; the same arguments give the same claims."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        year = rnd.choice(years)
        out.append({
            "claim_id": f"D-{seed}-{i:05d}",
            "insured_id": f"V-{rnd.randrange(insured):03d}",
            "input": {
                "behandeling": {
                    "datum": f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
                    "soort": rnd.choice(["ziekenhuiszorg", "fysiotherapie", "huisartsenzorg"]),
                    "bedrag": f"{rnd.randint(100, 40_000) / 100:.2f}",
                },
            },
        })
    return out


def write_jsonl(path: Path, claims: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in claims), encoding="utf-8")
    return path


def expected_totals_v1(claims: list[dict[str, Any]]) -> dict[tuple[str, int], Decimal]:
    """What rule book v1 must deduct per person and year, whatever the order: min(eigen risico, all care)."""
    care: dict[tuple[str, int], Decimal] = {}
    for c in claims:
        b = c["input"]["behandeling"]
        key = (c["insured_id"], int(b["datum"][:4]))
        care[key] = care.get(key, Decimal("0.00")) + Decimal(b["bedrag"])
    return {k: min(EIGEN_RISICO, v) for k, v in care.items()}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=600)
