"""What a case gets at the boundary: the reasoned decision (pydantic models with a stable JSON form), the
compact decision of the fast path, and the failure of a case that could not be evaluated."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, model_validator

from .values import to_json

Status = Literal["value", "default", "undetermined", "conflict", "error"]
JsonValue = bool | int | str | list[Any] | None

_JSON_VALUE_SCHEMA: dict[str, Any] = {"anyOf": [{"type": "boolean"}, {"type": "integer"}, {"type": "string"},
                                                {"type": "array", "items": {}}, {"type": "null"}]}

Value = Annotated[Any, PlainSerializer(to_json, when_used="json"), WithJsonSchema(_JSON_VALUE_SCHEMA)]
"""A value of a declared type as Python holds it (Decimal, date, bool, int, str, list); in JSON as ``to_json``
writes it: amounts and decimals as strings with exact digits, dates as ISO text."""


def python_value(value: Any, type_: str) -> Any:
    """A value of type ``type_`` (as a decision names it: ``money``, ``date``, ``list of decimal``, …) as a
    Python value: the JSON text of an amount, a decimal or a date becomes a Decimal or a date; a Python value
    stays as it is. The inverse of ``to_json``, so a decision read back from its JSON holds the same values."""
    if value is None:
        return None
    if type_.startswith("list of ") and isinstance(value, (list, tuple)):
        item = type_.removeprefix("list of ")
        return [python_value(v, item) for v in value]
    if type_ in ("money", "decimal") and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return value
    if type_ == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value

DECISION_FORMAT = "passendezorg.decision/1"


class Source(BaseModel):
    """A legal or policy source a rule cites."""

    model_config = ConfigDict(frozen=True)
    id: str | None = None
    title: str
    detail: str | None = None
    url: str | None = None


class RuleRef(BaseModel):
    """A rule, as a decision names it: enough to find and read it."""

    model_config = ConfigDict(frozen=True)
    name: str
    title: str | None = None
    ruleset: str | None = None
    sources: list[Source] = Field(default_factory=list)
    because: str | None = None
    file: str
    line: int


class Overridden(BaseModel):
    model_config = ConfigDict(frozen=True)
    rule: RuleRef
    by: str = Field(description="the exception that overrode it")


class ConflictEntry(BaseModel):
    model_config = ConfigDict(frozen=True)
    rule: RuleRef
    value: Value


class ScenarioChangeRef(BaseModel):
    """A change of the scenario that decided an output.

    ``kind``: ``rule`` (a rule of the scenario decided it), ``switch_off`` (a rule in force that the scenario
    switched off would have decided it), ``parameter`` (it used a parameter value the scenario sets), ``table``
    (it used a table row the scenario added or replaced, or a table it replaced), ``value`` (it used a value
    that a change of the scenario decided).
    """

    model_config = ConfigDict(frozen=True)
    kind: Literal["rule", "switch_off", "parameter", "table", "value"]
    name: str


class ScenarioRef(BaseModel):
    """The scenario a decision was made under: a proposal or reform, not the law in force."""

    model_config = ConfigDict(frozen=True)
    name: str
    title: str | None = None
    sources: list[Source] = Field(default_factory=list)


class OutputDecision(BaseModel):
    """How one output (or derived value) was decided.

    ``status``: ``value`` (a rule decided), ``default`` (no rule applied; the
    declared default), ``undetermined`` (``needs`` lists the inputs that would
    decide it), ``conflict`` (rules that are not exceptions to each other give
    different values; ``conflict`` names them), ``error`` (a value the rules
    need is not in force; ``reason`` says which).
    Amounts and decimals are strings with exact digits; dates are ISO dates.
    In Python, ``value`` and the conflicting values are of the output's type (Decimal, date, ...).
    ``sources`` and ``fact_sources`` say where the values used come from.
    """

    model_config = ConfigDict(frozen=True)
    status: Status
    value: Value = None
    type: str
    rule: RuleRef | None = None
    concurring: list[str] = Field(default_factory=list, description="other rules that gave the same value")
    facts: dict[str, JsonValue] = Field(default_factory=dict, description="what the deciding rule used")
    overridden: list[Overridden] = Field(default_factory=list)
    conflict: list[ConflictEntry] = Field(default_factory=list)
    needs: list[str] = Field(default_factory=list)
    reason: str | None = None
    sources: list[Source] = Field(default_factory=list,
                                  description="what the definition of a derived value cites (a rule cites its own "
                                  "sources in `rule`)")
    fact_sources: dict[str, list[Source]] = Field(
        default_factory=dict, description="for the facts in `facts` that have one, their source: a parameter's value "
        "in force, a table row, a derived value's definition")
    scenario_changes: list[ScenarioChangeRef] | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="under a scenario: the changes of the scenario that decided this value (empty: none did; it "
                    "is decided as under the law in force); absent under the law in force")
    per: str | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="a value per record: the group of facts it is decided for (its path in a case); `value` is "
                    "then the list of the records' values, `records` how each was decided; absent otherwise")
    records: list[OutputDecision] | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="a value per record: the decision for each record, in the order of the case's list")

    @model_validator(mode="before")
    @classmethod
    def _python_values(cls, data: Any) -> Any:
        """Values given in their JSON form (``"24.85"`` for an amount) become Python values of the output's type."""
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            return data
        t = data["type"]
        data = dict(data)
        value = data.get("value")
        if data.get("per") is not None and isinstance(value, list):  # a value per record: one for each record
            data["value"] = [python_value(v, t) for v in value]
        else:
            data["value"] = python_value(value, t)
        conflict = data.get("conflict")
        if isinstance(conflict, list):
            data["conflict"] = [{**c, "value": python_value(c.get("value"), t)} if isinstance(c, dict) else c
                                for c in conflict]
        return data


class Decision(BaseModel):
    """The reasoned decision for one case: every output, and the derived values behind them."""

    model_config = ConfigDict(frozen=True)
    format: Literal["passendezorg.decision/1"] = "passendezorg.decision/1"
    case: str | None = None
    rulebook: str = Field(description="content hash of the rule book (rule files and tables)")
    peildatum: dt.date
    outputs: dict[str, OutputDecision]
    derived: dict[str, OutputDecision] = Field(default_factory=dict)
    scenario: ScenarioRef | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="the scenario the decision was made under; absent: the law in force")

    def to_json(self) -> str:
        """The canonical JSON text: the same rule book and case give the same bytes.

        Under the law in force the scenario fields are left out (they are only written when set), so such a
        decision reads as it always has.
        """
        return self.model_dump_json(exclude_defaults=False)

    def value(self, output: str) -> Any:
        """The value of an output as a Python value (None if it has none); the same as ``outputs[output].value``."""
        return self.outputs[output].value

    def status(self, output: str) -> Status:
        """The status of an output; the same as ``outputs[output].status``."""
        return self.outputs[output].status


class CaseFailure(BaseModel):
    """A case that could not be evaluated (a malformed input), reported in a batch instead of a decision.

    It says where the case is: ``index``, its position among the cases given (from 0), and for a case read
    from a file of lines (JSON lines, CSV), ``line``, the line it starts on (from 1). A batch file's worker
    knows the line and not the position, so its failure records carry ``line`` only.
    """

    model_config = ConfigDict(frozen=True)
    format: Literal["passendezorg.failure/1"] = "passendezorg.failure/1"
    case: str | None = None
    index: int | None = Field(default=None, description="the case's position in the batch, counted from 0")
    line: int | None = Field(default=None, description="the line of the input file the case starts on, from 1")
    error: str

    def to_json(self) -> str:
        """The failure record as one compact JSON line; a position that is not known is left out."""
        return self.model_dump_json(exclude={k for k in ("index", "line") if getattr(self, k) is None})


WhyNotKind = Literal["switched_off", "not_in_force", "condition_false", "condition_undetermined",
                     "condition_error", "overridden", "decided", "agrees", "conflict", "not_decided", "no_records"]


class WhyNotReason(BaseModel):
    """Why a rule did not decide, for the case or for one record of a rule per record.

    ``kind`` says which answer it is: the rule is ``switched_off`` by the scenario or ``not_in_force`` on the
    peildatum; its ``condition`` is false (``condition_false``, with the ``facts`` it read), cannot be decided
    (``condition_undetermined``, with what it ``needs``) or cannot be computed (``condition_error``,
    ``detail`` says why); it applies but the exceptions in ``by`` take precedence (``overridden``); it
    applies and ``decided`` the value, ``agrees`` with the deciding rule, or is in ``conflict``; it applies
    and the value is ``not_decided`` (``detail`` says its status); or the case gives no records of the
    rule's group (``no_records``). ``text`` is the answer in the rule book's language.
    """

    model_config = ConfigDict(frozen=True)
    record: int | None = Field(default=None, description="for a rule per record: the record's index")
    kind: WhyNotKind
    condition: str | None = Field(default=None, description="the condition that did not hold, as the rule writes it")
    facts: dict[str, JsonValue] = Field(default_factory=dict, description="what that condition read")
    needs: list[str] = Field(default_factory=list, description="the facts that would decide the condition")
    by: list[str] = Field(default_factory=list, description="the exceptions that took precedence")
    detail: str | None = None
    text: str


class WhyNot(BaseModel):
    """Why a rule did not decide a case: one reason, or one per record for a rule per record."""

    model_config = ConfigDict(frozen=True)
    format: Literal["passendezorg.why-not/1"] = "passendezorg.why-not/1"
    rule: str
    case: str | None
    peildatum: dt.date
    answer: str = Field(description="not in force, the condition that failed (with the values), or the rule "
                                    "that overrode it; in the rule book's language")
    reasons: list[WhyNotReason]

    def to_json(self) -> str:
        return self.model_dump_json()


@dataclass(frozen=True)
class FastDecision:
    """The outputs of one case without the explanation: values, deciding rules, and what is not a plain value.

    ``values`` holds Python values, as ``Decision.value`` gives them (Decimal, date, ...);
    ``as_json`` and ``to_json`` give the compact JSON record a batch writes.
    """

    case: str | None
    values: dict[str, Any]
    rules: dict[str, str | None]  # the deciding rule (None: a definition, a default, or not known)
    status: dict[str, str] = field(default_factory=dict)  # outputs whose status is not `value`
    needs: dict[str, list[str]] = field(default_factory=dict)
    reason: dict[str, str] = field(default_factory=dict)
    fast: bool = True  # False: some value needed three-valued logic (a missing input, an error, a conflict)
    scenario: str | None = None  # the scenario it was decided under; None: the law in force
    record_rules: dict[str, list[str | None]] = field(default_factory=dict)  # an output per record: its records'

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"case": self.case, "values": {k: to_json(v) for k, v in self.values.items()},
                               "rules": self.rules}
        if self.status:
            out["status"] = self.status
        if self.needs:
            out["needs"] = self.needs
        if self.reason:
            out["reason"] = self.reason
        if self.scenario is not None:
            out["scenario"] = self.scenario
        if self.record_rules:
            out["record_rules"] = self.record_rules
        return out

    def to_json(self) -> str:
        return json.dumps(self.as_json(), ensure_ascii=False, separators=(",", ":"))
