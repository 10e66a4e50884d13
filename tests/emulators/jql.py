"""A small JQL evaluator for the Atlassian emulator: search and webhook filters.

Grammar: clauses `field op value` joined by AND / OR, NOT, parentheses, an optional
`ORDER BY field [ASC|DESC]`. Operators: =, !=, IN, NOT IN, ~, !~, IS [NOT] EMPTY, and for `created`
>=, >, <=, < against a relative time (`-15m`, `2h`, `-1d`, `1w`) or a date (`"2026-05-01"`). Values:
words, quoted strings, lists, and the function currentUser(). Fields: project, issuetype (type), status,
assignee, reporter, key (issuekey, id), priority, labels, summary, text, statusCategory, created. Errors
carry Jira's wording.

`webhook_filter_errors` checks a dynamic webhook's `jqlFilter`: only issueKey, project, issuetype,
status, assignee and reporter, with =, !=, IN and NOT IN.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FIELDS = {
    "project",
    "issuetype",
    "type",
    "status",
    "assignee",
    "reporter",
    "key",
    "issuekey",
    "id",
    "priority",
    "labels",
    "summary",
    "text",
    "statuscategory",
    "created",
}
ORDERABLE = {"created", "key", "updated", "priority"}
TIME_FIELDS = {"created"}
COMPARISONS = {">=", ">", "<=", "<"}
_RELATIVE = re.compile(r"^([+-]?)(\d+)([mhdw])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
WEBHOOK_FIELDS = {"issuekey", "project", "issuetype", "status", "assignee", "reporter"}
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|!~|<=|>=|=|~|<|>|\(|\)|,)|(?P<word>[^\s=!~<>(),"']+))"""
)


class JqlError(Exception):
    """Jira's 400 for a query it cannot run (`messages` are its errorMessages)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.messages = [message]


@dataclass(frozen=True)
class _Tok:
    text: str
    quoted: bool


def _tokens(jql: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(jql):
        if jql[pos:].strip() == "":
            break
        match = _TOKEN.match(jql, pos)
        if match is None or match.end() == pos:
            raise JqlError(
                f"Error in the JQL Query: The character '{jql[pos:].strip()[:1]}' is a reserved "
                f"JQL character. (line 1, character {pos + 1})"
            )
        if match.group("str") is not None:
            raw = match.group("str")[1:-1]
            out.append(_Tok(re.sub(r"\\(.)", r"\1", raw), True))
        else:
            out.append(_Tok(match.group(0).strip(), False))
        pos = match.end()
    return out


# A parsed query: nested tuples ("and"|"or", a, b), ("not", a), ("clause", field, op, values).
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.order: tuple[str, bool] | None = None  # (field, descending)

    def peek(self, upper: bool = True) -> str | None:
        if self.pos >= len(self.tokens):
            return None
        tok = self.tokens[self.pos]
        return tok.text.upper() if upper and not tok.quoted else tok.text

    def take(self) -> _Tok:
        if self.pos >= len(self.tokens):
            raise JqlError(
                "Error in the JQL Query: Expecting either a value, list or function but got end of query."
            )
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def parse(self) -> Node | None:
        if not self.tokens:
            return None
        node = None
        if self.peek() != "ORDER":
            node = self.or_expr()
        if self.peek() == "ORDER":
            self.take()
            if self.peek() != "BY":
                raise JqlError("Error in the JQL Query: Expecting 'by' but got end of query.")
            self.take()
            name = self.take().text.lower()
            if name not in ORDERABLE:
                raise JqlError(f"Error in the JQL Query: Not able to sort using field '{name}'.")
            descending = False
            if self.peek() in {"ASC", "DESC"}:
                descending = self.take().text.upper() == "DESC"
            self.order = (name, descending)
        if self.pos != len(self.tokens):
            raise JqlError(
                f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got "
                f"'{self.tokens[self.pos].text}'."
            )
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.peek() == "OR":
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.peek() == "AND":
            self.take()
            node = ("and", node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        if self.peek() == "NOT":
            self.take()
            return ("not", self.not_expr())
        if self.peek() == "(":
            self.take()
            node = self.or_expr()
            if self.peek() != ")":
                raise JqlError("Error in the JQL Query: Expecting ')' before the end of the query.")
            self.take()
            return node
        return self.clause()

    def clause(self) -> Node:
        field_tok = self.take()
        name = field_tok.text.lower()
        if name not in FIELDS:
            raise JqlError(
                f"Field '{field_tok.text}' does not exist or you do not have permission to view it."
            )
        op = self.take().text.upper()
        if op == "NOT":
            if self.take().text.upper() != "IN":
                raise JqlError("Error in the JQL Query: Expecting 'IN' after 'NOT'.")
            op = "NOT IN"
        elif op == "IS":
            negate = self.peek() == "NOT"
            if negate:
                self.take()
            if self.take().text.upper() not in {"EMPTY", "NULL"}:
                raise JqlError("Error in the JQL Query: Expecting 'EMPTY' or 'NULL'.")
            return ("clause", name, "IS NOT EMPTY" if negate else "IS EMPTY", [])
        if op in COMPARISONS and name in TIME_FIELDS:
            value = self.value()
            relative_time(value, 0.0)  # a malformed value is Jira's 400 now, not at match time
            return ("clause", name, op, [value])
        if op not in {"=", "!=", "IN", "NOT IN", "~", "!~"}:
            raise JqlError(
                f"Error in the JQL Query: The operator '{op}' is not supported by the '{name}' field."
            )
        if op in {"IN", "NOT IN"}:
            if self.take().text != "(":
                raise JqlError(f"Error in the JQL Query: Expecting '(' after '{op}'.")
            values = [self.value()]
            while self.peek() == ",":
                self.take()
                values.append(self.value())
            if self.take().text != ")":
                raise JqlError("Error in the JQL Query: Expecting ')' after the list.")
            return ("clause", name, op, values)
        return ("clause", name, op, [self.value()])

    def value(self) -> str:
        tok = self.take()
        if not tok.quoted and tok.text in {"(", ")", ",", "=", "!="}:
            raise JqlError(
                f"Error in the JQL Query: Expecting either a value, list or function but got '{tok.text}'."
            )
        if not tok.quoted and self.peek() == "(":
            self.take()
            if self.take().text != ")":
                raise JqlError("Error in the JQL Query: functions here take no arguments.")
            if tok.text.lower() != "currentuser":
                raise JqlError(f"Unable to find JQL function '{tok.text}()'.")
            return "\0currentUser"
        return tok.text


def parse(jql: str) -> Node | None:
    return _Parser(_tokens(jql)).parse()


@dataclass(frozen=True)
class Query:
    node: Node | None
    order: tuple[str, bool] | None  # (field, descending); None: Jira's own order


def parse_query(jql: str) -> Query:
    parser = _Parser(_tokens(jql))
    node = parser.parse()
    return Query(node, parser.order)


def values_of(node: Node | None, field: str) -> list[str]:
    """Every value a query compares `field` with (to check that they exist, as Jira does)."""
    if node is None:
        return []
    if node[0] in {"and", "or"}:
        return values_of(node[1], field) + values_of(node[2], field)
    if node[0] == "not":
        return values_of(node[1], field)
    return [v for v in node[3] if v != "\0currentUser"] if node[1] == field else []


def relative_time(value: str, now: float) -> float:
    """A JQL time value as epoch seconds: `-15m` (m, h, d, w) from `now`, or a date `2026-05-01`."""
    relative = _RELATIVE.match(value)
    if relative:
        sign = -1 if relative.group(1) == "-" else 1
        return now + sign * int(relative.group(2)) * _UNITS[relative.group(3)]
    try:
        day = dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        raise JqlError(f"Date value '{value}' for field 'created' is invalid.") from None
    return day.timestamp()


def webhook_filter_errors(jql: str) -> list[str]:
    """What Jira Cloud says about a webhook `jqlFilter` it would not register (empty: fine)."""
    try:
        node = parse(jql)
    except JqlError as exc:
        return exc.messages
    if node is None:
        return ["The JQL filter is empty."]
    problems: list[str] = []

    def walk(n: Node) -> None:
        if n[0] in {"and", "or"}:
            walk(n[1])
            walk(n[2])
        elif n[0] == "not":
            problems.append("The NOT operator is not supported in webhook JQL filters.")
        else:
            _, name, op, values = n
            if name not in WEBHOOK_FIELDS:
                problems.append(f"The field '{name}' is not supported in webhook JQL filters.")
            elif op not in {"=", "!=", "IN", "NOT IN"}:
                problems.append(f"The operator '{op}' is not supported in webhook JQL filters.")
            elif any(v == "\0currentUser" for v in values):
                problems.append("Functions are not supported in webhook JQL filters.")

    walk(node)
    return problems


Values = Mapping[str, list[str]]  # field -> the values (lower-cased for comparison)


def matches(
    node: Node | None,
    values: Values,
    *,
    current_user: str | None = None,
    now: float | None = None,
) -> bool:
    """Whether an issue with these field values matches; `values["created"]` holds epoch seconds, and
    `now` is what relative times count from."""
    if node is None:
        return True
    kind = node[0]
    if kind in {"and", "or"}:
        first = matches(node[1], values, current_user=current_user, now=now)
        if first == (kind == "or"):
            return first
        return matches(node[2], values, current_user=current_user, now=now)
    if kind == "not":
        return not matches(node[1], values, current_user=current_user, now=now)
    _, name, op, wanted = node
    name = {"type": "issuetype", "issuekey": "key"}.get(name, name)
    if op in COMPARISONS:
        at = relative_time(wanted[0], now if now is not None else time.time())
        stamps = [float(v) for v in values.get(name, [])]
        compare = {">=": float.__ge__, ">": float.__gt__, "<=": float.__le__, "<": float.__lt__}[op]
        return any(compare(t, at) for t in stamps)
    have = [v.lower() for v in values.get(name, [])]
    want = [(current_user or "").lower() if v == "\0currentUser" else v.lower() for v in wanted]
    if op == "IS EMPTY":
        return not have
    if op == "IS NOT EMPTY":
        return bool(have)
    if op in {"~", "!~"}:
        found = any(w.strip("*") in h for w in want for h in have)
        return found if op == "~" else not found
    hit = any(w in have for w in want)
    return hit if op in {"=", "IN"} else not hit


def evaluate(jql: str, values: Values, *, current_user: str | None = None) -> bool:
    return matches(parse(jql), values, current_user=current_user)
