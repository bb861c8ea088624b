"""Decisions on frames: Polars or pandas DataFrames and Arrow tables in, the same kind out.

``decide_frame(book, frame)`` runs the columnar engine (engines/columnar.py)
on a frame whose columns are the rule book's inputs — by their dotted names
(``behandeling.soort``) or as struct columns (``behandeling`` with a field
``soort``) — and optionally ``id`` (or ``name``) and ``on`` (or ``peildatum``).
A null is a fact left out. The result has, per output ``o``: ``o`` (the
value), ``o.rule``, ``o.status``, ``o.needs`` (the inputs needed, as the
interpreter lists them) and ``o.reason``; and ``case`` and ``failure`` (why a
row is not a valid case, else null).

A group of facts is a column of lists of records (``claim.lines``: a list of
structs); the rows are decided per shape of case (``grouped_lines``), an output
per record is a list.

Rows the plan does not decide exactly (see the columnar engine), and rows
whose facts are not of the declared type as the frame holds them, are decided
one by one by the compiled engine — the same answer, counted in
``FrameReport.fallbacks``, with why in ``FrameReport.reasons`` (pass
``report=FrameReport()`` to ``decide_frame`` to have it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from .batch import iter_fast
from .cases import Case
from .engines.columnar import (
    BAD,
    DAY,
    DEFAULT,
    ERROR,
    LIMIT,
    MAX_SCALE,
    STATUS_NAMES,
    UNDETERMINED,
    VALUE,
    WHY,
    WORD,
    Compiler,
    Profile,
    decimal_text,
    is_expr,
    lit,
)
from .errors import UsageError
from .model import CaseFailure, FastDecision
from .program import Program

ROW = "__row"
CASE = "__case"
SPECIAL = ("id", "name", "on", "peildatum")

_COMPILERS: dict[int, tuple[Program, Compiler]] = {}


def compiler(program: Program) -> Compiler:
    """The columnar compiler of a rule book, built once per process."""
    found = _COMPILERS.get(id(program))
    if found is not None and found[0] is program:
        return found[1]
    c = Compiler(program)
    if len(_COMPILERS) >= 64:  # a rule book with groups has one per shape of case (expand.MAX_SHAPES)
        _COMPILERS.clear()
    _COMPILERS[id(program)] = (program, c)
    return c


@dataclass
class FrameReport:
    """What a frame took: rows, rows decided one by one by the compiled engine, rows that are no valid case."""

    rows: int = 0
    fallbacks: int = 0
    failures: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # why rows were decided one by one: rows per reason

    def add(self, other: FrameReport) -> None:
        self.rows += other.rows
        self.fallbacks += other.fallbacks
        self.failures += other.failures
        for why, k in other.reasons.items():
            self.reasons[why] = self.reasons.get(why, 0) + k

    def count_reasons(self, comp: Compiler, out: pl.DataFrame, rows: list[int]) -> None:
        """Count the reasons (the first the plan met) of the rows at these positions."""
        if not rows:
            return
        codes = out.get_column(WHY).gather(rows).value_counts()
        for code, k in codes.iter_rows():
            why = comp.reasons[code] if code is not None else "a value the frame holds in a form the plan does not read"
            self.reasons[why] = self.reasons.get(why, 0) + k

    def note(self, why: str, k: int = 1) -> None:
        if k:
            self.reasons[why] = self.reasons.get(why, 0) + k

    def count_text(self, k: int) -> None:
        self.note("a text with control characters, written by the compiled path", k)

    def summary(self, most: int = 3) -> str:
        """The most frequent reasons, for a line of text: ``12 × `x`: …; 3 × …``."""
        top = sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        text = "; ".join(f"{k} × {why}" for why, k in top[:most])
        if len(top) > most:
            text += f"; {sum(k for _w, k in top[most:])} × other reasons"
        return text


@dataclass
class Decided:
    """The plan's columns for a batch, and the rows decided one by one (by position)."""

    frame: pl.DataFrame  # ROW, CASE, the outcome columns of every output
    plan_outputs: dict[str, dict[str, Any]]
    fallback: dict[int, FastDecision | CaseFailure] = field(default_factory=dict)
    bad_rows: list[int] = field(default_factory=list)
    report: FrameReport = field(default_factory=FrameReport)


# ------------------------------------------------------------------ frames of any kind


def to_polars(frame: Any) -> tuple[pl.DataFrame, str]:
    """A Polars DataFrame of the frame, and what kind it was (polars, pandas, arrow)."""
    if isinstance(frame, pl.DataFrame):
        return frame, "polars"
    if isinstance(frame, pl.LazyFrame):
        return frame.collect(), "polars"
    mod = type(frame).__module__
    if mod.startswith("pyarrow"):
        out = pl.from_arrow(frame)
        assert isinstance(out, pl.DataFrame)
        return out, "arrow"
    if mod.startswith("pandas"):
        return pl.from_pandas(frame), "pandas"
    raise UsageError(f"decide_frame takes a Polars or pandas DataFrame or an Arrow table, not {type(frame).__name__}")


def from_polars(df: pl.DataFrame, kind: str) -> Any:
    if kind == "arrow":
        return df.to_arrow()
    if kind == "pandas":
        return df.to_pandas()
    return df


def flatten(df: pl.DataFrame) -> pl.DataFrame:
    """Struct columns as dotted columns: ``behandeling`` {soort} is ``behandeling.soort``."""
    while any(isinstance(dtype, pl.Struct) for dtype in df.dtypes):
        cols = []  # type: ignore[var-annotated]
        for name, dtype in zip(df.columns, df.dtypes):
            if isinstance(dtype, pl.Struct):
                cols.extend(pl.col(name).struct.field(f.name).alias(f"{name}.{f.name}") for f in dtype.fields)
            else:
                cols.append(pl.col(name))
        df = df.select(cols)
    return df


# ------------------------------------------------------------------ facts as the plan holds them


_INTEGER_TYPES = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64, pl.Int128)
_DECIMAL_TEXT = r"^-?[0-9]+(\.[0-9]+)?$"


def _parse_decimal_text(s: pl.Expr, money: bool) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(ok, integer digits, decimals text) of decimal texts written plainly; money also as ``€ 12,50``."""
    t = s.str.strip_chars()
    if money:
        t = t.str.strip_chars_start("€").str.strip_chars().str.replace_all(",", ".", literal=True)
    ok = t.str.contains(_DECIMAL_TEXT).fill_null(False)
    parts = t.str.split_exact(".", 1)
    return ok, parts.struct.field("field_0"), parts.struct.field("field_1").fill_null("")


def _list_dtype(t: Any) -> Any:
    """The type of an empty list column the plan can compare its items with (the rows are decided one by one)."""
    item = t.item.kind if t.item is not None else "text"
    return pl.List({"integer": pl.Int64, "boolean": pl.Boolean, "date": pl.Date, "decimal": pl.Int128,
                    "money": pl.Int128}.get(item, pl.String))


class Canonical:
    """A frame's facts as the plan reads them: ``i:<input>`` typed columns, ``s:<input>`` decimals per row, the day,
    and the rows that must be decided one by one (``BAD``)."""

    def __init__(self, program: Program, df: pl.DataFrame, on: dt.date | None) -> None:
        self.program = program
        self.df = df
        cols: list[pl.Expr] = [pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW)]
        bads: list[tuple[pl.Expr, str]] = []
        comp = compiler(program)
        scales: dict[str, tuple[int, int | None]] = {}
        for name, decl in program.inputs.items():
            if name not in df.columns:
                continue
            out, bad, scale = self.column(name, decl.type, df.schema[name])
            cols.extend(out)
            if bad is not None:
                bads.append((bad, f"the fact `{name}` as the frame holds it ({df.schema[name]})"))
            if scale is not None:
                scales[name] = scale
        # the day each row is read on
        special_on = next((c for c in ("on", "peildatum") if c in df.columns and c not in program.inputs), None)
        day: pl.Expr
        if on is not None:
            day = pl.lit(on)
        else:
            parts = []
            if special_on is not None:
                src = df.schema[special_on]
                col = pl.col(special_on)
                if src == pl.Date:
                    parts.append(col)
                elif src == pl.String:
                    parsed = col.str.to_date("%Y-%m-%d", strict=False)
                    bads.append((col.is_not_null() & (parsed.is_null() | (col.str.len_bytes() != 10)),
                                 f"the day `{special_on}` as the frame holds it"))
                    parts.append(parsed)
                else:
                    bads.append((col.is_not_null(), f"the day `{special_on}` as the frame holds it ({src})"))
            p = program.peildatum
            if p is not None and p in df.columns:
                parts.append(pl.col(f"i:{p}"))
            day = pl.coalesce(parts) if parts else pl.lit(None, pl.Date)
        self.frame = df.with_columns(cols[1:]).with_columns(cols[0]) if len(cols) > 1 else df.with_columns(cols[0])
        self.frame = self.frame.with_columns(day.cast(pl.Date).alias(DAY))
        whys = [pl.when(pl.col(DAY).is_null()).then(pl.lit(comp.reason_code("no day to read the case on"), pl.UInt16))]
        whys += [pl.when(b.fill_null(True)).then(pl.lit(comp.reason_code(why), pl.UInt16)) for b, why in bads]
        self.frame = self.frame.with_columns(pl.coalesce(whys).alias(WHY))
        self.frame = self.frame.with_columns(pl.col(WHY).is_not_null().alias(BAD))
        gaps = set(n for n in program.inputs if n not in df.columns)
        present = [n for n in program.inputs if n in df.columns]
        good = ~pl.col(BAD)
        # of the rows the plan decides (no copy of them): the inputs with gaps, the first and last day
        seen = self.frame.select([pl.col(f"i:{n}").filter(good).null_count() for n in present]
                                 + [good.sum().alias("__n"), pl.col(DAY).filter(good).min().alias("__lo"),
                                    pl.col(DAY).filter(good).max().alias("__hi")]).row(0)
        if seen[len(present)]:
            gaps.update(n for n, k in zip(present, seen) if k)
            lo, hi = seen[-2], seen[-1]
        else:
            lo = hi = dt.date(2000, 1, 1)
        for n in program.inputs:
            if n not in df.columns:
                kind = program.inputs[n].type.kind
                dtype = {"boolean": pl.Boolean, "integer": pl.Int64, "date": pl.Date, "text": pl.String,
                         "enum": pl.String, "money": pl.Int128, "decimal": pl.Int128}.get(kind, pl.String)
                if kind == "list":
                    dtype = _list_dtype(program.inputs[n].type)
                self.frame = self.frame.with_columns(pl.lit(None, dtype).alias(f"i:{n}"))
                if kind in ("money", "decimal"):
                    scales[n] = (2 if kind == "money" else 0, 2 if kind == "money" else 0)
        self.profile = Profile(frozenset(gaps), scales, (lo, hi))

    def column(self, name: str, t: Any, dtype: Any) -> tuple[list[pl.Expr], pl.Expr | None, tuple[int, int | None] | None]:
        """The plan's column(s) of one input, the rows whose value it cannot hold, and the scale of an amount."""
        k = t.kind
        src = pl.col(name)
        target = f"i:{name}"
        present = src.is_not_null()
        if k == "boolean":
            if dtype == pl.Boolean:
                return [src.alias(target)], None, None
            return [pl.lit(None, pl.Boolean).alias(target)], present, None
        if k == "integer":
            if dtype in (pl.Int8, pl.Int16, pl.Int32, pl.UInt8, pl.UInt16, pl.UInt32):
                return [src.cast(pl.Int64).alias(target)], None, None
            if dtype == pl.Int64:  # within the plan's range unless beyond 10**18
                too_big = (src > LIMIT) | (src < -LIMIT)
                return [pl.when(too_big).then(None).otherwise(src).alias(target)], too_big.fill_null(False), None
            if dtype in _INTEGER_TYPES:
                wide = src.cast(pl.Int128)
                too_big = present & (wide.abs() >= LIMIT)  # out of range (values.NUMBER_LIMIT): the case's error
                return [pl.when(too_big).then(None).otherwise(wide).cast(pl.Int64).alias(target)], too_big, None
            return [pl.lit(None, pl.Int64).alias(target)], present, None
        if k in ("decimal", "money"):
            return self.number(name, k, dtype)
        if k == "date":
            if dtype == pl.Date:
                return [src.alias(target)], None, None
            if isinstance(dtype, pl.Datetime):
                return [src.dt.date().alias(target)], None, None
            if dtype == pl.String:
                parsed = src.str.to_date("%Y-%m-%d", strict=False)
                bad = present & (parsed.is_null() | (src.str.len_bytes() != 10))
                return [pl.when(bad).then(None).otherwise(parsed).alias(target)], bad, None
            return [pl.lit(None, pl.Date).alias(target)], present, None
        if k in ("text", "enum"):
            if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
                s = src.cast(pl.String)
                if k == "enum":
                    bad = present & ~s.is_in(list(t.choices)).fill_null(False)
                    return [pl.when(bad).then(None).otherwise(s).alias(target)], bad, None
                return [s.alias(target)], None, None
            return [pl.lit(None, pl.String).alias(target)], present, None
        if k == "list" and isinstance(dtype, pl.List) and dtype.inner == pl.Null:  # only empty lists (or nulls)
            src, dtype = src.cast(pl.List(pl.String)), pl.List(pl.String)
        if k == "list" and t.item is not None and t.item.kind in ("enum", "text") and isinstance(dtype, pl.List) \
                and dtype.inner in (pl.String,):
            if t.item.kind == "enum":
                ok = src.list.eval(pl.element().is_in(list(t.item.choices)).fill_null(False)).list.all()
                bad = present & ~ok.fill_null(False)
                return [pl.when(bad).then(None).otherwise(src).alias(target)], bad, None
            bad = present & src.list.eval(pl.element().is_null()).list.any().fill_null(False)
            return [pl.when(bad).then(None).otherwise(src).alias(target)], bad, None
        return [pl.lit(None, _list_dtype(t) if k == "list" else pl.String).alias(target)], present, None

    def number(self, name: str, k: str, dtype: Any) -> tuple[list[pl.Expr], pl.Expr | None, tuple[int, int | None]]:
        src = pl.col(name)
        target = f"i:{name}"
        present = src.is_not_null()
        money = k == "money"
        if isinstance(dtype, pl.Decimal):
            scale = dtype.scale or 0
            if scale > MAX_SCALE:
                return [pl.lit(None, pl.Int128).alias(target)], present, (0, 0)
            x = src.to_physical().cast(pl.Int128)
            disp: int | None = scale
        elif dtype in _INTEGER_TYPES:
            x, scale, disp = src.cast(pl.Int128), 0, 0
        elif dtype == pl.String:
            ok, whole, frac = _parse_decimal_text(src, money)
            lens = self.df.select(pl.when(ok).then(frac.str.len_chars()).max()).item()
            scale = int(lens or 0)
            if scale > MAX_SCALE:
                scale = MAX_SCALE
            fits = ok & (frac.str.len_chars() <= scale) & (whole.str.len_chars() <= 18)
            negative_zero = whole.str.starts_with("-") & ~pl.concat_str([whole, frac]).str.contains("[1-9]")
            padded = pl.concat_str([whole.str.strip_chars_start("-"), frac.str.pad_end(scale, "0")]) if scale else \
                whole.str.strip_chars_start("-")
            mag = padded.cast(pl.Int128, strict=False)
            x = pl.when(whole.str.starts_with("-")).then(0 - mag).otherwise(mag)
            bad = present & (~fits | negative_zero)
            if money:  # a negative amount is no fact of a case: the row's error says so
                bad = bad | (present & whole.str.starts_with("-")).fill_null(False)
            x = pl.when(bad).then(None).otherwise(x)
            if money:
                return self.to_cents(x, scale, bad, target)
            return [x.alias(target), frac.str.len_chars().cast(pl.Int32).alias(f"s:{name}")], bad, (scale, None)
        else:
            return [pl.lit(None, pl.Int128).alias(target)], present, (2 if money else 0, 2 if money else 0)
        big = present & (x.abs() >= LIMIT)
        if money:  # a negative amount is no fact of a case: the row's error says so
            big = big | (present & (x < 0)).fill_null(False)
        x = pl.when(big).then(None).otherwise(x)
        if money:
            return self.to_cents(x, scale, big, target)
        return [x.alias(target)], big, (scale, disp)

    def to_cents(self, x: pl.Expr, scale: int, bad: pl.Expr, target: str) -> tuple[list[pl.Expr], pl.Expr,
                                                                                   tuple[int, int | None]]:
        """An amount in cents. An amount with more than cents is never rounded: its row leaves the plan, and the
        case's own reading reports it (``cases.convert``) with its field."""
        if scale <= 2:
            return [(x * 10 ** (2 - scale)).alias(target)], bad, (2, 2)
        q = 10 ** (scale - 2)
        sub_cent = (x % q != 0).fill_null(False)
        return [pl.when(sub_cent).then(None).otherwise(x // q).alias(target)], bad | sub_cent, (2, 2)


# ------------------------------------------------------------------ running the plan


def run(book: Any, df: pl.DataFrame, on: dt.date | None = None, case: pl.Expr | None = None,
        decide_bad: bool = True) -> Decided:
    """Decide every row of a (flattened) frame: the plan's columns, and the rows the compiled engine decided."""
    program: Program = book.program
    comp = compiler(program)
    canon = Canonical(program, df, on)
    plan = comp.plan(canon.profile)
    lf = canon.frame.lazy()
    if case is not None:
        lf = lf.with_columns(case.alias(CASE))
    else:
        lf = lf.with_columns(pl.lit(None, pl.String).alias(CASE))
    for step in plan.steps:
        lf = step(lf)
    keep = [ROW, CASE, pl.col(WHY).is_not_null().alias(BAD), WHY, DAY]
    outs: dict[str, dict[str, Any]] = {}
    for o in program.outputs:
        cols = plan.outcomes[o]
        outs[o] = cols
        for part in ("st", "v", "rule", "reason"):
            if is_expr(cols[part]):
                keep.append(cols[part].alias(f"{o}#{part}"))
        for w, bits in cols["nd"].items():
            if is_expr(bits):
                keep.append(bits.alias(f"{o}#n{w}"))
        num = cols["num"]
        if num is not None and is_expr(num.disp):
            keep.append(num.disp.alias(f"{o}#d"))
    out = lf.select(keep).collect(engine="in-memory")  # a plan of many steps: twice as fast as streaming
    decided = Decided(out, outs)
    bad_rows = out.get_column(BAD)
    decided.report.rows = out.height
    if bad_rows.any():
        idx = out.select(pl.col(ROW).filter(pl.col(BAD))).to_series().to_list()
        decided.bad_rows = idx
        if not decide_bad:
            return decided
        decided.fallback = one_by_one(book, df, idx, on)
        decided.report.fallbacks = sum(1 for d in decided.fallback.values() if isinstance(d, FastDecision))
        decided.report.failures = sum(1 for d in decided.fallback.values() if isinstance(d, CaseFailure))
        decided.report.count_reasons(comp, out, [k for k, d in decided.fallback.items() if isinstance(d, FastDecision)])
    return decided


def one_by_one(book: Any, df: pl.DataFrame, rows: list[int], on: dt.date | None) -> dict[int, FastDecision | CaseFailure]:
    """Rows decided by the compiled engine (values the frame holds as they are), or why a row is no valid case."""
    program: Program = book.program
    sub = df[rows]
    special_on = next((c for c in ("on", "peildatum") if c in df.columns and c not in program.inputs), None)
    cases = []
    for rec in sub.iter_rows(named=True):
        facts = {k: _plain(v) for k, v in rec.items() if k not in SPECIAL or k in program.inputs}
        facts = {k: v for k, v in facts.items() if v is not None}
        when = rec.get(special_on) if special_on else None
        if isinstance(when, dt.date):
            when = when.isoformat()
        data: dict[str, Any] = {"input": facts}
        cases.append((data, when))
    built: list[Case | Mapping[str, Any]] = []
    for data, when in cases:
        built.append(Case(data["input"], None, on=_date_or_none(when), path=None))
    out: dict[int, FastDecision | CaseFailure] = {}
    for k, result in zip(rows, iter_fast(book, built, on)):
        out[k] = result
    return out


def _date_or_none(v: Any) -> dt.date | None:
    if v is None:
        return None
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        return None


def _plain(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.date()
    return v


# ------------------------------------------------------------------ the outputs as a frame


def status_name(st: Any) -> Any:
    if is_expr(st):
        return st.replace_strict(list(range(5)), list(STATUS_NAMES), return_dtype=pl.String)
    return STATUS_NAMES[st]


def output_frame(book: Any, decided: Decided) -> pl.DataFrame:
    """Per output: value, rule, status, needs and reason; the case, and why a row is no valid case."""
    program: Program = book.program
    comp = compiler(program)
    f = decided.frame
    cols: list[pl.Expr] = [pl.col(CASE).alias("case")]
    for o in program.outputs:
        c = decided.plan_outputs[o]
        kind = program.values[o].type.kind
        num = c["num"]
        v = pl.col(f"{o}#v") if is_expr(c["v"]) else pl.lit(c["v"])
        if num is not None:
            v = decimal_text(v.cast(pl.Int128), num.scale, pl.col(f"{o}#d") if is_expr(num.disp) else num.disp) \
                .cast(pl.Decimal(38, max(num.scale, 0)))
        elif kind == "date":
            v = v.cast(pl.Date)
        st = pl.col(f"{o}#st") if is_expr(c["st"]) else pl.lit(c["st"])
        cols.append(v.alias(o))
        cols.append((pl.col(f"{o}#rule") if is_expr(c["rule"]) else pl.lit(c["rule"], pl.String)).alias(f"{o}.rule"))
        cols.append((status_name(st) if is_expr(c["st"]) else pl.lit(STATUS_NAMES[c["st"]])).alias(f"{o}.status"))
        needs = _needs_series(comp, f, {w: (pl.col(f"{o}#n{w}") if is_expr(b) else b) for w, b in c["nd"].items()})
        cols.append((needs if isinstance(needs, pl.Expr) else pl.lit(needs)).alias(f"{o}.needs"))
        cols.append((pl.col(f"{o}#reason") if is_expr(c["reason"]) else pl.lit(c["reason"], pl.String))
                    .alias(f"{o}.reason"))
    cols.append(pl.lit(None, pl.String).alias("failure"))
    if program.scenario is not None:
        cols.append(pl.lit(program.scenario.name, pl.String).alias("scenario"))
    out = f.select(cols)
    if decided.fallback:
        out = _scatter(book, out, decided.fallback)
    return out


def _needs_series(comp: Compiler, f: pl.DataFrame, nd: dict[int, Any]) -> pl.Series | pl.Expr:
    """The needed inputs of every row as a list: the lists of the few bit patterns a batch has, made once and
    joined on."""
    words = sorted(nd)
    if not words:
        return pl.lit([], pl.List(pl.String))
    keys = f.select([lit(nd[w], pl.UInt64).fill_null(0).alias(f"w{w}") for w in words])
    if keys.height == 0:
        return pl.Series("needs", [], dtype=pl.List(pl.String))
    found = keys.unique()
    lists = []
    for row in found.iter_rows():
        bits = dict(zip(words, row))
        lists.append([name for name in comp.input_names
                      if (bits.get(comp.input_bit[name] // WORD, 0) >> (comp.input_bit[name] % WORD)) & 1])
    table = found.with_columns(pl.Series("needs", lists, dtype=pl.List(pl.String)))
    return keys.join(table, on=keys.columns, how="left", maintain_order="left").get_column("needs")


def _scatter(book: Any, out: pl.DataFrame, fallback: dict[int, FastDecision | CaseFailure]) -> pl.DataFrame:
    """The rows decided one by one put in their places: a frame of them, and the rows in their order again."""
    program: Program = book.program
    rows = sorted(fallback)
    cases = out.get_column("case").gather(rows).to_list()
    patch: dict[str, list[Any]] = {c: [] for c in out.columns}
    for k, name in zip(rows, cases):
        d = fallback[k]
        rec: dict[str, Any] = {c: None for c in out.columns}
        rec["case"] = name
        if program.scenario is not None:
            rec["scenario"] = program.scenario.name
        if isinstance(d, CaseFailure):
            rec["failure"] = d.error
            for o in program.outputs:
                rec[f"{o}.needs"] = []
        else:
            for o in program.outputs:
                rec[o] = d.values.get(o)
                rec[f"{o}.rule"] = d.rules.get(o)
                rec[f"{o}.status"] = d.status.get(o, "value")
                rec[f"{o}.needs"] = list(d.needs.get(o, []))
                rec[f"{o}.reason"] = d.reason.get(o)
        for c in out.columns:
            patch[c].append(rec[c])
    schema = {c: (t if t != pl.Null else None) for c, t in out.schema.items()}
    fixed = pl.DataFrame({c: pl.Series(c, patch[c], dtype=schema[c], strict=False) for c in out.columns})
    index = "__index"
    kept = out.with_row_index(index).filter(~pl.col(index).is_in(rows))
    fixed = fixed.with_columns(pl.Series(index, rows, dtype=kept.schema[index]))
    return pl.concat([kept, fixed.select(kept.columns)], how="vertical_relaxed").sort(index).drop(index)


def decide_frame(book: Any, frame: Any, *, on: dt.date | None = None, report: FrameReport | None = None) -> Any:
    """Decide every row of a frame with the columnar engine; the same kind of frame out (see the module text).
    With ``report``, what the frame took is added to it: rows, rows decided one by one and why."""
    df, kind = to_polars(frame)
    df = flatten(df)
    check_columns(book.program, df.columns)
    case = None
    id_col = next((c for c in ("id", "name") if c in df.columns and c not in book.program.inputs), None)
    if id_col is not None:
        case = pl.col(id_col).cast(pl.String)
    if book.program.groups:
        lines, rep = grouped_lines(book, df, on, case)
        if report is not None:
            report.add(rep)
        return from_polars(records_frame(book, lines), kind)
    decided = run(book, df, on, case)
    if report is not None:
        report.add(decided.report)
    return from_polars(output_frame(book, decided), kind)


def check_columns(program: Program, columns: list[str]) -> None:
    """Every column is an input (or id, name, on, peildatum): a misspelt fact must not pass as missing."""
    from .check import suggest

    for c in columns:
        if c not in program.inputs and c not in SPECIAL and c not in program.groups:
            hint = suggest(c, list(program.inputs) + list(program.groups))
            raise UsageError(f"column `{c}` is not an input of the rule book" + (f"; {hint}" if hint else ""))


# ------------------------------------------------------------------ compact JSON lines


def json_text(s: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``json.dumps(s, ensure_ascii=False)`` of a text column, and the rows with control characters it does not
    write the same way (those rows are written by the compiled path)."""
    esc = (s.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)
           .str.replace_all("\n", "\\n", literal=True).str.replace_all("\r", "\\r", literal=True)
           .str.replace_all("\t", "\\t", literal=True).str.replace_all("\x08", "\\b", literal=True)
           .str.replace_all("\x0c", "\\f", literal=True))
    odd = s.str.contains("[\x00-\x07\x0b\x0e-\x1f]").fill_null(False)
    return pl.concat_str([pl.lit('"'), esc, pl.lit('"')]), odd


def _any(frame: pl.DataFrame, x: pl.Expr) -> bool:
    """Does ``x`` hold on any row of the batch? (Whole groups of the lines are left out where none needs them.)"""
    return bool(frame.select(x.fill_null(False).any()).item())


def _json_text(frame: pl.DataFrame, s: pl.Expr) -> tuple[pl.Expr, pl.Expr | None]:
    """``json_text`` of a text column of the batch, without the escaping where no row of the batch needs it."""
    if not _any(frame, s.str.contains(r'[\x00-\x1f"\\]')):
        return pl.concat_str([pl.lit('"'), s, pl.lit('"')]), None
    return json_text(s)


def json_lines(book: Any, decided: Decided) -> tuple[pl.Series, list[int]]:
    """The compact JSON line of every row (``FastDecision.to_json``), and rows to be written by the compiled path.

    The line is one concatenation of parts, column-wise; the parts that take few texts (the deciding rule, the
    statuses of all outputs together) are looked up from texts made once per batch."""
    program: Program = book.program
    comp = compiler(program)
    f = decided.frame
    odd: list[pl.Expr] = []
    parts: list[pl.Expr | str] = ['{"case":']
    case_j, case_odd = _json_text(f, pl.col(CASE))
    parts.extend([case_j.fill_null("null"), ',"values":{'])
    if case_odd is not None:
        odd.append(case_odd)
    rule_names = list(program.rules)
    rule_texts = [json.dumps(r, ensure_ascii=False) for r in rule_names]
    status_cols: list[tuple[str, Any]] = []
    needs: list[pl.Expr] = []
    reasons: list[pl.Expr] = []
    rules_parts: list[pl.Expr | str] = [',"rules":{']
    for i, o in enumerate(program.outputs):
        c = decided.plan_outputs[o]
        key = json.dumps(o, ensure_ascii=False)
        kind = program.values[o].type.kind
        v = pl.col(f"{o}#v") if is_expr(c["v"]) else pl.lit(c["v"])
        num = c["num"]
        if num is not None:
            vj = pl.concat_str([pl.lit('"'), decimal_text(v.cast(pl.Int128), num.scale, pl.col(f"{o}#d")
                                                          if is_expr(num.disp) else num.disp), pl.lit('"')])
        elif kind == "boolean":
            vj = pl.when(v.cast(pl.Boolean)).then(pl.lit("true")).when(~v.cast(pl.Boolean)).then(pl.lit("false"))
        elif kind == "integer":
            vj = v.cast(pl.Int64).cast(pl.String)
        elif kind == "date":
            vj = pl.concat_str([pl.lit('"'), v.cast(pl.Date).dt.to_string("%Y-%m-%d"), pl.lit('"')])
        elif kind in ("text", "enum"):
            vj, o_odd = _json_text(f, v.cast(pl.String))
            if o_odd is not None:
                odd.append(o_odd)
        else:
            vj = pl.lit(None, pl.String)
            odd.append(v.is_not_null())
        parts.append(("," if i else "") + key + ":")
        parts.append(vj.fill_null("null"))
        rule = c["rule"]
        rules_parts.append(("," if i else "") + key + ":")
        if is_expr(rule):
            rules_parts.append(pl.col(f"{o}#rule").replace_strict(rule_names, rule_texts,
                                                                  return_dtype=pl.String).fill_null("null"))
        else:
            rules_parts.append(json.dumps(rule, ensure_ascii=False) if rule is not None else "null")
        st = pl.col(f"{o}#st") if is_expr(c["st"]) else c["st"]
        status_cols.append((key, st))
        nd = {w: (pl.col(f"{o}#n{w}") if is_expr(b) else b) for w, b in c["nd"].items()}
        if nd:
            names = []
            for name in comp.input_names:
                w, b = divmod(comp.input_bit[name], WORD)
                bits = nd.get(w)
                if bits is None or (not is_expr(bits) and not (bits >> b) & 1):  # type: ignore[operator]
                    continue
                names.append(pl.when((lit(bits, pl.UInt64) & (1 << b)) != 0)
                             .then(pl.lit(json.dumps(name, ensure_ascii=False))).otherwise(pl.lit(None, pl.String)))
            if names:
                joined = pl.concat_str(names, separator=",", ignore_nulls=True)
                needs.append(pl.when(joined != "").then(pl.concat_str([pl.lit(key + ":["), joined, pl.lit("]")]))
                             .otherwise(pl.lit(None, pl.String)))
        reason = c["reason"]
        if reason is not None:
            r = pl.col(f"{o}#reason") if is_expr(reason) else pl.lit(reason, pl.String)
            has = OR_status(st) & r.is_not_null()
            if _any(f, has):
                rj, r_odd = json_text(r)
                odd.append(has & r_odd)
                reasons.append(pl.when(has).then(pl.concat_str([pl.lit(key + ":"), rj])).otherwise(pl.lit(None, pl.String)))
    parts.append("}")
    parts.extend(rules_parts)
    parts.append("}")
    parts.append(_status_group(f, status_cols))
    needs = [x for x in needs if _any(f, x.is_not_null())]
    for label, group in (("needs", needs), ("reason", reasons)):
        if group:
            joined = pl.concat_str(group, separator=",", ignore_nulls=True)
            parts.append(pl.when(joined != "").then(pl.concat_str([pl.lit(f',"{label}":{{'), joined, pl.lit("}")]))
                         .otherwise(pl.lit("")))
    scenario = (',"scenario":' + _DUMPS(program.scenario.name)) if program.scenario is not None else ""
    parts.append(scenario + "}")
    line = pl.concat_str(_merged(parts))
    if odd:
        res = f.select(line.alias("line"), pl.any_horizontal(odd).alias("odd"))
        redo = res.select(pl.int_range(pl.len()).filter(pl.col("odd"))).to_series().to_list()
        return res.get_column("line"), redo
    return f.select(line.alias("line")).get_column("line"), []


def _merged(parts: list[pl.Expr | str]) -> list[pl.Expr]:
    """The parts of a line, neighbouring texts as one literal."""
    out: list[pl.Expr] = []
    text = ""
    for x in parts:
        if isinstance(x, str):
            text += x
            continue
        if text:
            out.append(pl.lit(text))
            text = ""
        out.append(x)
    if text:
        out.append(pl.lit(text))
    return out


def _status_group(f: pl.DataFrame, cols: list[tuple[str, Any]]) -> pl.Expr | str:
    """``,"status":{…}`` of the outputs whose status is not ``value`` (or nothing): the statuses of all outputs as one
    number per row, and the text of each number the batch has, made once."""

    def text(sts: list[int]) -> str:
        entries = [f'{key}:"{STATUS_NAMES[code]}"' for (key, _st), code in zip(cols, sts) if code != VALUE]
        return ',"status":{' + ",".join(entries) + "}" if entries else ""

    varying = [(k, st) for k, (_key, st) in enumerate(cols) if is_expr(st)]
    if not varying:
        return text([st for _key, st in cols])
    if len(varying) > 27:  # 5**27 is the most a UInt64 holds
        entries = [pl.when(st != VALUE).then(pl.concat_str([pl.lit(key + ':"'), status_name(st), pl.lit('"')]))
                   .otherwise(pl.lit(None, pl.String)) if is_expr(st) else pl.lit(f'{key}:"{STATUS_NAMES[st]}"' if
                                                                                 st != VALUE else None, pl.String)
                   for key, st in cols]
        joined = pl.concat_str(entries, separator=",", ignore_nulls=True)
        return pl.when(joined != "").then(pl.concat_str([pl.lit(',"status":{'), joined, pl.lit("}")])).otherwise(pl.lit(""))
    code = pl.lit(0, pl.UInt64)
    for j, (_k, st) in enumerate(varying):
        code = code + st.cast(pl.UInt64) * (5**j)
    codes = f.select(code.unique().alias("c")).get_column("c").to_list()
    texts = []
    for c in codes:
        sts = [st for _key, st in cols]
        for j, (k, _st) in enumerate(varying):
            sts[k] = (c // 5**j) % 5
        texts.append(text(sts))
    return code.replace_strict(codes, texts, return_dtype=pl.String)


def OR_status(st: Any) -> pl.Expr:
    if is_expr(st):
        return (st == ERROR) | (st == 3)  # type: ignore[no-any-return]
    return pl.lit(st in (ERROR, 3))


__all__ = ["DEFAULT", "FrameReport", "UNDETERMINED", "decide_frame", "json_lines", "output_frame", "run"]


def decide_lines(book: Any, df: pl.DataFrame, on: dt.date | None = None, case: pl.Expr | None = None,
                 lines: list[int] | None = None, slow: Callable[[int], str] | None = None
                 ) -> tuple[pl.Series, FrameReport]:
    """The compact JSON line of every row of a (flattened) frame, byte for byte what the compiled path writes
    (``FastDecision.to_json``); a row that is no valid case gets a failure record with its line number
    (``lines[row]``, else the row's number from 1). With ``slow``, every row the plan does not decide is written
    by ``slow(row)`` instead (a JSON-lines file: the compiled path's own reading of the raw line)."""
    if book.program.groups:
        return grouped_lines(book, df, on, case, lines, slow)
    decided = run(book, df, on, case, decide_bad=slow is None)
    out, redo = json_lines(book, decided)
    fallback = decided.fallback
    if slow is not None:
        rows = sorted(set(decided.bad_rows) | set(redo))
        if rows:
            texts = [slow(k) for k in rows]
            decided.report.fallbacks = len(rows)
            decided.report.failures = sum('"passendezorg.failure/1"' in t[:40] for t in texts)
            bad = set(decided.bad_rows)
            kept = [k for k, t in zip(rows, texts) if '"passendezorg.failure/1"' not in t[:40]]
            decided.report.count_reasons(compiler(book.program), decided.frame, [k for k in kept if k in bad])
            decided.report.count_text(len([k for k in kept if k not in bad]))
            out = out.scatter(pl.Series(rows, dtype=pl.Int64), pl.Series(texts, dtype=pl.String))
        return out, decided.report
    extra = [k for k in redo if k not in fallback]
    if extra:
        fallback.update(one_by_one(book, df, extra, on))
        decided.report.fallbacks += len(extra)
        decided.report.count_text(len(extra))
    if fallback:
        rows = sorted(fallback)
        texts = []
        cases = decided.frame.get_column(CASE)
        for k in rows:
            d = fallback[k]
            name = cases[k]
            if isinstance(d, FastDecision):
                rec = d.as_json()
                rec["case"] = name
                texts.append(_DUMPS(rec))
            else:
                line = lines[k] if lines is not None else k + 1
                texts.append(_DUMPS({"format": "passendezorg.failure/1", "case": name, "line": line,
                                     "error": d.error}))
        out = out.scatter(pl.Series(rows, dtype=pl.Int64), pl.Series(texts, dtype=pl.String))
    return out, decided.report


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# ------------------------------------------------------------------ groups of facts


@dataclass(frozen=True)
class _Shape:
    """A rule book written out for one shape of case (``engines/expand.py``), as ``run`` takes a book."""

    program: Program


def group_columns(program: Program, df: pl.DataFrame) -> list[pl.Expr]:
    """Per group of the rule book: the column of its records' lists, checked (a list of records with the
    group's fields; a column of nulls is a list left out)."""
    out = []
    for path in sorted(program.groups):
        g = program.groups[path]
        nothing = pl.List(pl.Struct({f: pl.String for f in g.fields}))
        if path not in df.columns:
            out.append(pl.lit(None, nothing).alias(path))
            continue
        dtype = df.schema[path]
        if dtype == pl.Null:  # no row gives the list
            out.append(pl.col(path).cast(nothing))
            continue
        inner = dtype.inner if isinstance(dtype, pl.List) else None
        if inner == pl.Null:
            out.append(pl.col(path))
            continue
        if not isinstance(inner, pl.Struct):
            raise UsageError(f"column `{path}` holds the records of the group `{path}`: a list of records "
                             f"(structs with the fields {', '.join(g.fields)}), not {dtype}")
        from .check import suggest

        for f in inner.fields:
            if f.name not in g.fields:
                hint = suggest(f.name, list(g.fields))
                raise UsageError(f"column `{path}`: `{f.name}` is not a field of the group `{path}`"
                                 + (f"; {hint}" if hint else ""))
        out.append(pl.col(path))
    return out


def grouped_lines(book: Any, df: pl.DataFrame, on: dt.date | None = None, case: pl.Expr | None = None,
                  lines: list[int] | None = None, slow: Callable[[int], str] | None = None
                  ) -> tuple[pl.Series, FrameReport]:
    """``decide_lines`` for a rule book with groups of facts. The rows are split by their shape (how many
    records each group holds; ``expand.py``); each shape's rows go through the plan of the rule book written
    out for it (fields per record are inputs ``group[i].field``, aggregates read the records' columns), and
    their lines are put back under the rule book's outputs (``batch.regroup``: an output per record as a list).
    Rows the plan does not decide are decided by the compiled engine on their own records."""
    from .batch import regroup
    from .engines.expand import written_out

    program: Program = book.program
    paths = sorted(program.groups)
    base = df.with_columns(group_columns(program, df))
    n = base.height
    report = FrameReport(rows=n)
    if n == 0:
        return pl.Series("line", [], dtype=pl.String), report
    names = base.select((case if case is not None else pl.lit(None, pl.String)).cast(pl.String).alias("c")) \
        .get_column("c")
    if names.len() != n:
        names = pl.Series("c", [names[0]] * n, dtype=pl.String)
    lens = [pl.col(p).list.len().alias(f"__n{k}") for k, p in enumerate(paths)]
    holes = [pl.col(p).list.eval(pl.element().is_null()).list.any().fill_null(False) for p in paths]
    shaped = base.select([pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW), *lens,
                          pl.any_horizontal(holes).alias("__hole")])
    out: list[str | None] = [None] * n
    slow_rows: dict[int, str] = {}  # rows the compiled engine decides, and why
    by_shape = shaped.filter(~pl.col("__hole")).group_by([f"__n{k}" for k in range(len(paths))]).agg(pl.col(ROW))
    for row in shaped.filter(pl.col("__hole")).get_column(ROW).to_list():
        slow_rows[row] = "a record left out of a list of records (a null in the list)"
    for rec in by_shape.iter_rows():
        counts = dict(zip(paths, rec[:-1]))
        idx: list[int] = rec[-1]
        written = written_out(program, counts)
        sub = base[idx]
        fields = []
        for path in paths:
            k = counts[path]
            for i in range(k or 0):
                for f in program.groups[path].fields:
                    fields.append(pl.col(path).list.get(i).struct.field(f).alias(program.groups[path].field_input(i, f)))
        flat = sub.with_columns(fields).drop(paths) if fields else sub.drop(paths)
        shape_book = _Shape(written)
        decided = run(shape_book, flat, on, pl.lit(names.gather(idx)), decide_bad=False)
        texts, redo = json_lines(shape_book, decided)
        comp = compiler(written)
        bad = set(decided.bad_rows) | set(redo)
        why = decided.frame.get_column(WHY).to_list()
        for j, text in enumerate(texts.to_list()):
            k = idx[j]
            if j in bad:
                code = why[j]
                slow_rows[k] = comp.reasons[code] if code is not None else \
                    "a text with control characters, written by the compiled path"
                continue
            d = json.loads(text)
            fast = FastDecision(d["case"], d["values"], d["rules"], d.get("status", {}), d.get("needs", {}),
                                d.get("reason", {}), scenario=d.get("scenario"))
            out[k] = regroup(program, fast, counts).to_json()
    if slow_rows:
        rows = sorted(slow_rows)
        if slow is not None:
            texts_slow = [slow(k) for k in rows]
        else:
            decided_slow = one_by_one(book, df, rows, on)
            texts_slow = []
            for k in rows:
                d2 = decided_slow[k]
                if isinstance(d2, FastDecision):
                    rec2 = d2.as_json()
                    rec2["case"] = names[k]
                    texts_slow.append(_DUMPS(rec2))
                else:
                    line = lines[k] if lines is not None else k + 1
                    texts_slow.append(_DUMPS({"format": "passendezorg.failure/1", "case": names[k], "line": line,
                                              "error": d2.error}))
        for k, t in zip(rows, texts_slow):
            out[k] = t
            if '"passendezorg.failure/1"' in t[:40]:
                report.failures += 1
            else:
                report.fallbacks += 1
                report.note(slow_rows[k])
    return pl.Series("line", out, dtype=pl.String), report


def records_frame(book: Any, lines: pl.Series) -> pl.DataFrame:
    """Compact JSON lines as the frame ``decide_frame`` gives; failure records fill ``failure``. An output per
    record of a group is a list (one value per record), with its records' deciding rules in ``o.rules``."""
    program = book.program
    per_record = [o for o in program.outputs if program.values[o].group is not None]
    cols: dict[str, list[Any]] = {"case": []}
    for o in program.outputs:
        for part in ("", ".rule", ".status", ".needs", ".reason"):
            cols[o + part] = []
        if o in per_record:
            cols[o + ".rules"] = []
    cols["failure"] = []
    for text in lines.to_list():
        rec = json.loads(text)
        cols["case"].append(rec.get("case"))
        failed = rec.get("format") == "passendezorg.failure/1"
        cols["failure"].append(rec.get("error") if failed else None)
        for o in program.outputs:
            cols[o].append(None if failed else rec["values"].get(o))
            cols[o + ".rule"].append(None if failed else rec["rules"].get(o))
            cols[o + ".status"].append(None if failed else rec.get("status", {}).get(o, "value"))
            cols[o + ".needs"].append([] if failed else rec.get("needs", {}).get(o, []))
            cols[o + ".reason"].append(None if failed else rec.get("reason", {}).get(o))
            if o in per_record:
                cols[o + ".rules"].append(None if failed else rec.get("record_rules", {}).get(o))
    if program.scenario is not None:
        cols["scenario"] = [program.scenario.name] * len(cols["case"])
    schema: dict[str, Any] = {}
    for o in program.outputs:
        kind = program.values[o].type.kind
        one = {"boolean": pl.Boolean, "integer": pl.Int64}.get(kind, pl.String)
        schema[o] = pl.List(one) if o in per_record else one
        schema[o + ".rule"] = pl.String
        schema[o + ".status"] = pl.String
        schema[o + ".reason"] = pl.String
        schema[o + ".needs"] = pl.List(pl.String)
        if o in per_record:
            schema[o + ".rules"] = pl.List(pl.String)
    schema["case"] = pl.String
    schema["failure"] = pl.String
    df = pl.DataFrame(cols, schema_overrides=schema)
    casts = []
    for o in program.outputs:
        kind = program.values[o].type.kind
        if kind not in ("date", "money"):
            continue
        conv = pl.element().str.to_date("%Y-%m-%d") if kind == "date" else pl.element().cast(pl.Decimal(38, 2))
        if o in per_record:
            casts.append(pl.col(o).list.eval(conv))
        elif kind == "date":
            casts.append(pl.col(o).str.to_date("%Y-%m-%d"))
        else:
            casts.append(pl.col(o).cast(pl.Decimal(38, 2)))
    return df.with_columns(casts) if casts else df
