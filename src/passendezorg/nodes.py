"""The syntax tree: frozen dataclasses, each with a span. Nothing here knows lark.

A declaration also has ``name_span``: where its name stands, for editors that go to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from .source import Span

# ---------------------------------------------------------------- types

SIMPLE_TYPES = ("boolean", "integer", "decimal", "money", "date", "text")


@dataclass(frozen=True)
class TypeRef:
    """A declared type: a simple type, ``one of`` choices, or ``list of`` a type."""

    kind: str  # one of SIMPLE_TYPES, "enum" or "list"
    choices: tuple[str, ...] = ()
    item: TypeRef | None = None

    def __str__(self) -> str:
        if self.kind == "enum":
            return "one of " + ", ".join(self.choices)
        if self.kind == "list":
            return f"list of {self.item}"
        return self.kind


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Literal:
    """A constant. ``kind`` is its type: integer, decimal, money, date, text, boolean, duration."""

    value: object
    kind: str
    span: Span = field(compare=False)
    text: str = field(default="", compare=False)  # as written, for error messages


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # days, months, years


@dataclass(frozen=True)
class Var:
    """A name as written: ``behandeling.soort`` is ``("behandeling", "soort")``."""

    parts: tuple[str, ...]
    span: Span = field(compare=False)

    @property
    def name(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Call:
    """A function call. ``unit`` and ``mode`` are the rounding a rule names: ``afronden(x, op hele euro's,
    naar beneden)`` has unit ``euros`` (or ``cents``) and mode ``down`` (a key of values.ROUNDING_MODES)."""

    func: str
    args: tuple[Expr, ...]
    span: Span = field(compare=False)
    unit: str | None = None
    mode: str | None = None
    where: Expr | None = None  # the condition of an aggregate as written: `sum(person.income where …)`


@dataclass(frozen=True)
class Lookup:
    """``table[key, …].column``."""

    table: str
    keys: tuple[Expr, ...]
    column: str
    span: Span = field(compare=False)


@dataclass(frozen=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class TupleLit:
    items: tuple[Expr, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Unary:
    op: str  # "not", "-", "+"
    operand: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Binary:
    """``op`` is one of: or and = != < <= > >= + - * / in notin."""

    op: str
    left: Expr
    right: Expr
    span: Span = field(compare=False)


@dataclass(frozen=True)
class IsKnown:
    operand: Expr
    negated: bool  # True for ``is missing``
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Conditional:
    """A conditional value: ``then if condition else otherwise`` (``… indien …, en anders …``), in three-valued logic."""

    then: Expr
    condition: Expr
    otherwise: Expr
    span: Span = field(compare=False)
    kind: str | None = field(default=None, compare=False)  # set by the checker: the type of both values


@dataclass(frozen=True)
class Ref:
    """A resolved name, made by the checker: ``kind`` is input, value, param, table or field.

    ``group`` is the path of a group of facts: for a field (``name`` as written, ``person.income``) the group
    whose record it is read from; for a value decided per record, that value's group."""

    kind: str
    name: str
    span: Span = field(compare=False)
    group: str | None = None
    record: str | None = field(default=None, compare=False)  # a value per record: the record it is read of

    @property
    def field(self) -> str:
        """The field a ``field`` reference reads (``income`` of ``person.income``)."""
        return self.name.split(".", 1)[1]


AGGREGATES = ("sum", "count", "minimum", "maximum", "all", "any")
"""What can be taken over the records of a group (``sum(person.income where person.age >= 18)``)."""


@dataclass(frozen=True)
class Aggregate:
    """An aggregate over the records of a group: ``func`` (one of AGGREGATES) of ``body`` per record, over the
    records for which ``condition`` holds (``count`` has no body). ``record`` is the record's name as the group
    declares it; the checker sets ``group`` (the group's path in a case) and ``kind`` (the type of the result).

    ``items`` is the aggregate written out for a case with a known number of records (``expanded``): per
    record, its condition and body with the record's fields and values named by index; None in an expanded
    aggregate means that the case does not give the list."""

    func: str
    record: str
    body: Expr | None
    condition: Expr | None
    span: Span = field(compare=False)
    group: str = ""
    kind: str | None = field(default=None, compare=False)
    items: tuple[tuple[Expr | None, Expr | None], ...] | None = None
    expanded: bool = False


Expr = Literal | Var | Ref | Call | Lookup | ListLit | TupleLit | Unary | Binary | IsKnown | Conditional | Aggregate


def children(e: Expr) -> tuple[Expr, ...]:
    """The expressions directly inside ``e``, left to right: what every walk over an expression visits."""
    if isinstance(e, Binary):
        return (e.left, e.right)
    if isinstance(e, (Unary, IsKnown)):
        return (e.operand,)
    if isinstance(e, Call):
        return e.args + ((e.where,) if e.where is not None else ())
    if isinstance(e, Lookup):
        return e.keys
    if isinstance(e, (ListLit, TupleLit)):
        return e.items
    if isinstance(e, Conditional):
        return (e.then, e.condition, e.otherwise)
    if isinstance(e, Aggregate):
        if e.expanded:
            return tuple(x for item in e.items or () for x in item if x is not None)
        return tuple(x for x in (e.condition, e.body) if x is not None)
    return ()


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class SourceDef:
    """A legal or policy source a ruleset cites: an id, a title and a url.

    ``proposal``: the source proposes a change (a programme, a discussion note, a plan) and is no law;
    a rule of the rule book in force that rests on proposals only is a warning.
    """

    name: str
    title: str
    url: str | None
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)
    proposal: bool = False


@dataclass(frozen=True)
class SourceRef:
    """A citation: either a source id plus detail, or free text (``name_span``: where the id stands)."""

    source: str | None
    detail: str | None
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Ruleset:
    """A file's header: ``ruleset`` in the rule book in force, ``scenario`` (``scenario=True``) in a scenario."""

    name: str
    title: str | None
    sources: tuple[SourceDef, ...]
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)
    scenario: bool = False
    clause_lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)  # clause -> its line


@dataclass(frozen=True)
class InputDecl:
    name: str
    type: TypeRef
    description: str | None
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DerivedDecl:
    """A derived value: a definition (``= …``, which may cite ``sources``) or rules, and optionally a default."""

    name: str
    type: TypeRef
    description: str | None
    definition: Expr | None
    default: Expr | None
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)
    sources: tuple[SourceRef, ...] = ()
    per: str | None = None  # a value per record: the record's name (``derived age per person : integer``)


@dataclass(frozen=True)
class OutputDecl:
    name: str
    type: TypeRef
    description: str | None
    default: Expr | None
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)
    per: str | None = None  # a value per record: the record's name (``output allowance per line : money``)


@dataclass(frozen=True)
class FieldDecl:
    """A typed field of the records of a group."""

    name: str
    type: TypeRef
    description: str | None
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class GroupDecl:
    """A group of facts: ``group person in household.persons`` — a list of records at ``path`` in a case, one
    record named ``name`` in the rules (``person.income``), with typed ``fields``."""

    name: str
    path: str
    description: str | None
    fields: tuple[FieldDecl, ...]
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PeildatumDecl:
    name: str
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ParamValue:
    """One dated value (a literal, or a list of them); ``value`` None means: no value is known for this period."""

    start: dt.date
    end: dt.date | None
    value: Literal | ListLit | None
    source: SourceRef | None
    span: Span = field(compare=False)


@dataclass(frozen=True)
class ParameterDecl:
    name: str
    type: TypeRef
    description: str | None
    values: tuple[ParamValue, ...]
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Column:
    name: str
    type: TypeRef
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TableDecl:
    name: str
    description: str | None
    file: str
    keys: tuple[str, ...]
    columns: tuple[Column, ...]
    valid_from_column: str | None
    valid_until_column: str | None
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)
    changes: tuple[TableChange, ...] = ()  # a scenario's replacement or additions, applied in this order
    clause_lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)  # clause -> its line
    sources: tuple[SourceRef, ...] = ()  # the source of every row
    source_column: str | None = None  # a column with each row's own source (its detail, with a table source)


@dataclass(frozen=True)
class Rule:
    name: str
    title: str | None
    sources: tuple[SourceRef, ...]
    valid_from: dt.date | None
    valid_until: dt.date | None
    exception_to: tuple[str, ...]
    when: Expr | None
    target: str | None
    value: Expr | None
    because: str | None
    span: Span = field(compare=False)
    target_span: Span | None = field(default=None, compare=False)
    exception_spans: tuple[Span, ...] = field(default=(), compare=False)
    clause_count: dict[str, int] = field(default_factory=dict, compare=False, hash=False)
    name_span: Span | None = field(default=None, compare=False)
    clause_lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)  # clause -> its line


# ---------------------------------------------------------------- what a scenario changes in the rule book in force


@dataclass(frozen=True)
class ParameterChange:
    """``change parameter x from D = v source …``: new dated values that win over the rule book's where they hold."""

    name: str
    values: tuple[ParamValue, ...]
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TableChange:
    """``replace table x file "…"`` or ``add to table x file "…"``, optionally ``from D``.

    ``kind`` is ``replace`` (the rule book's rows give way from ``start`` on, or entirely) or ``add`` (rows
    added; a row whose key the rule book has replaces that key's rows where their periods meet).
    """

    kind: str
    name: str
    description: str | None
    file: str | None
    start: dt.date | None
    sources: tuple[SourceRef, ...]
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)
    clause_count: dict[str, int] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class SwitchOff:
    """``switch rule x off [from D] source …``: a rule of the rule book in force no longer applies (from D on)."""

    rule: str
    start: dt.date | None
    sources: tuple[SourceRef, ...]
    span: Span = field(compare=False)
    name_span: Span | None = field(default=None, compare=False)
    clause_count: dict[str, int] = field(default_factory=dict, compare=False, hash=False)


Change = ParameterChange | TableChange | SwitchOff

Item = InputDecl | DerivedDecl | OutputDecl | PeildatumDecl | ParameterDecl | TableDecl | Rule | Change | GroupDecl


@dataclass(frozen=True)
class Comment:
    line: int
    column: int
    text: str
    trailing: bool = False  # after code on its line (else on a line of its own)


@dataclass(frozen=True)
class Unparsed:
    """A declaration with a syntax error: what could still be read of it.

    The checker uses it so that a name declared there does not give "unknown name" errors
    elsewhere, and so that no warning is given that the declaration might contradict (a rule
    that did not parse may well decide the value that "no rule decides"). ``partial`` is true
    when the declaration was read without its broken clauses (a rule read so is among the
    file's items, and is checked); ``targets`` are the values a rule's `then` assigns, when
    they can be read; ``sources`` the source ids of a ruleset header.
    """

    kind: str | None  # input, derived, output, peildatum, parameter, table, rule, ruleset; None: unreadable
    name: str | None
    span: Span = field(compare=False)
    targets: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    partial: bool = False


@dataclass(frozen=True)
class RuleFile:
    path: str
    language: str
    ruleset: Ruleset | None
    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    unparsed: tuple[Unparsed, ...] = field(default=(), compare=False)


def money(value: Decimal | int | str) -> Decimal:
    """Round to euro cents the way Dutch amounts are rounded (half up)."""
    from decimal import ROUND_HALF_UP, Context

    d = Decimal(value)
    precision = max(28, d.adjusted() + 4) if d.is_finite() else 28  # exact however many digits
    return d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP, context=Context(prec=precision))


CheckedExpr = Expr  # after checking, names are Ref nodes
