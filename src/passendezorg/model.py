"""Pydantic models at the boundary: the decision a case gets, in a stable JSON form."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["value", "default", "undetermined", "conflict", "error"]
JsonValue = bool | int | str | list[Any] | None

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
    value: JsonValue


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
    """

    model_config = ConfigDict(frozen=True)
    status: Status
    value: JsonValue = None
    type: str
    rule: RuleRef | None = None
    concurring: list[str] = Field(default_factory=list, description="other rules that gave the same value")
    facts: dict[str, JsonValue] = Field(default_factory=dict, description="what the deciding rule used")
    overridden: list[Overridden] = Field(default_factory=list)
    conflict: list[ConflictEntry] = Field(default_factory=list)
    needs: list[str] = Field(default_factory=list)
    reason: str | None = None
    scenario_changes: list[ScenarioChangeRef] | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="under a scenario: the changes of the scenario that decided this value (empty: none did; it "
                    "is decided as under the law in force); absent under the law in force")


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
        return self.outputs[output].value


class CaseFailure(BaseModel):
    """A case that could not be evaluated (a malformed input), reported in a batch instead of a decision."""

    model_config = ConfigDict(frozen=True)
    format: Literal["passendezorg.failure/1"] = "passendezorg.failure/1"
    case: str | None = None
    index: int | None = Field(default=None, description="the case's position in the batch, counted from 0")
    error: str

