"""Claims, receipts and the eigen risico ledger: served when the service has a database.

Reading needs nothing; processing, correcting and withdrawing claims need the API key.
A claim id is decided once: the same claim again answers 200 with its stored receipt.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from starlette.responses import Response

from ...cases import Case
from ...claims import Claim, ClaimError, ClaimProcessor, ClaimResult
from ...claims import replay as replay_receipt
from ...errors import CaseError, UsageError
from ...store import Receipt, Store
from ..deps import ProcessorDep, ServiceDep, StoreDep, WriterDep, in_time
from ..jsonlines import JsonLines, batch_body, dumps, parse, read_lines, timed
from ..models import ClaimIn, ClaimOutcome, Ledger, LedgerEntryOut, ReceiptOut, Replayed, Withdrawal
from ..problems import ProblemError, case_field, case_problem, responses

router = APIRouter(prefix="/v1", tags=["claims"])

CHUNK = 25  # claims recorded per transaction in a batch
CLAIM_ID = Annotated[str, Path(description="the claim's id")]
WRITE = responses(401, 403, 404, 413, 415, 422, 504)


def receipt_out(r: Receipt) -> ReceiptOut:
    return ReceiptOut.model_validate(r.as_dict())


def answer(r: Receipt, response: Response) -> ReceiptOut:
    """201 with its Location for a receipt recorded now; 200 for one recorded before."""
    response.status_code = 201 if r.new else 200
    if r.new:
        response.headers["Location"] = f"/v1/receipts/{r.id}"
    return receipt_out(r)


def rejected(e: ClaimError) -> ProblemError:
    return ProblemError(422, "claim-rejected", e.message, title="The claim is rejected")


def checked(processor: ClaimProcessor, claim: ClaimIn) -> dict[str, Any]:
    """The claim as data, its facts checked against the rule book first: a bad fact answers 422 with its field path."""
    try:
        processor.rulebook.prepare(Case(claim.input, str(claim.claim_id), path="body"))
    except CaseError as e:
        raise case_problem(e) from None
    return claim.model_dump()


def existing(store: Store, claim_id: str) -> list[Receipt]:
    chain = store.claim_receipts(claim_id)
    if not chain:
        raise ProblemError(404, "unknown-claim", f"claim {claim_id} was never processed here; send it to POST /v1/claims",
                           title="No such claim")
    return chain


@router.post("/claims", response_model=ReceiptOut, status_code=201, dependencies=[WriterDep],
             summary="Process one claim", responses={200: {"description": "the claim was decided before: its receipt",
                                                           "model": ReceiptOut}, **WRITE})
async def process(claim: ClaimIn, processor: ProcessorDep, svc: ServiceDep, response: Response) -> ReceiptOut:
    """Decide a claim and record its receipt and the eigen risico it uses, in one transaction.

    201 with the new receipt; 200 with the stored receipt when this claim (same id, same facts)
    was decided before; 422 when the claim is rejected (a bad fact, an undecidable deduction, or
    the same claim id with other facts: send a correction instead).
    """
    def run() -> Receipt:
        try:
            return processor.process(checked(processor, claim))
        except ClaimError as e:
            raise rejected(e) from None

    return answer(await in_time(svc, run), response)


@router.post("/claims/batch", response_class=JsonLines, dependencies=[WriterDep],
             summary="Process a batch of claims (JSON lines)",
             responses={200: {"description": "one JSON line per claim, in input order", "content": {
                 "application/x-ndjson": {"schema": {"type": "string"}}}}, **responses(401, 403, 404, 413)},
             openapi_extra=batch_body("one claim a line: `{\"claim_id\", \"insured_id\", \"input\": {…}}`"))
async def process_batch(request: Request, processor: ProcessorDep, svc: ServiceDep) -> JsonLines:
    """Process the claims of a JSON-lines body, recorded a few at a time in one transaction each.

    One line per claim, in input order: `{"line", "status", "claim_id", "insured_id",
    "receipt_id", "kind", "year", "deduction", "payout", "reason"}` with status `recorded`,
    `unchanged` (decided before) or `rejected` (`reason` says why; the rest go on). At the time
    limit the stream ends with a `passendezorg.stopped/1` record: send those lines again (claims
    already recorded are not recorded twice).
    """
    lines = await read_lines(request, svc)
    return JsonLines(timed(claim_lines(processor, lines), svc, lines))


def claim_lines(processor: ClaimProcessor, lines: list[tuple[int, bytes]]) -> Iterator[list[tuple[int, str]]]:
    """Per transaction of CHUNK claims, (line number, JSON text) per line: what happened to its claim."""

    def flush(items: list[tuple[int, Claim | ClaimResult]]) -> Iterator[list[tuple[int, str]]]:
        results = iter(processor.process_batch([c for _, c in items if isinstance(c, Claim)]))
        yield [(line, dumps(outcome(line, next(results) if isinstance(item, Claim) else item).model_dump()))
               for line, item in items]

    items: list[tuple[int, Claim | ClaimResult]] = []
    for line, raw in lines:
        where = f"line {line}"
        data: object = None
        try:
            data = parse(raw)
            claim = Claim.from_data(data, where)
            processor.rulebook.prepare(Case(claim.input, claim.claim_id, path=where))  # the field path of a bad fact
            items.append((line, claim))
        except (ValueError, ClaimError, CaseError) as e:
            if isinstance(e, CaseError):
                field = case_field(e.where, where)
                reason = f"{field}: {e.message}" if field else e.message
            else:
                reason = e.message if isinstance(e, ClaimError) else str(e)
            items.append((line, ClaimResult("rejected", _text(data, "claim_id"), _text(data, "insured_id"), where,
                                            reason=reason)))
        if len(items) >= CHUNK:
            yield from flush(items)
            items = []
    if items:
        yield from flush(items)


def _text(data: object, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def outcome(line: int, r: ClaimResult) -> ClaimOutcome:
    def money(v: Decimal | None) -> str | None:
        return str(v) if v is not None else None

    return ClaimOutcome(line=line, status=r.status, claim_id=r.claim_id, insured_id=r.insured_id,
                        receipt_id=r.receipt_id, kind=r.kind, year=r.year, deduction=money(r.deduction),
                        payout=money(r.payout), reason=r.reason)


@router.get("/claims/{claim_id}", response_model=list[ReceiptOut], summary="A claim's receipts",
            responses=responses(404, 504))
async def claim_receipts(claim_id: CLAIM_ID, store: StoreDep, svc: ServiceDep) -> list[ReceiptOut]:
    """Every receipt of a claim, oldest first: its decision, corrections and withdrawal; the last is its state."""
    return [receipt_out(r) for r in await in_time(svc, existing, store, claim_id)]


@router.put("/claims/{claim_id}", response_model=ReceiptOut, status_code=201, dependencies=[WriterDep],
            summary="Correct a claim", responses={200: {"description": "the same correction was made before",
                                                        "model": ReceiptOut}, **WRITE})
async def correct(claim_id: CLAIM_ID, claim: ClaimIn, processor: ProcessorDep, svc: ServiceDep,
                  response: Response) -> ReceiptOut:
    """Replace a decided claim's facts: its old deduction is given back and the claim decided anew (a new receipt)."""
    if str(claim.claim_id) != claim_id:
        raise ProblemError(422, "invalid-request", f"claim_id: the body is claim {claim.claim_id}, the path claim "
                           f"{claim_id}", title="The request is not valid")

    def run() -> Receipt:
        existing(processor.store, claim_id)
        try:
            return processor.replace(checked(processor, claim))
        except ClaimError as e:
            raise rejected(e) from None

    return answer(await in_time(svc, run), response)


@router.post("/claims/{claim_id}/withdrawal", response_model=ReceiptOut, status_code=201, dependencies=[WriterDep],
             summary="Withdraw a claim", responses={200: {"description": "the claim was withdrawn before",
                                                          "model": ReceiptOut}, **WRITE})
async def withdraw(claim_id: CLAIM_ID, processor: ProcessorDep, svc: ServiceDep, response: Response,
                   body: Annotated[Withdrawal | None, Body()] = None) -> ReceiptOut:
    """Withdraw a claim: a withdrawal receipt, and its deduction given back in the ledger."""
    def run() -> Receipt:
        existing(processor.store, claim_id)
        try:
            return processor.withdraw(claim_id, body.reason if body is not None else None)
        except ClaimError as e:
            raise rejected(e) from None

    return answer(await in_time(svc, run), response)


@router.get("/receipts/{receipt_id}", response_model=ReceiptOut, summary="A receipt", responses=responses(404, 504))
async def receipt(receipt_id: int, store: StoreDep, svc: ServiceDep) -> ReceiptOut:
    """A stored decision, correction or withdrawal: the facts, the rule book version, the decision."""
    found = await in_time(svc, store.receipt, receipt_id)
    if found is None:
        raise ProblemError(404, "unknown-receipt", f"no receipt {receipt_id}", title="No such receipt")
    return receipt_out(found)


@router.get("/receipts/{receipt_id}/replay", response_model=Replayed, summary="Replay a receipt",
            responses=responses(404, 422, 504))
async def replay(receipt_id: int, store: StoreDep, svc: ServiceDep) -> Replayed:
    """Decide a receipt again with its own stored rule book version: is the decision reproduced byte for byte?"""
    def run() -> Replayed:
        if store.receipt(receipt_id) is None:
            raise ProblemError(404, "unknown-receipt", f"no receipt {receipt_id}", title="No such receipt")
        try:
            r = replay_receipt(store, receipt_id)
        except UsageError as e:
            raise ProblemError(422, "not-replayable", str(e), title="Nothing to replay") from None
        return Replayed(receipt_id=receipt_id, reproduced=r.reproduced, differences=r.differences,
                        rulebook=r.receipt.rulebook, engine_version=r.engine_version,
                        receipt_engine_version=r.receipt.engine_version)

    return await in_time(svc, run)


@router.get("/ledger/{insured_id}", response_model=Ledger, summary="An insured person's eigen risico ledger",
            responses=responses(404, 422, 504))
async def ledger(insured_id: Annotated[str, Path(description="the insured person's id")], store: StoreDep,
                 svc: ServiceDep, year: Annotated[int | None, Query(description="only this year")] = None) -> Ledger:
    """Every ledger entry of an insured person (deductions, and reversals of them), and the total used per year."""
    entries = await in_time(svc, store.ledger, insured_id, year)
    used: dict[str, Decimal] = {}
    for e in entries:
        used[str(e.year)] = used.get(str(e.year), Decimal("0.00")) + e.amount
    return Ledger(insured_id=insured_id, used={y: str(v) for y, v in sorted(used.items())},
                  entries=[LedgerEntryOut(id=e.id, year=e.year, claim_id=e.claim_id, receipt_id=e.receipt_id,
                                          amount=str(e.amount), entry=e.entry, created_at=e.created_at)
                           for e in entries])
