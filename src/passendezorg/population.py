"""A population of claims to simulate on: seeded, from one documented profile, checked against the rule book.

``generate(book, persons, seed)`` draws insured persons (age, the person's facts)
and, per calendar year and kind of care the rule book knows (its
``behandeling.soort`` choices), whether a person uses that care and how often,
with the facts each claim needs. Every figure comes from the profile file
(``data/population.yaml`` by default): a figure from a public source cites it,
an assumption says it is one. The same rule book, profile, persons and seed
always give the same claims, byte for byte: each person has a random stream of
its own, seeded from the seed and the person's number.

A claim is what claim processing and the simulation read::

    {"claim_id": "V0000001-0001", "insured_id": "V0000001",
     "input": {"verzekerde": {"geboortedatum": "1961-03-08"}, "behandeling": {"datum": "2025-02-11", ...}}}

``write_claims`` writes claims as JSON lines, CSV (``claim_id``, ``insured_id``
and one column per input) or Parquet (the same columns; needs pyarrow).
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
import json
import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import IO, Any

import yaml

from . import nodes as n
from .check import parse_cell, suggest
from .errors import PassendeZorgError, UsageError
from .program import Program
from .values import to_json

PROFILE_FORMAT = "passendezorg.population/1"
KIND_INPUT = "behandeling.soort"
DATE_INPUT = "behandeling.datum"
BIRTH_INPUT = "verzekerde.geboortedatum"
CLAIM_FORMATS = ("jsonl", "csv", "parquet")
PARQUET_EXTRA = 'pip install "passendezorg[simulate]"'


class ProfileError(PassendeZorgError):
    """A population profile that cannot be used: ``where`` is the file and the path of the entry in it."""

    exit_code = 1

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


def default_profile_path() -> Path:
    """The profile shipped with passendezorg."""
    return Path(str(files("passendezorg") / "data" / "population.yaml"))


# ------------------------------------------------------------------ the profile, as written


@dataclass(frozen=True)
class Figure:
    """A figure of the profile and where it comes from: a source, an assumption, or both."""

    where: str
    source: str | None
    assumption: str | None


@dataclass(frozen=True)
class FactSpec:
    """How one fact of a claim (or of a person) is drawn."""

    name: str
    how: str  # value, choices, share, range, amount, table, sequence, days_before
    where: str
    values: tuple[Any, ...] = ()  # value: (v,); choices: the values
    cumulative: tuple[float, ...] = ()  # choices: cumulative weights
    lo: float = 0.0  # share: probability; range: low; amount: log of the median
    hi: float = 0.0  # range: high; amount: sigma of the log
    table: str | None = None
    per: str | None = None  # sequence: year or person
    once: bool = False
    ages: tuple[int, int] | None = None


@dataclass(frozen=True)
class RowSpec:
    table: str
    columns: tuple[tuple[str, str], ...]  # (input, column)
    where: str


@dataclass(frozen=True)
class ByAge:
    """A figure that may differ per age band: (from, to, value) bands, or one value for every age."""

    bands: tuple[tuple[int, int, float], ...]

    def at(self, age: int) -> float:
        for lo, hi, v in self.bands:
            if lo <= age <= hi:
                return v
        return 0.0


@dataclass(frozen=True)
class Variant:
    name: str
    weight: float
    ages: tuple[int, int] | None
    claims: ByAge | None
    facts: tuple[FactSpec, ...]
    row: RowSpec | None


@dataclass(frozen=True)
class Kind:
    soort: str
    users: ByAge
    claims: ByAge | None
    facts: tuple[FactSpec, ...]
    variants: tuple[Variant, ...]
    where: str


@dataclass(frozen=True)
class Profile:
    """A population profile: who the persons are and which care they use. ``load`` reads and checks one."""

    path: str
    year: int
    sources: Mapping[str, Mapping[str, str]]
    bands: tuple[tuple[int, int, float], ...]
    person_facts: tuple[FactSpec, ...]
    kinds: tuple[Kind, ...]
    figures: tuple[Figure, ...] = field(default=())

    @classmethod
    def load(cls, path: str | Path | None = None) -> Profile:
        where = Path(path) if path is not None else default_profile_path()
        try:
            text = where.read_text(encoding="utf-8")
        except OSError as e:
            raise UsageError(f"{where}: cannot read the population profile ({e.strerror or e})") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(where)
            raise ProfileError(at, f"not valid YAML: {getattr(e, 'problem', None) or e}") from None
        return _Reader(str(where)).profile(data)

    @property
    def sourced(self) -> list[Figure]:
        return [f for f in self.figures if f.source]

    @property
    def assumed(self) -> list[Figure]:
        return [f for f in self.figures if f.assumption]


_FIGURE_KEYS = {"source", "assumption", "note"}


class _Reader:
    """Reads the profile's YAML into a Profile; every problem is a ProfileError naming the entry."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.figures: list[Figure] = []
        self.sources: dict[str, dict[str, str]] = {}

    def fail(self, where: str, message: str) -> ProfileError:
        return ProfileError(f"{self.path}: {where}" if where else self.path, message)

    def mapping(self, v: Any, where: str) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise self.fail(where, "expected a mapping")
        return v

    def number(self, v: Any, where: str, low: float = 0.0) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < low:
            raise self.fail(where, f"expected a number of at least {low:g}, got {v!r}")
        return float(v)

    def ages(self, v: Any, where: str) -> tuple[int, int]:
        if (not isinstance(v, list) or len(v) != 2 or not all(isinstance(x, int) and not isinstance(x, bool)
                                                              for x in v) or not 0 <= v[0] <= v[1] <= 130):
            raise self.fail(where, "expected [from, to]: two ages, from 0 to 130, the first not above the second")
        return v[0], v[1]

    def figure(self, node: dict[str, Any], where: str) -> None:
        """A node with figures must say where they come from."""
        source = node.get("source")
        assumption = node.get("assumption")
        if source is None and assumption is None:
            raise self.fail(where, "a figure needs `source` (an entry of `sources`) or `assumption` (what was "
                            "assumed, and why): never a bare number")
        if source is not None and source not in self.sources:
            hint = suggest(str(source), self.sources)
            raise self.fail(f"{where}.source", f"no source `{source}` under `sources`" + (f"; {hint}" if hint else ""))
        if assumption is not None and (not isinstance(assumption, str) or not assumption.strip()):
            raise self.fail(f"{where}.assumption", "an assumption says in words what was assumed")
        self.figures.append(Figure(where, source, assumption))

    def profile(self, data: Any) -> Profile:
        top = self.mapping(data, "")
        if top.get("format") != PROFILE_FORMAT:
            raise self.fail("format", f"expected `format: {PROFILE_FORMAT}`")
        unknown = set(top) - {"format", "year", "sources", "persons", "care"}
        if unknown:
            raise self.fail(sorted(unknown)[0], "unknown entry; a profile has format, year, sources, persons and care")
        year = top.get("year")
        if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2200:
            raise self.fail("year", f"expected a year, got {year!r}")
        for sid, s in self.mapping(top.get("sources", {}), "sources").items():
            s = self.mapping(s, f"sources.{sid}")
            if not isinstance(s.get("title"), str):
                raise self.fail(f"sources.{sid}", "a source has a `title` (what was read, with its figures)")
            self.sources[str(sid)] = {k: str(v) for k, v in s.items()}
        persons = self.mapping(top.get("persons"), "persons")
        age = self.mapping(persons.get("age"), "persons.age")
        bands = []
        for i, b in enumerate(age.get("bands") or []):
            b = self.mapping(b, f"persons.age.bands[{i}]")
            lo, hi = self.ages(b.get("ages"), f"persons.age.bands[{i}].ages")
            bands.append((lo, hi, self.number(b.get("weight"), f"persons.age.bands[{i}].weight")))
        if not bands or sum(w for _, _, w in bands) <= 0:
            raise self.fail("persons.age.bands", "give at least one age band with a weight above 0")
        self.figure(age, "persons.age")
        person_facts = self.facts(persons.get("facts") or {}, "persons.facts")
        kinds = [self.kind(str(k), v) for k, v in self.mapping(top.get("care"), "care").items()]
        return Profile(self.path, year, self.sources, tuple(bands), person_facts, tuple(kinds), tuple(self.figures))

    def by_age(self, node: Any, key: str, where: str) -> ByAge:
        node = self.mapping(node, where)
        self.figure(node, where)
        if "by_age" in node:
            bands = []
            for i, b in enumerate(node["by_age"] or []):
                b = self.mapping(b, f"{where}.by_age[{i}]")
                lo, hi = self.ages(b.get("ages"), f"{where}.by_age[{i}].ages")
                bands.append((lo, hi, self.number(b.get(key), f"{where}.by_age[{i}].{key}")))
            return ByAge(tuple(bands))
        return ByAge(((0, 130, self.number(node.get(key), f"{where}.{key}")),))

    def kind(self, soort: str, node: Any) -> Kind:
        where = f"care.{soort}"
        node = self.mapping(node, where)
        unknown = set(node) - {"users", "claims_per_user", "facts", "variants"}
        if unknown:
            raise self.fail(f"{where}.{sorted(unknown)[0]}", "unknown entry; a kind of care has users, "
                            "claims_per_user, facts and variants")
        users = self.by_age(node.get("users"), "share", f"{where}.users")
        if any(v > 1 for _, _, v in users.bands):
            raise self.fail(f"{where}.users", "a share is at most 1")
        claims = self.by_age(node["claims_per_user"], "mean", f"{where}.claims_per_user") \
            if "claims_per_user" in node else None
        variants = []
        for i, v in enumerate(node.get("variants") or []):
            vw = f"{where}.variants[{i}]"
            v = self.mapping(v, vw)
            self.figure(v, vw)
            vclaims = self.by_age(v["claims_per_user"], "mean", f"{vw}.claims_per_user") \
                if "claims_per_user" in v else None
            if vclaims is None and claims is None:
                raise self.fail(vw, "no claims_per_user here or for the kind of care")
            row = None
            if "row" in v:
                r = self.mapping(v["row"], f"{vw}.row")
                cols = self.mapping(r.get("columns"), f"{vw}.row.columns")
                row = RowSpec(str(r.get("table")), tuple((str(a), str(b)) for a, b in cols.items()), f"{vw}.row")
            variants.append(Variant(str(v.get("name", i)), self.number(v.get("weight"), f"{vw}.weight"),
                                    self.ages(v["ages"], f"{vw}.ages") if "ages" in v else None, vclaims,
                                    self.facts(v.get("facts") or {}, f"{vw}.facts"), row))
        if claims is None and not variants:
            raise self.fail(where, "no claims_per_user")
        return Kind(soort, users, claims, self.facts(node.get("facts") or {}, f"{where}.facts"), tuple(variants), where)

    def facts(self, node: Any, where: str) -> tuple[FactSpec, ...]:
        return tuple(self.fact(str(name), spec, f"{where}.{name}") for name, spec in self.mapping(node, where).items())

    def fact(self, name: str, spec: Any, where: str) -> FactSpec:
        spec = self.mapping(spec, where)
        hows = [k for k in ("value", "choices", "share", "range", "amount", "table", "sequence", "days_before")
                if k in spec]
        if len(hows) != 1:
            raise self.fail(where, "give exactly one of value, choices, share, range, amount, table, sequence, "
                            "days_before")
        how = hows[0]
        unknown = set(spec) - {how, "once", "ages"} - _FIGURE_KEYS
        if unknown:
            raise self.fail(f"{where}.{sorted(unknown)[0]}", "unknown entry of a fact")
        ages = self.ages(spec["ages"], f"{where}.ages") if "ages" in spec else None
        once = bool(spec.get("once", False))
        if how not in ("value", "table", "sequence"):
            self.figure(spec, where)
        v = spec[how]
        if how == "value":
            return FactSpec(name, how, where, values=(v,), once=once, ages=ages)
        if how == "choices":
            choices = self.mapping(v, f"{where}.choices")
            total = 0.0
            cumulative = []
            for value, weight in choices.items():
                total += self.number(weight, f"{where}.choices.{value}")
                cumulative.append(total)
            if total <= 0:
                raise self.fail(f"{where}.choices", "the weights add up to 0")
            return FactSpec(name, how, where, values=tuple(choices), cumulative=tuple(c / total for c in cumulative),
                            once=once, ages=ages)
        if how == "share":
            p = self.number(v, f"{where}.share")
            if p > 1:
                raise self.fail(f"{where}.share", "a share is at most 1")
            return FactSpec(name, how, where, lo=p, once=once, ages=ages)
        if how in ("range", "days_before"):
            lo, hi = (v if isinstance(v, list) and len(v) == 2 else (None, None))
            a, b = self.number(lo, f"{where}.range", -1e18), self.number(hi, f"{where}.range", -1e18)
            if a != int(a) or b != int(b) or a > b or (how == "days_before" and a < 0):
                raise self.fail(f"{where}.{how}", "expected [lo, hi]: two whole numbers, lo not above hi"
                                + (", not below 0" if how == "days_before" else ""))
            return FactSpec(name, how, where, lo=a, hi=b, once=once, ages=ages)
        if how == "amount":
            spread = self.mapping(v, f"{where}.amount")
            median = self.number(spread.get("median"), f"{where}.amount.median", 0.01)
            p90 = self.number(spread.get("p90"), f"{where}.amount.p90", median)
            # log-normal: the 90th percentile is 1.2816 standard deviations above the median
            return FactSpec(name, how, where, lo=math.log(median), hi=(math.log(p90) - math.log(median)) / 1.2815516,
                            once=once, ages=ages)
        if how == "table":
            return FactSpec(name, how, where, table=str(v), once=once, ages=ages)
        if v not in ("year", "person"):
            raise self.fail(f"{where}.sequence", "expected `year` or `person`")
        return FactSpec(name, how, where, per=str(v), ages=ages)


# ------------------------------------------------------------------ the profile, against a rule book


@dataclass(frozen=True)
class _Fact:
    """A FactSpec resolved against the rule book: values typed as the input's JSON form."""

    spec: FactSpec
    values: tuple[Any, ...]  # value, choices, table: the JSON values to pick from
    money: bool


@dataclass(frozen=True)
class _Row:
    inputs: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class _Variant:
    name: str
    weight: float
    ages: tuple[int, int] | None
    claims: ByAge
    facts: tuple[_Fact, ...]
    row: _Row | None


@dataclass(frozen=True)
class _Kind:
    soort: str
    users: ByAge
    variants: tuple[_Variant, ...]


@dataclass
class Plan:
    """A profile checked against a rule book: what ``generate`` draws from, and what the profile left out."""

    profile: Profile
    program: Program
    kinds: tuple[_Kind, ...]
    person_facts: tuple[_Fact, ...]
    columns: tuple[str, ...]  # the inputs a claim can have, in the rule book's order
    not_in_profile: tuple[str, ...]  # kinds of care the rule book knows and the profile does not
    not_in_rulebook: tuple[str, ...]  # kinds of the profile the rule book does not know (left out)


def plan(book: Any, profile: Profile | None = None) -> Plan:
    """Check a profile against a rule book: every fact an input, every value of its type, every table there."""
    profile = profile or Profile.load()
    program: Program = book.program
    for name in (KIND_INPUT, DATE_INPUT, BIRTH_INPUT):
        if name not in program.inputs:
            raise UsageError(f"the rule book has no input `{name}`; a population needs it "
                             "(the kind of care, the date of a claim, the birth date of the insured person)")
    kind_type = program.inputs[KIND_INPUT].type
    if kind_type.kind != "enum":
        raise UsageError(f"`{KIND_INPUT}` must be `one of` the kinds of care; the rule book declares it as {kind_type}")
    known = set(kind_type.choices)
    used_inputs: set[str] = {KIND_INPUT, DATE_INPUT, BIRTH_INPUT}

    def input_type(name: str, where: str) -> n.TypeRef:
        decl = program.inputs.get(name)
        if decl is None:
            hint = suggest(name, list(program.inputs))
            raise ProfileError(f"{profile.path}: {where}", f"`{name}` is not an input of the rule book"
                               + (f"; {hint}" if hint else ""))
        used_inputs.add(name)
        return decl.type

    def fact(spec: FactSpec) -> _Fact:
        t = input_type(spec.name, spec.where)
        raw: tuple[Any, ...] = ()
        if spec.how in ("value", "choices"):
            raw = spec.values
        elif spec.how == "table":
            table = _table(program, spec.table or "", profile.path, spec.where)
            if len(table.keys) != 1:
                raise ProfileError(f"{profile.path}: {spec.where}", f"table `{table.name}` has a key of "
                                   f"{len(table.keys)} columns; use `row` to draw whole rows")
            raw = tuple(sorted(str(k[0]) for k in table.rows))
            if not raw:
                raise ProfileError(f"{profile.path}: {spec.where}", f"table `{table.name}` has no rows")
        elif spec.how == "share" and t.kind != "boolean":
            raise ProfileError(f"{profile.path}: {spec.where}", f"a share draws ja or nee; `{spec.name}` is {t}")
        elif spec.how == "days_before" and t.kind != "date":
            raise ProfileError(f"{profile.path}: {spec.where}", f"days_before draws a date; `{spec.name}` is {t}")
        elif spec.how in ("range", "sequence") and t.kind not in ("integer", "decimal"):
            raise ProfileError(f"{profile.path}: {spec.where}", f"a {spec.how} draws whole numbers; `{spec.name}` is {t}")
        elif spec.how == "amount" and t.kind not in ("money", "decimal"):
            raise ProfileError(f"{profile.path}: {spec.where}", f"an amount is drawn for money; `{spec.name}` is {t}")
        return _Fact(spec, tuple(_typed(v, t, f"{profile.path}: {spec.where}") for v in raw), t.kind == "money")

    kinds = []
    for k in profile.kinds:
        if k.soort not in known:
            continue
        base = tuple(fact(f) for f in k.facts)
        variants = []
        for v in k.variants or (Variant("", 1.0, None, None, (), None),):
            row = None
            if v.row is not None:
                table = _table(program, v.row.table, profile.path, v.row.where)
                types = []
                for inp, col in v.row.columns:
                    types.append(input_type(inp, v.row.where))
                    if col not in table.columns:
                        hint = suggest(col, list(table.columns))
                        raise ProfileError(f"{profile.path}: {v.row.where}", f"table `{table.name}` has no column "
                                           f"`{col}`" + (f"; {hint}" if hint else ""))
                rows = []
                for key in sorted(table.rows, key=str):
                    values = table.rows[key][0].values
                    rows.append(tuple(None if values[col] is None else _typed(values[col], t, f"{profile.path}: {v.row.where}")
                                      for (_inp, col), t in zip(v.row.columns, types)))
                if not rows:
                    raise ProfileError(f"{profile.path}: {v.row.where}", f"table `{table.name}` has no rows")
                row = _Row(tuple(inp for inp, _ in v.row.columns), tuple(rows))
            claims = v.claims or k.claims
            assert claims is not None
            variants.append(_Variant(v.name, v.weight, v.ages, claims, base + tuple(fact(f) for f in v.facts), row))
        kinds.append(_Kind(k.soort, k.users, tuple(variants)))
    person_facts = tuple(fact(f) for f in profile.person_facts)
    for f in person_facts:
        if f.spec.how == "sequence":
            raise ProfileError(f"{profile.path}: {f.spec.where}", "a person's fact cannot be a sequence")
    described = {k.soort for k in profile.kinds}
    columns = tuple(name for name in program.inputs if name in used_inputs)
    return Plan(profile, program, tuple(kinds), person_facts, columns,
                tuple(sorted(known - described)), tuple(sorted(described - known)))


def _table(program: Program, name: str, path: str, where: str) -> Any:
    table = program.tables.get(name)
    if table is None:
        hint = suggest(name, list(program.tables))
        raise ProfileError(f"{path}: {where}", f"the rule book has no table `{name}`" + (f"; {hint}" if hint else ""))
    return table


def _typed(v: Any, t: n.TypeRef, where: str) -> Any:
    """A value of the profile (or a table cell) as the JSON form of the input's type; ProfileError if it does not fit."""
    if isinstance(v, bool):
        text = "true" if v else "false"
    elif isinstance(v, (dt.date, Decimal, int, float)):
        text = to_json(v) if not isinstance(v, float) else repr(v)
    else:
        text = str(v)
    try:
        value = parse_cell(text, t)
    except ValueError as e:
        raise ProfileError(where, f"{v!r} does not fit the input: {e}") from None
    return to_json(value)


# ------------------------------------------------------------------ drawing claims


def generate(book: Any, persons: int, seed: int = 0, *, profile: Profile | None = None,
             years: Sequence[int] | None = None, first: int = 0) -> Iterator[dict[str, Any]]:
    """Claims of ``persons`` insured persons, person by person, each person's claims in date order.

    ``years`` default to the profile's year. Person ``k`` (counted from
    ``first``) is drawn from its own random stream, seeded from ``seed`` and ``k``.
    """
    p = plan(book, profile)
    yield from draw(p, persons, seed, years or (p.profile.year,), first)


def draw(p: Plan, persons: int, seed: int, years: Sequence[int], first: int = 0) -> Iterator[dict[str, Any]]:
    """The claims of a checked plan (see ``generate``)."""
    if persons < 0:
        raise UsageError("the number of persons cannot be negative")
    years = sorted(set(years))
    bands = p.profile.bands
    weights = sum(w for _, _, w in bands)
    band_cum = []
    total = 0.0
    for _, _, w in bands:
        total += w
        band_cum.append(total / weights)
    for k in range(first, first + persons):
        rnd = random.Random(f"passendezorg-population:{seed}:{k}")
        insured = f"V{k + 1:07d}"
        lo, hi, _ = bands[min(bisect.bisect_right(band_cum, rnd.random()), len(bands) - 1)]
        age0 = rnd.randint(lo, hi)
        born = dt.date(years[0] - age0, 1, 1) - dt.timedelta(days=rnd.randrange(1, 365))
        person: dict[str, Any] = {BIRTH_INPUT: born.isoformat()}
        for f in p.person_facts:
            if f.spec.ages is None or f.spec.ages[0] <= age0 <= f.spec.ages[1]:
                person[f.spec.name] = _draw(f, rnd, dt.date(years[0], 1, 1))
        claims: list[tuple[dt.date, int, dict[str, Any]]] = []
        counters: dict[str, int] = {}
        for year in years:
            age = age0 + (year - years[0])
            days = 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365
            for kind in p.kinds:
                if rnd.random() >= kind.users.at(age):
                    continue
                variant = _variant(kind, age, rnd)
                if variant is None:
                    continue
                count = 1 + _poisson(max(0.0, variant.claims.at(age) - 1.0), rnd)
                dates = sorted(dt.date(year, 1, 1) + dt.timedelta(days=rnd.randrange(days)) for _ in range(count))
                once: dict[str, Any] = {}
                row = variant.row.rows[rnd.randrange(len(variant.row.rows))] if variant.row else ()
                for day in dates:
                    facts = dict(person)
                    facts[DATE_INPUT] = day.isoformat()
                    facts[KIND_INPUT] = kind.soort
                    if variant.row is not None:
                        for name, value in zip(variant.row.inputs, row):
                            if value is not None:
                                facts[name] = value
                    for f in variant.facts:
                        spec = f.spec
                        if spec.ages is not None and not spec.ages[0] <= age <= spec.ages[1]:
                            continue
                        if spec.how == "sequence":
                            key = f"{kind.soort}:{spec.name}:{year if spec.per == 'year' else ''}"
                            counters[key] = counters.get(key, 0) + 1
                            facts[spec.name] = counters[key]
                        elif spec.once:
                            if spec.name not in once:
                                once[spec.name] = _draw(f, rnd, day)
                            facts[spec.name] = once[spec.name]
                        else:
                            facts[spec.name] = _draw(f, rnd, day)
                    claims.append((day, len(claims), facts))
        claims.sort(key=lambda c: (c[0], c[1]))
        for number, (_day, _order, facts) in enumerate(claims, 1):
            yield {"claim_id": f"{insured}-{number:04d}", "insured_id": insured, "input": facts}


def _variant(kind: _Kind, age: int, rnd: random.Random) -> _Variant | None:
    options = [v for v in kind.variants if v.ages is None or v.ages[0] <= age <= v.ages[1]]
    total = sum(v.weight for v in options)
    if total <= 0:
        return None
    pick = rnd.random() * total
    for v in options:
        pick -= v.weight
        if pick < 0:
            return v
    return options[-1]


def _poisson(mean: float, rnd: random.Random) -> int:
    """A Poisson draw (Knuth's method; the means of a profile are small)."""
    if mean <= 0:
        return 0
    limit = math.exp(-mean)
    k = 0
    prod = rnd.random()
    while prod > limit:
        k += 1
        prod *= rnd.random()
    return k


def _draw(f: _Fact, rnd: random.Random, day: dt.date) -> Any:
    """A fact's value for a claim on ``day`` (for a person's fact: the first day of the first year)."""
    spec = f.spec
    how = spec.how
    if how == "value":
        return f.values[0]
    if how == "choices":
        return f.values[min(bisect.bisect_right(spec.cumulative, rnd.random()), len(f.values) - 1)]
    if how == "share":
        return rnd.random() < spec.lo
    if how == "range":
        return rnd.randint(int(spec.lo), int(spec.hi))
    if how == "amount":
        cents = max(100, round(math.exp(rnd.gauss(spec.lo, spec.hi)) * 100))
        return f"{cents // 100}.{cents % 100:02d}"
    if how == "table":
        return f.values[rnd.randrange(len(f.values))]
    if how == "days_before":
        return (day - dt.timedelta(days=rnd.randint(int(spec.lo), int(spec.hi)))).isoformat()
    raise AssertionError(how)  # pragma: no cover - sequences are counted by the caller


# ------------------------------------------------------------------ writing claims


def claims_format(path: Path, fmt: str | None = None) -> str:
    """The format of a claims file: jsonl, csv or parquet, from ``fmt`` or the file name."""
    if fmt is not None:
        if fmt not in CLAIM_FORMATS:
            raise UsageError(f"unknown claims format `{fmt}`; use jsonl, csv or parquet")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise UsageError(f"{path}: a claims file is JSON lines (.jsonl), CSV (.csv) or Parquet (.parquet)")


def nested(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Flat facts (``behandeling.soort``) as the nested mapping a case holds (``behandeling: {soort: …}``)."""
    out: dict[str, Any] = {}
    for name, value in facts.items():
        node = out
        *path, leaf = name.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def require_pyarrow(what: str) -> Any:
    """The pyarrow module, or a UsageError saying how to install it."""
    try:
        import pyarrow
    except ImportError:
        raise UsageError(f"{what} needs pyarrow, which is not installed: {PARQUET_EXTRA}") from None
    return pyarrow


def write_claims(claims: Iterable[Mapping[str, Any]], out: Path, program: Program, columns: Sequence[str] | None = None,
                 fmt: str | None = None) -> int:
    """Write claims (with flat facts in ``input``) to ``out``; the number written.

    JSON lines nest the facts as a case does; CSV and Parquet have the columns
    ``claim_id``, ``insured_id`` and one per input (``columns``, by default every
    input of the rule book), an empty cell for a fact the claim does not have.
    """
    form = claims_format(out, fmt)
    cols = list(columns or program.inputs)
    if form == "parquet":
        return _write_parquet(claims, out, program, cols)
    try:
        fh = out.open("w", encoding="utf-8", newline="", buffering=1 << 20)
    except OSError as e:
        raise UsageError(f"{out}: cannot write the claims there ({e.strerror or e})") from None
    count = 0
    with fh:
        if form == "jsonl":
            dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
            for c in claims:
                fh.write(dumps({"claim_id": c["claim_id"], "insured_id": c["insured_id"], "input": nested(c["input"])}))
                fh.write("\n")
                count += 1
        else:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["claim_id", "insured_id", *cols])
            for c in claims:
                facts = c["input"]
                writer.writerow([c["claim_id"], c["insured_id"], *(_cell(facts.get(name)) for name in cols)])
                count += 1
    return count


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def _write_parquet(claims: Iterable[Mapping[str, Any]], out: Path, program: Program, cols: list[str]) -> int:
    pa = require_pyarrow("Parquet output")
    import pyarrow.parquet as pq

    def arrow_type(t: n.TypeRef) -> Any:
        return {"boolean": pa.bool_(), "integer": pa.int64(), "money": pa.decimal128(18, 2),
                "decimal": pa.decimal128(28, 8), "date": pa.date32()}.get(t.kind, pa.string())

    schema = pa.schema([("claim_id", pa.string()), ("insured_id", pa.string())]
                       + [(c, arrow_type(program.inputs[c].type)) for c in cols])
    kinds = [program.inputs[c].type.kind for c in cols]

    def native(v: Any, kind: str) -> Any:
        if v is None:
            return None
        if kind in ("money", "decimal"):
            return Decimal(str(v))
        if kind == "date":
            return dt.date.fromisoformat(v)
        return v

    count = 0
    try:
        writer = pq.ParquetWriter(str(out), schema)
    except OSError as e:
        raise UsageError(f"{out}: cannot write the claims there ({e})") from None
    with writer:
        batch: list[Mapping[str, Any]] = []

        def flush() -> None:
            data: dict[str, list[Any]] = {"claim_id": [c["claim_id"] for c in batch],
                                          "insured_id": [c["insured_id"] for c in batch]}
            for col, kind in zip(cols, kinds):
                data[col] = [native(c["input"].get(col), kind) for c in batch]
            writer.write_table(pa.Table.from_pydict(data, schema=schema))
            batch.clear()

        for c in claims:
            batch.append(c)
            count += 1
            if len(batch) >= 65536:
                flush()
        if batch:
            flush()
    return count


def write_stream(claims: Iterable[Mapping[str, Any]], stream: IO[str]) -> int:
    """Claims as JSON lines to a text stream (standard output)."""
    count = 0
    buf = io.StringIO()
    for c in claims:
        buf.write(json.dumps({"claim_id": c["claim_id"], "insured_id": c["insured_id"], "input": nested(c["input"])},
                             ensure_ascii=False, separators=(",", ":")))
        buf.write("\n")
        count += 1
        if count % 4096 == 0:
            stream.write(buf.getvalue())
            buf = io.StringIO()
    stream.write(buf.getvalue())
    return count
