"""The semantics every engine shares exactly: outcomes, possible outcomes and their resolution,
operators and functions on known values, and the wording of failures and needed inputs.

The reference interpreter (``interpreter.py``) is written in these terms; the compiled and the
rete engines use the same functions, so that what they decide is the interpreter's answer by
construction where they share code, and by differential tests where they do not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

from .. import nodes as n
from ..program import SourceInfo
from ..values import OUT_OF_RANGE, Fail, OutOfRange, Unknown, add_duration, age, round_value

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
    sources: dict[str, tuple[SourceInfo, ...]] = field(default_factory=dict)  # of the facts that have one

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


CONFLICT_REASON = "rules that are not exceptions to each other give different values: "
"""How a conflict's reason begins; the rules follow."""


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


def combine_sets(a: Possibles, b: Possibles) -> Possibles:
    return frozenset(_combine(x, y) for x in a for y in b)


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
    try:
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
    except OutOfRange as x:  # a date beyond 9999-12-31 or before 0001-01-01
        return Fail(f"{x} (line {e.span.line})")
    except ArithmeticError:  # a decimal beyond what the decimal context holds
        return Fail(f"{OUT_OF_RANGE} (line {e.span.line})")
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
    if func == "start_of_month":
        return args[0].replace(day=1)
    if func == "days_between":
        return (args[1] - args[0]).days
    if func == "count":
        return len(args[0])
    if func in ("min", "max"):
        vals = [_num(a) if any(isinstance(x, Decimal) for x in args) and isinstance(a, int) else a for a in args]
        return min(vals) if func == "min" else max(vals)
    if func in ("round", "round_down", "round_money", "round_down_money"):
        return round_value(args[0], "money" if func.endswith("_money") else "number", func.startswith("round_down"),
                           e.unit, e.mode)
    if func == "abs":
        return abs(args[0])
    raise AssertionError(func)  # pragma: no cover


def first_bad(values: list[Any]) -> Any:
    fail = next((v for v in values if isinstance(v, Fail)), None)
    if fail is not None:
        return fail
    unknown = [v for v in values if isinstance(v, Unknown)]
    if unknown:
        return Unknown(frozenset().union(*(u.needs for u in unknown)))
    return None


def conditional_unknown(condition: Unknown, then: Any, otherwise: Any) -> Any:
    """A conditional value whose condition is not known: the value both sides give when they agree (Kleene);
    otherwise a failure on either side, or the inputs the condition and the sides need."""
    bad = first_bad([then, otherwise])
    if bad is None:
        return then if then == otherwise else condition
    if isinstance(bad, Fail):
        return bad
    return Unknown(condition.needs | bad.needs)


def to_decimal(v: Any) -> Any:
    """An integer where a decimal is wanted (a conditional value of a whole number and a decimal) as a Decimal."""
    return Decimal(v) if isinstance(v, int) and not isinstance(v, bool) else v


def merge(a: Any, b: Any) -> Any:
    bad = first_bad([a, b])
    return bad if bad is not None else a


def key_text(key: tuple[Any, ...]) -> str:
    return ", ".join(str(k) for k in key) if len(key) > 1 else str(key[0])




# ------------------------------------------------------------------ aggregates over the records of a group


def kleene_and(a: Any, b: Any) -> Any:
    """``a and b`` in three-valued logic, as the interpreter's ``and`` gives it when both sides are evaluated."""
    if a is False or b is False:
        return False
    if a is True:
        return b
    if b is True:
        return a
    return merge(a, b)


def kleene_or(a: Any, b: Any) -> Any:
    """``a or b`` in three-valued logic: true wins over unknown and over a failure."""
    if a is True or b is True:
        return True
    if a is False:
        return b
    if b is False:
        return a
    return merge(a, b)


def _kleene_not(a: Any) -> Any:
    return (not a) if isinstance(a, bool) else a


def no_records(func: str, group: str) -> Fail:
    return Fail(f"the {func} of no records of `{group}` has no value")


def aggregate(func: str, items: list[tuple[Any, Any]], group: str, kind: str | None) -> Any:
    """An aggregate over the records of a group, in three-valued logic: the same on every engine.

    ``items`` holds per record (in order) its condition (True when the aggregate has none) and its value (None
    for ``count``, and where the condition is false: then the value is not read). The known records decide
    where they can: ``any`` with one true record is true, ``all`` with one false record is false, a record whose
    condition is unknown does not matter to ``sum`` when its value is zero, nor to ``minimum`` when a record
    that counts already has a value at least as low. Otherwise a failure (in record order) or the inputs that
    are needed (the fields with their index) make it unknown.
    """
    if func in ("any", "all"):
        result: Any = func == "all"
        for c, v in items:
            if func == "any":
                result = kleene_or(result, kleene_and(c, v))
            else:
                result = kleene_and(result, kleene_or(_kleene_not(c), v))
        return result
    sure: list[Any] = []  # the values of the records that count
    for c, v in items:
        if c is False:
            continue
        value = 1 if func == "count" else v
        for x in (c, value):
            if isinstance(x, Fail):
                return x
        if c is True and not isinstance(value, Unknown):
            sure.append(value)
    low = min(sure) if sure and func == "minimum" else None
    high = max(sure) if sure and func == "maximum" else None
    needs: set[str] = set()
    unknown = False
    for c, v in items:
        if c is False:
            continue
        value = 1 if func == "count" else v
        if not isinstance(c, Unknown) and not isinstance(value, Unknown):
            continue
        if isinstance(c, Unknown) and not isinstance(value, Unknown):  # would it matter if the record counted?
            if (func == "sum" and value == 0) or (low is not None and value >= low) or \
                    (high is not None and value <= high):
                continue
        unknown = True
        for x in (c, value):
            if isinstance(x, Unknown):
                needs |= x.needs
    if unknown:
        return Unknown(frozenset(needs))
    if func in ("sum", "count"):
        return sum(sure, Decimal(0) if kind in ("money", "decimal") else 0)
    if not sure:
        return no_records(func, group)
    return low if func == "minimum" else high
