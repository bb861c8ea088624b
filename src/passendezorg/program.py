"""The checked rule book: what the checker hands to the engines. Immutable once built."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from . import nodes as n
from .source import Span


@dataclass(frozen=True)
class SourceInfo:
    """A citation resolved against the ruleset's source list."""

    id: str | None
    title: str
    detail: str | None
    url: str | None
    proposal: bool = False  # the source is a proposal (a programme, a discussion note, a plan), not law

    def as_text(self) -> str:
        text = self.title
        if self.detail:
            text += f", {self.detail}"
        return text


@dataclass(frozen=True)
class CheckedRule:
    name: str
    title: str | None
    sources: tuple[SourceInfo, ...]
    valid_from: dt.date | None
    valid_until: dt.date | None
    exception_to: tuple[str, ...]
    target: str
    when: n.Expr | None
    value: n.Expr
    because: str | None
    ruleset: str | None
    span: Span
    order: int  # position in the rule book, for a stable order everywhere

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


@dataclass(frozen=True)
class ValueDecl:
    """A derived value or an output."""

    name: str
    type: n.TypeRef
    description: str | None
    is_output: bool
    definition: n.Expr | None
    default: n.Expr | None
    rules: tuple[str, ...]  # rules that assign it, in rule book order
    roots: tuple[str, ...]  # of those, the ones that are no exception to another
    span: Span
    sources: tuple[SourceInfo, ...] = ()  # what the definition cites: shown wherever the value is used
    group: str | None = None  # a value per record: the path of its group (``household.persons``)


@dataclass(frozen=True)
class Group:
    """A group of facts: a list of records at ``path`` in a case, one record named ``record`` in the rules."""

    record: str
    path: str
    description: str | None
    fields: Mapping[str, n.TypeRef]
    span: Span

    def field_input(self, index: int, field: str) -> str:
        """How a field of one record is named in the typed inputs, in needed inputs and in errors:
        ``household.persons[1].income`` (records counted from 0)."""
        return f"{self.path}[{index}].{field}"


def instance(group: str, index: int, name: str) -> str:
    """The name of a value per record for one record: ``household.persons[1].age``."""
    return f"{group}[{index}].{name}"


def split_instance(name: str) -> tuple[str, int, str] | None:
    """``household.persons[1].age`` -> (``household.persons``, 1, ``age``); None for a name of no record."""
    head, sep, value = name.rpartition("].")
    if not sep:
        return None
    group, _, index = head.rpartition("[")
    return (group, int(index), value) if index.isdigit() else None


@dataclass(frozen=True)
class ParamPeriod:
    start: dt.date
    end: dt.date | None
    value: Any  # None: no value is known for this period
    source: SourceInfo | None


@dataclass(frozen=True)
class Parameter:
    name: str
    type: n.TypeRef
    description: str | None
    periods: tuple[ParamPeriod, ...]  # sorted by start
    span: Span

    def period_on(self, day: dt.date) -> ParamPeriod | None:
        for p in self.periods:
            if p.start <= day and (p.end is None or day <= p.end):
                return p
        return None


@dataclass(frozen=True)
class TableRow:
    values: Mapping[str, Any]  # column -> value (None for an empty cell)
    valid_from: dt.date | None
    valid_until: dt.date | None
    line: int
    scenario: bool = False  # the row comes from a scenario's table file (added, or replacing the rule book's)
    source: SourceInfo | None = None  # the table's source, with the row's own detail from the source column

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


@dataclass(frozen=True)
class Table:
    name: str
    description: str | None
    file: str
    keys: tuple[str, ...]
    columns: Mapping[str, n.TypeRef]
    rows: Mapping[tuple[Any, ...], tuple[TableRow, ...]]
    dated: bool
    span: Span
    source: SourceInfo | None = None  # the source of every row (``source`` in the declaration)
    source_column: str | None = None  # the column that gives each row's own source

    def row_on(self, key: tuple[Any, ...], day: dt.date) -> TableRow | None:
        for row in self.rows.get(key, ()):
            if row.valid_on(day):
                return row
        return None


@dataclass(frozen=True)
class ScenarioChange:
    """One change a scenario makes to the rule book in force: what, from when, on which sources, where written.

    ``kind``: ``parameter`` (new dated values), ``replace`` or ``add`` (a table), ``switch_off`` (a rule), or
    ``rule`` (a rule the scenario adds; ``exception_to`` names the rules in force it overrides).
    """

    kind: str
    name: str
    start: dt.date | None
    sources: tuple[SourceInfo, ...]
    span: Span
    file: str | None = None  # a table change's file, relative to the scenario folder
    exception_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class SwitchedOff:
    """A rule in force that a scenario switches off: from ``start`` (None: entirely), and its own validity."""

    start: dt.date | None
    valid_from: dt.date | None
    valid_until: dt.date | None

    def would_be_in_force(self, day: dt.date) -> bool:
        """In force on ``day`` under the rule book in force, but switched off by the scenario."""
        in_force = (self.valid_from is None or self.valid_from <= day) and \
            (self.valid_until is None or day <= self.valid_until)
        return in_force and (self.start is None or day >= self.start)


@dataclass(frozen=True)
class Scenario:
    """A scenario a rule book is checked and evaluated under: a named, sourced overlay on the rule book in force.

    The changes it makes are recorded here so that a decision can say which outputs a change decided:
    the rules it adds, the rules it switches off, the periods in which it sets a parameter's value, and the
    tables it replaces or adds rows to (the rows themselves carry ``TableRow.scenario``).
    """

    name: str
    title: str | None
    sources: tuple[SourceInfo, ...]
    folder: str
    files: tuple[str, ...]
    rules: frozenset[str]
    declared: tuple[tuple[str, str], ...]  # (kind, name) of what it declares: input, derived, output, parameter, table
    switched_off: Mapping[str, SwitchedOff]
    parameters: Mapping[str, tuple[tuple[dt.date, dt.date | None], ...]]  # the periods whose value it sets
    tables: Mapping[str, tuple[tuple[str, dt.date | None], ...]]  # table -> (kind, from) of each change
    changes: tuple[ScenarioChange, ...]

    def sets_parameter(self, name: str, day: dt.date) -> bool:
        return any(start <= day and (end is None or day <= end) for start, end in self.parameters.get(name, ()))

    def replaces_table(self, name: str, day: dt.date) -> bool:
        """Has the scenario replaced this table's rows on ``day`` (so that any answer it gives is the scenario's)?"""
        return any(kind == "replace" and (start is None or start <= day) for kind, start in self.tables.get(name, ()))


@dataclass(frozen=True)
class Program:
    """Everything an engine needs, checked: names resolved, types known, graph acyclic."""

    inputs: Mapping[str, n.InputDecl]
    values: Mapping[str, ValueDecl]  # derived values and outputs
    order: tuple[str, ...]  # values in dependency order
    outputs: tuple[str, ...]  # output names in rule book order
    rules: Mapping[str, CheckedRule]
    exceptions: Mapping[str, tuple[str, ...]]  # rule -> its exceptions
    parameters: Mapping[str, Parameter]
    tables: Mapping[str, Table]
    peildatum: str | None
    rulesets: Mapping[str, n.Ruleset]
    content_hash: str
    files: Mapping[str, bytes] = field(default_factory=dict)  # relative path -> content
    language: str = "english"  # the keyword set of the rule book, for messages to its readers
    root: str = ""  # the folder the rule book was loaded from; decisions name files relative to it
    scenario: Scenario | None = None  # None: the law in force
    groups: Mapping[str, Group] = field(default_factory=dict)  # path -> the group of facts there

    def records(self, inputs: Mapping[str, Any], group: str) -> int | None:
        """How many records of ``group`` a case's typed inputs hold (None: the case does not give the list)."""
        count = inputs.get(group)
        return count if isinstance(count, int) else None

    def relative(self, file: str) -> str:
        """A rule file's name relative to the rule book root, the same wherever the book is loaded from."""
        import os.path

        sc = self.scenario
        if sc is not None and os.path.isabs(file) == os.path.isabs(sc.folder):
            rel = os.path.relpath(file, sc.folder)
            if not rel.startswith(".."):
                return f"scenarios/{sc.name}/" + rel.replace(os.sep, "/")
        if self.root and os.path.isabs(file) == os.path.isabs(self.root):
            rel = os.path.relpath(file, self.root)
            if not rel.startswith(".."):
                return rel.replace(os.sep, "/")
        return file.replace(os.sep, "/")


def frozen(d: dict[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(d)
