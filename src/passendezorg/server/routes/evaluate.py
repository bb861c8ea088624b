"""Decisions: one case, a batch of cases as JSON lines, and why a rule did not decide."""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from ...batch import iter_fast
from ...cases import Case, case_from_record
from ...errors import CaseError, PassendeZorgError, UsageError
from ...model import CaseFailure, Decision, FastDecision, WhyNot
from ...rulebook import RuleBook
from ..deps import RuleBookDep, ServiceDep, in_time
from ..jsonlines import JsonLines, batch_body, dumps, parse, read_lines, record_id, timed
from ..models import CaseIn
from ..problems import ProblemError, responses

router = APIRouter(prefix="/v1", tags=["decisions"])

BODY = "body"  # what a case sent as the request body is called in its errors: `body: input.behandeling.zitting`


def body_case(case: CaseIn) -> Case:
    return Case(input=case.input, name=case.name, description=case.description, on=case.on, path=BODY)


@router.post("/evaluate", response_model=Decision, summary="Evaluate one case",
             responses=responses(400, 413, 415, 422, 504))
async def evaluate(case: CaseIn, book: RuleBookDep, svc: ServiceDep) -> Response:
    """The reasoned decision for one case: every output with the rule that decided it, its sources and facts.

    The same rule book and case give the same bytes as `passendezorg evaluate --format json`
    and `RuleBook.evaluate(case).to_json()`. A malformed fact is answered 422 with its field path.
    """
    text = await in_time(svc, lambda: book.evaluate(body_case(case)).to_json())
    return Response(text, media_type="application/json")


@router.post("/rules/{rule}/why-not", response_model=WhyNot, summary="Why a rule did not decide a case",
             responses=responses(400, 404, 413, 415, 422, 504))
async def why_not(rule: Annotated[str, Path(description="the rule's name")], case: CaseIn, book: RuleBookDep,
                  svc: ServiceDep) -> WhyNot:
    """Why RULE did not decide this case: not in force, the condition that failed (with the values), or the
    exception that overrode it."""

    def run() -> WhyNot:
        c = body_case(case)
        try:
            return book.why_not_answer(rule, c)
        except UsageError as e:
            raise ProblemError(404, "unknown-rule", str(e), title="No such rule") from None

    return await in_time(svc, run)


@router.post("/evaluate/batch", response_class=JsonLines, summary="Evaluate a batch of cases (JSON lines)",
             responses={200: {"description": "one JSON line per case, in input order", "content": {
                 "application/x-ndjson": {"schema": {"type": "string"}}}}, **responses(400, 413, 422)},
             openapi_extra=batch_body("one case a line: `{\"input\": {…}, \"name\": …}`, or the facts themselves "
                                      "with an `id`"))
async def batch(request: Request, book: RuleBookDep, svc: ServiceDep,
                explain: Annotated[bool, Query(description="the full reasoned decision per case instead of its values "
                                                           "and deciding rules")] = False,
                on: Annotated[dt.date | None, Query(description="evaluate every case on this date")] = None) -> JsonLines:
    """One JSON line per case, in input order, streamed as the cases are decided.

    Per case: its output values and deciding rules (`{"case", "values", "rules"}`, plus `status`,
    `needs` and `reason` where an output is not a plain value), or with `explain=true` the full
    decision. A line that is not a valid case gives `{"format": "passendezorg.failure/1", "case",
    "line", "error"}` and the rest go on. At the time limit the stream ends with a
    `passendezorg.stopped/1` record naming the first line not done.
    """
    lines = await read_lines(request, svc)
    return JsonLines(timed(decide_lines(book, lines, on, explain), svc, lines))


def decide_lines(book: RuleBook, lines: list[tuple[int, bytes]], on: dt.date | None, explain: bool
                 ) -> Iterator[list[tuple[int, str]]]:
    """Per case (line number, JSON text): its decision or failure record, after the failures of the lines before it."""
    # failures, and the lines whose decision comes next (with the case's name or id, for its failure record)
    pending: deque[tuple[int, str | None]] = deque()
    names: deque[str | None] = deque()

    def cases() -> Iterator[Any]:
        for line, raw in lines:
            data = None
            where = f"line {line}"
            try:
                data = parse(raw)
                if explain:
                    item: Any = case_from_record(data, where, default_name=str(line))
                elif isinstance(data, dict):
                    item = data  # as a mapping the compiled typer reads it: much faster than a Case
                else:
                    raise CaseError(where, "a case is a mapping: {\"input\": {…}}, or the facts with an id")
            except (ValueError, CaseError) as e:
                error = str(e) if isinstance(e, CaseError) else f"{where}: {e}"
                pending.append((line, failure(record_id(data), line, error)))
                continue
            pending.append((line, None))
            names.append(record_id(data))
            yield item

    def failures() -> list[tuple[int, str]]:
        out = []
        while pending and pending[0][1] is not None:
            line, text = pending.popleft()
            out.append((line, str(text)))
        return out

    results = (explained(book, c, on) for c in cases()) if explain else iter_fast(book, cases(), on)
    for result in results:
        unit = failures()
        line = pending.popleft()[0]
        name = names.popleft()
        if isinstance(result, Decision):
            unit.append((line, result.to_json()))
        elif isinstance(result, FastDecision):
            rec = result.as_json()
            if rec["case"] is None:
                rec["case"] = str(line)
            unit.append((line, dumps(rec)))
        else:  # the library names a case given as a mapping `case`; here it is its line
            error = result.error.removeprefix("case: ")
            if not error.startswith(f"line {line}: "):
                error = f"line {line}: {error}"
            unit.append((line, failure(result.case or name, line, error)))
        yield unit
    yield failures()


def explained(book: RuleBook, case: Case, on: dt.date | None) -> Decision | CaseFailure:
    try:
        return book.evaluate(case, on)
    except PassendeZorgError as e:
        return CaseFailure(case=case.name, error=str(e))


def failure(case: str | None, line: int, error: str) -> str:
    return CaseFailure(case=case, line=line, error=error).to_json()
