"""Parsing `/jira` command text into a typed value."""

from __future__ import annotations

from dataclasses import dataclass

from bot.jira.links import is_issue_key

SUBCOMMANDS = {
    "help", "connect", "disconnect", "status", "create", "show", "subscribe", "subscriptions", "notify"
}
ADMIN_SUBCOMMANDS = {"install", "status", "uninstall", "unfurls"}


@dataclass(frozen=True)
class JiraCommand:
    """`name` is a known subcommand (`admin install` for admin ones) or `unknown`; `args` the rest."""

    name: str
    args: str
    raw: str


def parse_command(text: str | None) -> JiraCommand:
    raw = (text or "").strip()
    if not raw:
        return JiraCommand("help", "", raw)
    head, _, rest = raw.partition(" ")
    head = head.lower()
    rest = rest.strip()
    if head in SUBCOMMANDS:
        return JiraCommand(head, rest, raw)
    if head == "admin":
        sub, _, args = rest.partition(" ")
        sub = sub.lower()
        if sub in ADMIN_SUBCOMMANDS:
            return JiraCommand(f"admin {sub}", args.strip(), raw)
    if not rest and is_issue_key(raw.upper()):  # `/jira ENG-42` is `/jira show ENG-42`
        return JiraCommand("show", raw, raw)
    return JiraCommand("unknown", raw, raw)
