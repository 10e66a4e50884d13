"""A first run that fails cleanly: every start-up and shutdown path a newcomer hits, through the command
line as an operator runs it (exit code and the exact first line)."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from bot.settings import REQUIRED_SETTINGS, SETTINGS_DOCS
from storage.migrate import head_revision
from tests.cli_runner import Running, clean_env, first_line, run_jirabot
from tests.emulators.live import free_port
from tests.harness import ENCRYPTION_KEY, SIGNING_SECRET

SERVE_SETTINGS = {
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "SLACK_BOT_TOKEN": "xoxb-1-2-3",
    "SLACK_API_URL": "http://127.0.0.1:9/api/",
    "LOG_FORMAT": "json",
}
DATABASE_URL_FORMS = "sqlite:///path/to/file.sqlite3 or postgresql://user:password@host:5432/db"


def _database_env(database_url: str) -> dict[str, str]:
    """The test's PostgreSQL database when the run has one, else the embedded default (no variable)."""
    if database_url.startswith("postgres"):
        return {"DATABASE_URL": database_url, "JIRABOT_ENCRYPTION_KEY": ENCRYPTION_KEY}
    return {}


def _postgres_server() -> tuple[str, int]:
    """Where PostgreSQL answers (CI starts it for both halves); skips the test where none does."""
    host, port = "127.0.0.1", 5432
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        pytest.skip(f"no PostgreSQL server at {host}:{port}")
    return host, port


# Settings -------------------------------------------------------------------------------------------

def test_every_missing_setting_is_named_in_one_run(tmp_path: Path) -> None:
    proc = run_jirabot(tmp_path, clean_env(), "serve")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "SLACK_SIGNING_SECRET: required but not set",
        "SLACK_BOT_TOKEN: required, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for multi-workspace mode",
    ]
    assert not (tmp_path / "data").exists()


def test_help_names_the_required_settings_and_the_readme_section(tmp_path: Path) -> None:
    top = run_jirabot(tmp_path, clean_env(), "--help")
    assert top.returncode == 0
    assert first_line(top.stdout) == "usage: jirabot [-h] COMMAND ..."
    serve = run_jirabot(tmp_path, clean_env(), "serve", "--help")
    assert serve.returncode == 0
    assert first_line(serve.stdout) == (
        "usage: jirabot serve [-h] [--host HOST] [--port PORT] [--workers N] [--socket-mode]"
    )
    for text in (top.stdout, serve.stdout):
        flat = " ".join(text.split())
        assert f"Required to serve: {REQUIRED_SETTINGS}." in flat
        assert SETTINGS_DOCS in flat and "Exit codes: 0" in flat


# DATABASE_URL ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, problem", [
    ("postgres//localhost/db", f"not a database URL (expected {DATABASE_URL_FORMS})"),
    ("localhost:5432/jirabot", f"not a database URL (expected {DATABASE_URL_FORMS})"),
    ("mysql://jirabot@db/jirabot", f"unsupported scheme 'mysql' (expected {DATABASE_URL_FORMS})"),
    ("sqlite://relative.db", "a SQLite URL takes three slashes before its path: sqlite:///relative.db for a "
                             "relative path, sqlite:////var/lib/jirabot.sqlite3 for an absolute one"),
])
@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve"], ["check"]])
def test_a_malformed_database_url_is_one_line_and_exit_2(tmp_path: Path, url: str, problem: str,
                                                         command: list[str]) -> None:
    proc = run_jirabot(tmp_path, clean_env(**SERVE_SETTINGS, DATABASE_URL=url), *command)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"DATABASE_URL: {problem}"]


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve", "--host", "127.0.0.1"]])
def test_an_unreachable_database_host_is_one_line_and_exit_1(tmp_path: Path, command: list[str]) -> None:
    port = free_port()  # nothing listens there
    env = clean_env(**SERVE_SETTINGS, DATABASE_URL=f"postgresql://jirabot:pw@127.0.0.1:{port}/jirabot",
                    JIRABOT_ENCRYPTION_KEY=ENCRYPTION_KEY)
    if command[0] == "serve":
        command = [*command, "--port", str(free_port())]
    proc = run_jirabot(tmp_path, env, *command)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if '"level": "info"' not in line]
    assert lines == [f"DATABASE_URL: host unreachable at 127.0.0.1:{port}: "
                     f"[Errno 111] Connect call failed ('127.0.0.1', {port})"]
    assert "pw" not in proc.stderr.replace("password", "")


def test_a_missing_database_and_a_refused_login_are_named(tmp_path: Path) -> None:
    host, port = _postgres_server()
    missing = f"postgresql://postgres@{host}:{port}/jirabot_no_such_database"
    proc = run_jirabot(tmp_path, clean_env(DATABASE_URL=missing), "db", "upgrade")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f'DATABASE_URL: database missing at {host}:{port}: database "jirabot_no_such_database" does not exist'
    ]
    stranger = f"postgresql://jirabot_no_such_role@{host}:{port}/postgres"
    proc = run_jirabot(tmp_path, clean_env(DATABASE_URL=stranger), "db", "upgrade")
    assert proc.returncode == 1
    assert first_line(proc.stderr) == (
        f"DATABASE_URL: authentication failed at {host}:{port}: "
        'role "jirabot_no_such_role" does not exist'
    )
    env = clean_env(**SERVE_SETTINGS, DATABASE_URL=missing, JIRABOT_ENCRYPTION_KEY=ENCRYPTION_KEY,
                    ATLASSIAN_AUTH_URL="http://127.0.0.1:9", ATLASSIAN_API_URL="http://127.0.0.1:9")
    check = run_jirabot(tmp_path, env, "check")
    assert check.returncode == 1
    assert check.stdout.splitlines()[1] == (
        f'FAIL database: DATABASE_URL: database missing at {host}:{port}: '
        'database "jirabot_no_such_database" does not exist'
    )


# Database commands -------------------------------------------------------------------------------------

def test_db_upgrade_needs_only_the_database_url(tmp_path: Path) -> None:
    proc = run_jirabot(tmp_path, clean_env(DATABASE_URL="sqlite:///jirabot.sqlite3"), "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"database at revision {head_revision()} (was empty)"]


def test_db_upgrade_on_postgresql_needs_no_slack_settings_and_no_key(tmp_path: Path,
                                                                    database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("the PostgreSQL run (DATABASE_URL) covers this")
    proc = run_jirabot(tmp_path, clean_env(DATABASE_URL=database_url), "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    assert first_line(proc.stdout) == f"database at revision {head_revision()}"


def test_check_on_an_empty_folder_creates_nothing_and_says_what_is_there(tmp_path: Path, slack,
                                                                         atlassian) -> None:
    env = clean_env(SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_BOT_TOKEN=slack.bot_token,
                    SLACK_API_URL=slack.api_url, ATLASSIAN_AUTH_URL=atlassian.base_url,
                    ATLASSIAN_API_URL=atlassian.base_url)
    proc = run_jirabot(tmp_path, env, "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[1] == (
        "ok   database: no SQLite file at data/jirabot.sqlite3 yet (`jirabot db upgrade` or "
        "`jirabot serve` creates it)"
    )
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "empty.sqlite3").touch()
    proc = run_jirabot(tmp_path, {**env, "DATABASE_URL": "sqlite:///empty.sqlite3"}, "check")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[1] == (
        "ok   database: reachable, empty: no schema yet (`jirabot db upgrade` or `jirabot serve` creates it)"
    )


# Serving: the port, and stop signals at any moment ----------------------------------------------------

def test_a_port_in_use_is_named_in_one_line_and_exits_2(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        env = clean_env(**SERVE_SETTINGS, **_database_env(database_url))
        proc = run_jirabot(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", str(port), timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"jirabot serve: cannot listen on 127.0.0.1:{port}: the address is already in use (another "
        "process listens there; choose another with --port or PORT)"
    ]
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("signum, moment", [
    (signal.SIGTERM, '"event": "app.serving"'),  # settings read, port bound, nothing migrated yet
    (signal.SIGINT, '"event": "app.serving"'),
    (signal.SIGTERM, '"event": "storage.migrated"'),  # migrated, the server not up yet
])
def test_a_stop_signal_during_start_up_ends_the_process_with_exit_0(
        tmp_path: Path, database_url: str, signum: int, moment: str) -> None:
    env = clean_env(**SERVE_SETTINGS, **_database_env(database_url))
    if database_url.startswith("postgres") and "migrated" in moment:
        pytest.skip("the test database is migrated already: no storage.migrated line")
    serving = Running(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", str(free_port()))
    try:
        serving.wait_for_line(moment)
        serving.signal(signum)
        assert serving.wait(timeout=30) == 0
    finally:
        serving.kill()
    assert "Traceback" not in serving.stderr
    assert '"event": "app.stopped_by_signal"' in serving.stderr
