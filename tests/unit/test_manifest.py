"""manifest.yml creates the whole app: validated against Slack's manifest schema."""

from __future__ import annotations

import json

import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from bot.slack import ids
from bot.slack.app import BOT_SCOPES
from tests.specs import REPO_ROOT, require_spec

MANIFEST = REPO_ROOT / "manifest.yml"


def _manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def _referenced_uris(node: object) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("http"):
            found.add(ref.split("#")[0])
        for value in node.values():
            found |= _referenced_uris(value)
    elif isinstance(node, list):
        for value in node:
            found |= _referenced_uris(value)
    return found


def _validator() -> Draft7Validator:
    """The top schema refers to the versioned schemas by public URL: map each to its local file."""
    top_path = require_spec("slack-manifest.schema.json")
    top = json.loads(top_path.read_text())
    local = {p.name: p for p in (top_path.parent / "slack-manifest-schemas").glob("*.json")}
    registry: Registry = Registry()
    for uri in _referenced_uris(top):
        name = uri.rstrip("/").rsplit("/", 1)[-1]
        assert name in local, f"{uri} has no local copy in {top_path.parent}"
        registry = registry.with_resource(
            uri, Resource.from_contents(json.loads(local[name].read_text()), default_specification=DRAFT7)
        )
    return Draft7Validator(top, registry=registry)


def test_manifest_validates_against_the_slack_manifest_schema() -> None:
    errors = sorted(_validator().iter_errors(_manifest()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_a_broken_manifest_is_rejected_by_the_same_validation() -> None:
    broken = _manifest()
    broken["features"]["shortcuts"][0]["type"] = "sideways"
    broken["oauth_config"]["scopes"]["bot"] = "commands"
    assert list(_validator().iter_errors(broken))


def test_manifest_matches_what_the_bot_listens_to() -> None:
    manifest = _manifest()
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == ids.COMMAND
    shortcuts = {s["callback_id"]: s for s in manifest["features"]["shortcuts"]}
    assert set(shortcuts) == {ids.SHORTCUT_CREATE_ISSUE, ids.SHORTCUT_ADD_TO_ISSUE}
    assert all(s["type"] == "message" for s in shortcuts.values())
    assert shortcuts[ids.SHORTCUT_ADD_TO_ISSUE]["name"] == "Add to Jira issue"
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert set(settings["event_subscriptions"]["bot_events"]) >= {
        "app_home_opened",
        "app_uninstalled",
        "tokens_revoked",
    }
    urls = [
        command["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        settings["interactivity"]["message_menu_options_url"],
    ]
    assert all(url == "https://jirabot.example.com/slack/events" for url in urls)
    assert manifest["oauth_config"]["redirect_urls"] == ["https://jirabot.example.com/slack/oauth_redirect"]
    # One placeholder host, and nothing else pointing anywhere.
    text = MANIFEST.read_text()
    hosts = {part.split("/")[2] for part in text.split() if part.startswith("https://")}
    assert hosts == {"jirabot.example.com", "api.slack.com"}


def test_the_command_hint_lists_every_subcommand_people_type() -> None:
    [command] = _manifest()["features"]["slash_commands"]
    for words in ("connect", "disconnect", "status", "create", "admin install", "admin status",
                  "admin uninstall", "help"):
        assert words in command["usage_hint"]


def test_bot_scopes_let_the_bot_reply_in_public_channels_it_has_not_joined() -> None:
    assert "chat:write.public" in _manifest()["oauth_config"]["scopes"]["bot"]
    assert "chat:write.public" in BOT_SCOPES  # what a multi-workspace install asks for


def test_the_package_ships_the_manifest() -> None:
    from bot.slack.manifest import manifest_template

    assert manifest_template() == MANIFEST.read_text(encoding="utf-8")
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"slack/manifest.yml"' in pyproject  # package-data: in wheels and installs too


def _urls(node: object) -> list[str]:
    if isinstance(node, dict):
        return [url for value in node.values() for url in _urls(value)]
    if isinstance(node, list):
        return [url for value in node for url in _urls(value)]
    return [node] if isinstance(node, str) and node.startswith(("http://", "https://")) else []


def test_jirabot_manifest_fills_the_public_url_into_every_url(tmp_path) -> None:
    from tests.cli_runner import clean_env, first_line, run_jirabot

    proc = run_jirabot(tmp_path, clean_env(), "manifest", "--url", "https://jira-bot.acme.test/")
    assert proc.returncode == 0, proc.stderr
    assert first_line(proc.stdout) == (
        "# Slack app manifest for jirabot at https://jira-bot.acme.test (made by `jirabot manifest`). "
        "Paste it at"
    )
    manifest = yaml.safe_load(proc.stdout)
    errors = sorted(_validator().iter_errors(manifest), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    ours = [url for url in _urls(manifest) if "slack/" in url]
    assert len(ours) >= 5 and all(url.startswith("https://jira-bot.acme.test/slack/") for url in ours)
    assert "jirabot.example.com" not in proc.stdout
    assert manifest["oauth_config"]["redirect_urls"] == ["https://jira-bot.acme.test/slack/oauth_redirect"]

    from_env = run_jirabot(tmp_path, clean_env(JIRABOT_PUBLIC_URL="https://jira-bot.acme.test"), "manifest")
    assert from_env.returncode == 0 and from_env.stdout == proc.stdout


def test_jirabot_manifest_refuses_what_slack_would(tmp_path) -> None:
    from tests.cli_runner import clean_env, run_jirabot

    plain = run_jirabot(tmp_path, clean_env(JIRABOT_PUBLIC_URL="http://localhost:3000"), "manifest")
    assert plain.returncode == 2
    assert plain.stderr.splitlines() == [
        "JIRABOT_PUBLIC_URL: Slack needs an https:// address with a host, got 'http://localhost:3000'"
    ]
    unset = run_jirabot(tmp_path, clean_env(), "manifest")
    assert unset.returncode == 2
    assert unset.stderr.splitlines() == [
        "JIRABOT_PUBLIC_URL: not set; give the bot's public address with --url https://HOST"
    ]
