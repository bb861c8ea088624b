"""The compiled engine: a checked rule book turned into one generated Python function.

The reference interpreter (engine.py) is the ground truth; this module is a
fast path beside it. ``compile_program`` generates Python source for the whole
rule book once and compiles it. ``CompiledProgram.run(inputs, day)`` then
returns, for every value in ``program.order``, the value and the deciding rule
that the interpreter would give. Each value has its own generated block; when
a block cannot decide (a missing input that is read, a value not in force, a
missing table row or cell, a division by zero, a conflict), the value's
generated three-valued block decides it (``_TriGen``: Kleene logic over
Unknown and Fail, the interpreter's resolution of rule trees, its reasons and
needed inputs), with the values it depends on as the generated code found
them, and the next blocks go on with its answer; should that block fail, the
interpreter decides the value alone, exact by definition. In a two-valued
block every fact that is read is known, so Python's short-circuit
``and``/``or`` in the interpreter's left-to-right order gives what Kleene
logic gives. ``run`` gives None only when the dated state of
the rule book cannot be built for the day; ``evaluate`` then asks the
interpreter for the whole case.

``compile_explainer`` builds the same blocks in explain mode: they also record
the rules that concur with the deciding one and the rules overridden (with the
exception that won), and generated three-valued functions record the facts the
interpreter records, with their sources; ``Explainer.records`` gives every
value's outcome as the interpreter gives it, explanation included.

Rule files are data. The generated text is built only from generated
identifiers (``v3``, ``r3``, ``_k7``) and from ``repr()`` of checked names and
of plain literal values (text, integers, booleans); every other constant
(amounts, dates, sets) lives in a constants table. Before it is compiled the
text is parsed and audited: only known identifiers, attributes and calls.
"""

from __future__ import annotations

import ast
import bisect
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

from .. import nodes as n
from ..check import arith_type, disjoint
from ..program import CheckedRule, Program, SourceInfo, ValueDecl
from ..values import (
    CENT,
    NUMBER_LIMIT,
    ROUNDING_MODES,
    Fail,
    Unknown,
    add_duration,
    age,
    all_in_range,
    parse_date,
    round_money,
    round_value,
    store,
)
from .interpreter import Evaluation
from .semantics import (
    ANY,
    CONFLICT,
    NONE,
    Outcome,
    Possibles,
    aggregate,
    apply_binary,
    apply_call,
    combine_sets,
    conditional_unknown,
    first_bad,
    key_text,
    merge,
    needed_reason,
    no_value_in_force,
    possible_of,
    read_outcome,
    table_cell,
)

# ------------------------------------------------------------------ results

#: how a value is decided, per value: by a definition, by rules with a default, by rules without one
BY_DEFINITION, WITH_DEFAULT, NO_DEFAULT = 0, 1, 2


class FastResult(tuple):  # type: ignore[type-arg]
    """What the fast path found for one case: ``(values, rules, kinds, evaluation)``, aligned with ``names``.

    ``values[k]`` is the value of ``names[k]`` (None when not known),
    ``rules[k]`` the name of the deciding rule (None for a definition, a
    default, or not known). Plain tuples: nothing is built per case that a
    batch does not need. ``evaluation`` is None when the two-valued blocks
    decided every value; otherwise the record of the values decided in
    three-valued logic (a missing input, an error, a conflict): their outcomes
    by position (``decided``), and the interpreter's Evaluation in ``ev`` if
    it had to decide one (None otherwise).
    """

    __slots__ = ()

    @property
    def decided(self) -> Mapping[int, Outcome]:
        """The outcomes of the values decided in three-valued logic, by position in ``names`` (empty if none)."""
        fb = self[3]
        return _NO_OUTCOMES if fb is None else fb.decided

    @property
    def values(self) -> tuple[Any, ...]:
        return self[0]  # type: ignore[no-any-return]

    @property
    def rules(self) -> tuple[str | None, ...]:
        return self[1]  # type: ignore[no-any-return]

    @property
    def statuses(self) -> tuple[str, ...]:
        """value, default or undetermined (no rule applies and there is no default), per value."""
        out = []
        decided = self.decided
        for j, (v, r, k) in enumerate(zip(self[0], self[1], self[2])):
            o = decided.get(j)
            if o is not None:
                out.append(o.status)
            elif k == BY_DEFINITION or r is not None:
                out.append("value")
            elif k == WITH_DEFAULT:
                out.append("default")
            else:
                out.append("undetermined" if v is None else "value")
        return tuple(out)


_NO_OUTCOMES: Mapping[int, Outcome] = {}


class _Fallback:
    """The slow part of one case: the outcomes decided outside the two-valued blocks, by position, what each value
    reads as (a plain value, or the Unknown or Fail the interpreter reads), and the interpreter's Evaluation when
    a three-valued block could not decide a value."""

    __slots__ = ("ev", "decided", "env")

    def __init__(self) -> None:
        self.ev: Evaluation | None = None
        self.decided: dict[int, Outcome] = {}
        self.env: dict[int, Any] = {}


def _seed(kind: int, v: Any, r: str | None) -> Outcome:
    """The outcome the interpreter gives for a value the generated code decided."""
    if r is not None:
        return Outcome("value", v, r)
    if kind == BY_DEFINITION:
        return Outcome("value", v)
    if kind == WITH_DEFAULT:
        return Outcome("default", v)
    if v is None:
        return Outcome("undetermined", reason="no rule applies and there is no default")
    return Outcome("value", v)


def _fallback_function(program: Program, kinds: tuple[int, ...],
                       build: Callable[[], tuple[Mapping[int, Any], Mapping[int, Any], Mapping[str, Any]]]
                       ) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """What the generated code calls for a value its two-valued block cannot decide, and what it calls for
    a value it passes on that is not known.

    The value's generated three-valued resolution decides it (``_TriGen``);
    should that fail for any reason, the interpreter decides it alone, with
    the values it depends on as they were found.
    """
    names = program.order
    built: list[tuple[Mapping[int, Any], list[Any]]] = []
    deps = value_dependencies(program)
    index = {name: k for k, name in enumerate(names)}
    dep_index = [tuple(index[d] for d in deps[name]) for name in names]

    def setup() -> tuple[Mapping[int, Any], list[Any]]:
        exprs, tri, generated = build()
        resolvers = [generated.get(name) or _definition(program.values[name], tri) for name in names]
        built.append((exprs, resolvers))
        return built[0]

    def interpreter(state: _Fallback, i: Mapping[str, Any], day: dt.date, k: int, vals: tuple[Any, ...],
                    rules: tuple[str | None, ...]) -> Outcome:
        if state.ev is None:
            state.ev = _Accelerated(program, i, day, built[0][0])
        results = state.ev.results
        decided = state.decided
        for j, v, r in zip(dep_index[k], vals, rules):
            name = names[j]
            if name not in results:
                found = decided.get(j)
                if found is None:
                    found = _seed(kinds[j], None if isinstance(v, (Unknown, Fail)) else v, r)
                results[name] = found
        return state.ev.outcome(names[k])

    # what a value the two-valued blocks left without a value and without a rule reads as: the same every time
    unruled = [read_outcome(name, _seed(kind, None, None)) for name, kind in zip(names, kinds)]

    def bad(state: _Fallback | None, j: int, r: str | None) -> Any:
        """What the interpreter reads for value ``j``, which the generated code found not known."""
        if state is not None:
            found = state.env.get(j)
            if found is not None:
                return found
            o = state.decided.get(j)
            if o is not None:
                found = state.env[j] = read_outcome(names[j], o)
                return found
        if r is None:
            return unruled[j]
        return read_outcome(names[j], _seed(kinds[j], None, r))

    def fb(state: _Fallback | None, i: Mapping[str, Any], day: dt.date, k: int, vals: tuple[Any, ...],
           rules: tuple[str | None, ...]) -> tuple[_Fallback, Any, str | None]:
        resolvers = (built[0] if built else setup())[1]
        if state is None:
            state = _Fallback()
        try:
            o = resolvers[k](i, day, vals)
        except Exception:  # noqa: BLE001 - anything unforeseen: the interpreter decides, exact by definition
            o = interpreter(state, i, day, k, vals, rules)
        state.decided[k] = o
        return state, (o.value if o.known else None), o.rule

    return fb, bad


class _Bail(Exception):
    """Raised inside generated code: this case leaves the fast path."""


def _bail() -> Any:
    raise _Bail


def _known(thunk: Callable[[], Any]) -> bool:
    """``x is known`` for a look-up: any missing fact or failure on the way means: not known."""
    try:
        thunk()
    except (KeyError, _Bail, ArithmeticError):  # a decimal error, a date out of range: the interpreter's Fail
        return False
    return True


_DatedRows = Mapping[Any, tuple[tuple[Any, Any, tuple[Any, ...]], ...]]


def _row_on(rows: _DatedRows, key: Any, day: dt.date) -> tuple[Any, ...]:
    """The cells of the row of a dated table in force on ``day``; KeyError if there is none."""
    for vf, vu, cells in rows[key]:
        if (vf is None or vf <= day) and (vu is None or day <= vu):
            return cells
    raise KeyError(key)


def _has_row(rows: _DatedRows, key: Any, day: dt.date) -> bool:
    for vf, vu, _cells in rows.get(key, ()):
        if (vf is None or vf <= day) and (vu is None or day <= vu):
            return True
    return False


def _round_number(value: Any, down: bool, mode: str | None = None) -> int:
    return round_value(value, "number", down, None, mode)  # type: ignore[no-any-return]


def _round_cents(v: Any) -> Any:
    return round_money(v) if isinstance(v, Decimal) else v


def _money_list(v: list[Any]) -> list[Any]:
    """A list of amounts as a money output keeps it: each rounded to the cent."""
    return store(v, "list", True, "money")  # type: ignore[no-any-return]


def _round_half_up_ratio(t: int, p: int, q: int) -> int:
    """round(t * p / q), half away from zero, in exact integers."""
    a = abs(t * p)
    r = (2 * a + q) // (2 * q)
    return -r if t * p < 0 else r


def _minmax(func: str, args: list[Any]) -> Any:
    return apply_call(func, args, None)  # type: ignore[arg-type]


def _in_range_list(v: list[Any]) -> list[Any]:
    """A list value whose numbers are within range, else leave the two-valued block."""
    if not all_in_range(v):
        raise _Bail
    return v


_STORED_KINDS = ("integer", "decimal", "money", "list")
"""The kinds whose computed values ``values.store`` checks (and normalises)."""


def _to_decimal_store(v: Any) -> Any:
    return Decimal(v) if isinstance(v, int) and not isinstance(v, bool) else v


def _days_between(a: dt.date, b: dt.date) -> int:
    return (b - a).days


def _start_of_month(d: dt.date) -> dt.date:
    return d.replace(day=1)


_SKIP = object()  # a record an aggregate leaves out: its condition is false


def _aggregate2(func: str, values: list[Any], kind: str | None) -> Any:
    """An aggregate over records whose every fact is known (``_SKIP``: left out by its condition); the
    minimum or maximum of no records leaves for the three-valued block, which names the failure."""
    kept = [v for v in values if v is not _SKIP]
    if func == "sum":
        return sum(kept, Decimal(0) if kind in ("money", "decimal") else 0)
    if func == "count":
        return len(kept)
    if not kept:
        raise _Bail
    return min(kept) if func == "minimum" else max(kept)


#: everything generated code may name besides its own locals and constants
_HELPERS: dict[str, Any] = {
    "_Bail": _Bail, "_bail": _bail, "_known": _known, "_row_on": _row_on, "_has_row": _has_row,
    "_rnd": _round_number, "_rhu": _round_half_up_ratio, "_minmax": _minmax, "_sdec": _to_decimal_store,
    "_mlist": _money_list, "_dbw": _days_between, "_age": age, "_rgl": _in_range_list, "_adur": add_duration,
    "_som": _start_of_month, "_D": Decimal, "_CENT": CENT,
    "_HU": ROUND_HALF_UP, "_FLOOR": ROUND_FLOOR, "_ONE": Decimal(1), "_new": tuple.__new__, "_FR": FastResult,
    # three-valued blocks
    "_isi": isinstance, "_BAD": (Unknown, Fail), "_fbad": first_bad, "_merge3": merge, "_bin3": apply_binary,
    "_call3": apply_call, "_agg2": _aggregate2, "_SKIP": _SKIP, "_agg3": aggregate, "all": all, "any": any,
}
_BUILTINS = {"len": len, "abs": abs, "min": min, "max": max, "int": int, "str": str, "dict": dict,
             "Exception": Exception}
_ATTRIBUTES = {"year", "days", "quantize", "get", "append"}
_LOCAL = re.compile(r"^(i|day|S|E|V|F|C|N|T|D|W|O|c\d+|o\d+|_s\d+|_n\d+|_Y|_[acqwpumgz]\d+|_r\d+_\d+"
                    r"|_E|_e\d+|_d|_x|_t\d+|_h\d+|v\d+|r\d+|_k\d+|_tab\d+|_run|_bd|_state|_K"
                    r"|_b|d|o|v|g\d+|m\d+|_M|_dates|_date|_conv|_typer|_ty)$")
_FUNCTIONS = ("_run", "_typer")


# ------------------------------------------------------------------ static types


def _kind_of(p: Program, e: n.Expr) -> str:
    """The static type (kind) of a checked expression."""
    if isinstance(e, n.Literal):
        return e.kind
    if isinstance(e, n.Ref):
        if e.kind == "input":
            return p.inputs[e.name].type.kind
        if e.kind == "value":
            return p.values[e.name].type.kind
        if e.kind == "param":
            return p.parameters[e.name].type.kind
        return "table"
    if isinstance(e, n.Lookup):
        return p.tables[e.table].columns[e.column].kind
    if isinstance(e, n.ListLit):
        return "list"
    if isinstance(e, n.TupleLit):
        return "tuple"
    if isinstance(e, n.IsKnown):
        return "boolean"
    if isinstance(e, n.Unary):
        return "boolean" if e.op == "not" else _kind_of(p, e.operand)
    if isinstance(e, n.Binary):
        if e.op in ("and", "or", "=", "!=", "<", "<=", ">", ">=", "in", "notin"):
            return "boolean"
        t = arith_type(e.op, n.TypeRef(_kind_of(p, e.left)), n.TypeRef(_kind_of(p, e.right)))
        return t.kind if t is not None else "error"
    if isinstance(e, n.Conditional):
        if e.kind is not None:
            return e.kind
        sides = {_kind_of(p, e.then), _kind_of(p, e.otherwise)}
        if sides <= {"integer", "decimal"}:
            return "decimal" if "decimal" in sides else "integer"
        return _kind_of(p, e.then)
    if isinstance(e, n.Aggregate):
        return e.kind or "error"
    if isinstance(e, n.Call):
        f = e.func
        if f in ("age", "year", "days_between", "count", "round", "round_down"):
            return "integer"
        if f in ("round_money", "round_down_money"):
            return "money"
        if f == "start_of_month":
            return "date"
        kinds = [_kind_of(p, a) for a in e.args]
        if f == "abs":
            return kinds[0]
        if all(k in ("integer", "decimal") for k in kinds):
            return "decimal" if "decimal" in kinds else "integer"
        return kinds[0]
    return "error"


# ------------------------------------------------------------------ dated things


@dataclass
class _Periods:
    """Split time at every date where a rule's validity or a parameter's value changes."""

    cuts: list[dt.date]
    rules: list[CheckedRule]  # rules with a validity period, in slot order
    params: list[str]  # parameters, in slot order

    def state(self, p: Program, day: dt.date) -> tuple[Any, ...]:
        out: list[Any] = [r.valid_on(day) for r in self.rules]
        for name in self.params:
            per = p.parameters[name].period_on(day)
            out.append(_NO_VALUE if per is None or per.value is None else per.value)
        return tuple(out)


class _NoValue:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value in force>"


_NO_VALUE = _NoValue()


# ------------------------------------------------------------------ dispatch


_ATOM_OPS = ("=", "!=", "in", "notin")
_OTHER = object()  # any value of the discriminating input that no rule names


def _plain(v: Any) -> bool:
    return type(v) in (str, int, bool)


def _atom(e: n.Expr) -> tuple[str, str, tuple[Any, ...]] | None:
    """``input = c`` / ``!=`` / ``in [..]`` / ``not in [..]`` with plain constants: (input, op, constants)."""
    if not (isinstance(e, n.Binary) and e.op in _ATOM_OPS):
        return None
    left, right = e.left, e.right
    if e.op in ("=", "!=") and isinstance(left, n.Literal) and isinstance(right, n.Ref):
        left, right = right, left
    if not (isinstance(left, n.Ref) and left.kind == "input"):
        return None
    if e.op in ("=", "!="):
        if isinstance(right, n.Literal) and _plain(right.value):
            return left.name, e.op, (right.value,)
        return None
    if isinstance(right, n.ListLit) and right.items and all(
            isinstance(x, n.Literal) and _plain(x.value) for x in right.items):
        return left.name, e.op, tuple(x.value for x in right.items)  # type: ignore[union-attr]
    return None


def _conjuncts(e: n.Expr | None) -> list[n.Expr]:
    if e is None:
        return []
    if isinstance(e, n.Binary) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


@dataclass
class _Branch:
    """One arm of a dispatch: the constants it covers (None: every other value) and what it settles."""

    consts: tuple[Any, ...] | None
    false_rules: frozenset[str]  # rules whose condition is false in this arm
    true_atoms: frozenset[int]  # ids of atoms that are true in this arm


# ------------------------------------------------------------------ code generation


class _Gen:
    def __init__(self, p: Program, dispatch: bool = True, explain: bool = False) -> None:
        self.p = p
        # explain: also record, per value, the rules that concur with the deciding one (``c<k>``) and the rules
        # that applied but were overridden, with the exception that won (``o<k>``); a flag of a rule tree then
        # holds the first rule that won in it (a name) instead of True
        self.explain = explain
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {}
        self._const_ids: dict[tuple[type, Any], str] = {}
        self.index = {name: k for k, name in enumerate(p.order)}
        self.tmp = 0
        self.flag = 0
        self.uses_day = False
        self.uses_state = False
        self.tables: dict[str, str] = {}
        self.table_data: dict[str, Any] = {}
        rules_with_validity = [r for r in p.rules.values() if r.valid_from is not None or r.valid_until is not None]
        self.periods = _Periods([], rules_with_validity, list(p.parameters))
        self.rule_slot = {r.name: k for k, r in enumerate(rules_with_validity)}
        self.param_slot = {name: len(rules_with_validity) + k for k, name in enumerate(p.parameters)}
        cuts: set[dt.date] = set()
        for r in rules_with_validity:
            if r.valid_from is not None:
                cuts.add(r.valid_from)
            if r.valid_until is not None and r.valid_until < dt.date.max:
                cuts.add(r.valid_until + dt.timedelta(days=1))
        for par in p.parameters.values():
            for per in par.periods:
                cuts.add(per.start)
                if per.end is not None and per.end < dt.date.max:
                    cuts.add(per.end + dt.timedelta(days=1))
        self.periods.cuts = sorted(cuts)
        self.true_atoms: frozenset[int] = frozenset()
        self.dispatch_input: str | None = self._choose_dispatch() if dispatch else None

    # -------------------------------------------------------------- constants and names

    def const(self, v: Any) -> str:
        """A literal value as code: repr() for text, integers and booleans; a table entry otherwise."""
        if v is None or type(v) in (bool, int):
            return repr(v)
        if type(v) is str:
            return repr(v)
        key = (type(v), repr(v))
        found = self._const_ids.get(key)
        if found is None:
            found = f"_k{len(self.consts)}"
            self.consts[found] = v
            self._const_ids[key] = found
        return found

    def temp(self) -> str:
        self.tmp += 1
        return f"_t{self.tmp}"

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    # -------------------------------------------------------------- dispatch analysis

    def _choose_dispatch(self) -> str | None:
        """The input that most rule conditions test against constants, if at least two rules do."""
        count: dict[str, int] = {}
        for r in self.p.rules.values():
            seen = {a[0] for a in (_atom(c) for c in _conjuncts(r.when)) if a is not None}
            for name in seen:
                count[name] = count.get(name, 0) + 1
        if not count:
            return None
        best = max(sorted(count), key=lambda k: count[k])
        return best if count[best] >= 2 else None

    def branches(self, rules: Iterable[str]) -> list[_Branch] | None:
        d = self.dispatch_input
        if d is None:
            return None
        atoms: dict[str, list[tuple[int, str, tuple[Any, ...]]]] = {}
        for name in rules:
            for c in _conjuncts(self.p.rules[name].when):
                a = _atom(c)
                if a is not None and a[0] == d:
                    atoms.setdefault(name, []).append((id(c), a[1], a[2]))
        if not atoms:
            return None
        consts: list[Any] = []
        seen: set[tuple[type, Any]] = set()
        containing: dict[Any, set[int]] = {}  # a value -> the atoms whose constants hold it (as `==` says)
        positive: set[int] = set()  # atoms `= c` and `in [..]`; the others are `!=` and `not in`
        negative: set[int] = set()
        rule_of: dict[int, str] = {}
        for name, lst in atoms.items():
            for aid, op, cs in lst:
                rule_of[aid] = name
                (positive if op in ("=", "in") else negative).add(aid)
                for c in cs:
                    containing.setdefault(c, set()).add(aid)
                    if (type(c), c) not in seen:
                        seen.add((type(c), c))
                        consts.append(c)
        consts.sort(key=repr)
        all_rules = frozenset(atoms)
        negative_only = {name for name, lst in atoms.items() if all(a[0] in negative for a in lst)}
        settled: dict[int, tuple[frozenset[str], frozenset[int]]] = {}

        def settle(v: Any) -> tuple[frozenset[str], frozenset[int]]:
            """The rules whose condition is false when the input is ``v``, and the atoms that are true."""
            found = settled.get(id(v))
            if found is not None:
                return found
            inside = containing.get(v, set()) if v is not _OTHER else set()
            true_ids = (positive & inside) | (negative - inside)
            # a rule is not false when all its atoms hold: it has a positive atom holding v, or only negative atoms
            candidates = {rule_of[a] for a in positive & inside} | negative_only
            holding = {r for r in candidates if all(a[0] in true_ids for a in atoms[r])}
            found = settled[id(v)] = (all_rules - holding, frozenset(true_ids))
            return found

        other = settle(_OTHER)
        groups: dict[frozenset[str], list[Any]] = {}
        for c in consts:
            fr = settle(c)[0]
            if fr != other[0]:
                groups.setdefault(fr, []).append(c)
        if not groups:
            return None
        out: list[_Branch] = []
        for fr, members in groups.items():
            true_ids = frozenset.intersection(*(settle(c)[1] for c in members))
            out.append(_Branch(tuple(members), fr, true_ids))
        # the arm for every other value also covers the constants that settle the same rules
        rest = [c for c in consts if settle(c)[0] == other[0]]
        true_rest = frozenset.intersection(other[1], *(settle(c)[1] for c in rest)) if rest else other[1]
        out.append(_Branch(None, other[0], true_rest))
        return out

    # -------------------------------------------------------------- expressions

    def value_ref(self, name: str) -> str:
        # even a value that is always decided on the fast path may be undetermined or an error when the
        # interpreter decided it (see ``generate``): None means "not known" for every value
        k = self.index[name]
        return f"(v{k} if v{k} is not None else _bail())"

    def always_known(self, name: str) -> bool:
        """Is the value decided whenever the fast path gets past it? (a definition, a default, or a rule that
        always applies: that rule or one of its exceptions decides, or the case leaves the fast path)"""
        decl = self.p.values[name]
        if decl.definition is not None or decl.default is not None:
            return True
        return any(self.p.rules[r].when is None and self.rule_slot.get(r) is None for r in decl.roots)

    def expr(self, e: n.Expr) -> str:
        if isinstance(e, n.Literal):
            if isinstance(e.value, n.Duration):
                raise AssertionError("a duration stands only beside a date")
            return self.const(e.value)
        if isinstance(e, n.Ref):
            if e.kind == "input":
                return f"i[{e.name!r}]"
            if e.kind == "value":
                return self.value_ref(e.name)
            if e.kind == "param":
                self.uses_state = True
                t = self.temp()
                return f"({t} if ({t} := S[{self.param_slot[e.name]}]) is not _NV else _bail())"
            raise AssertionError("a table is not a value")
        if isinstance(e, n.Lookup):
            return self.lookup(e)
        if isinstance(e, n.ListLit):
            return "[" + "".join(self.expr(x) + ", " for x in e.items) + "]"
        if isinstance(e, n.TupleLit):
            return "(" + "".join(self.expr(x) + ", " for x in e.items) + ")"
        if isinstance(e, n.Unary):
            inner = self.expr(e.operand)
            if e.op == "not":
                return f"(not {inner})"
            return f"(-{inner})" if e.op == "-" else inner
        if isinstance(e, n.IsKnown):
            return self.is_known(e)
        if isinstance(e, n.Binary):
            return self.binary(e)
        if isinstance(e, n.Call):
            return self.call(e)
        if isinstance(e, n.Conditional):
            code = f"({self.expr(e.then)} if {self.expr(e.condition)} else {self.expr(e.otherwise)})"
            return f"_sdec{code}" if e.kind == "decimal" else code
        if isinstance(e, n.Aggregate):
            return self.aggregate(e)
        raise AssertionError(f"cannot compile {type(e).__name__}")

    def aggregate(self, e: n.Aggregate) -> str:
        """An aggregate written out for a case's records (``expand.py``); every fact it reads is known here."""
        if not e.expanded or e.items is None:
            return "_bail()"  # the list is not in the case: the three-valued block says it is needed
        if e.func in ("all", "any"):
            parts = []
            for c, v in e.items:
                assert v is not None
                if c is None:
                    parts.append(f"({self.expr(v)})")
                elif e.func == "all":
                    parts.append(f"((not {self.expr(c)}) or {self.expr(v)})")
                else:
                    parts.append(f"({self.expr(c)} and {self.expr(v)})")
            return f"{e.func}([{''.join(x + ', ' for x in parts)}])"
        values = []
        for c, v in e.items:
            value = "1" if v is None else f"({self.expr(v)})"
            values.append(value if c is None else f"({value} if {self.expr(c)} else _SKIP)")
        return f"_agg2({e.func!r}, [{''.join(x + ', ' for x in values)}], {e.kind!r})"

    def condition(self, e: n.Expr) -> str:
        """A condition, with atoms that the dispatch arm settles as true left out."""
        parts = [c for c in _flat("and", e) if id(c) not in self.true_atoms]
        if not parts:
            return "True"
        return " and ".join(self.expr(c) for c in parts)

    def table(self, name: str) -> str:
        """The generated name of a table's index: key (a value, or a tuple for several key columns) -> cells."""
        found = self.tables.get(name)
        if found is not None:
            return found
        t = self.p.tables[name]
        cols = list(t.columns)
        single = len(t.keys) == 1
        data: dict[Any, Any] = {}
        for key, rows in t.rows.items():
            k = key[0] if single else key
            if t.dated:
                data[k] = tuple((r.valid_from, r.valid_until, tuple(r.values[c] for c in cols)) for r in rows)
            else:
                data[k] = tuple(rows[0].values[c] for c in cols)
        ident = f"_tab{len(self.tables)}"
        self.tables[name] = ident
        self.table_data[ident] = data
        return ident

    def key(self, keys: tuple[n.Expr, ...]) -> str:
        if len(keys) == 1:
            return self.expr(keys[0])
        return "(" + "".join(self.expr(k) + ", " for k in keys) + ")"

    def lookup(self, e: n.Lookup) -> str:
        t = self.p.tables[e.table]
        ident = self.table(e.table)
        col = list(t.columns).index(e.column)
        key = self.key(e.keys)
        if t.dated:
            self.uses_day = True
            cell = f"_row_on({ident}, {key}, day)[{col}]"
        else:
            cell = f"{ident}[{key}][{col}]"
        if any(r.values[e.column] is None for rows in t.rows.values() for r in rows):
            tv = self.temp()
            return f"({tv} if ({tv} := {cell}) is not None else _bail())"
        return cell

    def is_known(self, e: n.IsKnown) -> str:
        op = e.operand
        neg = e.negated
        if isinstance(op, n.Ref) and op.kind == "input":
            return f"({op.name!r} {'not in' if neg else 'in'} i)"
        if isinstance(op, n.Ref) and op.kind == "value":
            return f"(v{self.index[op.name]} is {'' if neg else 'not '}None)"
        if isinstance(op, n.Ref) and op.kind == "param":
            self.uses_state = True
            return f"(S[{self.param_slot[op.name]}] is {'' if neg else 'not '}_NV)"
        inner = self.expr(op)
        return f"({'not ' if neg else ''}_known(lambda: {inner}))"

    def binary(self, e: n.Binary) -> str:
        op = e.op
        if op in ("and", "or"):
            return "(" + f" {op} ".join(self.expr(x) for x in _flat(op, e)) + ")"
        if op in ("in", "notin") and isinstance(e.right, n.Ref) and e.right.kind == "table":
            t = self.p.tables[e.right.name]
            ident = self.table(e.right.name)
            left = e.left
            key = self.key(left.items) if isinstance(left, n.TupleLit) else self.expr(left)
            if isinstance(left, n.TupleLit) and len(t.keys) == 1:
                # a one-column table is indexed by the value itself; the interpreter by a 1-tuple
                key = self.expr(left.items[0]) if len(left.items) == 1 else key
            if t.dated:
                self.uses_day = True
                found = f"_has_row({ident}, {key}, day)"
                return f"({found})" if op == "in" else f"(not {found})"
            return f"({key} {'in' if op == 'in' else 'not in'} {ident})"
        if op in ("in", "notin"):
            right = e.right
            word = "in" if op == "in" else "not in"
            if isinstance(right, n.ListLit) and right.items and all(
                    isinstance(x, n.Literal) and _plain(x.value) for x in right.items):
                values = tuple(x.value for x in right.items)  # type: ignore[union-attr]
                if len(values) > 4:
                    return f"({self.expr(e.left)} {word} {self.const(frozenset(values))})"
                return f"({self.expr(e.left)} {word} ({''.join(self.const(v) + ', ' for v in values)}))"
            if isinstance(right, n.ListLit):
                return f"({self.expr(e.left)} {word} ({''.join(self.expr(x) + ', ' for x in right.items)}))"
            return f"({self.expr(e.left)} {word} {self.expr(right)})"
        if op in ("=", "!=", "<", "<=", ">", ">="):
            py = "==" if op == "=" else op
            return f"({self.expr(e.left)} {py} {self.expr(e.right)})"
        # arithmetic
        ll, rr = e.left, e.right
        if isinstance(rr, n.Literal) and isinstance(rr.value, n.Duration):
            amount = rr.value.amount if op == "+" else -rr.value.amount
            return f"_adur({self.expr(ll)}, {amount!r}, {rr.value.unit!r})"
        if isinstance(ll, n.Literal) and isinstance(ll.value, n.Duration):
            return f"_adur({self.expr(rr)}, {ll.value.amount!r}, {ll.value.unit!r})"
        kl, kr = _kind_of(self.p, ll), _kind_of(self.p, rr)
        a, b = self.expr(ll), self.expr(rr)
        if op == "-" and kl == "date":
            return f"({a} - {b}).days"
        if op == "/":
            if kl not in ("decimal", "money"):
                a = f"_D({a})"
            if kr not in ("decimal", "money", "integer"):
                b = f"_D({b})"
            return f"({a} / {b})"
        if op in ("+", "-", "*"):
            return f"({a} {op} {b})"
        raise AssertionError(op)

    def call(self, e: n.Call) -> str:
        f = e.func
        if f in ("round", "round_down"):
            mode = e.mode or ("down" if f == "round_down" else "half_up")
            if mode in ("half_up", "down"):
                return self.round_number(e.args[0], mode == "down")
            return f"_rnd({self.expr(e.args[0])}, False, {mode!r})"
        args = [self.expr(a) for a in e.args]
        if f == "age":
            return f"_age({args[0]}, {args[1]})"
        if f == "year":
            return f"{args[0]}.year"
        if f == "start_of_month":
            return f"_som({args[0]})"
        if f == "days_between":
            return f"_dbw({args[0]}, {args[1]})"
        if f == "count":
            return f"len({args[0]})"
        if f == "abs":
            return f"abs({args[0]})"
        if f in ("round_money", "round_down_money"):
            mode = ROUNDING_MODES[e.mode or ("down" if f.startswith("round_down") else "half_up")]
            return f"_D({args[0]}).quantize({'_ONE' if e.unit == 'euros' else '_CENT'}, {mode!r})"
        if f in ("min", "max"):
            kinds = {_kind_of(self.p, a) for a in e.args}
            if len(kinds) == 1:
                return f"{f}({', '.join(args)})"
            return f"_minmax({f!r}, [{', '.join(args)}])"
        raise AssertionError(f)

    def round_number(self, arg: n.Expr, down: bool) -> str:
        """round / round_down of a number. An integer times a decimal constant p/q is exact integer arithmetic."""
        if isinstance(arg, n.Binary) and arg.op == "*":
            for x, c in ((arg.left, arg.right), (arg.right, arg.left)):
                if isinstance(c, n.Literal) and isinstance(c.value, Decimal) and c.kind == "decimal" \
                        and _kind_of(self.p, x) == "integer" and c.value.is_finite():
                    p_, q_ = c.value.as_integer_ratio()
                    digits = len(c.value.as_tuple().digits)
                    if digits > 20:
                        break
                    bound = 10 ** (27 - digits)  # the product is exact in 28 digits: no context rounding
                    t = self.temp()
                    x_code = self.expr(x)
                    k = self.const(c.value)
                    exact = f"{t} * {p_} // {q_}" if down else f"_rhu({t}, {p_}, {q_})"
                    return f"({exact} if -{bound} < ({t} := {x_code}) < {bound} else _rnd({t} * {k}, {down}))"
        if _kind_of(self.p, arg) == "integer":
            t = self.temp()
            return f"({t} if -{10 ** 27} < ({t} := {self.expr(arg)}) < {10 ** 27} else _rnd({t}, {down}))"
        return f"_rnd({self.expr(arg)}, {down})"

    def stored(self, e: n.Expr, decl: ValueDecl) -> str:
        """An expression's value as the interpreter stores it (an output's amounts to the cent, integers as
        decimals).

        A number out of range leaves the two-valued block (the interpreter's ``store`` makes it a Fail): a
        literal, a parameter and a stored value are within range already."""
        code = self.expr(e)
        kind = decl.type.kind
        if kind in _STORED_KINDS and not (isinstance(e, n.Literal) or (isinstance(e, n.Ref) and e.kind in ("value", "param"))):
            if kind == "list":
                code = f"_rgl({code})"
            else:
                t = self.temp()
                code = f"({t} if -{NUMBER_LIMIT} < ({t} := {code}) < {NUMBER_LIMIT} else _bail())"
        if kind == "money":
            if not decl.is_output or (isinstance(e, n.Literal) and e.value == _round_cents(e.value)) \
                    or (isinstance(e, n.Ref) and e.kind == "value" and self.p.values[e.name].is_output):
                return code
            return f"{code}.quantize(_CENT, _HU)"
        if kind == "list" and decl.is_output and decl.type.item is not None and decl.type.item.kind == "money":
            return f"_mlist({code})"
        if kind == "decimal":
            k = _kind_of(self.p, e)
            if k == "integer":
                return f"_D({code})"
            if k != "decimal":
                return f"_sdec({code})"
        return code

    # -------------------------------------------------------------- values

    def valid(self, r: CheckedRule) -> str | None:
        slot = self.rule_slot.get(r.name)
        if slot is None:
            return None
        self.uses_state = True
        return f"S[{slot}]"

    def value_block(self, name: str, depth: int) -> None:
        k = self.index[name]
        decl = self.p.values[name]
        self.emit(depth, f"# {k}: " + _comment(name))
        if decl.definition is not None:
            self.emit(depth, f"v{k} = {self.stored(decl.definition, decl)}")
            self.emit(depth, f"r{k} = None")
            return
        self.emit(depth, f"r{k} = None")
        branches = self.branches(decl.rules)
        if branches is None:
            self.rule_trees(decl, depth, frozenset())
        else:
            assert self.dispatch_input is not None
            self.emit(depth, f"_d = i[{self.dispatch_input!r}]")
            if len(branches) > 6:
                # many arms: the arm's number from a dictionary, then a binary search on it
                arms = {c: j for j, br in enumerate(branches) if br.consts is not None for c in br.consts}
                self.emit(depth, f"_b = {self.const(arms)}.get(_d, {len(branches) - 1})")
                self.arm_tree(decl, branches, 0, len(branches), depth)
            else:
                for j, br in enumerate(branches):
                    if br.consts is None:
                        self.emit(depth, "else:" if j else "if True:")
                    else:
                        if len(br.consts) == 1:
                            test = f"_d == {self.const(br.consts[0])}"
                        elif len(br.consts) > 4:
                            test = f"_d in {self.const(frozenset(br.consts))}"
                        else:
                            test = f"_d in ({''.join(self.const(c) + ', ' for c in br.consts)})"
                        self.emit(depth, f"{'elif' if j else 'if'} {test}:")
                    self.arm(decl, br, depth + 1)
        if decl.default is not None:
            self.emit(depth, f"if r{k} is None:")
            self.emit(depth + 1, f"v{k} = {self.stored(decl.default, decl)}")
        elif not self.always_known(name):
            self.emit(depth, f"if r{k} is None:")
            self.emit(depth + 1, f"v{k} = None")

    def arm(self, decl: ValueDecl, br: _Branch, depth: int) -> None:
        self.true_atoms = br.true_atoms
        before = len(self.lines)
        self.rule_trees(decl, depth, br.false_rules)
        if len(self.lines) == before:
            self.emit(depth, "pass")
        self.true_atoms = frozenset()

    def arm_tree(self, decl: ValueDecl, branches: list[_Branch], lo: int, hi: int, depth: int) -> None:
        if hi - lo == 1:
            self.arm(decl, branches[lo], depth)
            return
        mid = (lo + hi) // 2
        self.emit(depth, f"if _b < {mid}:")
        self.arm_tree(decl, branches, lo, mid, depth + 1)
        self.emit(depth, "else:")
        self.arm_tree(decl, branches, mid, hi, depth + 1)

    def subtree(self, name: str) -> set[str]:
        """The exceptions below a rule, at any depth."""
        out: set[str] = set()
        todo = list(self.p.exceptions.get(name, ()))
        while todo:
            c = todo.pop()
            if c not in out:
                out.add(c)
                todo.extend(self.p.exceptions.get(c, ()))
        return out

    def rule_trees(self, decl: ValueDecl, depth: int, false_rules: frozenset[str]) -> None:
        k = self.index[decl.name]
        emitted: list[str] = []  # rules whose report is emitted so far, in order
        chain: list[str] = []  # the open if/elif chain of rules that cannot apply together
        done: dict[str, str] = {}  # rule -> its flag, for exceptions shared by several rules

        def apart(name: str, others: list[str]) -> bool:
            """Provably, ``name`` cannot apply together with any of ``others``."""
            if len(others) > 64:
                return False
            when = self.p.rules[name].when
            return all(disjoint(when, self.p.rules[o].when) for o in others)

        def dead(name: str) -> bool:
            """No rule in this subtree can apply in this arm."""
            return name in false_rules and all(dead(c) for c in self.p.exceptions.get(name, ()))

        def report(r: CheckedRule, d: int) -> None:
            value = self.stored(r.value, decl)
            # a rule reports only when no exception below it applied: those cannot be before it
            below = self.subtree(r.name)
            first = apart(r.name, [o for o in emitted if o not in below])
            emitted.append(r.name)
            if first:  # no rule before it can have applied
                self.emit(d, f"v{k} = {value}")
                self.emit(d, f"r{k} = {r.name!r}")
            else:
                self.emit(d, f"_x = {value}")
                self.emit(d, f"if r{k} is None:")
                self.emit(d + 1, f"v{k} = _x")
                self.emit(d + 1, f"r{k} = {r.name!r}")
                self.emit(d, f"elif _x != v{k}:")
                self.emit(d + 1, "raise _Bail")  # unrelated rules give different values: a conflict
                if self.explain:
                    self.emit(d, "else:")
                    self.emit(d + 1, f"c{k} += ({r.name!r},)")

        parents: dict[str, int] = {}
        for r_name in decl.rules:
            for c in self.p.exceptions.get(r_name, ()):
                parents[c] = parents.get(c, 0) + 1
        spans: dict[str, tuple[str, str]] = {}  # an exception below several rules: where its overridden rules are

        def tree(name: str, d: int, need_flag: bool) -> str | None:
            """Code for the rule ``name`` and its exceptions; returns the flag saying whether any applied."""
            if name in done:
                if name in spans:
                    # the interpreter walks an exception below several rules once for each: what it overrides
                    # is reported again
                    self.emit(d, f"o{k} += o{k}[{spans[name][0]}:{spans[name][1]}]")
                return done[name]
            if self.explain and parents.get(name, 0) > 1 and self.subtree(name):
                self.flag += 1
                start, end = f"_s{self.flag}", f"_n{self.flag}"
                self.emit(d, f"{start} = len(o{k})")
                found = tree_of(name, d, need_flag)
                self.emit(d, f"{end} = len(o{k})")
                spans[name] = (start, end)
                return found
            return tree_of(name, d, need_flag)

        def tree_of(name: str, d: int, need_flag: bool) -> str | None:
            r = self.p.rules[name]
            kids = [c for c in self.p.exceptions.get(name, ()) if not dead(c)]
            if kids:
                chain.clear()
            flags = [f for f in (tree(c, d, True) for c in kids) if f is not None]
            mine = name not in false_rules
            if not mine and not flags:
                return None
            if not kids and not need_flag and mine:
                # a rule on its own: continue an if/elif chain when it cannot apply with the rules in it
                r_tests = [t for t in (self.valid(r), self.condition(r.when) if r.when is not None else None)
                           if t is not None and t != "True"]
                if chain and r_tests and apart(name, chain):
                    self.emit(d, f"elif {' and '.join(r_tests)}:")
                    report(r, d + 1)
                    chain.append(name)
                    return None
                chain.clear()
                if r_tests:
                    self.emit(d, f"if {' and '.join(r_tests)}:")
                    report(r, d + 1)
                    chain.append(name)
                else:
                    report(r, d)
                return None
            chain.clear()
            flag = None
            if need_flag or len(flags) > 0:
                self.flag += 1
                flag = f"_h{self.flag}"
            tests = []
            if flags:
                self.emit(d, f"{flag} = {' or '.join(flags)}")
                tests.append(f"not {flag}")
            if mine and self.explain and flags:
                # an exception that won overrides this rule if it applies itself
                own = [t for t in (self.valid(r), self.condition(r.when) if r.when is not None else None)
                       if t is not None and t != "True"]
                self.emit(d, f"if not {flag}:")
                if own:
                    self.emit(d + 1, f"if {' and '.join(own)}:")
                    report(r, d + 2)
                    self.emit(d + 2, f"{flag} = {name!r}")
                    self.emit(d, f"elif {' and '.join(own)}:")
                else:
                    report(r, d + 1)
                    self.emit(d + 1, f"{flag} = {name!r}")
                    self.emit(d, "else:")
                self.emit(d + 1, f"o{k} += (({name!r}, {flag}),)")
            elif mine:
                won = repr(name) if self.explain else "True"
                v = self.valid(r)
                if v is not None:
                    tests.append(v)
                if r.when is not None:
                    cond = self.condition(r.when)
                    if cond != "True":
                        tests.append(cond)
                if tests:
                    self.emit(d, f"if {' and '.join(tests)}:")
                    report(r, d + 1)
                    if flag is not None:
                        self.emit(d + 1, f"{flag} = {won}")
                    if need_flag and not flags:
                        self.emit(d, "else:")
                        self.emit(d + 1, f"{flag} = False")
                else:
                    report(r, d)
                    if flag is not None:
                        self.emit(d, f"{flag} = {won}")
            if flag is not None:
                done[name] = flag
            return flag

        for root in decl.roots:
            if root in false_rules and not self.p.exceptions.get(root):
                continue  # false in this arm, and nothing below it
            tree(root, depth, False)

    # -------------------------------------------------------------- the function

    def generate(self) -> str:
        body_start = len(self.lines)
        deps = value_dependencies(self.p)
        for name in self.p.order:
            # a value whose code fails (a missing input, no table row, a conflict, ...) is decided by the
            # interpreter, with the values it depends on as the fast path found them; the rest stay fast
            k = self.index[name]
            self.emit(2, "try:")
            if self.explain:
                self.emit(3, f"c{k} = o{k} = ()")
            self.value_block(name, 3)
            self.emit(2, "except Exception:")
            ds = deps[name]
            # a value that is not known goes as what the interpreter reads for it: an Unknown or a Fail
            vs = "".join(f"(v{j} if v{j} is not None else _bv(_E, {j}, r{j})), " for j in (self.index[d] for d in ds))
            rs = "".join(f"r{self.index[d]}, " for d in ds)
            self.emit(3, f"_E, v{k}, r{k} = _fb(_E, i, day, {k}, ({vs}), ({rs}))")
        body = self.lines[body_start:]
        self.lines = self.lines[:body_start]
        order = self.p.order
        vals = "".join(f"v{k}, " for k in range(len(order)))
        rules = "".join(f"r{k}, " for k in range(len(order)))
        head = [
            "def _run(i, day):",
            "    try:",
            "        _E = None",
        ]
        if self.uses_state:
            head += [
                "        S = _bd.get(day)",
                "        if S is None:",
                "            S = _state(day)",
            ]
        extra = ""
        if self.explain:
            extra = (", (" + "".join(f"c{k}, " for k in range(len(order))) + "), ("
                     + "".join(f"o{k}, " for k in range(len(order))) + ")")
        tail = [
            f"        return _new(_FR, (({vals}), ({rules}), _K, _E{extra}))",
            "    except Exception:",
            "        return None",
        ]
        return "\n".join(head + body + tail) + "\n"


class _ExprGen(_Gen):
    """Single expressions as functions of (inputs, day, evaluation), for the interpreter to call (see _Accelerated).

    A value is read from the evaluation (``_ov``), which decides it if it has
    not yet; a value that is not known, like a missing input, raises, and the
    interpreter then walks the expression itself.
    """

    def value_ref(self, name: str) -> str:
        return f"_ov(E, {name!r})"

    def is_known(self, e: n.IsKnown) -> str:
        op = e.operand
        if isinstance(op, n.Ref) and op.kind == "value":
            return f"({'not ' if e.negated else ''}_known(lambda: _ov(E, {op.name!r})))"
        return super().is_known(e)

    def functions(self) -> tuple[str, dict[int, str]]:
        """Source of one function per top-level expression the interpreter evaluates, and their names by node id."""
        p = self.p
        exprs: list[n.Expr] = []
        for name in p.order:
            decl = p.values[name]
            exprs.extend(x for x in (decl.definition, decl.default) if x is not None)
            for r in decl.rules:
                rule = p.rules[r]
                exprs.extend(x for x in (rule.when, rule.value) if x is not None)
        out: list[str] = []
        names: dict[int, str] = {}
        for e in exprs:
            if id(e) in names or (isinstance(e, n.Literal) and not isinstance(e.value, n.Duration)):
                continue
            self.uses_state = False
            try:
                body = self.expr(e)
            except AssertionError:
                continue  # not compiled: the interpreter walks it
            fn = f"_e{len(names)}"
            names[id(e)] = fn
            out.append(f"def {fn}(i, day, E):")
            if self.uses_state:
                out.append("    S = _bd.get(day)")
                out.append("    if S is None:")
                out.append("        S = _state(day)")
            out.append(f"    return {body}")
        return "\n".join(out) + "\n", names


class _Accelerated(Evaluation):
    """The interpreter, evaluating each condition and value with its compiled function when every fact it reads
    is known (the result is then what the tree walk gives: two-valued logic is Kleene logic on known facts), and
    by walking the expression otherwise. Facts used are not recorded: the fast path keeps no explanation."""

    def __init__(self, program: Program, inputs: Mapping[str, Any], day: dt.date, fns: Mapping[int, Any]) -> None:
        super().__init__(program, inputs, day, trace=False)
        self._fns = fns

    def ev(self, e: n.Expr, facts: dict[str, Any] | None = None) -> Any:
        fn = self._fns.get(id(e))
        if fn is not None:
            try:
                return fn(self.inputs, self.day, self)
            except Exception:  # noqa: BLE001 - a missing fact or a failure: the tree walk says which
                pass
        return super().ev(e, facts)


# ------------------------------------------------------------------ three-valued blocks


class _TriGen(_Gen):
    """Expressions in three-valued logic, as functions ``_c<n>(i, day, V)`` that never leave.

    Each gives what the interpreter's ``ev`` gives: a plain value, an Unknown
    (with the inputs it needs) or a Fail (with the interpreter's reason). An
    input that is not there is Unknown; ``V`` holds the values the expression
    reads, by position, as plain values or as the Unknown or Fail the
    interpreter would read for them, in the order of ``value_dependencies``
    of the value the expression belongs to. ``and`` and ``or`` are Kleene's, with the
    interpreter's order of evaluation; every operator on known values and every
    function is the interpreter's own (``apply_binary``, ``apply_call``), so the
    answers are the interpreter's by construction.
    """

    def __init__(self, p: Program, base: _Gen) -> None:
        super().__init__(p, dispatch=False)
        self.periods, self.rule_slot, self.param_slot = base.periods, base.rule_slot, base.param_slot
        self.consts, self._const_ids = base.consts, base._const_ids
        self.table_data = base.table_data
        self.dispatch_input = base.dispatch_input
        self._objects: dict[int, str] = {}
        self.dep_pos: dict[str, int] = {}  # the values the expressions of one value read: their place in ``V``
        self.deps: dict[str, tuple[str, ...]] | None = None  # what each value reads, once asked

    def obj(self, v: Any) -> str:
        """A constant for an object that is compared by identity (a node, a table)."""
        found = self._objects.get(id(v))
        if found is None:
            found = self._objects[id(v)] = f"_k{len(self.consts)}"
            self.consts[found] = v
        return found

    def bad(self, parts: list[str]) -> str:
        return " or ".join(f"_isi({x}, _BAD)" for x in parts)

    def first_bad(self, d: int, parts: list[str], t: str) -> bool:
        """Emit ``if <any part bad>: t = first bad``; True when an ``else:`` must follow.

        The interpreter's ``first_bad``: the first Fail, else an Unknown that
        needs what they all need; one part is its own first bad, two have a
        quicker helper."""
        if not parts:
            return False
        self.emit(d, f"if {self.bad(parts)}:")
        if len(parts) == 1:
            self.emit(d + 1, f"{t} = {parts[0]}")
        elif len(parts) == 2:
            self.emit(d + 1, f"{t} = _fbad2({parts[0]}, {parts[1]})")
        else:
            self.emit(d + 1, f"{t} = _fbad([{', '.join(parts)}])")
        self.emit(d, "else:")
        return True

    def tri(self, e: n.Expr, d: int) -> str:
        """Emit statements at depth ``d`` that compute ``e``; return the code of its result."""
        if isinstance(e, n.Literal):
            if isinstance(e.value, n.Duration):
                return self.obj(e.value)
            return self.const(e.value)
        t = self.temp()
        if isinstance(e, n.Ref):
            if e.kind == "input":
                self.emit(d, f"{t} = i[{e.name!r}] if {e.name!r} in i else {self.const(Unknown(frozenset([e.name])))}")
            elif e.kind == "value":
                self.emit(d, f"{t} = V[{self.dep_pos[e.name]}]")
            elif e.kind == "param":
                self.uses_state = True
                self.emit(d, f"{t} = S[{self.param_slot[e.name]}]")
                self.emit(d, f"if {t} is _NV:")
                self.emit(d + 1, f"{t} = _pfail({e.name!r}, day)")
            else:
                raise AssertionError("a table is not a value")
            return t
        if isinstance(e, n.Lookup):
            keys = [self.tri(x, d) for x in e.keys]
            parts = [x for x, k in zip(keys, e.keys) if not isinstance(k, n.Literal)]
            dd = d + 1 if self.first_bad(d, parts, t) else d
            self.emit(dd, f"{t} = _lk3({self.obj(self.p.tables[e.table])}, ({''.join(x + ', ' for x in keys)}), "
                          f"{e.column!r}, day)")
            return t
        if isinstance(e, (n.ListLit, n.TupleLit)):
            items = [self.tri(x, d) for x in e.items]
            parts = [x for x, k in zip(items, e.items) if not isinstance(k, n.Literal)]
            dd = d + 1 if self.first_bad(d, parts, t) else d
            if isinstance(e, n.ListLit):
                self.emit(dd, f"{t} = [{''.join(x + ', ' for x in items)}]")
            else:
                self.emit(dd, f"{t} = ({''.join(x + ', ' for x in items)})")
            return t
        if isinstance(e, n.Unary):
            a = self.tri(e.operand, d)
            self.first_bad(d, [a], t)
            self.emit(d + 1, f"{t} = {'not ' if e.op == 'not' else '-' if e.op == '-' else ''}{a}")
            return t
        if isinstance(e, n.IsKnown):
            a = self.tri(e.operand, d)
            self.emit(d, f"{t} = {'' if e.negated else 'not '}_isi({a}, _BAD)")
            return t
        if isinstance(e, n.Binary):
            return self.tri_binary(e, d, t)
        if isinstance(e, n.Conditional):
            c = self.tri(e.condition, d)
            self.emit(d, f"if {c} is True:")
            self.emit(d + 1, f"{t} = {self.tri(e.then, d + 1)}")
            self.emit(d, f"elif {c} is False:")
            self.emit(d + 1, f"{t} = {self.tri(e.otherwise, d + 1)}")
            self.emit(d, f"elif _isi({c}, _Fail3):")
            self.emit(d + 1, f"{t} = {c}")
            self.emit(d, "else:")
            a = self.tri(e.then, d + 1)
            b = self.tri(e.otherwise, d + 1)
            self.emit(d + 1, f"{t} = _cond3({c}, {a}, {b})")
            if e.kind == "decimal":
                self.emit(d, f"{t} = _sdec({t})")
            return t
        if isinstance(e, n.Call):
            args = [self.tri(x, d) for x in e.args]
            parts = [x for x, k in zip(args, e.args) if not isinstance(k, n.Literal)]
            dd = d + 1 if self.first_bad(d, parts, t) else d
            self.emit(dd, f"{t} = _call3({e.func!r}, [{', '.join(args)}], {self.obj(e)})")
            return t
        if isinstance(e, n.Aggregate):
            if not e.expanded or e.items is None:
                self.emit(d, f"{t} = {self.const(Unknown(frozenset([e.group])))}")
                return t
            items = []
            for cond, body in e.items:  # per record its condition, and its value where the condition is not false
                ct = "True" if cond is None else self.tri(cond, d)
                vt = self.temp()
                if body is None:
                    self.emit(d, f"{vt} = None")
                else:
                    self.emit(d, f"if {ct} is False:")
                    self.emit(d + 1, f"{vt} = None")
                    self.emit(d, "else:")
                    self.emit(d + 1, f"{vt} = {self.tri(body, d + 1)}")
                items.append(f"({ct}, {vt})")
            self.emit(d, f"{t} = _agg3({e.func!r}, [{''.join(x + ', ' for x in items)}], {e.group!r}, {e.kind!r})")
            return t
        raise AssertionError(f"cannot compile {type(e).__name__}")

    def tri_binary(self, e: n.Binary, d: int, t: str) -> str:
        op = e.op
        if op in ("and", "or"):
            stop = "False" if op == "and" else "True"
            go = "True" if op == "and" else "False"
            a = self.tri(e.left, d)
            self.emit(d, f"if {a} is {stop}:")
            self.emit(d + 1, f"{t} = {stop}")
            self.emit(d, "else:")
            b = self.tri(e.right, d + 1)
            self.emit(d + 1, f"if {a} is {go}:")
            self.emit(d + 2, f"{t} = {b}")
            self.emit(d + 1, f"elif {b} is {stop}:")
            self.emit(d + 2, f"{t} = {stop}")
            self.emit(d + 1, "else:")
            self.emit(d + 2, f"{t} = _merge3({a}, {b})")
            return t
        if op in ("in", "notin") and isinstance(e.right, n.Ref) and e.right.kind == "table":
            a = self.tri(e.left, d)
            self.first_bad(d, [a], t)
            self.emit(d + 1, f"{t} = _intab3({self.obj(self.p.tables[e.right.name])}, {a}, day, {op == 'in'})")
            return t
        a = self.tri(e.left, d)
        b = self.tri(e.right, d)
        parts = [x for x, k in ((a, e.left), (b, e.right)) if not isinstance(k, n.Literal)]
        dd = d + 1 if self.first_bad(d, parts, t) else d
        if op in ("=", "!=", "<", "<=", ">", ">="):
            self.emit(dd, f"{t} = {a} {'==' if op == '=' else op} {b}")
        elif op in ("in", "notin"):
            self.emit(dd, f"{t} = {a} {'in' if op == 'in' else 'not in'} {b}")
        else:
            self.emit(dd, f"{t} = _bin3({op!r}, {a}, {b}, {self.obj(e)})")
        return t

    def function(self, e: n.Expr, fn: str) -> list[str]:
        """The lines of ``def fn(i, day, V)`` returning ``e`` in three-valued logic."""
        saved, self.lines = self.lines, []
        self.uses_state = False
        self.tmp = 0
        try:
            result = self.tri(e, 1)
            body = self.lines
        finally:
            self.lines = saved
        head = [f"def {fn}(i, day, V):"]
        if self.uses_state:
            head += ["    S = _bd.get(day)", "    if S is None:", "        S = _state(day)"]
        return head + body + [f"    return {result}"]

    def functions(self) -> tuple[str, dict[int, str]]:
        """One function per condition, rule value, definition and default; their names by node id."""
        p = self.p
        out: list[str] = []
        names: dict[int, str] = {}
        for name in p.order:
            decl = p.values[name]
            self.reading(name)
            for e in _expressions_of(p, decl):
                if id(e) in names:
                    continue
                fn = f"_c{len(names)}"
                out.extend(self.function(e, fn))
                names[id(e)] = fn
        return "\n".join(out) + "\n", names

    def reading(self, name: str) -> None:
        """Before the expressions of value ``name``: the places in ``V`` of the values they read."""
        deps = self.deps
        if deps is None:
            deps = self.deps = value_dependencies(self.p)
        self.dep_pos = {d: pos for pos, d in enumerate(deps[name])}

    # -------------------------------------------------------------- resolution of a value

    def resolver(self, name: str, fns: Mapping[int, str], fn: str, dead: frozenset[str] = frozenset()) -> list[str]:
        """``def fn(i, day, V)``: the value's outcome as ``Evaluation._decide`` gives it, for a value with rules.

        The possible outcomes of every rule tree (exceptions first; a rule's
        condition and value computed at most once, and only where the
        interpreter computes them), combined over the roots; the default where
        no rule may apply; then, when the outcome is settled, the interpreter's
        walk of the trees that names the deciding rules. The conditions of the
        rules in ``dead`` are false (a dispatch arm settles them): such a rule
        passes on what its exceptions give, and a tree of them gives nothing.
        """
        p = self.p
        decl = p.values[name]
        kind = decl.type.kind
        item = decl.type.item.kind if decl.type.item is not None else None
        names = list(decl.rules)
        for r in names:
            for c in p.exceptions.get(r, ()):
                if c not in names:
                    names.append(c)
        slot = {r: k for k, r in enumerate(names)}
        live = [r for r in names if r not in dead]
        out = [f"def {fn}(i, day, V):", "    N = set()"]
        if any(self.rule_slot.get(r) is not None for r in live):
            out += ["    S = _bd.get(day)", "    if S is None:", "        S = _state(day)"]
        # a condition with a conjunct `input = c` (!=, in, not in) that is false on an input that is given is
        # false whatever its other conjuncts are (Kleene's and): no need to compute it
        given: dict[str, str] = {}
        for r in live:
            when = p.rules[r].when
            if when is not None:
                pre = []
                for conj in _conjuncts(when):
                    a = _atom(conj)
                    if a is None:
                        continue
                    var = given.get(a[0])
                    if var is None:
                        var = given[a[0]] = f"_a{len(given)}"
                        out.append(f"    {var} = i.get({a[0]!r}, _MS)")
                    cs = "".join(self.const(x) + ", " for x in a[2])
                    test = {"=": "not in", "in": "not in", "!=": "in", "notin": "in"}[a[1]]
                    pre.append(f"({var} is not _MS and {var} {test} ({cs}))")
                out.append(f"    _q{slot[r]} = False if {' or '.join(pre)} else _MS" if pre else f"    _q{slot[r]} = _MS")
            out.append(f"    _w{slot[r]} = _MS")
        counter = [0]

        def tmp(prefix: str) -> str:
            counter[0] += 1
            return f"{prefix}{counter[0]}"

        def cond(r: str) -> str:
            when = p.rules[r].when
            if when is None:
                return "True"
            q = f"_q{slot[r]}"
            return f"({q} if {q} is not _MS else ({q} := {fns[id(when)]}(i, day, V)))"

        def value(r: str) -> str:
            w = f"_w{slot[r]}"
            call = f"{fns[id(p.rules[r].value)]}(i, day, V)"
            if kind in _STORED_KINDS:
                call = f"_st3({call}, {kind!r}, {decl.is_output!r}, {item!r})"
            return f"({w} if {w} is not _MS else ({w} := {call}))"

        def valid(r: str) -> str | None:
            s = self.rule_slot.get(r)
            return None if s is None else f"S[{s}]"

        def combined(parts: list[str]) -> str:
            """The combination of possible outcomes; ``_N1`` (no rule applies) changes nothing."""
            parts = [x for x in parts if x != "_N1"]
            if not parts:
                return "_N1"
            acc = parts[0]
            for x in parts[1:]:
                acc = f"_cs3({acc}, {x})"
            return acc

        done: dict[str, str] = {}

        def possible(r: str) -> str:
            """Emit the possible outcomes of the tree below ``r`` (once per rule); return their variable."""
            if r in done:
                return done[r]
            kids = combined([possible(c) for c in p.exceptions.get(r, ())])
            pv = f"_p{slot[r]}"
            if r in dead:
                if kids != "_N1":
                    out.append(f"    {pv} = {kids}")
                    kids = pv
                done[r] = kids
                return kids
            d = 1
            if kids != "_N1":
                kv = tmp("_u")
                out.append(f"    {kv} = {kids}")
                out.append(f"    if _NONE3 not in {kv}:")
                out.append(f"        {pv} = {kv}")
                out.append("    else:")
                d = 2
            else:
                kv = "_N1"
            pad = "    " * d
            v = valid(r)
            if v is not None:
                out.append(f"{pad}if not {v}:")
                out.append(f"{pad}    {pv} = {kv}")
                out.append(f"{pad}else:")
                pad += "    "
            mine = tmp("_m")
            if p.rules[r].when is None:
                out.append(f"{pad}{mine} = _fz3((_own3({value(r)}, N),))")
            else:
                g = tmp("_g")
                out.append(f"{pad}{g} = {cond(r)}")
                out.append(f"{pad}if {g} is True:")
                out.append(f"{pad}    {mine} = _fz3((_own3({value(r)}, N),))")
                out.append(f"{pad}elif {g} is False:")
                out.append(f"{pad}    {mine} = _N1")
                out.append(f"{pad}elif _isi({g}, _Fail3):")
                out.append(f"{pad}    {mine} = _failed3({g})")
                out.append(f"{pad}else:")
                out.append(f"{pad}    {mine} = _unsure3({g}, N, {value(r)})")
            out.append(f"{pad}{pv} = {mine}" if kv == "_N1" else f"{pad}{pv} = ({kv} - _N1) | {mine}")
            done[r] = pv
            return pv

        out.append(f"    T = {combined([possible(root) for root in decl.roots])}")
        out.append("    D = None")
        if decl.default is not None:
            dflt = f"{fns[id(decl.default)]}(i, day, V)"
            if kind in _STORED_KINDS:
                dflt = f"_st3({dflt}, {kind!r}, {decl.is_output!r}, {item!r})"
            out.append("    if _NONE3 in T:")
            out.append(f"        D = {dflt}")
            out.append("        T = _dflt3(T, D, N)")
        out.append("    o = _settle3(T, N)")
        out.append("    if o is not None:")
        out.append("        return o")
        out.append("    W = []")
        out.append("    O = []")

        def walk(r: str) -> str | None:
            """Emit the interpreter's walk of the tree below ``r``; the variable of the rules it finds applying
            (None: statically none)."""
            kids = [z for z in (walk(c) for c in p.exceptions.get(r, ())) if z is not None]
            if r in dead:
                if not kids:
                    return None
                z = tmp("_z")
                out.append(f"    {z} = {' + '.join(kids)}")
                return z
            z = tmp("_z")
            v = valid(r)
            applies = f"{cond(r)} is True"
            if v is not None:
                applies = f"({v} and {applies})"
            if kids:
                out.append(f"    {z} = {' + '.join(kids)}")
                out.append(f"    if {z}:")
                out.append(f"        if {applies}:")
                out.append(f"            O.append(({r!r}, {z}[0]))")
                out.append(f"    elif {applies}:")
                out.append(f"        {z} = [{r!r}]")
            else:
                out.append(f"    {z} = [{r!r}] if {applies} else []")
            return z

        for root in decl.roots:
            z = walk(root)
            if z is not None:
                out.append(f"    for _x in {z}:")
                out.append("        if _x not in W:")
                out.append("            W.append(_x)")
        out.append("    _Y = {}")
        if live:
            out.append("    if W:")
            for r in live:
                out.append(f"        if {r!r} in W:")
                out.append(f"            _Y[{r!r}] = {value(r)}")
        out.append("    return _won3(T, W, O, _Y, D)")
        return out

    def resolvers(self, fns: Mapping[int, str]) -> tuple[str, dict[str, str]]:
        """The resolution of every value decided by rules, as functions ``_r<k>``; their names by value.

        With a dispatch input, each arm has its own resolution, without the
        rules whose condition the arm settles as false; the case's arm is taken
        when the input is given."""
        out: list[str] = []
        names: dict[str, str] = {}
        d = self.dispatch_input
        for name in self.p.order:
            decl = self.p.values[name]
            if decl.definition is not None:
                continue
            k = self.index[name]
            fn = f"_r{k}"
            names[name] = fn
            branches = self.branches(decl.rules) if d is not None else None
            if branches is None:
                out.extend(self.resolver(name, fns, fn))
                continue
            out.extend(self.resolver(name, fns, f"{fn}_0"))
            for j, br in enumerate(branches):
                out.extend(self.resolver(name, fns, f"{fn}_{j + 1}", br.false_rules))
            arms = {c: j + 1 for j, br in enumerate(branches) if br.consts is not None for c in br.consts}
            out.append(f"def {fn}(i, day, V):")
            out.append(f"    _b = {self.const(arms)}.get(i.get({d!r}, _MS), {len(branches)})")
            out.append(f"    if _b == {len(branches)} and {d!r} not in i:")
            out.append(f"        return {fn}_0(i, day, V)")
            for j in range(1, len(branches)):
                out.append(f"    if _b == {j}:")
                out.append(f"        return {fn}_{j}(i, day, V)")
            out.append(f"    return {fn}_{len(branches)}(i, day, V)")
        return "\n".join(out) + "\n", names


class _TraceGen(_TriGen):
    """Three-valued expressions that also record the facts they use, as the interpreter's ``ev`` records them:
    ``_c<n>(i, day, V, F, C)``, with ``V`` every value of the rule book by position (a plain value, or the Unknown
    or Fail the interpreter reads for it), ``F`` the facts, written where and as the interpreter writes them,
    and ``C`` the sources of the facts that have one (a parameter's value in force, a table row, a derived
    value's definition), by fact."""

    def __init__(self, p: Program, base: _Gen) -> None:
        super().__init__(p, base)
        self.dep_pos = dict(self.index)

    def tri(self, e: n.Expr, d: int) -> str:
        if isinstance(e, n.Lookup):
            t = self.temp()
            keys = [self.tri(x, d) for x in e.keys]
            parts = [x for x, k in zip(keys, e.keys) if not isinstance(k, n.Literal)]
            dd = d + 1 if self.first_bad(d, parts, t) else d
            self.emit(dd, f"{t} = _lk3({self.obj(self.p.tables[e.table])}, ({''.join(x + ', ' for x in keys)}), "
                          f"{e.column!r}, day)")
            fact = self.temp()
            table = self.obj(self.p.tables[e.table])
            self.emit(dd, f"{fact} = _lkf({e.table!r}, ({''.join(x + ', ' for x in keys)}), {e.column!r})")
            self.emit(dd, f"F[{fact}] = None if _isi({t}, _Fail3) else {t}")
            key = keys[0] if len(keys) == 1 else f"({''.join(x + ', ' for x in keys)})"
            self.emit(dd, f"_cite3(C, {table}, {key}, day, {fact})")
            return t
        if isinstance(e, n.Binary) and e.op in ("in", "notin") and isinstance(e.right, n.Ref) \
                and e.right.kind == "table":
            t = self.temp()
            a = self.tri(e.left, d)
            self.first_bad(d, [a], t)
            table = self.obj(self.p.tables[e.right.name])
            fact = self.temp()
            self.emit(d + 1, f"{t} = _intab3({table}, {a}, day, True)")
            self.emit(d + 1, f"{fact} = _inf({a}, {e.right.name!r})")
            self.emit(d + 1, f"F[{fact}] = {t}")
            self.emit(d + 1, f"_cite3(C, {table}, {a}, day, {fact})")
            if e.op == "notin":
                self.emit(d + 1, f"{t} = not {t}")
            return t
        t = super().tri(e, d)
        if isinstance(e, n.Ref):
            if e.kind == "input":
                self.emit(d, f"F[{e.name!r}] = i.get({e.name!r})")
            else:
                self.emit(d, f"F[{e.name!r}] = None if _isi({t}, _BAD) else {t}")
            if e.kind == "value" and self.p.values[e.name].sources:
                self.emit(d, f"C[{e.name!r}] = {self.obj(self.p.values[e.name].sources)}")
            elif e.kind == "param":
                self.emit(d, f"_psrc3(C, {self.obj(self.p.parameters[e.name])}, day, {e.name!r})")
        return t

    def function(self, e: n.Expr, fn: str) -> list[str]:
        lines = super().function(e, fn)
        lines[0] = f"def {fn}(i, day, V, F, C):"
        return lines

    def reading(self, name: str) -> None:
        """A tracer reads every value at its place in the whole of ``V``: nothing to set per value."""


def _expressions_of(p: Program, decl: ValueDecl) -> list[n.Expr]:
    """The expressions that decide a value: its definition and default, each rule's condition and value."""
    exprs = [x for x in (decl.definition, decl.default) if x is not None]
    for r in decl.rules:
        rule = p.rules[r]
        exprs.extend(x for x in (rule.when, rule.value) if x is not None)
    return exprs


def _lookup_fact(table: str, keys: tuple[Any, ...], column: str) -> str:
    """The name of a table cell among the facts, as the interpreter writes it."""
    return f"{table}[{', '.join(str(k) for k in keys)}].{column}"


def _param_source(sources: dict[str, Any], param: Any, day: dt.date, name: str) -> None:
    """Note the source of a parameter's value in force, as the interpreter notes it."""
    period = param.period_on(day)
    if period is not None and period.value is not None and period.source is not None:
        sources[name] = (period.source,)


def _row_source(sources: dict[str, Any], table: Any, key: Any, day: dt.date, fact: str) -> None:
    """Note the source of the table row a fact was read from, as the interpreter notes it (a key of one column
    may be given as the value itself)."""
    row = table.row_on(key if isinstance(key, tuple) else (key,), day)
    if row is not None and row.source is not None:
        sources[fact] = (row.source,)


def _in_fact(a: Any, table: str) -> str:
    """The name of a membership test among the facts, as the interpreter writes it."""
    return f"{key_text(a if isinstance(a, tuple) else (a,))} in {table}"


def _in_table3(table: Any, a: Any, day: dt.date, positive: bool) -> bool:
    key = a if isinstance(a, tuple) else (a,)
    found = table.row_on(key, day) is not None
    return found if positive else not found


#: helpers of the three-valued functions that are defined below the code generators
_TRI_HELPERS: dict[str, Any] = {}


def _outcome_of_value(v: Any, kind: str) -> Outcome:
    """``Evaluation._from_value`` without facts: the outcome of a definition."""
    v = store(v, kind)
    if isinstance(v, Fail):
        return Outcome("error", reason=v.reason)
    if isinstance(v, Unknown):
        return Outcome("undetermined", needs=sorted(v.needs), reason=needed_reason(v.needs))
    return Outcome("value", value=v)


def _definition(decl: ValueDecl, fns: Mapping[int, Callable[..., Any]]
                ) -> Callable[[Mapping[str, Any], dt.date, Any], Outcome]:
    """The outcome of a value given by a definition, from its three-valued function."""
    kind = decl.type.kind
    assert decl.definition is not None
    fdef = fns[id(decl.definition)]

    def definition(i: Mapping[str, Any], day: dt.date, V: Any) -> Outcome:
        return _outcome_of_value(fdef(i, day, V), kind)

    return definition


def _first_bad2(a: Any, b: Any) -> Any:
    """``first_bad([a, b])`` when one of them is an Unknown or a Fail."""
    if isinstance(a, Fail):
        return a
    if isinstance(b, Fail):
        return b
    if isinstance(a, Unknown):
        return Unknown(a.needs | b.needs) if isinstance(b, Unknown) else a
    return b


def _combine3(a: Possibles, b: Possibles) -> Possibles:
    """``combine_sets``; nothing to do when one side is only "no rule applies"."""
    if a is _N1:
        return b
    if b is _N1:
        return a
    return combine_sets(a, b)


def _failed3(c: Fail) -> Possibles:
    return frozenset([("fail", c.reason)])


def _unsure3(c: Unknown, needs: set[str], v: Any) -> Possibles:
    needs.update(c.needs)
    return frozenset([possible_of(v, needs), NONE])


def _default3(top: Possibles, v: Any, needs: set[str]) -> Possibles:
    d = possible_of(v, needs)
    return frozenset(d if x == NONE else x for x in top)


def _settle3(top: Possibles, needs: set[str]) -> Outcome | None:
    """The outcome when the possible outcomes do not settle on one (an error, undetermined), else None."""
    if len(top) == 1:
        for only in top:
            tag = only[0]
            if tag == "val" or tag == "conflict":
                return None
            if tag == "fail":
                return Outcome("error", reason=only[1])
            if tag == "none":
                return Outcome("undetermined", reason="no rule applies and there is no default")
    fails = sorted(x[1] for x in top if x[0] == "fail")
    if fails:
        return Outcome("error", reason=fails[0])
    if len(top) > 1 or ANY in top:
        return Outcome("undetermined", needs=sorted(needs),
                       reason=needed_reason(needs) if needs else "it depends on values that are not known")
    if NONE in top:
        return Outcome("undetermined", reason="no rule applies and there is no default")
    return None


def _won3(top: Possibles, winners: list[str], overridden: list[tuple[str, str]], values: Mapping[str, Any],
          default: Any) -> Outcome:
    """The settled outcome, from the rules the walk of the trees found applying (``winners``)."""
    if CONFLICT in top:
        return Outcome("conflict", conflict=[(w, values[w]) for w in winners], overridden=overridden,
                       reason="rules that are not exceptions to each other give different values: "
                       + ", ".join(winners))
    if not winners:
        return Outcome("default", value=default, overridden=overridden)
    return Outcome("value", value=values[winners[0]], rule=winners[0], concurring=winners[1:], overridden=overridden)


_N1: Possibles = frozenset([NONE])


_MISSING = object()
_TRI_HELPERS.update({
    "_lkf": _lookup_fact, "_inf": _in_fact, "_psrc3": _param_source, "_cite3": _row_source,
    "_pfail": no_value_in_force, "_lk3": table_cell, "_intab3": _in_table3, "_fbad2": _first_bad2, "_MS": _MISSING,
    "_NONE3": NONE, "_N1": _N1,
    "_cs3": _combine3, "_own3": possible_of, "_fz3": frozenset, "_Fail3": Fail, "_failed3": _failed3,
    "_unsure3": _unsure3, "_st3": store, "_cond3": conditional_unknown, "_dflt3": _default3, "_settle3": _settle3,
    "_won3": _won3, "set": set,
})


def _outcome_value(ev: Evaluation, name: str) -> Any:
    """A value for compiled expressions inside the interpreter: its value if it is known, else leave."""
    o = ev.outcome(name)
    if o.status == "value" or o.status == "default":
        return o.value
    raise _Bail


def _refs(e: n.Expr | None, out: set[str]) -> None:
    """The values an expression refers to, added to ``out``."""
    if e is None:
        return
    if isinstance(e, n.Ref):
        if e.kind == "value":
            out.add(e.name)
    for x in n.children(e):
        _refs(x, out)


def value_dependencies(p: Program) -> dict[str, tuple[str, ...]]:
    """For every value, the values it depends on, directly or not, in ``p.order``."""
    position = {name: k for k, name in enumerate(p.order)}
    out: dict[str, tuple[str, ...]] = {}
    for name in p.order:
        decl = p.values[name]
        direct: set[str] = set()
        _refs(decl.definition, direct)
        _refs(decl.default, direct)
        for r in decl.rules:
            _refs(p.rules[r].when, direct)
            _refs(p.rules[r].value, direct)
        closure = set(direct)
        for d in direct:
            closure.update(out.get(d, ()))
        closure.discard(name)
        out[name] = tuple(sorted(closure, key=position.__getitem__))
    return out


def _flat(op: str, e: n.Expr) -> list[n.Expr]:
    if isinstance(e, n.Binary) and e.op == op:
        return _flat(op, e.left) + _flat(op, e.right)
    return [e]


def _comment(name: str) -> str:
    """A value's name for a comment line: only word characters and dots survive."""
    return re.sub(r"[^\w.]", "_", name)[:80]


# ------------------------------------------------------------------ audit


def audit(source: str, constants: Iterable[str]) -> None:
    """Refuse generated code that does anything but compute: a guard against injection through rule data."""
    tree = ast.parse(source)
    allowed = set(_HELPERS) | set(_BUILTINS) | set(constants) | {"_NV", "_DATE", "_fb", "_bv", "_ov", *_TRI_HELPERS}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.ClassDef, ast.AsyncFunctionDef,
                             ast.Await, ast.Yield, ast.YieldFrom, ast.With, ast.Delete, ast.Starred)):
            raise AssertionError(f"generated code may not contain {type(node).__name__}")
        if isinstance(node, ast.Name):
            if not (node.id in allowed or _LOCAL.match(node.id)):
                raise AssertionError(f"generated code names an unknown identifier {node.id!r}")
        elif isinstance(node, ast.Attribute):
            if node.attr not in _ATTRIBUTES:
                raise AssertionError(f"generated code uses an unknown attribute {node.attr!r}")
        elif isinstance(node, ast.Constant):
            if not (node.value is None or type(node.value) in (str, int, bool)):
                raise AssertionError(f"generated code holds a constant of type {type(node.value).__name__}")
        elif isinstance(node, ast.FunctionDef):
            if node.name not in _FUNCTIONS and not re.fullmatch(r"_[ecr]\d+(_\d+)?", node.name):
                raise AssertionError(f"generated code defines {node.name!r}")
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                if f.id not in _HELPERS and f.id not in _BUILTINS \
                        and f.id not in ("_state", "_date", "_conv", "_ty", "_fb", "_bv", "_ov", *_TRI_HELPERS) \
                        and not re.fullmatch(r"_c\d+|_r\d+_\d+", f.id):
                    raise AssertionError(f"generated code calls {f.id!r}")
                if f.id == "_ty" and (len(node.args) != 1 or node.keywords):
                    raise AssertionError("generated code calls type() with more than one argument")
            elif isinstance(f, ast.Attribute):
                if f.attr not in ("quantize", "get", "append"):
                    raise AssertionError(f"generated code calls .{f.attr}")
            else:
                raise AssertionError("generated code calls something computed")


# ------------------------------------------------------------------ typing the facts of a case


def _typer_source(p: Program, consts: dict[str, Any]) -> str:
    """A function from the facts of a case (nested mappings, as JSON or YAML gives them) to typed inputs.

    It accepts only what ``cases.typed_inputs`` accepts and gives the same
    values; for anything else (an unknown field, a value of another type, a
    bad date) it returns None and the caller asks typed_inputs, whose error
    names the field.
    """
    lines = ["def _typer(d):", "    try:", "        o = {}"]
    tree: dict[str, Any] = {}
    for name in p.inputs:
        node = tree
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node.setdefault(parts[-1], name)
    counter = [0]

    def const(v: Any) -> str:
        ident = f"_k{len(consts)}"
        consts[ident] = v
        return ident

    def leaf(name: str, depth: int) -> None:
        pad = "    " * depth
        t = p.inputs[name].type
        k = t.kind
        key = repr(name)
        if k == "boolean":
            lines.append(f"{pad}if v is not True and v is not False: return None")
        elif k == "integer":
            lines.append(f"{pad}if _ty(v) is not int or not -{NUMBER_LIMIT} < v < {NUMBER_LIMIT}: return None")
        elif k == "text":
            lines.append(f"{pad}if _ty(v) is not str: return None")
        elif k == "enum":
            lines.append(f"{pad}if _ty(v) is not str or v not in {const(frozenset(t.choices))}: return None")
        elif k == "date":
            lines.append(f"{pad}if _ty(v) is str: v = _dates.get(v) or _date(v)")
            lines.append(f"{pad}elif _ty(v) is not _DATE: return None")
        else:
            lines.append(f"{pad}v = _conv(v, {const(t)}, {key})")
        lines.append(f"{pad}o[{key}] = v")

    def level(node: dict[str, Any], source: str, depth: int) -> None:
        pad = "    " * depth
        m = f"m{counter[0]}"
        counter[0] += 1
        lines.append(f"{pad}{m} = 0")
        for part, sub in node.items():
            var = "v" if isinstance(sub, str) else f"g{counter[0]}"
            lines.append(f"{pad}{var} = {source}.get({part!r}, _M)")
            lines.append(f"{pad}if {var} is not _M:")
            lines.append(f"{pad}    {m} += 1")
            lines.append(f"{pad}    if {var} is not None:")
            if isinstance(sub, str):
                leaf(sub, depth + 2)
            else:
                lines.append(f"{pad}        if _ty({var}) is not dict: return None")
                level(sub, var, depth + 2)
        lines.append(f"{pad}if {m} != len({source}): return None")

    level(tree, "d", 2)
    lines += ["        return o", "    except Exception:", "        return None"]
    return "\n".join(lines) + "\n"


def compile_typer(program: Program) -> Callable[[Mapping[str, Any]], dict[str, Any] | None]:
    """Compile the function that types the facts of a case (see ``_typer_source``)."""
    from ..cases import convert

    consts: dict[str, Any] = {}
    source = _typer_source(program, consts)
    audit(source, consts)
    dates: dict[str, dt.date] = {}

    numbers: dict[tuple[str, str], Any] = {}  # an amount or a number written as text, by kind: read once

    def fact(value: Any, t: n.TypeRef, where: str) -> Any:
        if type(value) is str and t.kind in ("money", "decimal"):
            key = (t.kind, value)
            found = numbers.get(key)
            if found is None:
                found = convert(value, t, where, fact=True)  # a CaseError leaves the fast path, not kept
                if len(numbers) > 100_000:
                    numbers.clear()
                numbers[key] = found
            return found
        return convert(value, t, where, fact=True)

    def date_of(text: str) -> dt.date:
        d = parse_date(text)  # a ValueError leaves the fast path: typed_inputs says what is wrong
        if len(dates) > 100_000:
            dates.clear()
        dates[text] = d
        return d

    namespace: dict[str, Any] = {"__builtins__": dict(_BUILTINS), "_M": _NO_VALUE, "_ty": type, "_DATE": dt.date,
                                 "_dates": dates, "_date": date_of, "_conv": fact}
    namespace.update(consts)
    exec(compile(source, "<passendezorg typer>", "exec"), namespace)  # noqa: S102 - audited, from checked names
    return namespace["_typer"]  # type: ignore[no-any-return]


# ------------------------------------------------------------------ the compiled program


@dataclass
class CompiledProgram:
    """A rule book compiled to Python. ``run`` is the fast path; ``evaluate`` always answers."""

    program: Program
    source: str
    names: tuple[str, ...]
    kinds: tuple[int, ...]
    dispatch_input: str | None
    run: Callable[[Mapping[str, Any], dt.date], FastResult | None] = field(repr=False)
    explainer: Explainer | None = field(default=None, repr=False)

    def evaluate(self, inputs: Mapping[str, Any], day: dt.date) -> FastResult | dict[str, Outcome]:
        """The fast result, or the interpreter's outcomes when the fast path does not decide the case."""
        fast = self.run(inputs, day)
        if fast is not None:
            return fast
        return Evaluation(self.program, inputs, day, trace=False).run()

    def outcomes_of(self, fast: FastResult) -> dict[str, tuple[str, Any, str | None]]:
        """(status, value, deciding rule) per value, by name."""
        return {name: (s, v, r) for name, s, v, r in zip(self.names, fast.statuses, fast.values, fast.rules)}


Record = tuple[str, Any, str | None, tuple[str, ...], dict[str, Any], tuple[tuple[str, str], ...],
               Sequence[tuple[str, Any]], Sequence[str], str | None, Mapping[str, tuple[SourceInfo, ...]]]
"""How one value was decided, as the interpreter's Outcome says it, in a plain tuple: ``(status, value, rule,
concurring, facts, overridden, conflict, needs, reason, sources)``; ``value`` is None unless the status is value or
default; ``sources`` are those of the facts that have one."""


def record_of(o: Outcome) -> Record:
    """An interpreter's outcome as a record."""
    return (o.status, o.value if o.known else None, o.rule, tuple(o.concurring), o.facts, tuple(o.overridden),
            o.conflict, o.needs, o.reason, o.sources)


def _has_facts(e: n.Expr | None) -> bool:
    """Does the interpreter record facts when it evaluates ``e``? (only references and table look-ups record)"""
    if e is None or isinstance(e, n.Literal):
        return False
    if isinstance(e, (n.Ref, n.Lookup)):
        return True
    if isinstance(e, (n.ListLit, n.TupleLit)):
        return any(_has_facts(x) for x in e.items)
    if isinstance(e, (n.Unary, n.IsKnown)):
        return _has_facts(e.operand)
    if isinstance(e, n.Binary):
        return _has_facts(e.left) or _has_facts(e.right)
    if isinstance(e, n.Call):
        return any(_has_facts(x) for x in e.args)
    return True


def outcome_of(rec: Record) -> Outcome:
    """A record as the interpreter's Outcome."""
    status, value, rule, concurring, facts, overridden, conflict, needs, reason, sources = rec
    return Outcome(status, value, rule, list(concurring), list(overridden), list(conflict), list(needs), reason,
                   facts, dict(sources))


_NO_RULE_APPLIES = "no rule applies and there is no default"
_NO_SOURCES: Mapping[str, tuple[SourceInfo, ...]] = MappingProxyType({})


class Explainer:
    """Explained decisions from compiled code: per case, every value's outcome with everything the interpreter
    records (the deciding rule, the rules that concur, those overridden and by which exception, the facts the
    deciding rule used, conflicts, needed inputs, reasons), as records in ``program.order``.

    The two-valued blocks, generated to record concurring and overridden rules, decide what they can; the
    three-valued resolution decides the rest (as for the fast path). The facts come from generated
    three-valued functions that write them where the interpreter writes them, run for the expressions the
    interpreter's facts come from: the deciding rule's condition and value, the default, the definition. A
    value whose facts depend on more than that (an error of a value with a default) is decided by the
    interpreter, with the values before it as found; a case whose dated state cannot be built, entirely.
    """

    def __init__(self, program: Program, run: Callable[[Mapping[str, Any], dt.date], FastResult | None],
                 bad: Callable[..., Any] | None, tracers: Mapping[int, Callable[..., Any]]) -> None:
        """``run`` the generated code (None: the interpreter decides the case), ``bad`` what a value that is not
        known reads as, ``tracers`` the generated functions that record facts, by node id (none without a
        fast path)."""
        self.program = program
        self.names = tuple(program.order)
        self._run = run
        self._bad = bad
        self._deps: list[tuple[int, ...]] | None = None
        # per value: how it is decided, and the tracers of its definition, its default, and each rule's condition
        # and value
        self._spec: list[tuple[int, Any, Any]] = []
        self._rule_tracers: dict[str, tuple[Callable[..., Any], ...]] = {}
        for name in self.names:
            decl = program.values[name]
            if decl.definition is not None:
                self._spec.append((BY_DEFINITION, tracers.get(id(decl.definition)) if _has_facts(decl.definition)
                                   else None, None))
                continue
            self._spec.append((WITH_DEFAULT if decl.default is not None else NO_DEFAULT, None,
                               tracers.get(id(decl.default)) if _has_facts(decl.default) else None))
            for r in decl.rules:
                rule = program.rules[r]
                self._rule_tracers[r] = tuple(tracers[id(e)] for e in (rule.when, rule.value)
                                              if e is not None and _has_facts(e) and id(e) in tracers)

    def records(self, inputs: Mapping[str, Any], day: dt.date) -> list[Record]:
        """Every value's record, in ``program.order``: what ``Evaluation(program, inputs, day).run()`` gives."""
        fast = self._run(inputs, day)
        if fast is None:
            results = Evaluation(self.program, inputs, day).run()
            return [record_of(results[name]) for name in self.names]
        vals, rules, _kinds, state, concurring, overridden = fast
        if None in vals:  # what the interpreter reads for a value that is not known: an Unknown or a Fail
            bad = self._bad
            assert bad is not None
            reads: Any = [v if v is not None else bad(state, k, rules[k]) for k, v in enumerate(vals)]
        else:
            reads = vals
        out: list[Record] = []
        add = out.append
        rule_tracers = self._rule_tracers
        decided: Mapping[int, Outcome] = _NO_OUTCOMES if state is None else state.decided
        cited: dict[str, tuple[SourceInfo, ...]] = {}  # the sources of the facts that have one, by fact
        for k, (how, fdef, fdflt) in enumerate(self._spec):
            if decided and k in decided:
                add(self._from_outcome(inputs, day, k, decided[k], reads, out, cited))
                continue
            r = rules[k]
            facts: dict[str, Any] = {}
            if r is not None:
                for f in rule_tracers[r]:
                    f(inputs, day, reads, facts, cited)
                add(("value", vals[k], r, concurring[k], facts, overridden[k], (), (), None,
                     {f: cited[f] for f in facts if f in cited} if cited else _NO_SOURCES))
            elif how == BY_DEFINITION:
                if fdef is not None:
                    fdef(inputs, day, reads, facts, cited)
                add(("value", vals[k], None, (), facts, (), (), (), None,
                     {f: cited[f] for f in facts if f in cited} if cited else _NO_SOURCES))
            elif how == WITH_DEFAULT:
                if fdflt is not None:
                    fdflt(inputs, day, reads, facts, cited)
                add(("default", vals[k], None, (), facts, overridden[k], (), (), None,
                     {f: cited[f] for f in facts if f in cited} if cited else _NO_SOURCES))
            elif vals[k] is None:
                add(("undetermined", None, None, (), facts, overridden[k], (), (), _NO_RULE_APPLIES, _NO_SOURCES))
            else:
                add(("value", vals[k], None, (), facts, (), (), (), None, _NO_SOURCES))
        return out

    def _from_outcome(self, inputs: Mapping[str, Any], day: dt.date, k: int, o: Outcome, reads: Any,
                      before: list[Record], cited: dict[str, tuple[SourceInfo, ...]]) -> Record:
        """The record of a value the three-valued resolution decided (its outcome has no facts)."""
        how, fdef, fdflt = self._spec[k]
        status = o.status
        facts: dict[str, Any] = {}
        if how == BY_DEFINITION:
            if fdef is not None:
                fdef(inputs, day, reads, facts, cited)
        elif status == "value":
            assert o.rule is not None
            for f in self._rule_tracers[o.rule]:
                f(inputs, day, reads, facts, cited)
        elif status == "default":
            if fdflt is not None:
                fdflt(inputs, day, reads, facts, cited)
        elif status == "error" and how == WITH_DEFAULT:
            # the interpreter keeps the default's facts when it evaluated the default: it decides this one
            return record_of(self._interpreted(inputs, day, k, before))
        return (status, o.value if o.known else None, o.rule, tuple(o.concurring), facts, tuple(o.overridden),
                o.conflict, o.needs, o.reason, {f: cited[f] for f in facts if f in cited} if cited else _NO_SOURCES)

    def outcomes(self, inputs: Mapping[str, Any], day: dt.date) -> dict[str, Outcome]:
        """Every value's outcome, as ``Evaluation(program, inputs, day).run()`` gives it."""
        return {name: outcome_of(rec) for name, rec in zip(self.names, self.records(inputs, day))}

    def _interpreted(self, inputs: Mapping[str, Any], day: dt.date, k: int, before: list[Record]) -> Outcome:
        """The interpreter's outcome of value ``k``, given the records of the values before it."""
        ev = Evaluation(self.program, inputs, day)
        names = self.names
        if self._deps is None:
            deps = value_dependencies(self.program)
            index = {name: j for j, name in enumerate(names)}
            self._deps = [tuple(index[d] for d in deps[name]) for name in names]
        for j in self._deps[k]:
            status, value, rule, _c, _f, _o, _x, needs, reason, _s = before[j]
            ev.results[names[j]] = Outcome(status, value, rule, needs=list(needs), reason=reason)
        return ev.outcome(names[k])


def compile_explainer(program: Program, dispatch: bool = True) -> Explainer:
    """Generate and compile the explained decisions of a checked rule book (see ``Explainer``)."""
    return compile_program(program, dispatch, explain=True).explainer  # type: ignore[return-value]


MAX_PASSED_VALUES = 100_000
"""The most values the generated code passes on, over all values, to the blocks that decide them in three-valued
logic (each gets every value it depends on, directly or not). A rule book beyond it (thousands of values in one
chain) is not compiled: the interpreter decides its cases, and gives the same answers."""


def compile_program(program: Program, dispatch: bool = True, explain: bool = False) -> CompiledProgram:
    """Generate and compile the fast path of a checked rule book (once; the result is immutable).

    A rule book whose generated code would be too large, or that Python cannot compile (expressions nested too
    deeply for its parser), gets a program whose fast path decides nothing: the interpreter decides every case.
    With ``explain``, the blocks also record the rules that concur and those overridden, and the program
    carries an ``Explainer`` (``compile_explainer``).
    """
    if _passed_values(program, MAX_PASSED_VALUES) > MAX_PASSED_VALUES:
        return interpreted_program(program, explain)
    try:
        return _compile_program(program, dispatch, explain)
    except (RecursionError, SyntaxError, MemoryError):
        return interpreted_program(program, explain)


def interpreted_program(program: Program, explain: bool = False) -> CompiledProgram:
    """A CompiledProgram without a fast path: ``run`` always gives None, and the interpreter decides."""
    kinds = tuple(
        BY_DEFINITION if program.values[v].definition is not None
        else WITH_DEFAULT if program.values[v].default is not None else NO_DEFAULT
        for v in program.order
    )

    def run(inputs: Mapping[str, Any], day: dt.date) -> FastResult | None:
        return None

    cp = CompiledProgram(program, "", tuple(program.order), kinds, None, run)
    if explain:
        cp.explainer = Explainer(program, run, None, {})
    return cp


def _passed_values(p: Program, limit: int) -> int:
    """The number of values the generated code would pass on (the sum of ``value_dependencies``), counted as
    bit sets without building them; counting stops past ``limit``."""
    position = {name: k for k, name in enumerate(p.order)}
    bits: dict[str, int] = {}
    total = 0
    for name in p.order:
        decl = p.values[name]
        direct: set[str] = set()
        _refs(decl.definition, direct)
        _refs(decl.default, direct)
        for r in decl.rules:
            _refs(p.rules[r].when, direct)
            _refs(p.rules[r].value, direct)
        mine = 0
        for d in direct:
            mine |= bits.get(d, 0) | (1 << position[d])
        mine &= ~(1 << position[name])
        bits[name] = mine
        total += mine.bit_count()
        if total > limit:
            break
    return total


def _compile_program(program: Program, dispatch: bool, explain: bool) -> CompiledProgram:
    g = _Gen(program, dispatch, explain)
    source = g.generate()
    audit(source, list(g.consts) + list(g.table_data))
    namespace: dict[str, Any] = {"__builtins__": dict(_BUILTINS)}
    namespace.update(_HELPERS)
    namespace.update(g.consts)
    namespace.update(g.table_data)
    namespace["_NV"] = _NO_VALUE
    kinds = tuple(
        BY_DEFINITION if program.values[v].definition is not None
        else WITH_DEFAULT if program.values[v].default is not None else NO_DEFAULT
        for v in program.order
    )
    namespace["_K"] = kinds
    namespace["_ov"] = _outcome_value
    namespace.update(_TRI_HELPERS)

    def build_expressions() -> tuple[dict[int, Any], dict[int, Any], dict[str, Any]]:
        """The three-valued expressions, and the interpreter's compiled expressions: built when a case first
        needs them."""
        eg = _ExprGen(program, dispatch=False)
        eg.periods, eg.rule_slot, eg.param_slot = g.periods, g.rule_slot, g.param_slot
        eg.consts, eg._const_ids, eg.tables, eg.table_data = g.consts, g._const_ids, g.tables, g.table_data
        expr_source, expr_names = eg.functions()
        tg = _TriGen(program, g)
        tri_source, tri_names = tg.functions()
        res_source, res_names = tg.resolvers({key: fn for key, fn in tri_names.items()})
        tri_source += res_source
        audit(expr_source + tri_source, list(g.consts) + list(g.table_data))
        namespace.update(g.consts)  # with the constants and tables the expressions added
        namespace.update(g.table_data)
        exec(compile(expr_source, f"<passendezorg expressions {program.content_hash[:19]}>", "exec"), namespace)  # noqa: S102
        exec(compile(tri_source, f"<passendezorg three-valued {program.content_hash[:19]}>", "exec"), namespace)  # noqa: S102
        return ({key: namespace[fn] for key, fn in expr_names.items()},
                {key: namespace[fn] for key, fn in tri_names.items()},
                {name: namespace[fn] for name, fn in res_names.items()})

    namespace["_fb"], namespace["_bv"] = _fallback_function(program, kinds, build_expressions)
    periods = g.periods
    by_date: dict[dt.date, tuple[Any, ...]] = {}
    by_period: dict[int, tuple[Any, ...]] = {}
    cuts = periods.cuts

    def state(day: dt.date) -> tuple[Any, ...]:
        k = bisect.bisect_right(cuts, day)
        s = by_period.get(k)
        if s is None:
            s = by_period[k] = periods.state(program, day)
        if len(by_date) > 65536:
            by_date.clear()
        by_date[day] = s
        return s

    namespace["_bd"] = by_date
    namespace["_state"] = state
    code = compile(source, f"<passendezorg compiled {program.content_hash[:19]}>", "exec")
    exec(code, namespace)  # noqa: S102 - audited source, generated from checked names only
    cp = CompiledProgram(program, source, tuple(program.order), kinds, g.dispatch_input, namespace["_run"])
    if explain:
        tg = _TraceGen(program, g)
        trace_source, trace_names = tg.functions()
        audit(trace_source, list(g.consts) + list(g.table_data))
        traced = dict(namespace)
        traced.update(g.consts)
        traced.update(g.table_data)
        exec(compile(trace_source, f"<passendezorg facts {program.content_hash[:19]}>", "exec"), traced)  # noqa: S102
        cp.explainer = Explainer(program, cp.run, namespace["_bv"],
                                 {key: traced[fn] for key, fn in trace_names.items()})
    return cp
