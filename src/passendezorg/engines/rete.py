"""The Rete back end: rule conditions matched in a durable-rules network, proven equal to the interpreter.

The checked rule book is compiled into durable-rules rulesets (their JSON form),
one or more rulesets per value that rules assign. Evaluation chains stratum by stratum in
the dependency order of the program: for each value, one fact is posted that
holds the inputs and the values computed so far; the network says which rules
matched; the shared resolution layer of the interpreter (exceptions,
conflicts, defaults, missing facts) then decides the value.

The network is kept to the patterns of durable-rules that are safe: one fact per
case per stratum, single-fact (alpha) patterns only, no joins. A stratum whose
rules could match more rules of one ruleset than the core allows on one fact is
spread over several rulesets, and the fact is posted to each.

Public calls (stable): ``available()``, ``require()``, ``unavailable_reason()``,
``engine_for(program)``, ``evaluate(program, inputs, day, isolated=True)`` and
``ReteEngine``.

Three-valued logic. A condition is true, false, unknown (an input is missing) or
failed (no parameter value in force, a conflict upstream). The boolean structure
(and, or, not) is matched in the network over the truth of the condition's
atoms; a chain of one operator, however the parser nested it, is one n-ary gate.
An atom that compares an input, a value or a parameter with constants is
matched in the network too: the operand is posted as an exactly encoded integer
with a status (known, unknown, failed). Other atoms (arithmetic, functions,
table look-ups, date arithmetic) are computed by the interpreter and posted
as their truth value. Besides "true" and "false", the network also names the
atoms whose missing inputs make a condition unknown, and the atom whose failure
makes it fail, so that the needed inputs and reasons are the interpreter's.

The facts recorded for a deciding rule are an explanation; they are built with
the interpreter for that rule only, after the network has matched it.
"""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .. import nodes as n
from ..errors import CaseError, EngineUnavailable
from ..program import CheckedRule, Program, ValueDecl
from ..values import Fail, Unknown
from ..workers import FORK, Pool, WorkerFailure, WorkerStartError
from .interpreter import Evaluation
from .semantics import Outcome

INSTALL_HINT = "pip install 'passendezorg[rete]'"


class EngineFault(CaseError):
    """The Rete network gave no answer or an inconsistent one on a case; that case fails, the rest go on."""

    def __init__(self, message: str) -> None:
        super().__init__("rete engine", message)


class EngineClosed(EngineFault):
    """The ReteEngine was closed (``engine_for`` closes the least recently used one)."""


class EngineCrash(CaseError):
    """The durable-rules core crashed or hung on a case (in an isolated worker); that case fails, the rest go on."""

    def __init__(self, message: str) -> None:
        super().__init__("rete engine", message)


def available() -> bool:
    """Can the rete engine run on this interpreter (durable-rules installed and importable)?"""
    return unavailable_reason() is None


def require() -> None:
    """Raise EngineUnavailable, saying why and what to do, unless the rete engine can run here."""
    _core()


def unavailable_reason() -> str | None:
    """Why the rete engine cannot run on this interpreter, or None when it can."""
    try:
        _core()
    except EngineUnavailable as e:
        return str(e)
    return None


_CORE: Any = None


def _core() -> Any:
    """The durable-rules C core, or EngineUnavailable saying why not and what to do."""
    global _CORE
    if _CORE is not None:
        return _CORE
    version = ".".join(str(p) for p in sys.version_info[:3])
    if sys.version_info >= (3, 13):
        raise EngineUnavailable(
            f"the rete engine needs durable-rules, which does not import on Python 3.13+ (this is Python {version}); "
            f"use the compiled engine (the default) or the interpreter, or Python 3.11/3.12 with {INSTALL_HINT}")
    try:
        _CORE = importlib.import_module("durable_rules_engine")
    except ImportError as e:
        missing = isinstance(e, ModuleNotFoundError)
        why = "which is not installed" if missing else f"which does not import here ({e})"
        raise EngineUnavailable(
            f"the rete engine needs durable-rules, {why}; install it with {INSTALL_HINT} "
            f"(Python 3.11 or 3.12), or use the compiled engine (the default) or the interpreter") from None
    return _CORE


# ---------------------------------------------------------------- formulas over the fields of one fact
#
# A formula is a tuple: ("true",), ("false",), (op, field, int) with op one of
# eq ne lt le gt ge, or ("and", (f, ...)) / ("or", (f, ...)). Negation is pushed
# down to the tests, so the network only ever sees comparisons of a field with
# an integer constant, joined by $and / $or.

Formula = tuple[Any, ...]
TRUE: Formula = ("true",)
FALSE: Formula = ("false",)
_NEGATED = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le"}
_DURABLE_OPS = {"ne": "$neq", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}


def _cmp(op: str, name: str, value: int) -> Formula:
    return (op, name, value)


def neg(f: Formula) -> Formula:
    tag = f[0]
    if f == TRUE:
        return FALSE
    if f == FALSE:
        return TRUE
    if tag == "and":
        return any_of(*(neg(x) for x in f[1]))
    if tag == "or":
        return all_of(*(neg(x) for x in f[1]))
    return (_NEGATED[tag], f[1], f[2])


def _join(tag: str, unit: Formula, zero: Formula, parts: Iterable[Formula]) -> Formula:
    out: list[Formula] = []
    for p in parts:
        if p == zero:
            return zero
        if p == unit:
            continue
        for q in (p[1] if p[0] == tag else (p,)):
            if q not in out:
                out.append(q)
    if not out:
        return unit
    if len(out) == 1:
        return out[0]
    return (tag, tuple(out))


def all_of(*parts: Formula) -> Formula:
    return _join("and", TRUE, FALSE, parts)


def any_of(*parts: Formula) -> Formula:
    return _join("or", FALSE, TRUE, parts)


def to_durable(f: Formula) -> dict[str, Any]:
    """A formula in the JSON expression form of durable-rules."""
    tag = f[0]
    if f == TRUE:
        return {"one": 1}
    if f == FALSE:
        return {"one": 0}
    if tag in ("and", "or"):
        return {f"${tag}": [to_durable(x) for x in f[1]]}
    if tag == "eq":
        return {f[1]: f[2]}
    return {_DURABLE_OPS[tag]: {f[1]: f[2]}}


def connectives(f: Formula) -> int:
    """The number of $and / $or nodes: durable-rules takes at most 15 in one pattern."""
    return 1 + sum(connectives(x) for x in f[1]) if f[0] in ("and", "or") else 0


#: the most $and / $or nodes put in one pattern; larger formulas are split into several rules
MAX_CONNECTIVES = 15


#: the most network rules one answer of one condition may take; beyond that, part of it is computed in Python
MAX_PARTS = 64


class _TooBig(Exception):
    """A formula would need more than MAX_PARTS patterns."""


def split(f: Formula, limit: int = MAX_CONNECTIVES, most: int = MAX_PARTS) -> list[Formula]:
    """Formulas whose disjunction is ``f``, each with at most ``max(limit, 1)`` connectives.

    ``and`` is distributed over the widest ``or`` below it until each part fits. Raises _TooBig
    as soon as more than ``most`` parts would be needed (distributing can grow exponentially).
    """
    out: list[Formula] = []

    def go(g: Formula) -> None:
        if connectives(g) <= limit:
            out.append(g)
        elif g[0] == "or":
            for x in g[1]:
                go(x)
        else:
            ors = [x for x in g[1] if x[0] == "or"] if g[0] == "and" else []
            if not ors:
                out.append(g)  # a plain conjunction of tests: one connective, the least a pattern can have
            else:
                widest = max(ors, key=connectives)
                rest = [x for x in g[1] if x is not widest]
                for d in widest[1]:
                    go(all_of(*rest, d))
        if len(out) > most:
            raise _TooBig

    go(f)
    return out


# ---------------------------------------------------------------- exact integer encodings

#: every encoded number lies within ±LIMIT; the C core compares such integers exactly
LIMIT = 2**52
#: what a missing or failed operand is posted as: below (in ``v<i>``) or above (in ``w<i>``) every constant
BELOW, ABOVE = -(LIMIT + 1), LIMIT + 1
MAX_PLACES = 12
KNOWN, UNKNOWN, FAILED = 0, 1, 2  # the status of a posted operand
IS_TRUE, IS_FALSE, IS_UNKNOWN, IS_FAILED = 0, 1, 2, 3  # the truth of a computed atom


def _places(v: int | Decimal) -> int:
    if isinstance(v, int):
        return 0
    exponent = v.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else MAX_PLACES + 1


def _scaled(v: int | Decimal, places: int) -> tuple[int, bool]:
    """``floor(v * 10**places)`` and whether that is exact, in integer arithmetic."""
    if isinstance(v, int):
        return v * 10**places, True
    sign, digits, exponent = v.as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    shift = exponent + places
    if shift >= 0:
        return mantissa * 10**shift, True
    q, r = divmod(mantissa, 10**-shift)
    return q, r == 0


def _clamp(i: int) -> int:
    return max(-LIMIT, min(LIMIT, i))


@dataclass
class _Operand:
    """An input, value or parameter posted in the fact: ``s<i>`` its status, ``v<i>`` and ``w<i>`` its value.

    A known value is posted as the same exact integer in ``v<i>`` and ``w<i>``. A missing or failed one
    is posted below every constant in ``v<i>`` and above every constant in ``w<i>``, so that "known and
    greater than c" is the single test ``v<i> > c`` and "known and not greater than c" is ``w<i> <= c``:
    both truth values of a comparison, and their negations, are single tests, and chains of
    comparisons stay flat in the network.
    """

    index: int
    ref: n.Ref
    kind: str  # bool, code, date, num; none: only the status is posted (for `is known`)
    places: int = 0

    @property
    def value_field(self) -> str:
        return f"v{self.index}"

    @property
    def high_field(self) -> str:
        return f"w{self.index}"

    @property
    def status_field(self) -> str:
        return f"s{self.index}"

    def encode(self, v: Any, codes: Mapping[str, int]) -> int:
        """The exact integer a known value is posted as; order and equality with the constants are kept."""
        if self.kind == "none":
            return 0
        if self.kind == "bool":
            return 1 if v is True else 0
        if self.kind == "code":
            return codes.get(v, 0) if isinstance(v, str) else 0
        if self.kind == "date":
            return int(v.toordinal())
        q, exact = _scaled(v, self.places)
        return _clamp(2 * q + (0 if exact else 1))

    def constant(self, v: Any, codes: Mapping[str, int]) -> int | None:
        """The integer a constant is compared as, or None when it cannot be encoded exactly."""
        if self.kind == "bool":
            return 1 if v is True else 0
        if self.kind == "code":
            return codes[v]
        if self.kind == "date":
            return int(v.toordinal())
        q, exact = _scaled(v, self.places)
        enc = 2 * q
        return enc if exact and -LIMIT < enc < LIMIT else None


def _operand_kind(t: n.TypeRef) -> str | None:
    return {"boolean": "bool", "text": "code", "enum": "code", "date": "date", "integer": "num",
            "decimal": "num", "money": "num"}.get(t.kind)


def _fits(kind: str, value: Any) -> bool:
    """Can a constant be compared with an operand of this kind by its encoding?"""
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "code":
        return isinstance(value, str)
    if kind == "date":
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def _constant(e: n.Expr) -> tuple[bool, Any]:
    """(True, value) when ``e`` is a constant the network can compare with."""
    if isinstance(e, n.Literal) and e.kind != "duration":
        return True, e.value
    if isinstance(e, n.Unary) and e.op in ("-", "+") and isinstance(e.operand, n.Literal):
        v = e.operand.value
        if isinstance(v, (int, Decimal)) and not isinstance(v, bool):
            return True, -v if e.op == "-" else v
    return False, None


_FLIP = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_TEST_OP = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


# ---------------------------------------------------------------- atoms and their truth in the network


@dataclass
class _Cats:
    """The four truth categories of a (sub)condition as formulas; exactly one holds for any fact."""

    t: Formula
    f: Formula
    u: Formula
    x: Formula


@dataclass
class _AtomUse:
    """One atom of a condition: where its truth comes from and what it contributes when unknown or failed."""

    source: tuple[str, int]  # ("operand", i) or ("computed", j)


@dataclass
class _RulePlan:
    name: str
    key: str  # the rule's name in the network
    atoms: list[_AtomUse] = field(default_factory=list)
    contributes: dict[int, str] = field(default_factory=dict)  # atom -> network rule when it makes the condition unknown
    fails: dict[int, str] = field(default_factory=dict)  # atom -> network rule when its failure makes it fail


class _Compiler:
    """Compiles the conditions of one stratum (the rules of one value) into network rules."""

    def __init__(self, program: Program, codes: dict[str, int]) -> None:
        self.p = program
        self.codes = codes
        self.operands: dict[tuple[str, str], _Operand] = {}
        self.computed: dict[int, int] = {}  # id of an atom -> its index (by identity: spans show in reasons)
        self.computed_atoms: list[n.Expr] = []
        self.groups: list[dict[str, dict[str, Any]]] = [{}]  # network rules, spread so that few match at once

    # ------------------------------------------------------------ atoms

    def ref_type(self, ref: n.Ref) -> n.TypeRef | None:
        if ref.kind == "input":
            return self.p.inputs[ref.name].type
        if ref.kind == "value":
            return self.p.values[ref.name].type
        if ref.kind == "param":
            return self.p.parameters[ref.name].type
        return None

    def shape(self, e: n.Expr) -> tuple[n.Ref, str, list[Any]] | None:
        """(operand, test, constants) when the network can decide the atom from a posted operand."""
        if isinstance(e, n.IsKnown) and isinstance(e.operand, n.Ref) and e.operand.kind != "table":
            return e.operand, "missing" if e.negated else "known", []
        if isinstance(e, n.Ref) and e.kind != "table":
            t = self.ref_type(e)
            return (e, "=", [True]) if t is not None and t.kind == "boolean" else None
        if not isinstance(e, n.Binary):
            return None
        if e.op in _FLIP:
            left_const, lv = _constant(e.left)
            right_const, rv = _constant(e.right)
            if isinstance(e.left, n.Ref) and right_const:
                return e.left, e.op, [rv]
            if isinstance(e.right, n.Ref) and left_const:
                return e.right, _FLIP[e.op], [lv]
            return None
        if e.op in ("in", "notin") and isinstance(e.left, n.Ref) and isinstance(e.right, n.ListLit):
            values = []
            for item in e.right.items:
                ok, v = _constant(item)
                if not ok:
                    return None
                values.append(v)
            return e.left, e.op, values
        return None

    def plan_operands(self, atoms: list[n.Expr]) -> None:
        """Choose the operands to post and, for numbers, the decimal places that keep comparisons exact."""
        places: dict[tuple[str, str], int] = {}
        for a in atoms:
            s = self.shape(a)
            if s is None:
                continue
            ref, op, consts = s
            t = self.ref_type(ref)
            if t is None:
                continue
            kind = _operand_kind(t) or "none"  # "none": only its status is posted
            if op not in ("known", "missing") and (kind == "none" or not all(_fits(kind, c) for c in consts)):
                continue
            key = (ref.kind, ref.name)
            need = max([_places(c) for c in consts] or [0]) if kind == "num" else 0
            places[key] = max(places.get(key, 0), need)
            if key not in self.operands:
                self.operands[key] = _Operand(len(self.operands), ref, kind)
            if kind == "code":
                for c in consts:
                    self.codes.setdefault(c, len(self.codes) + 1)
        for key, k in places.items():
            self.operands[key].places = k
        for key in [k for k, p in places.items() if p > MAX_PLACES]:
            del self.operands[key]
        for i, operand in enumerate(self.operands.values()):
            operand.index = i

    def operand_atom(self, e: n.Expr) -> tuple[_Operand, _Cats] | None:
        s = self.shape(e)
        if s is None:
            return None
        ref, op, consts = s
        operand = self.operands.get((ref.kind, ref.name))
        if operand is None:
            return None
        st, lo, hi = operand.status_field, operand.value_field, operand.high_field
        known = _cmp("eq", st, KNOWN)
        unknown = _cmp("eq", st, UNKNOWN)
        failed = _cmp("eq", st, FAILED)
        if op in ("known", "missing"):
            yes, no = known, neg(known)
            return operand, _Cats(yes if op == "known" else no, no if op == "known" else yes, FALSE, FALSE)
        if operand.kind == "none" or not all(_fits(operand.kind, c) for c in consts):
            return None
        encoded = [operand.constant(c, self.codes) for c in consts]
        if any(x is None for x in encoded):
            return None
        ints = [x for x in encoded if x is not None]
        # "known and holds" / "known and does not hold"; a missing or failed operand is posted below
        # every constant in `lo` and above every constant in `hi`, so order tests need no status test
        if op in ("in", "notin", "=", "!="):
            member = any_of(*(_cmp("eq", lo, x) for x in ints))
            outside = all_of(known, *(_cmp("ne", lo, x) for x in ints))
            yes, no = (member, outside) if op in ("in", "=") else (outside, member)
        else:
            c = ints[0]
            yes, no = {
                ">": (_cmp("gt", lo, c), _cmp("le", hi, c)),
                ">=": (_cmp("ge", lo, c), _cmp("lt", hi, c)),
                "<": (_cmp("lt", hi, c), _cmp("ge", lo, c)),
                "<=": (_cmp("le", hi, c), _cmp("gt", lo, c)),
            }[op]
        # an input is never failed, a parameter never unknown
        return operand, _Cats(yes, no, FALSE if ref.kind == "param" else unknown,
                              FALSE if ref.kind == "input" else failed)

    def computed_atom(self, e: n.Expr) -> tuple[int, _Cats]:
        j = self.computed.get(id(e), -1)
        if j < 0:
            j = self.computed[id(e)] = len(self.computed_atoms)
            self.computed_atoms.append(e)
        c = f"c{j}"
        if isinstance(e, (n.IsKnown, n.Literal)):
            # never unknown, never failed
            return j, _Cats(_cmp("eq", c, IS_TRUE), _cmp("eq", c, IS_FALSE), FALSE, FALSE)
        return j, _Cats(_cmp("eq", c, IS_TRUE), _cmp("eq", c, IS_FALSE), _cmp("eq", c, IS_UNKNOWN),
                        _cmp("eq", c, IS_FAILED))

    # ------------------------------------------------------------ conditions

    def condition(self, e: n.Expr, plan: _RulePlan, inline: int) -> tuple[_Cats, dict[int, Formula], dict[int, Formula]]:
        """The categories of ``e`` and, per atom, when it contributes the condition's needs (N) or its failure (R).

        This mirrors the three-valued ``and``/``or``/``not`` of the interpreter exactly. A chain
        of the same operator (however the parser nested it) is one n-ary gate: ``and`` is false as
        soon as one operand is false; otherwise the leftmost failure wins over unknown; unknown needs
        are the union of the unknown operands' needs; ``or`` likewise with true. Gates nested
        deeper than ``inline`` levels are computed by the interpreter and posted as a truth value.
        """
        if isinstance(e, n.Unary) and e.op == "not":
            c, nn, rr = self.condition(e.operand, plan, inline)
            return _Cats(c.f, c.t, c.u, c.x), nn, rr
        if isinstance(e, n.Binary) and e.op in ("and", "or") and inline > 0:
            parts = [self.condition(x, plan, inline - 1) for x in _chain(e, e.op)]
            if sum(f != FALSE for _c, nn, rr in parts for f in (*nn.values(), *rr.values())) >= MAX_MATCHES:
                raise _TooBig  # a rule per atom for needs and failures alone would be too many
            kids = [c for c, _, _ in parts]
            # `decides`: the operand value that settles the gate (false for and, true for or)
            decides = [c.f if e.op == "and" else c.t for c in kids]
            undecided = all_of(*(neg(d) for d in decides))
            gate = _Cats(all_of(*(c.t for c in kids)) if e.op == "and" else any_of(*decides),
                         any_of(*decides) if e.op == "and" else all_of(*(c.f for c in kids)),
                         all_of(undecided, *(neg(c.x) for c in kids), any_of(*(c.u for c in kids))),
                         all_of(undecided, any_of(*(c.x for c in kids))))
            needs: dict[int, Formula] = {}
            fails: dict[int, Formula] = {}
            for i, (_c, nn, rr) in enumerate(parts):
                others_open = all_of(*(all_of(neg(decides[j]), neg(kids[j].x)) for j in range(len(kids)) if j != i))
                needs.update({a: all_of(f, others_open) for a, f in nn.items()})
                none_before = all_of(undecided, *(neg(kids[j].x) for j in range(i)))
                fails.update({a: all_of(f, none_before) for a, f in rr.items()})
            return gate, needs, fails
        index = len(plan.atoms)
        found = self.operand_atom(e)
        if found is not None:
            operand, cats = found
            plan.atoms.append(_AtomUse(("operand", operand.index)))
        else:
            j, cats = self.computed_atom(e)
            plan.atoms.append(_AtomUse(("computed", j)))
        return cats, {index: cats.u}, {index: cats.x}

    def rule(self, r: CheckedRule, key: str) -> _RulePlan:
        """The network rules for one condition: as much of it in the network as fits the patterns.

        All of the condition's gates are put in the network when the patterns that result fit: at
        most MAX_PARTS per answer, and fewer than MAX_MATCHES in all (they could all match one fact).
        Otherwise gates from the deepest level up are computed in Python, down to the whole condition.
        """
        assert r.when is not None
        computed = len(self.computed_atoms)
        for inline in range(_gate_depth(r.when), -1, -1):
            plan = _RulePlan(r.name, key)
            try:
                cats, needs, fails = self.condition(r.when, plan, inline)
                rules = [(f"{key}t", split(cats.t)), (f"{key}f", split(cats.f))]
                rules += [(f"{key}n{i}", split(f)) for i, f in needs.items() if f != FALSE]
                rules += [(f"{key}x{i}", split(f)) for i, f in fails.items() if f != FALSE]
            except _TooBig:
                self.forget(computed)
                continue
            size = sum(len(parts) for _, parts in rules)
            if size > MAX_MATCHES - 1 and inline > 0:
                # all of these could match one fact at once: more than one ruleset takes
                self.forget(computed)
                continue
            plan.contributes = {i: f"{key}n{i}" for i, f in needs.items() if f != FALSE}
            plan.fails = {i: f"{key}x{i}" for i, f in fails.items() if f != FALSE}
            if len(self.groups[-1]) + size > MAX_MATCHES - 1:
                self.groups.append({})
            for name, split_parts in rules:
                self.add_parts(name, split_parts)
            return plan
        raise AssertionError("a condition computed whole in Python always fits")  # pragma: no cover

    def forget(self, computed: int) -> None:
        """Drop the computed atoms of a try that did not fit; earlier rules keep theirs."""
        del self.computed_atoms[computed:]
        for k in [k for k, j in self.computed.items() if j >= computed]:
            del self.computed[k]

    def add_parts(self, name: str, parts: list[Formula]) -> None:
        for m, part in enumerate(parts):
            if part != FALSE:
                self.groups[-1][f"{name}~{m}"] = {"all": [{"m": to_durable(part)}]}

    def finish(self) -> list[dict[str, dict[str, Any]]]:
        """The rulesets of the stratum, each with the catch-all rule that matches every fact."""
        seen = {"all": [{"m": to_durable(TRUE)}]}
        return [{**group, "seen~0": seen} for group in self.groups]


def _chain(e: n.Expr, op: str) -> list[n.Expr]:
    """The operands of a chain of ``op`` from left to right, however it is nested."""
    out: list[n.Expr] = []
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, n.Binary) and x.op == op:
            stack.append(x.right)
            stack.append(x.left)
        else:
            out.append(x)
    return out


def _gate_depth(e: n.Expr) -> int:
    """How many and/or gates (chains counted once) are nested in a condition, at most."""
    if isinstance(e, n.Unary) and e.op == "not":
        return _gate_depth(e.operand)
    if isinstance(e, n.Binary) and e.op in ("and", "or"):
        return 1 + max(_gate_depth(x) for x in _chain(e, e.op))
    return 0


def _atoms(e: n.Expr) -> Iterator[n.Expr]:
    if isinstance(e, n.Unary) and e.op == "not":
        yield from _atoms(e.operand)
    elif isinstance(e, n.Binary) and e.op in ("and", "or"):
        yield from _atoms(e.left)
        yield from _atoms(e.right)
    else:
        yield e


def _subexpressions(e: n.Expr) -> Iterator[n.Expr]:
    yield e
    for child in _children(e):
        yield from _subexpressions(child)


def _children(e: n.Expr) -> tuple[n.Expr, ...]:
    return n.children(e)


# ---------------------------------------------------------------- the network of one stratum

_RULESETS = itertools.count()


#: the most rules of one durable-rules ruleset that can match one fact: the core refuses a fact that
#: matches more (error 303); the rules of a stratum are spread over as many rulesets as needed
MAX_MATCHES = 64


class _Network:
    """The durable-rules rulesets of one stratum, driven synchronously through the C core (no host threads).

    Each ruleset has a catch-all rule ``seen`` and at most MAX_MATCHES - 1 others.
    """

    def __init__(self, name: str, rules: dict[str, dict[str, Any]] | list[dict[str, dict[str, Any]]]) -> None:
        self.core = _core()
        groups = rules if isinstance(rules, list) else [rules]
        self.definition: dict[str, dict[str, Any]] = {k: v for g in groups for k, v in g.items()}
        self.handles: list[Any] = []
        for k, group in enumerate(groups):
            try:
                self.handles.append(self.core.create_ruleset(f"{name}_{k}", json.dumps(group)))
            except Exception as e:  # the core reports bad rulesets as its own error type
                self.close()
                raise EngineUnavailable(f"durable-rules refused the compiled ruleset `{name}_{k}`: {e}") from None

    def fire(self, fact: dict[str, Any]) -> set[str]:
        """Assert the fact in every ruleset, collect every rule it matches, and retract it again."""
        text = json.dumps(fact)
        fired: set[str] = set()
        for handle in self.handles:
            fired |= self._fire(handle, text)
        return fired

    def _fire(self, handle: Any, text: str) -> set[str]:
        core = self.core
        try:
            code, state = core.assert_fact(handle, text)
        except Exception as e:
            raise EngineFault(f"durable-rules could not take the fact: {e}") from None
        if code == 1:  # MessageNotHandled: not even the rule that matches every fact matched
            raise EngineFault("durable-rules did not handle the fact (no rule matched, not even the catch-all)")
        if code == 2:
            raise EngineFault("durable-rules took the fact for one already seen")
        fired: set[str] = set()
        try:
            result = core.start_action_for_state(handle, state)
            while result:
                message = result[1]
                # {"<rule>~<part>": {"m": {...}}}: a rule is matched when one of its parts is
                fired.add(message[2:message.index("~", 2)])
                following = core.complete_and_start_action(handle, state)
                result = (None, following) if following else None
        except Exception as e:
            raise EngineFault(f"durable-rules failed while matching: {e}") from None
        finally:
            try:
                core.retract_fact(handle, text)
            except Exception as e:
                raise EngineFault(f"durable-rules could not retract the fact: {e}") from None
        return fired

    def close(self) -> None:
        handles, self.handles = self.handles, []
        for handle in handles:
            self.core.delete_ruleset(handle)


@dataclass
class _Stratum:
    """The rules of one value with a condition, compiled into one network."""

    value: str
    operands: list[_Operand]
    computed: list[n.Expr]
    plans: list[_RulePlan]
    network: _Network
    codes: Mapping[str, int]
    conditions: dict[str, n.Expr]

    def match(self, ev: Evaluation, counter: Iterator[int]) -> dict[str, Any]:
        """Post this case's fact and read each rule's condition from the network: True, False, Unknown or Fail."""
        fact: dict[str, Any] = {"sid": "0", "one": 1, "n": next(counter)}
        operand_values: list[Any] = []
        for op in self.operands:
            v = Evaluation._ref(ev, op.ref, None)
            operand_values.append(v)
            if isinstance(v, (Unknown, Fail)):
                fact[op.status_field] = UNKNOWN if isinstance(v, Unknown) else FAILED
                fact[op.value_field], fact[op.high_field] = BELOW, ABOVE
            else:
                fact[op.status_field] = KNOWN
                fact[op.value_field] = fact[op.high_field] = op.encode(v, self.codes)
        computed_values: list[Any] = []
        raised: set[int] = set()
        for j, e in enumerate(self.computed):
            try:
                v = Evaluation.ev(ev, e, None)
            except Exception:
                # the interpreter would raise here too unless it never reaches this atom;
                # rules using it are decided by the interpreter below, which settles which one holds
                raised.add(j)
                v = Fail("")
            computed_values.append(v)
            fact[f"c{j}"] = (IS_TRUE if v is True else IS_FALSE if v is False
                             else IS_FAILED if isinstance(v, Fail) else IS_UNKNOWN)
        fired = self.network.fire(fact)
        if "seen" not in fired:
            raise EngineFault(f"the network for `{self.value}` did not see the fact")
        verdicts: dict[str, Any] = {}
        for plan in self.plans:
            if raised and any(a.source[0] == "computed" and a.source[1] in raised for a in plan.atoms):
                verdicts[plan.name] = Evaluation.ev(ev, self.conditions[plan.name], None)
                continue
            verdicts[plan.name] = self.verdict(plan, fired, operand_values, computed_values)
        return verdicts

    def verdict(self, plan: _RulePlan, fired: set[str], operand_values: list[Any],
                computed_values: list[Any]) -> Any:
        def atom_value(i: int) -> Any:
            kind, j = plan.atoms[i].source
            return operand_values[j] if kind == "operand" else computed_values[j]

        is_true = f"{plan.key}t" in fired
        is_false = f"{plan.key}f" in fired
        failing = [i for i, name in plan.fails.items() if name in fired]
        unknown = [i for i, name in plan.contributes.items() if name in fired]
        answers = int(is_true) + int(is_false) + int(bool(failing)) + int(bool(unknown))
        if answers != 1 or len(failing) > 1:
            raise EngineFault(
                f"the network gave an inconsistent answer for rule `{plan.name}` "
                f"(true: {is_true}, false: {is_false}, failing atoms: {failing}, unknown atoms: {unknown})")
        if is_true:
            return True
        if is_false:
            return False
        if failing:
            v = atom_value(failing[0])
            if not isinstance(v, Fail):
                raise EngineFault(f"the network named a failure for rule `{plan.name}` where there is none")
            return v
        needs: set[str] = set()
        for i in unknown:
            v = atom_value(i)
            if not isinstance(v, Unknown):
                raise EngineFault(f"the network named a missing fact for rule `{plan.name}` where there is none")
            needs |= v.needs
        return Unknown(frozenset(needs))


# ---------------------------------------------------------------- the engine


class ReteEngine:
    """A checked rule book compiled into durable-rules networks; built once, evaluates any number of cases.

    ``run`` gives exactly the outcomes of the interpreter. It is serialised by a lock: the
    networks hold the fact of the case being matched. ``run_isolated`` evaluates in a worker
    process, so that a crash or a hang of the C core fails one case and not the whole batch.
    """

    def __init__(self, program: Program) -> None:
        _core()
        self.program = program
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._codes: dict[str, int] = {}
        self._strata: dict[str, _Stratum] = {}
        self._conditions: dict[int, str] = {}  # id of a rule's condition -> the rule
        self._pool: Pool[tuple[dict[str, Any], dt.date], tuple[str, Any]] | None = None
        self.closed = False
        build = next(_RULESETS)
        shared = self._shared_subexpressions()
        for index, name in enumerate(program.order):
            decl = program.values[name]
            stratum = self._compile(decl, f"passendezorg{build}_{index}", shared)
            if stratum is not None:
                self._strata[name] = stratum

    def _shared_subexpressions(self) -> set[int]:
        """Ids of expression nodes that occur inside another expression (a condition must not be one)."""
        seen: set[int] = set()
        p = self.program
        roots: list[n.Expr] = []
        for r in p.rules.values():
            roots.append(r.value)
            if r.when is not None:
                roots.extend(_children(r.when))
        for v in p.values.values():
            roots.extend(e for e in (v.definition, v.default) if e is not None)
        for e in roots:
            seen.update(id(s) for s in _subexpressions(e))
        return seen

    def _compile(self, decl: ValueDecl, name: str, shared: set[int]) -> _Stratum | None:
        rules = [self.program.rules[r] for r in decl.rules if self.program.rules[r].when is not None]
        if decl.definition is not None or not rules:
            return None
        compiler = _Compiler(self.program, self._codes)
        atoms = [a for r in rules if r.when is not None for a in _atoms(r.when)]
        compiler.plan_operands(atoms)
        plans = []
        for k, r in enumerate(rules):
            assert r.when is not None
            if id(r.when) in shared or id(r.when) in self._conditions:
                raise EngineUnavailable(f"the condition of rule `{r.name}` is shared with another expression; "
                                        "the rete engine cannot tell them apart")
            self._conditions[id(r.when)] = r.name
            plans.append(compiler.rule(r, f"r{k}"))
        network = _Network(name, compiler.finish())
        return _Stratum(decl.name, list(compiler.operands.values()), compiler.computed_atoms, plans, network, self._codes,
                        {r.name: r.when for r in rules if r.when is not None})

    # ------------------------------------------------------------ evaluation

    def run(self, inputs: Mapping[str, Any], day: dt.date) -> dict[str, Outcome]:
        """Every value of the rule book on one case: equal to ``engine.Evaluation(program, inputs, day).run()``."""
        with self._lock:
            self._check_open()
            return _ReteEvaluation(self, inputs, day).run()

    def _check_open(self) -> None:
        if self.closed:
            raise EngineClosed("this ReteEngine has been closed; build a new one (or use rete.evaluate)")

    def run_isolated(self, inputs: Mapping[str, Any], day: dt.date, timeout: float = 30.0) -> dict[str, Outcome]:
        """``run`` in a worker process: a crash or a hang of the C core raises EngineCrash for this case only.

        The worker (one, from the project's worker pool) is started on first use and replaced after
        a crash. Where processes cannot be forked (Windows), this runs in this process.
        """
        if not FORK:
            return self.run(inputs, day)
        with self._lock:
            self._check_open()
            if self._pool is None:
                self._pool = _isolated_pool(self.program)
            pool = self._pool
        try:
            answer = pool.call((dict(inputs), day), timeout=timeout)
        except WorkerStartError as e:
            raise EngineUnavailable(e.reason) from None
        if isinstance(answer, WorkerFailure):
            if answer.kind == "timeout":
                raise EngineCrash(f"the durable-rules core did not answer within {timeout:g} s; the case is "
                                  "reported as failed and the worker restarted")
            if answer.kind == "crash":
                raise EngineCrash(f"the durable-rules core crashed on this case ({answer.detail}); "
                                  "the case is reported as failed and the worker restarted")
            raise EngineFault(answer.detail)
        kind, payload = answer
        if kind == "ok":
            result: dict[str, Outcome] = payload
            return result
        raise EngineFault(payload)

    @property
    def worker_pid(self) -> int | None:
        """The process id of the isolated worker, while it runs."""
        pids = self._pool.pids() if self._pool is not None else []
        return pids[0] if pids else None

    def run_batch(self, cases: Iterable[tuple[Mapping[str, Any], dt.date]],
                  timeout: float = 30.0) -> Iterator[dict[str, Outcome] | CaseError]:
        """Evaluate cases in order in an isolated worker; a case that fails yields its error and the rest go on."""
        for inputs, day in cases:
            try:
                yield self.run_isolated(inputs, day, timeout)
            except CaseError as e:
                yield e

    def network(self, value: str) -> dict[str, Any] | None:
        """The durable-rules ruleset (JSON form) that matches the rules of ``value``; None if it has none."""
        stratum = self._strata.get(value)
        return stratum.network.definition if stratum is not None else None

    def close(self) -> None:
        """Stop the worker process and free the networks in the C core; the engine cannot run after."""
        with self._lock:
            self.closed = True
            if self._pool is not None:
                self._pool.close()
                self._pool = None
            for s in self._strata.values():
                s.network.close()
            self._strata.clear()

    def __enter__(self) -> ReteEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: engines kept by engine_for, most recently used last; the oldest is closed beyond MAX_ENGINES
_ENGINES: OrderedDict[int, ReteEngine] = OrderedDict()
_ENGINES_LOCK = threading.Lock()
MAX_ENGINES = 8


def engine_for(program: Program) -> ReteEngine:
    """The ReteEngine of a checked rule book, built on first use and kept for the next call.

    The engines of the last MAX_ENGINES rule books are kept; an older one is closed (and built
    again if it is asked for again). Raises EngineUnavailable (a PassendeZorgError, exit code 2)
    when the rete engine cannot run here.
    """
    key = id(program)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is not None and engine.program is program:
            _ENGINES.move_to_end(key)
            return engine
        engine = _ENGINES[key] = ReteEngine(program)
        _ENGINES.move_to_end(key)
        while len(_ENGINES) > MAX_ENGINES:
            _old_key, old = _ENGINES.popitem(last=False)
            old.close()
        return engine


def evaluate(program: Program, inputs: Mapping[str, Any], day: dt.date, *, isolated: bool = True,
             timeout: float = 30.0) -> dict[str, Outcome]:
    """Every value of the rule book on one case with the rete engine: the same mapping as
    ``engine.Evaluation(program, inputs, day).run()`` gives.

    ``inputs`` are the typed inputs and ``day`` the date the case is read on, as ``RuleBook.prepare``
    returns them. With ``isolated`` (the default) the case runs in a worker process, so that a crash
    or hang of the durable-rules core raises EngineCrash for this case and the caller goes on with
    the next; a wrong answer from the network raises EngineFault. Both are CaseErrors. Raises
    EngineUnavailable when the rete engine cannot run here.
    """
    for _attempt in range(3):
        engine = engine_for(program)
        try:
            return engine.run_isolated(inputs, day, timeout) if isolated else engine.run(inputs, day)
        except EngineClosed:
            continue  # closed by engine_for in another thread between the two calls: get a new one
    raise EngineFault("the rete engine of this rule book was closed three times while evaluating; "
                      "too many rule books are evaluated at once for rete.MAX_ENGINES")


def outcomes_rete(program: Program, inputs: Mapping[str, Any], day: dt.date) -> dict[str, Outcome]:
    """One case on a rule book with the rete engine (builds the networks; keep a ReteEngine for many cases)."""
    with ReteEngine(program) as engine:
        return engine.run(inputs, day)


class _ReteEvaluation(Evaluation):
    """The interpreter's resolution with conditions read from the network.

    ``Evaluation._decide`` asks for a rule's condition through ``self.ev(rule.when, facts)``;
    here that answer comes from the network's verdict for the stratum. Everything else
    (validity, exceptions, conflicts, defaults, needs, the values rules assign) is the
    native engine's own code.
    """

    def __init__(self, engine: ReteEngine, inputs: Mapping[str, Any], day: dt.date) -> None:
        super().__init__(engine.program, inputs, day)
        self.engine = engine
        self.verdicts: dict[str, Any] = {}
        self.matched: set[str] = set()

    def outcome(self, name: str) -> Outcome:
        if name not in self.results and name not in self.matched:
            stratum = self.engine._strata.get(name)
            if stratum is not None:
                self.matched.add(name)
                self.verdicts.update(stratum.match(self, self.engine._counter))
        return super().outcome(name)

    def ev(self, e: n.Expr, facts: dict[str, Any] | None = None) -> Any:
        rule = self.engine._conditions.get(id(e))
        if rule is not None:
            return self.verdicts[rule]
        return super().ev(e, facts)

    def _decide(self, decl: ValueDecl) -> Outcome:
        outcome = super()._decide(decl)
        if outcome.status == "value" and outcome.rule is not None:
            when = self.p.rules[outcome.rule].when
            if when is not None:
                # the explanation: the facts the deciding rule's condition used, then those of its value
                facts: dict[str, Any] = {}
                Evaluation.ev(self, when, facts)
                facts.update(outcome.facts)
                outcome.facts = facts
        return outcome


# ---------------------------------------------------------------- isolation


def _isolated_pool(program: Program) -> Pool[tuple[dict[str, Any], dt.date], tuple[str, Any]]:
    """One worker process with its own ReteEngine, evaluating cases one at a time."""
    own: list[ReteEngine] = []

    def start() -> None:  # in the worker: EngineUnavailable here is reported when the first case is sent
        own.append(ReteEngine(program))

    def serve(task: tuple[dict[str, Any], dt.date]) -> tuple[str, Any]:
        inputs, day = task
        try:
            return "ok", own[0].run(inputs, day)
        except CaseError as e:
            return "error", e.message
        except Exception as e:  # a fault in evaluation fails this case only; the worker goes on
            return "error", f"{type(e).__name__}: {e}"

    return Pool(serve, 1, init=start, name="the rete worker")
