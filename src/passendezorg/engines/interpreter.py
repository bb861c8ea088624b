"""The reference interpreter: the semantics of LANGUAGE.md, recorded as a trace.

It is the ground truth the other engines are tested against. It evaluates
every value of the rule book on one case and one date and records, for each,
how it was decided: the deciding rule, the facts its condition used, the rules
it overrode, the inputs it still needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from .. import nodes as n
from ..program import CheckedRule, Program, SourceInfo, Table, ValueDecl, instance, split_instance
from ..values import Fail, Unknown, store
from .semantics import (
    ANY,
    CONFLICT,
    CONFLICT_REASON,
    NONE,
    Outcome,
    Possible,
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
    to_decimal,
)

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
        self._sources: dict[str, tuple[SourceInfo, ...]] = {}  # fact -> its sources, as facts are recorded
        self.at: dict[str, int] = {}  # group -> the record the expression being evaluated is about

    # ---------------------------------------------------------------- values

    def outcome(self, name: str) -> Outcome:
        found = self.results.get(name)
        if found is not None:
            return found
        decl = self.p.values.get(name)
        at = self.at
        if decl is None:  # a value per record, for one record: `household.persons[1].age`
            parts = split_instance(name)
            assert parts is not None, name
            group, index, value = parts
            decl = self.p.values[value]
            self.at = {group: index}
        saved = self._used
        self._used = None
        try:
            result = self._decide(decl)
        finally:
            self._used = saved
            self.at = at
        if self._sources:
            result.sources = {k: self._sources[k] for k in result.facts if k in self._sources}
        self.results[name] = result
        return result

    def run(self) -> dict[str, Outcome]:
        for name in self.p.order:
            group = self.p.values[name].group
            if group is None:
                self.outcome(name)
            else:
                for i in range(self.p.records(self.inputs, group) or 0):
                    self.outcome(instance(group, i, name))
        return self.results

    def _decide(self, decl: ValueDecl) -> Outcome:
        kind = decl.type.kind
        output = decl.is_output
        item = decl.type.item.kind if decl.type.item is not None else None
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
                value_cache[r.name] = store(self.ev(r.value, f), kind, output, item)
            return value_cache[r.name]

        def own(r: CheckedRule) -> Possible:
            return possible_of(value(r), needs)

        def possible(name: str) -> Possibles:
            r = rules[name]
            kids: Possibles = frozenset([NONE])
            for c in self.p.exceptions.get(name, ()):
                kids = combine_sets(kids, possible(c))
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
            top = combine_sets(top, possible(root))
        default_facts: dict[str, Any] = {}
        default_value: Any = None
        if NONE in top:
            if decl.default is not None:
                default_value = store(self.ev(decl.default, default_facts), kind, output, item)
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
                           reason=CONFLICT_REASON + ", ".join(winners))
        if not winners:
            return Outcome("default", value=default_value, overridden=overridden, facts=default_facts)
        deciding = winners[0]
        facts = facts_of.get(deciding, {})
        return Outcome("value", value=value(rules[deciding]), rule=deciding, concurring=winners[1:],
                       overridden=overridden, facts=facts)

    def _from_value(self, v: Any, kind: str, rule: str | None, facts: dict[str, Any], status: str) -> Outcome:
        v = store(v, kind)  # a number out of range is a Fail
        if isinstance(v, Fail):
            return Outcome("error", reason=v.reason, facts=facts)
        if isinstance(v, Unknown):
            return Outcome("undetermined", needs=sorted(v.needs), reason=needed_reason(v.needs), facts=facts)
        return Outcome(status, value=v, rule=rule, facts=facts)

    # ---------------------------------------------------------------- expressions

    def ev(self, e: n.Expr, facts: dict[str, Any] | None = None) -> Any:
        """Evaluate an expression in three-valued logic; record the facts it used in ``facts``."""
        method = _DISPATCH[type(e)]
        return method(self, e, facts)

    def _literal(self, e: n.Literal, facts: dict[str, Any] | None) -> Any:
        return e.value

    def _ref(self, e: n.Ref, facts: dict[str, Any] | None) -> Any:
        kind = e.kind
        if kind == "input" or kind == "field":
            name = e.name if kind == "input" else instance(e.group or "", self.at[e.group or ""], e.field)
            if name in self.inputs:
                v = self.inputs[name]
                if facts is not None:
                    facts[name] = v
                return v
            if facts is not None:
                facts[name] = None
            return Unknown(frozenset([name]))
        if kind == "value":
            name = e.name if e.group is None else instance(e.group, self.at[e.group], e.name)
            o = self.outcome(name)
            if facts is not None:
                facts[name] = o.value if o.known else None
                cited = self.p.values[e.name].sources
                if cited:
                    self._sources[name] = cited
            return read_outcome(name, o)
        if kind == "param":
            param = self.p.parameters[e.name]
            period = param.period_on(self.day)
            if period is None or period.value is None:
                if facts is not None:
                    facts[e.name] = None
                return no_value_in_force(e.name, self.day)
            if facts is not None:
                facts[e.name] = period.value
                if period.source is not None:
                    self._sources[e.name] = (period.source,)
            return period.value
        raise AssertionError(f"a table cannot be a value: {e.name}")  # pragma: no cover

    def _lookup(self, e: n.Lookup, facts: dict[str, Any] | None) -> Any:
        keys = [self.ev(k, facts) for k in e.keys]
        bad = first_bad(keys)
        if bad is not None:
            return bad
        table = self.p.tables[e.table]
        v = table_cell(table, tuple(keys), e.column, self.day)
        if facts is not None:
            fact = f"{e.table}[{', '.join(str(k) for k in keys)}].{e.column}"
            facts[fact] = None if isinstance(v, Fail) else v
            self._cite(table, tuple(keys), fact)
        return v

    def _cite(self, table: Table, key: tuple[Any, ...], fact: str) -> None:
        """Note the source of the table row a fact was read from."""
        row = table.row_on(key, self.day)
        if row is not None and row.source is not None:
            self._sources[fact] = (row.source,)

    def _list(self, e: n.ListLit, facts: dict[str, Any] | None) -> Any:
        items = [self.ev(i, facts) for i in e.items]
        bad = first_bad(items)
        return bad if bad is not None else items

    def _tuple(self, e: n.TupleLit, facts: dict[str, Any] | None) -> Any:
        items = [self.ev(i, facts) for i in e.items]
        bad = first_bad(items)
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
            return merge(a, b)
        if op == "or":
            a = self.ev(e.left, facts)
            if a is True:
                return True
            b = self.ev(e.right, facts)
            if a is False:
                return b
            if b is True:
                return True
            return merge(a, b)
        if op in ("in", "notin") and isinstance(e.right, n.Ref) and e.right.kind == "table":
            a = self.ev(e.left, facts)
            if isinstance(a, (Unknown, Fail)):
                return a
            key = a if isinstance(a, tuple) else (a,)
            table = self.p.tables[e.right.name]
            found = table.row_on(key, self.day) is not None
            if facts is not None:
                fact = f"{key_text(key)} in {e.right.name}"
                facts[fact] = found
                self._cite(table, key, fact)
            return found if op == "in" else not found
        a = self.ev(e.left, facts)
        b = self.ev(e.right, facts)
        bad = first_bad([a, b])
        if bad is not None:
            return bad
        return apply_binary(op, a, b, e)

    def _conditional(self, e: n.Conditional, facts: dict[str, Any] | None) -> Any:
        c = self.ev(e.condition, facts)
        if c is True:
            v = self.ev(e.then, facts)
        elif c is False:
            v = self.ev(e.otherwise, facts)
        elif isinstance(c, Fail):
            return c
        else:
            v = conditional_unknown(c, self.ev(e.then, facts), self.ev(e.otherwise, facts))
        return to_decimal(v) if e.kind == "decimal" else v

    def _aggregate(self, e: n.Aggregate, facts: dict[str, Any] | None) -> Any:
        """Over the records of the group: the condition and the value per record (the value only where the
        condition is not false), then ``semantics.aggregate``. Written out for a case (``expanded``), the
        records' expressions are given."""
        if e.expanded:
            if e.items is None:
                return self._no_list(e.group, facts)
            items = [self._item(c, v, facts) for c, v in e.items]
        else:
            count = self.p.records(self.inputs, e.group)
            if count is None:
                return self._no_list(e.group, facts)
            items = []
            at = self.at
            try:
                for i in range(count):
                    self.at = {**at, e.group: i}
                    items.append(self._item(e.condition, e.body, facts))
            finally:
                self.at = at
        return aggregate(e.func, items, e.group, e.kind)

    def _item(self, condition: n.Expr | None, body: n.Expr | None, facts: dict[str, Any] | None) -> tuple[Any, Any]:
        c = True if condition is None else self.ev(condition, facts)
        return c, (None if body is None or c is False else self.ev(body, facts))

    def _no_list(self, group: str, facts: dict[str, Any] | None) -> Unknown:
        if facts is not None:
            facts[group] = None
        return Unknown(frozenset([group]))

    def _call(self, e: n.Call, facts: dict[str, Any] | None) -> Any:
        args = [self.ev(a, facts) for a in e.args]
        bad = first_bad(args)
        if bad is not None:
            return bad
        return apply_call(e.func, args, e)


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
    n.Conditional: Evaluation._conditional,
    n.Aggregate: Evaluation._aggregate,
}
