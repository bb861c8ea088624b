"""Yearly state per insured person: what is used so far of the eigen risico and the other yearly caps.

The rule book decides one claim at a time; it does not remember. What an
insured person has already used this calendar year (the eigen risico, the
eigen bijdrage for seated patient transport, the hours of dietary advice) is
an input of each claim, and the decision of each claim adds to it (its
deduction, its contribution, its hours). A ``Counter`` names that pair for one
cap; a ``YearlyLedger`` keeps the amounts per person and year in memory, in the
order the claims are decided. Claim processing (claims.py) seeds it from the
database ledger and the simulation (simulate.py) replays each person's claims
through it, so both give each claim the same amount for the same history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import UsageError
from .program import Program

USED_INPUT = "verzekerde.eigen_risico_verbruikt"
"""The input that receives the eigen risico used so far this year."""
DEDUCTION_OUTPUT = "eigen_risico_inhouding"
"""The output with the part of a claim that goes to the eigen risico."""
PAYOUT_OUTPUT = "vergoeding"
"""The output with what the insurer pays."""

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Counter:
    """One yearly cap: the input that receives what is used so far, and the value whose amount adds to it.

    ``amount`` is an output or derived value of the rule book, or an input (the
    hours of a treatment). ``when`` limits the claims that count: each input
    named must have the given value. ``limit`` names a value that holds the
    year's maximum, so that a report can say when a person reaches it.
    """

    input: str
    amount: str
    when: tuple[tuple[str, Any], ...] = ()
    limit: str | None = None
    label: str = ""

    def applies(self, inputs: Mapping[str, Any]) -> bool:
        """Does a claim with these inputs count towards this cap?"""
        for name, value in self.when:
            if inputs.get(name) != value:
                return False
        return True


EIGEN_RISICO = Counter(USED_INPUT, DEDUCTION_OUTPUT, limit="eigen_risico_jaarbedrag", label="eigen risico")

STANDARD_COUNTERS: tuple[Counter, ...] = (
    EIGEN_RISICO,
    Counter("verzekerde.eigen_bijdrage_vervoer_verbruikt", "eigen_bijdrage_vervoer", limit="zzv_eigen_bijdrage_per_jaar",
            label="eigen bijdrage zittend ziekenvervoer"),
    Counter("verzekerde.gvs_eigen_bijdrage_verbruikt", "gvs_eigen_bijdrage", limit="gvs_eigen_bijdrage_maximum",
            label="GVS-eigen bijdrage"),
    Counter("verzekerde.dietetiek_uren_verbruikt", "behandeluren_geteld", when=(("behandeling.soort", "dietetiek"),),
            limit="dietetiek_maximum_uren", label="uren diëtetiek"),
    Counter("verzekerde.ergotherapie_uren_verbruikt", "behandeluren_geteld",
            when=(("behandeling.soort", "ergotherapie"),), limit="ergotherapie_maximum_uren", label="uren ergotherapie"),
)
"""The yearly caps of the shipped rule book; a rule book keeps those whose names it declares."""


def counters_for(program: Program, counters: Iterable[Counter] = STANDARD_COUNTERS) -> tuple[Counter, ...]:
    """The counters a rule book keeps: those whose input and amount it declares. Each must be a number."""
    out = []
    for c in counters:
        if c.input not in program.inputs:
            continue
        source = program.inputs.get(c.amount) or program.values.get(c.amount)
        if source is None:
            continue
        for name, decl in ((c.input, program.inputs[c.input]), (c.amount, source)):
            if decl.type.kind not in ("money", "decimal", "integer"):
                raise UsageError(f"`{name}` must be a number to keep the yearly {c.label or c.input}; "
                                 f"the rule book declares it as {decl.type}")
        out.append(c)
    return tuple(out)


class YearlyLedger:
    """Amounts used so far per insured person, year and counter, in the order the claims are decided.

    ``inputs(person, year)`` gives what to put in a claim's facts; after the
    decision, ``record(person, year, inputs, value)`` adds the claim's amounts
    (``value(name)`` reads an output or derived value of its decision, None
    for a name it does not know; an amount that is not known adds nothing). ``account`` and ``charge`` are the
    same for code that keeps the account list itself (one look-up per claim).
    """

    def __init__(self, counters: Sequence[Counter]) -> None:
        self.counters = tuple(counters)
        self.names = tuple(c.input for c in self.counters)
        self._accounts: dict[tuple[str, int], list[Decimal]] = {}

    def account(self, person: str, year: int) -> list[Decimal]:
        """The live amounts of a person's year, one per counter (zero for a year not seen before)."""
        key = (person, year)
        acc = self._accounts.get(key)
        if acc is None:
            acc = self._accounts[key] = [ZERO] * len(self.counters)
        return acc

    def seed(self, person: str, year: int, amounts: Sequence[Decimal]) -> None:
        """Start a person's year from amounts used before (claim processing: the database ledger)."""
        if len(amounts) != len(self.counters):
            raise ValueError(f"{len(amounts)} amounts for {len(self.counters)} counters")
        self._accounts[(person, year)] = list(amounts)

    def used(self, person: str, year: int) -> tuple[Decimal, ...]:
        return tuple(self.account(person, year))

    def inputs(self, person: str, year: int) -> dict[str, Decimal]:
        """The facts a claim of this person and year is given: input name → amount used so far."""
        return dict(zip(self.names, self.account(person, year)))

    def record(self, person: str, year: int, inputs: Mapping[str, Any], value: Callable[[str], Any]) -> list[Decimal]:
        """Add a decided claim's amounts to its person's year; what was added, per counter."""
        return self.charge(self.account(person, year), inputs, value)

    def charge(self, account: list[Decimal], inputs: Mapping[str, Any], value: Callable[[str], Any]) -> list[Decimal]:
        added = []
        for i, c in enumerate(self.counters):
            amount = None
            if c.applies(inputs):
                amount = inputs[c.amount] if c.amount in inputs else value(c.amount)
            if isinstance(amount, (Decimal, int)) and not isinstance(amount, bool):
                account[i] += amount
                added.append(Decimal(amount))
            else:
                added.append(ZERO)
        return added

    def charger(self, names: Sequence[str]) -> Callable[[list[Decimal], Mapping[str, Any], Sequence[Any]], None]:
        """``charge`` for decisions given as a tuple of values aligned with ``names`` (the compiled fast path's
        form): the positions are looked up once, not per claim."""
        position = {name: k for k, name in enumerate(names)}
        steps = tuple((i, c.when[0] if c.when else (None, None), c.when[1:], c.amount, position.get(c.amount))
                      for i, c in enumerate(self.counters))

        def charge(account: list[Decimal], inputs: Mapping[str, Any], values: Sequence[Any]) -> None:
            for i, (key, want), more, name, k in steps:
                if key is not None and inputs.get(key) != want:
                    continue  # the usual case: another kind of care
                if more and any(inputs.get(kk) != ww for kk, ww in more):
                    continue
                amount = inputs.get(name) if k is None or name in inputs else values[k]
                if amount is not None and amount.__class__ is not bool:
                    account[i] += amount

        return charge

    def clear(self) -> None:
        """Forget every account (a replay that goes person by person keeps its memory flat)."""
        self._accounts.clear()
