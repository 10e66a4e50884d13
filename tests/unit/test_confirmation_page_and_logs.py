"""The confirmation page as data, OAuth error values, and log lines that cannot be forged or leak."""

from __future__ import annotations

import io
import logging

from bot.logs import TextFormatter, configure_logging, quote_value
from bot.services.authorizations import oauth_error_code, oauth_error_text
from bot.slack.views.linking import build_install_modal
from bot.web.pages import ConfirmationPage, render_confirmation
from tests.e2e.browser import confirmation_form, forms_of

HOSTILE = '<img src=x onerror="alert(1)"> & "Bob"'


def page(**overrides: object) -> str:
    values: dict = dict(
        install=False,
        slack_user="Alice Anders (@alice)",
        workspace="Acme (acme.slack.com)",
        jira_account=HOSTILE,
        site="acme.atlassian.net",
        confirm_action="https://bot.example.com/jira/oauth/callback",
        cancel_action="https://bot.example.com/jira/oauth/cancel",
        token="tok-123",
    )
    values.update(overrides)
    return render_confirmation(ConfirmationPage(**values))


def test_the_confirmation_page_has_one_post_form_confirm_first_and_cancel() -> None:
    html = page()
    [form] = forms_of(html)
    assert form.method == "post" and form.action == "https://bot.example.com/jira/oauth/callback"
    assert form.fields == {"confirmation": "tok-123"}
    assert form.buttons[0].text.startswith("Confirm: link Alice Anders (@alice) to ")
    cancel = form.button("Cancel")
    assert cancel.formaction == "https://bot.example.com/jira/oauth/cancel"
    assert html.count('<form method="post"') == 1 and "<script" not in html
    assert confirmation_form(type("R", (), {"text": html})()) is not None


def test_everything_named_on_the_page_is_escaped() -> None:
    html = page(slack_user="<b>Alice</b>", workspace="A&B")
    assert "<img" not in html and "<b>Alice" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &quot;Bob&quot;" in html
    assert "A&amp;B" in html


def test_an_install_page_says_the_site_is_connected_for_the_whole_workspace() -> None:
    html = page(install=True, jira_account="Ada Admin")
    assert "connects the Jira site <strong>acme.atlassian.net</strong> for the whole Slack workspace" in html
    assert forms_of(html)[0].buttons[0].text.startswith("Confirm: connect acme.atlassian.net")


def test_oauth_error_values_are_reduced_and_bounded() -> None:
    assert oauth_error_code("access_denied") == "access_denied"
    assert oauth_error_code("bad\nlevel=error <https://evil|x>") == "badlevelerrorhttpsevilx"
    assert len(oauth_error_code("x" * 500)) == 64 and oauth_error_code("") == "unknown"
    text = oauth_error_text("line one\r\nforged\x1b[31m" + "y" * 500)
    assert "\n" not in text and "\r" not in text and "\x1b" not in text
    assert len(text) == 200 and text.endswith("…")


def test_text_log_values_are_quoted_when_they_hold_spaces_or_control_characters() -> None:
    assert quote_value("plain") == "plain" and quote_value(3) == "3"
    assert quote_value("two words") == '"two words"'
    assert quote_value("a\nb\x00c\u2028") == '"a\\nb\\x00c\\u2028"'
    assert quote_value('say "x"=1') == '"say \\"x\\"=1"'
    assert quote_value("") == '""'
    record = logging.makeLogRecord(
        {"msg": "jira.oauth.provider_error\nforged", "levelname": "INFO", "error": "x\n2026 error forged=1"}
    )
    line = TextFormatter().format(record)
    assert "\n" not in line and 'error="x\\n2026 error forged=1"' in line


def test_states_codes_and_response_urls_never_reach_the_log_even_at_debug() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    names = ["slack_bolt", "slack_sdk", "httpx", "httpcore", "apscheduler", "aiosqlite", "alembic"]
    names += ["uvicorn", "uvicorn.error", "uvicorn.access"]
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in names})
    saved_uvicorn = {n: (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate) for n in names}
    configure_logging("debug", "text")
    for name in names:  # as in a process that starts at debug (earlier tests may have quietened them)
        logging.getLogger(name).setLevel(logging.NOTSET)
    handler = root.handlers[0]
    handler.stream = stream  # type: ignore[attr-defined]
    try:
        bolt = logging.getLogger("slack_bolt.test")
        bolt.debug(
            "Received: command=%2Fjira&response_url="
            "https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F2%2Fsecret1"
        )
        bolt.debug(
            "Payload: {'response_url': 'https://hooks.slack.com/actions/T1/2/secret2', 'state': 'secret3'}"
        )
        logging.getLogger("uvicorn.access").debug(
            '"GET /jira/oauth/callback?state=secret4&code=secret5 HTTP/1.1"'
        )
        logging.getLogger("bot.test").info("event", extra={"state": "secret6", "response_url": "secret7"})
        logging.getLogger("bot.test").debug('{"code": "secret8", "type": "view_submission"}')
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).handlers[:], logging.getLogger(name).propagate = saved_uvicorn[name]
    output = stream.getvalue()
    assert output.count("\n") == 5
    for n in range(1, 9):
        assert f"secret{n}" not in output, output
    assert "[redacted]" in output


def test_the_install_form_names_the_allowed_hosts() -> None:
    modal = build_install_modal("https://bot/jira/oauth/callback", allowed_hosts="Allowed: jira.internal.")
    assert any("Allowed: jira.internal." in str(block) for block in modal["blocks"])
    assert not any("Allowed" in str(block) for block in build_install_modal("https://bot/cb")["blocks"])


async def test_the_browser_cookie_is_secure_behind_an_https_public_url() -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    from bot.services.authorizations import CallbackResult
    from bot.web.headers import SecurityHeaders
    from bot.web.oauth import oauth_routes

    seen: list[str] = []

    class Authorizations:
        async def start(self, *, state: str | None, browser: str) -> CallbackResult:
            seen.append(browser)
            return CallbackResult(
                302, "", [], "started", redirect_to="https://auth.example.com/authorize?x=1"
            )

    routes = oauth_routes(Authorizations(), None, None, "https://bot.example.com")  # type: ignore[arg-type]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://bot.example.com") as client:
        first = await client.get("/jira/oauth/start?state=s")
        second = await client.get("/jira/oauth/start?state=t")
    cookie = first.headers["set-cookie"]
    assert first.status_code == 302 and first.headers["location"].startswith("https://auth.example.com/")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert len(seen) == 2 and seen[0] == seen[1] and len(seen[0]) >= 40  # one browser, one cookie
    assert second.headers["x-content-type-options"] == "nosniff"
