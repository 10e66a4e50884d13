"""Which JQL Jira Cloud accepts as a dynamic webhook's filter, and quoting values into JQL.

Webhook filters allow only the fields project, issuetype, status, assignee and reporter, with the
operators `=`, `!=`, `IN` and `NOT IN`, joined by AND/OR (and parentheses). Anything else is checked by
the bot itself with a search, as the subscriber, before each delivery.
"""

from __future__ import annotations

import re

WEBHOOK_FIELDS = frozenset({"project", "issuetype", "status", "assignee", "reporter"})

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>!=|=|\(|\)|,)|'
    r"(?P<word>[^\s=!(),\"']+))"
)


class _Reject(Exception):
    pass


def _tokens(jql: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = jql.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _Reject
        out.append(match.group(0).strip())
        pos = match.end()
    return out


def webhook_filter_allows(jql: str) -> bool:
    """True when Jira Cloud accepts `jql` as a webhook's `jqlFilter` as it is."""
    try:
        tokens = _tokens(jql)
    except _Reject:
        return False
    if not tokens:
        return False
    parser = _Parser(tokens)
    try:
        parser.expression()
    except _Reject:
        return False
    return parser.done


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    @property
    def done(self) -> bool:
        return self.pos == len(self.tokens)

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise _Reject
        self.pos += 1
        return token

    def expression(self) -> None:
        self.term()
        while (self.peek() or "").upper() in {"AND", "OR"}:
            self.take()
            self.term()

    def term(self) -> None:
        if self.peek() == "(":
            self.take()
            self.expression()
            if self.take() != ")":
                raise _Reject
            return
        if self.take().lower() not in WEBHOOK_FIELDS:
            raise _Reject
        op = self.take().upper()
        if op == "NOT":
            if self.take().upper() != "IN":
                raise _Reject
            op = "NOT IN"
        if op in {"=", "!="}:
            self.value()
        elif op in {"IN", "NOT IN"}:
            if self.take() != "(":
                raise _Reject
            self.value()
            while self.peek() == ",":
                self.take()
                self.value()
            if self.take() != ")":
                raise _Reject
        else:
            raise _Reject

    def value(self) -> None:
        token = self.take()
        if token in {"(", ")", ",", "=", "!="} or token.upper() in {"AND", "OR", "NOT", "IN", "ORDER"}:
            raise _Reject
        if self.peek() == "(":  # a function such as currentUser()
            raise _Reject


def quote_value(value: str) -> str:
    """A JQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def project_filter(project_key: str, extra: str | None = None) -> str:
    base = f"project = {quote_value(project_key)}"
    return f"{base} AND ({extra})" if extra else base
