"""The reference interpreter: the semantics of LANGUAGE.md, recorded as a trace.

It is the ground truth both other engines are tested against. It evaluates
every value of the rule book on one case and one date and records, for each,
how it was decided: the deciding rule, the facts its condition used, the rules
it overrode, the inputs it still needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

from . import nodes as n
from .program import CheckedRule, Program, ValueDecl
from .values import Fail, Unknown, add_duration, age, round_value, store

# ------------------------------------------------------------------ outcomes


@dataclass
class Outcome:
    """How one derived value or output was decided on one case."""

    status: str  # value, default, undetermined, conflict, error
    value: Any = None
    rule: str | None = None
    concurring: list[str] = field(default_factory=list)
    overridden: list[tuple[str, str]] = field(default_factory=list)  # (rule, by exception)
    conflict: list[tuple[str, Any]] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    reason: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.status in ("value", "default")


Possible = tuple[Any, ...]  # ("none",), ("val", v), ("conflict",), ("any",) or ("fail", reason)
Possibles = frozenset[Possible]

NONE: Possible = ("none",)
CONFLICT: Possible = ("conflict",)
ANY: Possible = ("any",)


def _val(v: Any) -> Possible:
    return ("val", _hashable(v))


def possible_of(v: Any, needs: set[str]) -> Possible:
    """A computed value as one possible outcome: a failure, any value (recording the inputs it needs), or itself."""
    if isinstance(v, Fail):
        return ("fail", v.reason)
    if isinstance(v, Unknown):
        needs.update(v.needs)
        return ANY
    return _val(v)


def read_outcome(name: str, o: Outcome) -> Any:
    """What a rule reads for a value that another value's outcome decided: the value, or an Unknown or a Fail."""
    if o.known:
        return o.value
    if o.status == "undetermined":
        return Unknown(frozenset(o.needs))
    if o.status == "conflict":
        return Fail(f"`{name}` has a conflict")
    return Fail(o.reason or f"`{name}` cannot be computed")


def no_value_in_force(parameter: str, day: dt.date) -> Fail:
    return Fail(f"no value of `{parameter}` is in force on {day.isoformat()}")


def table_cell(table: Any, keys: tuple[Any, ...], column: str, day: dt.date) -> Any:
    """A table cell for known keys on ``day``, or a Fail saying which row or cell is missing."""
    row = table.row_on(keys, day)
    if row is None:
        when = f" in force on {day.isoformat()}" if table.dated else ""
        return Fail(f"table `{table.name}` has no row for {', '.join(str(k) for k in keys)}{when}")
    v = row.values[column]
    if v is None:
        return Fail(f"no value is known in `{table.name}` for {', '.join(str(k) for k in keys)}, column "
                    f"`{column}`, on {day.isoformat()}")
    return v


def needed_reason(needs: Iterable[str]) -> str:
    """Why a value is undetermined, naming the inputs needed to decide it."""
    return "to decide, these inputs are needed: " + ", ".join(sorted(needs))


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    return v


def _combine(a: Possible, b: Possible) -> Possible:
    if a == NONE:
        return b
    if b == NONE:
        return a
    if a[0] == "fail":
        return a
    if b[0] == "fail":
        return b
    if a == CONFLICT or b == CONFLICT:
        return CONFLICT
    if a == ANY or b == ANY:
        return ANY
    return a if a == b else CONFLICT


def _combine_sets(a: Possibles, b: Possibles) -> Possibles:
    return frozenset(_combine(x, y) for x in a for y in b)


# ------------------------------------------------------------------ the interpreter


class Evaluation:
    """One case on one date. Values are computed on demand and memoised."""

    def __init__(self, program: Program, inputs: Mapping[str, Any], day: dt.date, trace: bool = True) -> None:
        self.p = program
        self.inputs = inputs
        self.day = day
        self.trace = trace
        self.results: dict[str, Outcome] = {}
        self._active: set[str] = set()
        self._used: dict[str, Any] | None = None

    # ---------------------------------------------------------------- values

    def outcome(self, name: str) -> Outcome:
        found = self.results.get(name)
        if found is not None:
            return found
        decl = self.p.values[name]
        saved = self._used
        self._used = None
        try:
            result = self._decide(decl)
        finally:
            self._used = saved
        self.results[name] = result
        return result

    def run(self) -> dict[str, Outcome]:
        for name in self.p.order:
            self.outcome(name)
        return self.results

    def _decide(self, decl: ValueDecl) -> Outcome:
        kind = decl.type.kind
        if decl.definition is not None:
            facts: dict[str, Any] = {}
            v = self.ev(decl.definition, facts)
            return self._from_value(v, kind, None, facts, "value")
        rules = self.p.rules
        needs: set[str] = set()
        cond_cache: dict[str, Any] = {}
        value_cache: dict[str, Any] = {}
        facts_of: dict[str, dict[str, Any]] = {}

        def cond(r: CheckedRule) -> Any:
            if r.name not in cond_cache:
                f: dict[str, Any] = {}
                cond_cache[r.name] = True if r.when is None else self.ev(r.when, f)
                facts_of[r.name] = f
            return cond_cache[r.name]

        def value(r: CheckedRule) -> Any:
            if r.name not in value_cache:
                f = facts_of.setdefault(r.name, {})
                value_cache[r.name] = store(self.ev(r.value, f), kind)
            return value_cache[r.name]

        def own(r: CheckedRule) -> Possible:
            return possible_of(value(r), needs)

        def possible(name: str) -> Possibles:
            r = rules[name]
            kids: Possibles = frozenset([NONE])
            for c in self.p.exceptions.get(name, ()):
                kids = _combine_sets(kids, possible(c))
            if NONE not in kids:
                return kids
            rest = frozenset(k for k in kids if k != NONE)
            if not r.valid_on(self.day):
                return kids
            c = cond(r)
            if c is True:
                mine = frozenset([own(r)])
            elif c is False:
                mine = frozenset([NONE])
            elif isinstance(c, Fail):
                mine = frozenset([("fail", c.reason)])
            else:
                needs.update(c.needs)
                mine = frozenset([own(r), NONE])
            return rest | mine

        top: Possibles = frozenset([NONE])
        for root in decl.roots:
            top = _combine_sets(top, possible(root))
        default_facts: dict[str, Any] = {}
        default_value: Any = None
        if NONE in top:
            if decl.default is not None:
                default_value = store(self.ev(decl.default, default_facts), kind)
                d = possible_of(default_value, needs)
                top = frozenset(d if x == NONE else x for x in top)
        fails = sorted(x[1] for x in top if x[0] == "fail")
        if fails:
            return Outcome("error", reason=fails[0], facts=default_facts)
        if len(top) > 1 or ANY in top:
            return Outcome("undetermined", needs=sorted(needs),
                           reason=needed_reason(needs) if needs else "it depends on values that are not known")
        only = next(iter(top))
        if only == NONE:
            return Outcome("undetermined", reason="no rule applies and there is no default")
        # determined: walk the tree with the definite facts to name the rules
        overridden: list[tuple[str, str]] = []

        def walk(name: str) -> list[str]:
            r = rules[name]
            won: list[str] = []
            for c in self.p.exceptions.get(name, ()):
                won.extend(walk(c))
            applies = r.valid_on(self.day) and cond(r) is True
            if won:
                if applies:
                    overridden.append((name, won[0]))
                return won
            return [name] if applies else []

        winners: list[str] = []
        for root in decl.roots:
            winners.extend(w for w in walk(root) if w not in winners)  # an exception to two rules wins once
        if only == CONFLICT:
            return Outcome("conflict", conflict=[(w, value(rules[w])) for w in winners],
                           overridden=overridden,
                           reason="rules that are not exceptions to each other give different values: "
                           + ", ".join(winners))
        if not winners:
            return Outcome("default", value=default_value, overridden=overridden, facts=default_facts)
        deciding = winners[0]
        facts = facts_of.get(deciding, {})
        return Outcome("value", value=value(rules[deciding]), rule=deciding, concurring=winners[1:],
                       overridden=overridden, facts=facts)

    def _from_value(self, v: Any, kind: str, rule: str | None, facts: dict[str, Any], status: str) -> Outcome:
        if isinstance(v, Fail):
            return Outcome("error", reason=v.reason, facts=facts)
        if isinstance(v, Unknown):
            return Outcome("undetermined", needs=sorted(v.needs), reason=needed_reason(v.needs), facts=facts)
        return Outcome(status, value=store(v, kind), rule=rule, facts=facts)

    # ---------------------------------------------------------------- expressions

    def ev(self, e: n.Expr, facts: dict[str, Any] | None = None) -> Any:
        """Evaluate an expression in three-valued logic; record the facts it used in ``facts``."""
        method = _DISPATCH[type(e)]
        return method(self, e, facts)

    def _literal(self, e: n.Literal, facts: dict[str, Any] | None) -> Any:
        return e.value

    def _ref(self, e: n.Ref, facts: dict[str, Any] | None) -> Any:
        kind = e.kind
        if kind == "input":
            if e.name in self.inputs:
                v = self.inputs[e.name]
                if facts is not None:
                    facts[e.name] = v
                return v
            if facts is not None:
                facts[e.name] = None
            return Unknown(frozenset([e.name]))
        if kind == "value":
            o = self.outcome(e.name)
            if facts is not None:
                facts[e.name] = o.value if o.known else None
            return read_outcome(e.name, o)
        if kind == "param":
            param = self.p.parameters[e.name]
            period = param.period_on(self.day)
            if period is None or period.value is None:
                if facts is not None:
                    facts[e.name] = None
                return no_value_in_force(e.name, self.day)
            if facts is not None:
                facts[e.name] = period.value
            return period.value
        raise AssertionError(f"a table cannot be a value: {e.name}")  # pragma: no cover

    def _lookup(self, e: n.Lookup, facts: dict[str, Any] | None) -> Any:
        keys = [self.ev(k, facts) for k in e.keys]
        bad = _first_bad(keys)
        if bad is not None:
            return bad
        v = table_cell(self.p.tables[e.table], tuple(keys), e.column, self.day)
        if facts is not None:
            facts[f"{e.table}[{', '.join(str(k) for k in keys)}].{e.column}"] = None if isinstance(v, Fail) else v
        return v

    def _list(self, e: n.ListLit, facts: dict[str, Any] | None) -> Any:
        items = [self.ev(i, facts) for i in e.items]
        bad = _first_bad(items)
        return bad if bad is not None else items

    def _tuple(self, e: n.TupleLit, facts: dict[str, Any] | None) -> Any:
        items = [self.ev(i, facts) for i in e.items]
        bad = _first_bad(items)
        return bad if bad is not None else tuple(items)

    def _unary(self, e: n.Unary, facts: dict[str, Any] | None) -> Any:
        v = self.ev(e.operand, facts)
        if isinstance(v, (Unknown, Fail)):
            return v
        if e.op == "not":
            return not v
        return -v if e.op == "-" else v

    def _is_known(self, e: n.IsKnown, facts: dict[str, Any] | None) -> Any:
        v = self.ev(e.operand, facts)
        known = not isinstance(v, (Unknown, Fail))
        return not known if e.negated else known

    def _binary(self, e: n.Binary, facts: dict[str, Any] | None) -> Any:
        op = e.op
        if op == "and":
            a = self.ev(e.left, facts)
            if a is False:
                return False
            b = self.ev(e.right, facts)
            if a is True:
                return b
            if b is False:
                return False
            return _merge(a, b)
        if op == "or":
            a = self.ev(e.left, facts)
            if a is True:
                return True
            b = self.ev(e.right, facts)
            if a is False:
                return b
            if b is True:
                return True
            return _merge(a, b)
        if op in ("in", "notin") and isinstance(e.right, n.Ref) and e.right.kind == "table":
            a = self.ev(e.left, facts)
            if isinstance(a, (Unknown, Fail)):
                return a
            key = a if isinstance(a, tuple) else (a,)
            found = self.p.tables[e.right.name].row_on(key, self.day) is not None
            if facts is not None:
                facts[f"{_key_text(key)} in {e.right.name}"] = found
            return found if op == "in" else not found
        a = self.ev(e.left, facts)
        b = self.ev(e.right, facts)
        bad = _first_bad([a, b])
        if bad is not None:
            return bad
        return apply_binary(op, a, b, e)

    def _call(self, e: n.Call, facts: dict[str, Any] | None) -> Any:
        args = [self.ev(a, facts) for a in e.args]
        bad = _first_bad(args)
        if bad is not None:
            return bad
        return apply_call(e.func, args, e)


def apply_binary(op: str, a: Any, b: Any, e: n.Binary) -> Any:
    """A binary operator on known values (shared by both engines)."""
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "in":
        return a in b
    if op == "notin":
        return a not in b
    if isinstance(b, n.Duration):
        return add_duration(a, b.amount if op == "+" else -b.amount, b.unit)
    if isinstance(a, n.Duration):
        return add_duration(b, a.amount, a.unit)
    if op == "+":
        return _num(a) + _num(b) if _mixed(a, b) else a + b
    if op == "-":
        if isinstance(a, dt.date):
            return (a - b).days
        return _num(a) - _num(b) if _mixed(a, b) else a - b
    if op == "*":
        return _num(a) * _num(b) if _mixed(a, b) else a * b
    if op == "/":
        try:
            return Decimal(a) / Decimal(b)
        except (DivisionByZero, InvalidOperation):
            return Fail(f"division by zero at line {e.span.line}")
    raise AssertionError(op)  # pragma: no cover


def _mixed(a: Any, b: Any) -> bool:
    return isinstance(a, Decimal) != isinstance(b, Decimal)


def _num(v: Any) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(v)


def apply_call(func: str, args: list[Any], e: n.Call) -> Any:
    if func == "age":
        return age(args[0], args[1])
    if func == "year":
        return args[0].year
    if func == "days_between":
        return (args[1] - args[0]).days
    if func == "count":
        return len(args[0])
    if func in ("min", "max"):
        vals = [_num(a) if any(isinstance(x, Decimal) for x in args) and isinstance(a, int) else a for a in args]
        return min(vals) if func == "min" else max(vals)
    if func in ("round", "round_down", "round_money", "round_down_money"):
        return round_value(args[0], "money" if func.endswith("_money") else "number", func.startswith("round_down"))
    if func == "abs":
        return abs(args[0])
    raise AssertionError(func)  # pragma: no cover


def _first_bad(values: list[Any]) -> Any:
    fail = next((v for v in values if isinstance(v, Fail)), None)
    if fail is not None:
        return fail
    unknown = [v for v in values if isinstance(v, Unknown)]
    if unknown:
        return Unknown(frozenset().union(*(u.needs for u in unknown)))
    return None


def _merge(a: Any, b: Any) -> Any:
    bad = _first_bad([a, b])
    return bad if bad is not None else a


def _key_text(key: tuple[Any, ...]) -> str:
    return ", ".join(str(k) for k in key) if len(key) > 1 else str(key[0])


_DISPATCH: dict[type, Callable[..., Any]] = {
    n.Literal: Evaluation._literal,
    n.Ref: Evaluation._ref,
    n.Lookup: Evaluation._lookup,
    n.ListLit: Evaluation._list,
    n.TupleLit: Evaluation._tuple,
    n.Unary: Evaluation._unary,
    n.IsKnown: Evaluation._is_known,
    n.Binary: Evaluation._binary,
    n.Call: Evaluation._call,
}
