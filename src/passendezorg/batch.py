"""Batches: many cases from a JSON-lines or CSV file, on every core, in constant memory.

``evaluate_file`` splits the input file into byte ranges that start at a record:
a line of JSON lines; a CSV record, which a quoted cell with a line break in it
makes longer than a line (a range starts at a line break outside quotes: where
the count of quote characters from the start of the data is even, as RFC 4180
quoting makes it). Forked worker processes each read their own ranges and write their own
output chunk files; the parent only hands out range numbers and appends the
finished chunks to the output in input order. No case and no result is
pickled between processes. Each case takes the compiled fast path
(engines/compiled.py): two-valued blocks, and three-valued ones for the values that
read a missing input, fail or conflict (the interpreter only as a last resort);
a line that cannot be read or is not a valid case becomes a failure record
with its line number, and the rest go on.

Output, one JSON line per case, in input order:

* compact (the default)::

    {"case":"17","values":{"insured":true,"tariff":1000},"rules":{"insured":"R2b","tariff":"R6"}}

  plus ``"status"`` for outputs whose status is not ``value``,
  ``"needs"`` for undetermined outputs that name missing inputs, and
  ``"reason"`` for errors and conflicts.
* ``explain=True``: the full Decision JSON, as ``passendezorg evaluate --format jsonl`` writes it.
* a failure: ``{"format":"passendezorg.failure/1","case":…,"line":12,"error":"…"}``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import operator
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .cases import CASE_FIELDS, JSON_DECODER, Case, JsonProblem, case_from_data, decode_json, name_of
from .engines.compiled import (
    BY_DEFINITION,
    NO_DEFAULT,
    WITH_DEFAULT,
    CompiledProgram,
    FastResult,
    compile_program,
    compile_typer,
)
from .engines.expand import original_rule, restore, written_out
from .engines.interpreter import Evaluation
from .engines.semantics import CONFLICT_REASON, Outcome
from .errors import CaseError, PassendeZorgError, UsageError, internal_error
from .model import CaseFailure, FastDecision
from .program import Program, instance
from .progress import Progress
from .values import parse_date, to_json
from .workers import FORK, Pool, WorkerFailure, jobs_for

log = logging.getLogger(__name__)

FORMATS = ("jsonl", "csv")
CHUNK_BYTES = 8 << 20  # a worker's unit of work: about 40,000 claims of 200 bytes

# ------------------------------------------------------------------ compiled programs, once per rule book

_COMPILED: dict[int, tuple[Program, CompiledProgram]] = {}
_READY: dict[int, tuple[Program, _Ready]] = {}


def compiled(program: Program) -> CompiledProgram:
    """The compiled form of a program, compiled once per process (and inherited by forked workers)."""
    found = _COMPILED.get(id(program))
    if found is not None and found[0] is program:
        return found[1]
    cp = compile_program(program)
    if len(_COMPILED) >= 8:
        _COMPILED.clear()
    _COMPILED[id(program)] = (program, cp)
    return cp


@dataclass(frozen=True)
class _Ready:
    """What a batch needs of one rule book besides the compiled program: built once, not per call."""

    cp: CompiledProgram
    outputs: _Outputs
    typed: Callable[[Mapping[str, Any]], dict[str, Any] | None]
    line: _LineWriter


def ready(program: Program) -> _Ready:
    """The compiled program, its input typer and its line writer, built once per rule book and process."""
    found = _READY.get(id(program))
    if found is not None and found[0] is program:
        return found[1]
    cp = compiled(program)
    r = _Ready(cp, _Outputs(cp), compile_typer(program), _LineWriter(cp))
    if len(_READY) >= 8:
        _READY.clear()
    _READY[id(program)] = (program, r)
    return r


# ------------------------------------------------------------------ results


class _Outputs:
    """Turns a fast result or the interpreter's outcomes into a FastDecision for the outputs."""

    def __init__(self, cp: CompiledProgram) -> None:
        self.cp = cp
        index = {name: k for k, name in enumerate(cp.names)}
        self.outputs = [(name, index[name], cp.kinds[index[name]]) for name in cp.program.outputs]
        self.scenario = cp.program.scenario.name if cp.program.scenario is not None else None

    def from_fast(self, case: str | None, fast: FastResult) -> FastDecision:
        vals, rules = fast[0], fast[1]
        decided = fast.decided
        values: dict[str, Any] = {}
        deciding: dict[str, str | None] = {}
        status: dict[str, str] = {}
        needs: dict[str, list[str]] = {}
        reason: dict[str, str] = {}
        for name, k, kind in self.outputs:
            v = vals[k]
            r = rules[k]
            values[name] = v
            deciding[name] = r
            o = decided.get(k)
            if o is not None:  # decided in three-valued logic: its status, needs and reason
                _note(name, o, status, needs, reason)
            elif r is None and kind != BY_DEFINITION:
                status[name] = "default" if kind == WITH_DEFAULT else "undetermined"
        return FastDecision(case, values, deciding, status, needs, reason, fast=not decided, scenario=self.scenario)

    def from_outcomes(self, case: str | None, results: Mapping[str, Outcome]) -> FastDecision:
        values: dict[str, Any] = {}
        deciding: dict[str, str | None] = {}
        status: dict[str, str] = {}
        needs: dict[str, list[str]] = {}
        reason: dict[str, str] = {}
        for name, _k, _kind in self.outputs:
            o = results[name]
            values[name] = o.value if o.known else None
            deciding[name] = o.rule
            _note(name, o, status, needs, reason)
        return FastDecision(case, values, deciding, status, needs, reason, fast=False, scenario=self.scenario)


def _note(name: str, o: Outcome, status: dict[str, str], needs: dict[str, list[str]], reason: dict[str, str]) -> None:
    """What a compact result says of an output beyond its value and rule: its status, needs and reason."""
    if o.status != "value":
        status[name] = o.status
    if o.needs:
        needs[name] = list(o.needs)
    if o.status in ("error", "conflict") and o.reason:
        reason[name] = o.reason


class _LineWriter:
    """The compact JSON line of a fast result, without building dictionaries: one template per rule book.

    Output and rule names are checked names (letters, digits, underscores and
    dots), written through json.dumps; the template holds nothing else.
    """

    def __init__(self, cp: CompiledProgram) -> None:
        index = {name: k for k, name in enumerate(cp.names)}
        outs = list(cp.program.outputs)
        keys = [json.dumps(o, ensure_ascii=False) for o in outs]
        pct = [k.replace("%", "%%") for k in keys]
        sc = cp.program.scenario
        tail = (',"scenario":' + json.dumps(sc.name, ensure_ascii=False).replace("%", "%%")) if sc is not None else ""
        self.template = ('{"case":%s,"values":{' + ",".join(f"{k}:%s" for k in pct) + '},"rules":{'
                         + ",".join(f"{k}:%s" for k in pct) + "}%s" + tail + "}")
        self.idx = [index[o] for o in outs]
        self.pick = picker(self.idx)
        self.rule_json: dict[str | None, str] = {None: "null"}
        for r in cp.program.rules:
            self.rule_json[r] = json.dumps(r, ensure_ascii=False)
        self.watch = [(index[o], json.dumps(o, ensure_ascii=False),
                       '"default"' if cp.kinds[index[o]] == WITH_DEFAULT else '"undetermined"')
                      for o in outs if cp.kinds[index[o]] in (WITH_DEFAULT, NO_DEFAULT)]

    def __call__(self, case: str, fast: FastResult) -> str:
        vals, rules = fast[0], fast[1]
        pick = self.pick
        status = [f"{key}:{word}" for k, key, word in self.watch if rules[k] is None]
        return self.template % (case, *map(_encode, pick(vals)), *map(self.rule_json.__getitem__, pick(rules)),
                                ',"status":{' + ",".join(status) + "}" if status else "")


def picker(idx: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """itemgetter that always gives a tuple, for any number of items."""
    if len(idx) == 1:
        k = idx[0]
        return lambda t: (t[k],)
    if not idx:
        return lambda t: ()
    return operator.itemgetter(*idx)


def _encode(v: Any) -> str:
    t = type(v)
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return int.__repr__(v)
    if v is None:
        return "null"
    if t is str:
        return json.dumps(v, ensure_ascii=False)
    return json.dumps(to_json(v), ensure_ascii=False)


# ------------------------------------------------------------------ reading cases fast


_CASE_KEYS = frozenset(CASE_FIELDS)
_ID_TYPES = (str, int, float, type(None))  # what a case's name or id may be; anything else: the slow lane says so


class _Evaluator:
    """One rule book, ready to turn raw case data into decisions: fast where it can, exact always."""

    def __init__(self, book: Any, on: dt.date | None = None, explain: bool = False) -> None:
        self.book = book
        self.program: Program = book.program
        self.grouped = bool(self.program.groups)
        self.typed: Callable[[Mapping[str, Any]], dict[str, Any] | None]
        if self.grouped:  # groups of facts: compiled per shape of case (`fast`); every case is typed by prepare
            self.typed = _untyped
        else:
            r = ready(self.program)
            self.cp = r.cp
            self.outputs = r.outputs
            self.typed = r.typed
            self.line = r.line
        self.on = on
        self.explain = explain
        self.peildatum = self.program.peildatum
        self.fallbacks = 0

    def split(self, data: Any, default_name: str | None) -> tuple[str | None, Mapping[str, Any], dt.date | None] | None:
        """(case name, facts, date) of a case in either form: ``{"input": {…}, …}`` or flat facts with an ``id``."""
        if type(data) is not dict:
            return None
        if "input" in data:
            if not data.keys() <= _CASE_KEYS:
                return None
            facts = data["input"]
            if type(facts) is not dict:
                return None
            name = data.get("name") or data.get("id")
            if type(name) not in _ID_TYPES or type(data.get("description")) not in (str, type(None)):
                return None  # the slow lane says what is wrong
            on = data.get("on", data.get("peildatum"))
            day = None
            if on is not None:
                if type(on) is not str:
                    return None
                try:
                    day = parse_date(on)
                except ValueError:
                    return None
            return (str(name) if name is not None else default_name), facts, day
        if type(data.get("id")) not in _ID_TYPES:
            return None
        name = data.pop("id", None)
        return (str(name) if name is not None else default_name), data, None

    def decide(self, data: Any, default_name: str | None, where: str) -> FastDecision | str:
        """A decision (compact, or full JSON text with explain) for raw case data; CaseError if it is malformed."""
        parts = None if self.explain else self.split(data, default_name)
        inputs = None
        day = None
        name = default_name
        if parts is not None:
            name, facts, day = parts
            inputs = self.typed(facts)
            if inputs is not None:
                day = self.on or day or (inputs.get(self.peildatum) if self.peildatum else None)
        if inputs is None or day is None:
            if parts is not None and parts[1] is data and isinstance(data, dict) and name is not None \
                    and name != default_name:
                data["id"] = name  # put back what split took out of flat facts
            case = self._case(data, where, default_name)
            case, inputs, day = self.book.prepare(case, self.on)
            name = case.name
            if self.explain:  # the explained decision of the compiled engine: the interpreter's, byte for byte
                return str(self.book.compiled_decisions().decision(inputs, day, case.name).to_json())
        return self.fast(name, inputs, day)

    def fast(self, name: str | None, inputs: Mapping[str, Any], day: dt.date) -> FastDecision:
        """The compact decision of typed inputs: the generated code, and the interpreter for what it cannot decide."""
        if self.grouped:
            return self.fast_grouped(name, inputs, day)
        fast = self.cp.run(inputs, day)
        if fast is not None:
            decision = self.outputs.from_fast(name, fast)
            if not decision.fast:
                self.fallbacks += 1
            return decision
        self.fallbacks += 1
        return self.outputs.from_outcomes(name, Evaluation(self.program, inputs, day, trace=False).run())

    def fast_grouped(self, name: str | None, inputs: Mapping[str, Any], day: dt.date) -> FastDecision:
        """A rule book with groups of facts: the code generated for this shape of case (``expand.py``), its
        values per record gathered into lists for the outputs per record."""
        written = written_out(self.program, inputs)
        cp = compiled(written)
        outputs = _Outputs(cp)
        fast = cp.run(inputs, day)
        if fast is not None:
            decision = outputs.from_fast(name, fast)
        else:
            decision = outputs.from_outcomes(name, restore(Evaluation(written, inputs, day, trace=False).run()))
        if not decision.fast:
            self.fallbacks += 1
        return regroup(self.program, decision, inputs)

    @staticmethod
    def _case(data: Any, where: str, default_name: str | None) -> Case:
        if isinstance(data, dict) and "input" not in data:
            data = {"input": {k: v for k, v in data.items() if k != "id"}, "id": data.get("id")}
        return case_from_data(data, where, default_name=default_name)


def _untyped(facts: Mapping[str, Any]) -> dict[str, Any] | None:
    """No compiled typer: every case is typed by ``RuleBook.prepare``, which reads lists of records."""
    return None


def regroup(program: Program, d: FastDecision, inputs: Mapping[str, Any]) -> FastDecision:
    """A compact decision of a written-out rule book under the outputs of the rule book: the values of an
    output per record as a list (one per record; None when a record has none, or the case does not give the
    list), its records' deciding rules in ``record_rules``, its status the worst of its records'."""
    values: dict[str, Any] = {}
    rules: dict[str, str | None] = {}
    record_rules: dict[str, list[str | None]] = {}
    status: dict[str, str] = {}
    needs: dict[str, list[str]] = {}
    reason: dict[str, str] = {}
    for out in program.outputs:
        group = program.values[out].group
        if group is None:
            values[out], rules[out] = d.values[out], d.rules[out]
            for mine, theirs in ((status, d.status), (needs, d.needs), (reason, d.reason)):
                if out in theirs:
                    mine[out] = theirs[out]  # type: ignore[assignment]
            continue
        count = program.records(inputs, group)
        if count is None:
            values[out] = rules[out] = None
            status[out], needs[out] = "undetermined", [group]
            continue
        names = [instance(group, i, out) for i in range(count)]
        seen = {d.status[k] for k in names if k in d.status}
        worst = next((s for s in ("error", "conflict", "undetermined") if s in seen), None)
        values[out] = [d.values[k] for k in names] if worst is None else None  # as the decision gives it
        rules[out] = None
        record_rules[out] = [None if d.rules[k] is None else original_rule(str(d.rules[k])) for k in names]
        if worst is not None:
            status[out] = worst
        needed = sorted({x for k in names for x in d.needs.get(k, ())})
        if needed:
            needs[out] = needed
        why = next((f"{k}: {_named_as_written(d.reason[k])}" for k in names if k in d.reason), None)
        if why is not None:
            reason[out] = why
    return FastDecision(d.case, values, rules, status, needs, reason, fast=d.fast, scenario=d.scenario,
                        record_rules=record_rules)


def _named_as_written(reason: str) -> str:
    """A record's conflict with its rules named as the rule book names them (``expand.restore``)."""
    if not reason.startswith(CONFLICT_REASON):
        return reason
    return CONFLICT_REASON + ", ".join(original_rule(r) for r in reason[len(CONFLICT_REASON):].split(", "))


def iter_fast(book: Any, cases: Iterable[Case | Mapping[str, Any]], on: dt.date | None = None, start: int = 0
              ) -> Iterator[FastDecision | CaseFailure]:
    """Evaluate cases in-process: a FastDecision per case (values and deciding rules), or a CaseFailure.

    A case is a Case, or a mapping: ``{"input": {…}}`` or the facts themselves.
    The full reasoned Decision of any case is ``book.evaluate(case)``.
    """
    ev = _Evaluator(book, on)
    for index, item in enumerate(cases, start):
        name = name_of(item)
        try:
            if isinstance(item, Case):
                case, inputs, day = book.prepare(item, on)
                yield ev.fast(case.name, inputs, day)
                continue
            if not isinstance(item, Mapping):
                raise CaseError("case", f"a case is a mapping of facts (or a Case), not {type(item).__name__}")
            data = dict(item)
            decided = ev.decide(data, None, "case")
            assert isinstance(decided, FastDecision)
            yield decided
        except PassendeZorgError as e:
            yield CaseFailure(case=name, index=index, error=str(e))
        except Exception as e:  # noqa: BLE001 - one case must not stop the others
            yield CaseFailure(case=name, index=index, error=internal_error(None, e))


def evaluate_many(book: Any, cases: Iterable[Case | Mapping[str, Any]], *, jobs: int = 1,
                  on: dt.date | None = None) -> list[FastDecision | CaseFailure]:
    """Evaluate cases in memory, in order: a FastDecision (values and deciding rules) or a CaseFailure per case.

    ``jobs`` worker processes (0 means one per core) each take slices of the
    cases, which they inherit without copying; only their results come back
    (one slice at a time). For millions of cases, a file and ``evaluate_file``
    scale better: there nothing crosses between processes.
    """
    items: Sequence[Case | Mapping[str, Any]] = cases if isinstance(cases, Sequence) else list(cases)
    jobs = jobs_for(jobs)
    began = time.perf_counter()
    if jobs == 1 or len(items) < 4096 or not FORK:
        return _summary(list(iter_fast(book, items, on)), began, 1)
    compiled(book.program)  # once, before the workers start
    step = max(1024, min(20_000, len(items) // (jobs * 4) + 1))
    bounds = [(a, min(a + step, len(items))) for a in range(0, len(items), step)]

    def run_slice(b: tuple[int, int]) -> list[FastDecision | CaseFailure]:
        return list(iter_fast(book, items[b[0]:b[1]], on, b[0]))

    out: list[FastDecision | CaseFailure] = []
    with Pool(run_slice, jobs, name="a batch worker") as pool:
        for b, part in zip(bounds, pool.map(bounds)):
            if isinstance(part, WorkerFailure):
                out.extend(CaseFailure(case=name_of(items[k]), index=k, error=f"case {k}: {part.reason}")
                           for k in range(b[0], b[1]))
            else:
                out.extend(part)
    return _summary(out, began, jobs)


def _summary(results: list[FastDecision | CaseFailure], began: float, jobs: int) -> list[FastDecision | CaseFailure]:
    """Log what an in-memory batch did; give its results back."""
    if log.isEnabledFor(logging.INFO):
        failed = sum(1 for r in results if isinstance(r, CaseFailure))
        log.info("batch of %d case(s) in %.2f s on %d worker(s); %d could not be evaluated", len(results),
                 time.perf_counter() - began, jobs, failed)
    return results


# ------------------------------------------------------------------ batches from files


@dataclass
class BatchReport:
    """What a batch did: cases written, failures among them (malformed lines: a failure record each), cases in
    in which at least one value needed three-valued logic (``fallbacks``: a missing input, an error, a
    conflict), the time, and the number of workers."""

    cases: int = 0
    failures: int = 0
    fallbacks: int = 0
    seconds: float = 0.0
    jobs: int = 1

    def add(self, other: BatchReport) -> None:
        self.cases += other.cases
        self.failures += other.failures
        self.fallbacks += other.fallbacks


def input_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise UsageError(f"unknown input format `{fmt}`; use jsonl or csv")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    raise UsageError(f"{path}: cannot tell the format from the name; give --input-format jsonl or csv")


def _quotes_hint(first: int, lines: int) -> str:
    if lines <= 1:
        return ""
    return (f" (lines {first}–{first + lines - 1} were read as one record: a quoted cell runs on to the line where "
            'its quotes close; a quote inside a cell needs the whole cell in quotes and itself doubled: "")')


MAX_RECORD_BYTES = 1 << 20
"""A CSV record longer than this is a quote that is not closed: reported, not held in memory."""


def csv_records(lines: Iterable[bytes], first_line: int) -> Iterator[tuple[int, int, bytes | None, int]]:
    """The CSV records in raw lines, the first of which is line ``first_line``: per record its first line, its
    number of lines, its bytes (None if it is longer than MAX_RECORD_BYTES) and its size. A record runs on
    while a quoted cell is open: while the count of quote characters in it is odd."""
    lineno = first_line - 1
    start = first_line
    parts: list[bytes] = []
    size = quotes = 0
    for raw in lines:
        lineno += 1
        if not size:
            start = lineno
        quotes += raw.count(b'"')
        size += len(raw)
        if size <= MAX_RECORD_BYTES:
            parts.append(raw)
        elif parts:
            parts = []  # too long: counted on to its end, not kept
        if quotes % 2 == 0:
            yield start, lineno - start + 1, (parts[0] if len(parts) == 1 else b"".join(parts)) if parts else None, size
            parts = []
            size = quotes = 0
    if size:
        yield start, lineno - start + 1, b"".join(parts) if parts else None, size


class _CsvLayout:
    """The header of a CSV file of cases: dotted input names, and optionally `id` and `on` columns."""

    def __init__(self, program: Program, header: list[str], where: str) -> None:
        from .check import suggest

        self.columns: list[tuple[int, str, Any]] = []
        self.id_col: int | None = None
        self.on_col: int | None = None
        for k, raw in enumerate(header):
            col = raw.strip()
            if col in ("id", "name"):
                self.id_col = k
            elif col in ("on", "peildatum") and col not in program.inputs:
                self.on_col = k
            elif col in program.inputs:
                t = program.inputs[col].type
                if t.kind == "list":
                    raise UsageError(f"{where}: column `{col}` is a list; give list inputs in JSON lines")
                self.columns.append((k, col, t))
            else:
                hint = suggest(col, list(program.inputs))
                raise UsageError(f"{where}: column `{col}` is not an input of the rule book" + (f"; {hint}" if hint else ""))
        self.width = len(header)
        self.delimiter = ","

    def cells(self, record: str) -> list[str]:
        """The cells of one CSV record (its text without the final line break); csv.Error if it is not CSV."""
        return next(csv.reader([record], delimiter=self.delimiter, strict=True), [])

    def case(self, line: str, lineno: int, where: str, lines: int = 1
             ) -> tuple[str | None, dict[str, Any], dt.date | None]:
        """The case of one CSV record (``line``: its text, ``lines`` long, without the final line break)."""
        from .check import parse_cell

        try:
            cells = self.cells(line)
        except csv.Error as e:  # a quote left open, a cell longer than the csv module reads
            raise CaseError(where, f"not valid CSV: {e}" + _quotes_hint(lineno, lines)) from None
        if len(cells) != self.width:
            raise CaseError(where, f"has {len(cells)} cells, the header has {self.width}" + _quotes_hint(lineno, lines))
        inputs: dict[str, Any] = {}
        for k, col, t in self.columns:
            cell = cells[k].strip()
            if cell == "":
                continue
            try:
                inputs[col] = parse_cell(cell, t, case=True)
            except ValueError as e:
                raise CaseError(f"{where}: {col}", str(e)) from None
        name = cells[self.id_col].strip() or None if self.id_col is not None else None
        day = None
        if self.on_col is not None and cells[self.on_col].strip():
            try:
                day = parse_date(cells[self.on_col].strip())
            except ValueError:
                raise CaseError(f"{where}: on", f"expected a date (YYYY-MM-DD), got {cells[self.on_col]!r}") from None
        return name, inputs, day


class _Worker:
    """Evaluates the lines of byte ranges of the input file and writes one output file per range."""

    def __init__(self, ev: _Evaluator, path: Path, fmt: str, layout: _CsvLayout | None) -> None:
        self.ev = ev
        self.path = path
        self.fmt = fmt
        self.layout = layout
        self.shown = str(path)

    def run_range(self, start: int, end: int, first_line: int, out: IO[str],
                  tick: Any = None) -> BatchReport:
        """Evaluate the records in bytes [start, end) (``start`` begins line ``first_line``) and write their results."""
        if self.layout is not None:
            return self._run_csv(start, end, first_line, out, tick)
        report = BatchReport()
        ev = self.ev
        scan = JSON_DECODER.scan_once  # type: ignore[attr-defined]
        dumps = _DUMPS
        write = out.write
        before = ev.fallbacks
        # the fast lane: flat JSON facts with an id, typed by the compiled typer, decided by the fast path
        jsonl = self.layout is None and not ev.explain
        typed = ev.typed
        run = ev.cp.run if not ev.grouped else None
        line_of = ev.line if not ev.grouped else None
        on = ev.on
        peil = ev.peildatum
        lineno = first_line - 1
        left = end - start
        ticked = 0
        with self.path.open("rb") as fh:
            fh.seek(start)
            for raw in fh:
                if left <= 0:
                    break
                left -= len(raw)
                lineno += 1
                if tick is not None and lineno % 4096 == 0:
                    tick(end - start - left - ticked)
                    ticked = end - start - left
                report.cases += 1
                if jsonl:
                    try:
                        text = raw.decode()
                        data, stop = scan(text, 0)
                        if stop != len(text) and not text[stop:].isspace():
                            data = None
                    except (ValueError, StopIteration, RecursionError):  # the slow lane says what is wrong
                        data = None
                    if type(data) is dict and "input" not in data:
                        name = data.pop("id", None)
                        inputs = typed(data) if type(name) in _ID_TYPES else None
                        if inputs is not None:
                            day = on or (inputs.get(peil) if peil else None)
                            if day is not None and run is not None and line_of is not None:
                                fast = run(inputs, day)
                                if fast is not None:
                                    if fast[3] is None:
                                        write(line_of(dumps(str(name)) if name is not None else f'"{lineno}"', fast))
                                    else:  # values decided in three-valued logic: their status, needs and reasons
                                        ev.fallbacks += 1
                                        write(dumps(ev.outputs.from_fast(str(name) if name is not None else str(lineno),
                                                                         fast).as_json()))
                                    write("\n")
                                    continue
                        if name is not None:
                            data["id"] = name
                    if raw.isspace():
                        report.cases -= 1
                        continue
                elif raw.isspace():
                    report.cases -= 1
                    continue
                self._slow(raw, lineno, write, report)
        if tick is not None:
            tick(end - start - left - ticked)
        report.fallbacks = ev.fallbacks - before
        return report

    def run_range_lines(self, lines: list[tuple[bytes, int]], out: IO[str]) -> BatchReport:
        """Lines given with their numbers, each the way ``run_range`` decides it."""
        report = BatchReport()
        for raw, lineno in lines:
            report.cases += 1
            data = None
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                pass
            if type(data) is dict and "input" not in data and not self.ev.explain:
                name = data.pop("id", None)
                inputs = self.ev.typed(data)
                if inputs is not None:
                    day = self.ev.on or (inputs.get(self.ev.peildatum) if self.ev.peildatum else None)
                    if day is not None:
                        d = self.ev.fast(str(name) if name is not None else str(lineno), inputs, day)
                        out.write(_DUMPS(d.as_json()) + "\n")
                        continue
            self._slow(raw, lineno, out.write, report)
        return report

    def _run_csv(self, start: int, end: int, first_line: int, out: IO[str], tick: Any) -> BatchReport:
        """The CSV records in bytes [start, end), each read whole: a quoted cell may hold line breaks."""
        report = BatchReport()
        before = self.ev.fallbacks
        done = ticked = 0
        with self.path.open("rb") as fh:
            fh.seek(start)
            for lineno, lines, raw, size in csv_records(_limited(fh, end - start), first_line):
                done += size
                if tick is not None and done - ticked >= 1 << 20:
                    tick(done - ticked)
                    ticked = done
                if raw is not None and raw.isspace():
                    continue
                report.cases += 1
                if raw is None:
                    report.failures += 1
                    out.write(CaseFailure(line=lineno, error=(
                        f"{self.shown}:{lineno}: a record of more than {MAX_RECORD_BYTES >> 20} MiB: a quote that is "
                        f"not closed{_quotes_hint(lineno, lines)}")).to_json())
                    out.write("\n")
                    continue
                self._slow(raw, lineno, out.write, report, lines)
        if tick is not None:
            tick(done - ticked)
        report.fallbacks = self.ev.fallbacks - before
        return report

    def _slow(self, raw: bytes, lineno: int, write: Any, report: BatchReport, lines: int = 1) -> None:
        """One record the long way: any case form, CSV, explanations, the interpreter, and failure records."""
        ev = self.ev
        dumps = _DUMPS
        where = f"{self.shown}:{lineno}"
        try:
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise CaseError(where, f"not UTF-8 text ({e.reason})") from None
            if self.layout is not None:
                decided = self._csv_case(line, lineno, where, lines)
            else:
                try:
                    data = decode_json(line)
                except JsonProblem as e:
                    raise CaseError(where, e.message) from None
                decided = ev.decide(data, None, where)
            if isinstance(decided, str):
                write(decided)
            else:
                rec = decided.as_json()
                if rec["case"] is None:
                    rec["case"] = str(lineno)
                write(dumps(rec))
            write("\n")
        except PassendeZorgError as e:
            report.failures += 1
            write(CaseFailure(case=self._case_id(raw), line=lineno, error=str(e)).to_json())
            write("\n")
        except Exception as e:  # noqa: BLE001 - one case must not stop a batch of a million
            report.failures += 1
            write(CaseFailure(case=self._case_id(raw), line=lineno, error=internal_error(where, e)).to_json())
            write("\n")

    def _case_id(self, raw: bytes) -> str | None:
        """The id of a record that failed, if it can be read at all."""
        if self.layout is None:
            return _case_id(raw)
        if self.layout.id_col is None:
            return None
        try:
            text = _strip_newline(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return None
        for record in (text, text.split("\n", 1)[0].rstrip("\r")):  # the record, or else its first line
            try:
                cells = self.layout.cells(record)
            except csv.Error:
                continue
            return cells[self.layout.id_col].strip() or None if len(cells) > self.layout.id_col else None
        return None

    def _csv_case(self, line: str, lineno: int, where: str, lines: int = 1) -> FastDecision | str:
        assert self.layout is not None
        ev = self.ev
        name, inputs, day = self.layout.case(_strip_newline(line), lineno, where, lines)
        day = ev.on or day or (inputs.get(ev.peildatum) if ev.peildatum else None)
        if day is None:
            raise CaseError(where, "the case has no date: give the peildatum, an `on` column, or --on")
        if ev.explain:
            return str(ev.book.compiled_decisions().decision(inputs, day, name).to_json())
        return ev.fast(name, inputs, day)


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _strip_newline(text: str) -> str:
    """A record without its final line break (a line break inside a quoted cell stays)."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith(("\n", "\r")) else text


def _limited(fh: IO[bytes], size: int) -> Iterator[bytes]:
    """The lines of a file from where it stands, up to ``size`` bytes (a range ends at a line break)."""
    left = size
    for raw in fh:
        if left <= 0:
            return
        left -= len(raw)
        yield raw


def _case_id(raw: bytes) -> str | None:
    """The id of a line that failed, if it can be read at all."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(data, dict):
        name = data.get("name") or data.get("id")
        return str(name) if name is not None else None
    return None


_QUOTE_OR_NEWLINE = re.compile(rb'["\n]')


def line_ranges(path: Path, start: int, size: int, pieces: int, quoted: bool = False) -> list[tuple[int, int, int]]:
    """Byte ranges [a, b) that each start at a record, with the number of the line they start at.

    A record is a line; with ``quoted`` (CSV) a line break inside quotes does not end one: a range starts
    after a line break where the count of quote characters since ``start`` is even.
    """
    cuts = [start]
    with path.open("rb") as fh:
        step = max(1, (size - start) // pieces)
        counted = start  # quote characters are counted from a cut, where their count is even
        odd = False
        for k in range(1, pieces):
            target = start + k * step
            if target <= cuts[-1]:
                continue
            if not quoted:
                fh.seek(target - 1)
                fh.readline()  # to the end of the line the target falls in
                pos = fh.tell()
            else:
                fh.seek(counted)
                odd = bool(_count(fh, target - counted, b'"') % 2)
                pos = _after_record(fh, odd)
                counted = pos
            if pos < size and pos > cuts[-1]:
                cuts.append(pos)
        cuts.append(size)
        # line numbers: count newlines up to each cut
        out: list[tuple[int, int, int]] = []
        fh.seek(0)
        line = 1
        pos = 0
        for a, b in zip(cuts, cuts[1:]):
            while pos < a:
                block = fh.read(min(1 << 22, a - pos))
                line += block.count(b"\n")
                pos += len(block)
            out.append((a, b, line))
        return out


def _count(fh: IO[bytes], size: int, byte: bytes) -> int:
    """How often ``byte`` occurs in the next ``size`` bytes of a file."""
    count = 0
    while size > 0:
        block = fh.read(min(1 << 22, size))
        if not block:
            break
        count += block.count(byte)
        size -= len(block)
    return count


def _after_record(fh: IO[bytes], odd: bool) -> int:
    """The position after the first line break outside quotes from where the file stands (inside quotes if
    ``odd``); the end of the file if there is none."""
    while True:
        here = fh.tell()
        block = fh.read(1 << 16)
        if not block:
            return here
        for m in _QUOTE_OR_NEWLINE.finditer(block):
            if m.group() == b'"':
                odd = not odd
            elif not odd:
                return here + m.end()


def _header(path: Path, fmt: str, program: Program) -> tuple[int, int, _CsvLayout | None]:
    """Where the cases start (the byte and the line), and the CSV layout if the file is CSV."""
    if fmt != "csv":
        return 0, 1, None
    with path.open("rb") as fh:
        _line, lines, first, _size = next(csv_records(fh, 1), (1, 1, b"", 0))
    first = first or b""
    try:
        text = _strip_newline(first.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}:1: the header line is not UTF-8 text ({e.reason})") from None
    delimiter = ";" if text.count(";") > text.count(",") else ","
    header = next(csv.reader([text], delimiter=delimiter), [])
    if not header:
        raise UsageError(f"{path}: the CSV file has no header line naming the inputs")
    layout = _CsvLayout(program, header, str(path))
    layout.delimiter = delimiter
    return len(first), 1 + lines, layout


def evaluate_file(book: Any, in_path: str | Path, out: str | Path | IO[str] | None = None, *, jobs: int = 1,
                  fmt: str | None = None, explain: bool = False, on: dt.date | None = None,
                  progress: bool | None = None) -> BatchReport:
    """Evaluate every case in a JSON-lines or CSV file; write one JSON line per case, in input order.

    ``out`` is a path, a text stream, or None for standard output. ``jobs``
    worker processes (forked; 0 means one per core) each take byte ranges of
    the file; ``fmt`` is the input format (jsonl or csv; by default from the
    file name). ``explain`` writes the full Decision of each case. A progress
    line appears on standard error when it is a terminal (or ``progress=True``).
    """
    path = Path(in_path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{path}: cannot read the file (permission denied)")
    form = input_format(path, fmt)
    program: Program = book.program
    start, first_line, layout = _header(path, form, program)
    size = path.stat().st_size
    jobs = jobs_for(jobs) if FORK else 1
    ev = _Evaluator(book, on, explain)
    worker = _Worker(ev, path, form, layout)
    began = time.perf_counter()
    stream, close = _open_out(out)
    try:
        with Progress(size - start, show=progress) as meter:
            if jobs == 1 or size - start < 1 << 16:
                report = worker.run_range(start, size, first_line, stream,
                                          meter.add if meter.enabled else None)
            else:
                report = _parallel(worker, path, start, size, jobs, stream, meter)
        stream.flush()
    finally:
        if close:
            stream.close()
    report.seconds = time.perf_counter() - began
    report.jobs = jobs
    log.info("batch %s: %d case(s) in %.2f s (%.0f cases/s) on %d worker(s); %d could not be evaluated, %d needed "
             "the three-valued path", path, report.cases, report.seconds,
             report.cases / report.seconds if report.seconds > 0 else 0.0, jobs, report.failures, report.fallbacks)
    return report


def _open_out(out: str | Path | IO[str] | None) -> tuple[IO[str], bool]:
    if out is None:
        return sys.stdout, False
    if isinstance(out, (str, Path)):
        try:
            return open(out, "w", encoding="utf-8", buffering=1 << 20), True  # noqa: SIM115 - closed by the caller
        except OSError as e:
            raise UsageError(f"{out}: cannot write the results there ({e.strerror or e})") from None
    return out, False


def _parallel(worker: _Worker, path: Path, start: int, size: int, jobs: int, stream: IO[str],
              meter: Progress) -> BatchReport:
    """The byte ranges of the file on worker processes, each writing its own chunk file; the chunks are appended
    to the output in input order as they are done."""
    import multiprocessing as mp

    pieces = max(jobs * 4, (size - start) // CHUNK_BYTES + 1)
    ranges = line_ranges(path, start, size, pieces, quoted=worker.layout is not None)
    tmp = Path(tempfile.mkdtemp(prefix="passendezorg-batch-"))
    counter = mp.get_context("fork").Value("q", 0)  # bytes done, across workers: for the progress display

    def tick(n: int) -> None:
        with counter.get_lock():
            counter.value += n

    def work(k: int) -> tuple[int, int, int]:
        a, b, line = ranges[k]
        with (tmp / f"{k:06d}.jsonl").open("w", encoding="utf-8", buffering=1 << 20) as fh:
            rep = worker.run_range(a, b, line, fh, tick if meter.enabled else None)
        return rep.cases, rep.failures, rep.fallbacks

    # chunks are UTF-8 already: copy their bytes when the output has a byte stream under it
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    binary = getattr(stream, "buffer", None) if encoding == "utf8" else None
    stream.flush()
    report = BatchReport()
    try:
        with Pool(work, jobs, name="a batch worker") as pool:
            for k, done in enumerate(pool.map(range(len(ranges)))):
                chunk = tmp / f"{k:06d}.jsonl"
                if isinstance(done, WorkerFailure):
                    # the worker of these lines stopped: each line gets a failure record, the rest go on
                    a, b, line = ranges[k]
                    failed = _failed_range(worker, a, b, line, done.reason, stream)
                    report.add(BatchReport(failed, failed, 0))
                else:
                    report.add(BatchReport(*done))
                    if binary is not None:
                        _copy_bytes(chunk, binary)
                    else:
                        with chunk.open("r", encoding="utf-8") as fh:
                            shutil.copyfileobj(fh, stream, 1 << 20)
                chunk.unlink(missing_ok=True)
                meter.set(counter.value)
        if binary is not None:
            binary.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report


def line_decider(book: Any, path: str | Path, on: dt.date | None = None) -> Callable[[bytes, int], str]:
    """The JSON line the compiled path writes for one raw line of a JSON-lines file (a decision or a failure
    record, with its line number): for other engines that hand it the lines they do not decide themselves."""
    worker = _Worker(_Evaluator(book, on), Path(path), "jsonl", None)

    def decide(raw: bytes, lineno: int) -> str:
        out = io.StringIO()
        worker.run_range_lines([(raw, lineno)], out)
        return out.getvalue().rstrip("\n")

    return decide


def _failed_range(worker: _Worker, start: int, end: int, first_line: int, reason: str, stream: IO[str]) -> int:
    """A failure record for every case in bytes [start, end): their worker stopped before it was done."""
    count = 0
    with worker.path.open("rb") as fh:
        fh.seek(start)
        lines = _limited(fh, end - start)
        records = csv_records(lines, first_line) if worker.layout is not None else \
            ((n, 1, raw, len(raw)) for n, raw in enumerate(lines, first_line))
        for lineno, _lines, raw, _size in records:
            if raw is not None and raw.isspace():
                continue
            count += 1
            stream.write(CaseFailure(case=worker._case_id(raw) if raw is not None else None, line=lineno,
                                     error=f"{worker.path}:{lineno}: not evaluated: {reason}").to_json())
            stream.write("\n")
    stream.flush()
    return count


def _copy_bytes(chunk: Path, binary: Any) -> None:
    """Append a chunk file to the output: in the kernel where it can (copy_file_range), else through a buffer."""
    with chunk.open("rb") as fb:
        offset = 0
        try:
            binary.flush()
            out_fd = binary.fileno()
            size = os.fstat(fb.fileno()).st_size
            copy = getattr(os, "copy_file_range", None)
            if copy is not None and os.path.isfile(f"/proc/self/fd/{out_fd}"):
                while offset < size:
                    sent = copy(fb.fileno(), out_fd, size - offset)
                    if sent == 0:
                        break
                    offset += sent
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            pass
        fb.seek(offset)  # whatever the kernel did not copy
        shutil.copyfileobj(fb, binary, 1 << 20)
