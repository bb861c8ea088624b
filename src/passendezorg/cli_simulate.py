"""The `population` command: a seeded population of claims to simulate on.

``register(group)`` adds them to a click group (the main CLI calls it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from .rulebook import RuleBook


def _rules_dir(rules: str | None) -> Path:
    return Path(rules or os.environ.get("PASSENDEZORG_RULES") or "rules")


def _load(rules: str | None) -> RuleBook:
    from .rulebook import load_rules

    return load_rules(_rules_dir(rules), cache=True)


# ---------------------------------------------------------------- population


@click.command("population")
@click.option("--persons", type=click.IntRange(0, 100_000_000), required=True, help="how many insured persons")
@click.option("--seed", type=int, default=0, show_default=True, help="the same seed and profile give the same claims")
@click.option("--out", "out", type=click.Path(path_type=Path), metavar="FILE",
              help="write the claims to FILE (.jsonl, .csv or .parquet); default: JSON lines on standard output")
@click.option("--year", "years", type=click.IntRange(1900, 2200), multiple=True, metavar="YEAR",
              help="a calendar year of claims (repeatable; default: the profile's year)")
@click.option("--profile", type=click.Path(path_type=Path), metavar="FILE",
              help="a population profile (default: the one shipped with passendezorg)")
@click.option("--rules", "rules_dir", help="rule book folder (default: ./rules or $PASSENDEZORG_RULES)")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]),
              help="the file format (default: from the name of --out)")
def population_cmd(persons: int, seed: int, out: Path | None, years: tuple[int, ...], profile: Path | None,
                   rules_dir: str | None, fmt: str | None) -> None:
    """Generate a seeded population of claims across every kind of care the rule book knows.

    Every figure comes from the profile (ages, care use per person and year, the
    facts of each kind of care); a figure from a public source cites it, an
    assumption says it is one. The same rule book, profile, persons, years and
    seed always give the same file.
    """
    from .population import Profile, claims_format, draw, plan, write_claims, write_stream
    from .progress import Progress

    book = _load(rules_dir)
    checked = plan(book, Profile.load(profile))
    chosen = list(years) or [checked.profile.year]
    if out is not None:
        claims_format(out, fmt)  # a usage error before anything is drawn
    with Progress(persons, "persons", unit="persons", show=out is not None and sys.stderr.isatty()) as meter:
        drawn = draw(checked, persons, seed, chosen)

        def counted() -> Any:
            last = None
            for claim in drawn:
                if claim["insured_id"] != last:
                    last = claim["insured_id"]
                    meter.add(1)
                yield claim

        if out is None:
            written = write_stream(counted(), sys.stdout)
        else:
            written = write_claims(counted(), out, book.program, checked.columns, fmt)
    p = checked.profile
    click.echo(f"{written} claim(s) of {persons} insured person(s) in {', '.join(map(str, sorted(chosen)))}"
               + (f" written to {out}" if out is not None else "")
               + f"; profile {p.path}: {len(p.sourced)} entries cite a public source ({len(p.sources)} sources), "
                 f"{len(p.assumed)} state an assumption", err=True)
    if checked.not_in_profile:
        click.echo(f"note: the profile describes no claims for {', '.join(checked.not_in_profile)}", err=True)
    if checked.not_in_rulebook:
        click.echo(f"note: left out, the rule book does not know {', '.join(checked.not_in_rulebook)}", err=True)


def register(group: click.Group) -> None:
    """Add the `population` command to ``group``."""
    group.add_command(population_cmd)


__all__ = ["register"]
