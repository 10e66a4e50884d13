"""The scheduled jobs: each a thin function that runs one pass of a service and reports its counts.

The scheduler logs each run as `jobs.<name>.done` with these counts (never a token).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import partial

from bot.jobs.scheduler import Job, JobOutcome
from bot.services.personal_data import PersonalDataService
from bot.services.upkeep import Hygiene, KeyRotation, TokenUpkeep
from bot.services.webhook_upkeep import WebhookUpkeep
from bot.settings import Settings
from bot.slack.abandoned_creates import AbandonedCreates

TOKEN_UPKEEP = "token_upkeep"
HYGIENE = "hygiene"
PERSONAL_DATA = "personal_data"
KEY_ROTATION = "key_rotation"
WEBHOOK_UPKEEP = "webhook_upkeep"


async def token_upkeep(service: TokenUpkeep) -> JobOutcome:
    return JobOutcome(asdict(await service.run()))


async def hygiene(service: Hygiene, abandoned: AbandonedCreates | None = None) -> JobOutcome:
    """Expired rows go; creates left pending by a process that died are resolved (and their users told)."""
    counts = asdict(await service.run())
    if abandoned is not None:
        counts.update(await abandoned.run())
    return JobOutcome(counts)


async def personal_data(service: PersonalDataService) -> JobOutcome:
    result = await service.report()
    return JobOutcome(result.counts(), next_run_in=result.next_run_in)


async def key_rotation(service: KeyRotation) -> JobOutcome:
    return JobOutcome(asdict(await service.run()))


@dataclass(frozen=True)
class JobServices:
    upkeep: TokenUpkeep
    hygiene: Hygiene
    reporting: PersonalDataService
    rotation: KeyRotation
    abandoned: AbandonedCreates | None = None


def build_jobs(settings: Settings, services: JobServices) -> list[Job]:
    def every(seconds: int) -> timedelta:
        return timedelta(seconds=seconds)

    return [
        Job(TOKEN_UPKEEP, every(settings.jirabot_token_refresh_interval),
            partial(token_upkeep, services.upkeep)),
        Job(HYGIENE, every(settings.jirabot_cleanup_interval),
            partial(hygiene, services.hygiene, services.abandoned)),
        # Atlassian's Cycle-Period sets when reporting falls due; the interval bounds the looks.
        Job(PERSONAL_DATA, every(settings.jirabot_personal_data_interval),
            partial(personal_data, services.reporting), due_follows_interval=False),
        Job(KEY_ROTATION, every(settings.jirabot_key_rotation_interval),
            partial(key_rotation, services.rotation)),
    ]


def webhook_upkeep_job(settings: Settings, service: WebhookUpkeep) -> Job:
    """Refreshes Jira Cloud webhooks before their 30-day expiry and re-registers missing ones."""

    async def run() -> JobOutcome:
        return JobOutcome(asdict(await service.run()))

    return Job(WEBHOOK_UPKEEP, timedelta(seconds=settings.jirabot_webhook_refresh_interval), run)
