"""The Bolt app: single-workspace (bot token) or multi-workspace (Slack OAuth install)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from storage.crypto import Encryptor
from storage.models import SLACK_BOTS_TABLE, SLACK_INSTALLATIONS_TABLE, SLACK_OAUTH_STATES_TABLE
from storage.slack_installations import EncryptedInstallationStore

log = logging.getLogger(__name__)

BOT_SCOPES = [
    "commands",
    "chat:write",
    "chat:write.public",  # thread replies in public channels the bot has not joined
    "im:write",
    "users:read",
    "users:read.email",
    "channels:read",
    "groups:read",
    "links:read",
    "links:write",
]
SLACK_DEFAULT_API = "https://slack.com/api/"


def new_web_client(
    settings: Settings, token: str | None = None, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """Every Web API call goes to SLACK_API_URL, with rate-limit retries on."""
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=15,
        session=session,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )


class SlackConnections:
    """One aiohttp session (a pool of kept-alive connections) for every Slack Web API call.

    Without it slack_sdk opens a new session, and connection, per call. It must be made inside the
    running event loop, so it is opened at start-up and handed to the clients that exist by then;
    Bolt copies the app client's session into the client it makes for each request.
    """

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self._clients: list[AsyncWebClient] = []
        self.trace_configs: list[aiohttp.TraceConfig] = []  # tracing's hooks, when it is on

    def share_with(self, client: AsyncWebClient) -> AsyncWebClient:
        self._clients.append(client)
        client.session = self.session
        return client

    async def open(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30),
            trace_configs=list(self.trace_configs) or None,
        )
        for client in self._clients:
            client.session = self.session

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None
        for client in self._clients:
            client.session = None


def slack_authorize_url(settings: Settings) -> str:
    if settings.slack_api_url == SLACK_DEFAULT_API:
        return "https://slack.com/oauth/v2/authorize"
    parts = urlsplit(settings.slack_api_url)
    return f"{parts.scheme}://{parts.netloc}/oauth/v2/authorize"


def build_installation_store(
    settings: Settings, engine: AsyncEngine, encryptor: Encryptor
) -> EncryptedInstallationStore | None:
    if not settings.multi_workspace:
        return None
    return EncryptedInstallationStore(
        client_id=settings.slack_client_id or "",
        engine=engine,
        encryptor=encryptor,
        bots_table_name=SLACK_BOTS_TABLE,
        installations_table_name=SLACK_INSTALLATIONS_TABLE,
    )


def build_bolt_app(
    settings: Settings, engine: AsyncEngine, installation_store: AsyncInstallationStore | None
) -> AsyncApp:
    if not settings.multi_workspace:
        assert settings.slack_bot_token is not None
        # The token goes to Bolt, not a client of ours: Bolt also reads SLACK_BOT_TOKEN from the
        # environment, and given a client as well it warns that the token goes unused. Its own client
        # is then pointed at SLACK_API_URL, with our timeout and retries.
        app = AsyncApp(
            name="jirabot",
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            token=settings.slack_bot_token.get_secret_value(),
            logger=logging.getLogger("slack_bolt"),
        )
        configured = new_web_client(settings)
        app.client.base_url = configured.base_url
        app.client.timeout = configured.timeout
        app.client.retry_handlers = configured.retry_handlers
        return app
    assert settings.slack_client_secret is not None
    state_store = AsyncSQLAlchemyOAuthStateStore(
        expiration_seconds=600, engine=engine, table_name=SLACK_OAUTH_STATES_TABLE
    )
    oauth_settings = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=BOT_SCOPES,
        installation_store=installation_store,
        state_store=state_store,
        install_path="/slack/install",
        redirect_uri_path="/slack/oauth_redirect",
        redirect_uri=f"{settings.jirabot_public_url}/slack/oauth_redirect",
        authorization_url=slack_authorize_url(settings),
    )
    return AsyncApp(
        name="jirabot",
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        client=new_web_client(settings),
        installation_store=installation_store,
        oauth_settings=oauth_settings,
        logger=logging.getLogger("slack_bolt"),
    )


class SlackGateway:
    """Web API clients for work done outside a Slack request (OAuth callback, jobs)."""

    def __init__(
        self,
        settings: Settings,
        installation_store: AsyncInstallationStore | None,
        connections: SlackConnections,
    ) -> None:
        self._settings = settings
        self._store = installation_store
        self._connections = connections
        self._single: AsyncWebClient | None = (
            connections.share_with(new_web_client(settings, settings.slack_bot_token.get_secret_value()))
            if settings.slack_bot_token is not None
            else None
        )

    async def client_for(
        self, team_id: str | None, enterprise_id: str | None = None
    ) -> AsyncWebClient | None:
        if self._single is not None:
            return self._single
        if self._store is None:
            return None
        bot = await self._store.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=False
        )
        if bot is None or not bot.bot_token:
            return None
        return new_web_client(self._settings, bot.bot_token, self._connections.session)
