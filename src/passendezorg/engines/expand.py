"""Groups of facts written out for one shape of case, for the engines that compile a rule book ahead.

The interpreter decides a value per record and an aggregate over a group record by record
(``interpreter.py``). The compiled and the rete engines compile a rule book before they see a
case; for them a rule book with groups is written out for the number of records each group of a
case holds (its *shape*): every value per record becomes one value per record
(``household.persons[1].age``), every rule for it one rule per record
(``household.persons[1].adult_from_18``, with its exceptions per record), every field read one
input (``household.persons[1].born``), and every aggregate lists its records' conditions and
values (``Aggregate.expanded``). The written-out rule book is an ordinary checked rule book; its
outcomes are the interpreter's under the names the interpreter uses, once the rules' names are
read back (``restore``). The differential tests hold the two ways equal.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .. import nodes as n
from ..program import CheckedRule, Program, ValueDecl, frozen, instance, split_instance
from .semantics import CONFLICT_REASON, Outcome

Shape = tuple[int | None, ...]
"""The number of records of each group of a case, in the order of ``sorted(program.groups)`` (None: the case
does not give the list)."""


def shape(program: Program, inputs: Mapping[str, Any]) -> Shape:
    return tuple(program.records(inputs, g) for g in sorted(program.groups))


class _Writer:
    def __init__(self, program: Program, counts: Mapping[str, int | None]) -> None:
        self.p = program
        self.counts = counts

    def expr(self, e: n.Expr, at: Mapping[str, int]) -> n.Expr:
        """``e`` about the records ``at`` (group -> index): fields and values per record named by index."""
        if isinstance(e, n.Ref):
            if e.kind == "field":
                assert e.group is not None
                return n.Ref("input", instance(e.group, at[e.group], e.field), e.span)
            if e.kind == "value" and e.group is not None:
                return n.Ref("value", instance(e.group, at[e.group], e.name), e.span)
            return replace(e)  # a node of its own: the rete engine tells conditions apart by their nodes
        if isinstance(e, n.Aggregate):
            count = self.counts.get(e.group)
            items = None if count is None else tuple(
                (None if e.condition is None else self.expr(e.condition, {**at, e.group: i}),
                 None if e.body is None else self.expr(e.body, {**at, e.group: i}))
                for i in range(count))
            return n.Aggregate(e.func, e.record, None, None, e.span, e.group, e.kind, items, True)
        if isinstance(e, (n.Literal, n.Var)):
            return replace(e)
        if isinstance(e, n.Binary):
            return n.Binary(e.op, self.expr(e.left, at), self.expr(e.right, at), e.span)
        if isinstance(e, n.Unary):
            return n.Unary(e.op, self.expr(e.operand, at), e.span)
        if isinstance(e, n.IsKnown):
            return n.IsKnown(self.expr(e.operand, at), e.negated, e.span)
        if isinstance(e, n.Call):
            return n.Call(e.func, tuple(self.expr(a, at) for a in e.args), e.span, e.unit, e.mode)
        if isinstance(e, n.Lookup):
            return n.Lookup(e.table, tuple(self.expr(k, at) for k in e.keys), e.column, e.span)
        if isinstance(e, n.ListLit):
            return n.ListLit(tuple(self.expr(x, at) for x in e.items), e.span)
        if isinstance(e, n.TupleLit):
            return n.TupleLit(tuple(self.expr(x, at) for x in e.items), e.span)
        if isinstance(e, n.Conditional):
            return n.Conditional(self.expr(e.then, at), self.expr(e.condition, at), self.expr(e.otherwise, at),
                                 e.span, e.kind)
        raise AssertionError(f"cannot write out {type(e).__name__}")  # pragma: no cover

    def maybe(self, e: n.Expr | None, at: Mapping[str, int]) -> n.Expr | None:
        return None if e is None else self.expr(e, at)

    def program(self) -> Program:
        p = self.p
        inputs: dict[str, n.InputDecl] = dict(p.inputs)
        for path, g in sorted(p.groups.items()):
            for i in range(self.counts.get(path) or 0):
                for f, t in g.fields.items():
                    name = g.field_input(i, f)
                    inputs[name] = n.InputDecl(name, t, None, g.span)
        values: dict[str, ValueDecl] = {}
        rules: dict[str, CheckedRule] = {}
        exceptions: dict[str, tuple[str, ...]] = {}
        order: list[str] = []
        for name in p.order:
            decl = p.values[name]
            group = decl.group
            if group is None:
                values[name] = replace(decl, definition=self.maybe(decl.definition, {}),
                                       default=self.maybe(decl.default, {}))
                order.append(name)
                for r in decl.rules:
                    rule = p.rules[r]
                    rules[r] = replace(rule, when=self.maybe(rule.when, {}), value=self.expr(rule.value, {}))
                    exceptions[r] = p.exceptions.get(r, ())
                continue
            for i in range(self.counts.get(group) or 0):
                at = {group: i}
                own = instance(group, i, name)
                values[own] = replace(
                    decl, name=own, group=None, definition=self.maybe(decl.definition, at),
                    default=self.maybe(decl.default, at), rules=tuple(instance(group, i, r) for r in decl.rules),
                    roots=tuple(instance(group, i, r) for r in decl.roots))
                order.append(own)
                for r in decl.rules:
                    rule = p.rules[r]
                    rname = instance(group, i, r)
                    rules[rname] = replace(rule, name=rname, target=own, when=self.maybe(rule.when, at),
                                           value=self.expr(rule.value, at),
                                           exception_to=tuple(instance(group, i, x) for x in rule.exception_to))
                    exceptions[rname] = tuple(instance(group, i, x) for x in p.exceptions.get(r, ()))
        outputs = tuple(o for o in order if values[o].is_output)
        suffix = ",".join("-" if c is None else str(c) for c in shape_of(p, self.counts))
        return replace(p, inputs=frozen(inputs), values=frozen(values), order=tuple(order), outputs=outputs,
                       rules=frozen(rules), exceptions=frozen(exceptions), groups=frozen({}),
                       content_hash=f"{p.content_hash}#records={suffix}")


def shape_of(program: Program, counts: Mapping[str, int | None]) -> Shape:
    return tuple(counts.get(g) for g in sorted(program.groups))


_WRITTEN: OrderedDict[tuple[int, Shape], tuple[Program, Program]] = OrderedDict()
_LOCK = threading.Lock()
MAX_SHAPES = 64
"""How many written-out rule books are kept (rule book and shape); the oldest is dropped beyond."""


def written_out(program: Program, inputs: Mapping[str, Any]) -> Program:
    """The rule book written out for the shape of a case's typed inputs; built once per shape and kept."""
    s = shape(program, inputs)
    key = (id(program), s)
    with _LOCK:
        kept = _WRITTEN.get(key)
        if kept is not None and kept[0] is program:
            _WRITTEN.move_to_end(key)
            return kept[1]
    counts = dict(zip(sorted(program.groups), s))
    done = _Writer(program, counts).program()
    with _LOCK:
        _WRITTEN[key] = (program, done)
        while len(_WRITTEN) > MAX_SHAPES:
            _WRITTEN.popitem(last=False)
    return done


def original_rule(name: str) -> str:
    """The rule of the rule book a written-out rule stands for (``household.persons[1].r`` -> ``r``)."""
    parts = split_instance(name)
    return parts[2] if parts is not None else name


def restore(outcomes: Mapping[str, Outcome]) -> dict[str, Outcome]:
    """Outcomes of a written-out rule book under the interpreter's names: each rule named as the rule book names
    it (the record is in the value's name)."""
    out: dict[str, Outcome] = {}
    for name, o in outcomes.items():
        if o.rule is not None and "[" in o.rule or o.concurring or o.overridden or o.conflict:
            conflict = [(original_rule(r), v) for r, v in o.conflict]
            reason = o.reason
            if conflict and reason is not None and reason.startswith(CONFLICT_REASON):
                reason = CONFLICT_REASON + ", ".join(r for r, _ in conflict)
            o = replace(o, rule=None if o.rule is None else original_rule(o.rule),
                        concurring=[original_rule(r) for r in o.concurring],
                        overridden=[(original_rule(r), original_rule(b)) for r, b in o.overridden],
                        conflict=conflict, reason=reason)
        out[name] = o
    return out
