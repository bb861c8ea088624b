"""Health (the process answers) and readiness (the rule book is loaded and the database answers)."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import ServiceDep, in_time
from ..models import Health, Ready
from ..problems import ProblemError, responses

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Ready, summary="Ready to serve", responses=responses(503))
async def readyz(svc: ServiceDep) -> Ready:
    """200 when the rule book is loaded and, when one is configured, the database answers; else 503."""
    store = svc.store
    if store is None:
        return Ready(rulebook=svc.book.content_hash, database="not configured")
    from ...store import first_line

    try:
        await in_time(svc, store.schema_version)
    except ProblemError as e:
        raise ProblemError(503, "not-ready", f"the database does not answer: {e.detail}", title="Not ready") from None
    except Exception as e:  # noqa: BLE001 - whatever the driver raises, the answer is: not ready
        raise ProblemError(503, "not-ready", f"the database does not answer: {first_line(e)}",
                           title="Not ready") from None
    return Ready(rulebook=svc.book.content_hash, database="ok")
