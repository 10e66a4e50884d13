"""A simulated browser for end-to-end flows: follows redirects, keeps cookies, reads forms and submits
them as a browser would (the hidden fields, plus the name and value of the button pressed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

from tests.tls import CONTEXT as TLS


@dataclass
class Button:
    text: str
    name: str | None
    value: str
    formaction: str | None


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[Button] = field(default_factory=list)

    def button(self, starts_with: str) -> Button:
        found = [b for b in self.buttons if b.text.strip().startswith(starts_with)]
        assert found, f"no button starting with {starts_with!r} in {[b.text for b in self.buttons]}"
        return found[0]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._button: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append(Form(action=a.get("action") or "", method=(a.get("method") or "get").lower()))
        elif tag == "input" and self.forms and a.get("name"):
            if (a.get("type") or "text").lower() in {"hidden", "text"}:
                self.forms[-1].fields[str(a["name"])] = a.get("value") or ""
        elif tag == "button" and self.forms:
            self._button, self._text = a, []

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self.forms:
            a = self._button
            if (a.get("type") or "submit").lower() == "submit":
                self.forms[-1].buttons.append(
                    Button("".join(self._text), a.get("name"), a.get("value") or "", a.get("formaction"))
                )
            self._button = None


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def confirmation_form(page: httpx.Response) -> Form | None:
    """The bot's confirmation form on a page: a POST form with a submit button starting "Confirm"."""
    for form in forms_of(page.text):
        if form.method == "post" and any(b.text.strip().startswith("Confirm") for b in form.buttons):
            return form
    return None


class Browser:
    """One browser (one cookie jar). `account_id` is who is signed in to Atlassian/Jira."""

    def __init__(self, account_id: str | None = None) -> None:
        cookies = {"atlassian_account": account_id} if account_id else {}
        self.client = httpx.Client(follow_redirects=True, timeout=20, cookies=cookies, verify=TLS)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def open(self, url: str) -> httpx.Response:
        return self.client.get(url)

    def press(self, page: httpx.Response, form: Form, button: Button | None = None) -> httpx.Response:
        """Submits `form` of `page` with `button` (default: the first submit button)."""
        button = button or (form.buttons[0] if form.buttons else None)
        data = dict(form.fields)
        if button is not None and button.name:
            data[button.name] = button.value
        action = (button.formaction if button and button.formaction else None) or form.action
        url = urljoin(str(page.url), action) if action else str(page.url)
        if form.method == "post":
            return self.client.post(url, data=data)
        return self.client.get(url, params=data)

    def confirm(self, page: httpx.Response) -> httpx.Response:
        form = confirmation_form(page)
        assert form is not None, f"no confirmation form on the page ({page.status_code}): {page.text[:500]}"
        return self.press(page, form, form.button("Confirm"))

    def cancel(self, page: httpx.Response) -> httpx.Response:
        form = confirmation_form(page)
        assert form is not None, f"no confirmation form on the page ({page.status_code}): {page.text[:500]}"
        return self.press(page, form, form.button("Cancel"))
