"""Building the served ASGI app: in the `jirabot serve` process, or in each of its workers."""

from __future__ import annotations

import gc

from starlette.applications import Starlette

from bot.container import build_components
from bot.settings import Settings
from bot.web.app import create_asgi_app


async def _freeze_heap() -> None:
    """Moves the objects made during start-up (modules, app, clients) out of the garbage collector's
    reach: otherwise every full collection walks them all, pausing the event loop 20-80 ms under load
    (measured with `python -m benchmarks.run`)."""
    gc.collect()
    gc.freeze()


def create_served_app(settings: Settings, *, socket_mode: bool = False, migrate: bool = True) -> Starlette:
    components = build_components(settings)
    # The last start-up step: what exists by then lives as long as the process.
    components.startup.append(_freeze_heap)
    return create_asgi_app(components, migrate=migrate, socket_mode=socket_mode)


def create_worker_app() -> Starlette:
    """uvicorn's factory for `jirabot serve --workers N`: settings from the same environment and `.env`;
    the parent process has applied the migrations already."""
    from bot.boot import settings_or_exit
    from bot.logs import configure_logging

    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    return create_served_app(settings, migrate=False)
