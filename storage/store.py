"""Everything the data layer offers, built once from an engine and an encryptor."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.crypto import Encryptor
from storage.database import Database
from storage.repositories import (
    AccountRepository,
    AuditRepository,
    IdempotencyRepository,
    IssueLinkRepository,
    LeaseRepository,
    StateRepository,
    TenantRepository,
)
from storage.repositories.confirmations import ConfirmationRepository
from storage.repositories.inbox import InboxRepository
from storage.repositories.personal import PersonalRepository
from storage.repositories.subscriptions import SubscriptionRepository
from storage.repositories.threads import ThreadRepository
from storage.repositories.unfurl_settings import UnfurlSettingsRepository
from storage.repositories.webhooks import WebhookRepository


@dataclass(frozen=True)
class Storage:
    db: Database
    encryptor: Encryptor
    tenants: TenantRepository
    accounts: AccountRepository
    states: StateRepository
    confirmations: ConfirmationRepository
    audit: AuditRepository
    issue_links: IssueLinkRepository
    idempotency: IdempotencyRepository
    leases: LeaseRepository
    unfurl_settings: UnfurlSettingsRepository
    inbox: InboxRepository
    subscriptions: SubscriptionRepository
    webhooks: WebhookRepository
    threads: ThreadRepository
    personal: PersonalRepository

    @classmethod
    def create(cls, engine: AsyncEngine, encryptor: Encryptor) -> Storage:
        db = Database(engine)
        accounts = AccountRepository(db, encryptor)
        return cls(
            db=db,
            encryptor=encryptor,
            tenants=TenantRepository(db, encryptor, accounts),
            accounts=accounts,
            states=StateRepository(db, encryptor),
            confirmations=ConfirmationRepository(db, encryptor),
            audit=AuditRepository(db),
            issue_links=IssueLinkRepository(db),
            idempotency=IdempotencyRepository(db),
            leases=LeaseRepository(db),
            unfurl_settings=UnfurlSettingsRepository(db),
            inbox=InboxRepository(db),
            subscriptions=SubscriptionRepository(db),
            webhooks=WebhookRepository(db, encryptor),
            threads=ThreadRepository(db),
            personal=PersonalRepository(db),
        )
