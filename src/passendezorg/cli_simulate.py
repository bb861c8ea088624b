"""The `population` and `simulate` commands: what a proposal would do to a population of claims.

``register(group)`` adds them to a click group (the main CLI calls it).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .cli_options import rules_option
from .errors import UsageError

if TYPE_CHECKING:
    from .rulebook import RuleBook
    from .simulate import Simulation


def _rules_dir(rules: Path | None) -> Path:
    return Path(rules or os.environ.get("PASSENDEZORG_RULES") or "rules")


def _load(rules: Path | None, scenarios: Path | None = None) -> RuleBook:
    from .rulebook import load_rules

    return load_rules(_rules_dir(rules), cache=True, scenarios=scenarios)


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
@rules_option()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]),
              help="the file format (default: from the name of --out)")
def population_cmd(persons: int, seed: int, out: Path | None, years: tuple[int, ...], profile: Path | None,
                   rules_dir: Path | None, fmt: str | None) -> None:
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


# ---------------------------------------------------------------- simulate


@click.command("simulate")
@click.argument("claims", type=click.Path(path_type=Path))
@click.option("--scenario", "scenarios", multiple=True, required=True, metavar="NAME",
              help="a scenario of the rule book to compare with the law in force (repeatable)")
@click.option("--by", "by", multiple=True, metavar="FIELD",
              help="break results down by an input, a value of the rule book, year, month or age_band "
                   "(repeatable; default: behandeling.soort and age_band)")
@click.option("--out", "out", type=click.Path(path_type=Path), metavar="DIR",
              help="write the report (report.html, report.json, CSV tables) into DIR")
@click.option("--parquet", is_flag=True, help="with --out: the tables also as Parquet (needs pyarrow)")
@rules_option()
@click.option("--scenarios", "scenarios_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="the folder of scenarios (default: $PASSENDEZORG_SCENARIOS, else scenarios/ beside the rules folder)")
@click.option("--sample", type=click.IntRange(0, 1000), default=12, show_default=True,
              help="changed claims per scenario to explain side by side")
@click.option("--jobs", "-j", type=click.IntRange(0, 256), default=0, show_default=True, metavar="N",
              help="worker processes (0: one per core)")
@click.option("--input-format", "input_format", type=click.Choice(["jsonl", "csv", "parquet"]),
              help="the format of CLAIMS (default: from its name)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="what to print: a summary, or the whole report as JSON")
def simulate_cmd(claims: Path, scenarios: tuple[str, ...], by: tuple[str, ...], out: Path | None, parquet: bool,
                 rules_dir: Path | None, scenarios_dir: Path | None, sample: int, jobs: int, input_format: str | None,
                 fmt: str) -> None:
    """Decide every claim of CLAIMS under the law in force and under each scenario, and compare.

    Each insured person's claims are replayed in date order under each rule book, so
    the eigen risico and the other yearly caps carry from claim to claim as in claim
    processing. CLAIMS is JSON lines, CSV or Parquet with claim_id, insured_id and the
    facts of each claim (as `passendezorg population` writes them).
    """
    from .report import simulation_json, write_report
    from .simulate import simulate

    if parquet and out is None:
        raise UsageError("--parquet writes the report's tables: give --out DIR")
    book = _load(rules_dir, scenarios_dir)
    if parquet:
        from .population import require_pyarrow

        require_pyarrow("Parquet output")
    sim = simulate(book, claims, list(scenarios), by=list(by) or None, sample=sample, jobs=jobs, fmt=input_format)
    written = write_report(sim, out, parquet=parquet) if out is not None else []
    if fmt == "json":
        click.echo(json.dumps(simulation_json(sim), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(summary_lines(sim)))
    if written:
        click.echo(f"report: {written[1] if len(written) > 1 else written[0]} ({len(written)} files in {out})", err=True)


def summary_lines(sim: Simulation) -> list[str]:
    """The text a person reads after a simulation: totals and their change, who changed, the yearly maxima."""
    from .report import euro, signed_euro
    from .simulate import BASE

    keys = [v.key for v in sim.variants]
    width = max(len(k) for k in keys) + 2
    lines = [f"{sim.claims} claim(s) of {sim.persons} insured person(s) from {sim.source}, decided under "
             f"{len(keys)} rule books in {sim.seconds:.1f} s ({sim.jobs} worker(s))"]
    if sim.rejected:
        lines.append(f"  {sim.rejected} claim(s) could not be read and were left out; the first:")
        lines.extend(f"    {w}: {e}" for w, e in sim.rejections[:5])
    for v in sim.scenarios:
        lines.append(f"  {v.key}: {v.title}")
        lines.append(f"    changed: {sim.changed_claims[v.key]} claim(s) of {sim.changed_persons[v.key]} person(s)"
                     + (f"; {sim.rule_only[v.key]} more decided by another rule with the same values"
                        if sim.rule_only[v.key] else ""))
    lines.append("")
    money = [o for o in sim.outputs.values() if o.money]
    for o in money:
        if not any(o.change(k) for k in keys[1:]):
            continue
        lines.append(f"{o.name}")
        for k in keys:
            change = "" if k == BASE else f"  {signed_euro(o.change(k))}"
            undecided = ", ".join(f"{n} {status.strip('()')}" for status, n in o.counts.get(k, {}).items())
            lines.append(f"  {k:<{width}}{euro(o.totals[k]):>20}{change}"
                         + (f"  (not decided: {undecided})" if undecided else ""))
    same = [o.name for o in money if not any(o.change(k) for k in keys[1:])]
    if same:
        lines.append(f"the same under every scenario: {', '.join(same)}")
    same = []
    for y in sim.yearly:
        if all(y.reached[k] == y.reached[BASE] for k in keys[1:]):
            same.append(f"{y.label} ({y.total(BASE)})")
            continue
        lines.append("")
        lines.append(f"reached the yearly {y.label} (of {y.person_years} person-years with claims)")
        for k in keys:
            moved = "" if k == BASE else (f"  ({y.moved[k]['only_in_force']} no longer, {y.moved[k]['only_scenario']} "
                                          f"newly; {y.moved[k]['earlier']} earlier, {y.moved[k]['later']} later)")
            lines.append(f"  {k:<{width}}{y.total(k):>20}{moved}")
    if same:
        lines.append("")
        lines.append(f"reached as often and as early under every scenario: {', '.join(same)}")
    return lines


def register(group: click.Group) -> None:
    """Add the `population` and `simulate` commands to ``group``."""
    group.add_command(population_cmd)
    group.add_command(simulate_cmd)


__all__ = ["register", "summary_lines"]
