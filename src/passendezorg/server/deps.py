"""What the routes depend on: the service, the rule book a request is decided on, the store, write access,
and the time limit for work done off the event loop."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from ..claims import ClaimProcessor
from ..errors import RuleBookError, UsageError
from ..rulebook import RuleBook
from ..store import Store
from .problems import ProblemError
from .service import Service
from .settings import ENV_API_KEY, ENV_DB

T = TypeVar("T")


def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


ServiceDep = Annotated[Service, Depends(service)]


def rulebook(svc: ServiceDep, scenario: Annotated[str | None, Query(
        description="decide under this scenario (a proposal; see `GET /v1/rulebook` for the names) instead of "
                    "the law in force")] = None) -> RuleBook:
    """The rule book a request is decided on: the law in force, or the law under the scenario asked for.

    Every route that decides cases takes its rule book from here. An unknown scenario is 404.
    """
    try:
        return svc.under(scenario)
    except UsageError as e:
        raise ProblemError(404, "unknown-scenario", str(e), title="No such scenario") from None
    except RuleBookError as e:
        raise ProblemError(500, "scenario-has-errors", f"scenario `{scenario}` does not check against the rule book "
                           f"in force: {e}", title="The scenario has errors") from None


RuleBookDep = Annotated[RuleBook, Depends(rulebook)]


def processor(svc: ServiceDep) -> ClaimProcessor:
    """The claim processor; 404 when the service runs without a database."""
    if svc.processor is None:
        raise ProblemError(404, "no-database", "this service runs without a database, so it keeps no claims, "
                           f"receipts or ledger: start it with --db URL (or ${ENV_DB})", title="No database")
    return svc.processor


ProcessorDep = Annotated[ClaimProcessor, Depends(processor)]


def store(claims: ProcessorDep) -> Store:
    return claims.store


StoreDep = Annotated[Store, Depends(store)]

_bearer = HTTPBearer(auto_error=False, description="the service's API key, as `Authorization: Bearer KEY`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the service's API key")


def writer(svc: ServiceDep, bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
           header: Annotated[str | None, Security(_header)]) -> None:
    """Write access: the configured API key, compared in constant time. Without a key the service is read-only."""
    key = svc.settings.api_key
    if key is None:
        raise ProblemError(403, "read-only", f"this service is read-only: to allow writes, start it with an API key "
                           f"in ${ENV_API_KEY} (or --api-key-file FILE), and send it as `Authorization: Bearer KEY`",
                           title="Writes are not enabled")
    given = bearer.credentials if bearer is not None else header
    challenge = {"WWW-Authenticate": 'Bearer realm="passendezorg"'}
    if not given:
        raise ProblemError(401, "unauthorized", "this endpoint writes: send the API key as `Authorization: Bearer KEY` "
                           "or `X-API-Key: KEY`", title="API key required", headers=challenge)
    if not hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8")):
        raise ProblemError(401, "unauthorized", "the API key is not the service's key", title="Wrong API key",
                           headers=challenge)


WriterDep = Depends(writer)


async def in_time(svc: Service, fn: Callable[..., T], *args: Any) -> T:
    """Run blocking work (an evaluation, a database call) in a worker thread, within the time limit.

    After the limit the request is answered 504; the thread is left to finish on its own (a
    thread cannot be stopped), so a claim being recorded is either recorded whole or not at all.
    """
    limit = svc.settings.timeout
    try:
        with anyio.fail_after(limit):
            return await anyio.to_thread.run_sync(functools.partial(fn, *args), abandon_on_cancel=True)
    except TimeoutError:
        raise ProblemError(504, "time-limit", f"the request took longer than the time limit of {limit:g} s; "
                           "try again (a claim is recorded once, whatever you send twice)",
                           title="Time limit reached") from None
