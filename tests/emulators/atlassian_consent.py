"""The consent screens of the Atlassian emulator, as real HTML forms a real browser submits.

With ``AtlassianEmulator.consent_screen`` on, the authorize endpoints (Cloud's ``/authorize`` and Data
Center's ``/rest/oauth2/latest/authorize``) answer a signed-in browser with a page naming the app and the
account, and a ``<form method="post">`` back to the same endpoint carrying the authorization request
as hidden fields, with "Accept" and "Cancel" (Cloud) or "Allow" and "Deny" (Data Center) buttons.
The POST is judged like the GET, plus the button that was pressed.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse

DECISION = "decision"
ACCEPT = "accept"


def authorize_params(request: Request, body: bytes) -> dict[str, str]:
    """The authorization request: the query of a GET, the form of the consent screen's POST."""
    if request.method == "POST":
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return dict(request.query_params)


def accepted(params: Mapping[str, str]) -> bool:
    return params.get(DECISION) == ACCEPT


def consent_page(
    *, action: str, params: Mapping[str, str], app_name: str, account: str, datacenter: bool
) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k != DECISION
    )
    yes, no = ("Allow", "Deny") if datacenter else ("Accept", "Cancel")
    title = f"{app_name} is requesting access to your account"
    page = (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>Signed in as <strong>{html.escape(account)}</strong>.</p>"
        f"<p>Scopes: {html.escape(params.get('scope', ''))}</p>"
        f'<form method="post" action="{html.escape(action)}">{hidden}'
        f'<button type="submit" name="{DECISION}" value="{ACCEPT}" id="consent-accept">{yes}</button>'
        f'<button type="submit" name="{DECISION}" value="deny" id="consent-deny">{no}</button>'
        "</form></body></html>"
    )
    return HTMLResponse(page)
