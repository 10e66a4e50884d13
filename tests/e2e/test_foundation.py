"""The bot serves Slack for real: health, signed /jira help, signature checks, the CLI."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from tests.emulators.live import free_port
from tests.emulators.slack import SlackEmulator
from tests.emulators.slack_driver import SlackDriver
from tests.harness import SIGNING_SECRET, BotHarness

USER = "U0ALICE01"


def test_healthz_answers_ok_when_the_database_answers(bot: BotHarness) -> None:
    response = httpx.get(f"{bot.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_signed_help_gets_the_help_text(driver: SlackDriver, slack: SlackEmulator) -> None:
    slack.add_user(USER, "alice")
    result = driver.slash_command(USER, "help")
    assert result.status_code == 200
    body = result.json()
    assert body["response_type"] == "ephemeral"
    assert "/jira connect" in body["text"] and "/jira admin install" in body["text"]
    assert result.problems == []


def test_empty_text_is_help_and_unknown_subcommands_say_so(driver: SlackDriver) -> None:
    empty = driver.slash_command(USER, "").json()
    assert "/jira connect" in empty["text"]
    assert "didn't understand" not in empty["text"]
    unknown = driver.slash_command(USER, "frobnicate the issues").json()
    assert "didn't understand `frobnicate the issues`" in unknown["text"]
    assert "/jira connect" in unknown["text"]


def _help_body() -> bytes:
    return urlencode(
        {
            "command": "/jira",
            "text": "help",
            "team_id": "T0TEAM001",
            "user_id": USER,
            "channel_id": "C0GENERAL",
            "response_url": "http://127.0.0.1:9/x",
            "trigger_id": "1.2.3",
        }
    ).encode()


def test_unsigned_wrongly_signed_and_stale_requests_get_401(driver: SlackDriver) -> None:
    body = _help_body()
    assert driver.post_raw(body, sign=False).status_code == 401
    assert driver.post_raw(body, secret="not-the-secret").status_code == 401
    assert driver.post_raw(body, timestamp=int(time.time()) - 6 * 60).status_code == 401
    assert driver.post_raw(body).status_code == 200


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "JIRABOT_", "ATLASSIAN_", "DATABASE_URL", "LOG_"))
    }
    env.update(extra)
    return env


def _jirabot(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Runs the command line to its end, in `tmp_path`, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _start_serving(tmp_path: Path, env: dict[str, str], port: int, *args: str) -> subprocess.Popen[str]:
    """Starts `jirabot serve` on `port` and waits until /healthz answers 200."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"jirabot serve did not come up: {proc.communicate()[1][-2000:]}")
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, as an orchestrator sends it; returns what the process logged."""
    proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=40)[1]


def test_serve_without_signing_secret_exits_2_naming_it(tmp_path: Path) -> None:
    proc = _jirabot(tmp_path, _env(tmp_path), "serve")
    assert proc.returncode == 2
    assert "SLACK_SIGNING_SECRET" in proc.stderr


def test_malformed_settings_are_each_named(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        SLACK_SIGNING_SECRET="s",
        SLACK_BOT_TOKEN="not-a-token",
        JIRABOT_ADMINS="bob",
        JIRABOT_ENCRYPTION_KEY="short",
    )
    proc = _jirabot(tmp_path, env, "serve")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert any(line.startswith("SLACK_BOT_TOKEN:") for line in lines)
    assert any(line.startswith("JIRABOT_ADMINS:") for line in lines)
    assert any(line.startswith("JIRABOT_ENCRYPTION_KEY:") for line in lines)
    assert "not-a-token" not in proc.stderr and "short" not in proc.stderr.replace("JIRABOT", "")


def test_jirabot_serve_starts_on_sqlite_by_default_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = _env(
        tmp_path,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_BOT_TOKEN="xoxb-1-2-3",
        SLACK_API_URL="http://127.0.0.1:9/api/",
        LOG_FORMAT="json",
    )
    proc = _start_serving(tmp_path, env, port)
    try:
        key_file = tmp_path / "data" / "jirabot.key"
        assert (tmp_path / "data" / "jirabot.sqlite3").is_file()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    finally:
        stderr = _stop(proc)
    assert proc.returncode == 0
    assert '"event": "storage.key_file_created"' in stderr
    assert "xoxb-1-2-3" not in stderr
    assert "will be unused" not in stderr  # Bolt's warning when given a token and a client


def test_keygen_prints_a_usable_key(tmp_path: Path) -> None:
    from storage.crypto import Encryptor

    proc = _jirabot(tmp_path, _env(tmp_path), "keygen")
    assert proc.returncode == 0
    key = proc.stdout.strip()
    assert Encryptor.from_string(key).decrypt(Encryptor.from_string(key).encrypt("x")) == "x"


def test_an_unexpected_failure_is_logged_and_the_user_gets_plain_words(
    bot: BotHarness, driver: SlackDriver, slack: SlackEmulator
) -> None:
    linking = bot.components.services["linking"]

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("internal detail 42")

    linking.status = broken
    result = driver.slash_command(USER, "status")
    assert result.status_code == 200
    posts = slack.wait_for(lambda: slack.responses(result.response_url))
    assert "something went wrong on my side" in posts[-1].body["text"]
    assert "internal detail" not in str(posts[-1].body)


def test_check_reports_each_dependency(tmp_path: Path, slack: SlackEmulator, atlassian) -> None:
    env = _env(
        tmp_path,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_API_URL=slack.api_url,
        ATLASSIAN_AUTH_URL=atlassian.base_url,
        ATLASSIAN_API_URL=atlassian.base_url,
        ATLASSIAN_CLIENT_ID="id",
        ATLASSIAN_CLIENT_SECRET="s",
    )
    assert _jirabot(tmp_path, env, "db", "upgrade").returncode == 0
    ok = _jirabot(tmp_path, env, "check")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = ok.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok   settings",
        "ok   database",
        "ok   slack",
        "ok   atlassian auth",
        "ok   atlassian api",
    ]
    slack.revoke_token(slack.bot_token)
    try:
        failing = _jirabot(tmp_path, env, "check")
    finally:
        slack.add_bot_token(slack.bot_token, slack.team_id)
    assert failing.returncode == 1
    assert "FAIL slack: auth.test failed: token_revoked" in failing.stdout


def test_socket_mode_needs_an_app_token(tmp_path: Path) -> None:
    env = _env(tmp_path, SLACK_SIGNING_SECRET="s", SLACK_BOT_TOKEN="xoxb-1")
    proc = _jirabot(tmp_path, env, "serve", "--socket-mode")
    assert proc.returncode == 2
    assert proc.stderr.startswith("SLACK_APP_TOKEN:")


def test_serve_with_workers_migrates_once_serves_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = _env(
        tmp_path,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_BOT_TOKEN="xoxb-1-2-3",
        SLACK_API_URL="http://127.0.0.1:9/api/",
        LOG_FORMAT="json",
    )
    proc = _start_serving(tmp_path, env, port, "--workers", "2")
    stderr = _stop(proc)
    assert proc.returncode == 0
    assert stderr.count('"event": "storage.migrated"') == 1
    assert stderr.count('"event": "app.started"') == 2


def test_socket_mode_runs_in_one_process(tmp_path: Path) -> None:
    env = _env(tmp_path, SLACK_SIGNING_SECRET="s", SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-1-x")
    proc = _jirabot(tmp_path, env, "serve", "--socket-mode", "--workers", "2")
    assert proc.returncode == 2
    assert proc.stderr.startswith("--workers:")
