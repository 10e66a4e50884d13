"""`jirabot check`: one line per check, exit 0 only if all pass."""

from __future__ import annotations

import httpx
from slack_sdk.errors import SlackApiError

from bot.settings import DEFAULT_SQLITE_PATH, Settings
from bot.slack.app import new_web_client
from storage.db import async_database_url, create_engine
from storage.db_errors import describe
from storage.migrate import current_revision, head_revision


def _line(ok: bool, name: str, detail: str) -> str:
    return f"{'ok  ' if ok else 'FAIL'} {name}: {detail}"


async def _database(settings: Settings) -> tuple[bool, str, str]:
    """Looks at the database without changing it: a SQLite file that is not there is not created."""
    sqlite_path = settings.sqlite_path
    if sqlite_path is not None and not sqlite_path.exists():
        return (True, "database", f"no SQLite file at {sqlite_path} yet (`jirabot db upgrade` or "
                                  "`jirabot serve` creates it)")
    url = async_database_url(settings.database_url, DEFAULT_SQLITE_PATH)
    engine = create_engine(url)
    try:
        revision = await current_revision(engine)
    except Exception as exc:  # any driver error means the database is not usable; say why
        return (False, "database", str(describe(exc, url)))
    finally:
        await engine.dispose()
    head = head_revision()
    if revision is None:
        return (True, "database", "reachable, empty: no schema yet (`jirabot db upgrade` or "
                                  "`jirabot serve` creates it)")
    if revision == head:
        return (True, "database", f"reachable, schema at revision {head}")
    return (True, "database", f"reachable, schema at revision {revision}, older than {head} "
                              "(run `jirabot db upgrade`)")


async def run_checks(settings: Settings) -> int:
    results: list[tuple[bool, str, str]] = [(True, "settings", "valid"), await _database(settings)]

    if settings.slack_bot_token is not None:
        client = new_web_client(settings, settings.slack_bot_token.get_secret_value())
        try:
            auth = await client.auth_test()
            results.append((True, "slack", f"auth.test ok as {auth.get('user')} in {auth.get('team')}"))
        except SlackApiError as exc:
            results.append((False, "slack", f"auth.test failed: {exc.response.get('error')}"))
        except Exception as exc:
            results.append(
                (False, "slack", f"unreachable at {settings.slack_api_url} ({type(exc).__name__})")
            )
    else:
        results.append((True, "slack", "multi-workspace mode: tokens come from installations"))

    async with httpx.AsyncClient(timeout=10) as http:
        for name, url in (
            ("atlassian auth", f"{settings.atlassian_auth_url}/authorize"),
            ("atlassian api", f"{settings.atlassian_api_url}/oauth/token/accessible-resources"),
        ):
            try:
                response = await http.get(url)
                ok = response.status_code < 500
                results.append(
                    (
                        ok,
                        name,
                        f"reachable (HTTP {response.status_code})"
                        if ok
                        else f"answered HTTP {response.status_code}",
                    )
                )
            except httpx.HTTPError as exc:
                results.append((False, name, f"unreachable at {url} ({type(exc).__name__})"))
    if not settings.atlassian_client_id or settings.atlassian_client_secret is None:
        results.append(
            (
                True,
                "atlassian app",
                "ATLASSIAN_CLIENT_ID/SECRET not set: Jira Cloud installs are off, Data Center only",
            )
        )
    for ok, name, detail in results:
        print(_line(ok, name, detail))
    return 0 if all(ok for ok, _, _ in results) else 1
