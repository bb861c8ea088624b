"""The service's request and response models: the HTTP contract, next to the library's Decision.

Facts are checked by the rule book (with field paths in the errors); these models check the
envelope around them. Amounts are strings with exact digits, dates ISO dates.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from ..model import Decision, Source

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("expected a date YYYY-MM-DD")


Day = Annotated[dt.date, BeforeValidator(_iso_date)]  # an ISO date text, never a number of seconds


class CaseIn(BaseModel):
    """One case: its facts (nested as in a case file), an optional name, and optionally the date to read it on."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, description="a name for the case; the decision repeats it")
    description: str | None = None
    on: Day | None = Field(None, description="evaluate on this date instead of the case's peildatum")
    input: dict[str, Any] = Field(description="the facts, nested by the dotted input names of the rule book")


# ---------------------------------------------------------------- the rule book


class RulesetInfo(BaseModel):
    name: str
    title: str | None
    sources: list[Source]


class ValueInfo(BaseModel):
    """An input or an output of the rule book."""

    name: str
    type: str
    choices: list[str] | None = Field(None, description="the values of a `one of` type")
    description: str | None


class RuleInfo(BaseModel):
    name: str
    title: str | None
    ruleset: str | None
    decides: str = Field(description="the output or derived value the rule assigns")
    exception_to: list[str]
    valid_from: dt.date | None
    valid_until: dt.date | None
    sources: list[Source]
    file: str
    line: int


class NamedInfo(BaseModel):
    """A parameter or a table of the rule book."""

    name: str
    description: str | None


class ScenarioInfo(BaseModel):
    """A scenario: a named, sourced overlay on the law in force (a proposal, a plan, an experiment)."""

    name: str
    title: str | None = None
    sources: list[Source] = Field(default_factory=list)


class RuleBookInfo(BaseModel):
    """What a rule book holds and which version it is: the content hash every decision names."""

    content_hash: str
    language: str = Field(description="the keyword language of the rule book: english or nederlands")
    engine_version: str
    peildatum: str | None = Field(description="the input each case is read on")
    rulesets: list[RulesetInfo]
    inputs: list[ValueInfo]
    outputs: list[ValueInfo]
    rules: list[RuleInfo]
    parameters: list[NamedInfo]
    tables: list[NamedInfo]
    scenarios: list[ScenarioInfo] = Field(
        default_factory=list, description="the scenarios decisions can be asked under (`?scenario=NAME`)")
    scenario: ScenarioInfo | None = Field(
        default=None, description="the scenario this rule book is under; null: the law in force")


# ---------------------------------------------------------------- health


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    rulebook: str = Field(description="content hash of the loaded rule book")
    database: Literal["ok", "not configured"]


# ---------------------------------------------------------------- claims, receipts, ledger


class ClaimIn(BaseModel):
    """One claim: whose, which, and the facts of the care (without the eigen risico used: the ledger gives it)."""

    model_config = ConfigDict(extra="forbid")
    claim_id: Annotated[str, Strict()] | Annotated[int, Strict()]
    insured_id: Annotated[str, Strict()] | Annotated[int, Strict()]
    input: dict[str, Any]


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, description="why the claim is withdrawn (kept in the receipt)")


class ReceiptOut(BaseModel):
    """A stored decision, correction or withdrawal of a claim."""

    id: int
    claim_id: str
    seq: int = Field(description="1 for the first decision on the claim, then 2, 3, … for each correction")
    kind: Literal["decision", "correction", "withdrawal"]
    supersedes: int | None
    insured_id: str
    year: int
    peildatum: dt.date
    rulebook: str | None = Field(description="content hash of the rule book version it was decided on")
    engine_version: str
    input: dict[str, Any] = Field(description="the facts evaluated, the eigen risico already used included")
    outputs: dict[str, Any]
    deduction: str = Field(description="eigen risico deducted, in euro")
    payout: str | None = Field(description="amount paid, in euro")
    reason: str | None
    created_at: dt.datetime
    decision: Decision | None = Field(description="the full reasoned decision (none for a withdrawal)")


class ClaimOutcome(BaseModel):
    """What happened to one claim of a batch: ``recorded``, ``unchanged`` (decided before) or ``rejected``."""

    line: int
    status: Literal["recorded", "unchanged", "rejected"]
    claim_id: str | None
    insured_id: str | None
    receipt_id: int | None = None
    kind: str | None = None
    year: int | None = None
    deduction: str | None = None
    payout: str | None = None
    reason: str | None = None


class Replayed(BaseModel):
    """A receipt decided again with its own stored rule book version."""

    receipt_id: int
    reproduced: bool = Field(description="the decision is identical, byte for byte")
    differences: list[str]
    rulebook: str | None
    engine_version: str = Field(description="the engine that decided it now")
    receipt_engine_version: str


class LedgerEntryOut(BaseModel):
    id: int
    year: int
    claim_id: str
    receipt_id: int
    amount: str = Field(description="in euro: positive deducted, negative given back")
    entry: str = Field(description="deduction or reversal")
    created_at: dt.datetime


class Ledger(BaseModel):
    """The eigen risico ledger of one insured person: every entry, and what is used per year."""

    insured_id: str
    entries: list[LedgerEntryOut]
    used: dict[str, str] = Field(description="per year, the eigen risico used, in euro")
