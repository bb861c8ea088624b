"""Simulation: what a proposal would do to a population of claims, claim by claim and person by person.

``simulate(book, claims, scenarios)`` decides every claim under the rule book in
force and under each scenario. The eigen risico and the other yearly caps are
state per insured person and year (yearly.py), so each person's claims are
replayed in date order under each rule book on its own: a cap per treatment
changes how much of the year's eigen risico is left for the next claim, and so
who reaches the yearly maximum, and when.

How it runs, in bounded memory on every core: the claims file is cut into byte
ranges that start at a line; worker processes (workers.Pool) read their ranges
and write each line to one of K partition files by a hash of the insured
person, so that all claims of a person land in one partition. Then each worker
takes whole partitions: it reads one, groups its claims by person, sorts them by
date (and, on the same date, by their place in the file), replays each person
under every rule book with the compiled fast path (batch.compiled), and sends
back only totals. The parent never holds the claims. A claim that no change of a
scenario can reach (``reach``), of a person whose year stands as under the law in
force, is decided once. Explanations are made only for a small sample of changed
claims, with ``RuleBook.evaluate``, after the run.

Totals are exact (Decimal). For every claim the sums under the law in force are
kept; a scenario adds, for the claims it changes, the difference. A claim that
cannot be read is rejected with its file and line, and the rest go on.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from .batch import compiled, line_ranges, picker
from .cases import Case, typed_inputs
from .check import suggest
from .claims import Claim, ClaimColumns, ClaimError
from .engines.compiled import NO_DEFAULT, WITH_DEFAULT, CompiledProgram, compile_typer
from .engines.interpreter import Evaluation
from .errors import CaseError, PassendeZorgError, UsageError
from .model import Decision
from .population import claims_format, require_pyarrow
from .program import Parameter
from .progress import Progress
from .rulebook import RuleBook
from .values import to_json
from .workers import FORK, Pool, WorkerFailure, jobs_for
from .yearly import Counter, YearlyLedger, counters_for

BASE = "in_force"
"""The key of the rule book in force among the variants of a simulation."""

AGE_BANDS: tuple[tuple[int, int], ...] = ((0, 17), (18, 34), (35, 49), (50, 64), (65, 74), (75, 200))
SPECIAL_FIELDS = {"year": "year", "jaar": "year", "month": "month", "maand": "month",
                  "age_band": "age_band", "leeftijdsband": "age_band"}
AGE_VALUES = ("leeftijd", "age")
DEFAULT_FIELDS = ("behandeling.soort", "age_band")
PARTITION_BYTES = 8 << 20
SAMPLE = 12
MAX_REJECTIONS = 50

ZERO = Decimal("0.00")


# ------------------------------------------------------------------ what a simulation is asked


@dataclass(frozen=True)
class Variant:
    """A rule book a simulation decides the claims under: the law in force, or a scenario."""

    key: str
    title: str
    book: RuleBook

    @property
    def rulebook(self) -> str:
        return self.book.content_hash


@dataclass(frozen=True)
class Field:
    """A field to break results down by: an input, a value of the rule book in force, or a derived band."""

    name: str
    kind: str  # input, value, year, month, age_band
    source: str | None = None


def variants_of(book: RuleBook, scenarios: Sequence[str] | Mapping[str, RuleBook]) -> list[Variant]:
    """The rule book in force and the scenarios: names become ``book.with_scenario(name)``."""
    if book.scenario is not None:
        raise UsageError(f"a simulation compares scenarios with the law in force: give the rule book in force, not "
                         f"the one under scenario `{book.scenario.name}`")
    if isinstance(scenarios, Mapping):
        items = [(str(name), b) for name, b in scenarios.items()]
    else:
        items = [(str(name), book.with_scenario(str(name))) for name in scenarios]
    if not items:
        raise UsageError("give at least one scenario to compare with the law in force")
    seen: set[str] = set()
    out = [Variant(BASE, "law in force", book)]
    for name, b in items:
        if not name or name == BASE or name in seen:
            raise UsageError(f"scenario names must be distinct and not `{BASE}`; got `{name}` twice or reserved")
        seen.add(name)
        title = b.scenario.title if b.scenario is not None and b.scenario.title else name
        out.append(Variant(name, str(title), b))
    base = book.program
    for v in out[1:]:
        p = v.book.program
        missing = [o for o in base.outputs if o not in p.values]
        if missing:
            raise UsageError(f"scenario `{v.key}` does not decide the output `{missing[0]}` of the rule book in force")
        for name, decl in base.inputs.items():
            other = p.inputs.get(name)
            if other is not None and str(other.type) != str(decl.type):
                raise UsageError(f"scenario `{v.key}` declares the input `{name}` as {other.type}; the rule book in "
                                 f"force as {decl.type}")
        if p.peildatum != base.peildatum:
            raise UsageError(f"scenario `{v.key}` reads its cases on `{p.peildatum}`, the rule book in force on "
                             f"`{base.peildatum}`")
    return out


def resolve_fields(book: RuleBook, names: Iterable[str]) -> list[Field]:
    """The fields to break results down by; UsageError (with the nearest name) for one the rule book lacks."""
    program = book.program
    out: list[Field] = []
    for name in names:
        special = SPECIAL_FIELDS.get(name)
        if special == "age_band":
            age = next((a for a in AGE_VALUES if a in program.values and program.values[a].type.kind == "integer"), None)
            if age is None:
                raise UsageError(f"--by {name}: the rule book has no integer value `leeftijd` to take the age from")
            out.append(Field(name, "age_band", age))
        elif special is not None:
            out.append(Field(name, special))
        elif name in program.inputs:
            out.append(Field(name, "input", name))
        elif name in program.values:
            out.append(Field(name, "value", name))
        else:
            hint = suggest(name, [*program.inputs, *program.values, *SPECIAL_FIELDS])
            raise UsageError(f"--by {name}: not an input or value of the rule book, nor one of "
                             f"{', '.join(sorted(set(SPECIAL_FIELDS)))}" + (f"; {hint}" if hint else ""))
    return out


def value_label(v: Any) -> str:
    """A value as the report names it: JSON text (true, 12.50, 2025-01-01), or a status in brackets."""
    if isinstance(v, tuple):
        return f"({v[1]})"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(to_json(v))


def age_band(age: int) -> str:
    for lo, hi in AGE_BANDS:
        if lo <= age <= hi:
            return f"{lo}+" if hi >= 200 else f"{lo}-{hi}"
    return "(none)"


# ------------------------------------------------------------------ what a simulation finds


@dataclass
class OutputSummary:
    """One output over all claims: totals of an amount, or counts of each value, per variant."""

    name: str
    type: str
    money: bool
    totals: dict[str, Decimal] = field(default_factory=dict)  # money: the sum of the decided amounts
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # per variant: value (or status) -> claims
    changed: dict[str, int] = field(default_factory=dict)  # per scenario: claims whose value changed

    def change(self, scenario: str) -> Decimal:
        return self.totals[scenario] - self.totals[BASE]


@dataclass
class Bucket:
    """A value of a breakdown field: its claims, the changed ones per scenario, and the amounts per variant."""

    value: str
    claims: int
    changed: dict[str, int]
    totals: dict[str, dict[str, Decimal]]  # output -> variant -> sum


@dataclass
class RuleChange:
    """Which rule decided an output before (in force) and after (under a scenario), for the claims it changed."""

    output: str
    before: str | None
    after: str | None
    claims: int
    before_total: Decimal | None
    after_total: Decimal | None


@dataclass
class YearlyCap:
    """Who reached a yearly maximum (the eigen risico), and in which month, per variant."""

    input: str
    label: str
    limit: str
    person_years: int
    reached: dict[str, list[int]]  # per variant: persons reaching it, per month (January first)
    moved: dict[str, dict[str, int]]  # per scenario: both, only_in_force, only_scenario, earlier, later, same_month

    def total(self, variant: str) -> int:
        return sum(self.reached[variant])


@dataclass
class SampleClaim:
    """A changed claim, explained under the law in force and under the scenario."""

    claim_id: str
    insured_id: str
    where: str
    peildatum: dt.date
    changed: list[str]
    before: Decision
    after: Decision
    used_before: dict[str, Decimal] = field(default_factory=dict)  # the yearly amounts used so far, in force
    used_after: dict[str, Decimal] = field(default_factory=dict)  # the same under the scenario


@dataclass
class Simulation:
    """The result of a simulation: totals, changes, breakdowns, the rules responsible, yearly caps, a sample."""

    source: str
    variants: list[Variant]
    claims: int
    persons: int
    person_years: int
    rejected: int
    rejections: list[tuple[str, str]]
    outputs: dict[str, OutputSummary]
    changed_claims: dict[str, int]
    changed_persons: dict[str, int]
    rule_only: dict[str, int]
    fields: list[Field]
    breakdowns: dict[str, list[Bucket]]
    rules: dict[str, list[RuleChange]]
    yearly: list[YearlyCap]
    sample: dict[str, list[SampleClaim]]
    seconds: float = 0.0
    jobs: int = 1

    @property
    def scenarios(self) -> list[Variant]:
        return self.variants[1:]


# ------------------------------------------------------------------ the run


def simulate(book: RuleBook, claims: str | Path | Iterable[Mapping[str, Any]],
             scenarios: Sequence[str] | Mapping[str, RuleBook], *, by: Sequence[str] | None = None,
             sample: int = SAMPLE, jobs: int = 0, progress: bool | None = None, fmt: str | None = None) -> Simulation:
    """Decide every claim under the rule book in force and under each scenario, and compare.

    ``claims``: a claims file (JSON lines, CSV or Parquet: ``claim_id``,
    ``insured_id`` and the facts), or claims in memory (mappings of that form).
    ``scenarios``: names of the rule book's scenarios, or ``{name: RuleBook}``.
    ``by``: fields to break results down by (inputs, values of the rule book,
    ``year``, ``month``, ``age_band``); by default the kind of care and the age
    band. ``sample``: how many changed claims per scenario to explain.
    ``jobs`` worker processes (0: one per core).
    """
    variants = variants_of(book, scenarios)
    program = book.program
    if program.peildatum is None:
        raise UsageError("the rule book declares no peildatum: a claim's year (for the yearly caps) is the year of "
                         "its peildatum")
    names = list(by) if by is not None else [f for f in DEFAULT_FIELDS if f in program.inputs
                                             or (f in SPECIAL_FIELDS and any(a in program.values for a in AGE_VALUES))]
    fields = resolve_fields(book, names)
    began = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="passendezorg-simulate-"))
    try:
        if isinstance(claims, (str, Path)):
            path = Path(claims)
            shown = str(path)
            form = claims_format(path, fmt)
            if not path.is_file():
                raise UsageError(f"{path}: no such claims file")
            if form == "parquet":
                path = _parquet_to_csv(path, tmp / "claims.csv")
                form = "csv"
        else:
            path = tmp / "claims.jsonl"
            shown = "claims"
            form = "jsonl"
            _write_jsonl(claims, path)
        run = _Run(variants, fields, path, shown, form, jobs_for(jobs) if FORK else 1, tmp, sample)
        tally = run.go(progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = _result(run, tally, shown)
    result.seconds = time.perf_counter() - began
    result.jobs = run.jobs
    return result


def _write_jsonl(claims: Iterable[Mapping[str, Any]], path: Path) -> None:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=to_json).encode
    with path.open("w", encoding="utf-8", buffering=1 << 20) as fh:
        for c in claims:
            fh.write(dumps(c if isinstance(c, Mapping) else dict(c)))
            fh.write("\n")


def _parquet_to_csv(path: Path, out: Path) -> Path:
    """A Parquet file of claims as CSV with the same columns (pyarrow writes it, batch by batch)."""
    require_pyarrow("reading Parquet claims")
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(str(path))
    except Exception as e:  # noqa: BLE001 - any unreadable file is reported with its name
        raise UsageError(f"{path}: not a Parquet file ({e})") from None
    with pacsv.CSVWriter(str(out), source.schema_arrow) as writer:
        for batch in source.iter_batches(batch_size=65536):
            writer.write_batch(batch)
    return out


_INSURED_JSON = re.compile(rb'"insured_id"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+))')


def partition_of(insured_id: str, partitions: int) -> int:
    """The partition of an insured person: the same in every process and run."""
    return zlib.crc32(insured_id.encode("utf-8")) % partitions


class _Run:
    """One simulation: the setup every worker inherits (forked), and the two passes over the claims."""

    def __init__(self, variants: list[Variant], fields: list[Field], path: Path, shown: str, form: str, jobs: int,
                 tmp: Path, sample: int) -> None:
        self.variants = variants
        self.fields = fields
        self.path = path
        self.shown = shown
        self.form = form
        self.jobs = jobs
        self.tmp = tmp
        self.sample = max(0, sample)
        base = variants[0].book.program
        self.program = base
        self.peildatum = base.peildatum
        # the facts a claim may give: the inputs of the law in force, and those a scenario adds (which the law in
        # force does not read)
        merged = dict(base.inputs)
        for v in variants[1:]:
            for name, decl in v.book.program.inputs.items():
                known = merged.setdefault(name, decl)
                if str(known.type) != str(decl.type):
                    raise UsageError(f"scenario `{v.key}` declares the input `{name}` as {decl.type}; another rule "
                                     f"book as {known.type}")
        self.inputs = merged
        self.scenario_inputs = frozenset(merged) - frozenset(base.inputs)
        self.typer = compile_typer(replace(base, inputs=merged) if len(merged) > len(base.inputs) else base)
        self.cps: list[CompiledProgram] = [compiled(v.book.program) for v in variants]
        self.outputs = list(base.outputs)
        self.money = [base.values[o].type.kind == "money" for o in self.outputs]
        # per variant: where each output sits among the compiled values, and how a missing rule reads
        self.out_pos = [[cp.names.index(o) for o in self.outputs] for cp in self.cps]
        self.out_kind = [[cp.kinds[k] for k in pos] for cp, pos in zip(self.cps, self.out_pos)]
        self.pickers = [picker(pos) for pos in self.out_pos]
        self.pick_other = picker([j for j in range(len(self.outputs)) if not self.money[j]])
        counters = [counters_for(v.book.program) for v in variants]
        if any(c != counters[0] for c in counters[1:]):
            raise UsageError("a scenario keeps other yearly caps than the rule book in force (an input or output "
                             "of a cap is missing)")
        self.counters: tuple[Counter, ...] = counters[0]
        self.ledgers = [YearlyLedger(self.counters) for _ in variants]
        self.chargers = [ledger.charger(cp.names) for ledger, cp in zip(self.ledgers, self.cps)]
        # the yearly maximum of a cap: a value of each rule book's decision (its position), or a parameter
        self.limits: list[tuple[int, list[int | Parameter]]] = []
        for i, c in enumerate(self.counters):
            where: list[int | Parameter] = []
            for cp in self.cps:
                if c.limit is None:
                    break
                if c.limit in cp.names:
                    where.append(cp.names.index(c.limit))
                elif c.limit in cp.program.parameters:
                    where.append(cp.program.parameters[c.limit])
            if c.limit is not None and len(where) == len(self.cps):
                self.limits.append((i, where))
        self.dispatch = self.cps[0].dispatch_input
        self.reach: list[frozenset[Any] | None] = [None]
        self.reach += [reach(v.book, variants[0].book, self.dispatch) for v in variants[1:]]
        self.field_getters = [self._getter(f) for f in fields]
        size = path.stat().st_size
        self.header, self.start = self._header()
        self.partitions = max(jobs * 4, (size - self.start) // PARTITION_BYTES + 1)
        self.ranges = line_ranges(path, self.start, size, max(jobs * 2, (size - self.start) // (32 << 20) + 1)) \
            if size > self.start else []
        self.size = size

    # ---------------------------------------------------------- set-up

    def _header(self) -> tuple[ClaimColumns | None, int]:
        if self.form != "csv":
            return None, 0
        with self.path.open("rb") as fh:
            first = fh.readline()
        text = first.decode("utf-8-sig", errors="replace").rstrip("\r\n")
        import csv

        header = next(csv.reader([text]), [])
        return ClaimColumns(header, self.inputs, f"{self.shown}:1"), len(first)

    def _getter(self, f: Field) -> Callable[[Mapping[str, Any], tuple[Any, ...], dt.date], str]:
        if f.kind == "year":
            return lambda inputs, vals, day: str(day.year)
        if f.kind == "month":
            return lambda inputs, vals, day: day.isoformat()[:7]
        if f.kind == "input":
            name = f.source

            def from_input(inputs: Mapping[str, Any], vals: tuple[Any, ...], day: dt.date) -> str:
                v = inputs.get(name)  # type: ignore[arg-type]
                return "(none)" if v is None else str(to_json(v))

            return from_input
        k = self.cps[0].names.index(f.source or "")
        if f.kind == "age_band":
            return lambda inputs, vals, day: age_band(vals[k]) if vals[k] is not None else "(none)"

        def from_value(inputs: Mapping[str, Any], vals: tuple[Any, ...], day: dt.date) -> str:
            v = vals[k]
            return "(none)" if v is None else str(to_json(v))

        return from_value

    # ---------------------------------------------------------- the passes

    def go(self, progress: bool | None) -> _Tally:
        counts = [0] * self.partitions
        with Progress(self.size - self.start, "partitioning", unit="bytes", show=progress) as meter:
            if self.jobs == 1:
                for r in range(len(self.ranges)):
                    counts = [a + b for a, b in zip(counts, self._split(r))]
                    meter.add(self.ranges[r][1] - self.ranges[r][0])
            else:
                with Pool(self._split, self.jobs, name="a simulation worker") as pool:
                    for r, done in enumerate(pool.map(range(len(self.ranges)))):
                        if isinstance(done, WorkerFailure):
                            raise PassendeZorgError(f"{self.shown}: the claims could not be partitioned: {done.reason}")
                        counts = [a + b for a, b in zip(counts, done)]
                        meter.add(self.ranges[r][1] - self.ranges[r][0])
        total = _Tally(self)
        order = sorted(range(self.partitions), key=lambda k: -counts[k])  # the largest first: the last tasks are short
        with Progress(sum(counts), "deciding", unit="claims", show=progress) as meter:
            if self.jobs == 1:
                for k in order:
                    total.add(self._decide(k))
                    meter.add(counts[k])
            else:
                with Pool(self._decide, self.jobs, name="a simulation worker") as pool:
                    for k, part in zip(order, pool.map(order)):
                        if isinstance(part, WorkerFailure):
                            raise PassendeZorgError(f"{self.shown}: a simulation worker failed on the claims of "
                                                    f"partition {k}: {part.reason}")
                        total.add(part)
                        meter.add(counts[k])
        return total

    def _part_file(self, r: int, k: int) -> Path:
        return self.tmp / f"r{r:05d}-p{k:05d}"

    def _split(self, r: int) -> list[int]:
        """Pass 1: the lines of byte range ``r``, each to the partition of its insured person."""
        a, b, line = self.ranges[r]
        parts = self.partitions
        buffers: list[list[bytes]] = [[] for _ in range(parts)]
        sizes = [0] * parts
        counts = [0] * parts
        handles: dict[int, Any] = {}
        csv_col = self.header.insured_column if self.header is not None else -1
        lineno = line - 1
        left = b - a

        def flush(k: int) -> None:
            fh = handles.get(k)
            if fh is None:
                fh = handles[k] = self._part_file(r, k).open("wb")
            fh.write(b"".join(buffers[k]))
            buffers[k].clear()
            sizes[k] = 0

        try:
            with self.path.open("rb") as src:
                src.seek(a)
                for raw in src:
                    if left <= 0:
                        break
                    left -= len(raw)
                    lineno += 1
                    if not raw.strip():
                        continue
                    who = self._insured(raw, csv_col)
                    k = partition_of(who, parts) if who is not None else 0
                    record = b"%d\t%s" % (lineno, raw if raw.endswith(b"\n") else raw + b"\n")
                    buffers[k].append(record)
                    sizes[k] += len(record)
                    counts[k] += 1
                    if sizes[k] > 1 << 18:
                        flush(k)
            for k in range(parts):
                if buffers[k]:
                    flush(k)
        finally:
            for fh in handles.values():
                fh.close()
        return counts

    @staticmethod
    def _insured(raw: bytes, csv_col: int) -> str | None:
        """The insured person of a raw line, as Claim.from_data will read it (None: the line is not a claim)."""
        if csv_col < 0:
            m = _INSURED_JSON.search(raw)
            if m is None:
                return None
            if m.group(2) is not None:
                return str(int(m.group(2)))
            text = m.group(1)
            try:
                value = json.loads(b'"' + text + b'"') if b"\\" in text else text.decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return None
            return str(value).strip()
        import csv

        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        cells = line.rstrip("\r\n").split(",") if '"' not in line else next(csv.reader([line]), [])
        return cells[csv_col].strip() if csv_col < len(cells) else None

    # ---------------------------------------------------------- pass 2: a partition, person by person

    def _read(self, k: int, tally: _Tally) -> dict[str, list[tuple[dt.date, int, str, int, dict[str, Any]]]]:
        """The claims of partition ``k``, typed, grouped by insured person; bad ones go to the tally's rejections.

        Each claim is (date, its place in the file, claim id, line number, typed inputs)."""
        persons: dict[str, list[tuple[dt.date, int, str, int, dict[str, Any]]]] = {}
        seen: dict[tuple[str, str], int] = {}  # (person, claim id) -> the line it was first read from
        typer = self.typer
        peil = self.peildatum or ""
        state_inputs = {c.input for c in self.counters}
        loads = json.loads
        seq = 0
        for r in range(len(self.ranges)):
            path = self._part_file(r, k)
            if not path.exists():
                continue
            with path.open("rb") as fh:
                for record in fh:
                    tab = record.index(b"\t")
                    lineno = int(record[:tab])
                    seq += 1
                    inputs = None
                    if self.header is None:
                        # the common case, checked in place: {"claim_id": "…", "insured_id": "…", "input": {…}}
                        try:
                            data = loads(record[tab + 1:])
                        except ValueError:
                            data = None
                        if type(data) is dict and len(data) == 3:
                            cid, who, facts = data.get("claim_id"), data.get("insured_id"), data.get("input")
                            if type(cid) is str and type(who) is str and type(facts) is dict and cid and who \
                                    and cid.strip() == cid and who.strip() == who:
                                inputs = typer(facts)
                                if inputs is not None and not state_inputs.intersection(inputs):
                                    day = inputs.get(peil)
                                    if day is not None and (who, cid) not in seen:
                                        seen[(who, cid)] = lineno
                                        persons.setdefault(who, []).append((day, seq, cid, lineno, inputs))
                                        continue
                    claim = self._claim(record[tab + 1:], lineno, tally)  # the long way, with its error if any
                    if claim is None:
                        continue
                    first = seen.get((claim[0], claim[1]))
                    if first is not None:
                        tally.reject(f"{self.shown}:{lineno}", f"claim {claim[1]} of {claim[0]} was read before (line "
                                     f"{first}); a claim id is decided once, as in claim processing")
                        continue
                    seen[(claim[0], claim[1])] = lineno
                    persons.setdefault(claim[0], []).append((claim[2], seq, claim[1], lineno, claim[3]))
        return persons

    def _claim(self, raw: bytes, lineno: int, tally: _Tally) -> tuple[str, str, dt.date, dict[str, Any]] | None:
        """One line read and checked the long way: (insured id, claim id, date, typed inputs), or None when it is
        rejected (the tally gets the reason, with the file and line)."""
        import csv

        where = f"{self.shown}:{lineno}"
        try:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ClaimError(where, f"not UTF-8 text ({e.reason})") from None
            if self.header is None:
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as e:
                    raise ClaimError(where, f"not valid JSON (column {e.colno}): {e.msg.removesuffix(' at')}") from None
                claim = Claim.from_data(data, where)
            else:
                claim = self.header.claim(next(csv.reader([text.rstrip("\r\n")]), []), where)
            facts = claim.input
            inputs = self.typer(facts) if type(facts) is dict else None
            if inputs is None:
                try:
                    inputs = typed_inputs(facts, self.inputs, f"{where}: ")
                except CaseError as e:
                    raise ClaimError(e.where, e.message) from None
            used = {c.input for c in self.counters}.intersection(inputs)
            if used:
                raise ClaimError(where, f"input.{sorted(used)[0]} is what the person used so far this year: the "
                                 "simulation keeps it per person; leave it out of the claim")
            day = inputs.get(self.peildatum) if self.peildatum else None
            if day is None:
                raise ClaimError(where, f"the claim has no {self.peildatum} (its peildatum)")
        except ClaimError as e:
            tally.reject(e.where or where, e.message)
            return None
        return claim.insured_id, claim.claim_id, day, inputs

    def _decide(self, k: int) -> _Tally:
        tally = _Tally(self)
        persons = self._read(k, tally)
        for person, items in persons.items():
            items.sort(key=lambda c: (c[0], c[1]))
            self._person(person, items, tally)
        return tally

    def _slow(self, vi: int, fast: Any, inputs: dict[str, Any], day: dt.date) -> tuple[tuple[Any, ...], tuple[Any, ...],
                                                                                dict[int, str]]:
        """A claim the two-valued blocks did not decide entirely: every value, its deciding rule, and the statuses
        of the values decided in three-valued logic (or by the interpreter, when the fast path gave nothing)."""
        cp = self.cps[vi]
        if fast is not None:
            return fast[0], fast[1], {k: o.status for k, o in fast.decided.items()}
        results = Evaluation(cp.program, inputs, day, trace=False).run()
        vals = tuple(results[nm].value if results[nm].known else None for nm in cp.names)
        rules = tuple(results[nm].rule for nm in cp.names)
        return vals, rules, {k: results[nm].status for k, nm in enumerate(cp.names)}

    def status(self, vi: int, j: int, rules: tuple[Any, ...], extra: dict[int, str] | None) -> str:
        """The status of output ``j`` under variant ``vi``, from its deciding rules (one per output) and the statuses
        the three-valued blocks found (by position among all values)."""
        pos = self.out_pos[vi][j]
        if extra is not None and pos in extra:
            return extra[pos]
        if rules[j] is None:
            kind = self.out_kind[vi][j]
            if kind == WITH_DEFAULT:
                return "default"
            if kind == NO_DEFAULT:
                return "undetermined"
        return "value"

    def _person(self, person: str, items: list[tuple[dt.date, int, str, int, dict[str, Any]]], tally: _Tally) -> None:
        nv = len(self.variants)
        names = [c.input for c in self.counters]
        zeros = [ZERO] * len(names)
        accounts: list[dict[int, list[Decimal]]] = [{} for _ in range(nv)]
        reached: list[dict[tuple[int, int], int]] = [{} for _ in range(nv)]  # (counter, year) -> month reached
        changed_person = [False] * nv
        years: set[int] = set()
        plan = [(vi, accounts[vi], reached[vi], cp.run, self.chargers[vi], self.pickers[vi])
                for vi, cp in enumerate(self.cps)]
        limits = self.limits
        getters = self.field_getters
        dispatch = self.dispatch
        reach = self.reach
        own_inputs = self.scenario_inputs
        base_charge = self.chargers[0]
        for day, _seq, claim_id, lineno, inputs in items:
            year = day.year
            years.add(year)
            results: list[tuple[Any, ...]] = []
            kind = inputs.get(dispatch) if dispatch is not None else None
            for vi, accs, got, run, charge, pick in plan:
                acc = accs.get(year)
                if acc is None:
                    acc = accs[year] = list(zeros)
                source_vi = vi
                reachable = reach[vi]
                if reachable is not None and kind is not None and kind not in reachable \
                        and tuple(acc) == results[0][3] and not (own_inputs and not own_inputs.isdisjoint(inputs)):
                    # no change of this scenario can reach a claim of this kind, and the person's year stands as
                    # under the law in force: the decision is the law in force's, without deciding it again
                    vals = results[0][4]
                    results.append(results[0])
                    base_charge(acc, inputs, vals)
                    source_vi = 0
                else:
                    for name, amount in zip(names, acc):
                        inputs[name] = amount
                    used = tuple(acc)
                    fast = run(inputs, day)
                    if fast is not None and fast[3] is None:
                        vals, rules, extra = fast[0], fast[1], None
                    else:
                        vals, rules, extra = self._slow(vi, fast, inputs, day)
                    charge(acc, inputs, vals)
                    results.append((pick(vals), pick(rules), extra, used, vals))
                for ci, where in limits:
                    if (ci, year) not in got:
                        source = where[source_vi]
                        if isinstance(source, int):
                            limit = vals[source]
                        else:
                            period = source.period_on(day)
                            limit = period.value if period is not None else None
                        if limit is not None and acc[ci] >= limit:
                            got[(ci, year)] = day.month
            base_vals = results[0][4]
            key = tuple([g(inputs, base_vals, day) for g in getters])
            changed = tally.claim(self, key, results)
            if changed:
                for s in changed:
                    changed_person[s] = True
                    if self.sample:
                        tally.offer(s, claim_id, person, f"{self.shown}:{lineno}", day, inputs, results[0][3],
                                    results[s][3], self)
        tally.persons += 1
        tally.person_years += len(years)
        for s in range(1, nv):
            if changed_person[s]:
                tally.changed_persons[s] += 1
        tally.yearly(self, reached, years)


def reach(book: RuleBook, in_force: RuleBook, dispatch: str | None) -> frozenset[Any] | None:
    """The values of the dispatch input (the kind of care) of the claims whose decision a scenario's changes can
    make differ from the law in force's; None: any claim (or not a scenario of this rule book).

    Found from what the scenario records: the rules it adds and switches off, each with the kinds of care its
    condition names (a rule whose condition names none reaches every claim), and the parameters and tables it
    changes (one of the rule book in force reaches every claim; one it declares itself is read only by its own
    rules). A claim out of reach, of a person whose year stands as under the law in force, is decided as under the
    law in force.
    """
    sc = book.scenario
    if sc is None or dispatch is None or book.program.content_hash == in_force.program.content_hash:
        return None
    declared = {name for _kind, name in sc.declared}
    if any(name not in declared for name in (*sc.parameters, *sc.tables)):
        return None
    rules = [book.program.rules.get(name) for name in sc.rules]
    rules += [in_force.program.rules.get(name) for name in sc.switched_off]
    out: set[Any] = set()
    for rule in rules:
        if rule is None:
            return None
        kinds = _kinds_named(rule.when, dispatch)
        if kinds is None:
            return None
        out |= kinds
    return frozenset(out)


def _kinds_named(when: Any, dispatch: str) -> set[Any] | None:
    """The values a condition requires of the dispatch input (``soort = x``, ``soort in [x, y]`` among the
    conditions joined by ``and``); None if it requires none."""
    from . import nodes as n

    parts = [when] if when is not None else []
    found: set[Any] | None = None
    while parts:
        e = parts.pop()
        if isinstance(e, n.Binary) and e.op == "and":
            parts += [e.left, e.right]
            continue
        if not (isinstance(e, n.Binary) and e.op in ("=", "in")):
            continue
        left, right = e.left, e.right
        if e.op == "=" and isinstance(left, n.Literal):
            left, right = right, left
        if not (isinstance(left, n.Ref) and left.kind == "input" and left.name == dispatch):
            continue
        if e.op == "=" and isinstance(right, n.Literal):
            values = {right.value}
        elif e.op == "in" and isinstance(right, n.ListLit) and all(isinstance(x, n.Literal) for x in right.items):
            values = {x.value for x in right.items if isinstance(x, n.Literal)}
        else:
            continue
        found = values if found is None else found & values
    return found


# ------------------------------------------------------------------ totals, per partition and merged


class _Tally:
    """What a partition adds up to; partitions are merged by ``add``. Small, and sent between processes."""

    def __init__(self, run: _Run) -> None:
        nv = len(run.variants)
        no = len(run.outputs)
        self.nv = nv
        self.no = no
        self.money_idx = [j for j in range(no) if run.money[j]]
        self.other_idx = [j for j in range(no) if not run.money[j]]
        self.claims = 0
        self.persons = 0
        self.person_years = 0
        self.rejected = 0
        self.rejections: list[tuple[str, str]] = []
        # breakdown cube: key -> [claims, base sums (one per money output), then per scenario: changed, deltas]
        self.cube: dict[tuple[str, ...], list[Any]] = {}
        self.width = len(self.money_idx)
        # non-money outputs: (variant, output, value) -> claims (scenarios: the difference from the law in force);
        # under the law in force first counted per combination of values (one look-up per claim)
        self.counts: dict[tuple[int, int, Any], int] = {}
        self.base_other: dict[tuple[Any, ...], int] = {}
        # money outputs not decided: (variant, output, status) -> claims (scenarios: differences)
        self.undecided: dict[tuple[int, int, str], int] = {}
        self.changed_output = [[0] * no for _ in range(nv)]
        self.changed_claims = [0] * nv
        self.changed_persons = [0] * nv
        self.rule_only = [0] * nv
        self.rules: dict[tuple[int, int, str | None, str | None], list[Any]] = {}
        ncaps = len(run.limits)
        self.reached = [[[0] * 12 for _ in range(ncaps)] for _ in range(nv)]
        self.cap_years = [0] * ncaps
        self.moved = [[dict.fromkeys(("both", "only_in_force", "only_scenario", "earlier", "later", "same_month"), 0)
                       for _ in range(ncaps)] for _ in range(nv)]
        self.samples: list[list[tuple[int, str, dict[str, Any]]]] = [[] for _ in range(nv)]  # max-heaps by -hash
        self.sample_size = run.sample

    # ---------------------------------------------------------- per claim

    def claim(self, run: _Run, key: tuple[str, ...], results: list[tuple[Any, ...]]) -> list[int]:
        """Count one claim decided under every variant; the scenarios (by position) that changed it."""
        self.claims += 1
        cell = self.cube.get(key)
        w = self.width
        if cell is None:
            cell = self.cube[key] = [0] + [ZERO] * w + ([0] + [ZERO] * w) * (self.nv - 1)
        cell[0] += 1
        bvals, brules, bextra, _bused, _ = results[0]
        money = self.money_idx
        for m, j in enumerate(money, 1):
            v = bvals[j]
            if v is not None:
                cell[m] += v
        counts = self.counts
        other = run.pick_other(bvals)
        if None in other:
            other = tuple(("status", run.status(0, j, brules, bextra)) if v is None else v
                          for j, v in zip(self.other_idx, other))
        self.base_other[other] = self.base_other.get(other, 0) + 1
        if bextra is not None or None in bvals:
            for j in money:
                if bvals[j] is None:
                    st = run.status(0, j, brules, bextra)
                    k3 = (0, j, st)
                    self.undecided[k3] = self.undecided.get(k3, 0) + 1
        changed: list[int] = []
        for s in range(1, self.nv):
            svals, srules, sextra, _sused, _ = results[s]
            if svals == bvals and srules == brules and sextra is None and bextra is None:
                continue
            base_status = [run.status(0, j, brules, bextra) for j in range(self.no)]
            scen_status = [run.status(s, j, srules, sextra) for j in range(self.no)]
            value_changed = False
            off = 1 + w + (s - 1) * (w + 1)
            for j in range(self.no):
                b, a = bvals[j], svals[j]
                bs, ss = base_status[j], scen_status[j]
                same_value = b == a and _decided(bs) == _decided(ss) and (_decided(bs) or bs == ss)
                if not same_value:
                    value_changed = True
                    self.changed_output[s][j] += 1
                    if run.money[j]:
                        m = money.index(j)
                        cell[off + 1 + m] += (a if a is not None else ZERO) - (b if b is not None else ZERO)
                        if b is None:
                            self._bump(self.undecided, (s, j, bs), -1)
                        if a is None:
                            self._bump(self.undecided, (s, j, ss), 1)
                    else:
                        self._bump(counts, (s, j, b if b is not None else ("status", bs)), -1)
                        self._bump(counts, (s, j, a if a is not None else ("status", ss)), 1)
                if not same_value or brules[j] != srules[j]:
                    rk = (s, j, brules[j], srules[j])
                    entry = self.rules.get(rk)
                    if entry is None:
                        entry = self.rules[rk] = [0, ZERO, ZERO]
                    entry[0] += 1
                    if run.money[j]:
                        entry[1] += b if b is not None else ZERO
                        entry[2] += a if a is not None else ZERO
            if value_changed:
                changed.append(s)
                cell[off] += 1
                self.changed_claims[s] += 1
            elif svals != bvals or srules != brules:
                self.rule_only[s] += 1
        return changed

    @staticmethod
    def _bump(d: dict[Any, int], key: Any, n: int) -> None:
        d[key] = d.get(key, 0) + n

    def offer(self, s: int, claim_id: str, person: str, where: str, day: dt.date, inputs: dict[str, Any],
              used_before: tuple[Decimal, ...], used_after: tuple[Decimal, ...], run: _Run) -> None:
        """A changed claim for the sample: the ones with the smallest hash of their id are kept, in any order."""
        h = zlib.crc32(claim_id.encode("utf-8"))
        heap = self.samples[s]
        if len(heap) >= self.sample_size and -heap[0][0] <= h:
            return
        names = [c.input for c in run.counters]
        facts = {k: to_json(v) for k, v in inputs.items() if k not in names}
        record = {"claim_id": claim_id, "insured_id": person, "where": where, "peildatum": day.isoformat(),
                  "facts": facts, "used_before": [str(x) for x in used_before],
                  "used_after": [str(x) for x in used_after]}
        item = (-h, claim_id, record)
        if len(heap) >= self.sample_size:
            heapq.heapreplace(heap, item)
        else:
            heapq.heappush(heap, item)

    def yearly(self, run: _Run, reached: list[dict[tuple[int, int], int]], years: set[int]) -> None:
        """A person's years: who reached each yearly maximum, in which month, and how a scenario moved that."""
        for c, (ci, _pos) in enumerate(run.limits):
            self.cap_years[c] += len(years)
            for year in years:
                base = reached[0].get((ci, year))
                for vi in range(self.nv):
                    month = reached[vi].get((ci, year))
                    if month is not None:
                        self.reached[vi][c][month - 1] += 1
                    if vi == 0:
                        continue
                    moved = self.moved[vi][c]
                    if base is not None and month is not None:
                        moved["both"] += 1
                        moved["earlier" if month < base else "later" if month > base else "same_month"] += 1
                    elif base is not None:
                        moved["only_in_force"] += 1
                    elif month is not None:
                        moved["only_scenario"] += 1

    def reject(self, where: str, message: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REJECTIONS:
            self.rejections.append((where, message))

    # ---------------------------------------------------------- merging

    def add(self, other: _Tally) -> None:
        self.claims += other.claims
        self.persons += other.persons
        self.person_years += other.person_years
        self.rejected += other.rejected
        self.rejections.extend(other.rejections[:max(0, MAX_REJECTIONS - len(self.rejections))])
        for key, cell in other.cube.items():
            mine = self.cube.get(key)
            if mine is None:
                self.cube[key] = list(cell)
            else:
                for i, v in enumerate(cell):
                    mine[i] += v
        for key1, n1 in other.counts.items():
            self.counts[key1] = self.counts.get(key1, 0) + n1
        for key0, n0 in other.base_other.items():
            self.base_other[key0] = self.base_other.get(key0, 0) + n0
        for key2, n2 in other.undecided.items():
            self.undecided[key2] = self.undecided.get(key2, 0) + n2
        for s in range(self.nv):
            for j in range(self.no):
                self.changed_output[s][j] += other.changed_output[s][j]
            self.changed_claims[s] += other.changed_claims[s]
            self.changed_persons[s] += other.changed_persons[s]
            self.rule_only[s] += other.rule_only[s]
            for c in range(len(self.reached[s])):
                for m in range(12):
                    self.reached[s][c][m] += other.reached[s][c][m]
                for k2, v2 in other.moved[s][c].items():
                    self.moved[s][c][k2] += v2
            for item in other.samples[s]:
                heap = self.samples[s]
                if len(heap) < self.sample_size:
                    heapq.heappush(heap, item)
                elif item[0] > heap[0][0]:
                    heapq.heapreplace(heap, item)
        for c in range(len(self.cap_years)):
            self.cap_years[c] += other.cap_years[c]
        for rk, entry in other.rules.items():
            mine2 = self.rules.get(rk)
            if mine2 is None:
                self.rules[rk] = list(entry)
            else:
                for i in range(3):
                    mine2[i] += entry[i]


def _decided(status: str) -> bool:
    return status in ("value", "default")


# ------------------------------------------------------------------ the result


def _result(run: _Run, t: _Tally, shown: str) -> Simulation:
    keys = [v.key for v in run.variants]
    for combination, n in t.base_other.items():
        for j, v in zip(t.other_idx, combination):
            t.counts[(0, j, v)] = t.counts.get((0, j, v), 0) + n
    outputs: dict[str, OutputSummary] = {}
    money_pos = {j: m for m, j in enumerate(t.money_idx, 1)}
    w = t.width
    for j, name in enumerate(run.outputs):
        decl = run.program.values[name]
        o = OutputSummary(name, str(decl.type), run.money[j])
        if run.money[j]:
            m = money_pos[j]
            base = sum((cell[m] for cell in t.cube.values()), ZERO)
            o.totals[BASE] = base
            for s in range(1, t.nv):
                off = 1 + w + (s - 1) * (w + 1)
                o.totals[keys[s]] = base + sum((cell[off + m] for cell in t.cube.values()), ZERO)
        counts: dict[str, dict[str, int]] = {k: {} for k in keys}
        source = t.counts if not run.money[j] else {(vi, jj, ("status", st)): n for (vi, jj, st), n in t.undecided.items()}
        for (vi, jj, v), nclaims in source.items():
            if jj != j:
                continue
            label = value_label(v)
            counts[keys[vi]][label] = counts[keys[vi]].get(label, 0) + nclaims
        for s in range(1, t.nv):  # scenarios hold differences from the law in force
            merged = dict(counts[BASE])
            for label, d in counts[keys[s]].items():
                merged[label] = merged.get(label, 0) + d
            counts[keys[s]] = {k: v for k, v in merged.items() if v}
        o.counts = {k: dict(sorted(v.items())) for k, v in counts.items()}
        o.changed = {keys[s]: t.changed_output[s][j] for s in range(1, t.nv)}
        outputs[name] = o
    breakdowns: dict[str, list[Bucket]] = {}
    for fi, f in enumerate(run.fields):
        buckets: dict[str, list[Any]] = {}
        for key, cell in t.cube.items():
            acc = buckets.get(key[fi])
            if acc is None:
                buckets[key[fi]] = list(cell)
            else:
                for i, v in enumerate(cell):
                    acc[i] += v
        out = []
        for value, cell in sorted(buckets.items(), key=lambda kv: (-kv[1][0], kv[0])):
            totals: dict[str, dict[str, Decimal]] = {}
            for j, m in money_pos.items():
                per = {BASE: cell[m]}
                for s in range(1, t.nv):
                    per[keys[s]] = cell[m] + cell[1 + w + (s - 1) * (w + 1) + m]
                totals[run.outputs[j]] = per
            changed = {keys[s]: cell[1 + w + (s - 1) * (w + 1)] for s in range(1, t.nv)}
            out.append(Bucket(value, cell[0], changed, totals))
        breakdowns[f.name] = out
    rules: dict[str, list[RuleChange]] = {keys[s]: [] for s in range(1, t.nv)}
    for (s, j, before, after), (count, bsum, asum) in t.rules.items():
        money = run.money[j]
        rules[keys[s]].append(RuleChange(run.outputs[j], before, after, count, bsum if money else None,
                                         asum if money else None))
    for lst in rules.values():
        lst.sort(key=lambda r: (-r.claims, r.output, r.before or "", r.after or ""))
    yearly = []
    for c, (ci, _pos) in enumerate(run.limits):
        counter = run.counters[ci]
        yearly.append(YearlyCap(counter.input, counter.label or counter.input, counter.limit or "", t.cap_years[c],
                                {keys[vi]: list(t.reached[vi][c]) for vi in range(t.nv)},
                                {keys[s]: dict(t.moved[s][c]) for s in range(1, t.nv)}))
    sample = {keys[s]: _explain(run, s, t.samples[s]) for s in range(1, t.nv)}
    return Simulation(
        source=shown, variants=run.variants, claims=t.claims, persons=t.persons, person_years=t.person_years,
        rejected=t.rejected, rejections=t.rejections, outputs=outputs,
        changed_claims={keys[s]: t.changed_claims[s] for s in range(1, t.nv)},
        changed_persons={keys[s]: t.changed_persons[s] for s in range(1, t.nv)},
        rule_only={keys[s]: t.rule_only[s] for s in range(1, t.nv)},
        fields=run.fields, breakdowns=breakdowns, rules=rules, yearly=yearly, sample=sample)


def _explain(run: _Run, s: int, heap: list[tuple[int, str, dict[str, Any]]]) -> list[SampleClaim]:
    """The sampled changed claims, each decided again with its explanation under both rule books."""
    out = []
    names = [c.input for c in run.counters]
    for _h, _id, rec in sorted(heap, key=lambda item: (-item[0], item[1])):
        decisions = []
        for vi, used in ((0, rec["used_before"]), (s, rec["used_after"])):
            book = run.variants[vi].book
            facts = {k: v for k, v in rec["facts"].items() if k in book.program.inputs}  # its own inputs only
            facts.update(zip(names, used))
            try:
                decisions.append(book.evaluate(Case(facts, rec["claim_id"])))
            except PassendeZorgError as e:  # pragma: no cover - the fast path decided the same facts
                raise PassendeZorgError(f"{rec['where']}: the sampled claim could not be explained: {e}") from None
        before, after = decisions
        changed = [o for o in run.outputs
                   if (before.outputs[o].status, before.outputs[o].value) != (after.outputs[o].status, after.outputs[o].value)]
        out.append(SampleClaim(rec["claim_id"], rec["insured_id"], rec["where"], dt.date.fromisoformat(rec["peildatum"]),
                               changed, before, after, dict(zip(names, map(Decimal, rec["used_before"]))),
                               dict(zip(names, map(Decimal, rec["used_after"])))))
    return out

