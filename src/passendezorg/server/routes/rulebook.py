"""The rule book: which version is served and what it holds, and the JSON Schemas of a case and a decision."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...model import Decision
from ...schema import case_schema
from ..deps import RuleBookDep, ServiceDep
from ..models import RuleBookInfo

router = APIRouter(prefix="/v1", tags=["rule book"])


@router.get("/rulebook", response_model=RuleBookInfo, summary="The rule book's version and contents")
async def rulebook(svc: ServiceDep, book: RuleBookDep) -> RuleBookInfo:
    """The content hash (the version every decision names), language, rulesets, inputs, outputs with
    their types, rules with their titles and sources, the names of parameters and tables, and the
    scenarios decisions can be asked under; with `?scenario=NAME`, the rule book under that scenario."""
    return svc.info_of(book)


@router.get("/schemas/case", summary="JSON Schema of a case")
async def case(book: RuleBookDep) -> dict[str, Any]:
    """The JSON Schema of a case file, from the rule book's input declarations (as `passendezorg schema case`)."""
    return case_schema(book)


@router.get("/schemas/decision", summary="JSON Schema of a decision")
async def decision() -> dict[str, Any]:
    """The JSON Schema of a decision (as `passendezorg schema decision`)."""
    return Decision.model_json_schema()
