"""Errors as problem details (RFC 9457): one JSON shape for every error the service answers with.

A problem names its kind in ``type`` (``urn:passendezorg:problem:<kind>``, or ``about:blank``
for a plain HTTP error such as an unknown path), says what happened in ``detail``, and for a
bad request lists each bad field in ``errors`` with its path (``input.behandeling.zitting``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope

from ..errors import CaseError, PassendeZorgError

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:passendezorg:problem:"

log = logging.getLogger("passendezorg.server")


class FieldError(BaseModel):
    """One bad field of a request."""

    field: str = Field(description="where: a dotted path in the JSON body (input.behandeling.zitting), "
                                   "or query.NAME, path.NAME, header.NAME for a parameter")
    message: str


class Problem(BaseModel):
    """A problem detail (RFC 9457)."""

    type: str = Field("about:blank", description="the kind of problem: urn:passendezorg:problem:<kind>, or about:blank")
    title: str = Field(description="a short summary of the kind of problem")
    status: int = Field(description="the HTTP status code")
    detail: str | None = Field(None, description="what went wrong in this request, and what to do")
    instance: str | None = Field(None, description="the path of the request")
    request_id: str | None = Field(None, description="the request's id, as in the X-Request-ID header and the log")
    errors: list[FieldError] | None = Field(None, description="each bad field, with its path")


class ProblemError(HTTPException):
    """An error the service answers as a problem detail; raised anywhere a request is handled."""

    def __init__(self, status: int, kind: str | None, detail: str, *, title: str | None = None,
                 errors: Sequence[FieldError] = (), headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, detail, dict(headers) if headers else None)
        self.kind = kind
        self.title = title or HTTPStatus(status).phrase
        self.errors = list(errors)


def problem_response(scope: Scope, status: int, detail: str | None, *, kind: str | None = None,
                     title: str | None = None, errors: Sequence[FieldError] = (),
                     headers: Mapping[str, str] | None = None) -> Response:
    """The problem+json response of a request (``scope``): also usable where no Request exists yet."""
    state = scope.get("state") or {}
    body = Problem(
        type=TYPE_PREFIX + kind if kind else "about:blank",
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=scope.get("path"),
        request_id=state.get("request_id"),
        errors=list(errors) or None,
    )
    return Response(json.dumps(body.model_dump(exclude_none=True), ensure_ascii=False), status, dict(headers or {}),
                    media_type=MEDIA_TYPE)


def case_field(where: str, prefix: str) -> str:
    """The field path of a CaseError raised for a case read as ``prefix`` (``body: input.x`` → ``input.x``)."""
    if where == prefix:
        return ""
    return where.removeprefix(prefix + ": ")


def case_problem(e: CaseError, prefix: str = "body", status: int = 422) -> ProblemError:
    """A malformed case as a problem, with the field path the library gives."""
    field = case_field(e.where, prefix)
    return ProblemError(status, "invalid-case", f"{field}: {e.message}" if field else e.message,
                        title="The case is not valid", errors=[FieldError(field=field or "input", message=e.message)])


def _loc(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a field path: body fields dotted, list items in brackets."""
    where, *rest = [*loc] or ["body"]
    path = ""
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if where == "body":
        return path or "body"
    return f"{where}.{path}" if path else str(where)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ProblemError):
        return problem_response(request.scope, exc.status_code, exc.detail, kind=exc.kind, title=exc.title,
                                errors=exc.errors, headers=exc.headers)
    detail = exc.detail if exc.detail != HTTPStatus(exc.status_code).phrase else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = None
    if exc.status_code == 404 and detail is None:
        detail = f"no such endpoint: {request.method} {request.url.path}; the endpoints are listed in /openapi.json"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(request.scope, exc.status_code, detail, headers=exc.headers)


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    bad_json = [e for e in errors if e.get("type") == "json_invalid"]
    if bad_json:
        e = bad_json[0]
        pos = e["loc"][1] if len(e["loc"]) > 1 else None
        reason = (e.get("ctx") or {}).get("error", "JSON decode error")
        at = f" (at character {pos})" if isinstance(pos, int) else ""
        return problem_response(request.scope, 400, f"the body is not valid JSON: {reason}{at}", kind="malformed-json",
                                title="The body is not valid JSON")
    if not _is_json(request) and any(tuple(e["loc"]) == ("body",) for e in errors):
        return problem_response(request.scope, 415, "send the body as JSON, with the header "
                                "Content-Type: application/json", kind="unsupported-media-type")
    fields = [FieldError(field=_loc(e["loc"]), message=str(e.get("msg", "invalid")).removeprefix("Value error, "))
              for e in errors]
    detail = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return problem_response(request.scope, 422, detail, kind="invalid-request", title="The request is not valid",
                            errors=fields)


async def _library_error(request: Request, exc: Exception) -> Response:
    from ..store import StoreError

    if isinstance(exc, StoreError):  # the database cannot be used (locked, damaged, not writable): say what and why
        log.warning("the database failed: %s", exc, extra={"request_id": request.state.request_id}
                    if hasattr(request.state, "request_id") else None)
        return problem_response(request.scope, 503, f"{exc}; try again later", kind="database-unavailable",
                                title="Database unavailable")
    if isinstance(exc, CaseError):
        p = case_problem(exc)
        return problem_response(request.scope, p.status_code, p.detail, kind=p.kind, title=p.title, errors=p.errors)
    return problem_response(request.scope, 422, str(exc), kind="unprocessable")


async def _database_error(request: Request, exc: Exception) -> Response:
    from ..store import first_line

    log.warning("the database failed: %s", first_line(exc), extra={"request_id": request.state.request_id}
                if hasattr(request.state, "request_id") else None)
    return problem_response(request.scope, 503, f"the database failed: {first_line(exc)}; try again later",
                            kind="database-unavailable", title="Database unavailable")


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem detail, FastAPI's own validation errors included."""
    from sqlalchemy.exc import DBAPIError

    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(PassendeZorgError, _library_error)
    app.add_exception_handler(DBAPIError, _database_error)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route can give."""
    what = {
        400: "the body is not valid JSON", 401: "the API key is missing or wrong",
        403: "writes are not enabled on this service", 404: "not found",
        413: "the body or the batch is too large", 415: "the body is not JSON",
        422: "the request or the case is not valid", 503: "not ready", 504: "the request took longer than the time limit",
    }
    return {s: {"model": Problem, "description": what.get(s, HTTPStatus(s).phrase)} for s in statuses}
