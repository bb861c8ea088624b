"""ASGI middleware: a request id and one log record per request; the body size limit."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import ProblemError, problem_response

log = logging.getLogger("passendezorg.server")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContext:
    """Gives each request an id (the client's X-Request-ID if it is sensible), and logs it when it ends.

    The log record: method, path, status, duration in milliseconds, request id and client.
    An error no handler answered is logged here with its traceback, once, and answered 500
    as a problem detail; the client never sees a traceback.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        began = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", rid)
            await send(message)

        failed: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as e:  # noqa: BLE001 - answered and logged here, once
            failed = e
            if status == 0:
                response = problem_response(scope, 500, "an internal error; the request id identifies it in the "
                                            "service's log", kind="internal-error")
                await response(scope, receive, send_with_id)
            status = status or 500
        client = scope.get("client")
        fields = {
            "request_id": rid, "method": scope["method"], "path": scope["path"], "status": status,
            "duration_ms": round((time.perf_counter() - began) * 1000, 2),
            "client": f"{client[0]}:{client[1]}" if client else None,
        }
        if failed is not None:
            log.error("request failed", extra=fields, exc_info=failed)
        else:
            log.info("request", extra=fields)


class BodyLimit:
    """Refuses a request body larger than ``max_bytes`` with 413: at once by its Content-Length, else as it arrives."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return (f"the body is larger than the limit of {self.max_bytes} bytes; send less (split a batch), or start "
                "the service with a larger --max-body-bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await problem_response(scope, 413, self._too_large(), kind="body-too-large",
                                   headers={"Connection": "close"})(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise ProblemError(413, "body-too-large", self._too_large(), headers={"Connection": "close"})
            return message

        await self.app(scope, counted, send)
