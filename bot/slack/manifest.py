"""The Slack app manifest for one deployment: the shipped `manifest.yml` with the bot's public address in
every URL, ready to paste at api.slack.com/apps (`jirabot manifest`)."""

from __future__ import annotations

import re
from importlib import resources
from urllib.parse import urlsplit

#: The host that `manifest.yml` uses wherever the bot's own address goes.
PLACEHOLDER_HOST = "jirabot.example.com"
_PLACEHOLDER_URL = f"https://{PLACEHOLDER_HOST}"


class ManifestUrlError(ValueError):
    """The public URL cannot go into a Slack manifest; the message says why."""


def manifest_template() -> str:
    """`manifest.yml` as shipped inside the package (`bot/slack/manifest.yml`)."""
    return resources.files("bot.slack").joinpath("manifest.yml").read_text(encoding="utf-8")


def check_public_url(url: str) -> str:
    """The bot's base URL, without a trailing slash; Slack takes only https:// request URLs."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise ManifestUrlError(f"Slack needs an https:// address with a host, got {url or 'nothing'!r}")
    if parts.query or parts.fragment:
        raise ManifestUrlError(f"give the base address only, without ?query or #fragment: {url!r}")
    return url


def render_manifest(public_url: str, template: str | None = None) -> str:
    """The manifest with `public_url` in place of every placeholder URL, and a header saying so."""
    base = check_public_url(public_url)
    text = manifest_template() if template is None else template
    body_start = re.search(r"^[^#\s]", text, flags=re.MULTILINE)
    body = text[body_start.start():] if body_start else text
    filled = body.replace(_PLACEHOLDER_URL, base)
    header = (f"# Slack app manifest for jirabot at {base} (made by `jirabot manifest`). Paste it at\n"
              "# https://api.slack.com/apps → Create New App → From a manifest.\n")
    return header + filled
