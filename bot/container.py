"""The one place that wires settings, storage, clients, services, the Bolt app and the scheduler."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from slack_bolt.async_app import AsyncApp

from bot.clock import Clock, SystemClock
from bot.jira.fence import build_jira_transport
from bot.jira.personal_data import PersonalDataClient
from bot.jobs.scheduler import JobScheduler
from bot.jobs.tasks import JobServices, build_jobs, webhook_upkeep_job
from bot.observability import slack as slack_observer
from bot.observability.metrics import Metrics
from bot.services.add_to_issue import AddToIssueService
from bot.services.admins import AdminPolicy
from bot.services.authorizations import AuthorizationService
from bot.services.channel_events import ChannelEventService
from bot.services.inbox import InboxDispatcher
from bot.services.issue_cards import IssueCardService
from bot.services.issues import IssueService
from bot.services.linking import JiraClientFactory, LinkingService
from bot.services.oauth_apps import OAuthApps
from bot.services.personal import PersonalNotificationService
from bot.services.personal_data import PersonalDataService
from bot.services.projects import ProjectDirectory
from bot.services.subscriptions import SubscriptionService
from bot.services.tokens import TokenService
from bot.services.unfurls import UnfurlService
from bot.services.upkeep import Hygiene, KeyRotation, TokenUpkeep, WorkspaceCleanup
from bot.services.webhook_upkeep import WebhookUpkeep
from bot.settings import DEFAULT_SQLITE_PATH, Settings
from bot.slack.abandoned_creates import AbandonedCreates
from bot.slack.app import SlackConnections, SlackGateway, build_bolt_app, build_installation_store
from bot.slack.directory import SlackDirectory
from bot.slack.listeners import add_to_issue as add_listeners
from bot.slack.listeners import cards as card_listeners
from bot.slack.listeners import commands, errors
from bot.slack.listeners import issues as issue_listeners
from bot.slack.listeners import lifecycle as lifecycle_listeners
from bot.slack.listeners import linking as linking_listeners
from bot.slack.listeners import personal as personal_listeners
from bot.slack.listeners import subscriptions as subscription_listeners
from bot.slack.notifications import ChannelNotificationPoster
from bot.slack.notifier import Notifier
from bot.slack.personal import PersonalDmPoster
from bot.slack.sender import ChannelSender
from bot.slack.views.subscriptions import build_admin_subscriptions
from bot.web.metrics import metrics_route
from bot.web.oauth import oauth_routes
from bot.web.webhooks import WebhookReceiver
from storage.crypto import Encryptor, load_or_create_key_file
from storage.database import Database
from storage.db import async_database_url, create_engine
from storage.repositories.inbox import InboxRepository
from storage.slack_installations import EncryptedInstallationStore
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
    installation_store: EncryptedInstallationStore | None
    gateway: SlackGateway
    bolt: AsyncApp
    router: commands.CommandRouter
    # Extra HTTP routes and start/stop hooks that features add while being wired.
    services: dict[str, Any] = field(default_factory=dict)
    routes: list[Any] = field(default_factory=list)
    startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.storage.db.dispose()


def build_components(
    settings: Settings, *, clock: Clock | None = None, http: httpx.AsyncClient | None = None
) -> Components:
    clock = clock or SystemClock()
    url = async_database_url(settings.database_url, DEFAULT_SQLITE_PATH)
    engine = create_engine(url)
    storage = Storage.create(engine, resolve_encryptor(settings))
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    http = http or httpx.AsyncClient(
        timeout=httpx.Timeout(settings.jirabot_http_timeout, connect=5.0),
        limits=limits,
        headers={"User-Agent": "jirabot/0.1"},
        # Data Center sites only through the host fence (JIRABOT_JIRA_HOSTS), checked per connection.
        transport=build_jira_transport(
            settings.jira_host_policy,
            trusted_bases=(settings.atlassian_auth_url, settings.atlassian_api_url),
            limits=limits,
        ),
    )
    installation_store = build_installation_store(settings, engine, storage.encryptor)
    connections = SlackConnections()
    gateway = SlackGateway(settings, installation_store, connections)
    bolt = build_bolt_app(settings, engine, installation_store)
    connections.share_with(bolt.client)
    router = commands.CommandRouter()
    commands.register(bolt, router)
    errors.register(bolt)
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
    components.services.update(slack_connections=connections)
    components.startup.append(connections.open)
    components.shutdown.append(connections.close)  # stops run in reverse: this one last
    _wire_observability(components)
    _wire_linking(components)
    _wire_issues(components)
    _wire_add_to_issue(components)
    _wire_cards(components)
    _wire_jobs(components)
    _wire_notifications(components)
    _wire_personal(components)
    return components


def _wire_observability(c: Components) -> None:
    """`GET /metrics`, the counts it reads from the database, and the Slack request observer (first of
    the Bolt middleware that run after Bolt's own checks)."""
    slack_observer.register(c.bolt)
    c.metrics.gauges.add(
        "linked_users", "Slack users' Jira links by status", c.storage.accounts.count_by_status, ["status"]
    )
    c.metrics.gauges.add(
        "tenants", "Workspaces connected to Jira, by Jira kind", c.storage.tenants.count_by_kind, ["kind"]
    )
    c.routes.append(metrics_route(c.metrics))
    c.startup.append(c.metrics.started)
    c.shutdown.append(c.metrics.stopped)


def _wire_linking(c: Components) -> None:
    apps = OAuthApps(c.settings, c.http)
    tokens = TokenService(c.settings, c.storage, apps, c.http, c.clock)
    linking = LinkingService(c.settings, c.storage, apps, c.clock, JiraClientFactory(c.settings, c.http))
    admins = AdminPolicy(c.settings.jirabot_admins)
    notifier = Notifier(c.gateway, linking, admins)
    tokens.on_broken_link(notifier.reconnect_needed)
    projects = ProjectDirectory(c.storage, tokens)
    c.services.update(
        apps=apps, tokens=tokens, linking=linking, admins=admins, notifier=notifier, projects=projects
    )
    linking_listeners.register(
        c.bolt,
        c.router,
        linking_listeners.LinkingListeners(
            linking=linking,
            admins=admins,
            notifier=notifier,
            projects=projects,
            redirect_uri=c.settings.oauth_redirect_uri,
            cloud_available=apps.cloud_configured,
            allowed_hosts=c.settings.jira_host_policy.describe(),
        ),
    )
    authorizations = AuthorizationService(c.storage, apps, c.clock, JiraClientFactory(c.settings, c.http))
    c.services.update(authorizations=authorizations)
    c.routes.extend(
        oauth_routes(authorizations, notifier, SlackDirectory(c.gateway), c.settings.jirabot_public_url)
    )


def _wire_jobs(c: Components) -> None:
    """Slack lifecycle events, and the background jobs (started with the app when JIRABOT_SCHEDULER)."""
    settings = c.settings
    tokens: TokenService = c.services["tokens"]
    cleanup = WorkspaceCleanup(c.storage, c.installation_store, c.clock)
    lifecycle_listeners.register(c.bolt, lifecycle_listeners.LifecycleListeners(cleanup))
    upkeep = TokenUpkeep(
        c.storage,
        tokens,
        c.clock,
        ahead=timedelta(seconds=settings.jirabot_token_refresh_ahead),
        idle=timedelta(days=settings.jirabot_refresh_idle_days),
    )
    hygiene = Hygiene(
        c.storage, c.clock, audit_retention=timedelta(days=settings.jirabot_audit_retention_days),
        inbox_retention=timedelta(days=settings.jirabot_inbox_retention_days),
    )
    rotation = KeyRotation(c.storage, c.installation_store)
    reporting = PersonalDataService(
        c.storage,
        tokens,
        PersonalDataClient(c.http, api_url=settings.atlassian_api_url, timeout=settings.jirabot_http_timeout),
        c.clock,
    )
    scheduler = JobScheduler(
        c.storage.leases, c.clock, lease_ttl=timedelta(seconds=settings.jirabot_job_lease_seconds)
    )
    abandoned = AbandonedCreates(c.services["issues"], c.services["notifier"])
    for job in build_jobs(settings, JobServices(upkeep, hygiene, reporting, rotation, abandoned)):
        scheduler.add(job)
    c.services.update(
        workspace_cleanup=cleanup,
        token_upkeep=upkeep,
        hygiene=hygiene,
        key_rotation=rotation,
        personal_data=reporting,
        scheduler=scheduler,
    )
    if settings.jirabot_scheduler:
        c.startup.append(scheduler.start)
        c.shutdown.append(scheduler.stop)


def _wire_issues(c: Components) -> None:
    issues = IssueService(
        c.storage,
        c.services["tokens"],
        c.services["linking"],
        c.clock,
        stale_after=timedelta(seconds=c.settings.jirabot_create_stale_after),
    )
    cards = IssueCardService(c.storage, c.services["tokens"], issues, c.clock)
    c.services.update(issues=issues, cards=cards)
    issue_listeners.register(
        c.bolt,
        c.router,
        issue_listeners.IssueListeners(
            issues=issues,
            projects=c.services["projects"],
            notifier=c.services["notifier"],
            cards=cards,
        ),
    )


def _wire_cards(c: Components) -> None:
    """Issue cards' actions, `/jira show`, and link unfurls."""
    unfurls = UnfurlService(c.storage, c.services["tokens"], c.services["issues"], c.clock)
    c.services.update(unfurls=unfurls)
    card_listeners.register(
        c.bolt,
        c.router,
        card_listeners.CardListeners(
            cards=c.services["cards"],
            unfurls=unfurls,
            admins=c.services["admins"],
            notifier=c.services["notifier"],
        ),
    )


def _wire_add_to_issue(c: Components) -> None:
    """The "Add to Jira issue" shortcut: a message as a comment on an existing issue."""
    service = AddToIssueService(c.storage, c.services["tokens"], c.services["linking"], c.services["issues"],
                                c.clock)
    c.services.update(add_to_issue=service)
    add_listeners.register(c.bolt, add_listeners.AddToIssueListeners(service))


def _wire_notifications(c: Components) -> None:
    """Jira → Slack: the webhook route → the inbox → channel subscriptions → the channel sender."""
    settings = c.settings
    tokens: TokenService = c.services["tokens"]
    linking: LinkingService = c.services["linking"]
    notifier: Notifier = c.services["notifier"]
    dispatcher = InboxDispatcher(c.storage, c.clock, concurrency=settings.jirabot_inbox_concurrency)
    secret = settings.atlassian_client_secret.get_secret_value() if settings.atlassian_client_secret else None
    inbox = c.storage.inbox
    if c.storage.db.is_postgres:
        receiving = create_engine(c.storage.db.engine.url.render_as_string(hide_password=False), pool_size=8)
        inbox = InboxRepository(Database(receiving))
        c.shutdown.append(receiving.dispose)
    receiver = WebhookReceiver(
        c.storage, c.clock, cloud_secret=secret, on_stored=dispatcher.wake, inbox=inbox
    )
    c.routes.extend(receiver.routes())
    dispatcher.yield_to(lambda: receiver.busy)
    subscriptions = SubscriptionService(c.storage, tokens, c.clock, public_url=settings.jirabot_public_url)
    channel_events = ChannelEventService(c.storage, tokens, c.clock)
    sender = ChannelSender(c.gateway)
    poster = ChannelNotificationPoster(sender, channel_events)

    async def channel_handler(tenant: Any, event: Any, progress: Any) -> None:
        await channel_events.handle(tenant, event, progress, poster)

    async def channel_notice(team_id: str, enterprise_id: str | None, channel: str, text: str) -> None:
        client = await c.gateway.client_for(team_id, enterprise_id)
        if client is not None:
            await client.chat_postMessage(channel=channel, text=text)

    async def admin_home(team_id: str, user_id: str, is_admin: bool) -> list[dict[str, Any]]:
        if not is_admin:
            return []
        return build_admin_subscriptions(await subscriptions.for_team(team_id))

    notifier.add_home_section(admin_home)
    dispatcher.add_handler(channel_handler)
    subscriptions.on_channel_notice(channel_notice)
    linking.before_unlink(subscriptions.subscriber_left)
    linking.before_uninstall(subscriptions.uninstalling)
    cleanup: WorkspaceCleanup = c.services["workspace_cleanup"]
    cleanup.before_unlink(subscriptions.subscriber_left)
    cleanup.before_uninstall(subscriptions.uninstalling)
    upkeep = WebhookUpkeep(c.storage, tokens, c.clock, webhook_url_for=subscriptions.webhook_url)
    scheduler: JobScheduler = c.services["scheduler"]
    scheduler.add(webhook_upkeep_job(settings, upkeep))
    subscription_listeners.register(
        c.bolt,
        c.router,
        subscription_listeners.SubscriptionListeners(
            subscriptions=subscriptions,
            linking=linking,
            projects=c.services["projects"],
            admins=c.services["admins"],
            refresh_home=notifier.refresh_home,
        ),
    )
    c.services.update(
        inbox_dispatcher=dispatcher,
        webhook_receiver=receiver,
        subscriptions=subscriptions,
        channel_events=channel_events,
        channel_sender=sender,
        webhook_upkeep=upkeep,
    )
    c.startup.append(dispatcher.start)
    c.shutdown.append(dispatcher.stop)


def _wire_personal(c: Components) -> None:
    """Personal notifications: a second handler of the same inbox, its grouped DMs flushed by the
    dispatcher's loop and sent through the same paced sender."""
    subscriptions: SubscriptionService = c.services["subscriptions"]
    dispatcher: InboxDispatcher = c.services["inbox_dispatcher"]
    notifier: Notifier = c.services["notifier"]
    personal = PersonalNotificationService(
        c.storage,
        c.services["tokens"],
        c.clock,
        webhook_url_for=subscriptions.webhook_url,
        ensure_dc_webhook=subscriptions.ensure_dc_webhook,
        window=timedelta(seconds=c.settings.jirabot_personal_window),
    )
    poster = PersonalDmPoster(c.services["channel_sender"])
    dispatcher.add_handler(personal.handle)

    async def flush() -> None:
        await personal.flush(poster)

    dispatcher.add_periodic(flush)
    linking: LinkingService = c.services["linking"]
    c.services["authorizations"].after_link(personal.linked)
    linking.before_unlink(personal.user_left)
    cleanup: WorkspaceCleanup = c.services["workspace_cleanup"]
    cleanup.before_unlink(personal.user_left)
    upkeep: WebhookUpkeep = c.services["webhook_upkeep"]
    upkeep.before_run(personal.ensure_all)
    listeners = personal_listeners.PersonalListeners(personal=personal, refresh_home=notifier.refresh_home)
    notifier.add_home_section(listeners.home_section)
    personal_listeners.register(c.bolt, c.router, listeners)
    c.services.update(personal_notifications=personal)
