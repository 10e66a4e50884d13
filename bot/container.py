"""The one place that wires settings, storage, clients, services, the Bolt app and the scheduler."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from slack_bolt.async_app import AsyncApp
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

from bot.clock import Clock, SystemClock
from bot.settings import DEFAULT_SQLITE_PATH, Settings
from bot.slack.app import SlackGateway, build_bolt_app, build_installation_store
from bot.services.admins import AdminPolicy
from bot.services.linking import JiraClientFactory, LinkingService
from bot.services.notify import Notifier
from bot.services.oauth_apps import OAuthApps
from bot.services.projects import ProjectDirectory
from bot.services.tokens import TokenService
from bot.slack.listeners import commands
from bot.slack.listeners import linking as linking_listeners
from bot.web.oauth import oauth_callback_route
from storage.crypto import Encryptor, load_or_create_key_file
from storage.db import async_database_url, create_engine
from storage.store import Storage

log = logging.getLogger(__name__)


def resolve_encryptor(settings: Settings) -> Encryptor:
    if settings.jirabot_encryption_key is not None:
        return Encryptor.from_string(settings.jirabot_encryption_key.get_secret_value())
    sqlite_path = settings.sqlite_path or DEFAULT_SQLITE_PATH
    return Encryptor.from_string(load_or_create_key_file(Path(sqlite_path).resolve().parent))


@dataclass
class Components:
    settings: Settings
    clock: Clock
    storage: Storage
    http: httpx.AsyncClient
    installation_store: AsyncInstallationStore | None
    gateway: SlackGateway
    bolt: AsyncApp
    router: commands.CommandRouter
    # Extra HTTP routes and start/stop hooks that features add while being wired.
    services: dict[str, Any] = field(default_factory=dict)
    routes: list[Any] = field(default_factory=list)
    startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.storage.db.dispose()


def build_components(settings: Settings, *, clock: Clock | None = None,
                     http: httpx.AsyncClient | None = None) -> Components:
    clock = clock or SystemClock()
    url = async_database_url(settings.database_url, DEFAULT_SQLITE_PATH)
    engine = create_engine(url)
    storage = Storage.create(engine, resolve_encryptor(settings))
    http = http or httpx.AsyncClient(
        timeout=httpx.Timeout(settings.jirabot_http_timeout, connect=5.0),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"User-Agent": "jirabot/0.1"},
    )
    installation_store = build_installation_store(settings, engine)
    gateway = SlackGateway(settings, installation_store)
    bolt = build_bolt_app(settings, engine, installation_store)
    router = commands.CommandRouter()
    commands.register(bolt, router)
    components = Components(
        settings=settings,
        clock=clock,
        storage=storage,
        http=http,
        installation_store=installation_store,
        gateway=gateway,
        bolt=bolt,
        router=router,
    )
    _wire_linking(components)
    return components


def _wire_linking(c: Components) -> None:
    apps = OAuthApps(c.settings, c.http)
    tokens = TokenService(c.settings, c.storage, apps, c.http, c.clock)
    linking = LinkingService(c.settings, c.storage, apps, c.clock, JiraClientFactory(c.settings, c.http))
    admins = AdminPolicy(c.settings.jirabot_admins)
    notifier = Notifier(c.gateway, linking, admins)
    tokens.on_broken_link(notifier.reconnect_needed)
    projects = ProjectDirectory(c.storage, tokens)
    c.services.update(apps=apps, tokens=tokens, linking=linking, admins=admins, notifier=notifier,
                      projects=projects)
    linking_listeners.register(c.bolt, c.router, linking_listeners.LinkingListeners(
        linking=linking, admins=admins, notifier=notifier, projects=projects,
        redirect_uri=c.settings.oauth_redirect_uri, cloud_available=apps.cloud_configured,
    ))
    c.routes.append(oauth_callback_route(linking, notifier))
