"""Batches over HTTP: a JSON-lines body in, one JSON line out per line, streamed as they are decided.

A line that cannot be read is answered by a record with its line number, and the rest go on.
When the time limit is reached the stream ends with one ``passendezorg.stopped/1`` record
that names the first line not done.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import Request
from starlette.responses import StreamingResponse

from .problems import ProblemError
from .service import Service

MEDIA_TYPE = "application/x-ndjson"
STOPPED = "passendezorg.stopped/1"

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class JsonLines(StreamingResponse):
    media_type = MEDIA_TYPE


def dumps(record: dict[str, Any]) -> str:
    return _DUMPS(record)


async def read_lines(request: Request, svc: Service) -> list[tuple[int, bytes]]:
    """The non-empty lines of the body with their numbers; 413 when there are more than the batch limit."""
    body = await request.body()
    lines = [(n, raw) for n, raw in enumerate(body.split(b"\n"), start=1) if raw.strip()]
    limit = svc.settings.max_batch_lines
    if len(lines) > limit:
        raise ProblemError(413, "batch-too-large", f"the batch has {len(lines)} lines, more than the limit of {limit}: "
                           "split it, or start the service with a larger --max-batch-lines", title="Batch too large")
    return lines


def parse(raw: bytes) -> Any:
    """One line's JSON; ValueError (with the reason and column) if it is not."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 text ({e.reason})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON (column {e.colno}): {e.msg}") from None


def record_id(data: Any) -> str | None:
    """The name or id a line gives its case or claim, if it can be read at all."""
    if isinstance(data, dict):
        name = data.get("name") or data.get("id") or data.get("claim_id")
        return str(name) if name is not None else None
    return None


def stopped(line: int, limit: float) -> str:
    return dumps({"format": STOPPED, "line": line,
                  "error": f"the time limit of {limit:g} s was reached: line {line} and the lines after it were not "
                           "done; send them again"})


def timed(units: Iterable[list[tuple[int, str]]], svc: Service, lines: list[tuple[int, bytes]]) -> Iterator[str]:
    """The JSON lines of ``units`` of work (each a list of line number and text), until the time limit.

    The limit is checked between units: a unit (a case, or a transaction of claims) is
    reported whole once it is done, and the stream then ends with the first line not done.
    """
    limit = svc.settings.timeout
    deadline = time.monotonic() + limit
    chunk: list[str] = []
    size = 0
    for unit in units:
        for _, text in unit:
            chunk.append(text)
            chunk.append("\n")
            size += len(text)
        if unit and time.monotonic() > deadline:
            done = unit[-1][0]
            rest = [n for n, _ in lines if n > done]
            if rest:
                chunk.append(stopped(rest[0], limit) + "\n")
            yield "".join(chunk)
            return
        if size >= 1 << 16:
            yield "".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield "".join(chunk)


def batch_body(description: str) -> dict[str, Any]:
    """The OpenAPI description of a JSON-lines request body and response."""
    return {
        "requestBody": {"required": True, "description": description,
                        "content": {MEDIA_TYPE: {"schema": {"type": "string"}}}},
    }
