"""The HTTP API: ``passendezorg serve``, or ``create_app(settings)`` for any ASGI server.

    from passendezorg.server import Settings, create_app
    app = create_app(Settings(rules=Path("rules"), db="sqlite:///claims.db"))

Needs the ``serve`` extra (FastAPI and uvicorn): ``pip install "passendezorg[serve]"``.
The settings (``passendezorg.server.settings``) import without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .settings import Settings

if TYPE_CHECKING:
    from .app import app_from_env, create_app


def __getattr__(name: str) -> object:
    if name in ("create_app", "app_from_env"):  # FastAPI is imported only when the application is made
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module 'passendezorg.server' has no attribute {name!r}")


__all__ = ["Settings", "app_from_env", "create_app"]
