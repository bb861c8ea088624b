"""The columnar engine: a checked rule book compiled to a Polars expression plan, for batches.

The plan decides every derived value and output of every row of a frame at
once, with the interpreter's semantics (LANGUAGE.md 1-8), column by column:

* every expression is a *three-valued column*: its value (null where it is not
  known), the inputs it needs where it is unknown (a bit set, one bit per
  input), and the reason where it failed. Kleene ``and``/``or`` are Polars'
  own (its null is Kleene's unknown); everything else passes on the first
  failure, else the union of what its parts need, as ``first_bad`` does;
* every value with rules is resolved as ``Evaluation._decide`` resolves it:
  the possible outcomes of each rule tree (exceptions first) as columns —
  no rule, any value, a conflict, the least failure reason, and the value —
  combined over the roots, the default where no rule may apply, then the
  deciding rule from the walk of the trees;
* dates, validity periods, parameters and tables are read on each row's own
  peildatum; table look-ups are joins.

Amounts and decimals are exact: scaled integers (Int128) with a known number
of decimals, never floats; the rounding of amounts is in one place
(``Plan.rounded`` and ``store``: an output's amount to the cent, a derived amount
exact; every rounding mode, to cents, whole euros or whole numbers). A quotient
is held as its dividend and divisor (``ratio``; a value that is one as ``PAIR``)
until it is rounded, compared or stored, exactly where the interpreter's 28-digit
quotient gives the same answer. Where a row needs something the plan does
not express exactly — a number outside the exact range, a quotient too long to
round or compare exactly, a negative zero, more than one distinct value where
the combination needs them all — the row is marked with the reason
(``Plan.bad``; ``Compiler.reasons``), and the caller decides exactly that row
with the compiled engine. What a rule's condition or value marks counts only
where the rule is reached. The plan never gives a different answer; it gives
up on a row.

A rule book with groups of facts is planned per shape of case, written out
(``engines/expand.py``): its aggregates are folds over the records' columns
(``Plan.aggregate``); frames.py splits a batch by shape.

The plan is built per *profile* of a batch (which inputs have gaps, the
scales of the amounts, the range of dates): whatever the profile settles is
folded into constants, so a batch with complete facts runs two-valued code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

from .. import nodes as n
from ..errors import UsageError
from ..program import CheckedRule, Program, Table, ValueDecl

# ------------------------------------------------------------------ constants of the representation

LIMIT = 10**18
"""A scaled integer the plan keeps is smaller than this in magnitude (as every number is: values.NUMBER_LIMIT); at
or beyond it the row is decided by the compiled engine.
Products of two such numbers fit in Int128, so no operation can overflow before the check."""

MAX_SCALE = 18
"""The most decimals an amount or decimal may carry in the plan."""

VALUE, DEFAULT, UNDETERMINED, CONFLICT, ERROR = 0, 1, 2, 3, 4
STATUS_NAMES = ("value", "default", "undetermined", "conflict", "error")

DAY = "__day"
BAD = "__bad"
WHY = "__why"  # why a row leaves the plan: a code of ``Compiler.reasons``, null where the plan decides it
WORD = 64

Static = bool | int | str | None
X = Any  # a static Python value or a pl.Expr


class Unsupported(Exception):
    """A construct the plan does not express column-wise; rows that evaluate it go to the compiled engine."""


def is_expr(x: X) -> bool:
    return isinstance(x, pl.Expr)


def lit(x: X, dtype: Any = None) -> pl.Expr:
    if is_expr(x):
        return x  # type: ignore[no-any-return]
    return pl.lit(x, dtype=dtype)


def AND(*xs: X) -> X:
    out: X = True
    for x in xs:
        if x is False:
            return False
        if x is True:
            continue
        out = x if out is True else out & x
    return out


def OR(*xs: X) -> X:
    out: X = False
    for x in xs:
        if x is True:
            return True
        if x is False:
            continue
        out = x if out is False else out | x
    return out


def NOT(x: X) -> X:
    if x is True or x is False:
        return not x
    return ~x.cast(pl.Boolean)


def WHEN(c: X, a: X, b: X, dtype: Any = None) -> X:
    """``a`` where ``c`` holds, else ``b`` (``c`` never null)."""
    if c is True:
        return a
    if c is False:
        return b
    if not is_expr(a) and not is_expr(b) and a == b and type(a) is type(b):
        return a
    return pl.when(c).then(lit(a, dtype)).otherwise(lit(b, dtype))


def COALESCE(*xs: X) -> X:
    parts = [x for x in xs if x is not None]
    if not parts:
        return None
    if not is_expr(parts[0]):
        return parts[0]
    exprs = []
    for x in parts:
        exprs.append(lit(x, pl.String))
        if not is_expr(x):
            break
    return exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)


def LEAST(a: X, b: X) -> X:
    """The least of two failure reasons (either may be null): what ``sorted(fails)[0]`` picks."""
    if a is None:
        return b
    if b is None:
        return a
    if not is_expr(a) and not is_expr(b):
        return min(a, b)
    ea, eb = lit(a, pl.String), lit(b, pl.String)
    return pl.when(ea.is_null()).then(eb).when(eb.is_null()).then(ea).when(ea <= eb).then(ea).otherwise(eb)


# ------------------------------------------------------------------ needs: bit sets of inputs


Needs = dict[int, X]  # word -> UInt64 bits (static int or Expr); a missing word is 0


def n_or(*ns: Needs) -> Needs:
    out: Needs = {}
    for nd in ns:
        for w, bits in nd.items():
            if not is_expr(bits) and (bits is None or bits == 0):
                continue
            prev = out.get(w)
            if prev is None:
                out[w] = bits
            elif not is_expr(prev) and not is_expr(bits):
                out[w] = prev | bits
            else:
                out[w] = lit(prev, pl.UInt64) | lit(bits, pl.UInt64)
    return out


def n_mask(c: X, nd: Needs) -> Needs:
    """The needs where ``c`` holds, nothing elsewhere."""
    if c is False:
        return {}
    if c is True:
        return nd
    return {w: pl.when(c).then(lit(b, pl.UInt64)).otherwise(pl.lit(0, pl.UInt64)) for w, b in nd.items()}


def n_any(nd: Needs) -> X:
    return OR(*[(b != 0) if is_expr(b) else bool(b) for b in nd.values()])


# ------------------------------------------------------------------ three-valued columns


@dataclass
class Num:
    """How a number is held: integers as they are; decimals and amounts as integers scaled by 10**scale.

    ``disp`` is the number of decimals of the Python Decimal the interpreter would hold (its exponent, negated):
    static, or a column when it varies per row. It matters only where a decimal is written out."""

    scale: int = 0
    disp: X = 0


@dataclass
class T:
    """An expression over every row: its value (null where not known), the inputs it needs where it is unknown, and
    the reason where it failed (static None: never). ``maybe`` is False when the value is known on every row."""

    v: X
    kind: str
    nd: Needs = field(default_factory=dict)
    f: X = None
    maybe: bool = False
    num: Num | None = None
    items: list[T] | None = None  # a list or tuple literal; a quotient's dividend and divisor
    duration: n.Duration | None = None
    slack: X = None  # a quotient: a bound of the magnitudes its 28-digit rounding errors scale with, in the units
    # of the dividend (None: the dividend itself); see ``Plan.quotient_plus``

    @property
    def known(self) -> X:
        if not self.maybe:
            return True
        return lit(self.v).is_not_null()


def strict(parts: Sequence[T], value: X, kind: str, num: Num | None = None) -> T:
    """An operator on known values: known where all parts are, else the first failure, else what they all need."""
    maybe = any(p.maybe for p in parts)
    if not maybe:
        return T(value, kind, num=num)
    known = AND(*[p.known for p in parts])
    if known is not True and value is not None:
        value = pl.when(known).then(lit(value))
    return T(value, kind, n_or(*[p.nd for p in parts]), COALESCE(*[p.f for p in parts]), True, num)


def as_bool(t: T) -> tuple[X, X, X, X]:
    """(true, false, failed, unknown) flags of a boolean column; never null."""
    if not t.maybe:
        v = t.v
        return (v if is_expr(v) else bool(v)), NOT(v) if is_expr(v) else (not v), False, False
    v = lit(t.v).cast(pl.Boolean)
    tr = v.fill_null(False)
    fa = (~v).fill_null(False)
    if t.f is None:
        return tr, fa, False, v.is_null()
    fl = lit(t.f, pl.String).is_not_null() if is_expr(t.f) else True
    if fl is True:
        return tr, fa, v.is_null(), False
    return tr, fa, v.is_null() & fl, v.is_null() & ~fl


# ------------------------------------------------------------------ possible outcomes of rule trees


@dataclass
class P:
    """The possible outcomes of a rule tree on every row (the interpreter's ``Possibles``): no rule applies,
    any value (an unknown value), a conflict, the least failure reason, and the values: one (``v``) or several
    distinct ones (``multi``)."""

    none: X = True
    any: X = False
    conflict: X = False
    fail: X = None
    hv: X = False
    v: X = None
    multi: X = False


def p_nonfail(p: P) -> X:
    return OR(p.none, p.any, p.conflict, p.hv)


@dataclass
class Op:
    """A step of a plan before it is scheduled: expressions that each make a column (``with_columns``), or a join
    that reads the columns ``reads`` and makes ``makes``."""

    exprs: list[pl.Expr]
    join: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None
    reads: set[str] = field(default_factory=set)
    makes: set[str] = field(default_factory=set)


def schedule(ops: list[Op]) -> list[Callable[[pl.LazyFrame], pl.LazyFrame]]:
    """The ops as few steps: each expression in the first ``with_columns`` after the steps that make the columns it
    reads. A plan of thousands of columns made one step each costs Polars time per step and column (the schema
    of every step); grouped by their depth they are a few hundred steps."""
    stage_of: dict[str, int] = {}
    stages: list[list[pl.Expr] | Callable[[pl.LazyFrame], pl.LazyFrame]] = []
    for op in ops:
        if op.join is not None:
            stages.append(op.join)
            for c in op.makes:
                stage_of[c] = len(stages) - 1
            continue
        for x in op.exprs:
            need = max((stage_of.get(c, -1) for c in x.meta.root_names()), default=-1)
            at = need + 1
            while at < len(stages) and not isinstance(stages[at], list):
                at += 1
            if at == len(stages):
                stages.append([])
            stage = stages[at]
            assert isinstance(stage, list)
            stage.append(x)
            stage_of[x.meta.output_name()] = at
    steps: list[Callable[[pl.LazyFrame], pl.LazyFrame]] = []
    for st in stages:
        if isinstance(st, list):
            steps.append(lambda lf, exprs=st: lf.with_columns(exprs))  # type: ignore[misc]
        else:
            steps.append(st)
    return steps


class Plan:
    """The compiled plan of one rule book for one profile of a batch."""

    def __init__(self, compiler: Compiler, profile: Profile) -> None:
        self.c = compiler
        self.p = compiler.program
        self.profile = profile
        self.steps: list[Callable[[pl.LazyFrame], pl.LazyFrame]] = []  # what ``schedule`` makes of the ops
        self.ops: list[Op] = []
        self.pending: list[Op] = []
        self.why_cols: list[str] = []
        self.bads: list[tuple[X, str]] = []
        self.values: dict[str, T] = {}
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.counter = 0
        self.set_scale = 0  # the scale the outcomes of the value being decided compare at
        self.set_ratio = False  # the value being decided is held as a quotient (PAIR)
        self.day_text: pl.Expr = pl.col("__day_text")  # the day as the reasons write it, made once
        self.ops.append(Op([pl.col(DAY).dt.to_string("%Y-%m-%d").alias("__day_text")]))
        self.build()

    # -------------------------------------------------------------- helpers

    def tmp(self, prefix: str) -> str:
        self.counter += 1
        return f"__{prefix}{self.counter}"

    def fix(self, x: X, dtype: Any = None) -> X:
        """An expression as a column of its own (computed once, before the expressions that read it): keeps the
        trees Polars optimises small however deep the rule trees are."""
        if not is_expr(x):
            return x
        name = self.tmp("x")
        expr = (x.cast(dtype) if dtype is not None else x).alias(name)
        self.pending.append(Op([expr]))
        return pl.col(name)

    def fix_t(self, t: T) -> T:
        if not t.maybe and not is_expr(t.v):
            return t
        dtype = self.c.dtype_of(t.kind, t.num)
        v = self.fix(t.v, dtype) if t.v is not None else None
        f = self.fix(t.f, pl.String)
        nd = {w: self.fix(b, pl.UInt64) for w, b in t.nd.items()}
        num = t.num
        if num is not None and is_expr(num.disp):
            num = Num(num.scale, self.fix(num.disp, pl.Int32))
        out = T(v, t.kind, nd, f, t.maybe, num, t.items, t.duration)
        return out

    def fix_p(self, p: P) -> P:
        return P(self.fix(p.none, pl.Boolean), self.fix(p.any, pl.Boolean), self.fix(p.conflict, pl.Boolean),
                 self.fix(p.fail, pl.String), self.fix(p.hv, pl.Boolean), self.fix(p.v), self.fix(p.multi, pl.Boolean))

    def bad(self, x: X, why: str) -> None:
        """Rows where ``x`` holds (or is null) leave the plan, for the reason ``why``."""
        if x is not False:
            self.bads.append((x, why))

    def bad_where(self, where: X, bads: list[tuple[X, str]]) -> None:
        """Flags made for a part of a rule, counted only where the part is evaluated."""
        for x, why in bads:
            self.bad(AND(where, lit(x).fill_null(True)) if is_expr(x) else AND(where, x), why)

    def in_range(self, start: dt.date | None, end: dt.date | None) -> X:
        """Does the day of the row lie in [start, end]? Static where the batch's dates settle it."""
        lo, hi = self.profile.days
        if (start is None or start <= lo) and (end is None or hi <= end):
            return True
        if (start is not None and start > hi) or (end is not None and end < lo):
            return False
        conds = []
        if start is not None and start > lo:
            conds.append(pl.col(DAY) >= pl.lit(start))
        if end is not None and end < hi:
            conds.append(pl.col(DAY) <= pl.lit(end))
        return AND(*conds)

    # -------------------------------------------------------------- building

    def build(self) -> None:
        for name in self.p.order:
            decl = self.p.values[name]
            self.pending = []
            try:
                cols = self.decide(decl)
            except Unsupported as e:
                cols = self.unsupported_value(decl, str(e))
            self.ops.extend(self.pending)
            self.materialise(name, decl, cols)
        if self.why_cols:  # the first reason, in the order the values are decided
            self.ops.append(Op([pl.coalesce([pl.col(WHY), *[pl.col(c) for c in self.why_cols]]).alias(WHY)]))
        self.steps = schedule(self.ops)

    def unsupported_value(self, decl: ValueDecl, why: str) -> dict[str, X]:
        self.pending = []
        self.bad(True, why)
        return {"st": UNDETERMINED, "v": None, "rule": None, "nd": {}, "reason": None}

    def materialise(self, name: str, decl: ValueDecl, cols: dict[str, Any]) -> None:
        k = self.c.index[name]
        kind = decl.type.kind
        exprs: list[pl.Expr] = []
        st = cols["st"]
        out = {"st": st, "v": cols["v"], "rule": cols["rule"], "reason": cols["reason"]}
        num = cols.get("num")
        rational = cols.get("rational", False)
        dtypes = {"st": pl.UInt8, "v": PAIR if rational else self.c.dtype_of(kind, num), "rule": pl.String,
                  "reason": pl.String}
        static: dict[str, Any] = {}
        for part, x in out.items():
            if is_expr(x):
                exprs.append((x.cast(dtypes[part]) if dtypes[part] is not None else x).alias(f"v{k}.{part}"))
            else:
                static[part] = x
        nd: Needs = cols["nd"]
        nd_static: Needs = {}
        for w, bits in nd.items():
            if is_expr(bits):
                exprs.append(bits.cast(pl.UInt64).alias(f"v{k}.n{w}"))
            else:
                nd_static[w] = bits
        disp = num.disp if num is not None else 0
        if is_expr(disp):
            exprs.append(disp.cast(pl.Int32).alias(f"v{k}.d"))  # type: ignore[union-attr]
        bads = self.bads
        self.bads = []
        whys: list[pl.Expr] = []
        for flag, why in bads:
            code = self.c.reason_code(f"`{name}`: {why}")
            if flag is True:
                whys.append(pl.lit(code, pl.UInt16))
                break
            whys.append(pl.when(lit(flag).fill_null(True)).then(pl.lit(code, pl.UInt16)))
        if whys:
            exprs.append(pl.coalesce(whys).alias(f"v{k}.why"))
            self.why_cols.append(f"v{k}.why")
        self.ops.extend(Op([x]) for x in exprs)
        col = {part: (pl.col(f"v{k}.{part}") if part not in static else static[part]) for part in out}
        nd_cols: Needs = {w: (pl.col(f"v{k}.n{w}") if w not in nd_static else nd_static[w]) for w in nd}
        st_c = col["st"]
        known = OR(st_c == VALUE, st_c == DEFAULT) if is_expr(st_c) else st_c in (VALUE, DEFAULT)
        maybe = known is not True
        v = col["v"]
        fail = None
        if is_expr(st_c):
            fail = pl.when(st_c == CONFLICT).then(pl.lit(f"`{name}` has a conflict")).when(st_c == ERROR).then(
                lit(col["reason"], pl.String)).otherwise(pl.lit(None, pl.String))
        elif st_c == CONFLICT:
            fail = f"`{name}` has a conflict"  # type: ignore[assignment]
        elif st_c == ERROR:
            fail = col["reason"]
        nd_read = n_mask(st_c == UNDETERMINED, nd_cols) if is_expr(st_c) else (nd_cols if st_c == UNDETERMINED else {})
        if not maybe:
            fail, nd_read = None, {}
        if known is False:
            v = None
        rnum = None
        if num is not None:
            rnum = Num(num.scale, pl.col(f"v{k}.d") if is_expr(disp) else disp)
        if rational:
            self.values[name] = self.pair_value(v, nd_read, fail, maybe)
        else:
            self.values[name] = T(v, kind, nd_read, fail, maybe, rnum)
        self.outcomes[name] = {"st": col["st"], "v": v, "rule": col["rule"], "reason": col["reason"], "nd": nd_cols,
                               "num": rnum}

    # -------------------------------------------------------------- deciding one value

    def decide(self, decl: ValueDecl) -> dict[str, Any]:
        kind = decl.type.kind
        if decl.definition is not None:
            try:
                t = self.store(self.expr(decl.definition), kind, decl)
            except Unsupported as e:
                self.bad(True, str(e))
                t = T(None, kind, {}, None, True, Num(0, 0) if kind in ("money", "decimal") else None)
            if t.kind == "ratio":
                self.set_ratio = True
                t = T(self.pair(t), "ratio", t.nd, t.f, t.maybe)
                self.set_ratio = False
                return {**self.from_value(t), "rational": True}
            return self.from_value(t)
        rules = self.p.rules
        needs: list[Needs] = []
        conds: dict[str, tuple[X, X, X, X, T | None]] = {}
        vals: dict[str, T] = {}
        # what the plan cannot express in a rule's value or condition counts only where the rule is reached
        val_bads: dict[str, list[tuple[X, str]]] = {}
        cond_bads: dict[str, list[tuple[X, str]]] = {}
        for r_name in decl.rules:
            r = rules[r_name]
            saved, self.bads = self.bads, []
            try:
                t = self.store(self.expr(r.value), kind, decl)
                vals[r_name] = self.fix_t(t) if t.items is None else t
            except Unsupported as e:
                vals[r_name] = T(None, kind, {}, None, True, Num(0, 0) if kind in ("money", "decimal") else None)
                self.bads = [(True, str(e))]
            val_bads[r_name], self.bads = self.bads, saved
        default: T | None = None
        default_bads: list[tuple[X, str]] = []
        if decl.default is not None:  # before the rules' outcomes: its decimals count in the scale they compare at
            saved, self.bads = self.bads, []
            try:
                default = self.store(self.expr(decl.default), kind, decl)
            except Unsupported as e:
                default = T(None, kind, {}, None, True, Num(0, 0) if kind in ("money", "decimal") else None)
                self.bads = [(True, str(e))]
            default_bads, self.bads = self.bads, saved
        candidates = list(vals.values()) + ([default] if default is not None else [])
        rational = any(t.kind == "ratio" for t in candidates)
        num = None if rational else self.value_num(kind, candidates)
        self.set_scale = num.scale if num is not None else 0
        self.set_ratio = rational
        vdtype = PAIR if rational else self.c.dtype_of(kind, num)

        def cond(r: CheckedRule) -> tuple[X, X, X, X, T | None]:
            if r.name not in conds:
                saved, self.bads = self.bads, []
                if r.when is None:
                    conds[r.name] = (True, False, False, False, None)
                else:
                    try:
                        t = self.fix_t(self.expr(r.when))
                        conds[r.name] = (*[self.fix(x, pl.Boolean) for x in as_bool(t)], t)
                    except Unsupported as e:
                        conds[r.name] = (False, False, False, True, T(None, "boolean", {}, None, True))
                        self.bads = [(True, str(e))]
                cond_bads[r.name], self.bads = self.bads, saved
            return conds[r.name]

        def value(r: CheckedRule) -> T:
            return vals[r.name]

        possibles: dict[str, P] = {}

        def possible(name: str) -> P:
            if name in possibles:
                return possibles[name]
            r = rules[name]
            kids = P()
            for c in self.p.exceptions.get(name, ()):
                kids = self.fix_p(self.combine(kids, possible(c)))
            valid = self.in_range(r.valid_from, r.valid_until)
            active = AND(kids.none, valid)
            if active is False:
                possibles[name] = kids
                return kids
            ct, cf, cfail, cu, ctri = cond(r)
            own = value(r)
            inc_own = AND(active, OR(ct, cu))
            self.bad_where(active, cond_bads.pop(r.name, []))
            self.bad_where(inc_own, val_bads.pop(r.name, []))
            if ctri is not None and cu is not False:
                needs.append(n_mask(AND(active, cu), ctri.nd))
            out = P(none=AND(kids.none, OR(NOT(valid), cf, cu)), any=kids.any, conflict=kids.conflict,
                    fail=kids.fail, hv=kids.hv, v=kids.v, multi=kids.multi)
            if cfail is not False:
                assert ctri is not None
                out.fail = LEAST(out.fail, WHEN(AND(active, cfail), ctri.f, None, pl.String))
            if inc_own is not False:
                self.add_own(out, own, inc_own, needs)
            out = self.fix_p(out)
            possibles[name] = out
            return out

        top = P()
        for root in decl.roots:
            top = self.fix_p(self.combine(top, possible(root)))
        if top.none is False:
            default = None
        if default is not None:
            self.bad_where(top.none, default_bads)
            has_none = top.none
            sub = P(none=False, any=top.any, conflict=top.conflict, fail=top.fail, hv=top.hv, v=top.v,
                    multi=top.multi)
            self.add_own(sub, default, has_none, needs)
            top = self.fix_p(sub)
        # the outcome
        failed = lit(top.fail, pl.String).is_not_null() if is_expr(top.fail) else top.fail is not None
        count_gt1 = self.more_than_one(top)
        undetermined_many = AND(NOT(failed), count_gt1)
        conflict = AND(NOT(failed), NOT(count_gt1), top.conflict)
        settled = AND(NOT(failed), NOT(count_gt1), NOT(top.none), NOT(top.conflict))
        # the walk: rules that apply, and the winners in the order the interpreter names them
        applies: dict[str, X] = {}
        reached: dict[str, X] = {}

        def walk(name: str) -> X:
            if name in reached:
                return reached[name]
            r = rules[name]
            kids = [walk(c) for c in self.p.exceptions.get(name, ())]
            any_kid = OR(*kids)
            valid = self.in_range(r.valid_from, r.valid_until)
            ap = AND(valid, cond(r)[0]) if valid is not False else False
            self.bad_where(valid, cond_bads.pop(r.name, []))
            applies[name] = self.fix(AND(ap, NOT(any_kid)), pl.Boolean)
            reached[name] = self.fix(OR(any_kid, ap), pl.Boolean)
            return reached[name]

        order: list[str] = []

        def post(name: str) -> None:
            for c in self.p.exceptions.get(name, ()):
                post(c)
            if name not in order:
                order.append(name)

        for root in decl.roots:
            walk(root)
            post(root)
        winners = [(r, applies[r]) for r in order if applies[r] is not False]
        any_winner = OR(*[w for _r, w in winners])
        # deciding rule and value
        rule: X = None
        v: X = None
        vnum_disp: X = num.disp if num is not None else 0
        for r, w in reversed(winners):  # type: ignore[assignment]
            rule = WHEN(w, r, rule, pl.String)
            rv = vals[r]  # type: ignore[index]
            v = WHEN(w, self.comparable(rv), v, vdtype)
            if num is not None:
                vnum_disp = WHEN(w, self.align_disp(rv, num), vnum_disp)
        if default is not None:
            v = WHEN(any_winner, v, self.comparable(default), vdtype)
            if num is not None:
                vnum_disp = WHEN(any_winner, vnum_disp, self.align_disp(default, num))
        if num is not None:
            num = Num(num.scale, vnum_disp)
        status = WHEN(failed, ERROR, WHEN(count_gt1, UNDETERMINED, WHEN(top.none, UNDETERMINED, WHEN(
            top.conflict, CONFLICT, WHEN(any_winner, VALUE, DEFAULT)))))
        if default is None:
            status = WHEN(failed, ERROR, WHEN(count_gt1, UNDETERMINED, WHEN(top.none, UNDETERMINED, WHEN(
                top.conflict, CONFLICT, VALUE))))
        reason: X = None
        if conflict is not False:
            names = [WHEN(w, r, None, pl.String) for r, w in winners]
            joined: X
            if all(not is_expr(x) for x in names):
                joined = ", ".join(x for x in names if x)
            else:
                joined = pl.concat_str([lit(x, pl.String) for x in names], separator=", ", ignore_nulls=True)
            reason = WHEN(conflict, pl.concat_str([
                pl.lit("rules that are not exceptions to each other give different values: "), lit(joined, pl.String)])
                if is_expr(joined) else "rules that are not exceptions to each other give different values: " + joined,
                None, pl.String)
        if failed is not False:
            reason = WHEN(failed, top.fail, reason, pl.String)
        known = OR(AND(settled, any_winner), AND(settled, default is not None))
        v = WHEN(known, v, None, vdtype) if known is not True else v
        rule = WHEN(AND(settled, any_winner), rule, None, pl.String)
        nd = n_mask(undetermined_many, n_or(*needs))
        self.set_ratio = False
        return {"st": status, "v": v, "rule": rule, "reason": reason, "nd": nd, "num": num, "rational": rational}

    def pair(self, t: T) -> X:
        """A value (a number or a quotient) as the quotient ``{p, q}`` (q > 0) of two integers below LIMIT, as the
        plan holds a value that is a quotient; rows beyond that leave the plan."""
        if t.kind == "ratio" and t.slack is not None:  # a sum with a quotient: held where it is an exact decimal
            t = self.exact(t)
        if t.kind == "ratio":
            assert t.items is not None
            a, b = t.items
            assert a.num is not None and b.num is not None
            P = lit(a.v, pl.Int128).cast(pl.Int128) * (10**b.num.scale)
            Q = lit(b.v, pl.Int128).cast(pl.Int128) * (10**a.num.scale)
            P, Q = pl.when(Q < 0).then(0 - P).otherwise(P), Q.abs()
            self.bad(AND(t.known, (P.abs() >= LIMIT) | (Q >= LIMIT)), "a quotient beyond the exact range")
            return WHEN(t.known, pl.struct(P.alias("p"), Q.alias("q")), None, PAIR)
        if t.v is None:
            return None
        scale = t.num.scale if t.num is not None else 0
        return WHEN(t.known, pl.struct(lit(t.v, pl.Int128).cast(pl.Int128).alias("p"),
                                       pl.lit(10**scale, pl.Int128).alias("q")), None, PAIR)

    def pair_value(self, v: X, nd: Needs, fail: X, maybe: bool) -> T:
        """A value held as a quotient (``pair``), read as one: ``p / q`` at scale 0."""
        if v is None:
            return T(None, "ratio", nd, fail, True, items=[T(None, "decimal", num=Num(0, 0)),
                                                          T(None, "decimal", num=Num(0, 0))])
        marker = pl.when(lit(v).is_not_null()).then(pl.lit(True)).otherwise(pl.lit(None, pl.Boolean))
        return T(marker, "ratio", nd, fail, True,
                 items=[T(lit(v).struct.field("p"), "decimal", maybe=True, num=Num(0, 0)),
                        T(lit(v).struct.field("q"), "decimal", maybe=True, num=Num(0, 0))])

    def scale_to(self, t: T, scale: int) -> X:
        assert t.num is not None
        if t.num.scale > scale:
            raise Unsupported("a value with more decimals than its rules")
        return self.mul_const(t.v, 10 ** (scale - t.num.scale))

    def from_value(self, t: T) -> dict[str, Any]:
        """A value by its definition: known, failed or undetermined (``_from_value``)."""
        if not t.maybe:
            return {"st": VALUE, "v": t.v, "rule": None, "reason": None, "nd": {}, "num": t.num}
        known = t.known
        failed = lit(t.f, pl.String).is_not_null() if is_expr(t.f) else t.f is not None
        failed = AND(NOT(known), failed)
        st = WHEN(known, VALUE, WHEN(failed, ERROR, UNDETERMINED))
        reason = WHEN(failed, t.f, None, pl.String)
        return {"st": st, "v": t.v, "rule": None, "reason": reason,
                "nd": n_mask(AND(NOT(known), NOT(failed)), t.nd), "num": t.num}

    def value_num(self, kind: str, ts: list[T]) -> Num | None:
        if kind not in ("decimal", "money"):
            return None
        scales = [t.num.scale for t in ts if t.num is not None]
        return Num(max(scales) if scales else (2 if kind == "money" else 0), 0)

    def align_disp(self, t: T, num: Num) -> X:
        return t.num.disp if t.num is not None else 0

    def add_own(self, out: P, own: T, where: X, needs: list[Needs]) -> None:
        """Add ``possible_of(own)`` to the outcomes where ``where`` holds: a failure, any value, or the value."""
        known = own.known
        if own.maybe:
            failed = lit(own.f, pl.String).is_not_null() if is_expr(own.f) else own.f is not None
            failed = AND(NOT(known), failed)
            unknown = AND(NOT(known), NOT(failed))
            if failed is not False:
                out.fail = LEAST(out.fail, WHEN(AND(where, failed), own.f, None, pl.String))
            if unknown is not False:
                out.any = OR(out.any, AND(where, unknown))
                needs.append(n_mask(AND(where, unknown), own.nd))
        adds = AND(where, known)
        if adds is False:
            return
        ov = self.comparable(own)
        if out.hv is False:
            out.hv, out.v = adds, WHEN(adds, ov, None)
            return
        differ = self.differ(out.v, ov)
        out.multi = OR(out.multi, AND(out.hv, adds, differ))
        out.v = WHEN(out.hv, out.v, ov)
        out.hv = OR(out.hv, adds)

    def comparable(self, t: T) -> X:
        """A value as the possible outcomes compare it: amounts at one scale (see ``scale_to``), or every value
        as a quotient where one of them is."""
        if self.set_ratio:
            return self.pair(t)
        if t.num is not None:
            return self.scale_to(t, self.set_scale)
        return t.v

    def differ(self, a: X, b: X) -> X:
        if not is_expr(a) and not is_expr(b):
            return a != b
        if self.set_ratio:  # quotients p/q (q > 0): by cross multiplication
            pa, qa = lit(a).struct.field("p"), lit(a).struct.field("q")
            pb, qb = lit(b).struct.field("p"), lit(b).struct.field("q")
            return (pa * qb != pb * qa).fill_null(True)
        return (lit(a) != lit(b)).fill_null(True)

    def more_than_one(self, p: P) -> X:
        """More than one possible outcome (failures aside), or any value: undetermined."""
        n_flags = [p.none, p.conflict, p.hv]
        two = False
        for i in range(3):
            for j in range(i + 1, 3):
                two = OR(two, AND(n_flags[i], n_flags[j]))
        return OR(p.any, two, AND(p.hv, p.multi))

    def combine(self, a: P, b: P) -> P:
        """``combine_sets``: every outcome of one tree with every outcome of another."""
        if a.none is True and a.any is False and a.conflict is False and a.fail is None and a.hv is False:
            return b
        if b.none is True and b.any is False and b.conflict is False and b.fail is None and b.hv is False:
            return a
        nfa, nfb = p_nonfail(a), p_nonfail(b)
        out = P()
        out.none = AND(a.none, b.none)
        out.any = OR(AND(a.any, OR(b.none, b.any, b.hv)), AND(b.any, OR(a.none, a.hv)))
        pair_conflict = AND(a.hv, b.hv, OR(a.multi, b.multi, self.differ(a.v, b.v)))
        out.conflict = OR(AND(a.conflict, nfb), AND(b.conflict, nfa), pair_conflict)
        out.fail = LEAST(a.fail, WHEN(nfa, b.fail, None, pl.String) if b.fail is not None else None)
        surv_a = AND(a.hv, OR(b.none, AND(b.hv, NOT(b.multi), NOT(self.differ(a.v, b.v)))))
        surv_b = AND(b.hv, a.none)
        self.bad(AND(a.multi, b.hv, NOT(b.none)), "more than one value of one rule tree, with another's")
        self.bad(AND(b.multi, a.hv, NOT(a.none)), "more than one value of one rule tree, with another's")
        out.hv = OR(surv_a, surv_b)
        out.v = WHEN(surv_a, a.v, b.v)
        out.multi = OR(AND(a.multi, b.none), AND(b.multi, a.none), AND(surv_a, surv_b, self.differ(a.v, b.v)))
        return out

    # -------------------------------------------------------------- storing values

    def store(self, t: T, kind: str, decl: ValueDecl) -> T:
        """``values.store``: an output's amount to the cent (half up; a derived amount stays exact), an integer
        given for a decimal as a Decimal."""
        if kind == "money" and decl.is_output and t.kind in ("money", "decimal") and t.num is not None \
                and t.items is None:
            return self.rounded(t, 2, "half_up", kind="money")
        if kind == "list" and decl.is_output and decl.type.item is not None and decl.type.item.kind == "money":
            raise Unsupported("a list of amounts, each rounded as an output")
        if kind == "money" and decl.is_output and t.kind == "ratio":
            return self.rounded(t, 2, "half_up", kind="money")
        if kind == "decimal" and t.kind == "integer":
            return T(t.v, "decimal", t.nd, t.f, t.maybe, Num(0, 0))
        if t.kind == "ratio" and (decl.is_output or kind not in ("decimal", "money")):
            return self.exact(t, kind, f"a quotient stored as a {kind}")
        return t  # a derived quotient is held as one (``pair``)

    def exact(self, t: T, kind: str = "decimal", why: str = "a quotient that is no exact decimal") -> T:
        """A quotient as the decimal it is, where it is one with few enough decimals (the interpreter's Decimal
        quotient is then exact too, with the decimals Decimal gives it); the other rows leave the plan."""
        assert t.items is not None
        a, b = t.items
        assert a.num is not None and b.num is not None
        sa, sb = a.num.scale, b.num.scale
        s = min(MAX_SCALE, sa + 6, 20 - sb)
        if s < 0:
            return self.give_up([t], kind, why)
        # a/b = A * 10**sb / (B * 10**sa); at scale s: A * 10**(sb + s) / (B * 10**sa)
        A, B = lit(a.v, pl.Int128).cast(pl.Int128), lit(b.v, pl.Int128).cast(pl.Int128)
        num, den = A * (10 ** (sb + s)), B * (10**sa)
        known = t.known
        whole = pl.when(den != 0).then(num // den)
        value = self.fix(WHEN(known, whole, None, pl.Int128), pl.Int128)
        self.bad(AND(known, ((num.abs() % den.abs()) != 0) | (lit(value).abs() >= LIMIT)), why)
        needed = pl.lit(s, pl.Int32) - pl.sum_horizontal(
            [(lit(value) % (10**j) == 0).cast(pl.Int32) for j in range(1, s + 1)]) if s else pl.lit(0, pl.Int32)
        ideal = ADD(a.num.disp, 0 - b.num.disp if not is_expr(b.num.disp) else 0 - lit(b.num.disp, pl.Int32))
        if not is_expr(ideal) and ideal >= 0:
            disp: X = pl.max_horizontal(needed, pl.lit(ideal, pl.Int32))
        else:
            disp = pl.max_horizontal(needed, lit(ideal, pl.Int32))
            self.bad(AND(known, (lit(ideal, pl.Int32) < 0) & (needed == 0)), "a quotient with an exponent")
        return T(value, "money" if kind == "money" else "decimal", t.nd, t.f, t.maybe, Num(s, self.fix(disp, pl.Int32)))

    def rounded(self, t: T, places: int, mode: str, kind: str) -> T:
        """An amount or decimal rounded to ``places`` decimals in a mode of ``values.ROUNDING_MODES``: the one
        place where the plan rounds (``round_value``, ``store``)."""
        if t.kind == "ratio":
            return self.ratio_rounded(t, places, mode, kind)
        assert t.num is not None
        s = t.num.scale
        if s <= places:
            v = t.v if s == places else self.mul_const(t.v, 10 ** (places - s))
            out = T(v, kind, t.nd, t.f, t.maybe, Num(places, places) if kind != "integer" else None)
            if kind == "integer":
                out.num = None
            return out
        q = 10 ** (s - places)
        x = lit(t.v)
        r = round_quotient(x.abs(), pl.lit(q, pl.Int128), x < 0, mode)
        if kind != "integer":
            self.bad(AND(t.known, (r == 0) & (x < 0)), "a negative zero after rounding")  # Decimal keeps the sign
            return T(r, kind, t.nd, t.f, t.maybe, Num(places, places))
        return T(r.cast(pl.Int64), "integer", t.nd, t.f, t.maybe)

    def ratio_rounded(self, t: T, places: int, mode: str, kind: str) -> T:
        """A quotient rounded: exact in integers where the dividend is small enough that the interpreter's
        28-digit quotient rounds the same way (see the module text); elsewhere the row is left out."""
        assert t.items is not None
        a, b = t.items
        assert a.num is not None and b.num is not None
        sa, sb = a.num.scale, b.num.scale
        # a/b = (A / 10**sa) / (B / 10**sb) = A * 10**sb / (B * 10**sa); rounded to `places`
        shift = sb + places
        if shift > MAX_SCALE + 2:
            raise Unsupported("a quotient with too many decimals")
        A, B = lit(a.v, pl.Int128).cast(pl.Int128), lit(b.v, pl.Int128).cast(pl.Int128)
        num = A * (10**shift)
        den = B * (10**sa)
        sign_neg = (num < 0) != (den < 0)
        qabs = round_quotient(num.abs(), den.abs(), sign_neg, mode)
        known = t.known
        big = lit(t.slack) if t.slack is not None else A.abs()
        self.bad(AND(known, (big * (10**sb)) >= 10**23), "a quotient with too many digits to round exactly")
        q = WHEN(known, qabs, None, pl.Int128)
        if kind != "integer":
            self.bad(AND(known, (qabs == 0) & sign_neg & (A != 0)), "a negative zero after rounding")
            return T(q, kind, t.nd, t.f, t.maybe, Num(places, places))
        return T(lit(q).cast(pl.Int64), "integer", t.nd, t.f, t.maybe)

    # -------------------------------------------------------------- expressions

    def expr(self, e: n.Expr) -> T:
        if isinstance(e, n.Literal):
            return self.literal(e)
        if isinstance(e, n.Ref):
            return self.ref(e)
        if isinstance(e, n.Lookup):
            return self.lookup(e)
        if isinstance(e, (n.ListLit, n.TupleLit)):
            items = [self.expr(x) for x in e.items]
            t = strict(items, None, "list" if isinstance(e, n.ListLit) else "tuple")
            t.items = items
            return t
        if isinstance(e, n.Unary):
            a = self.expr(e.operand)
            if e.op == "not":
                return T(NOT(a.v) if a.v is not None else None, "boolean", a.nd, a.f, a.maybe)
            if e.op == "-":
                if a.kind == "duration":
                    raise Unsupported("a negated duration")
                if a.kind == "ratio":  # -(x / y) = (-x) / y
                    assert a.items is not None
                    x, y = a.items
                    neg = T(None if x.v is None else 0 - lit(x.v), x.kind, x.nd, x.f, x.maybe, x.num)
                    return T(a.v, "ratio", a.nd, a.f, a.maybe, items=[neg, y], slack=a.slack)
                # None: never known; Polars has no negation of Int128
                v = None if a.v is None else 0 - lit(a.v) if is_expr(a.v) else -a.v
                return T(v, a.kind, a.nd, a.f, a.maybe, a.num)
            return a
        if isinstance(e, n.IsKnown):
            a = self.expr(e.operand)
            if a.kind == "ratio":
                assert a.items is not None
                known = AND(a.known, NOT(lit(a.items[1].v) == 0) if is_expr(a.items[1].v) else a.items[1].v != 0)
            else:
                known = a.known
            return T(NOT(known) if e.negated else known, "boolean")
        if isinstance(e, n.Binary):
            return self.binary(e)
        if isinstance(e, n.Call):
            return self.call(e)
        if isinstance(e, n.Conditional):
            return self.conditional(e)
        if isinstance(e, n.Aggregate) and e.expanded:
            return self.aggregate(e)
        raise Unsupported(type(e).__name__)

    def conditional(self, e: n.Conditional) -> T:
        """``a if c else b`` (``Evaluation._conditional``): the side the condition picks; where the condition is
        unknown, the value both sides agree on, else the first failure of the sides, else unknown, needing what
        the condition and the sides need."""
        c = self.expr(e.condition)
        a, b = self.expr(e.then), self.expr(e.otherwise)
        if a.kind == "ratio" or b.kind == "ratio":
            a = self.exact(a) if a.kind == "ratio" else a
            b = self.exact(b) if b.kind == "ratio" else b
        if a.items is not None or b.items is not None or a.kind in ("list", "tuple", "duration") \
                or b.kind in ("list", "tuple", "duration"):
            raise Unsupported("a conditional list")
        numeric = e.kind in ("decimal", "money") or a.num is not None or b.num is not None
        if numeric:
            a = a if a.num is not None else T(a.v, "decimal", a.nd, a.f, a.maybe, Num(0, 0))
            b = b if b.num is not None else T(b.v, "decimal", b.nd, b.f, b.maybe, Num(0, 0))
            av, bv, scale = self.numeric_pair(a, b) if a.v is not None and b.v is not None else \
                (a.v, b.v, max(a.num.scale, b.num.scale))  # type: ignore[union-attr]
            if a.v is None and b.v is not None:
                bv = self.mul_const(b.v, 10 ** (scale - b.num.scale))  # type: ignore[union-attr]
            if b.v is None and a.v is not None:
                av = self.mul_const(a.v, 10 ** (scale - a.num.scale))  # type: ignore[union-attr]
            kind = "money" if "money" in (a.kind, b.kind, e.kind) else "decimal"
        else:
            av, bv, kind = a.v, b.v, e.kind or a.kind
        ct, cf, cfail, cu = as_bool(c)
        if not a.maybe and not b.maybe and not c.maybe:
            v = WHEN(ct, av, bv, self.c.dtype_of(kind, Num(0) if numeric else None))
            num = Num(scale, WHEN(ct, a.num.disp, b.num.disp)) if numeric else None  # type: ignore[union-attr]
            return T(v, kind, num=num)
        a_known, b_known = a.known, b.known
        both = AND(a_known, b_known)
        same = AND(both, NOT(self.differ(av, bv))) if both is not False else False
        dtype = self.c.dtype_of(kind, Num(0) if numeric else None)
        v = pl.when(lit(ct)).then(lit(av, dtype)).when(lit(cf)).then(lit(bv, dtype)).when(lit(AND(cu, same))) \
            .then(lit(av, dtype)).otherwise(pl.lit(None, dtype))
        side_fail = COALESCE(a.f, b.f)
        f = COALESCE(WHEN(ct, a.f, None, pl.String) if a.f is not None else None,
                     WHEN(cf, b.f, None, pl.String) if b.f is not None else None,
                     WHEN(cfail, c.f, None, pl.String) if c.f is not None else None,
                     WHEN(cu, side_fail, None, pl.String) if side_fail is not None else None)
        nd = n_or(n_mask(ct, a.nd), n_mask(cf, b.nd), n_mask(AND(cu, NOT(same)), n_or(c.nd, a.nd, b.nd)))
        num = None
        if numeric:
            num = Num(scale, WHEN(OR(ct, AND(cu, same)), a.num.disp, b.num.disp))  # type: ignore[union-attr]
        return T(v, kind, nd, f, True, num)

    def literal(self, e: n.Literal) -> T:
        v = e.value
        if isinstance(v, n.Duration):
            return T(None, "duration", duration=v)
        if isinstance(v, bool):
            return T(v, "boolean")
        if e.kind in ("money", "decimal") or isinstance(v, Decimal):
            return self.const_num(Decimal(v), "money" if e.kind == "money" else "decimal")  # type: ignore[arg-type]
        if isinstance(v, int):
            if abs(v) >= LIMIT:
                raise Unsupported("a very large integer")
            return T(v, "integer")
        if isinstance(v, dt.date):
            return T(pl.lit(v), "date")
        if isinstance(v, str):
            return T(v, e.kind if e.kind in ("text", "enum") else "text")
        raise Unsupported(f"a literal {v!r}")

    def const_num(self, d: Decimal, kind: str) -> T:
        scaled, scale, disp = scaled_int(d)
        if scaled is None:
            raise Unsupported("a number beyond the exact range")
        return T(scaled, kind, num=Num(scale, disp))

    def ref(self, e: n.Ref) -> T:
        if e.kind == "input":
            return self.input(e.name)
        if e.kind == "value":
            return self.values[e.name]
        if e.kind == "param":
            return self.param(e.name)
        raise Unsupported("a table as a value")

    def input(self, name: str) -> T:
        decl = self.p.inputs[name]
        kind = decl.type.kind
        col = pl.col(f"i:{name}")
        prof = self.profile
        num = None
        if kind in ("decimal", "money"):
            scale, disp = prof.scales.get(name, (0, 0))
            num = Num(scale, pl.col(f"s:{name}") if disp is None else disp)
        if kind == "list":
            kind = "list"
        if name not in prof.gaps:
            return T(col, kind, num=num)
        w, b = divmod(self.c.input_bit[name], WORD)
        nd = {w: pl.when(col.is_null()).then(pl.lit(1 << b, pl.UInt64)).otherwise(pl.lit(0, pl.UInt64))}
        return T(col, kind, nd, None, True, num)

    def param(self, name: str) -> T:
        par = self.p.parameters[name]
        kind = par.type.kind
        lo, hi = self.profile.days
        pieces: list[tuple[X, Any]] = []  # (in force on the row's day, value or None)
        covered: X = False
        for per in par.periods:
            where = self.in_range(per.start, per.end)
            if where is False:
                continue
            pieces.append((where, per.value))
            covered = OR(covered, where)
        missing = NOT(covered)
        num = None
        if kind in ("money", "decimal"):
            scales = [scaled_int(Decimal(v)) for _w, v in pieces if v is not None]
            if any(s[0] is None for s in scales):
                raise Unsupported("a parameter beyond the exact range")
            scale = max([s[1] for s in scales], default=2 if kind == "money" else 0)
            disp: X = 0
            value: X = None
            for where, v in reversed(pieces):
                if v is None:
                    value = WHEN(where, None, value, pl.Int128)
                    continue
                x, s, d = scaled_int(Decimal(v))
                assert x is not None
                value = WHEN(where, pl.lit(x * 10 ** (scale - s), pl.Int128), value, pl.Int128)
                disp = WHEN(where, d, disp)
            num = Num(scale, disp)
        else:
            value = None
            for where, v in reversed(pieces):
                value = WHEN(where, self.c.const_value(v, kind), value, self.c.dtype_of(kind, None))
        nothing = OR(missing, *[w for w, v in pieces if v is None])
        if nothing is False:
            return T(value, kind, num=num)
        reason = pl.concat_str([pl.lit(f"no value of `{name}` is in force on "), self.day_text])
        return T(WHEN(nothing, None, value, self.c.dtype_of(kind, num)), kind, {}, WHEN(nothing, reason, None, pl.String),
                 True, num)

    # -------------------------------------------------------------- tables

    def table_join(self, table: Table, keys: list[T]) -> tuple[str, dict[str, str]]:
        """Join the table on the key columns (and the period of the row's day, for a dated table); the names of
        the column that says a row was found, and of the cells."""
        tag = self.tmp("t")
        key_cols = [f"{tag}k{i}" for i in range(len(keys))]
        key_exprs = []
        for t, kc, kname in zip(keys, key_cols, table.keys):
            ckind = table.columns[kname].kind
            key_exprs.append(self.key_expr(t, ckind).alias(kc))
        frame, period = self.c.table_frame(table, self.profile, key_cols, tag,
                                           [self.key_scale(t, table.columns[k].kind) for t, k in zip(keys, table.keys)])
        found = f"{tag}found"
        cells = {c: f"{tag}c.{c}" for c in table.columns}
        on = list(key_cols)
        extra = []
        if period is not None:
            extra.append(period.alias(f"{tag}p"))
            on.append(f"{tag}p")

        def step(lf: pl.LazyFrame, on: list[str] = on, frame: pl.LazyFrame = frame) -> pl.LazyFrame:
            return lf.join(frame, on=on, how="left", maintain_order="left", nulls_equal=False)

        self.pending.extend(Op([x]) for x in key_exprs + extra)
        made = [c for c in frame.collect_schema().names() if c not in on]
        self.pending.append(Op([], step, set(on), set(made)))
        return found, cells

    def key_scale(self, t: T, ckind: str) -> int:
        if ckind in ("decimal", "money"):
            return t.num.scale if t.num is not None else 0
        return 0

    def key_expr(self, t: T, ckind: str) -> pl.Expr:
        if t.kind == "duration" or t.kind == "ratio" or t.items is not None:
            raise Unsupported("this key")
        if ckind in ("decimal", "money") and t.num is None and t.kind == "integer":
            return lit(t.v).cast(pl.Int128)
        if ckind in ("decimal", "money") and t.num is not None:
            return lit(t.v, pl.Int128)
        if t.num is not None:
            raise Unsupported("a decimal key for another column type")
        return lit(t.v, self.c.dtype_of(ckind, None))

    def key_text(self, keys: list[T]) -> pl.Expr:
        parts: list[pl.Expr] = []
        for i, t in enumerate(keys):
            if i:
                parts.append(pl.lit(", "))
            parts.append(self.c.text_of(t))
        return pl.concat_str(parts)

    def lookup(self, e: n.Lookup) -> T:
        table = self.p.tables[e.table]
        keys = [self.expr(k) for k in e.keys]
        found, cells = self.table_join(table, keys)
        ckind = table.columns[e.column].kind
        cell = pl.col(cells[e.column])
        num = None
        if ckind in ("money", "decimal"):
            scale = self.c.table_scale(table, e.column)
            num = Num(scale, pl.col(cells[e.column] + "#d"))
        base = strict(keys, None, ckind)
        kt = self.key_text(keys)
        when = [pl.lit(" in force on "), self.day_text] if table.dated else []
        no_row = pl.concat_str([pl.lit(f"table `{table.name}` has no row for "), kt, *when])
        no_cell = pl.concat_str([pl.lit(f"no value is known in `{table.name}` for "), kt,
                                 pl.lit(f", column `{e.column}`, on "), self.day_text])
        known_keys = AND(*[k.known for k in keys])  # not base.known: base holds no value to be known
        fnd = pl.col(found).fill_null(False)
        f = COALESCE(base.f, pl.when(lit(known_keys) & ~fnd).then(no_row).when(
            lit(known_keys) & cell.is_null()).then(no_cell).otherwise(pl.lit(None, pl.String)))
        v = WHEN(known_keys, cell, None, self.c.dtype_of(ckind, num))
        return T(v, ckind, base.nd, f, True, num)

    def in_table(self, e: n.Binary) -> T:
        table = self.p.tables[e.right.name]  # type: ignore[union-attr]
        left = self.expr(e.left)
        keys = left.items if left.items is not None and isinstance(e.left, n.TupleLit) else [left]
        if len(keys) != len(table.keys):
            raise Unsupported("a key of another width")
        found, _cells = self.table_join(table, keys)
        has = pl.col(found).fill_null(False)
        res = has if e.op == "in" else ~has
        return strict([left] if left.items is None else keys, res, "boolean")

    # -------------------------------------------------------------- operators

    def binary(self, e: n.Binary) -> T:
        op = e.op
        if op in ("and", "or"):
            return self.logic(op, self.expr(e.left), self.expr(e.right))
        if op in ("in", "notin") and isinstance(e.right, n.Ref) and e.right.kind == "table":
            return self.in_table(e)
        a, b = self.expr(e.left), self.expr(e.right)
        if op in ("in", "notin"):
            return self.membership(a, b, op == "in")
        if op in ("=", "!=", "<", "<=", ">", ">="):
            return self.compare(op, a, b)
        return self.arith(op, a, b, e)

    def logic(self, op: str, a: T, b: T) -> T:
        """Kleene ``and``/``or`` (Polars' own); where the answer is unknown, the first failure or what both need."""
        if not a.maybe and not b.maybe:
            return T(AND(a.v, b.v) if op == "and" else OR(a.v, b.v), "boolean")
        av, bv = lit(a.v, pl.Boolean).cast(pl.Boolean), lit(b.v, pl.Boolean).cast(pl.Boolean)
        res = av & bv if op == "and" else av | bv
        bad = res.is_null()
        nd = n_mask(bad, n_or(a.nd, b.nd))
        f = COALESCE(a.f, b.f)
        f = WHEN(bad, f, None, pl.String) if f is not None else None
        return T(res, "boolean", nd, f, True)

    # -------------------------------------------------------------- aggregates over the records of a group

    def aggregate(self, e: Any) -> T:
        """An aggregate written out for the records of a case's shape (``expand.py``: ``e.items``), as
        ``semantics.aggregate`` gives it: the known records decide where they can; else the first failure in record
        order, else unknown, needing the fields (with their index) of the records that matter."""
        func, kind = e.func, e.kind or "integer"
        if e.items is None:  # the case does not give the list
            w, bit = divmod(self.c.input_bit[e.group], WORD)
            return T(None, kind, {w: 1 << bit}, None, True, Num(0, 0) if kind in ("money", "decimal") else None)
        items: list[tuple[T, T | None]] = []
        for cond, body in e.items:
            c = self.expr(cond) if cond is not None else T(True, "boolean")
            ct, cf, _cfail, _cu = as_bool(c)
            v = None
            if body is not None:
                saved, self.bads = self.bads, []
                v = self.expr(body)
                if v.kind == "ratio":
                    v = self.exact(v)
                made, self.bads = self.bads, saved
                self.bad_where(NOT(cf), made)  # a record's value is read only where its condition is not false
            items.append((c, v))
        if func in ("any", "all"):
            acc = T(func == "all", "boolean")
            for c, v in items:
                assert v is not None
                acc = self.logic("or", acc, self.logic("and", c, v)) if func == "any" else \
                    self.logic("and", acc, self.logic("or", T(None if c.v is None else NOT(c.v), "boolean", c.nd, c.f,
                                                              c.maybe), v))
            return acc
        return self.numeric_aggregate(func, kind, e.group, items)

    def numeric_aggregate(self, func: str, kind: str, group: str, items: list[tuple[T, T | None]]) -> T:
        numeric = kind in ("money", "decimal")
        vals: list[T] = []
        for _c, v in items:
            if func == "count" or v is None:
                vals.append(T(1, "integer"))
            elif v.v is None:
                vals.append(v)
            elif numeric and v.num is None:
                vals.append(T(v.v, "decimal", v.nd, v.f, v.maybe, Num(0, 0)))
            else:
                vals.append(v)
        scale = max([v.num.scale for v in vals if v.num is not None], default=0)
        flags = [as_bool(c) for c, _v in items]
        # the first failure, in record order
        fails = []
        for (c, _v), v, (_ct, cf, _cfail, _cu) in zip(items, vals, flags):
            f = COALESCE(c.f, v.f)
            if f is not None:
                fails.append(WHEN(NOT(cf), f, None, pl.String))
        fail = COALESCE(*fails)

        def at_scale(v: T) -> X:
            return self.mul_const(v.v, 10 ** (scale - v.num.scale)) if v.num is not None else v.v

        # the records that surely count, their least and greatest value (the first of equal ones)
        sure = [AND(ct, v.known) for (ct, _cf, _cfail, _cu), v in zip(flags, vals)]
        low: X = None
        low_d: X = 0
        found: X = False
        if func in ("minimum", "maximum"):
            for s_, v in zip(sure, vals):
                if v.v is None or s_ is False:
                    continue
                x = at_scale(v)
                better = OR(NOT(found), (lit(x) < lit(low)) if func == "minimum" else (lit(x) > lit(low))) \
                    if found is not False else True
                take = AND(s_, better)
                ldtype = self.c.dtype_of(kind, v.num)
                low = WHEN(take, x, low, ldtype) if low is not None else WHEN(take, x, None, ldtype)
                if v.num is not None:
                    low_d = WHEN(take, v.num.disp, low_d)
                found = OR(found, s_)
                low, found = self.fix(low), self.fix(found, pl.Boolean)
        # the records whose condition or value is unknown and that would matter
        unknown: X = False
        needs: list[Needs] = []
        for (c, _v), v, (_ct, cf, _cfail, cu) in zip(items, vals, flags):
            v_unknown = NOT(v.known)
            matters = OR(cu, v_unknown)
            if cu is not False and v.v is not None:
                x = at_scale(v)
                harmless: X = False
                if func == "sum":
                    harmless = lit(x) == 0
                elif func in ("minimum", "maximum") and found is not False:
                    harmless = lit(found) & ((lit(x) >= lit(low)) if func == "minimum" else (lit(x) <= lit(low)))
                if harmless is not False:
                    matters = OR(AND(cu, v.known, NOT(lit(harmless).fill_null(False))), v_unknown)
            rec = AND(NOT(cf), matters)
            if rec is False:
                continue
            rec = self.fix(rec, pl.Boolean)
            unknown = OR(unknown, rec)
            needs.append(n_mask(rec, n_or(c.nd, v.nd)))
        failed = lit(fail, pl.String).is_not_null() if is_expr(fail) else fail is not None
        is_unknown = AND(NOT(failed), unknown)
        num = Num(scale, 0) if numeric else None
        if func in ("sum", "count"):
            total: X = 0
            disp: X = 0
            for s_, v in zip(sure, vals):
                if s_ is False or v.v is None:
                    continue
                x = at_scale(v)
                total = (lit(total, pl.Int128) + WHEN(s_, lit(x, pl.Int128), 0, pl.Int128)) if numeric else \
                    (lit(total, pl.Int64) + WHEN(s_, lit(x, pl.Int64), 0, pl.Int64))
                if numeric and v.num is not None:
                    disp = WHEN(s_, MAXD(disp, v.num.disp), disp)
                total = self.fix(total)
            value: X = total
            if numeric:
                num = Num(scale, self.fix(disp, pl.Int32))
            if is_expr(total):
                self.bad(AND(NOT(failed), NOT(unknown), lit(total).abs() >= LIMIT), "a sum beyond the exact range")
            no_value: X = False
        else:
            value = low
            no_value = NOT(found)
            if numeric:
                num = Num(scale, low_d)
            reason = f"the {func} of no records of `{group}` has no value"
            fail = COALESCE(fail, WHEN(AND(NOT(unknown), no_value), reason, None, pl.String))
            failed = lit(fail, pl.String).is_not_null() if is_expr(fail) else fail is not None
        known = AND(NOT(failed), NOT(unknown), NOT(no_value))
        if known is True and not needs and fail is None:
            return T(value, kind, num=num)
        v_out = WHEN(known, value, None, self.c.dtype_of(kind, num))
        return T(v_out, kind, n_mask(is_unknown, n_or(*needs)), WHEN(failed, fail, None, pl.String) if
                 fail is not None else None, True, num)

    def membership(self, a: T, b: T, positive: bool) -> T:
        if b.items is not None:
            if not b.items:
                return strict([a], False if positive else True, "boolean")
            tests = [self.compare("=", a, item) for item in b.items]
            if any(t.v is None for t in tests):  # a part that is never known: so is the answer (strict)
                return strict([a, *b.items], None, "boolean")
            res = OR(*[t.v for t in tests])
            res = res if positive else NOT(res)
            return strict([a, *b.items], res, "boolean")
        if b.kind == "list":
            if a.num is not None:
                raise Unsupported("a number in a list")
            res = lit(b.v).list.contains(lit(a.v))
            return strict([a, b], res if positive else NOT(res), "boolean")
        raise Unsupported("membership")

    def numeric_pair(self, a: T, b: T) -> tuple[X, X, int]:
        """Two numbers at one scale (integers are scale 0)."""
        sa = a.num.scale if a.num is not None else 0
        sb = b.num.scale if b.num is not None else 0
        s = max(sa, sb)
        if s > MAX_SCALE:
            raise Unsupported("too many decimals")
        return self.mul_const(a.v, 10 ** (s - sa)), self.mul_const(b.v, 10 ** (s - sb)), s

    def mul_const(self, x: X, k: int) -> X:
        if k == 1:
            return x
        if is_expr(x):
            return x.cast(pl.Int128) * k
        return None if x is None else x * k

    def compare(self, op: str, a: T, b: T) -> T:
        if a.kind == "ratio" and b.kind == "ratio":
            a, b = self.exact(a), self.exact(b)
        elif b.kind == "ratio":
            return self.compare({"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op), b, a)
        elif a.kind == "ratio":
            return self.compare_quotient(op, a, b)
        if a.v is None or b.v is None:
            return strict([a, b], None, "boolean")
        av, bv = a.v, b.v
        if a.num is not None or b.num is not None:
            av, bv, _s = self.numeric_pair(a, b)
        if not is_expr(av) and not is_expr(bv):
            if av is None or bv is None:
                return strict([a, b], None, "boolean")
            res: X = {"=": av == bv, "!=": av != bv, "<": av < bv, "<=": av <= bv, ">": av > bv, ">=": av >= bv}[op]
            return strict([a, b], res, "boolean")
        x, y = lit(av), lit(bv)
        res = {"=": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
        return strict([a, b], res, "boolean")

    def compare_quotient(self, op: str, r: T, y: T) -> T:
        """A quotient ``A * 10**sb / (B * 10**sa)`` compared with a number ``Y / 10**sy``, exactly, by cross
        multiplication. The interpreter compares its 28-digit quotient: the same answer where ``|A| * 10**(sb + sy)``
        is below 10**27 (two distinct values then lie further apart than the quotient's rounding); else the
        row leaves the plan."""
        assert r.items is not None
        a, b = r.items
        assert a.num is not None and b.num is not None
        if y.v is None or y.kind not in ("integer", "decimal", "money"):
            return strict([r, y], None, "boolean") if y.v is None else self.compare(op, self.exact(r), y)
        sa, sb, sy = a.num.scale, b.num.scale, (y.num.scale if y.num is not None else 0)
        if sb + sy > 19 or sa > 1:
            return self.compare(op, self.exact(r), y)
        A, B, Y = (lit(x.v, pl.Int128).cast(pl.Int128) for x in (a, b, y))
        left, right = A * (10 ** (sb + sy)), Y * B * (10**sa)
        ops = {"=": lambda x, z: x == z, "!=": lambda x, z: x != z, "<": lambda x, z: x < z,
               "<=": lambda x, z: x <= z, ">": lambda x, z: x > z, ">=": lambda x, z: x >= z}
        res = pl.when(B > 0).then(ops[op](left, right)).otherwise(ops[op](right, left))
        out = strict([r, y], res, "boolean")
        big = lit(r.slack) * (10 ** (sb + sy)) if r.slack is not None else left.abs()
        self.bad(AND(out.known, big >= 10**26), "a quotient with too many digits to compare exactly")
        return out

    def arith(self, op: str, a: T, b: T, e: n.Binary) -> T:
        if b.kind == "duration" or a.kind == "duration":
            date, dur = (a, b) if b.kind == "duration" else (b, a)
            assert dur.duration is not None
            amount = dur.duration.amount if (op == "+" or a.kind == "duration") else -dur.duration.amount
            days = abs(amount) * {"days": 1, "months": 31, "years": 366}[dur.duration.unit]
            if days > (dt.date.max - dt.date.min).days:
                return self.give_up([date], "date", "a date out of range")  # beyond 0001-01-01 … 9999-12-31: an error
            value = self.c.add_duration(lit(date.v), amount, dur.duration.unit)
            t = strict([date], value, "date")
            # a date out of the range a date has is an error of the value: the compiled engine says which
            self.bad(AND(t.known, (value < pl.lit(dt.date.min)) | (value > pl.lit(dt.date.max))), "a date out of range")
            return t
        if a.kind == "date" and op == "-":
            return strict([a, b], (lit(a.v) - lit(b.v)).dt.total_days().cast(pl.Int64), "integer")
        if op in ("+", "-") and (a.kind == "ratio") != (b.kind == "ratio") and a.v is not None and b.v is not None:
            return self.quotient_plus(op, a, b, e)
        if a.kind == "ratio":
            a = self.exact(a)
        if b.kind == "ratio":
            b = self.exact(b)
        if a.v is None or b.v is None:
            k = "integer" if a.num is None and b.num is None and op != "/" else "decimal"
            return strict([a, b], None, k, None if k == "integer" else Num(0, 0))
        if op == "/":
            return self.quotient(a, b, e)
        if a.num is None and b.num is None:
            res = {"+": lit(a.v) + lit(b.v), "-": lit(a.v) - lit(b.v), "*": lit(a.v) * lit(b.v)}[op] \
                if (is_expr(a.v) or is_expr(b.v)) else {"+": a.v + b.v, "-": a.v - b.v, "*": a.v * b.v}[op]
            t = strict([a, b], res, "integer")
            if is_expr(res):
                wide = {"+": lit(a.v).cast(pl.Int128) + lit(b.v), "-": lit(a.v).cast(pl.Int128) - lit(b.v),
                        "*": lit(a.v).cast(pl.Int128) * lit(b.v)}[op]
                self.bad(AND(t.known, wide.abs() >= LIMIT), "a number beyond the exact range")
            elif res is not None and abs(res) >= LIMIT:
                raise Unsupported("a very large integer")
            return t
        kind = "money" if "money" in (a.kind, b.kind) else "decimal"
        da = a.num.disp if a.num is not None else 0
        db = b.num.disp if b.num is not None else 0
        if op in ("+", "-"):
            x, y, s = self.numeric_pair(a, b)
            res = lit(x, pl.Int128) + lit(y, pl.Int128) if op == "+" else lit(x, pl.Int128) - lit(y, pl.Int128)
            disp = MAXD(da, db)
        else:
            sa = a.num.scale if a.num is not None else 0
            sb = b.num.scale if b.num is not None else 0
            s = sa + sb
            if s > MAX_SCALE:
                raise Unsupported("too many decimals")
            res = lit(a.v, pl.Int128).cast(pl.Int128) * lit(b.v, pl.Int128)
            disp = ADD(da, db)
            t0 = strict([a, b], True, "boolean")
            self.bad(AND(t0.known, (res == 0) & ((lit(a.v) < 0) | (lit(b.v) < 0))), "a negative zero")  # Decimal keeps it
        t = strict([a, b], res, kind, Num(s, disp))
        self.bad(AND(t.known, res.abs() >= LIMIT), "a number beyond the exact range")
        return t

    def quotient_plus(self, op: str, a: T, b: T, e: n.Binary) -> T:
        """A quotient plus or minus a number (or a number minus a quotient): ``(x ± c * y) / y``, still a quotient.
        The interpreter adds to its 28-digit quotient and rounds the sum to 28 digits: its error is below
        ``10**-27`` times ``|x / y| + |c|``, which the slack bounds (in the units of the new dividend)."""
        r, c, flip = (a, b, False) if a.kind == "ratio" else (b, a, True)
        assert r.items is not None
        x, y = r.items
        if c.kind not in ("integer", "decimal", "money"):
            return self.give_up([a, b], "decimal", "arithmetic on a quotient")
        cy = self.arith("*", c, y, e)
        if flip:  # c - x/y = (c*y - x) / y
            top = self.arith("-", cy, x, e) if op == "-" else self.arith("+", cy, x, e)
        else:
            top = self.arith(op, x, cy, e)
        assert top.num is not None and x.num is not None and cy.num is not None
        s = top.num.scale
        old = r.slack if r.slack is not None else lit(x.v, pl.Int128).cast(pl.Int128).abs()
        slack = self.mul_const(old, 10 ** (s - x.num.scale)) + \
            self.mul_const(lit(cy.v, pl.Int128).cast(pl.Int128).abs(), 10 ** (s - cy.num.scale))
        out = strict([r, c], True, "ratio")
        v = WHEN(AND(out.known, top.known), True, None, pl.Boolean) if out.maybe or top.maybe else True
        return T(v, "ratio", n_or(out.nd, top.nd), COALESCE(out.f, top.f), out.maybe or top.maybe,
                 items=[top, y], slack=self.fix(slack, pl.Int128))

    def quotient(self, a: T, b: T, e: n.Binary) -> T:
        """``a / b``: kept as the pair until it is rounded (an amount stored, ``round``); known where both are
        and the divisor is not zero, a failure (the interpreter's words) where it is zero."""
        an = a if a.num is not None else T(a.v, "decimal", a.nd, a.f, a.maybe, Num(0, 0))
        bn = b if b.num is not None else T(b.v, "decimal", b.nd, b.f, b.maybe, Num(0, 0))
        both = strict([a, b], True, "boolean")
        zero = (lit(b.v) == 0).fill_null(False) if is_expr(b.v) else b.v == 0
        if zero is False:
            t = T(both.v, "ratio", both.nd, both.f, both.maybe)
        else:
            reason = f"division by zero at line {e.span.line}"
            divides = AND(both.known, NOT(zero))
            f = COALESCE(both.f, WHEN(AND(both.known, zero), reason, None, pl.String))
            t = T(WHEN(divides, True, None, pl.Boolean), "ratio", both.nd, f, True)
        t.items = [an, bn]
        if is_expr(a.v) or is_expr(b.v):  # 0 / -4 is Decimal's -0: its sign would show where it is written
            self.bad(AND(both.known, (lit(a.v) == 0) & (lit(b.v) < 0)), "a negative zero")
        elif a.v == 0 and b.v is not None and b.v < 0:
            self.bad(both.known, "a negative zero")
        return t

    def give_up(self, parts: Sequence[T], kind: str, why: str) -> T:
        """What the plan does not express: not known, and the rows where its parts are known leave the plan."""
        t = strict(parts, True, kind)
        self.bad(t.known, why)
        return T(None, kind, t.nd, t.f, True)

    def call(self, e: n.Call) -> T:
        f = e.func
        args = [self.expr(x) for x in e.args]
        if f in ("round", "round_down", "round_money", "round_down_money"):
            a = args[0]
            mode = e.mode or ("down" if f.startswith("round_down") else "half_up")
            if mode not in ROUNDING:
                raise Unsupported(f"rounding {mode}")
            money = f.endswith("_money")
            if a.num is None and a.kind != "ratio":
                if money:
                    a = T(a.v, "decimal", a.nd, a.f, a.maybe, Num(0, 0))
                else:
                    return a
            places = 0 if e.unit == "euros" else 2 if money else 0
            return self.rounded(a, places, mode, "money" if money else "integer")
        args = [self.exact(a) if a.kind == "ratio" else a for a in args]
        if any(a.v is None and a.items is None for a in args):
            kinds = {"age": "integer", "year": "integer", "days_between": "integer", "count": "integer"}
            k = kinds.get(f, args[0].kind)
            return strict(args, None, k, args[0].num if k == args[0].kind else None)
        if f == "age":
            born, on = lit(args[0].v), lit(args[1].v)
            res = (on.dt.year().cast(pl.Int64) - born.dt.year().cast(pl.Int64)
                   - ((on.dt.month().cast(pl.Int32) * 100 + on.dt.day().cast(pl.Int32))
                      < (born.dt.month().cast(pl.Int32) * 100 + born.dt.day().cast(pl.Int32))).cast(pl.Int64))
            return strict(args, res, "integer")
        if f == "year":
            return strict(args, lit(args[0].v).dt.year().cast(pl.Int64), "integer")
        if f == "start_of_month":
            return strict(args, lit(args[0].v).dt.month_start(), "date")
        if f == "days_between":
            return strict(args, (lit(args[1].v) - lit(args[0].v)).dt.total_days().cast(pl.Int64), "integer")
        if f == "count":
            if args[0].items is not None:
                return strict(args[0].items, len(args[0].items), "integer")
            return strict(args, lit(args[0].v).list.len().cast(pl.Int64), "integer")
        if f == "abs":
            a = args[0]
            return strict(args, lit(a.v).abs() if is_expr(a.v) else abs(a.v), a.kind, a.num)
        if f in ("min", "max"):
            return self.minmax(f, args)
        raise Unsupported(f)

    def minmax(self, f: str, args: list[T]) -> T:
        numeric = any(a.num is not None for a in args)
        acc = args[0]
        kind = acc.kind
        for b in args[1:]:
            if numeric:
                an = acc if acc.num is not None else T(acc.v, "decimal", acc.nd, acc.f, acc.maybe, Num(0, 0))
                bn = b if b.num is not None else T(b.v, "decimal", b.nd, b.f, b.maybe, Num(0, 0))
                x, y, s = self.numeric_pair(an, bn)
                keep = (lit(x) <= lit(y)) if f == "min" else (lit(x) >= lit(y))
                kind = "money" if "money" in (acc.kind, b.kind) else "decimal"
                assert an.num is not None and bn.num is not None
                v = pl.when(keep).then(lit(x, pl.Int128)).otherwise(lit(y, pl.Int128))
                disp = WHEN(keep, an.num.disp, bn.num.disp)
                acc = strict([acc, b], v, kind, Num(s, disp))
            else:
                keep = (lit(acc.v) <= lit(b.v)) if f == "min" else (lit(acc.v) >= lit(b.v))
                acc = strict([acc, b], pl.when(keep).then(lit(acc.v)).otherwise(lit(b.v)), kind)
        return acc


ROUNDING = ("half_up", "half_even", "down", "up", "towards_zero")
"""The rounding modes the plan has (values.ROUNDING_MODES): all of them."""


def round_quotient(an: pl.Expr, ad: pl.Expr, negative: X, mode: str) -> pl.Expr:
    """The integer ``±an / ad`` (``an`` >= 0, ``ad`` > 0, the sign ``negative``) rounded as Decimal rounds in the
    mode: half up is away from zero at the half, down is to minus infinity, up to plus infinity."""
    whole, rest = an // ad, an % ad
    if mode == "half_up":
        up = 2 * rest >= ad
    elif mode == "half_even":
        up = (2 * rest > ad) | ((2 * rest == ad) & (whole % 2 == 1))
    elif mode == "towards_zero":
        up = pl.lit(False)
    elif mode == "down":
        up = lit(negative) & (rest > 0)
    else:  # up
        up = ~lit(negative) & (rest > 0)
    mag = whole + up.cast(pl.Int128)
    return pl.when(lit(negative)).then(0 - mag).otherwise(mag)


PAIR = pl.Struct({"p": pl.Int128, "q": pl.Int128})
"""A value that is a quotient (``Plan.pair``)."""


def MAXD(a: X, b: X) -> X:
    if not is_expr(a) and not is_expr(b):
        return max(a, b)
    return pl.max_horizontal(lit(a, pl.Int32), lit(b, pl.Int32))


def ADD(a: X, b: X) -> X:
    if not is_expr(a) and not is_expr(b):
        return a + b
    return lit(a, pl.Int32) + lit(b, pl.Int32)


def scaled_int(d: Decimal) -> tuple[int | None, int, int]:
    """(integer, scale, decimals) of a Decimal: ``d == integer / 10**scale``; decimals is -exponent (may be < 0)."""
    if not d.is_finite():
        return None, 0, 0
    sign, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    disp = -exp
    scale = max(disp, 0)
    if scale > MAX_SCALE:
        return None, 0, 0
    x = int(d.scaleb(scale))
    if abs(x) >= LIMIT:
        return None, 0, 0
    return x, scale, disp


# ------------------------------------------------------------------ profiles and the compiler


@dataclass(frozen=True)
class Profile:
    """What a batch settles for the plan: the inputs that have gaps, the scale of every amount or decimal input
    (and its decimals: static, or None for a column ``s:<input>``), and the first and last day."""

    gaps: frozenset[str]
    scales: Mapping[str, tuple[int, int | None]]
    days: tuple[dt.date, dt.date]

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.gaps, tuple(sorted(self.scales.items())), self.days)


class Compiler:
    """The columnar form of one checked rule book: plans per profile, built once and kept."""

    def __init__(self, program: Program) -> None:
        if program.groups:
            raise UsageError("a rule book with groups of facts is decided per shape of case: plan its written-out "
                             "form (engines/expand.py), as frames.py does")
        self.program = program
        self.index = {name: k for k, name in enumerate(program.order)}
        # what a value may need: the inputs, and the groups whose list a case may leave out (a written-out aggregate)
        self.input_names = sorted(set(program.inputs) | groups_read(program))
        self.input_bit = {name: k for k, name in enumerate(self.input_names)}
        self.plans: dict[tuple[Any, ...], Plan] = {}
        self.reasons: list[str] = []  # why rows leave the plan, by the code the column WHY holds
        self._reason_codes: dict[str, int] = {}
        self.outputs_of: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.set_scale = 0
        self._table_scales: dict[tuple[str, str], int] = {}
        for t in program.tables.values():
            for c, ty in t.columns.items():
                if ty.kind in ("money", "decimal"):
                    self._table_scales[t.name, c] = self._scale_of_column(t, c)

    def reason_code(self, why: str) -> int:
        """The code of a reason why rows leave the plan (the same for every plan of the rule book)."""
        code = self._reason_codes.get(why)
        if code is None:
            code = self._reason_codes[why] = len(self.reasons)
            self.reasons.append(why)
        return code

    def plan(self, profile: Profile) -> Plan:
        found = self.plans.get(profile.key)
        if found is None:
            if len(self.plans) > 32:
                self.plans.clear()
            found = self.plans[profile.key] = Plan(self, profile)
        return found

    # -------------------------------------------------------------- types

    def dtype_of(self, kind: str, num: Num | None) -> Any:
        if num is not None or kind in ("money", "decimal"):
            return pl.Int128
        return {"boolean": pl.Boolean, "integer": pl.Int64, "date": pl.Date, "text": pl.String, "enum": pl.String,
                "list": None, "tuple": None, "ratio": pl.Boolean}.get(kind)

    def const_value(self, v: Any, kind: str) -> X:
        if v is None:
            return None
        if isinstance(v, dt.date):
            return pl.lit(v)
        return v

    def add_duration(self, date: pl.Expr, amount: int, unit: str) -> pl.Expr:
        if unit == "days":
            return date + pl.duration(days=amount)
        months = amount * (12 if unit == "years" else 1)
        return date.dt.offset_by(f"{months}mo")

    def text_of(self, t: T) -> pl.Expr:
        """``str(value)`` of a known value, as the interpreter's messages write keys."""
        if t.num is not None:
            return decimal_text(lit(t.v, pl.Int128), t.num.scale, t.num.disp, str_form=True)
        if t.kind == "boolean":
            return pl.when(lit(t.v)).then(pl.lit("True")).otherwise(pl.lit("False"))
        if t.kind == "date":
            return lit(t.v).dt.to_string("%Y-%m-%d")
        return lit(t.v).cast(pl.String)

    # -------------------------------------------------------------- tables

    def _scale_of_column(self, table: Table, column: str) -> int:
        s = 0
        for rows in table.rows.values():
            for r in rows:
                v = r.values.get(column)
                if isinstance(v, Decimal):
                    _x, sc, _d = scaled_int(v)
                    s = max(s, sc)
        return min(s, MAX_SCALE)

    def table_scale(self, table: Table, column: str) -> int:
        return self._table_scales.get((table.name, column), 0)

    def table_frame(self, table: Table, profile: Profile, key_cols: list[str], tag: str,
                    key_scales: list[int]) -> tuple[pl.LazyFrame, pl.Expr | None]:
        """The table as a frame to join: per period of the batch's days (for a dated table), the row in force
        for each key — the first in the file, as ``row_on`` finds it."""
        lo, hi = profile.days
        cuts: list[dt.date] = []
        if table.dated:
            found = set()
            for rows in table.rows.values():
                for r in rows:
                    if r.valid_from is not None and lo < r.valid_from <= hi:
                        found.add(r.valid_from)
                    if r.valid_until is not None and lo <= r.valid_until < hi:
                        found.add(r.valid_until + dt.timedelta(days=1))
            cuts = sorted(found)
        starts = [lo, *cuts]
        cols: dict[str, list[Any]] = {c: [] for c in key_cols}
        cols[f"{tag}found"] = []
        names = list(table.columns)
        for c in names:
            cols[f"{tag}c.{c}"] = []
            if self.table_scale(table, c) or table.columns[c].kind in ("money", "decimal"):
                cols[f"{tag}c.{c}#d"] = []
        period_col = f"{tag}p"
        if cuts:
            cols[period_col] = []
        for p, start in enumerate(starts):
            for key, rows in table.rows.items():
                row = next((r for r in rows if r.valid_on(start)), None)
                if row is None:
                    continue
                kv = []
                ok = True
                for k, kname, ks in zip(key, table.keys, key_scales):
                    ckind = table.columns[kname].kind
                    if ckind in ("money", "decimal"):
                        x, s, _d = scaled_int(Decimal(k))
                        if x is None or s > ks:
                            ok = False
                            break
                        kv.append(x * 10 ** (ks - s))
                    else:
                        kv.append(k)
                if not ok:
                    continue
                for kc, x in zip(key_cols, kv):
                    cols[kc].append(x)
                cols[f"{tag}found"].append(True)
                for c in names:
                    v = row.values[c]
                    ckind = table.columns[c].kind
                    if ckind in ("money", "decimal"):
                        sc = self.table_scale(table, c)
                        if v is None:
                            cols[f"{tag}c.{c}"].append(None)
                            cols[f"{tag}c.{c}#d"].append(0)
                        else:
                            x, s, d = scaled_int(Decimal(v))
                            cols[f"{tag}c.{c}"].append(None if x is None else x * 10 ** (sc - s))
                            cols[f"{tag}c.{c}#d"].append(d)
                    else:
                        cols[f"{tag}c.{c}"].append(v)
                if cuts:
                    cols[period_col].append(p)
        schema: dict[str, Any] = {}
        for kc, kname in zip(key_cols, table.keys):
            schema[kc] = self.dtype_of(table.columns[kname].kind, None)
        schema[f"{tag}found"] = pl.Boolean
        for c in names:
            schema[f"{tag}c.{c}"] = self.dtype_of(table.columns[c].kind, None)
            if f"{tag}c.{c}#d" in cols:
                schema[f"{tag}c.{c}#d"] = pl.Int32
        if cuts:
            schema[period_col] = pl.Int32
        frame = pl.DataFrame(cols, schema=schema)
        period = None
        if cuts:
            period = pl.sum_horizontal([(pl.col(DAY) >= pl.lit(c)).cast(pl.Int32) for c in cuts]).cast(pl.Int32)
        return frame.lazy(), period


def groups_read(program: Program) -> set[str]:
    """The groups the aggregates of a (written-out) rule book read."""
    found: set[str] = set()
    exprs = [x for r in program.rules.values() for x in (r.when, r.value) if x is not None]
    exprs += [x for d in program.values.values() for x in (d.definition, d.default) if x is not None]
    while exprs:
        e = exprs.pop()
        if isinstance(e, n.Aggregate):
            found.add(e.group)
            for c, v in e.items or ():
                exprs.extend(x for x in (c, v) if x is not None)
        for x in vars(e).values():
            if isinstance(x, n.Expr):
                exprs.append(x)
            elif isinstance(x, tuple):
                exprs.extend(y for y in x if isinstance(y, n.Expr))
    return found


def decimal_text(x: pl.Expr, scale: int, disp: X, str_form: bool = False) -> pl.Expr:
    """``format(d, "f")`` of a Decimal held as ``x / 10**scale`` with ``disp`` decimals (``str(d)`` when
    ``str_form``: the same for the numbers the plan keeps, except exponents, which leave the row out)."""
    sign = pl.when(x < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    ax = x.abs()
    if scale == 0:
        whole = ax.cast(pl.String)
        frac: pl.Expr | None = None
    else:
        whole = (ax // (10**scale)).cast(pl.String)
        frac = (ax % (10**scale)).cast(pl.String).str.zfill(scale)
    if frac is None:
        body = whole
        if is_expr(disp) or disp > 0:
            d = lit(disp, pl.Int32)
            body = pl.when(d > 0).then(pl.concat_str([whole, pl.lit("."), pl.lit("0").repeat_by(d).list.join("")]))\
                .otherwise(whole)
        return pl.concat_str([sign, body])
    if not is_expr(disp):
        if disp <= 0:
            return pl.concat_str([sign, whole])
        if disp >= scale:
            tail = frac if disp == scale else pl.concat_str([frac, pl.lit("0" * (disp - scale))])
            return pl.concat_str([sign, whole, pl.lit("."), tail])
        return pl.concat_str([sign, whole, pl.lit("."), frac.str.slice(0, disp)])
    d = lit(disp, pl.Int32)
    return pl.when(d <= 0).then(pl.concat_str([sign, whole])).otherwise(
        pl.concat_str([sign, whole, pl.lit("."), frac.str.slice(0, d)]))
