"""The application: the routers, the error handling, the middleware, and the OpenAPI document."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..claims import USED_INPUT
from ..schema import case_schema
from ..version import __version__
from . import problems
from .middleware import BodyLimit, RequestContext
from .routes import claims, evaluate, health, rulebook
from .service import Service
from .settings import Settings

DESCRIPTION = """\
Reasoned decisions on the rules of the Dutch basic health insurance: evaluate a case (or a
batch as JSON lines), ask why a rule did not decide, read the rule book's version and
contents, and — when the service has a database — process claims with receipts and the
eigen risico ledger. Errors are problem details (RFC 9457, `application/problem+json`);
writes need the service's API key (`Authorization: Bearer KEY`).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI application for ``settings`` (by default from the PASSENDEZORG_* environment variables).

    Loads and checks the rule book and opens the database now, so that a broken rule book
    or an unreachable database stops the service before it listens.
    """
    settings = settings or Settings.from_env()
    service = Service.start(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            service.close()

    app = FastAPI(title="passendezorg", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url="/docs", redoc_url=None)
    app.state.service = service
    problems.install(app)
    for r in (evaluate.router, rulebook.router, claims.router, health.router):
        app.include_router(r)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext)  # outermost: every request gets its id and its log record

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(app, service)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    """The application configured by environment variables: `uvicorn --factory passendezorg.server:app_from_env`."""
    return create_app(Settings.from_env())


def openapi_document(app: FastAPI, service: Service) -> dict[str, Any]:
    """FastAPI's OpenAPI document, with the rule book's own case schema and problem details as error bodies."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    inputs = case_schema(service.book)["properties"]["input"]
    schemas["CaseInput"] = {**inputs, "title": "CaseInput",
                            "description": f"the facts of a case for rule book {service.book.content_hash}"}
    schemas["CaseIn"]["properties"]["input"] = {"$ref": "#/components/schemas/CaseInput"}
    claim_inputs = _without(copy.deepcopy(inputs), USED_INPUT.split("."))
    schemas["ClaimInput"] = {**claim_inputs, "title": "ClaimInput",
                             "description": "the facts of a claim, without the eigen risico already used (the "
                                            "ledger gives it)"}
    schemas["ClaimIn"]["properties"]["input"] = {"$ref": "#/components/schemas/ClaimInput"}
    problem = {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path in doc.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45":  # every error is a problem detail, FastAPI's 422 included
                    response["content"] = copy.deepcopy(problem)
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}\"" not in json.dumps({**doc, "components": {}}):
            schemas.pop(unused, None)
    return doc


def _without(schema: dict[str, Any], path: list[str]) -> dict[str, Any]:
    """An object schema without the property at ``path`` (a dotted name), nested or given by a dotted rest."""
    node = schema
    for i in range(len(path)):
        node.get("properties", {}).pop(".".join(path[i:]), None)
        node = node.get("properties", {}).get(path[i], {})
    return schema
