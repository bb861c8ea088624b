"""Claim processing: a decision per claim, its receipt and the eigen risico ledger, in one transaction.

    from passendezorg import load_rules
    from passendezorg.claims import ClaimProcessor

    with ClaimProcessor(load_rules("rules"), "sqlite:///claims.db") as processor:
        receipt = processor.process({"claim_id": "D-1", "insured_id": "V-7", "input": {...}})

The eigen risico the insured person already used in the claim's year (the year of its
peildatum) is read from the ledger, under a lock on that person and year, and given to the
evaluation as an input; the decision's deduction is written to the ledger in the same
transaction as the receipt. A claim id is decided once: the same claim again returns the
stored receipt and changes nothing. Corrections (``withdraw``, ``replace``) add a receipt and
a compensating ledger entry; nothing is overwritten.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from .cases import Case, JsonProblem, json_lines
from .check import suggest
from .errors import PassendeZorgError, UsageError, internal_error
from .model import Decision, OutputDecision
from .rulebook import RuleBook
from .store import ENGINE_VERSION, Receipt, Store, cents, euros
from .values import PLAIN_INTEGER, to_json
from .yearly import DEDUCTION_OUTPUT as DEDUCTION_OUTPUT  # the names claim processing uses by default
from .yearly import PAYOUT_OUTPUT as PAYOUT_OUTPUT
from .yearly import USED_INPUT as USED_INPUT
from .yearly import Counter, YearlyLedger

CLAIM_FIELDS = ("claim_id", "insured_id", "input")


class ClaimError(PassendeZorgError):
    """A claim that cannot be processed: malformed, undecidable, or at odds with what is stored.

    In a batch it rejects only that claim. ``where`` names the claim (file and line, or its id).
    """

    exit_code = 1

    def __init__(self, where: str | None, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Claim:
    """One claim: who, which claim, and the facts of the care (the case input, without the ledger's amount)."""

    claim_id: str
    insured_id: str
    input: Mapping[str, Any]
    where: str | None = None

    @classmethod
    def from_data(cls, data: Any, where: str | None = None) -> Claim:
        """A claim from its JSON form ``{"claim_id", "insured_id", "input"}``; ClaimError if it is not one."""
        if isinstance(data, Claim):
            return data
        if not isinstance(data, Mapping):
            raise ClaimError(where, "a claim is a mapping with claim_id, insured_id and input")
        unknown = [k for k in data if k not in CLAIM_FIELDS]
        if unknown:
            hint = suggest(str(unknown[0]), list(CLAIM_FIELDS))
            raise ClaimError(where, f"unknown field `{unknown[0]}` in a claim; a claim has claim_id, insured_id "
                             "and input" + (f" ({hint})" if hint else ""))
        ids = []
        for key in ("claim_id", "insured_id"):
            v = data.get(key)
            if isinstance(v, bool) or not isinstance(v, (str, int)) or not str(v).strip():
                raise ClaimError(where, f"the claim has no {key}" if v in (None, "") else
                                 f"{key} must be a text or a number, got {json.dumps(v)}")
            ids.append(str(v).strip())
        facts = data.get("input")
        if not isinstance(facts, Mapping):
            raise ClaimError(where or ids[0], "the claim has no input" if facts is None
                             else "input must be a mapping of facts")
        return cls(ids[0], ids[1], facts, where)


log = logging.getLogger(__name__)

ClaimStatus = Literal["recorded", "unchanged", "rejected"]


@dataclass(frozen=True)
class ClaimResult:
    """What happened to one claim of a batch.

    ``recorded``: a new receipt; ``unchanged``: the claim was decided before and its stored
    receipt stands; ``rejected``: not processed, ``reason`` says why.
    """

    status: ClaimStatus
    claim_id: str | None
    insured_id: str | None
    where: str | None = None
    receipt_id: int | None = None
    kind: str | None = None
    year: int | None = None
    deduction: Decimal | None = None
    payout: Decimal | None = None
    reason: str | None = None
    receipt: Receipt | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, receipt: Receipt, where: str | None = None) -> ClaimResult:
        return cls("recorded" if receipt.new else "unchanged", receipt.claim_id, receipt.insured_id, where,
                   receipt.id, receipt.kind, receipt.year,
                   receipt.deduction if receipt.kind != "withdrawal" else Decimal("0.00"),
                   receipt.payout, None, receipt)

    def without_receipt(self) -> ClaimResult:
        """The same result, small enough to send between processes."""
        return replace(self, receipt=None)


@dataclass(frozen=True)
class _Prepared:
    claim: Claim
    facts: dict[str, Any]  # flat, typed, as JSON values
    year: int
    hash: str


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class ClaimProcessor:
    """Decides claims on one rule book and records them in a store. Use one per process.

    ``db``: a Store, a database URL, or None for $PASSENDEZORG_DB or ./passendezorg.db.
    ``used_input``, ``deduction_output``, ``payout_output``: the names the rule book uses for the
    eigen risico already used this year (an input), the amount to deduct (an output), and the
    amount to pay (an output; None if the rule book has none). All three are amounts.
    """

    def __init__(self, rulebook: RuleBook, db: Store | str | None = None, *, used_input: str = USED_INPUT,
                 deduction_output: str = DEDUCTION_OUTPUT, payout_output: str | None = PAYOUT_OUTPUT) -> None:
        program = rulebook.program
        if program.scenario is not None:
            raise UsageError(f"claims are paid under the law in force, not under scenario `{program.scenario.name}`: "
                             "process them with the rule book in force (a scenario is for evaluating a proposal)")
        _require(used_input, program.inputs, "input", "an input")
        _require(deduction_output, program.outputs, "output", "an output")
        if payout_output is not None:
            _require(payout_output, program.outputs, "output", "an output")
        for name in (used_input, deduction_output, payout_output):
            if name is None:
                continue
            decl: Any = program.inputs.get(name) or program.values.get(name)
            if decl.type.kind != "money":
                raise UsageError(f"`{name}` must be an amount (money) to keep the eigen risico ledger; "
                                 f"the rule book declares it as {decl.type}")
        if program.peildatum is None:
            raise UsageError("the rule book declares no peildatum: a claim's year (for the eigen risico) is "
                             "the year of its peildatum")
        self.rulebook = rulebook
        self.used_input = used_input
        self.deduction_output = deduction_output
        self.payout_output = payout_output
        self._owns_store = not isinstance(db, Store)
        self.store = db if isinstance(db, Store) else Store(db)
        try:
            self.store.save_rulebook(rulebook)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> ClaimProcessor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------- processing

    def process(self, claim: Claim | Mapping[str, Any]) -> Receipt:
        """Decide a claim and record it; a claim decided before returns its stored receipt (``new`` False).

        Raises ClaimError for a malformed claim, one whose deduction the rule book cannot
        decide (a missing fact, a conflict), or a claim id already decided with other facts.
        """
        result = self._record([self._prepare(claim)])[0]
        if isinstance(result, ClaimError):
            raise result
        return result

    def process_many(self, claims: Iterable[Claim | Mapping[str, Any]], chunk: int = 50) -> Iterator[ClaimResult]:
        """Process claims in order; a claim that cannot be processed is rejected and the rest go on.

        Claims are recorded ``chunk`` at a time in one transaction (one commit: much faster); a
        chunk is recorded whole or not at all, and each claim is decided exactly as ``process``
        would decide it, in order.
        """
        batch: list[Claim | Mapping[str, Any]] = []
        for item in claims:
            batch.append(item)
            if len(batch) >= chunk:
                yield from self.process_batch(batch)
                batch = []
        if batch:
            yield from self.process_batch(batch)

    def process_one(self, item: Claim | Mapping[str, Any]) -> ClaimResult:
        """``process`` as a result: a rejected claim gives a ClaimResult with the reason, not an error."""
        return self.process_batch([item])[0]

    def process_batch(self, items: list[Claim | Mapping[str, Any]]) -> list[ClaimResult]:
        """Process claims, in order, in one transaction; one result per claim."""
        results: list[ClaimResult | None] = []
        prepared: list[tuple[int, _Prepared]] = []
        for item in items:
            where = item.where if isinstance(item, Claim) else None
            try:
                prepared.append((len(results), self._prepare(item)))
                results.append(None)
            except ClaimError as e:
                results.append(_rejected(item, where, e))
        recorded = self._record([p for _, p in prepared])
        for (i, p), r in zip(prepared, recorded, strict=True):
            results[i] = (_rejected(p.claim, p.claim.where, r) if isinstance(r, ClaimError)
                          else ClaimResult.of(r, p.claim.where))
        out = [r for r in results if r is not None]
        if log.isEnabledFor(logging.DEBUG):
            statuses = [r.status for r in out]
            log.debug("%d claim(s) in one transaction: %d recorded, %d already recorded, %d rejected", len(out),
                      statuses.count("recorded"), statuses.count("unchanged"), statuses.count("rejected"))
        return out

    def _record(self, prepared: list[_Prepared]) -> list[Receipt | ClaimError]:
        """Decide and record prepared claims in one transaction; on a clash with another writer, one by one."""
        if not prepared:
            return []
        try:
            with self.store.transaction() as conn:
                return self._record_locked(conn, prepared)
        except DBAPIError as e:
            if not _retryable(e):
                raise
        # a claim id recorded at the same moment by another writer (under another person or year)
        out: list[Receipt | ClaimError] = []
        for p in prepared:
            try:
                with self.store.transaction() as conn:
                    out.extend(self._record_locked(conn, [p]))
            except DBAPIError as e:
                if not _retryable(e):
                    raise
                chain = self.store.claim_receipts(p.claim.claim_id)
                if not chain:
                    raise
                try:
                    out.append(self._seen(p, chain))
                except ClaimError as ce:
                    out.append(ce)
        return out

    def _record_locked(self, conn: Connection, prepared: list[_Prepared]) -> list[Receipt | ClaimError]:
        accounts = [(p.claim.insured_id, p.year) for p in prepared]
        self.store.lock_accounts(conn, accounts)
        ledger = YearlyLedger((Counter(self.used_input, self.deduction_output),))
        for (person, year), used_cents in self.store.used_cents_many(conn, accounts).items():
            ledger.seed(person, year, [euros(used_cents)])
        chains = self.store.claim_chains(conn, [p.claim.claim_id for p in prepared])
        out: list[Receipt | ClaimError | int] = []  # an int: the index of a row to record
        rows: list[dict[str, Any]] = []
        for p in prepared:
            try:
                chain = chains.get(p.claim.claim_id)
                if chain:
                    out.append(self._seen(p, chain))
                    continue
                row = self._decide(p, "decision", 1, None, cents(ledger.used(p.claim.insured_id, p.year)[0]))
            except ClaimError as e:
                out.append(e)
                continue
            ledger.record(p.claim.insured_id, p.year, {}, {self.deduction_output: euros(row["deduction_cents"])}.get)
            chains[p.claim.claim_id] = [_pending(row, len(rows))]
            out.append(len(rows))
            rows.append(row)
        receipts = self.store.add_receipts(conn, rows)
        self.store.add_entries(conn, [_entry(r, r.insured_id, r.year, row["deduction_cents"], "deduction")
                                      for r, row in zip(receipts, rows, strict=True)])
        final: list[Receipt | ClaimError] = []
        for item in out:
            if isinstance(item, int):
                final.append(receipts[item])
            elif isinstance(item, Receipt) and item.id < 0:
                final.append(replace(receipts[-item.id - 1], new=False))  # the same claim twice in one batch
            else:
                final.append(item)
        return final

    def withdraw(self, claim_id: str, reason: str | None = None) -> Receipt:
        """Withdraw a claim: a withdrawal receipt, and the claim's deduction given back in the ledger.

        Only the withdrawn claim's own deduction is reversed; claims decided after it keep
        theirs (the eigen risico given back is taken from the person's next claims that year).
        Withdrawing a withdrawn claim returns the withdrawal (``new`` False).
        """
        claim_id = str(claim_id)
        with self._locked_chain(claim_id, []) as (conn, chain):
            current = chain[-1]
            if current.kind == "withdrawal":
                return current
            [receipt] = self.store.add_receipts(conn, [dict(
                claim_id=claim_id, seq=current.seq + 1, kind="withdrawal", supersedes=current.id,
                insured_id=current.insured_id, year=current.year, peildatum=current.peildatum,
                claim_hash=current.claim_hash, input_json=canonical_json(current.input), rulebook_hash=None,
                engine_version=ENGINE_VERSION, outputs_json="{}", explanation=None, deduction_cents=0,
                payout_cents=None, reason=reason or "withdrawn",
            )])
            net = self.store.claim_net_cents(conn, claim_id, current.insured_id, current.year)
            if net:
                self.store.add_entries(conn, [_entry(receipt, current.insured_id, current.year, -net, "reversal")])
            return receipt

    def replace(self, claim: Claim | Mapping[str, Any]) -> Receipt:
        """Correct a decided claim with new facts: the old deduction is given back, the claim decided anew.

        The correction is decided on this processor's rule book and the ledger as it stands
        (the claim's own old deduction no longer counted). The same correction again returns
        the stored receipt (``new`` False).
        """
        p = self._prepare(claim)
        with self._locked_chain(p.claim.claim_id, [(p.claim.insured_id, p.year)]) as (conn, chain):
            current = chain[-1]
            if current.kind != "withdrawal" and current.claim_hash == p.hash:
                return current
            old = self.store.claim_net_cents(conn, p.claim.claim_id, current.insured_id, current.year)
            used = self.store.used_cents(conn, p.claim.insured_id, p.year)
            if (current.insured_id, current.year) == (p.claim.insured_id, p.year):
                used -= old  # the claim's own old deduction is given back first
            row = self._decide(p, "correction", current.seq + 1, current.id, used)
            [receipt] = self.store.add_receipts(conn, [row])
            entries = [_entry(receipt, p.claim.insured_id, p.year, row["deduction_cents"], "deduction")]
            if old:
                entries.insert(0, _entry(receipt, current.insured_id, current.year, -old, "reversal"))
            self.store.add_entries(conn, entries)
            return receipt

    # ---------------------------------------------------------- the parts

    def _prepare(self, claim: Claim | Mapping[str, Any]) -> _Prepared:
        c = Claim.from_data(claim)
        where = c.where or f"claim {c.claim_id}"
        try:
            _, inputs, day = self.rulebook.prepare(Case(c.input, c.claim_id))
        except PassendeZorgError as e:
            raise ClaimError(where, str(e)) from None
        except RecursionError:
            raise ClaimError(where, "the claim's facts nest too deeply") from None
        if self.used_input in inputs:
            raise ClaimError(where, f"input.{self.used_input} is read from the eigen risico ledger; leave it out "
                             "of the claim")
        facts = {k: to_json(v) for k, v in sorted(inputs.items())}
        digest = hashlib.sha256(canonical_json({"insured_id": c.insured_id, "input": facts}).encode("utf-8"))
        return _Prepared(c, facts, day.year, "sha256:" + digest.hexdigest())

    def _seen(self, p: _Prepared, chain: list[Receipt]) -> Receipt:
        if any(r.claim_hash == p.hash for r in chain):
            return replace(chain[-1], new=False)
        where = p.claim.where or f"claim {p.claim.claim_id}"
        stored = f"receipt {chain[-1].id}" if chain[-1].id > 0 else "earlier in this batch"
        raise ClaimError(where, f"claim {p.claim.claim_id} was decided before with other facts ({stored}); "
                         "to change it, submit a correction")

    def evaluate(self, claim_id: str, facts: Mapping[str, Any], used: Decimal) -> tuple[Decision, dict[str, Any]]:
        """The decision for a claim's facts with ``used`` eigen risico already used, and the facts as evaluated."""
        evaluated = dict(facts)
        evaluated[self.used_input] = str(used)
        evaluated = dict(sorted(evaluated.items()))
        return self.rulebook.evaluate(Case(evaluated, claim_id)), evaluated

    def _decide(self, p: _Prepared, kind: str, seq: int, supersedes: int | None, used_cents: int) -> dict[str, Any]:
        """The receipt (as a row to record) of deciding a claim with ``used_cents`` eigen risico used."""
        where = p.claim.where or f"claim {p.claim.claim_id}"
        try:
            decision, evaluated = self.evaluate(p.claim.claim_id, p.facts, euros(used_cents))
        except PassendeZorgError as e:
            raise ClaimError(where, str(e)) from None
        except Exception as e:  # noqa: BLE001 - one claim must not stop the others
            raise ClaimError(None, internal_error(where, e)) from None
        deduction = _amount(decision, self.deduction_output, where)
        payout = _amount(decision, self.payout_output, where) if self.payout_output else None
        return dict(
            claim_id=p.claim.claim_id, seq=seq, kind=kind, supersedes=supersedes, insured_id=p.claim.insured_id,
            year=p.year, peildatum=decision.peildatum, claim_hash=p.hash, input_json=canonical_json(evaluated),
            rulebook_hash=decision.rulebook, engine_version=ENGINE_VERSION,
            outputs_json=canonical_json({k: to_json(decision.value(k)) for k in self.rulebook.outputs}),
            explanation=decision.to_json(), deduction_cents=cents(deduction),
            payout_cents=cents(payout) if payout is not None else None, reason=None,
        )

    def _locked_chain(self, claim_id: str, extra: list[tuple[str, int]]) -> _LockedChain:
        return _LockedChain(self.store, claim_id, extra)


class _LockedChain:
    """A transaction holding the locks of a claim's current account (and ``extra`` ones), with its receipts.

    The claim's account is read before the locks are taken; if a concurrent correction moved the
    claim meanwhile, the transaction starts over.
    """

    def __init__(self, store: Store, claim_id: str, extra: list[tuple[str, int]]) -> None:
        self.store = store
        self.claim_id = claim_id
        self.extra = extra
        self._cm: Any = None

    def __enter__(self) -> tuple[Connection, list[Receipt]]:
        for _ in range(10):
            chain = self.store.claim_receipts(self.claim_id)
            if not chain:
                raise ClaimError(f"claim {self.claim_id}", "no receipt for this claim: it was never processed")
            account = (chain[-1].insured_id, chain[-1].year)
            self._cm = self.store.transaction()
            conn = self._cm.__enter__()
            try:
                self.store.lock_accounts(conn, [account, *self.extra])
                chain = self.store.claim_receipts(self.claim_id, conn)
            except BaseException as e:
                self._cm.__exit__(type(e), e, e.__traceback__)
                raise
            if (chain[-1].insured_id, chain[-1].year) == account:
                return conn, chain
            self._cm.__exit__(None, None, None)
        raise ClaimError(f"claim {self.claim_id}", "the claim keeps changing under concurrent corrections; try again")

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)


def _pending(row: dict[str, Any], index: int) -> Receipt:
    """A receipt about to be recorded in this batch (its id: -1 - its index), for a second copy of its claim."""
    from types import SimpleNamespace

    return Receipt.from_row(SimpleNamespace(id=-1 - index, created_at=None, **row))


def _entry(receipt: Any, insured_id: str, year: int, amount_cents: int, entry: str) -> dict[str, Any]:
    return {"insured_id": insured_id, "year": year, "claim_id": receipt.claim_id, "receipt_id": receipt.id,
            "amount_cents": amount_cents, "entry": entry}


def _retryable(e: DBAPIError) -> bool:
    """A unique key taken at the same moment by another writer, or a deadlock the database broke."""
    if isinstance(e, IntegrityError):
        return True
    code = getattr(getattr(e, "orig", None), "sqlstate", None)
    return code in ("40P01", "40001")


def _require(name: str, names: Iterable[str], what: str, article: str) -> None:
    names = list(names)
    if name not in names:
        hint = suggest(name, names)
        raise UsageError(f"the rule book has no {what} `{name}`; claim processing needs it as {article} "
                         "(configure the name)" + (f"; {hint}" if hint else ""))


def _amount(decision: Decision, output: str, where: str) -> Decimal:
    value = decision.value(output)
    if value is not None and decision.status(output) in ("value", "default"):
        return Decimal(str(value))
    o: OutputDecision = decision.outputs[output]  # why not: the explanation
    if o.status == "undetermined":
        why = f"needs {', '.join(o.needs)}" if o.needs else "no rule applies and there is no default"
        raise ClaimError(where, f"{output} is undetermined: {why}")
    if o.status == "conflict":
        rules = ", ".join(f"{c.rule.name} ({c.value})" for c in o.conflict)
        raise ClaimError(where, f"{output} is a conflict between rules {rules}")
    raise ClaimError(where, f"{output} could not be decided: {o.reason or o.status}")


def _rejected(item: Any, where: str | None, e: ClaimError) -> ClaimResult:
    claim_id = insured_id = None
    if isinstance(item, Claim):
        claim_id, insured_id = item.claim_id, item.insured_id
    elif isinstance(item, Mapping):
        claim_id = str(item["claim_id"]) if item.get("claim_id") is not None else None
        insured_id = str(item["insured_id"]) if item.get("insured_id") is not None else None
    return ClaimResult("rejected", claim_id, insured_id, where or e.where, reason=e.message)


# ------------------------------------------------------------------ replay


@dataclass(frozen=True)
class Replay:
    """A receipt's decision made again with its own stored rule book version."""

    receipt: Receipt
    decision: Decision
    reproduced: bool  # the decision JSON is identical, byte for byte
    differences: list[str]
    engine_version: str


def replay(store: Store, receipt_id: int) -> Replay:
    """Re-evaluate a receipt's facts with the rule book version it was decided on, and compare."""
    receipt = store.receipt(receipt_id)
    if receipt is None:
        raise UsageError(f"no receipt {receipt_id} in {store!r}")
    if receipt.explanation is None or receipt.rulebook is None:
        raise UsageError(f"receipt {receipt_id} is a {receipt.kind}: it records no decision to replay")
    book = store.load_rulebook(receipt.rulebook)
    decision = book.evaluate(Case(receipt.input, receipt.claim_id))
    now = decision.to_json()
    differences: list[str] = []
    if now != receipt.explanation:
        before = Decision.model_validate_json(receipt.explanation)
        for name in sorted(set(before.outputs) | set(decision.outputs)):
            a, b = before.outputs.get(name), decision.outputs.get(name)
            if a is None or b is None:
                differences.append(f"{name}: {'not in the receipt' if a is None else 'no longer decided'}")
            elif (a.status, a.value) != (b.status, b.value):
                differences.append(f"{name}: receipt {a.status} {to_json(a.value)!r}, now {b.status} {to_json(b.value)!r}")
            elif a.rule != b.rule:
                differences.append(f"{name}: decided by rule {a.rule.name if a.rule else '-'}, "
                                   f"now by {b.rule.name if b.rule else '-'}")
        if not differences:
            i = next((i for i, (x, y) in enumerate(zip(receipt.explanation, now)) if x != y),
                     min(len(now), len(receipt.explanation)))
            differences.append(f"the explanation differs from character {i}: receipt "
                               f"{receipt.explanation[i:i + 60]!r}, now {now[i:i + 60]!r}")
    return Replay(receipt, decision, not differences and now == receipt.explanation, differences, ENGINE_VERSION)


# ------------------------------------------------------------------ claim files


def read_claims(path: Path, book: RuleBook) -> Iterator[Claim | ClaimError]:
    """The claims of a JSON lines or CSV file, each named by file and line; a bad line comes as a ClaimError.

    JSON lines: one ``{"claim_id", "insured_id", "input": {...}}`` per line. CSV: a header with
    ``claim_id``, ``insured_id`` and one column per input (``behandeling.datum``); an empty cell
    is a missing fact, and cells are read as the rule book's input types.
    """
    if not path.is_file():
        raise UsageError(f"{path}: no such claims file")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        yield from _read_jsonl(path)
    elif suffix == ".csv":
        yield from _read_csv(path, book)
    else:
        raise UsageError(f"{path}: a claims file is JSON lines (.jsonl) or CSV (.csv)")


def count_claim_lines(path: Path) -> int:
    """How many claims a file holds (non-empty lines, less the CSV header): for a progress bar."""
    with path.open("rb") as fh:
        n = sum(1 for line in fh if line.strip())
    return max(0, n - 1) if path.suffix.lower() == ".csv" else n


def _read_jsonl(path: Path) -> Iterator[Claim | ClaimError]:
    for lineno, data in json_lines(path):
        where = f"{path}:{lineno}"
        if isinstance(data, JsonProblem):
            if data.syntax is not None:
                yield ClaimError(where, f"not valid JSON (column {data.column}): {data.syntax.removesuffix(' at')}")
            else:
                yield ClaimError(where, data.message)
            continue
        try:
            yield Claim.from_data(data, where)
        except ClaimError as e:
            yield e


_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, as the surrogateescape error handler keeps them
_TRUE = {"true", "ja", "yes", "1", "waar"}
_FALSE = {"false", "nee", "no", "0", "onwaar"}


def _cell(text: str, kind: str | None) -> Any:
    t = text.strip()
    if kind == "boolean" and t.lower() in _TRUE | _FALSE:
        return t.lower() in _TRUE
    if kind == "integer":
        return int(t) if PLAIN_INTEGER.fullmatch(t) and len(t) <= 40 else t  # else the case's typing says what is wrong
    if kind == "list" and t.startswith("["):
        try:
            return json.loads(t)
        except json.JSONDecodeError:
            return t
    return t


class ClaimColumns:
    """The header of a CSV file of claims: ``claim_id``, ``insured_id`` and one column per input.

    ``claim(row, where)`` reads one row: an empty cell is a missing fact, and
    cells are read as the rule book's input types.
    """

    def __init__(self, header: list[str], inputs: Mapping[str, Any], where: str) -> None:
        self.header = [h.strip() for h in header]
        for key in ("claim_id", "insured_id"):
            if key not in self.header:
                raise UsageError(f"{where}: the CSV header has no `{key}` column")
        self.kinds = [None if name in ("claim_id", "insured_id") or name not in inputs else inputs[name].type.kind
                      for name in self.header]
        self.insured_column = self.header.index("insured_id")

    def claim(self, row: list[str], where: str) -> Claim:
        if len(row) != len(self.header):
            raise ClaimError(where, f"{len(row)} cells where the header has {len(self.header)} columns")
        values = dict(zip(self.header, row))
        facts = {}
        for name, kind, text in zip(self.header, self.kinds, row):
            if name in ("claim_id", "insured_id") or not text.strip():
                continue
            facts[name] = _cell(text, kind)
        return Claim.from_data({"claim_id": values["claim_id"], "insured_id": values["insured_id"], "input": facts},
                               where)


def _read_csv(path: Path, book: RuleBook) -> Iterator[Claim | ClaimError]:
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
        except csv.Error as e:
            raise UsageError(f"{path}:1: the CSV header cannot be read ({e})") from None
        if header is None:
            return
        columns = ClaimColumns(header, book.program.inputs, f"{path}:1")
        start = reader.line_num
        while True:
            where = f"{path}:{start + 1}"
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:  # a cell longer than the csv module reads, a NUL character
                start = reader.line_num
                yield ClaimError(where, f"not valid CSV: {e}")
                continue
            start = reader.line_num
            if not any(c.strip() for c in row):
                continue
            if any(_NOT_UTF8.search(c) for c in row):
                yield ClaimError(where, "not UTF-8 text; save the file as UTF-8")
                continue
            try:
                yield columns.claim(row, where)
            except ClaimError as e:
                yield e


def money_total(results: Iterable[ClaimResult], what: Literal["deduction", "payout"]) -> Decimal:
    total = Decimal("0.00")
    for r in results:
        v = getattr(r, what)
        if r.status != "rejected" and v is not None:
            total += v
    return total
