"""The `serve` command: the HTTP API on uvicorn. FastAPI and uvicorn are imported only when it runs.

``register(group)`` adds it to a click group (the main CLI calls it).
"""

from __future__ import annotations

import json
import os
import sys
from importlib.util import find_spec
from pathlib import Path

import click

from .cli_options import RULES_DIR
from .errors import UsageError
from .logs import ENV_LOG_LEVEL, LOG_LEVELS
from .server.settings import (
    DEFAULT_MAX_BATCH_LINES,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_RULES,
    DEFAULT_TIMEOUT,
    ENV_API_KEY,
    ENV_DB,
    ENV_MAX_BATCH_LINES,
    ENV_MAX_BODY_BYTES,
    ENV_RULES,
    ENV_SCENARIOS,
    ENV_TIMEOUT,
    Settings,
    read_api_key,
)


def need_serve_extra() -> None:
    """UsageError saying what to install when the `serve` extra (FastAPI, uvicorn) is missing."""
    missing = [m for m in ("fastapi", "uvicorn") if find_spec(m) is None]
    if missing:
        raise UsageError(f"the HTTP API needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                         'not installed: pip install "passendezorg[serve]"')


@click.command("serve")
@click.option("--rules", "rules_dir", type=RULES_DIR, metavar="DIR", envvar=ENV_RULES, show_envvar=True,
              default=DEFAULT_RULES, show_default=True, help="rule book folder")
@click.option("--scenarios", "scenarios_dir", type=click.Path(path_type=Path, file_okay=False), envvar=ENV_SCENARIOS,
              show_envvar=True, metavar="DIR",
              help="folder of the rule book's scenarios (default: scenarios/ beside the rules folder)")
@click.option("--db", "db", metavar="URL", envvar=ENV_DB, show_envvar=True,
              help="database URL or SQLite file for claims, receipts and the ledger (none: decisions only)")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (0.0.0.0: every interface)")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="port to listen on (0: any free port; the log says which)")
@click.option("--api-key-file", type=click.Path(path_type=Path), metavar="FILE",
              help=f"file holding the API key that allows writes (or ${ENV_API_KEY}); without a key the service "
                   "is read-only")
@click.option("--max-body-bytes", type=click.IntRange(min=1), envvar=ENV_MAX_BODY_BYTES, show_envvar=True,
              default=DEFAULT_MAX_BODY_BYTES, show_default=True, help="largest request body (larger: 413)")
@click.option("--max-batch-lines", type=click.IntRange(min=1), envvar=ENV_MAX_BATCH_LINES, show_envvar=True,
              default=DEFAULT_MAX_BATCH_LINES, show_default=True, help="most lines in one batch (more: 413)")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), envvar=ENV_TIMEOUT, show_envvar=True,
              default=DEFAULT_TIMEOUT, show_default=True, help="seconds a request may take (longer: 504)")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), envvar=ENV_LOG_LEVEL, show_envvar=True, default="info",
              show_default=True, help="JSON log lines on standard error from this level on")
@click.option("--openapi", "openapi_out", type=click.Path(path_type=Path, allow_dash=True), metavar="FILE",
              help="write the OpenAPI document to FILE ('-': standard output) and exit, without serving")
def serve(rules_dir: Path, scenarios_dir: Path | None, db: str | None, host: str, port: int, api_key_file: Path | None,
          max_body_bytes: int, max_batch_lines: int, timeout: float, log_level: str, openapi_out: Path | None) -> None:
    """Serve the rule book over HTTP: decisions, batches, why-not, schemas and the rule book's metadata;
    with --db also claims, receipts and the ledger.

    Needs the `serve` extra: pip install "passendezorg[serve]". The API is described at
    /openapi.json (and /docs); health at /healthz, readiness at /readyz. One JSON log line
    per request on standard error.
    """
    need_serve_extra()
    api_key = read_api_key(api_key_file) if api_key_file is not None else os.environ.get(ENV_API_KEY) or None
    settings = Settings(rules=rules_dir, scenarios=scenarios_dir, db=None if openapi_out is not None else (db or None),
                        api_key=api_key, max_body_bytes=max_body_bytes, max_batch_lines=max_batch_lines,
                        timeout=timeout, log_level=log_level)
    from .server.app import create_app

    app = create_app(settings)
    if openapi_out is not None:
        text = json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
        if str(openapi_out) == "-":
            sys.stdout.write(text)
        else:
            try:
                openapi_out.write_text(text, encoding="utf-8")
            except OSError as e:
                raise UsageError(f"{openapi_out}: cannot write the OpenAPI document there ({e.strerror or e})") from None
            click.echo(f"wrote the OpenAPI document to {openapi_out}", err=True)
        return
    import uvicorn

    from .server.logs import logging_config

    uvicorn.run(app, host=host, port=port, log_config=logging_config(log_level), access_log=False,
                server_header=False, timeout_graceful_shutdown=max(1, int(timeout)))


def register(group: click.Group) -> None:
    """Add the `serve` command to a click group."""
    group.add_command(serve)
