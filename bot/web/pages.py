"""The small HTML pages the browser sees during an authorization. Everything shown is escaped; no page
has a script, and the confirmation form works without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} · Jira for Slack</title>
<style>
body{{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;
background:#f4f5f7;color:#172b4d;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0}}
main{{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(9,30,66,.25);
padding:32px 40px;max-width:560px}}
h1{{font-size:22px;margin:0 0 12px}} p{{line-height:1.5}} .ok{{color:#006644}} .err{{color:#bf2600}}
dl{{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px}} dt{{font-weight:600}} dd{{margin:0}}
button{{font:inherit;padding:8px 16px;border-radius:4px;border:1px solid #0052cc;cursor:pointer;
margin:4px 8px 0 0}}
.confirm{{background:#0052cc;color:#fff}} .cancel{{background:#fff;color:#0052cc}}
</style></head>
<body><main><h1 class="{kind}">{title}</h1>{body}</main></body></html>"""


def render_page(title: str, paragraphs: list[str], *, ok: bool) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return _PAGE.format(title=escape(title), body=body, kind="ok" if ok else "err")


@dataclass(frozen=True)
class ConfirmationPage:
    """Who is being linked to whom, and the form that confirms it."""

    install: bool
    slack_user: str
    workspace: str
    jira_account: str
    site: str
    confirm_action: str
    cancel_action: str
    token: str


def render_confirmation(page: ConfirmationPage) -> str:
    user, workspace = escape(page.slack_user), escape(page.workspace)
    account, site = escape(page.jira_account), escape(page.site)
    if page.install:
        title = "Connect Jira to this Slack workspace?"
        intro = (
            f"Confirming connects the Jira site <strong>{site}</strong> for the whole Slack workspace "
            f"<strong>{workspace}</strong>, and links the Slack user <strong>{user}</strong> to the Jira "
            f"account <strong>{account}</strong>."
        )
        button = f"Confirm: connect {site} for {workspace}"
    else:
        title = "Link this Jira account to Slack?"
        intro = (
            f"Confirming lets the Slack user <strong>{user}</strong> of the workspace "
            f"<strong>{workspace}</strong> use Jira as <strong>{account}</strong> on {site}: issues they "
            "create from Slack are created as that Jira account."
        )
        button = f"Confirm: link {user} to {account}"
    body = (
        f"<p>{intro}</p>"
        "<dl>"
        f"<dt>Slack user</dt><dd>{user}</dd>"
        f"<dt>Slack workspace</dt><dd>{workspace}</dd>"
        f"<dt>Jira account</dt><dd>{account}</dd>"
        f"<dt>Jira site</dt><dd>{site}</dd>"
        "</dl>"
        "<p>If you are not that Slack user, or someone sent you this link, choose Cancel: nothing will "
        "be connected.</p>"
        f'<form method="post" action="{escape(page.confirm_action)}">'
        f'<input type="hidden" name="confirmation" value="{escape(page.token)}">'
        f'<button type="submit" class="confirm">{button}</button>'
        f'<button type="submit" class="cancel" formaction="{escape(page.cancel_action)}">Cancel</button>'
        "</form>"
    )
    return _PAGE.format(title=escape(title), body=body, kind="ok")
