"""Repositories: the only code that touches database sessions. One class per aggregate."""

from storage.repositories.accounts import AccountRecord, AccountRepository, JiraIdentity, TokenSet
from storage.repositories.audit import AuditRepository
from storage.repositories.idempotency import IdempotencyRepository
from storage.repositories.issue_links import IssueLinkRecord, IssueLinkRepository
from storage.repositories.leases import LeaseRepository
from storage.repositories.states import StateRecord, StateRejected, StateRepository
from storage.repositories.tenants import TenantRecord, TenantRepository

__all__ = [
    "AccountRecord",
    "AccountRepository",
    "JiraIdentity",
    "AuditRepository",
    "IdempotencyRepository",
    "IssueLinkRecord",
    "IssueLinkRepository",
    "LeaseRepository",
    "StateRecord",
    "StateRejected",
    "StateRepository",
    "TenantRecord",
    "TenantRepository",
    "TokenSet",
]
