"""Explained decisions from compiled records: the JSON written directly, the pydantic models built when touched.

The compiled engine (``engines/compiled.py``, ``Explainer``) gives, per case, a record of every value
with what the interpreter's outcome holds. ``DecisionWriter`` writes the decision JSON from those
records, byte for byte what ``Decision.to_json`` gives for the interpreter's decision (the differential
tests hold them equal); ``CompiledDecision`` is a ``Decision`` whose outputs and derived values become
pydantic models only when they are read. Building forty ``OutputDecision`` models costs more than
deciding the case, and a batch that stores the JSON never needs them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any, Protocol

from pydantic import PrivateAttr

from .engines.compiled import Explainer, Record, outcome_of
from .engines.interpreter import Evaluation
from .engines.semantics import Outcome
from .model import DECISION_FORMAT, Decision, RuleRef, Source, Status
from .program import Program, Scenario, SourceInfo
from .values import to_json, typed_json


class RuleBook(Protocol):
    """What a decision needs of its rule book (``rulebook.RuleBook``)."""

    @property
    def program(self) -> Program: ...

    @property
    def content_hash(self) -> str: ...

    @property
    def scenario(self) -> Scenario | None: ...

    def rule_ref(self, name: str) -> RuleRef: ...

    def decision(self, results: Mapping[str, Outcome], day: dt.date, case: str | None,
                 inputs: Mapping[str, Any] | None = None) -> Decision: ...


def json_of(value: Any) -> str:
    """A value in its JSON form (what ``to_json`` gives: text, integers, booleans, None, lists) as compact JSON
    text, as pydantic writes it."""
    t = type(value)
    if t is str:
        return encode_basestring(value)
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if t is list:
        return "[" + ",".join(map(json_of, value)) + "]"
    return json_of(to_json(value))


def _decimal_json(value: Decimal) -> str:
    return '"' + format(value, "f") + '"'  # digits, a sign, a point: nothing to escape


_DATES: dict[dt.date, str] = {}


def _date_json(value: dt.date) -> str:
    found = _DATES.get(value)
    if found is None:
        if len(_DATES) > 100_000:
            _DATES.clear()
        found = _DATES[value] = '"' + value.isoformat() + '"'
    return found


def _bool_json(value: bool) -> str:
    return "true" if value else "false"


def _null_json(value: None) -> str:
    return "null"


_ENCODERS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring, bool: _bool_json, int: int.__repr__, type(None): _null_json, Decimal: _decimal_json,
    dt.date: _date_json,
}


def _value_json(value: Any) -> str:
    """A Python value of a declared type (Decimal, date, ...) as the decision JSON writes it."""
    encode = _ENCODERS.get(type(value))
    return encode(value) if encode is not None else json_of(to_json(value))


class DecisionWriter:
    """The decision JSON of one rule book (law in force) from compiled records: the fixed parts written once."""

    def __init__(self, book: RuleBook, names: Sequence[str]) -> None:
        program = book.program
        values = program.values
        self.index = index = {name: k for k, name in enumerate(names)}
        self.rule = {r: book.rule_ref(r).model_dump_json() for r in program.rules}
        self.heads = [encode_basestring(name) + ':{"status":"' for name in names]
        self.types = [',"type":' + encode_basestring(str(values[name].type)) + ',"rule":' for name in names]
        # the fixed text of a value before its value (per status) and between its value and its facts (per rule)
        statuses = ("value", "default", "undetermined", "conflict", "error")
        self.before = [{st: head + st + '","value":' for st in statuses} for head in self.heads]
        self.after: list[dict[str | None, str]] = [{} for _ in names]  # filled as rules decide
        # a value whose JSON form depends on its type (amounts with at least their cents), and the same of facts
        self.typed: list[tuple[str, str | None] | None] = []
        self.money: dict[str, tuple[str, str | None]] = {}
        for name in names:
            t = values[name].type
            item = t.item.kind if t.item is not None else None
            moneyish = t.kind == "money" or (t.kind == "list" and item == "money")
            self.typed.append((t.kind, item) if moneyish else None)
            if moneyish:
                self.money[name] = (t.kind, item)
        self._sources: dict[SourceInfo, str] = {}
        self.declared = ["[" + ",".join(self.source(x) for x in values[name].sources) + "]" for name in names]
        self.plain_tail = ['},"overridden":[],"conflict":[],"needs":[],"reason":null,"sources":' + d
                           + ',"fact_sources":{' for d in self.declared]
        self.outputs = [index[o] for o in program.outputs]
        self.output_names = frozenset(program.outputs)
        self.derived = [index[v] for v in sorted(v for v in names if not values[v].is_output)]
        self.start = '{"format":"' + DECISION_FORMAT + '","case":'
        self.hash = ',"rulebook":' + encode_basestring(book.content_hash) + ',"peildatum":"'

    def one(self, k: int, rec: Record) -> str:
        """The JSON of one value's OutputDecision."""
        status, value, rule, concurring, facts, overridden, conflict, needs, reason, sources = rec
        enc = encode_basestring
        encoders = _ENCODERS
        typed = self.typed[k]
        if typed is not None and value is not None:
            vj = json_of(typed_json(value, *typed))
        else:
            encode = encoders.get(type(value))
            vj = encode(value) if encode is not None else json_of(to_json(value))
        if not facts:
            fj = ""
        else:
            money = self.money
            fj = ",".join([enc(f) + ":" + (json_of(typed_json(v, *money[f])) if f in money and v is not None
                                           else e(v) if (e := encoders.get(type(v))) is not None
                                           else json_of(to_json(v)))
                           for f, v in sorted(facts.items())])
        sj = self.cites(sources) if sources else ""
        if not (concurring or overridden or conflict or needs) and reason is None:
            after = self.after[k].get(rule)
            if after is None:
                after = self.after[k][rule] = (self.types[k] + (self.rule[rule] if rule is not None else "null")
                                               + ',"concurring":[],"facts":{')
            return self.before[k][status] + vj + after + fj + self.plain_tail[k] + sj + "}}"
        rules = self.rule
        rj = rules[rule] if rule is not None else "null"
        cj = ",".join(map(enc, concurring))
        oj = ",".join(['{"rule":' + rules[r] + ',"by":' + enc(by) + "}" for r, by in overridden])
        xj = ",".join(['{"rule":' + rules[r] + ',"value":' + (json_of(typed_json(v, *typed)) if typed is not None
                                                               and v is not None else _value_json(v)) + "}"
                       for r, v in conflict])
        nj = ",".join(map(enc, needs))
        why = "null" if reason is None else enc(reason)
        return (f'{self.heads[k]}{status}","value":{vj}{self.types[k]}{rj},"concurring":[{cj}],"facts":{{{fj}}},'
                f'"overridden":[{oj}],"conflict":[{xj}],"needs":[{nj}],"reason":{why},"sources":'
                f'{self.declared[k]},"fact_sources":{{{sj}}}}}')

    def cites(self, sources: Mapping[str, tuple[SourceInfo, ...]]) -> str:
        """The ``fact_sources`` of a value, without the braces."""
        source = self.source
        return ",".join([encode_basestring(f) + ":[" + ",".join([source(x) for x in sources[f]]) + "]"
                         for f in sorted(sources)])

    def source(self, s: SourceInfo) -> str:
        """A source's JSON, as the decision's ``Source`` model writes it."""
        found = self._sources.get(s)
        if found is None:
            found = self._sources[s] = _source(s).model_dump_json()
        return found

    def to_json(self, case: str | None, day: dt.date, records: Sequence[Record]) -> str:
        """The canonical JSON text of the decision, as ``Decision.to_json`` writes it."""
        one = self.one
        return "".join((
            self.start, "null" if case is None else encode_basestring(case), self.hash, day.isoformat(),
            '","outputs":{', ",".join([one(k, records[k]) for k in self.outputs]),
            '},"derived":{', ",".join([one(k, records[k]) for k in self.derived]), "}}"))


def _source(s: SourceInfo) -> Source:
    """A cited source as the decision's model (as ``RuleBook.output_decision`` makes it)."""
    return Source(id=s.id, title=s.title, detail=s.detail, url=s.url)


class _Lazy:
    """What a CompiledDecision is made of until its models are built."""

    __slots__ = ("book", "writer", "names", "records", "inputs", "json")

    def __init__(self, book: RuleBook, writer: DecisionWriter, names: Sequence[str], records: list[Record],
                 inputs: Mapping[str, Any]) -> None:
        self.book = book
        self.writer = writer
        self.names = names
        self.records = records
        self.inputs = inputs
        self.json: str | None = None


_FIELDS_SET = frozenset({"case", "rulebook", "peildatum", "outputs", "derived"})


class CompiledDecision(Decision):
    """A Decision made by compiled code: its JSON is written from the compiled records, and its ``outputs``
    and ``derived`` models are built from them the first time they are read. In every other respect it is
    the Decision the interpreter gives (equal to it, the same JSON)."""

    _lazy: Any = PrivateAttr(default=None)

    @classmethod
    def of(cls, book: RuleBook, writer: DecisionWriter, names: Sequence[str], records: list[Record],
           case: str | None, day: dt.date, inputs: Mapping[str, Any]) -> CompiledDecision:
        self = cls.__new__(cls)
        object.__setattr__(self, "__dict__", {"format": DECISION_FORMAT, "case": case, "rulebook": book.content_hash,
                                              "peildatum": day})
        object.__setattr__(self, "__pydantic_fields_set__", set(_FIELDS_SET))
        object.__setattr__(self, "__pydantic_extra__", None)
        object.__setattr__(self, "__pydantic_private__", {"_lazy": _Lazy(book, writer, names, records, inputs)})
        return self

    def _build(self) -> None:
        """Build the models: the decision the rule book makes of these outcomes, as for the interpreter's."""
        lazy = self.__pydantic_private__["_lazy"]  # type: ignore[index]
        if "outputs" in self.__dict__:
            return
        results = {name: outcome_of(rec) for name, rec in zip(lazy.names, lazy.records)}
        full = lazy.book.decision(results, self.peildatum, self.case, lazy.inputs)
        self.__dict__["outputs"] = full.outputs
        self.__dict__["derived"] = full.derived
        self.__dict__["scenario"] = full.scenario

    def __getattr__(self, name: str) -> Any:
        if name in ("outputs", "derived", "scenario"):
            self._build()
            return self.__dict__[name]
        return super().__getattr__(name)  # type: ignore[misc]

    def to_json(self) -> str:
        lazy = self.__pydantic_private__["_lazy"]  # type: ignore[index]
        if lazy.json is None:
            lazy.json = lazy.writer.to_json(self.case, self.peildatum, lazy.records)
        return lazy.json  # type: ignore[no-any-return]

    def value(self, output: str) -> Any:
        if "outputs" in self.__dict__:
            return super().value(output)
        self._output(output)
        return self.record(output)[1]

    def status(self, output: str) -> Status:
        if "outputs" in self.__dict__:
            return super().status(output)
        self._output(output)
        return self.record(output)[0]  # type: ignore[return-value]

    def _output(self, name: str) -> None:
        """KeyError, as ``outputs[name]`` gives it, for a name that is not an output."""
        if name not in self.__pydantic_private__["_lazy"].writer.output_names:  # type: ignore[index]
            raise KeyError(name)

    def record(self, name: str) -> Record:
        """How an output or derived value was decided, as the compiled record: (status, value, rule, ...)."""
        lazy = self.__pydantic_private__["_lazy"]  # type: ignore[index]
        return lazy.records[lazy.writer.index[name]]  # type: ignore[no-any-return]

    # everything pydantic does with the fields: the models first
    def model_dump(self, **kw: Any) -> dict[str, Any]:
        self._build()
        return super().model_dump(**kw)

    def model_dump_json(self, **kw: Any) -> str:
        self._build()
        return super().model_dump_json(**kw)

    def model_copy(self, **kw: Any) -> Any:
        self._build()
        if kw.get("deep"):
            return _plain_decision({f: getattr(self, f) for f in Decision.model_fields}).model_copy(**kw)
        return super().model_copy(**kw)

    def __eq__(self, other: object) -> bool:
        self._build()
        if isinstance(other, CompiledDecision):
            other._build()
        return isinstance(other, Decision) and all(
            getattr(self, f) == getattr(other, f) for f in Decision.model_fields)

    def __hash__(self) -> int:
        self._build()
        return hash(tuple(getattr(self, f) for f in ("format", "case", "rulebook", "peildatum")))

    def __iter__(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        self._build()
        return super().__iter__()

    def __repr_args__(self) -> Any:
        self._build()
        return super().__repr_args__()

    def __copy__(self) -> Any:
        self._build()
        return super().__copy__()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Any:
        """A deep copy is the Decision it stands for (its rule book is not copied)."""
        self._build()
        return _plain_decision({f: getattr(self, f) for f in Decision.model_fields}).__deepcopy__(memo)

    def __getstate__(self) -> dict[Any, Any]:
        self._build()
        return super().__getstate__()

    def __reduce__(self) -> Any:
        """Pickled as the Decision it stands for (its rule book does not travel)."""
        self._build()
        return (_plain_decision, ({f: getattr(self, f) for f in Decision.model_fields},))


def _plain_decision(fields: dict[str, Any]) -> Decision:
    return Decision.model_construct(**fields)


class CompiledDecisions:
    """The explained decisions of one rule book from compiled code: records, their JSON, the lazy Decision."""

    def __init__(self, book: RuleBook, explainer: Explainer | None) -> None:
        self.book = book
        self.explainer = explainer
        self.names = tuple(book.program.order)
        self.writer = DecisionWriter(book, self.names)

    def decision(self, inputs: Mapping[str, Any], day: dt.date, case: str | None) -> Decision:
        if self.explainer is None:  # groups of facts: the interpreter explains
            return self.book.decision(Evaluation(self.book.program, inputs, day).run(), day, case, inputs)
        records = self.explainer.records(inputs, day)
        if self.book.scenario is not None:  # the marks of the scenario's changes: the decision of the outcomes
            results = {name: outcome_of(rec) for name, rec in zip(self.names, records)}
            return self.book.decision(results, day, case, inputs)
        return CompiledDecision.of(self.book, self.writer, self.names, records, case, day, inputs)
